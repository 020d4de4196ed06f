"""`make serve`: check the settings are fit for production, then run gunicorn.

Flask-SocketIO serves WebSocket on gunicorn's threaded worker (gthread) with simple-websocket,
in its "threading" mode: each open socket holds one thread, so a process has many threads.
Socket.IO's long-polling needs every request of a client to reach the same process, and gunicorn's
own balancing cannot promise that, so the supported layout is ONE worker per gunicorn process and
several processes (one per port) behind nginx with sticky sessions, joined by Redis. See
docs/deployment.md.

    python -m forum.ops.serve [extra gunicorn options]
"""

from __future__ import annotations

import os
import shutil
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


def refuse_if_unfit() -> None:
    problems = production_problems(load_settings())
    if problems:
        lines = ["The forum will not start in production with these settings:"]
        lines += [f"  - {problem}" for problem in problems]
        lines.append("(For development, use `make run`.)")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    refuse_if_unfit()
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or "gunicorn"
    args = [gunicorn, "--config", "python:forum.ops.gunicorn_conf", *(argv or sys.argv[1:])]
    os.chdir(ROOT)
    # glibc gives each thread that allocates its own malloc arena, up to eight per core, and
    # freed memory stays in them: with a thread per request and per socket, a worker's peak grew
    # by 10 to 15 MB on the bench. Two arenas keep it flat, at no cost in requests a second.
    # (Read by the C library at start, so set here, before the exec.)
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    os.execv(gunicorn, args) if os.path.isabs(gunicorn) else os.execvp(gunicorn, args)


if __name__ == "__main__":
    main()
