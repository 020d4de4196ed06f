"""The forum: create_app() builds a configured Flask app; nothing happens at import time."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from flask import Flask

from . import config as config_module

ROOT = Path(__file__).resolve().parent.parent

# Libraries whose INFO lines are noise in ordinary commands (see configure_logging). huey lists
# its tasks when its consumer starts and logs every run of every job, the periodic ones each
# minute (8 lines a minute in `make run`'s console); the forum logs what matters of its jobs
# itself: a worker's start and stop, a failure, a retry, an interrupted job (forum.jobs).
QUIET_LOGGERS = ["alembic", "flask_migrate", "huey"]

# Feature packages, each with init_app(app): blueprints, event subscribers, CLI commands.
FEATURES = [
    "forum.accounts",
    "forum.sigs",
    "forum.topics",
    "forum.drafts",
    "forum.reactions",
    "forum.bookmarks",
    "forum.ops",
    "forum.notifications",
    "forum.messages",
    "forum.care",
    "forum.realtime",
    "forum.moderation",
    "forum.admin",
    "forum.search",
    "forum.pulse",
    "forum.announcements",
    "forum.feeds",
    "forum.trust",
    "forum.webhooks",
    "forum.mailin",
    "forum.api",
    "forum.files",
    # Last: every feature's jobs are defined by now, and register on the queue.
    "forum.jobs",
]


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=config_module.instance_path_from_env() or str(ROOT / "instance"),
        instance_relative_config=True,
    )
    configure_settings(app, overrides)
    configure_logging(app)
    configure_extensions(app)
    configure_web(app)
    configure_features(app)
    configure_cli(app)
    return app


def configure_settings(app: Flask, overrides: dict[str, Any] | None) -> None:
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    config_module.load(app, overrides)


def configure_logging(app: Flask) -> None:
    """One handler on the root logger (stderr), INFO for the forum's own lines.

    Libraries that speak up at INFO in every command stay at WARNING unless a level was set for
    them: Alembic lists its plugins whenever Flask-Migrate loads it (`flask db upgrade -x verbose`
    lists the migrations it runs, see migrations/env.py). Each request is logged once, by
    forum.ops.requestlog (`flask forum dev-server` and gunicorn keep their access logs off)."""
    if not app.debug and not app.testing:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


def configure_extensions(app: Flask) -> None:
    from . import db as db_module
    from . import i18n, redisconn, shortcuts, theme
    from .extensions import csrf, db, limiter, login_manager, socketio

    redis_timeouts = redisconn.settings(app.config)
    storage = str(app.config.get("RATELIMIT_STORAGE_URI") or "")
    if storage.startswith(("redis://", "rediss://", "redis+unix://")):
        # The rate limiter's counters go through the same timeouts and breaker as every other
        # Redis call; while it is down Flask-Limiter counts in memory (logged once).
        redisconn.quiet_limiter_log()
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS",
            {
                "connection_pool": redisconn.pool(
                    storage.replace("redis+unix:", "unix:", 1), *redis_timeouts
                )
            },
        )
    db.init_app(app)
    db_module.init_app(app)
    if app.config.get("MIGRATIONS", True):
        from flask_migrate import Migrate

        Migrate(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    i18n.init_app(app)
    theme.init_app(app)
    shortcuts.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = i18n.lazy_gettext("Log in to see that page.")
    login_manager.localize_callback = str  # the lazy message, in the reader's language
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    from .realtime import packet_error_log
    from .realtime.manager import build as build_socket_manager
    from .web import origin_checker

    socketio.init_app(
        app,
        # Redis pub/sub between processes when FORUM_REDIS_URL is set; carries the forum's own
        # instructions too (drop a member's sockets everywhere).
        client_manager=build_socket_manager(
            app.config["REDIS_URL"] or None, app.config["SOCKETIO_CHANNEL"], *redis_timeouts
        ),
        async_mode=app.config.get("SOCKETIO_ASYNC_MODE", "threading"),
        # Only the forum's own pages may connect (BASE_URL, SOCKETIO_ORIGINS; without BASE_URL
        # the request's own origin): another origin's page would get the member's live events.
        cors_allowed_origins=origin_checker(app.config),
        engineio_logger=packet_error_log(),
    )

    from .accounts.services import load_session_user

    login_manager.user_loader(load_session_user)


def configure_web(app: Flask) -> None:
    from . import pagecache, web

    web.init_app(app)
    pagecache.init_app(app)


def configure_features(app: Flask) -> None:
    for name in FEATURES:
        importlib.import_module(name).init_app(app)


def configure_cli(app: Flask) -> None:
    from . import cli

    cli.init_app(app)
