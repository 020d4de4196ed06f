"""`flask forum …` commands: create-sysop, seed-demo, rebake, recount, checkpoint (features add
more)."""

from __future__ import annotations

import subprocess

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

forum_cli = AppGroup("forum", help="Forum administration.")


@forum_cli.command("create-sysop")
@click.argument("name")
@click.option("--email", default=None, help="Email address (default NAME@sysop.invalid).")
@click.option("--password", default=None, help="Password; prompted for when not given.")
def create_sysop(name: str, email: str | None, password: str | None) -> None:
    """Make NAME a global sysop (creating the account if needed)."""
    from .accounts.services import create_sysop as create
    from .errors import ForumError

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        # ".invalid" is reserved (RFC 2606): a made-up default address can never receive mail.
        user = create(name, email or f"{name}@sysop.invalid", password)
    except ForumError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{user.username} is a global sysop.")


@forum_cli.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing (and succeed) when it has members.")
def seed_demo(if_empty: bool) -> None:
    """Fill an empty forum with demo SIGs, members, topics, replies, mentions and quotes."""
    from . import demo
    from .accounts.models import User
    from .errors import ForumError
    from .extensions import db

    if db.session.scalar(select(func.count()).select_from(User)):
        # The demo's names would collide with the members there: say so, add nothing.
        message = "The forum has members already: demo content not added."
        if if_empty:
            click.echo(message)
            return
        raise click.ClickException(message)
    try:
        demo.seed()
    except ForumError as exc:
        raise click.ClickException(f"Demo content not added: {exc.message}") from exc
    click.echo("Demo content added. Log in as sysop / sysop-password-1 (see README).")


@forum_cli.command("rebake")
@click.option("--all", "everything", is_flag=True, help="Re-render every post, not just old ones.")
def rebake(everything: bool) -> None:
    """Re-render posts cooked by an older renderer."""
    from . import content, hooks
    from .accounts.services import resolve_usernames
    from .db import transaction
    from .extensions import db
    from .topics.models import Post

    query = select(Post.id).order_by(Post.id)
    if not everything:
        query = query.where(Post.render_version < content.RENDER_VERSION)
    ids = list(db.session.scalars(query))
    with click.progressbar(ids, label="Rebaking posts") as bar:
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            with transaction() as session:
                for post in session.scalars(select(Post).where(Post.id.in_(chunk))):
                    cooked = content.render(
                        post.body_raw, resolve_usernames, hooks.image_sizes.get()
                    )
                    post.body_html = cooked.html
                    post.render_version = cooked.version
            bar.update(len(chunk))
    click.echo(f"Rebaked {len(ids)} posts.")


@forum_cli.command("recount")
def recount() -> None:
    """Rebuild every stored counter from the rows."""
    from .counters import recount_all

    recount_all()
    click.echo("Counters rebuilt.")


@forum_cli.command("checkpoint")
@click.option(
    "--wait",
    default=10.0,
    show_default=True,
    help="Seconds to wait for readers of older snapshots (writers wait meanwhile).",
)
def checkpoint(wait: float) -> None:
    """Copy SQLite's write-ahead log into the database and truncate it (for a quiet hour)."""
    from flask import current_app

    from . import sqlite
    from .extensions import db

    if db.engine.dialect.name != "sqlite":
        click.echo(f"Nothing to do: {db.engine.dialect.name} has no SQLite write-ahead log.")
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    busy, pages, copied = sqlite.checkpoint(app, db.engine, wait_ms=int(wait * 1000))
    click.echo(f"wal_checkpoint(TRUNCATE): busy={busy} log={pages} checkpointed={copied}")
    if busy:
        raise click.ClickException(
            "SQLite was busy (a long read or a write): the log was copied as far as it could "
            "be and kept. Run the checkpoint again later."
        )


@forum_cli.command("dev-server")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=int, show_default=True)
@click.option(
    "--jobs/--no-jobs",
    default=True,
    show_default=True,
    help="Also run the background jobs' consumer (`flask forum jobs worker`) as a child.",
)
def dev_server(host: str, port: int, jobs: bool) -> None:
    """Run the development server with Socket.IO, and the jobs consumer beside it (use `make
    serve` in production)."""
    import signal

    from flask import current_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    from .jobs.commands import start_worker_process

    class Handler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """forum.ops.requestlog already writes one line per request."""

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    address = dev_address(host, port)
    if not app.config.get("BASE_URL"):
        # Links in mail point at this server, never at whatever Host a request names.
        app.config["DEV_BASE_URL"] = address
    # Werkzeug's threaded server, as Flask-SocketIO runs it in threading mode (the WebSocket
    # through simple-websocket), made here so that "running" is printed once the port is bound.
    try:
        server = make_server(host, port, app, threaded=True, request_handler=Handler)
    except SystemExit as exc:  # Werkzeug has said why on stderr ("Address already in use").
        raise click.ClickException(
            f"The forum did not start on {address}/. Another port: "
            "`make run PORT=5001`, or `flask forum dev-server --port 5001`."
        ) from exc
    # The consumer in a process of its own, as in production (mail links on this address).
    worker = start_worker_process({"FORUM_DEV_BASE_URL": address}) if jobs else None

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # a SIGTERM stops the server as Ctrl+C does, worker and all

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"Forum running on {address}/ (Ctrl+C to stop)")
    try:
        server.serve_forever()  # until Ctrl+C, which Werkzeug turns into a clean stop
    finally:
        if worker is not None:
            _stop_child(worker)


def _stop_child(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()  # the consumer's graceful stop
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def dev_address(host: str, port: int) -> str:
    """The address a browser on this machine opens for a server bound to host:port."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def init_app(app: Flask) -> None:
    app.cli.add_command(forum_cli)
