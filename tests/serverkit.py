"""Helpers for tests that run the forum as real server processes: a PostgreSQL database of their
own, gunicorn processes started the production way, an HTTP member, a private Redis server and a
TCP proxy that can cut the database off."""

from __future__ import annotations

import atexit
import os
import pwd
import queue
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from .factories import CHEAP_PASSWORDS

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get(
    "FORUM_SERVER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"|name="csrf_token"[^>]*value="([^"]+)"')


def run_forum_script(script: str, *args: str, printed: str = "") -> str:
    """Run `script` (with `args` as sys.argv[1:]) in a Python process of its own, from the
    checkout, migrations off; fail the test unless it ended well having printed `printed`.
    Its output. What a one-off command (Postfix's pipe to `forum mail-in`) or a page worker's
    exit leaves behind, or what a fresh process imports, is then the test's to check."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env={**os.environ, "FORUM_MIGRATIONS": "false"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and printed in done.stdout, done.stderr[-3000:]
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); skips when there is no server."""
    base = make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"forum_srv_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        pytest.skip(f"no PostgreSQL at {PG_URL}: {exc}")
    try:
        yield (
            base.set(database=name)
            .render_as_string(hide_password=False)
            .replace("postgresql+psycopg://", "postgresql://", 1)
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_MIGRATED: list[Path] = []


def migrated_sqlite(path: Path) -> str:
    """A new SQLite database at `path` with every migration applied, as `flask db upgrade`
    leaves it; its URL. The migrations run once per test process, into a file in a folder of
    its own, and each database is a copy of that file (SQLite's backup: milliseconds, instead
    of 1.5 s of CPU for the upgrade)."""
    if not _MIGRATED:
        from flask_migrate import upgrade

        from forum import create_app
        from forum.extensions import db

        folder = Path(tempfile.mkdtemp(prefix="forum-migrated-"))
        atexit.register(shutil.rmtree, folder, True)
        template = folder / "forum.db"
        app = create_app(
            {"DATABASE_URL": f"sqlite:///{template}", "INDEX_DIR": str(folder / "index"),
             "SECRET_KEY": "migrated", "SEARCH_SYNC_ON_START": False, "SEARCH_DRAIN": "inline",
             "REDIS_URL": None}
        )  # fmt: skip
        with app.app_context():
            upgrade()
            db.session.remove()
            db.engine.dispose()
        _MIGRATED.append(template)
    with sqlite3.connect(_MIGRATED[0]) as source, sqlite3.connect(path) as copy:
        source.backup(copy)
    source.close()
    copy.close()
    return f"sqlite:///{path}"


class Server:
    """One app process: gunicorn (one gthread worker) started by `python -m forum.ops.serve`;
    with `sockets`, the Socket.IO server instead (`--sockets`: gevent, needs Redis)."""

    def __init__(self, env: dict[str, str], logdir: Path, name: str, sockets: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logfile = logdir / f"{name}.log"
        self.terminated = False
        bind = f"127.0.0.1:{self.port}"
        with self.logfile.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "forum.ops.serve", *(["--sockets"] if sockets else [])],
                cwd=ROOT,
                # `make serve` needs the public address: here, the process's own.
                env={
                    "FORUM_BASE_URL": self.url,
                    **env,
                    "FORUM_BIND": bind,
                    **({"FORUM_SOCKETS_BIND": bind} if sockets else {}),
                },
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log()}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready:\n{self.log()}")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def log(self) -> str:
        return self.logfile.read_text(errors="replace")[-4000:]

    def terminate(self) -> None:
        """Ask it to stop (gunicorn's graceful stop), once; `stop()` waits for it."""
        if self.proc.poll() is None and not self.terminated:
            self.proc.send_signal(signal.SIGTERM)
            self.terminated = True

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def stop_all(servers: list[Server]) -> None:
    """Stop the servers side by side: each takes a few seconds (its worker finishes its
    requests, then the process exits), which one after another would add up."""
    for server in servers:
        server.terminate()
    for server in servers:
        server.stop()


