"""Database faults give clean answers: a database that takes no writes (read-only or full) is a
503 that says the forum is read-only while reads go on, and `/readyz` says so; a connection that
dies under a request is never a bare 500; each 503 logs one line, not a traceback."""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import NamedTuple

import pytest
import requests
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from . import factories as f
from .serverkit import Member, PostgresCluster, Server, server_env

pytestmark = pytest.mark.faults


def _read_only_app(make_app, database_url: str):
    """Another app (a server process) on the test's database that may not write to it: SQLite
    opened read-only, or PostgreSQL sessions with default_transaction_read_only (a standby)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        other = make_app(DATABASE_URL=f"sqlite:///file:{url.database}?mode=ro&uri=true")
    else:
        other = make_app(
            SQLALCHEMY_ENGINE_OPTIONS={
                "pool_pre_ping": True,
                "connect_args": {"options": "-c default_transaction_read_only=on"},
            }
        )
    return other


@pytest.fixture
def board(f):
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "Read-only week", "The first post.")
    f.reply(ada, topic, "A second post.")
    return {"ada": ada, "sig": sig, "topic": topic}


def test_a_read_only_database_serves_pages_and_refuses_writes_with_a_503(
    app, client, make_app, database_url, board, caplog
):
    client.login("ada")  # through the writable app: the cookie is good on both
    token = client.csrf_token()
    session_cookie = client.get_cookie("session")
    assert session_cookie is not None
    read_only = _read_only_app(make_app, database_url)
    topic = board["topic"]
    with read_only.app_context(), caplog.at_level(logging.INFO):
        member, guest = read_only.test_client(), read_only.test_client()
        member.set_cookie("session", session_cookie.value)
        for who in (member, guest):
            for path in ("/", "/s/retro/", f"/t/{topic.id}"):
                page = who.get(path)
                assert page.status_code == 200, (path, page.get_data(as_text=True)[:300])
        assert "A second post." in member.get(f"/t/{topic.id}").get_data(as_text=True)

        reply = member.post(f"/t/{topic.id}/reply", data={"body": "Lost?", "csrf_token": token})
        assert reply.status_code == 503
        text = reply.get_data(as_text=True)
        assert "read-only right now" in text and "cannot reach its database" not in text
        assert reply.headers["Retry-After"]
        as_json = member.post(
            f"/t/{topic.id}/reply",
            data={"body": "Lost?", "csrf_token": token},
            headers={"Accept": "application/json"},
        )
        assert as_json.status_code == 503
        assert "read-only" in as_json.get_json()["error"]["message"]

        ready = guest.get("/readyz")
        assert ready.status_code == 503
        writes = ready.get_json()["checks"]["database_writes"]
        assert writes["ok"] is False and writes["error"]
        assert ready.get_json()["checks"]["database"]["ok"] is True

    refusals = [r for r in caplog.records if r.getMessage().startswith("read-only: POST")]
    assert len(refusals) == 2 and all(r.exc_info is None for r in refusals)
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    # Nothing was half-written: the writable app sees the two posts it had.
    assert "Lost?" not in client.get(f"/t/{topic.id}").get_data(as_text=True)


def test_a_session_that_cannot_end_is_not_a_bare_error(client, board, monkeypatch, caplog):
    """The database died under the request (a PostgreSQL crash): ending the session (its
    rollback) fails after the page was chosen. That must not escape Flask."""
    guest = client
    real_close = Session.close
    broken = {"left": 1}

    def close(self):
        if broken["left"]:
            broken["left"] -= 1
            raise OperationalError("ROLLBACK", {}, Exception("server closed the connection"))
        return real_close(self)

    page = f"/t/{board['topic'].id}"
    assert guest.get(page).status_code == 200
    monkeypatch.setattr(Session, "close", close)
    with caplog.at_level(logging.WARNING):
        response = guest.get(page)
    assert response.status_code == 200
    assert broken["left"] == 0
    ended = [r for r in caplog.records if "ending a request's database session" in r.getMessage()]
    assert len(ended) == 1 and ended[0].exc_info is None
    assert guest.get(page).status_code == 200


def test_an_unreachable_database_logs_one_line_per_503(app, client, board, monkeypatch, caplog):
    from forum.topics import queries

    def down(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("connection refused\nDETAIL: more"))

    monkeypatch.setattr(queries, "topic_page", down)
    with caplog.at_level(logging.INFO):
        response = client.get(f"/t/{board['topic'].id}")
    assert response.status_code == 503
    assert "cannot reach its database" in response.get_data(as_text=True)
    lines = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert "DETAIL" not in lines[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.search
def test_a_search_that_meets_a_dead_database_is_a_clean_503(client, board, monkeypatch, caplog):
    """The search page turns a failed search into a message; a dead database is not such a
    failure: the page's header would ask the broken session again, and the error page after it,
    which gave a bare gunicorn 500 in the fault tests' PostgreSQL stop (2026-12-07)."""
    from forum.search import indexer

    backend = indexer.get_backend()

    def down(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("the database system is shutting down"))

    client.login("ada")
    monkeypatch.setattr(backend, "search", down)
    with caplog.at_level(logging.INFO):
        response = client.get("/search?q=second")
    assert response.status_code == 503
    assert "cannot reach its database" in response.get_data(as_text=True)
    lines = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert not [r for r in caplog.records if r.exc_info]


