"""The benches' throwaway databases and their one way of printing a line.

    url, drop = fresh_database(workdir, "growth", postgres_server(args.postgres))

An SQLite file in the bench's own folder, or a new database on a PostgreSQL server (the
FORUM_BENCH_POSTGRES_URL one unless a bench is given another), dropped by `drop()` afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def log(message: str) -> None:
    print(message, flush=True)


def postgres_server(wanted: bool) -> str | None:
    """The PostgreSQL server a bench run with --postgres makes its database on, else None."""
    return os.environ.get("FORUM_BENCH_POSTGRES_URL", DEFAULT_SERVER) if wanted else None


def fresh_database(
    workdir: Path, name: str, server: str | None = None
) -> tuple[str, Callable[[], None]]:
    """A new database's URL, and a function that drops it: on `server` (a PostgreSQL URL) as
    `forum_<name>_<random>`, else the SQLite file `<name>.db` in `workdir`."""
    if server is None:
        return f"sqlite:///{workdir / f'{name}.db'}", lambda: None
    return _create_postgres(server, f"forum_{name}_{uuid.uuid4().hex[:8]}")


def copy_database(url: str, name: str) -> tuple[str, Callable[[], None]]:
    """A copy of the PostgreSQL database at `url` (a template: nothing may be connected to it)
    named `<its name>_<name>`, and a function that drops the copy."""
    from sqlalchemy.engine import make_url

    source = make_url(url).database
    return _create_postgres(url, f"{source}_{name}", template=source)


def _create_postgres(
    server: str, database: str, template: str | None = None
) -> tuple[str, Callable[[], None]]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(server.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    copy_of = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"{copy_of}'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()

    url = base.set(database=database).render_as_string(hide_password=False)
    return url.replace("postgresql+psycopg://", "postgresql://", 1), drop
