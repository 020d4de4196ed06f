"""Fixtures: an app on a fresh database (SQLite, or PostgreSQL when FORUM_TEST_DATABASE_URL is
set), a test client, a login helper that goes through the real login form, and a query counter.

The test holds an app context (and its database session) open; each request of the test client,
and each event of a socket's test client, runs in an app context of its own, as on a server, and
the test's session reads afresh what the request wrote (Client, _as_its_own_request)."""

from __future__ import annotations

import contextvars
import hashlib
import os
import uuid
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import flask_socketio
import pytest
from flask import Flask, has_app_context
from flask.testing import FlaskClient
from flask_socketio.test_client import SocketIOTestClient
from itsdangerous import URLSafeTimedSerializer
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import Session

from forum import create_app
from forum.accounts.models import User
from forum.extensions import db as _db
from forum.files.services import stop_download_writer
from forum.search.backend import NullBackend
from forum.search.handlers import stop_drainer
from forum.search.indexer import replace_backend

from . import factories

# Fixtures of the moderation tests (browser), shared by their modules.
pytest_plugins = ["tests.mod_support"]


def pytest_configure(config: pytest.Config) -> None:
    # `make test` compiles the catalogs; a plain `pytest` run gets them compiled here.
    from forum.i18n_check import compile_stale

    compile_stale()


RUN_ONCE = pytest.mark.skip(
    reason="does not use the suite's database: the SQLite pass runs it, the PostgreSQL pass "
    "would repeat it"
)