def test_a_statement_after_the_connection_died_is_a_503(client, board, monkeypatch, caplog):
    """What a later statement of the request raises once the connection died under an earlier
    one that was caught: SQLAlchemy's "Can't reconnect until invalid transaction is rolled
    back" (code 8s2b). The database is down: a 503, one line."""
    from sqlalchemy.exc import PendingRollbackError

    from forum.topics import queries

    def after_a_disconnect(*args, **kwargs):
        raise PendingRollbackError(
            "Can't reconnect until invalid transaction is rolled back.", code="8s2b"
        )

    monkeypatch.setattr(queries, "topic_page", after_a_disconnect)
    with caplog.at_level(logging.INFO):
        response = client.get(f"/t/{board['topic'].id}")
    assert response.status_code == 503
    assert "cannot reach its database" in response.get_data(as_text=True)
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.config(PRESENCE_LOOP=False)
def test_a_socket_that_meets_a_dead_database_is_refused_with_one_line(
    app, client, board, monkeypatch, caplog
):
    """During an outage every open tab tries to connect its socket again: each refusal is one
    line in the log, not a traceback, and the browser is refused (it retries), not left with a
    socket the forum knows nothing of."""
    from forum.extensions import socketio
    from forum.realtime import namespace

    client.login("ada")
    known = socketio.test_client(app, flask_test_client=client)
    assert known.is_connected()

    def down(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("connection refused\nDETAIL: more"))

    # Connect asks who it is, and each event asks again (realtime.namespace.socket_member).
    monkeypatch.setattr(namespace.permissions, "actor", down)
    with caplog.at_level(logging.WARNING):
        refused = socketio.test_client(app, flask_test_client=client)
        assert not refused.is_connected()
        answer = known.emit("subscribe", {"topic_id": board["topic"].id}, callback=True)
    assert answer == {
        "ok": False,
        "error": "The forum cannot answer right now. Try again in a moment.",
    }
    lines = [r for r in caplog.records if "database unavailable on socket event" in r.getMessage()]
    assert [r.getMessage().split(":")[0] for r in lines] == [
        "database unavailable on socket event connect",
        "database unavailable on socket event subscribe",
    ]
    assert not [r for r in caplog.records if r.exc_info]
    known.disconnect()


def test_a_write_lock_file_this_process_may_not_open_is_read_only(
    client, board, write_lock_refused
):
    """SQLite's writers take turns on an flock of `<database>.write-lock`, opened for writing
    before SQLite is: not permitted (or a read-only folder) is the same 503 as a read-only
    database, not a 500."""
    client.login("ada")
    token = client.csrf_token()
    write_lock_refused.start()
    topic = board["topic"]
    reply = client.post(f"/t/{topic.id}/reply", data={"body": "Locked out", "csrf_token": token})
    assert reply.status_code == 503
    assert "read-only right now" in reply.get_data(as_text=True)
    assert client.get(f"/t/{topic.id}").status_code == 200
    assert client.get("/readyz").status_code == 503
    write_lock_refused.stop()
    posted = client.post(f"/t/{topic.id}/reply", data={"body": "Back", "csrf_token": token})
    assert posted.status_code == 302
    assert client.get("/readyz").status_code == 200


