"""Consistent backups of a running forum, and restoring them.

SQLite: the online backup API copies pages under a read transaction, so writers may go on; a
restore copies the other way, into the live file, under the same locks. PostgreSQL: pg_dump's
custom format (a consistent snapshot) and pg_restore --clean."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url


class BackupError(Exception):
    """A backup or restore could not be done; the message says why."""


def backup(database_url: str, path: str | os.PathLike[str]) -> Path:
    url = make_url(database_url)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(_sqlite_file(url), target)
    elif url.get_backend_name() == "postgresql":
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={target}"], url)
    else:
        raise BackupError(f"Backups of {url.get_backend_name()} databases are not supported.")
    return target


def restore(database_url: str, path: str | os.PathLike[str]) -> None:
    url = make_url(database_url)
    source = Path(path)
    if not source.is_file():
        raise BackupError(f"No backup at {source}.")
    if url.get_backend_name() == "sqlite":
        _check_sqlite_backup(source)
        _sqlite_copy(source, _sqlite_file(url))
    elif url.get_backend_name() == "postgresql":
        _run(
            [
                _tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--exit-on-error",
                str(source),
            ],
            url,
            dbname_flag=True,
        )
    else:
        raise BackupError(f"Restoring {url.get_backend_name()} databases is not supported.")


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up.")
    return Path(url.database)


def _check_sqlite_backup(source: Path) -> None:
    with source.open("rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise BackupError(f"{source} is not an SQLite backup.")


def _sqlite_copy(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target, timeout=30)
    try:
        # Pages are copied in steps of 1,024 so writers to a live source are not held up long.
        src.backup(dst, pages=1024)
    finally:
        dst.close()
        src.close()


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} was not found on PATH (Debian: apt-get install postgresql-client)."
        )
    return found


def _run(command: list[str], url: URL, *, dbname_flag: bool = False) -> None:
    """Run a PostgreSQL client tool; the password goes in the environment, not the command line."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    libpq = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    command = [*command, f"--dbname={libpq}"] if dbname_flag else [*command, libpq]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip()[:2000]}")
