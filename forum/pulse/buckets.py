"""Date ranges and SQL that buckets UTC timestamps into the viewer's local days, weeks and months.

PostgreSQL converts with its own zone database (`timezone(zone, ts)`); SQLite has none, so each
connection gets a small deterministic function, `pulse_bucket(ts, zone, unit)`, doing the same
in Python. Both honour daylight-saving changes. Weeks start on Monday (ISO), as in PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import event, func
from sqlalchemy.sql import ColumnElement

from ..extensions import db
from ..timeutil import zone_or_utc

DAY, WEEK, MONTH = "day", "week", "month"
UNITS = (DAY, WEEK, MONTH)
PRESETS = ("7", "30", "90")
MAX_DAYS = 366


@dataclass(frozen=True)
class DateRange:
    """Local days `start` … `end` (both included) in `zone`."""

    start: date
    end: date
    zone: str
    preset: str = "30"

    @property
    def utc_start(self) -> datetime:
        return local_midnight(self.start, self.zone)

    @property
    def utc_end(self) -> datetime:
        """The first instant after the range (exclusive bound)."""
        return local_midnight(self.end + timedelta(days=1), self.zone)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def buckets(self, unit: str) -> list[date]:
        """The start of every bucket that overlaps the range, in order."""
        seen: list[date] = []
        for day in self.days:
            key = bucket_start(day, unit)
            if not seen or seen[-1] != key:
                seen.append(key)
        return seen

    def query_args(self) -> dict[str, str]:
        if self.preset in PRESETS:
            return {"range": self.preset}
        return {"range": "custom", "start": self.start.isoformat(), "end": self.end.isoformat()}


def local_midnight(day: date, zone: str) -> datetime:
    local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone_or_utc(zone)))
    return local.astimezone(UTC)


def local_today(now: datetime, zone: str) -> date:
    return now.astimezone(ZoneInfo(zone_or_utc(zone))).date()


def bucket_start(day: date, unit: str) -> date:
    if unit == WEEK:
        return day - timedelta(days=day.weekday())
    if unit == MONTH:
        return day.replace(day=1)
    return day


def preset_range(preset: str, today: date, zone: str) -> DateRange:
    days = int(preset) if preset in PRESETS else 30
    return DateRange(today - timedelta(days=days - 1), today, zone, str(days))


def bucket(column: Any, unit: str, zone: str) -> ColumnElement[Any]:
    """SQL for the local bucket (day, week or month start) of a UTC timestamp column."""
    if unit not in UNITS:
        raise ValueError(unit)
    zone = zone_or_utc(zone)
    if db.session.get_bind().dialect.name == "postgresql":
        local = func.timezone(zone, column)
        if unit == DAY:
            return func.date(local)
        return func.date(func.date_trunc(unit, local))
    return func.pulse_bucket(column, zone, unit)


def as_date(value: Any) -> date:
    """Bucket values come back as dates (PostgreSQL) or ISO strings (SQLite)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


@lru_cache(maxsize=4096)
def _offset(hour: str, zone: str) -> timedelta:
    """The zone's UTC offset during one UTC hour ("YYYY-MM-DD HH")."""
    moment = datetime.fromisoformat(f"{hour}:00:00").replace(tzinfo=UTC)
    offset = moment.astimezone(ZoneInfo(zone)).utcoffset()
    return offset or timedelta(0)


def _sqlite_bucket(value: str | None, zone: str, unit: str) -> str | None:
    """Called once per row, so the work is cached per UTC hour (zone offsets change on the hour;
    for zones a half or quarter hour off, the minutes decide)."""
    if value is None:
        return None
    hour = value[:13]
    if _offset(hour, zone) % timedelta(hours=1):
        moment = datetime.fromisoformat(value[:19])
        return bucket_start((moment + _offset(hour, zone)).date(), unit).isoformat()
    return _hour_bucket(hour, zone, unit)


@lru_cache(maxsize=65536)
def _hour_bucket(hour: str, zone: str, unit: str) -> str:
    moment = datetime.fromisoformat(f"{hour}:00:00")
    return bucket_start((moment + _offset(hour, zone)).date(), unit).isoformat()


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _register(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("pulse_bucket", 3, _sqlite_bucket, deterministic=True)