@pytest.hookimpl(tryfirst=True)  # (before pytest-xdist reads the groups)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """How `make test` shares the tests between its workers (`--dist loadgroup`).

    - (pytest is held at 9.1.1: with 9.2 and pytest-xdist 3.8, `loadgroup` groups nothing, as
      xdist marks a group in the node id, which pytest 9.2 no longer reads back;
      pytest-dev/pytest-xdist#1386, open. pyproject.toml says so beside the pin.)
    - A module's tests that share a module-scoped fixture (a server process, an index built
      once) run on one worker, in one group: the fixture is made once, not once per worker.
    - The long tests first: the server-process and fault tests (`slow`, `faults`) take from
      seconds to minutes each. Handed out first (loadgroup hands out the groups, the largest
      first, then the other tests in this order), they run beside the quick ones; left where
      they fall, one could start last and keep the run waiting on it while the other worker
      is done.
    - On PostgreSQL (FORUM_TEST_DATABASE_URL) a test that never touches the suite's database
      (no `database_url` among its fixtures: the search engine's own tests, Markdown, the
      server-process tests that make a database of their own) is skipped: the SQLite pass
      runs it, and the PostgreSQL pass would only repeat it."""
    on_postgres = bool(os.environ.get("FORUM_TEST_DATABASE_URL"))
    for item in items:
        if on_postgres and "database_url" not in getattr(item, "fixturenames", ()):
            item.add_marker(RUN_ONCE)
        # (The browser tests are one group already: tests/e2e/conftest.py.)
        if _shares_a_module_fixture(item) and "e2e" not in item.path.parts:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    items.sort(key=_long_first)


def _shares_a_module_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs[-1].scope == "module" for defs in info.name2fixturedefs.values() if defs)


def _long_first(item: pytest.Item) -> int:
    return 0 if item.get_closest_marker("slow") else 1 if item.get_closest_marker("faults") else 2


def _postgres_database() -> Iterator[str | None]:
    base = os.environ.get("FORUM_TEST_DATABASE_URL")
    if not base:
        yield None
        return
    url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"forum_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # A test's commit need not wait for its WAL to reach the disk (the data stay
        # consistent; only a crash of the server could lose the last ones, and the database is
        # dropped after the run anyway): tests/test_api.py on PostgreSQL, alternated, 118 and
        # 83 s with the wait, 74 and 60 s without.
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        from .dbstate import close_readers

        close_readers()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    gen = _postgres_database()
    pg = next(gen)
    if pg:
        yield pg
        next(gen, None)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'forum.db'}"


@pytest.fixture
def empty_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own, on the suite's kind (SQLite or PostgreSQL): for the tests
    that run migrations from an earlier revision."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    yield from _postgres_database()


@pytest.fixture(scope="session")
def base_config(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    instance = tmp_path_factory.mktemp("instance")
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "INDEX_DIR": str(instance / "index"),
        "OUTBOX_DIR": str(instance / "outbox"),
        # tests/test_files.py gives each test a store of its own.
        "UPLOADS_URL": str(instance / "uploads"),
        "EVENTS_RAISE": True,
        "RATELIMIT_ENABLED": False,
        "SEARCH_SYNC_ON_START": False,
        "PAGE_CACHE_SECONDS": 0,  # tests/test_pagecache.py turns it on
        # Read once per test and kept: a slow test does not read them again halfway through
        # (query counts stay the same); a save forgets them (tests/test_settings.py).
        "SETTINGS_CACHE_SECONDS": 3600,
        # Likewise what a process knows of the newest announcement (services forget it on commit).
        "ANNOUNCEMENT_CACHE_SECONDS": 3600,
        "SEARCH_DRAIN": "inline",  # tests/test_search_drain.py runs the background thread
        # Each library download writes its count at once; tests/test_library.py runs the writer.
        "DOWNLOAD_FLUSH_SECONDS": 0,
        # No search index unless a test searches: those marked `search` get Whoosh on either
        # database (the search modules run the PostgreSQL backend too). Indexing every post a
        # test writes was a fifth of the quick tests' time (tests/test_api.py, test_topics.py
        # and test_sigs.py: 24.0 s with an index, 18.7 s without). A test that searches or reads
        # the index without the mark fails (_NoSearching), so none passes by finding nothing.
        "SEARCH_BACKEND": "null",
        "REDIS_URL": None,
        "WTF_CSRF_ENABLED": True,
        # Jobs (mail) run at once, in the caller's thread, so a test reads the outbox at once
        # (tests/test_jobs.py runs a real consumer on an SQLite queue).
        "JOBS_IMMEDIATE": True,
        "PASSWORD_HASH_METHOD": factories.CHEAP_PASSWORDS,
        # Tests send the registration form at once; tests/test_registration_defences.py turns
        # the minimum fill time on.
        "REGISTER_MIN_SECONDS": 0,
        # Fixtures write the same words to the same place again and again ("A reply."); the
        # double-submit rule is tested in tests/test_double_submit.py, which turns it on.
        "DUPLICATE_SECONDS": 0,
    }


class SearchesWithoutIndex(BaseException):
    """Raised by _NoSearching. A BaseException, so that the search page's own error handling
    (a failed search is an error message, not a 500) cannot turn it into a passing page."""


class _NoSearching(NullBackend):
    """The search backend of a test not marked `search`: it indexes nothing (the queue rows are
    still written and drained), and fails the test that searches or reads the index, which
    would find nothing and could pass for the wrong reason."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise SearchesWithoutIndex(
            "this test searches or reads the search index: mark it (or its module) "
            "`@pytest.mark.search` to run it on a real index (tests/conftest.py)"
        )

    search = suggest = word_for = indexed_post_ids = check = _refuse


def _test_app(base: dict[str, Any], request: pytest.FixtureRequest, **given: Any) -> Flask:
    """An app with the test's settings: a search index if marked `search`, then its `config`
    marker's, then those given."""
    settings = dict(base)
    if request.node.get_closest_marker("search"):
        settings["SEARCH_BACKEND"] = "whoosh"
    marker = request.node.get_closest_marker("config")
    if marker:
        settings.update(marker.kwargs)
    settings.update(given)
    made = _create_app(settings)
    if settings["SEARCH_BACKEND"] == "null":
        replace_backend(made, _NoSearching())
    return made


@pytest.fixture
def app(base_config: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Flask]:
    app = _test_app(base_config, request)
    with app.app_context():
        _create_tables()
        try:
            yield app
        finally:
            _close_pool(app)


def _close_pool(app: Flask, *, clear: bool = True) -> None:
    """Close the app's connection pool (in its app context), after the app's threads that use
    the database (the search drain, the download count writer) have ended: a connection one
    still held would go back to the closed pool and be left to the garbage collector, unclosed,
    which then fails whichever test runs next."""
    assert stop_drainer(app), "the app's search drain thread did not end"
    assert stop_download_writer(app), "the app's download count writer did not end"
    _db.session.remove()
    if clear:
        _clear(app)
    _db.engine.dispose()


