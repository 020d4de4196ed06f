"""`make serve`: check the settings are fit for production, then run gunicorn.

Two kinds of server (forum/ops/gunicorn_conf.py):

- the page server, gunicorn's threaded worker (gthread) on FORUM_BIND. Without a socket server
  it serves Socket.IO too (Flask-SocketIO's "threading" mode: each open socket holds a thread);
- the socket server (`--sockets`), gevent on FORUM_SOCKETS_BIND: Socket.IO only, thousands of
  idle connections in one process; the page servers' emits reach it through Redis, so it needs
  FORUM_REDIS_URL. nginx sends /socket.io/ to it and everything else to the page servers.

With FORUM_SOCKETS_BIND set, `python -m forum.ops.serve` runs both and stops both together (what
`make serve` does); `--sockets` runs the socket server alone (a systemd unit per server). With
`--jobs` (what `make serve` passes) the background jobs' consumer (`flask forum jobs worker`)
runs beside them as a third child; under systemd it has a unit of its own (forum-jobs.service).
See docs/deployment.md.

    python -m forum.ops.serve [--sockets | --jobs] [extra gunicorn options]
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from .. import ROOT
from .. import config as config_module
from ..config import origin_of

# Secret keys that are written down somewhere public, and words only a placeholder contains.
KNOWN_PLACEHOLDER_KEYS = frozenset(
    {
        config_module.DEV_SECRET_KEY,
        "replace-with-the-output-of-python3-c-import-secrets-print-secrets-token-hex-32",
        "test-secret",
        "secret",
        "changeme",
        "change-me",
    }
)
PLACEHOLDER_WORDS = ("replace", "change-me", "changeme", "change_me", "placeholder", "example")
MIN_SECRET_BYTES = 32
MAKE_A_KEY = "FORUM_SECRET_KEY=\"$(python3 -c 'import secrets; print(secrets.token_hex(32))')\""


def secret_key_problem(secret: Any) -> str | None:
    """Why this key must not sign a public forum's sessions, or None."""
    if not secret or secret == config_module.DEV_SECRET_KEY:
        return (
            "FORUM_SECRET_KEY is not set (the development key signs sessions). Set it to a long "
            f"random value, e.g. {MAKE_A_KEY}."
        )
    text = str(secret)
    if text in KNOWN_PLACEHOLDER_KEYS or any(w in text.lower() for w in PLACEHOLDER_WORDS):
        return f"FORUM_SECRET_KEY is a placeholder, not a secret. Set a random value: {MAKE_A_KEY}."
    if len(text.encode()) < MIN_SECRET_BYTES:
        return (
            f"FORUM_SECRET_KEY is too short: use at least {MIN_SECRET_BYTES} random bytes, "
            f"e.g. {MAKE_A_KEY}."
        )
    if len(set(text)) < 8:
        return f"FORUM_SECRET_KEY repeats a few characters: it is not random. {MAKE_A_KEY}."
    return None


def base_url_problem(base_url: Any) -> str | None:
    """Why BASE_URL cannot be the forum's public address, or None."""
    example = "e.g. FORUM_BASE_URL=https://forum.example.org"
    if not base_url:
        return (
            "FORUM_BASE_URL is not set: links in mail (password resets) would be built on the "
            f"request's Host header, which the client chooses. Set the public address, {example}."
        )
    parts = urlsplit(str(base_url))
    if origin_of(str(base_url)) is None or parts.query or parts.fragment or parts.username:
        return f"FORUM_BASE_URL is not an http(s) address of the forum: {base_url!r} ({example})."
    return None


def production_problems(config: Any) -> list[str]:
    """What stops these settings from being served to the public (empty when fine)."""
    problems = [
        problem
        for problem in (
            secret_key_problem(config.get("SECRET_KEY")),
            base_url_problem(config.get("BASE_URL")),
        )
        if problem
    ]
    extras = config.get("SOCKETIO_ORIGINS") or []
    for extra in [extras] if isinstance(extras, str) else extras:
        if origin_of(extra) is None or urlsplit(str(extra)).path not in ("", "/"):
            problems.append(
                f"FORUM_SOCKETIO_ORIGINS holds {extra!r}, which is not an origin "
                "(scheme://host[:port], e.g. https://www.forum.example.org)."
            )
    if config.get("DEBUG"):
        problems.append(
            "Debug mode is on (FLASK_DEBUG or FORUM_DEBUG): it shows code and data to anyone "
            "on an error. Unset it."
        )
    if config.get("TESTING"):
        problems.append("TESTING is on (FORUM_TESTING): unset it.")
    return problems