def test_a_convenience_write_the_database_refuses_is_one_line_and_the_request_goes_on(
    app, board, write_lock_refused, caplog
):
    """storage_faults.convenience_write: "last seen" and its kind are dropped with one warning
    when storage refuses them, and the session stays usable."""
    from forum.extensions import db
    from forum.storage_faults import convenience_write

    ada = board["ada"]
    write_lock_refused.start()
    with caplog.at_level(logging.WARNING, logger="forum.storage_faults"):
        noted = convenience_write(ada, {"last_locale": "es"}, "what member %s reads", ada.id)
    assert noted is False
    assert [r.getMessage() for r in caplog.records if r.name == "forum.storage_faults"] == [
        f"could not note what member {ada.id} reads"
    ]
    write_lock_refused.stop()
    db.session.expire_all()
    assert db.session.get(type(ada), ada.id).last_locale != "es"
    assert convenience_write(ada, {"last_locale": "es"}, "what member %s reads", ada.id)
    db.session.expire_all()
    assert db.session.get(type(ada), ada.id).last_locale == "es"


# --- Server processes: a PostgreSQL crash, and a full or read-only SQLite volume ---------------


# They make their own database whatever the suite runs on: once is enough (`make test`).
def _seed(database: str, instance: Path, index: Path | None = None) -> int:
    """Migrate `database`, add ada (a member of SIG retro) and a topic; returns its id."""
    from flask_migrate import upgrade

    from forum import create_app
    from forum.extensions import db

    seed = create_app(
        {"DATABASE_URL": database, "INDEX_DIR": str(index or instance / "index"),
         "SECRET_KEY": "seed", "SEARCH_SYNC_ON_START": False, "SEARCH_DRAIN": "inline",
         "REDIS_URL": None, "PASSWORD_HASH_METHOD": f.CHEAP_PASSWORDS}
    )  # fmt: skip
    with seed.app_context():
        upgrade()
        ada = f.user("ada")
        sig = f.sig("retro", members=[ada])
        topic_id = f.topic(ada, sig, "Faults week", "The first post.").id
        db.session.remove()
        db.engine.dispose()
    return topic_id


