"""What a storage fault looks like: the database refused a write (read-only or full), or cannot
be reached. Asked by the request's error handlers (forum.web), the event dispatcher, the search
drain and the socket handlers, so that each says such a fault in one log line, not a traceback."""

from __future__ import annotations

import errno


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