@pytest.fixture
def make_app(base_config: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Any]:
    """More apps on the test's database, as more server processes would be: `make_app(**settings)`.
    Each keeps a connection pool of its own, closed after the test (left to the garbage collector,
    its connections would be collected unclosed in whichever test runs next)."""
    made: list[Flask] = []

    def make(**settings: Any) -> Flask:
        other = _test_app(base_config, request, **settings)
        made.append(other)
        return other

    yield make
    for other in made:
        with other.app_context():
            _close_pool(other, clear=False)


class _Templates(BytecodeCache):
    """Compiled templates kept for the whole run: each test's app would otherwise compile every
    template it renders again (about 7 ms of CPU each). Jinja checks each template's source
    against the checksum it was compiled from, so a changed template is compiled anew."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


_TEMPLATES = _Templates()


def _keep_url_builders() -> None:
    """URL builders made once for the whole run: each test's app has Werkzeug write and compile
    a Python function for every route it adds (two per rule: about 60 ms of create_app's 75 ms of
    CPU). A builder is made from the rule's text, parsed parts and defaults alone, and takes its
    rule as its first argument (the converters are looked up on it), so one made for an earlier
    app's rule serves the same rule of the next app."""
    from werkzeug.routing import Rule

    make = Rule._compile_builder  # noqa: SLF001 - the one place the builders are made
    made: dict[tuple[Any, ...], Any] = {}

    def compile_builder(rule: Rule, append_unknown: bool = True) -> Any:
        key = (
            append_unknown,
            rule.rule,
            rule.subdomain,
            rule.host,
            repr(rule._trace),  # noqa: SLF001
            repr(sorted((rule.defaults or {}).items())),
        )
        builder = made.get(key)
        if builder is None:
            builder = made[key] = make(rule, append_unknown)
        return builder

    Rule._compile_builder = compile_builder  # type: ignore[method-assign]  # noqa: SLF001


_keep_url_builders()


def _keep_parsed_rules() -> None:
    """Rules parsed once for the whole run, too: each test's app parsed the text of every one of
    its routes again (its parts, its arguments' converters: most of what is left of create_app's
    time). A rule's parse depends on its text, its map's settings and the map's converter
    classes alone, so the parts, the trace and the converters (stateless: none reads its map)
    made for an earlier app's rule serve the same rule of the next app."""
    from werkzeug.routing import Rule

    compile_rule = Rule.compile
    made: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def compile(rule: Rule) -> None:
        routes = rule.map
        key = (
            rule.rule,
            rule.host if routes.host_matching else rule.subdomain,
            rule.merge_slashes,
            routes.host_matching,
            tuple(sorted(routes.converters.items())),
        )
        found = made.get(key)
        if found is None:
            compile_rule(rule)
            made[key] = (rule._parts, rule._trace, rule._converters)  # noqa: SLF001
            return
        parts, trace, converters = found
        rule._parts = list(parts)  # noqa: SLF001
        rule._trace = list(trace)  # noqa: SLF001
        rule._converters = dict(converters)  # noqa: SLF001
        rule.arguments.update(converters)  # (each variable of the rule has a converter)
        rule._build = rule._compile_builder(False).__get__(rule, None)  # noqa: SLF001
        rule._build_unknown = rule._compile_builder(True).__get__(rule, None)  # noqa: SLF001

    Rule.compile = compile  # type: ignore[method-assign]


_keep_parsed_rules()


