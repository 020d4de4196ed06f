"""`flask forum jobs` (list queued, scheduled, held and failed jobs), `jobs retry ID`, `jobs
worker`."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import click
from flask import Flask, current_app

from ..cli import forum_cli
from . import describe_args, queue_of

if TYPE_CHECKING:
    from huey.consumer import Consumer

log = logging.getLogger(__name__)


@forum_cli.group("jobs", invoke_without_command=True)
@click.pass_context
def jobs_cli(ctx: click.Context) -> None:
    """Background jobs: list them (no subcommand), retry a failed one, run the consumer."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_jobs)


@jobs_cli.command("list")
@click.option("--limit", default=50, show_default=True, help="At most this many of each kind.")
def list_jobs(limit: int) -> None:
    """List the queued, scheduled, held and failed jobs."""
    from .services import failed_jobs, held_count, held_jobs

    queue = queue_of()
    try:
        _list_queue(queue, limit)
    except Exception as exc:  # noqa: BLE001 - Redis down: what the database holds still lists
        click.echo(f"The queue cannot be reached: {exc!r}")
    held = held_jobs(None, limit)
    click.echo(f"Held ({held_count()}):")
    for row in held:
        eta = f" at {row.eta:%Y-%m-%d %H:%M:%S} UTC" if row.eta else ""
        tries = f", {row.attempts} failed put-backs" if row.attempts else ""
        click.echo(f"  #{row.id}  {row.name}({row.summary[:120]}){eta}"
                   f" since {row.held_at:%Y-%m-%d %H:%M}{tries}")  # fmt: skip
    if held:
        click.echo("The worker puts them back on the queue every minute, once it takes jobs.")
    failed = failed_jobs(None, limit)
    click.echo(f"Failed ({len(failed)}):")
    for row in failed:
        click.echo(f"  #{row.id}  {row.name}({row.summary[:120]}) {row.failed_at:%Y-%m-%d %H:%M}")
        click.echo(f"        {row.error[:200]}")
    if failed:
        click.echo("Queue one again: flask forum jobs retry ID")


def _list_queue(queue: Any, limit: int) -> None:
    queued = queue.queued(limit)
    click.echo(f"Queued ({queue.huey.pending_count()}):")
    for task in queued:
        # A delayed job waits here until a worker moves it to the schedule.
        eta = f" at {task.eta:%Y-%m-%d %H:%M:%S} UTC" if task.eta else ""
        click.echo(f"  {task.id}  {task.name}({describe_args(task)[:120]}){eta}")
    scheduled = queue.scheduled(limit)
    click.echo(f"Scheduled ({queue.huey.scheduled_count()}):")
    for task in scheduled:
        eta = f"{task.eta:%Y-%m-%d %H:%M:%S} UTC" if task.eta else "?"
        retry = f", {task.retries} retries left" if task.retries else ""
        click.echo(f"  {task.id}  {task.name}({describe_args(task)[:120]}) at {eta}{retry}")


@jobs_cli.command("retry")
@click.argument("failed_id", type=int)
def retry(failed_id: int) -> None:
    """Queue the failed job #FAILED_ID again (with its retries renewed)."""
    from ..errors import NotFound
    from .services import retry_failed_job

    try:
        row = retry_failed_job(None, failed_id)
    except NotFound as exc:
        raise click.ClickException(f"No failed job #{failed_id}.") from exc
    click.echo(f"Queued {row.name} again.")


@jobs_cli.command("worker")
@click.option("--workers", type=int, default=None, help="Threads (default JOBS_WORKERS).")
@click.option(
    "--periodic/--no-periodic",
    default=True,
    show_default=True,
    help="Run the periodic jobs (in one worker per queue only).",
)
@click.option(
    "--parent-pid", type=int, default=None, hidden=True, help="Stop when this process is gone."
)
def worker(workers: int | None, periodic: bool, parent_pid: int | None) -> None:
    """Run the consumer: the queued jobs, and the periodic ones on time, until Ctrl+C/SIGTERM."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    run_consumer(app, workers=workers, periodic=periodic, parent_pid=parent_pid)


def make_consumer(app: Flask, workers: int | None = None, *, periodic: bool = True) -> Consumer:
    queue = queue_of(app)
    if queue.immediate:
        raise click.ClickException("JOBS_IMMEDIATE is on: jobs run where they are queued.")
    queue.register_all()
    if app.config.get("REDIS_URL"):
        from ..redisconn import quiet_consumer_log

        quiet_consumer_log()
    return queue.huey.create_consumer(
        workers=workers or int(app.config["JOBS_WORKERS"]),
        worker_type="thread",
        periodic=periodic,
        # A stop (SIGTERM from systemd, Ctrl+C) lets running jobs finish for this long; those
        # still running then are queued again (forum.jobs.JobQueue._interrupted).
        shutdown_timeout=float(app.config["JOBS_SHUTDOWN_SECONDS"]),
        graceful_signal="TERM",
        scheduler_interval=1,
        initial_delay=0.1,
        max_delay=1.0,
    )


def run_consumer(
    app: Flask, *, workers: int | None = None, periodic: bool = True, parent_pid: int | None = None
) -> None:
    consumer = make_consumer(app, workers, periodic=periodic)
    storage = "Redis" if app.config.get("REDIS_URL") else consumer.huey.storage.filename
    log.info("jobs worker: %s threads on %s", consumer.workers, storage)
    if periodic:
        put_back_on_start(app)
    if parent_pid:
        _stop_with_parent(parent_pid)
    consumer.run()
    log.info("jobs worker stopped")


def put_back_on_start(app: Flask) -> None:
    """Put back the held jobs now, not at the next minute: a worker that starts after an
    outage (or a restart that cured one) sends what waited at once."""
    from ..extensions import db
    from .services import put_back_held_jobs

    with app.app_context():
        try:
            put_back_held_jobs()
        except Exception:  # the periodic run tries again within the minute
            log.exception("jobs worker: the held jobs could not be put back")
        finally:
            db.session.remove()


def _stop_with_parent(parent_pid: int) -> None:
    """Started by the development server: stop when it is gone (even if killed outright)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="forum-jobs-parent", daemon=True).start()


def worker_command(*options: str) -> list[str]:
    """The command that runs `flask forum jobs worker` (with `options`) in a process of its own,
    under this interpreter: what `flask forum dev-server` (start_worker_process) and `make serve`
    (forum.ops.serve) start. `python -m forum`, the console script's module, as `flask` with the
    app preloaded: `python -m forum.cli` would only import the command group, and exit at once."""
    return [sys.executable, "-m", "forum", "forum", "jobs", "worker", *options]


def start_worker_process(env: dict[str, str] | None = None) -> subprocess.Popen[Any]:
    """`flask forum jobs worker` as a child of this process (`flask forum dev-server`, which `make
    run` starts; `make serve` starts its own: forum.ops.serve)."""
    command = worker_command("--parent-pid", str(os.getpid()))
    return subprocess.Popen(command, env={**os.environ, **(env or {})})


def init_app(app: Flask) -> None:
    """The commands hang on `flask forum` (forum.cli), registered by importing this module."""
