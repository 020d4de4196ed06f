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

from flask import Flask

from .. import ROOT
from .. import config as config_module


def production_problems(config: Any) -> list[str]:
    """What stops these settings from being served to the public (empty when fine)."""
    problems = []
    secret = config.get("SECRET_KEY")
    if not secret or secret == config_module.DEV_SECRET_KEY:
        problems.append(
            "FORUM_SECRET_KEY is not set (the development key signs sessions). Set it to a long "
            "random value, e.g. FORUM_SECRET_KEY=\"$(python3 -c 'import secrets; "
            "print(secrets.token_hex(32))')\"."
        )
    elif len(str(secret)) < 16:
        problems.append("FORUM_SECRET_KEY is too short: use at least 16 random characters.")
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
