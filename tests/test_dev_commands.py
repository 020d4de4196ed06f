"""The commands a newcomer runs first (`make run`): seed-demo, dev-server, and their output."""

from __future__ import annotations

import ast
import importlib.metadata
import logging
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from forum.accounts.models import User
from forum.extensions import db
from forum.search import indexer

ROOT = Path(__file__).resolve().parent.parent


def _members() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0


def test_seed_demo_fills_an_empty_forum(app):
    result = app.test_cli_runner().invoke(args=["forum", "seed-demo"])
    assert result.exit_code == 0, result.output
    assert "Demo content added." in result.output
    assert _members() == 6


def test_seed_demo_on_a_forum_with_members_says_so_in_one_line(app, f):
    f.user("ada")
    result = app.test_cli_runner().invoke(args=["forum", "seed-demo"])
    # A refusal (exit status 1) in one line, not a traceback from a clashing username.
    assert result.exit_code == 1
    assert result.output == "Error: The forum has members already: demo content not added.\n"
    assert isinstance(result.exception, SystemExit)
    assert _members() == 1


def test_seed_demo_if_empty_on_a_forum_with_members_succeeds_quietly(app, f):
    f.user("ada")
    result = app.test_cli_runner().invoke(args=["forum", "seed-demo", "--if-empty"])
    assert result.exit_code == 0
    assert result.output == "The forum has members already: demo content not added.\n"
    assert _members() == 1


# --- The development server and the output of `make run` ----------------------------------------


def _env(instance: Path) -> dict[str, str]:
    env = {**os.environ, "FLASK_APP": "wsgi.py", "FORUM_INSTANCE_PATH": str(instance)}
    env["PYTHONUNBUFFERED"] = "1"
    for name in ("FORUM_DATABASE_URL", "FORUM_REDIS_URL", "FLASK_DEBUG"):
        env.pop(name, None)
    return env


def _flask(*args: str, instance: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=_env(instance),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _start_dev_server(instance: Path, port: int) -> tuple[subprocess.Popen[str], queue.Queue]:
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "forum", "dev-server", "--port", str(port)],
        cwd=ROOT,
        env=_env(instance),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return process, lines


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _worker_pid(parent: int) -> int:
    """The jobs worker, the dev server's child process (`forum jobs worker --parent-pid`)."""
    for children in Path(f"/proc/{parent}/task").glob("*/children"):
        for pid in children.read_text().split():
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"worker" in command and b"jobs" in command:
                return int(pid)
    raise AssertionError("the dev server has no jobs worker")


def _wait_until_it_catches_sigterm(pid: int, deadline: float) -> None:
    """Until the process has a SIGTERM handler of its own (SigCgt in /proc/<pid>/status)."""
    bit = 1 << (signal.SIGTERM - 1)
    while True:
        found = re.search(r"^SigCgt:\s*([0-9a-f]+)", Path(f"/proc/{pid}/status").read_text(), re.M)
        assert found, "no SigCgt line in /proc/<pid>/status"
        if int(found.group(1), 16) & bit:
            return
        assert time.monotonic() < deadline, "the jobs worker never set its signal handlers"
        time.sleep(0.02)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_dev_server_says_running_once_it_listens_and_logs_each_request_once(tmp_path):
    port = _free_port()
    process, lines = _start_dev_server(tmp_path, port)
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            assert line is not None, f"the dev server exited: {''.join(seen)}"
            seen.append(line)
            if "Forum running on" in line:
                break
        assert seen[-1] == f"Forum running on http://127.0.0.1:{port}/ (Ctrl+C to stop)\n"
        # The port is bound when it says so: the first try connects, without waiting.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert response.status == 200
        # The jobs worker starts beside it, a process of its own.
        while not any("jobs worker: 2 threads on" in line for line in seen):
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            assert line is not None, f"the dev server exited: {''.join(seen)}"
            seen.append(line)
        # Its signal handlers are set just after it says so: stopped before, it would die
        # without its graceful stop.
        _wait_until_it_catches_sigterm(_worker_pid(process.pid), deadline)
    finally:
        _stop(process)
    while (line := lines.get(timeout=10)) is not None:
        seen.append(line)
    request_lines = [line for line in seen if "/healthz" in line]
    assert len(request_lines) == 1, seen  # forum.request's line, not Werkzeug's as well
    # The worker stopped with it: the output ended (EOF) only once the worker, which shares it,
    # was gone too.
    assert [line for line in seen if "jobs worker stopped" in line], seen
    assert "forum.request" in request_lines[0]
    # Neither Alembic nor huey (its task list, a line per job run) speak up at INFO. (This
    # forum's database has no tables: a periodic job that comes due meanwhile fails, and huey
    # says so at ERROR, as it should.)
    assert not [line for line in seen if "alembic" in line or " INFO huey" in line], seen


