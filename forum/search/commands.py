"""`flask forum reindex` and `flask forum search-sync`."""

from __future__ import annotations

import click
from flask import current_app

from ..cli import forum_cli
from . import indexer
from .backend import SearchBackend
from .postgres import PostgresBackend


@forum_cli.command("reindex")
@click.option(
    "--backend",
    "which",
    type=click.Choice(["whoosh", "postgres"]),
    default=None,
    help="Build this backend's index instead of the configured one's (to switch later).",
)
def reindex(which: str | None) -> None:
    """Rebuild the search index from the database (online: the forum goes on serving)."""
    backend: SearchBackend = indexer.get_backend()
    if which == "postgres" and not isinstance(backend, PostgresBackend):
        backend = PostgresBackend()
    elif which == "whoosh" and isinstance(backend, PostgresBackend):
        backend = indexer.make_backend_named(current_app, "whoosh")
    total = indexer.total_posts() if not isinstance(backend, PostgresBackend) else None
    if total is None:
        total = indexer.all_posts()
    with backend.maintenance():
        if indexer.status(backend) != "ok":
            backend.reset()
        with click.progressbar(length=total, label="Indexing posts") as bar:
            count = indexer.rebuild(progress=bar.update, backend=backend)
    click.echo(f"Indexed {count} posts.")


@forum_cli.command("search-sync")
@click.option("--check", is_flag=True, help="Also compare the index with the database.")
def search_sync(check: bool) -> None:
    """Apply index work left behind (a crash between commit and indexing, a busy index)."""
    backend = indexer.get_backend()
    with backend.maintenance():
        status = indexer.status(backend)
        if status != "ok":
            click.echo(f"The index is {status}: rebuilding it.")
            backend.reset()
            count = indexer.rebuild(backend=backend)
            click.echo(f"Indexed {count} posts.")
            return
    left = indexer.backlog()
    result = indexer.drain(timeout=30.0, backend=backend)
    if result.busy:
        raise click.ClickException("The index stayed locked for 30 s; try again.")
    click.echo(
        f"Applied {result.rows} of {left} queued changes: {result.indexed} posts indexed, "
        f"{result.removed} removals."
    )
    if check:
        missing = indexer.readable_post_ids() - backend.indexed_post_ids()
        extra = backend.indexed_post_ids() - indexer.readable_post_ids()
        click.echo(f"Index check: {len(missing)} missing, {len(extra)} that should not be there.")
        if missing or extra:
            raise click.ClickException(
                "The index differs from the database: run `flask forum reindex`."
            )
