"""Shared harness for the fault tests: start/stop the production server (gunicorn through
`python -m forum.ops.serve`), build fixtures, log in members, post, and check the database.

Environment:
  FAULTS_REPO  the forum checkout to run (default: faults/forum in the temporary folder; a
               clone with `make setup` done, never the main working copy)
  FAULTS_WORK  scratch folder for instance folders, logs and results (default: faults/run in
               the temporary folder)

Traffic goes to loopback only; every loop is bounded in count and time.

A copy of the outside review's harness (shared/reviews/faults, T-01's part), adapted to run
against a worktree of any commit: no psutil (the forum's venv has none; /proc is read
instead), FORUM_BASE_URL set (newer commits refuse production without it), `db upgrade heads`
(a commit in the middle of a merge may have two), ports 5301-5399, and the workers' CPU read
from /proc (cpu_by_worker).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import string
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

_SCRATCH = Path(tempfile.gettempdir()) / "faults"
REPO = Path(os.environ.get("FAULTS_REPO", _SCRATCH / "forum"))
WORK = Path(os.environ.get("FAULTS_WORK", _SCRATCH / "run"))
PY = REPO / ".venv" / "bin" / "python"
FLASK = REPO / ".venv" / "bin" / "flask"
HERE = Path(__file__).resolve().parent
PASSWORD = "faults-password-1"
SECRET = "faults-secret-key-0123456789abcdef0123456789"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"|name="csrf_token"[^>]*value="([^"]+)"')


class _Proc:
    """The little of psutil the harness uses, read from /proc (the forum's venv has no psutil)."""

    class NoSuchProcess(Exception):
        pass

    def __init__(self, pid: int) -> None:
        self.pid = pid
        if not os.path.exists(f"/proc/{pid}"):
            raise _Proc.NoSuchProcess(pid)

    def children(self) -> list[_Proc]:
        out = []
        for task in os.listdir(f"/proc/{self.pid}/task"):
            try:
                text = open(f"/proc/{self.pid}/task/{task}/children").read()
            except OSError:
                continue
            for pid in text.split():
                try:
                    out.append(_Proc(int(pid)))
                except _Proc.NoSuchProcess:
                    pass
        return out


class psutil:  # noqa: N801
    Process = _Proc
    NoSuchProcess = _Proc.NoSuchProcess

    @staticmethod
    def pid_exists(pid: int) -> bool:
        return os.path.exists(f"/proc/{pid}")


def log(*args: object) -> None:
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def unique_word(prefix: str = "zq") -> str:
    """A word no post shares, letters only (the stemmer leaves it alone: it ends in 'x')."""
    return prefix + "".join(random.choices(string.ascii_lowercase, k=10)) + "x"


# --- environment, database, fixtures -----------------------------------------------------
def forum_env(
    instance: Path, db_url: str | None = None, redis_url: str | None = None, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORUM_")}
    env.update(
        FLASK_APP="wsgi.py",
        FORUM_INSTANCE_PATH=str(instance),
        FORUM_SECRET_KEY=SECRET,
        # The limits are not under test here (16 members log in from one address and post
        # 50 replies each); keep the limiter running, with ceilings the load never reaches.
        FORUM_RATELIMIT_POST="100000 per minute",
        FORUM_RATELIMIT_LOGIN="100000 per minute",
        FORUM_RATELIMIT_REGISTER="100000 per minute",
        FORUM_LOG_LEVEL="info",
        # Newer commits refuse production without it (older ones ignore it).
        FORUM_BASE_URL="http://127.0.0.1",
    )
    if db_url:
        env["FORUM_DATABASE_URL"] = db_url
    if redis_url:
        env["FORUM_REDIS_URL"] = redis_url
    env.update(extra)
    return env


def flask(
    args: list[str],
    env: dict[str, str],
    check: bool = True,
    timeout: float = 600,
    input: str | None = None,
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(FLASK), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"flask {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def pg_url(name: str, port: int = 5432) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{name}"


def pg_recreate(name: str, port: int = 5432) -> str:
    import psycopg

    assert name.startswith("faults_")
    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url(name, port)


def fresh_instance(
    name: str,
    db_url: str | None = None,
    redis_url: str | None = None,
    members: int = 16,
    **extra: str,
) -> tuple[Path, dict[str, str], dict]:
    """A new instance folder (and database), migrated, with a SIG, `members` members in it
    and one topic. Returns (instance, env, fixture)."""
    instance = WORK / name
    if instance.is_mount():
        # a small file system mounted there for the test: empty it, keep the mount
        subprocess.run(["find", str(instance), "-mindepth", "1", "-delete"], check=True)
    elif instance.exists():
        subprocess.run(["rm", "-rf", str(instance)], check=True)
    instance.mkdir(parents=True, exist_ok=True)
    env = forum_env(instance, db_url, redis_url, **extra)
    flask(["db", "upgrade", "heads"], env)  # (heads: a commit mid-merge may have two)
    out = subprocess.run(
        [str(PY), str(HERE / "fixture.py"), str(members)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    fixture = json.loads(out.stdout.strip().splitlines()[-1])
    (instance / "fixture.json").write_text(json.dumps(fixture))
    return instance, env, fixture


# --- the production server ---------------------------------------------------------------
class Server:
    def __init__(
        self,
        name: str,
        env: dict[str, str],
        port: int,
        workers: int = 2,
        threads: int = 64,
        extra_args: list[str] | None = None,
    ) -> None:
        self.name, self.port, self.workers = name, port, workers
        self.env = dict(
            env,
            FORUM_BIND=f"127.0.0.1:{port}",
            FORUM_WORKERS=str(workers),
            FORUM_THREADS=str(threads),
        )
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen | None = None
        self.logfile = WORK / f"{name}.server.log"
        self.base = f"http://127.0.0.1:{port}"

    def start(self, wait: float = 60) -> None:
        assert 5301 <= self.port <= 5399, "ports 5301-5399 only"
        self.log = open(self.logfile, "a")
        self.proc = subprocess.Popen(
            [str(PY), "-m", "forum.ops.serve", *self.extra_args],
            cwd=REPO,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + wait
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}; see {self.logfile}")
            try:
                if (
                    requests.get(self.base + "/healthz", timeout=2).status_code == 200
                    and len(self.worker_pids()) >= self.workers
                ):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"server on {self.port} did not come up")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def worker_pids(self) -> list[int]:
        try:
            return [c.pid for c in psutil.Process(self.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        """User + system CPU of the workers so far (from /proc/PID/stat)."""
        return sum(self.cpu_by_worker().values())

    def cpu_by_worker(self) -> dict[int, float]:
        tick = os.sysconf("SC_CLK_TCK")
        out = {}
        for pid in self.worker_pids():
            try:
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[pid] = (int(fields[11]) + int(fields[12])) / tick
        return out

    def rss_mb(self) -> dict[int, float]:
        out = {}
        for pid in self.worker_pids():
            try:
                out[pid] = psutil.Process(pid).memory_info().rss / 2**20
            except psutil.NoSuchProcess:
                pass
        return out

    def fds(self) -> dict[int, int]:
        out = {}
        for pid in self.worker_pids():
            try:
                out[pid] = psutil.Process(pid).num_fds()
            except psutil.NoSuchProcess:
                pass
        return out

    def threads(self) -> dict[int, int]:
        out = {}
        for pid in self.worker_pids():
            try:
                out[pid] = psutil.Process(pid).num_threads()
            except psutil.NoSuchProcess:
                pass
        return out

    def kill9(self) -> list[int]:
        """SIGKILL the master and its workers (the whole server), by PID."""
        pids = [self.pid, *self.worker_pids()]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc:
            self.proc.wait(timeout=10)
        return pids

    def stop(self) -> None:
        if not self.proc or self.proc.poll() is not None:
            # master gone: make sure its workers are too
            for pid in self.worker_pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return
        workers = self.worker_pids()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill9()
        for pid in workers:
            if psutil.pid_exists(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def log_text(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""


# --- clients -----------------------------------------------------------------------------
class Member:
    """One browser: a requests.Session (keep-alive, cookies) logged in as a member."""

    def __init__(self, base: str, username: str, timeout: float = 30) -> None:
        self.base, self.username, self.timeout = base, username, timeout
        self.s = requests.Session()
        self.csrf = ""

    def _csrf_from(self, html: str) -> str:
        m = CSRF_RE.search(html)
        if not m:
            raise RuntimeError("no CSRF token in page")
        return m.group(1) or m.group(2)

    def get(self, path: str, **kw) -> requests.Response:
        return self.s.get(self.base + path, timeout=self.timeout, allow_redirects=False, **kw)

    def post(self, path: str, data: dict, **kw) -> requests.Response:
        data = dict(data, csrf_token=self.csrf)
        return self.s.post(
            self.base + path, data=data, timeout=self.timeout, allow_redirects=False, **kw
        )

    def login(self, password: str = PASSWORD, attempts: int = 5) -> None:
        last = None
        for _ in range(attempts):
            try:
                r = self.s.get(self.base + "/login", timeout=self.timeout)
                self.csrf = self._csrf_from(r.text)
                r = self.post("/login", {"login": self.username, "password": password})
                if r.status_code != 302:
                    raise RuntimeError(f"login {self.username}: {r.status_code}")
                r = self.s.get(self.base + "/settings", timeout=self.timeout)
                self.csrf = self._csrf_from(r.text)
                return
            except Exception as exc:  # noqa: BLE001
                last = exc
                time.sleep(1)
        raise RuntimeError(f"login {self.username} failed: {last}")

    def refresh_csrf(self, path: str = "/settings") -> None:
        r = self.s.get(self.base + path, timeout=self.timeout)
        self.csrf = self._csrf_from(r.text)

    def reply(self, topic_id: int, body: str) -> tuple[int, float, str]:
        t0 = time.perf_counter()
        try:
            r = self.post(f"/t/{topic_id}/reply", {"body": body})
            status, text = r.status_code, r.text[:300]
            if status == 302:
                text = r.headers.get("Location", "")
        except requests.RequestException as exc:
            status, text = 0, f"{type(exc).__name__}: {exc}"[:300]
        return status, (time.perf_counter() - t0) * 1000, text


@dataclass
class Record:
    op: str
    status: int
    ms: float
    t: float
    who: str = ""
    token: str = ""
    note: str = ""


@dataclass
class Recorder:
    records: list[Record] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, rec: Record) -> None:
        with self.lock:
            self.records.append(rec)

    def summary(self, op: str | None = None) -> dict:
        recs = [r for r in self.records if op is None or r.op == op]
        by_status: dict[str, int] = {}
        for r in recs:
            by_status[str(r.status)] = by_status.get(str(r.status), 0) + 1
        lat = sorted(r.ms for r in recs if r.status and r.status < 500)
        return {
            "n": len(recs),
            "by_status": dict(sorted(by_status.items())),
            "p50_ms": pct(lat, 50),
            "p99_ms": pct(lat, 99),
            "max_ms": lat[-1] if lat else 0,
        }

    def dump(self, path: Path) -> None:
        with open(path, "w") as f:
            for r in self.records:
                f.write(json.dumps(r.__dict__) + "\n")


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))], 1)


def login_all(base: str, usernames: list[str]) -> list[Member]:
    members = [Member(base, u) for u in usernames]
    threads = [threading.Thread(target=m.login) for m in members]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return members


# --- database checks ---------------------------------------------------------------------
class DB:
    """Read-only checks straight on the database (sqlite3 or psycopg), not through the app."""

    def __init__(self, db_url: str | None, instance: Path) -> None:
        self.url = db_url
        self.instance = instance

    def connect(self):
        if self.url and self.url.startswith("postgresql"):
            import psycopg

            return psycopg.connect(self.url, autocommit=True)
        conn = sqlite3.connect(str(self.instance / "forum.db"), timeout=60)
        return conn

    def q(self, sql: str, args: tuple = ()) -> list[tuple]:
        conn = self.connect()
        try:
            if self.url and self.url.startswith("postgresql"):
                sql = sql.replace("?", "%s")
            return list(conn.execute(sql, args).fetchall())
        finally:
            conn.close()

    def integrity(self) -> str:
        if self.url and self.url.startswith("postgresql"):
            # No PRAGMA on PostgreSQL: check the constraints the app relies on instead.
            dup = self.q(
                "select topic_id, number, count(*) from posts group by topic_id, number"
                " having count(*) > 1"
            )
            orphan = self.q(
                "select count(*) from posts p left join topics t on t.id=p.topic_id"
                " where t.id is null"
            )[0][0]
            return f"pg: duplicate (topic,number)={len(dup)} orphan posts={orphan}"
        return ";".join(r[0] for r in self.q("PRAGMA integrity_check"))

    def topic_check(self, topic_id: int) -> dict:
        rows = self.q(
            "select number, user_id, body_raw, status, deleted_at, hidden_at from posts"
            " where topic_id=? order by number",
            (topic_id,),
        )
        t = self.q(
            "select post_count, highest_post_number, last_post_number, sig_id from topics"
            " where id=?",
            (topic_id,),
        )[0]
        visible = [r for r in rows if r[3] == "visible" and r[4] is None and r[5] is None]
        numbers = [r[0] for r in rows]
        sig = self.q("select post_count, topic_count from sigs where id=?", (t[3],))[0]
        sig_posts = self.q(
            "select count(*) from posts p join topics t on t.id=p.topic_id where t.sig_id=? "
            "and t.deleted_at is null and p.status='visible' and p.deleted_at is null "
            "and p.hidden_at is null",
            (t[3],),
        )[0][0]
        users_bad = self.q(
            "select u.username, u.post_count, (select count(*) from posts p join topics t on "
            "t.id=p.topic_id where p.user_id=u.id and t.deleted_at is null and "
            "p.status='visible' and p.deleted_at is null and p.hidden_at is null) as real "
            "from users u"
        )
        users_bad = [r for r in users_bad if r[1] != r[2]]
        return {
            "posts_rows": len(rows),
            "visible_rows": len(visible),
            "distinct_numbers": len(set(numbers)),
            "numbers_contiguous": numbers == list(range(1, len(numbers) + 1)),
            "topic.post_count": t[0],
            "topic.highest_post_number": t[1],
            "topic.last_post_number": t[2],
            "sig.post_count": sig[0],
            "sig.post_count_real": sig_posts,
            "users_with_wrong_post_count": users_bad[:10],
            "n_users_wrong": len(users_bad),
            "counters_exact": (
                t[0] == len(visible)
                and t[1] == max(numbers or [0])
                and t[2] == max([r[0] for r in visible] or [0])
                and sig[0] == sig_posts
                and not users_bad
            ),
            "bodies": [r[2] for r in rows],
        }


def tokens_in(bodies: list[str]) -> dict[str, int]:
    """token -> how many rows hold it (tokens look like zq...x)."""
    out: dict[str, int] = {}
    for b in bodies:
        for tok in re.findall(r"\bzq[a-z]{10}x\b", b):
            out[tok] = out.get(tok, 0) + 1
    return out


def acked_vs_found(recorder: Recorder, bodies: list[str]) -> dict:
    """Every 2xx/3xx reply's token in the DB exactly once; duplicates; unacked that landed."""
    found = tokens_in(bodies)
    acked = [r.token for r in recorder.records if r.op == "reply" and 200 <= r.status < 400]
    failed = [r.token for r in recorder.records if r.op == "reply" and not 200 <= r.status < 400]
    lost = [t for t in acked if t not in found]
    dups = {t: n for t, n in found.items() if n > 1}
    unacked_landed = [t for t in failed if t in found]
    return {
        "acked": len(acked),
        "acked_found": len(acked) - len(lost),
        "lost": lost[:20],
        "n_lost": len(lost),
        "duplicates": len(dups),
        "failed_requests": len(failed),
        "failed_but_stored": len(unacked_landed),
        "rows_with_token": sum(found.values()),
    }


def search_check(
    base: str, tokens: list[str], member: Member | None = None, limit: int = 0
) -> dict:
    """Search each token through /search; count how many find >= 1 result."""
    sess = member.s if member else requests.Session()
    missing, errors, lat = [], {}, []
    sample = tokens if not limit else random.sample(tokens, min(limit, len(tokens)))
    for tok in sample:
        t0 = time.perf_counter()
        r = sess.get(f"{base}/search", params={"q": tok}, timeout=30)
        lat.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
            continue
        n = r.text.count('class="search-result"')
        if n < 1:
            missing.append(tok)
        elif n > 1:
            errors["multiple_results"] = errors.get("multiple_results", 0) + 1
    return {
        "searched": len(sample),
        "missing": len(missing),
        "missing_sample": missing[:10],
        "errors": errors,
        "p50_ms": pct(lat, 50),
        "p99_ms": pct(lat, 99),
    }


def grep_log(text: str, *needles: str) -> dict[str, int]:
    return {n: text.count(n) for n in needles}


def status_counts(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in re.finditer(r" status=(\d+) ", text):
        out[m.group(1)] = out.get(m.group(1), 0) + 1
    return dict(sorted(out.items()))


def save(name: str, result: dict) -> None:
    path = WORK / f"{name}.result.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    log("result written to", path)


if __name__ == "__main__":
    sys.exit("a library; run the t*.py scripts")