@pytest.mark.slow
def test_dev_server_on_a_busy_port_never_says_running(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _flask("forum", "dev-server", "--port", str(port), instance=tmp_path)
    assert result.returncode == 1
    assert "running" not in result.stdout
    assert f"The forum did not start on http://127.0.0.1:{port}/" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_flask_db_upgrade_is_quiet_unless_asked(tmp_path):
    quiet = _flask("db", "upgrade", instance=tmp_path / "quiet")
    assert quiet.returncode == 0, quiet.stderr
    # No Alembic plugin or migration lines at INFO: `make run` starts with a clean screen.
    assert (quiet.stdout, quiet.stderr) == ("", "")
    verbose = _flask("db", "upgrade", "-x", "verbose", instance=tmp_path / "verbose")
    assert verbose.returncode == 0, verbose.stderr
    assert "Running upgrade  -> 0001" in verbose.stderr
    assert "setup plugin" not in verbose.stderr


# --- What gets installed ------------------------------------------------------------------------

# Runtime dependencies the forum never imports, and what needs each (pyproject.toml says so too).
NEEDED_WITHOUT_IMPORT = {
    "simple-websocket": "Engine.IO's WebSocket transport in threading mode",
    "linkify-it-py": "markdown-it-py's linkify option",
    "psycopg": "SQLAlchemy's driver for postgresql:// URLs",
    "gunicorn": "`make serve` runs its command line",
    "gevent": "the socket server's gunicorn worker class (forum/ops/gunicorn_conf.py)",
    "python-dotenv": "Flask's --env-file (Postfix's pipe to `forum mail-in`, docs/deployment.md)",
}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_level_modules() -> set[str]:
    found: set[str] = set()
    files = [ROOT / "wsgi.py", *ROOT.joinpath("forum").rglob("*.py")]
    files += ROOT.joinpath("migrations").rglob("*.py")
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def test_every_runtime_dependency_is_imported_or_says_what_needs_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_canonical(re.split(r"[\[=<>~!; ]", spec)[0]) for spec in project["dependencies"]}
    distributions = importlib.metadata.packages_distributions()
    imported = {
        _canonical(dist)
        for module in _imported_top_level_modules()
        for dist in distributions.get(module, [])
    }
    unused = declared - imported - set(NEEDED_WITHOUT_IMPORT)
    assert not unused, f"declared, never imported, needed by nothing known: {sorted(unused)}"
    assert set(NEEDED_WITHOUT_IMPORT) <= declared


def _make_dry_run(target: str, tmp_path: Path) -> str:
    # -B: every step, as on a fresh clone; VENV elsewhere so that nothing here counts as done.
    result = subprocess.run(
        ["make", "-n", "-B", target, f"VENV={tmp_path / 'venv'}", "PORT=5077"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_run_installs_no_test_packages(tmp_path):
    run = _make_dry_run("run", tmp_path)
    assert "pip install --quiet -e .\n" in run
    assert "[dev]" not in run  # pytest, Playwright, ruff, …
    assert "axe" not in run and "--include=dev" not in run  # the browser tests' axe-core
    assert "dev-server --host 127.0.0.1 --port 5077" in run
    test = _make_dry_run("test", tmp_path)
    assert 'pip install --quiet -e ".[dev]"' in test
    assert "node_modules/axe-core/axe.min.js" in test


@pytest.mark.search
@pytest.mark.parametrize("posts", [0, 1])
def test_a_new_forum_builds_its_search_index_without_a_warning(app, f, tmp_path, caplog, posts):
    if posts:
        ada = f.user("ada")
        f.topic(ada, f.sig("retro", members=[ada]), "Kept", "A post the index has lost.")
    app.config["INDEX_DIR"] = str(tmp_path / "index")  # nothing there yet
    indexer.replace_backend(app, indexer.make_backend(app))
    with caplog.at_level(logging.INFO, logger="forum.search.indexer"):
        assert indexer.startup(app) == "missing"
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    # The first `make run` has no index and no posts: an INFO line. A lost index is a warning.
    assert warned == (["search index is missing: rebuilding it from the database"] if posts else [])
    assert "search index is missing: rebuilding it from the database" in caplog.messages


def test_tests_that_need_redis_server_skip_without_it(tmp_path, monkeypatch):
    from .serverkit import RedisServer

    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server on it
    with pytest.raises(pytest.skip.Exception, match="no redis-server program"):
        RedisServer(tmp_path).start()