class _CompiledSql(MutableMapping[Any, Any]):
    """SQL compiled once for the whole run: SQLAlchemy keeps each engine's compiled statements
    in a cache of that engine's, under keys that hold its dialect object, so each test's new
    engine compiled every statement it ran again (about a fifth of a quick test's CPU). This
    cache stands in for every engine's (and every mapper's, for the flush's statements), and keys
    a dialect by its class and settings instead: two engines of one kind, configured alike (the
    tests' SQLite files, or PostgreSQL), share their statements. A dialect configured otherwise
    (another JSON serializer, another server version) has keys of its own."""

    # Objects each dialect makes for itself, whatever its settings.
    _OWN = frozenset(
        {
            "identifier_preparer",
            "type_compiler_instance",
            "type_compiler",
            "_type_memos",
            "_psycopg_adapters_map",  # (psycopg: the types it adapts, one map per engine)
        }
    )

    def __init__(self, capacity: int) -> None:
        from sqlalchemy.util import LRUCache

        self._data: LRUCache[Any, Any] = LRUCache(capacity)

    @classmethod
    def _dialect_key(cls, dialect: Any) -> Any:
        # Read when the dialect first compiles: after its first connection set it up (server
        # version, features).
        found = dialect.__dict__.get("_tests_sql_key")
        if found is None:
            settings = []
            for name, value in sorted(vars(dialect).items()):
                if name in cls._OWN:
                    continue
                simple = isinstance(value, (bool, int, float, str, tuple, type(None)))
                settings.append((name, value if simple else id(value)))
            found = dialect.__dict__["_tests_sql_key"] = (type(dialect), tuple(settings))
        return found

    def _key(self, key: Any) -> Any:
        if isinstance(key, tuple) and key and isinstance(key[0], Dialect):
            return (self._dialect_key(key[0]), *key[1:])
        return key

    def get(self, key: Any, default: Any = None) -> Any:
        return self._data.get(self._key(key), default)

    def __getitem__(self, key: Any) -> Any:
        return self._data[self._key(key)]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._data[self._key(key)] = value

    def __delitem__(self, key: Any) -> None:
        del self._data[self._key(key)]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


_SQL = _CompiledSql(20_000)


def _share_compiled_sql(app: Flask) -> None:
    with app.app_context():
        for engine in _db.engines.values():
            engine._compiled_cache = _SQL  # noqa: SLF001
    for mapper in _db.Model.registry.mappers:
        # (A memoized property: the value lives in the mapper's __dict__.)
        mapper.__dict__["_compiled_cache"] = _SQL


def _create_app(settings: dict[str, Any]) -> Flask:
    made = create_app(settings)
    made.test_client_class = Client
    made.jinja_env.bytecode_cache = _TEMPLATES
    _share_compiled_sql(made)
    return made


def _create_tables() -> None:
    """Create the tables the first time (and again if a test dropped one): one query to look,
    instead of create_all's query per table on every test."""
    present = set(inspect(_db.engine).get_table_names())
    if not set(_db.metadata.tables) <= present:
        _db.create_all()


def _clear(app: Flask) -> None:
    """Empty every table, and start ids from 1 again (works on SQLite and PostgreSQL)."""
    engine = _db.engine
    tables = list(reversed(_db.metadata.sorted_tables))
    if engine.dialect.name != "postgresql":
        _clear_sqlite(engine, tables)
        return
    with engine.begin() as conn:
        # DELETE, not TRUNCATE: TRUNCATE makes new files for every table and index, about
        # 1.5 s a test; the tests' few rows are gone in milliseconds. One statement each.
        deletes = " ".join(f'DELETE FROM "{t.name}";' for t in tables)
        conn.exec_driver_sql(f"DO $$ BEGIN {deletes} END $$")
        conn.exec_driver_sql(
            "SELECT setval(c.oid, 1, false) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'S' AND n.nspname = current_schema()"
        )


def _clear_sqlite(engine: Any, tables: list[Any]) -> None:
    """The same on SQLite, in one transaction sent as one script (sqlite3's executescript, on
    the driver's connection: it would commit a transaction SQLAlchemy had begun), instead of a
    statement each through SQLAlchemy. Children before parents, as the foreign keys want."""
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        has_sequence = driver.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='sqlite_sequence'"
        ).fetchone()
        deletes = "".join(f'DELETE FROM "{t.name}";' for t in tables)
        if has_sequence:
            deletes += "DELETE FROM sqlite_sequence;"
        driver.executescript(f"BEGIN;{deletes}COMMIT;")
    finally:
        raw.close()