def server_env(database_url: str, instance: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORUM_", "FLASK_"))}
    env.update(
        FORUM_DATABASE_URL=database_url,
        FORUM_INSTANCE_PATH=str(instance),
        FORUM_INDEX_DIR=str(instance / "index"),
        FORUM_SECRET_KEY=secrets.token_hex(32),
        FORUM_THREADS="16",
        FORUM_PASSWORD_HASH_METHOD=CHEAP_PASSWORDS,
        # A browser test fills in the registration form faster than a person.
        FORUM_REGISTER_MIN_SECONDS="0",
    )
    env.update(settings)
    return env


class Member:
    """A browser: its cookies work on every process (they share the secret key)."""

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password
        self.http = requests.Session()

    def csrf(self, base: str, path: str = "/login") -> str:
        page = self.http.get(base + path, timeout=30)
        match = CSRF_RE.search(page.text)
        assert match, f"no CSRF token on {path}: {page.status_code}"
        return match.group(1) or match.group(2)

    def login(self, base: str) -> None:
        response = self.http.post(
            base + "/login",
            data={"login": self.username, "password": self.password, "csrf_token": self.csrf(base)},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 302, response.text[:500]

    def reply(self, base: str, topic_id: int, body: str, token: str | None = None) -> Any:
        token = token or self.csrf(base, "/settings")
        return self.http.post(
            f"{base}/t/{topic_id}/reply",
            data={"body": body, "csrf_token": token},
            allow_redirects=False,
            timeout=30,
        )


class RedisServer:
    """A private redis-server on a free port, which a test may kill and start again."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("no redis-server program (Debian: apt-get install redis-server)")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
                return
            except redis.RedisError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.resume()
            self.proc.kill()
            self.proc.wait()

    def pause(self) -> None:
        """Freeze it (SIGSTOP): connections stay open and nothing answers, as in a hang."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)


class TcpProxy:
    """Forwards a local port to a target; cut() drops every connection and refuses new ones,
    restore() listens again on the same port. It stands in for a database restart without
    touching the machine's PostgreSQL, which other tests use at the same time."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        if self.listener:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            try:
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            self.listener = None
        with self.lock:
            for s in self.connections:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.connections = []

    def restore(self) -> None:
        self.start()

    def stop(self) -> None:
        self.cut()


class Listener:
    """A python-socketio client that logs in with a member's cookies and records what arrives."""

    def __init__(self, base: str, member: Member | None = None) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.seen: list[tuple[str, Any]] = []
        self.client = socketio.Client(reconnection=False)
        for name in ("post_created", "notification", "presence"):
            self.client.on(name, self._recorder(name))
        self.client.on("disconnect", lambda *args: self.events.put(("disconnect", None)))
        headers = {}
        if member is not None:
            cookies = "; ".join(f"{c.name}={c.value}" for c in member.http.cookies)
            headers["Cookie"] = cookies
        self.client.connect(base, headers=headers, transports=["websocket"], wait_timeout=10)

    def _recorder(self, name: str) -> Any:
        return lambda data: self.events.put((name, data))

    def wait_until_listening(self, redis_url: str, channel: str) -> None:
        """The server subscribes to Redis when its first socket connects: wait for that."""
        import time

        import redis

        r = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if dict(r.pubsub_numsub(channel)).get(channel.encode(), 0) >= 1:
                return
            time.sleep(0.05)
        raise AssertionError("the server never subscribed to its Redis channel")

    def subscribe(self, **data: Any) -> Any:
        return self.client.call("subscribe", data, timeout=10)

    def wait_for(self, name: str, timeout: float = 10) -> Any:
        """The first `name` event not taken yet; other events stay for later calls."""
        for i, (got, data) in enumerate(self.seen):
            if got == name:
                del self.seen[i]
                return data
        while True:
            got, data = self.events.get(timeout=timeout)
            if got == name:
                return data
            self.seen.append((got, data))

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


class PostgresCluster:
    """A PostgreSQL cluster of the test's own (initdb, pg_ctl) on a free port, which a test may
    stop the hard way and start again, never touching the machine's server. Run as the
    `postgres` system user when this process is root (initdb refuses root). `available()` says
    why it cannot be made here, or None."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.dir = Path(tempfile.mkdtemp(prefix="forum-pg-"))
        self.data = self.dir / "data"

    @staticmethod
    def bin(name: str) -> str | None:
        found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
        return str(found[-1]) if found else shutil.which(name)

    @classmethod
    def available(cls) -> str | None:
        if not (cls.bin("initdb") and cls.bin("pg_ctl")):
            return "initdb and pg_ctl are not installed"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root without a postgres user to run initdb as"
        return None

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, timeout=timeout, capture_output=True)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(self.bin("initdb") or "initdb", "-D", str(self.data), "-U", "postgres",
                  "-A", "trust", "--no-sync")  # fmt: skip
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(self.bin("pg_ctl") or "pg_ctl", "-D", str(self.data), "-o", options,
                  "-l", str(self.dir / "server.log"), "-w", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(self.bin("pg_ctl") or "pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
