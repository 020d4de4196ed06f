"""Health and readiness probes, request logs, proxy headers, and the production start checks."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import dotenv
import pytest

from forum import create_app
from forum.config import DEV_SECRET_KEY
from forum.jobs import commands as jobs_commands
from forum.jobs.commands import worker_command
from forum.ops import serve
from forum.ops.serve import production_problems

ROOT = Path(__file__).resolve().parent.parent
LOG_RE = re.compile(
    r"request_id=(?P<rid>\S+) method=(?P<method>\S+) path=(?P<path>\S+) "
    r"status=(?P<status>\d+) duration_ms=(?P<ms>[\d.]+) ip=(?P<ip>\S+)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_healthz_answers_json(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.search  # (the index is one of the checks)
def test_readyz_reports_each_check(client, app):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "database_writes", "search_index"}  # no Redis
    assert all(check["ok"] for check in body["checks"].values())
    assert Path(app.config["INDEX_DIR"]).is_dir()


@pytest.mark.search
def test_readyz_fails_when_the_index_dir_is_not_writable(client, app, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the index folder should be")
    app.config["INDEX_DIR"] = str(blocker / "index")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["search_index"]["ok"] is False
    assert body["checks"]["search_index"]["error"]


def test_readyz_warns_of_a_missing_redis_and_stays_ready(client, app):
    """The forum serves pages and posts without Redis: a load balancer must not pull every
    server at once for it, so Redis is a warning in a 200, not a 503."""
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded"
    redis_check = body["checks"]["redis"]
    assert redis_check["ok"] is False and redis_check["required"] is False
    assert "ConnectionError" in redis_check["error"]
    assert body["warnings"] == [f"redis: {redis_check['error']}"]
    assert body["checks"]["database"]["ok"] is True


def test_readyz_passes_with_a_reachable_redis(client, app):
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    app.config["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["redis"]["ok"] is True


def test_readyz_fails_when_the_database_is_unreachable(base_config, tmp_path):
    missing = tmp_path / "no-such-folder" / "forum.db"
    app = create_app({**base_config, "DATABASE_URL": f"sqlite:///{missing}"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["database"]["ok"] is False
    assert "OperationalError" in body["checks"]["database"]["error"]


def test_one_log_line_per_request(client, caplog, f):
    f.sig("retro")
    with caplog.at_level(logging.INFO, logger="forum.request"):
        response = client.get("/s/retro/")
        client.get("/no-such-page")
    lines = [r.getMessage() for r in caplog.records if r.name == "forum.request"]
    assert len(lines) == 2
    first, missing = (LOG_RE.search(line) for line in lines)
    assert first and missing
    assert first["method"] == "GET" and first["path"] == "/s/retro/"
    assert first["status"] == "200" and float(first["ms"]) > 0
    assert first["rid"] == response.headers["X-Request-ID"]
    assert missing["status"] == "404"
    assert first["rid"] != missing["rid"]


def test_request_id_from_the_proxy_is_kept_and_junk_is_replaced(client, caplog):
    with caplog.at_level(logging.INFO, logger="forum.request"):
        kept = client.get("/healthz", headers={"X-Request-ID": "a1b2c3d4e5f60718"})
        junk = client.get("/healthz", headers={"X-Request-ID": "x status=200 forged"})
    assert kept.headers["X-Request-ID"] == "a1b2c3d4e5f60718"
    assert re.fullmatch(r"[0-9a-f]{32}", junk.headers["X-Request-ID"])
    messages = [r.getMessage() for r in caplog.records if r.name == "forum.request"]
    assert "request_id=a1b2c3d4e5f60718 " in messages[0]
    assert "forged" not in messages[1]


def _logged_ip(caplog) -> str:
    match = LOG_RE.search([r for r in caplog.records if r.name == "forum.request"][-1].getMessage())
    assert match
    return match["ip"]


@pytest.mark.config(PROXY_HOPS=1)
def test_forwarded_headers_are_trusted_from_the_proxy_only(client, caplog):
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    with caplog.at_level(logging.INFO, logger="forum.request"):
        client.get("/healthz", headers=forwarded, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert _logged_ip(caplog) == "203.0.113.9"
        client.get("/healthz", headers=forwarded, environ_base={"REMOTE_ADDR": "198.51.100.7"})
        assert _logged_ip(caplog) == "198.51.100.7"


def test_forwarded_headers_are_ignored_without_a_proxy_setting(client, caplog):
    with caplog.at_level(logging.INFO, logger="forum.request"):
        client.get(
            "/healthz",
            headers={"X-Forwarded-For": "203.0.113.9"},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
    assert _logged_ip(caplog) == "127.0.0.1"


GOOD = {"SECRET_KEY": "8c1f0e5b" * 8, "BASE_URL": "https://forum.example.org"}


def test_production_problems_name_the_dev_key_and_debug():
    assert production_problems(GOOD) == []
    [problem] = production_problems({**GOOD, "SECRET_KEY": DEV_SECRET_KEY})
    assert "FORUM_SECRET_KEY" in problem
    problems = production_problems({**GOOD, "DEBUG": True})
    assert len(problems) == 1 and "Debug mode" in problems[0]


def _serve_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORUM_", "FLASK_"))}
    env.update(FORUM_INSTANCE_PATH=str(tmp_path), FORUM_BIND=f"127.0.0.1:{_free_port()}")
    env.update(extra)
    return env


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "FORUM_SECRET_KEY is not set"),
        ({"FORUM_SECRET_KEY": DEV_SECRET_KEY}, "FORUM_SECRET_KEY is not set"),
        # Reset links would be built on the request's Host header.
        ({"FORUM_SECRET_KEY": GOOD["SECRET_KEY"]}, "FORUM_BASE_URL is not set"),
        # The example file's key, copied as it is.
        (
            {
                "FORUM_SECRET_KEY": "replace-with-the-output-of-python3-c-import-secrets-print-"
                "secrets-token-hex-32",
                "FORUM_BASE_URL": GOOD["BASE_URL"],
            },
            "FORUM_SECRET_KEY is a placeholder",
        ),
        (
            {
                "FORUM_SECRET_KEY": GOOD["SECRET_KEY"],
                "FORUM_BASE_URL": GOOD["BASE_URL"],
                "FLASK_DEBUG": "1",
            },
            "Debug mode is on",
        ),
    ],
)
def test_serve_refuses_development_settings(tmp_path, extra, expected):
    result = subprocess.run(
        [sys.executable, "-m", "forum.ops.serve"],
        cwd=ROOT,
        env=_serve_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "will not start in production" in result.stderr
    assert expected in result.stderr


@pytest.mark.slow
def test_serve_jobs_worker_command_runs_the_worker(tmp_path):
    """`make serve` (`forum.ops.serve --jobs`) starts this command beside the page server and
    stops the page server when it ends: a command that is not the worker ends at once."""
    result = subprocess.run(
        worker_command("--help"),
        cwd=ROOT,
        env=_serve_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: " in result.stdout and "jobs worker" in result.stdout


def test_every_jobs_worker_child_is_started_by_one_command(monkeypatch):
    """`make serve` (`forum.ops.serve --jobs`) and `flask forum dev-server` start the worker
    with the one command jobs.commands.worker_command makes: a change to it (the module run, an
    option) reaches both."""
    started: list[list[str]] = []

    class Child:
        def __init__(self, command: list[str], **_kwargs: object) -> None:
            started.append(command)

        def poll(self) -> None:
            return None

        def send_signal(self, _signum: int) -> None:
            pass

        def wait(self, timeout: float | None = None) -> int:
            return 0

    monkeypatch.setattr(subprocess, "Popen", Child)
    monkeypatch.setattr(serve.signal, "signal", lambda *_args: None)
    monkeypatch.setattr(serve.os, "wait", lambda: (0, 0))
    monkeypatch.setattr(serve, "raise_open_files_limit", lambda: None)
    monkeypatch.setattr(jobs_commands, "worker_command", lambda *options: ["the-worker", *options])
    assert serve.run_both([], sockets=False, jobs=True) == 0
    jobs_commands.start_worker_process()
    assert started[1:] == [["the-worker"], ["the-worker", "--parent-pid", str(os.getpid())]]
    assert started[0][1:] == ["--config", "python:forum.ops.gunicorn_conf"]  # the page server


def _example_env() -> dict[str, str | None]:
    """deploy/forum.env.example, read as `forum --env-file` reads it (python-dotenv)."""
    return dotenv.dotenv_values(ROOT / "deploy" / "forum.env.example")


def test_the_example_settings_read_the_same_through_env_file_and_the_shell(tmp_path):
    """The settings file is read by systemd (EnvironmentFile), by `forum --env-file` (Postfix's
    pipe) and by the shell (`set -a && . /etc/forum/forum.env`, docs/deployment.md's install
    steps). Each value, the commented ones too, reads the same through python-dotenv and the
    shell: unquoted, a JSON list or a "Name <address>" ran as a command in the shell."""
    text = (ROOT / "deploy" / "forum.env.example").read_text()
    settings = tmp_path / "forum.env"
    settings.write_text(re.sub(r"(?m)^# ?(FORUM_[A-Z0-9_]+=)", r"\1", text))
    expected = dotenv.dotenv_values(settings)
    assert expected["FORUM_PROXY_TRUSTED"] == '["127.0.0.1", "::1"]'
    assert expected["FORUM_MAIL_SENDER"] == "Forum <forum@forum.example.org>"
    shell = subprocess.run(
        ["sh", "-c", 'set -e; set -a; . "$0"; set +a; env -0', str(settings)],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert shell.returncode == 0 and not shell.stderr, shell.stderr
    pairs = (entry.split("=", 1) for entry in shell.stdout.split("\0") if entry)
    assert {name: value for name, value in pairs if name.startswith("FORUM_")} == expected


def test_the_example_settings_do_not_pass_until_their_placeholders_are_replaced():
    example = _example_env()
    assert "FORUM_BASE_URL" in example
    settings = {"SECRET_KEY": example["FORUM_SECRET_KEY"], "BASE_URL": example["FORUM_BASE_URL"]}
    [problem] = production_problems(settings)
    assert "FORUM_SECRET_KEY is a placeholder" in problem
    assert production_problems({**settings, "SECRET_KEY": GOOD["SECRET_KEY"]}) == []


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("", "is not set"),
        (DEV_SECRET_KEY, "is not set"),
        ("test-secret", "placeholder"),
        ("changeme-changeme-changeme-changeme-1234", "placeholder"),
        ("please-REPLACE-this-with-a-random-value-0123", "placeholder"),
        ("9f2c4e1a7b3d", "too short"),
        ("0123456789abcdef0123456789abcde", "too short"),  # 31 bytes
        ("x" * 64, "not random"),
        ("ab" * 32, "not random"),
    ],
)
def test_serve_refuses_placeholder_and_short_secret_keys(key, expected):
    [problem] = production_problems({**GOOD, "SECRET_KEY": key})
    assert problem.startswith("FORUM_SECRET_KEY") and expected in problem
    assert "token_hex(32)" in problem  # and says how to make a good one


def test_a_32_byte_random_key_is_enough():
    assert production_problems({**GOOD, "SECRET_KEY": "0123456789abcdef0123456789abcdef"}) == []


@pytest.mark.parametrize(
    "base_url",
    [
        None,
        "",
        "forum.example.org",
        "ftp://forum.example.org",
        "https://",
        "https://forum.example.org/?x=1",
        "https://forum.example.org/#top",
        "https://user@forum.example.org",
        "https://forum example.org",
    ],
)
def test_serve_refuses_a_missing_or_malformed_base_url(base_url):
    [problem] = production_problems({**GOOD, "BASE_URL": base_url})
    assert problem.startswith("FORUM_BASE_URL")


@pytest.mark.parametrize(
    "base_url", ["https://forum.example.org/", "http://127.0.0.1:8000", "https://example.org/forum"]
)
def test_serve_accepts_a_base_url(base_url):
    assert production_problems({**GOOD, "BASE_URL": base_url}) == []


def test_serve_refuses_extra_socket_origins_that_are_not_origins():
    fine = ["https://www.forum.example.org", "http://127.0.0.1:8001/"]
    assert production_problems({**GOOD, "SOCKETIO_ORIGINS": fine}) == []
    for bad in ("*", "www.forum.example.org", "https://forum.example.org/app", "null"):
        [problem] = production_problems({**GOOD, "SOCKETIO_ORIGINS": [bad]})
        assert "FORUM_SOCKETIO_ORIGINS" in problem and repr(bad) in problem


def test_serve_keeps_malloc_to_two_arenas(monkeypatch):
    """Set before gunicorn starts (glibc reads it then), unless the operator chose a value."""
    from forum.ops import serve

    started: list[list[str]] = []
    monkeypatch.setattr(serve, "refuse_if_unfit", lambda: None)
    monkeypatch.setattr(serve.os, "execv", lambda path, args: started.append(args))
    monkeypatch.setattr(serve.os, "execvp", lambda path, args: started.append(args))
    monkeypatch.setattr(serve.os, "chdir", lambda path: None)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    serve.main([])
    assert started and serve.os.environ["MALLOC_ARENA_MAX"] == "2"
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    serve.main([])
    assert serve.os.environ["MALLOC_ARENA_MAX"] == "4"


@pytest.mark.slow
def test_gunicorn_run_by_hand_refuses_the_dev_key_too(tmp_path):
    gunicorn = Path(sys.executable).with_name("gunicorn")
    result = subprocess.run(
        [str(gunicorn), "-c", "python:forum.ops.gunicorn_conf"],
        cwd=ROOT,
        env=_serve_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "FORUM_SECRET_KEY is not set" in result.stderr


@pytest.mark.slow
def test_server_workers_leave_alembic_to_the_command_line(tmp_path):
    """The gunicorn settings turn Flask-Migrate off in the workers (Alembic is 11 MB each);
    `flask db` keeps it."""
    probe = (
        "import sys, forum.ops.gunicorn_conf\n"
        "from forum import create_app\n"
        "app = create_app({'DATABASE_URL': 'sqlite://', 'SEARCH_SYNC_ON_START': False})\n"
        "print('migrate' in app.extensions, 'alembic' in sys.modules)\n"
    )
    env = {k: v for k, v in _serve_env(tmp_path).items() if k != "FORUM_MIGRATIONS"}
    served = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert served.stdout.split() == ["False", "False"], served.stderr
    cli = subprocess.run(
        [sys.executable, "-c", probe.replace("import sys, forum.ops.gunicorn_conf", "import sys")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.stdout.split() == ["True", "True"], cli.stderr


def test_the_socket_server_refuses_to_start_without_redis(tmp_path):
    """Its emits come from the page servers through Redis: without Redis it would serve sockets
    that never hear of a reply."""
    result = subprocess.run(
        [sys.executable, "-m", "forum.ops.serve", "--sockets"],
        cwd=ROOT,
        env=_serve_env(tmp_path, FORUM_SECRET_KEY="s" * 40),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "needs FORUM_REDIS_URL" in result.stderr


def test_serve_starts_the_socket_server_on_gevent(monkeypatch):
    from forum.ops import serve

    started: list[list[str]] = []
    monkeypatch.setattr(serve, "refuse_if_unfit", lambda **kwargs: None)
    monkeypatch.setattr(serve.os, "execv", lambda path, args: started.append(args))
    monkeypatch.setattr(serve.os, "execvp", lambda path, args: started.append(args))
    monkeypatch.setattr(serve.os, "chdir", lambda path: None)
    # What serve puts in the environment goes back after (set first, so that monkeypatch also
    # removes what was not there before).
    for name in ("FORUM_SERVER_ROLE", "FORUM_BIND", "MALLOC_ARENA_MAX"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("FORUM_SOCKETS_BIND", "127.0.0.1:8100")
    serve.main(["--sockets", "--log-level", "debug"])
    assert started[0][-2:] == ["--log-level", "debug"] and "--sockets" not in started[0]
    assert os.environ["FORUM_SERVER_ROLE"] == "sockets"
    assert os.environ["FORUM_BIND"] == "127.0.0.1:8100"


def test_a_worker_freezes_what_it_loaded_for_the_garbage_collector(tmp_path):
    """gunicorn calls post_worker_init once the worker has loaded the app: the objects loaded
    until then leave the collector's generations (read in a process of its own)."""
    probe = (
        "import gc, forum.ops.gunicorn_conf as c, wsgi; before = gc.get_freeze_count(); "
        "c.post_worker_init(None); print(before, gc.get_freeze_count() > 100_000, "
        "len(gc.get_objects()) < 10_000)"
    )
    settings = {"FORUM_SECRET_KEY": "x" * 32, "FORUM_INSTANCE_PATH": str(tmp_path)}
    result = _python(probe, **settings, FORUM_SEARCH_SYNC_ON_START="false")
    assert result.stdout.strip() == "0 True True", result.stderr


def _python(probe: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """`probe` run by a Python of its own, in the checkout, with no FORUM_ or FLASK_ setting of
    this process but `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORUM_", "FLASK_"))}
    return subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**env, **settings},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("sockets", "gevent 1 gevent None"),
        ("pages", "forum.ops.pageworker.PageWorker 1 threading 12"),
    ],
)
def test_the_gunicorn_settings_of_each_server(role, expected):
    """Read in a process of their own: they set the workers' environment as they load."""
    probe = (
        "import os, forum.ops.gunicorn_conf as c; "
        "print(c.worker_class, c.workers, os.environ.get('FORUM_SOCKETIO_ASYNC_MODE', 'threading'),"
        " os.environ.get('FORUM_SOCKETS_MAX'))"
    )
    result = _python(probe, FORUM_SERVER_ROLE=role, FORUM_THREADS="16")
    assert result.stdout.strip() == expected, result.stderr