def load_settings() -> Any:
    """The settings the app would run with, without building the app (no database touched)."""
    probe = Flask(
        "forum",
        instance_path=config_module.instance_path_from_env() or str(ROOT / "instance"),
        instance_relative_config=True,
    )
    config_module.load(probe)
    return probe.config


def socket_server_problems(config: Any) -> list[str]:
    if not config.get("REDIS_URL"):
        return [
            "The socket server needs FORUM_REDIS_URL: the page servers' live updates reach it "
            "through Redis. Without Redis, leave FORUM_SOCKETS_BIND unset and the page server "
            "serves Socket.IO itself."
        ]
    return []


def refuse_if_unfit(*, sockets: bool = False) -> None:
    settings = load_settings()
    problems = production_problems(settings)
    if sockets:
        problems += socket_server_problems(settings)
    if problems:
        lines = ["The forum will not start in production with these settings:"]
        lines += [f"  - {problem}" for problem in problems]
        lines.append("(For development, use `make run`.)")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2)


def _gunicorn(extra: list[str]) -> list[str]:
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or "gunicorn"
    return [gunicorn, "--config", "python:forum.ops.gunicorn_conf", *extra]


def _socket_env() -> dict[str, str]:
    return {
        **os.environ,
        "FORUM_SERVER_ROLE": "sockets",
        "FORUM_BIND": os.environ.get("FORUM_SOCKETS_BIND") or "127.0.0.1:8100",
    }


def raise_open_files_limit() -> None:
    """A socket server holds a descriptor per connection: use all the process may have."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str] | None = None) -> None:
    extra = list(sys.argv[1:] if argv is None else argv)
    sockets_only = "--sockets" in extra
    if sockets_only:
        extra.remove("--sockets")
    with_jobs = "--jobs" in extra and not sockets_only
    if "--jobs" in extra:
        extra.remove("--jobs")
    both = not sockets_only and bool(os.environ.get("FORUM_SOCKETS_BIND"))
    refuse_if_unfit(sockets=True) if sockets_only or both else refuse_if_unfit()
    os.chdir(ROOT)
    # glibc gives each thread that allocates its own malloc arena, up to eight per core, and
    # freed memory stays in them: with a thread per request and per socket, a worker's peak grew
    # by 10 to 15 MB on the bench. Two arenas keep it flat, at no cost in requests a second.
    # (Read by the C library at start, so set here, before the exec.)
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    if sockets_only:
        raise_open_files_limit()
        os.environ.update(_socket_env())
    if both or with_jobs:
        raise SystemExit(run_both(extra, sockets=both, jobs=with_jobs))
    args = _gunicorn(extra)
    os.execv(args[0], args) if os.path.isabs(args[0]) else os.execvp(args[0], args)


def run_both(extra: list[str], *, sockets: bool = True, jobs: bool = False) -> int:
    """The page server and the socket server (and the jobs consumer) as children; a signal goes
    to each, and when one of them ends, the others are stopped too (the service manager then
    restarts them together)."""
    raise_open_files_limit()
    children = [subprocess.Popen(_gunicorn(extra))]
    if sockets:
        children.append(subprocess.Popen(_gunicorn(extra), env=_socket_env()))
    if jobs:
        from ..jobs.commands import worker_command  # (the jobs command group: only with --jobs)

        children.append(subprocess.Popen(worker_command()))

    def forward(signum: int, _frame: Any) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    code = os.wait()[1]
    forward(signal.SIGTERM, None)
    for child in children:
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
    return os.waitstatus_to_exitcode(code)


if __name__ == "__main__":
    main()