class Readers:
    """Guests and a member read pages until stopped: one `Answer` a request, with the monotonic
    times it was sent and answered."""

    class Answer(NamedTuple):
        sent: float
        answered: float
        reader: int
        path: str
        status: int
        text: str

    def __init__(self, base: str, paths: list[str], member: Member | None = None) -> None:
        self.base, self.paths = base, paths
        self.answers: list[Readers.Answer] = []
        self.stop = threading.Event()
        sessions = [requests.Session(), requests.Session()] + ([member.http] if member else [])
        self.threads = [
            threading.Thread(target=self._read, args=(s, i), daemon=True)
            for i, s in enumerate(sessions)
        ]
        for thread in self.threads:
            thread.start()

    def _read(self, http: requests.Session, offset: int) -> None:
        n = offset
        while not self.stop.is_set():
            path = self.paths[n % len(self.paths)]
            sent = time.monotonic()
            try:
                response = http.get(self.base + path, timeout=15)
                status, text = response.status_code, response.text
            except requests.RequestException as exc:
                status, text = 0, str(exc)
            self.answers.append(Readers.Answer(sent, time.monotonic(), offset, path, status, text))
            n += 1
            self.stop.wait(0.05)

    def wait_until(self, enough, timeout: float = 30) -> None:
        """Until `enough(answers)` holds, for at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not enough(list(self.answers)):
            assert time.monotonic() < deadline, f"not within {timeout} s"
            time.sleep(0.05)

    def each_reader(self, answers, status: int, sent_after: float = 0.0, rounds: int = 1) -> bool:
        """Every reader has had `rounds` answers per path with `status`, sent after `sent_after`."""
        return all(
            sum(a.reader == r and a.status == status and a.sent > sent_after for a in answers)
            >= rounds * len(self.paths)
            for r in range(len(self.threads))
        )

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


# A request sent once `pg_ctl start -w` has returned reaches a server that takes connections;
# the app's pool finds its dead connections by pre-ping and connects anew. This much time after
# the start is left for that (a worker's first connect on a loaded machine), no more.
RECONNECT_SECONDS = 1.0


@pytest.mark.slow
def test_a_postgresql_crash_under_read_load_gives_only_clean_503s(tmp_path):
    why = PostgresCluster.available()
    if why:
        pytest.skip(why)
    cluster = PostgresCluster()
    server = None
    readers = None
    try:
        cluster.init()
        instance = tmp_path / "instance"
        instance.mkdir()
        topic_id = _seed(cluster.url, instance)
        server = Server(server_env(cluster.url, instance), tmp_path, "app")
        server.wait_ready()
        ada = Member("ada", f.PASSWORD)
        ada.login(server.url)
        readers = Readers(server.url, ["/", "/s/retro/", f"/t/{topic_id}"], ada)
        # Every reader (the guests, the member) has read each page before the crash...
        readers.wait_until(lambda answers: readers.each_reader(answers, 200))
        stopped_at = time.monotonic()
        cluster.stop("immediate")  # a crash: no shutdown checkpoint, connections cut at once
        # ... and met the outage.
        readers.wait_until(lambda answers: readers.each_reader(answers, 503, stopped_at))
        cluster.start()
        started_at = time.monotonic()
        back_at = started_at + RECONNECT_SECONDS
        # Every reader has read each page twice with requests sent once the database was back.
        readers.wait_until(
            lambda answers: all(
                sum(a.reader == r and a.sent > back_at and a.status != 503 for a in answers)
                >= 2 * len(readers.paths)
                for r in range(len(readers.threads))
            )
        )
        readers.finish()

        answers = list(readers.answers)
        statuses = {a.status for a in answers}
        assert statuses <= {200, 503}, sorted(statuses)
        down = [a for a in answers if a.status == 503]
        assert all("cannot reach its database" in a.text for a in down)
        # A 503 only while the database was down: sent before it was back, answered after the
        # crash.
        late = [a for a in down if not (a.answered > stopped_at and a.sent < back_at)]
        assert not late, [(round(a.sent - started_at, 2), a.path) for a in late]
        # Working again as soon as it is back: every request sent after that succeeded.
        after = [a for a in answers if a.sent > back_at]
        assert after and all(a.status == 200 for a in after), [
            (round(a.sent - started_at, 2), a.status) for a in after if a.status != 200
        ]
        assert all(a.status == 200 for a in answers if a.answered < stopped_at)
        log = server.logfile.read_text(errors="replace")
        assert "Traceback" not in log and "Error handling request" not in log, server.log()
        assert "database unavailable on GET" in log
    finally:
        if readers is not None:
            readers.finish()
        if server is not None:
            server.stop()
        cluster.destroy()


def _mount(*args: str) -> str | None:
    """Run mount/umount; None when it worked, else why not (no root, no permission in CI)."""
    try:
        subprocess.run(list(args), check=True, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return f"{' '.join(args)} failed: {detail.strip()}"
    return None


def _fill(folder: Path) -> Path:
    """Write a file until the volume is full, to the last byte."""
    ballast = folder / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return ballast


@pytest.mark.slow
def test_a_full_then_read_only_sqlite_volume_is_read_only_and_recovers(tmp_path):
    """The instance folder (database, its log, the write lock file) on a 48 MB tmpfs of the
    test's own: filled to the last byte, then freed; then remounted read-only. Writes answer the
    read-only 503 and reads go on meanwhile; `/readyz` says so; freeing space is enough to write
    again. Needs root (mount); elsewhere it is skipped, saying why."""
    volume = tmp_path / "volume"
    volume.mkdir()
    why = _mount("mount", "-t", "tmpfs", "-o", "size=48m,mode=0755", "tmpfs", str(volume))
    if why:
        pytest.skip(f"a tmpfs volume could not be mounted here ({why})")
    server = None
    try:
        instance = volume / "instance"
        instance.mkdir()
        database = f"sqlite:///{volume / 'forum.db'}"
        index = tmp_path / "index"  # the index has a volume of its own: this is the database's
        # Seeded in a child process: this one must hold no file of the volume open (the writers'
        # lock file, SQLite's shared memory), or it could not be remounted read-only.
        with concurrent.futures.ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("fork")
        ) as child:
            topic_id = child.submit(_seed, database, instance, index).result(timeout=120)
        env = server_env(
            database, instance, FORUM_INDEX_DIR=str(index),
            FORUM_RATELIMIT_POST="100000 per minute", FORUM_PAGE_CACHE_SECONDS="0",
        )  # fmt: skip

        def start() -> Server:
            started = Server(env, tmp_path, f"app{time.monotonic_ns()}")
            started.wait_ready()
            return started

        server = start()
        ada = Member("ada", f.PASSWORD)
        ada.login(server.url)
        token = ada.csrf(server.url, "/settings")
        assert ada.reply(server.url, topic_id, "Before the disk filled", token).status_code == 302

        def replies(n: int) -> list[tuple[int, str]]:
            out = []
            for i in range(n):
                answer = ada.reply(server.url, topic_id, f"Reply {i} " + "x" * 3000, token)
                out.append((answer.status_code, answer.text))
            return out

        def reads_work() -> None:
            for http in (ada.http, requests.Session()):
                for path in ("/", "/s/retro/", f"/t/{topic_id}"):
                    page = http.get(server.url + path, timeout=30)
                    assert page.status_code == 200, (path, page.text[:300])

        # Full: the writes that need room answer the read-only 503; reads go on.
        ballast = _fill(volume)
        answers = replies(8)
        assert {status for status, _ in answers} <= {302, 503}, answers
        refused = [text for status, text in answers if status == 503]
        assert refused, "no write was refused on a full volume"
        assert all("read-only right now" in text for text in refused)
        reads_work()
        ready = requests.get(server.url + "/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["checks"]["database_writes"]["ok"] is False

        # Freed: the next write works, no restart.
        ballast.unlink()
        assert ada.reply(server.url, topic_id, "After space was freed", token).status_code == 302
        assert requests.get(server.url + "/readyz", timeout=30).status_code == 200

        # Read-only (a volume with files open for writing cannot be remounted: restart on it).
        server.stop()
        why = _mount("mount", "-o", "remount,ro", str(volume))
        assert why is None, why
        server = start()
        reads_work()
        locked = ada.reply(server.url, topic_id, "On a read-only volume", token)
        assert locked.status_code == 503 and "read-only right now" in locked.text
        ready = requests.get(server.url + "/readyz", timeout=30)
        assert ready.status_code == 503
        assert "not writable" in ready.json()["checks"]["database_writes"]["error"]

        server.stop()
        assert _mount("mount", "-o", "remount,rw", str(volume)) is None
        server = start()
        assert ada.reply(server.url, topic_id, "Writable again", token).status_code == 302
        for log in tmp_path.glob("app*.log"):
            text = log.read_text(errors="replace")
            assert "Traceback" not in text and "status=500" not in text, text[-3000:]
    finally:
        if server is not None:
            server.stop()
        _mount("umount", "-l", str(volume))


@pytest.mark.config(EVENTS_RAISE=False)
def test_a_subscriber_refused_by_a_read_only_database_logs_one_line(app, caplog):
    """An after-commit subscriber that meets a read-only (or full) database is the storage's
    fault: one warning, no traceback; any other failure keeps its traceback."""
    from forum import events
    from forum.db import transaction

    class ReadOnly(Exception):
        sqlite_errorname = "SQLITE_READONLY"

    seen = []

    def refused(event: object) -> None:
        seen.append(event)
        raise OperationalError("UPDATE", {}, ReadOnly("attempt to write a readonly database"))

    def broken(event: object) -> None:
        raise RuntimeError("a bug")

    events.subscribe(app, events.SessionsRevoked, refused, phase="after_commit")
    events.subscribe(app, events.SessionsRevoked, broken, phase="after_commit")
    with caplog.at_level(logging.WARNING), transaction():
        events.publish(events.SessionsRevoked(user_id=1))
    assert len(seen) == 1
    one = next(r for r in caplog.records if "could not write" in r.getMessage())
    assert one.exc_info is None and "readonly database" in one.getMessage()
    bug = next(r for r in caplog.records if "failed on" in r.getMessage())
    assert bug.exc_info is not None


@pytest.mark.config(EVENTS_RAISE=False)
def test_a_subscriber_that_meets_a_dead_database_logs_one_line(app, caplog):
    """A reply that commits as PostgreSQL crashes: its after-commit subscribers (the "Tracked"
    counts ask the database) meet the dead connection. The fault tests' PostgreSQL crash
    (2026-12-07) logged that as a traceback beside the 503s' one line each: it is the
    database's fault, one warning, its first line only."""
    from forum import events
    from forum.db import transaction

    def away(event: object) -> None:
        raise OperationalError(
            "SELECT",
            {},
            Exception("server closed the connection unexpectedly\n\tThis probably means"),
        )

    events.subscribe(app, events.SessionsRevoked, away, phase="after_commit")
    with caplog.at_level(logging.WARNING), transaction():
        events.publish(events.SessionsRevoked(user_id=1))
    line = next(r for r in caplog.records if "could not reach the database" in r.getMessage())
    assert line.exc_info is None
    assert "server closed the connection" in line.getMessage()
    assert "This probably means" not in line.getMessage()
    assert not [r for r in caplog.records if r.exc_info]