class Client(FlaskClient):
    """A test client whose requests run as a server's do, each in an app context of its own,
    and that fills in the CSRF token the way a browser form does."""

    def run_wsgi_app(self, environ: Any, buffered: bool = False) -> Any:
        # Here, not in open(): open() pops the contexts `with client:` kept of the last request
        # and pushes this one's after it, in the test's context, where they must be (a context
        # var's token is reset only in the context that set it). Each request of a redirect
        # that is followed comes through here too.
        return _as_its_own_request(super().run_wsgi_app, environ, buffered)

    def csrf_token(self) -> str:
        """The token this browser's next page would carry, made from the session as Flask-WTF
        makes it (`generate_csrf`: a random value kept in the session, signed with the secret
        key), without rendering a page for it (a page a POST was a tenth of the quick tests'
        time). That pages carry such a token and that a POST without it, or with another
        session's, is refused is tested in tests/test_security.py."""
        with self.session_transaction() as session:
            raw = session.setdefault("csrf_token", hashlib.sha1(os.urandom(64)).hexdigest())
        secret = self.application.config["SECRET_KEY"]
        return URLSafeTimedSerializer(secret, salt="wtf-csrf-token").dumps(raw)

    def form(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """POST a form with a valid CSRF token: the one given, else one read from a page."""
        data = dict(data or {})
        if "csrf_token" not in data:  # (a page fetched only when no token is given)
            data["csrf_token"] = self.csrf_token()
        return self.post(url, data=data, **kwargs)

    def login(self, who: str | User, password: str = factories.PASSWORD) -> Any:
        """Log in through the login form, as a member does: the one way tests log in."""
        username = who if isinstance(who, str) else who.username
        response = self.form("/login", {"login": username, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    def logout(self) -> Any:
        return self.form("/logout")


class UnsavedTestChanges(Exception):
    """Raised when a test sends a request while its own session has changes it has not
    committed: the request runs in a session of its own, as on a server, and cannot see them."""


def _as_its_own_request(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a request (or a socket's event) as a server runs it: in an empty context, where no app
    context is pushed, so Flask pushes one of its own for it (RequestContext.push reuses only a
    pushed context of the same app) and pops it at the end. The request gets a database session
    of its own (Flask-SQLAlchemy keeps one per app context and removes it at the context's
    teardown) and a `g` of its own, and sees nothing the test's session has loaded.

    The test's own session is settled on both sides of the request (_settle_test_session)."""
    session = _db.session() if has_app_context() else None
    if session is not None:
        _settle_test_session(session)
    try:
        return contextvars.Context().run(call, *args, **kwargs)
    finally:
        if session is not None:
            _settle_test_session(session)


def _settle_test_session(session: Session) -> None:
    """End the test's transaction and expire what its session holds, so that the test reads
    afresh whatever the request wrote.

    - Changes the test has not committed fail the test (UnsavedTestChanges), before the request
      and not after: the request could not see them, and a rollback would throw them away
      unnoticed, a commit would write them behind the test's back (and on SQLite a flushed
      write holds the lock the request's write would wait 30 s for).
    - Then a rollback, which has nothing to undo: it ends a read transaction, whose snapshot
      would otherwise keep showing the test what the database held before the request (SQLite's
      WAL, PostgreSQL's REPEATABLE READ alike), and returns the connection to the pool.
    - expire_all, as the session keeps what it loaded past a commit (expire_on_commit=False),
      and the memberships cached on the members it holds (forum.permissions), which are no
      mapped attribute and outlive an expiry."""
    from forum import permissions
    from forum.db import in_transaction

    if in_transaction():
        raise UnsavedTestChanges("a request sent inside the test's db.transaction()")
    changed = [o for o in session.dirty if session.is_modified(o)]
    if session.new or session.deleted or changed or session.info.get(_FLUSHED):
        raise UnsavedTestChanges(
            "the test sends a request with changes it has not committed (its request, in a "
            f"session of its own, would not see them): {[*session.new, *changed, *session.deleted]}"
        )
    session.rollback()
    session.expire_all()
    for obj in list(session.identity_map.values()):
        if isinstance(obj, User):
            permissions.forget_memberships(obj)


_FLUSHED = "tests.flushed"


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context: Any) -> None:
    session.info[_FLUSHED] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_flush(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_FLUSHED, None)


class _SocketClient(SocketIOTestClient):
    """A browser's socket (`socketio.test_client(app, flask_test_client=client)`) whose
    connect, events and disconnect run as a server's do: Flask-SocketIO runs each handler in a
    request context, which would otherwise reuse the test's app context and session."""

    def connect(self, *args: Any, **kwargs: Any) -> None:
        _as_its_own_request(super().connect, *args, **kwargs)

    def disconnect(self, *args: Any, **kwargs: Any) -> None:
        _as_its_own_request(super().disconnect, *args, **kwargs)

    def emit(self, *args: Any, **kwargs: Any) -> Any:
        return _as_its_own_request(super().emit, *args, **kwargs)


# SocketIO.test_client makes its client by this name: every test's sockets are _SocketClients.
flask_socketio.SocketIOTestClient = _SocketClient  # type: ignore[misc]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_client(app: Flask) -> Any:
    """More browsers: each call returns a new client with its own cookies."""

    def make() -> Client:
        return app.test_client()  # type: ignore[return-value]

    return make


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app: Flask) -> Any:
    """`with count_queries() as q: ...` then `q.count` is the number of SQL statements."""
    from contextlib import contextmanager

    @contextmanager
    def counting() -> Iterator[QueryCounter]:
        counter = QueryCounter()

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if not statement.startswith(
                ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE")
            ):
                counter.statements.append(statement)

        engine = _db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return counting


@pytest.fixture
def outbox(app: Flask, tmp_path: Path) -> Path:
    """A fresh outbox folder for this test's mail (read it with tests.mailbox.mails)."""
    path = tmp_path / "outbox"
    app.config["OUTBOX_DIR"] = str(path)
    return path


@pytest.fixture
def inbox(app: Flask) -> Iterator[Any]:
    """A real SMTP server on loopback (aiosmtpd), and the app configured to send to it; the
    handler (tests.mailbox.SmtpInbox) holds what it received."""
    from aiosmtpd.controller import Controller

    from .mailbox import SmtpInbox, free_port

    handler = SmtpInbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    app.config.update(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port, MAIL_USE_TLS=False, MAIL_USERNAME=None
    )
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def job_queue(app: Flask, tmp_path: Any) -> Any:
    """A real queue (an SQLite file, as `make run` has) instead of immediate mode: jobs wait
    until the test runs them (`job_queue.run_pending()`) or a consumer does."""
    from forum.jobs import JobQueue

    app.config.update(JOBS_IMMEDIATE=False, JOBS_SQLITE_PATH=str(tmp_path / "jobs.db"))
    queue = app.extensions["forum.jobs"] = JobQueue(app)
    return queue


@pytest.fixture
def f(app: Flask) -> Any:
    """The factories, bound to the app's database."""
    return factories


class WriteLockRefused:
    """SQLite's writers take turns on an flock of `<database>.write-lock`, opened for writing
    before SQLite is: a volume that refuses writes (read-only, or a file this process may not
    open) shows there first. `start()` makes opening it fail as such a volume would; `stop()`
    lets it open again."""

    def __init__(self, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
        self.app = app
        self.monkeypatch = monkeypatch
        self.real_open = os.open

    def start(self) -> None:
        real_open = self.real_open

        def guarded(path: Any, *args: Any, **kwargs: Any) -> Any:
            if str(path).endswith(".write-lock"):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)

        # The process opens the lock file once: drop the descriptor it has.
        for queue in [v for v in self.app.extensions.values() if hasattr(v, "_pid")]:
            queue._pid = 0  # noqa: SLF001
        self.monkeypatch.setattr(os, "open", guarded)

    def stop(self) -> None:
        self.monkeypatch.setattr(os, "open", self.real_open)


@pytest.fixture
def write_lock_refused(
    app: Flask, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> WriteLockRefused:
    """A volume that refuses SQLite's writers' lock file, from `start()` on (skips on
    PostgreSQL, which has none)."""
    if make_url(database_url).get_backend_name() != "sqlite":
        pytest.skip("the write lock file is SQLite's")
    return WriteLockRefused(app, monkeypatch)
