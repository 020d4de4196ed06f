"""What a storage fault looks like: the database refused a write (read-only or full), or cannot
be reached. Asked by the request's error handlers (forum.web), the event dispatcher, the search
drain and the socket handlers, so that each says such a fault in one log line, not a traceback."""

from __future__ import annotations

import errno
import logging
from collections.abc import Mapping

log = logging.getLogger(__name__)


def describe_error(exc: BaseException) -> str:
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"[:300]


# SQLite's codes for "this database cannot be written" (a read-only file or volume) and "the
# volume is full"; PostgreSQL's SQLSTATEs for a read-only transaction (a standby, or
# default_transaction_read_only) and for a full disk.
_SQLITE_REFUSED = ("SQLITE_READONLY", "SQLITE_FULL")
_PG_REFUSED = ("25006", "53100")
_OS_REFUSED = (errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM)


def storage_refused(exc: BaseException) -> str | None:
    """Why the database's storage refused a write (read-only or full), or None.

    Also an OSError of that kind: the writers' lock file beside an SQLite database is opened
    for writing before SQLite is (forum.db), so a read-only volume, or a lock file this user may
    not write, shows first as EROFS or EACCES there."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, OSError) and exc.errno in _OS_REFUSED:
        return describe_error(exc)
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        name = str(getattr(orig, "sqlite_errorname", ""))
        state = str(getattr(orig, "sqlstate", "") or "")
        if name.startswith(_SQLITE_REFUSED) or state.startswith(_PG_REFUSED):
            return describe_error(orig or exc)
    return None


# SQLAlchemy's code for "Can't reconnect until invalid transaction is rolled back": a statement
# after the connection died under the session, when an earlier failure was caught and the request
# went on (its other PendingRollbackError, a failed flush, is 7s2a).
_INVALIDATED = "8s2b"


def is_database_down(exc: Exception) -> bool:
    from sqlalchemy.exc import DBAPIError, OperationalError, PendingRollbackError

    if isinstance(exc, OperationalError):
        return True
    if isinstance(exc, PendingRollbackError) and exc.code == _INVALIDATED:
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def convenience_write(row: object, values: Mapping[str, object], what: str, *args: object) -> bool:
    """Set `values` on `row` in a unit of work of its own, for a write the request can do
    without ("last seen" of a session or an API token, the language a member's page was read in).
    When the database refuses it (read-only, full, busy, or a read-only volume, which SQLite's
    writers' lock file shows first as an OSError: forum.db), one warning line ("could not note "
    + what) and the request goes on; False then. Called outside any other unit of work: the
    rollback would take that one too.

        convenience_write(row, {"last_seen_at": now}, "that session %s is in use", row.id)
    """
    from sqlalchemy.exc import SQLAlchemyError

    from .db import transaction
    from .extensions import db

    try:
        with transaction():
            for name, value in values.items():
                setattr(row, name, value)
    except (SQLAlchemyError, OSError):
        log.warning("could not note " + what, *args)
        db.session.rollback()
        return False
    return True
