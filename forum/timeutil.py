"""Timezone-aware UTC datetimes, stored the same way on SQLite and PostgreSQL."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always hands back an aware datetime (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def zone_or_utc(name: str) -> str:
    """The IANA zone name if it exists, else "UTC"."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = (name or "").strip()
    if not name or len(name) > 64:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def in_zone(value: datetime, zone: str) -> datetime:
    return value.astimezone(_zone(zone))


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo:
    """The zone of this name, or UTC (looked up once per name: pages show many times)."""
    from zoneinfo import ZoneInfo

    return ZoneInfo(zone_or_utc(name))


def from_zone(value: datetime, zone: str) -> datetime:
    """A wall-clock time without a zone (a datetime-local field), read in the time zone `zone`
    (an IANA name; unknown: UTC), as an aware UTC datetime. A time at the calendar's edge whose
    UTC Python cannot hold (year 1 east of UTC, 9999 west of it: a slip in the year box) is the
    earliest or the latest there is, so the caller's "in the future", "within a year" refuses
    it as it refuses any time gone by or too far ahead."""
    try:
        return value.replace(tzinfo=_zone(zone)).astimezone(UTC)
    except OverflowError:
        edge = datetime.min if value.year < 5000 else datetime.max
        return edge.replace(tzinfo=UTC)
