"""`flask forum backup PATH` and `flask forum restore PATH`."""

from __future__ import annotations

import click
from flask import Flask, current_app

from ..cli import forum_cli


@forum_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def backup_command(path: str) -> None:
    """Write a consistent snapshot of the database to PATH (the forum may keep running)."""
    from . import backup

    try:
        written = backup.backup(current_app.config["SQLALCHEMY_DATABASE_URI"], path)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Backup written to {written} ({written.stat().st_size:,} bytes).")


@forum_cli.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(path: str, yes: bool) -> None:
    """Replace the database's content with the backup at PATH."""
    from ..extensions import db
    from ..search.indexer import backend_name
    from . import backup

    if not yes:
        click.confirm("This replaces everything in the forum's database. Go on?", abort=True)
    db.session.remove()
    db.engine.dispose()
    try:
        backup.restore(current_app.config["SQLALCHEMY_DATABASE_URI"], path)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    # Whoosh keeps its index on disk, beside the database, so it still holds the old posts;
    # PostgreSQL's search lives in the database and came back with it.
    if backend_name(current_app) == "whoosh":
        click.echo(
            f"Restored from {path}. Rebuild the search index (`flask forum reindex`) and restart "
            "the app servers."
        )
    else:
        click.echo(f"Restored from {path}. Restart the app servers.")


def init_app(app: Flask) -> None:
    """The commands join the `forum` group, which forum.cli adds to the app."""
