"""Date ranges, and the SQL that puts UTC timestamps into the viewer's local days, weeks and months.

Everything dialect-specific about dates lives here, in plain built-in SQL (no Python function runs
per row). PostgreSQL converts with its own zone database: `timezone(zone, ts)` and `date_trunc`.
SQLite has no zone database, so the zone's UTC offsets during the range are worked out once in
Python (`zone_offsets`: one offset, or a few around daylight-saving changes) and written into the
statement as a CASE over the instants where the offset changes; `date(ts, '+N seconds', ...)`
then does the rest. Both agree with Python's `astimezone(zone).date()` for every instant inside
the range. Weeks start on Monday (ISO), as in PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, cast, func, literal_column
from sqlalchemy.sql import ColumnElement
from sqlalchemy.types import BigInteger, Integer

from ..extensions import db
from ..timeutil import zone_or_utc

DAY, WEEK, MONTH = "day", "week", "month"
UNITS = (DAY, WEEK, MONTH)
PRESETS = ("7", "30", "90")
MAX_DAYS = 366

# How SQLite stores a UTCDateTime: naive UTC text, "YYYY-MM-DD HH:MM:SS.ffffff".
_SQLITE_SECONDS = "%Y-%m-%d %H:%M:%S"


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

    def bounds(self, unit: str) -> list[tuple[date, datetime, datetime]]:
        """Each bucket that overlaps the range: its start, and the UTC instants [from, to) of
        its days inside the range (the first and last week or month may be cut short)."""
        starts = self.buckets(unit)
        ends = [*starts[1:], self.end + timedelta(days=1)]
        return [
            (
                start,
                local_midnight(max(start, self.start), self.zone),
                local_midnight(end, self.zone),
            )
            for start, end in zip(starts, ends, strict=True)
        ]

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


def _dialect() -> str:
    return str(db.session.get_bind().dialect.name)


def bucket(column: Any, unit: str, rng: DateRange) -> ColumnElement[Any]:
    """SQL for the local bucket (day, week or month start) of a UTC timestamp column.

    Exact for the instants inside `rng` (the callers count nothing else). SQLite gives
    "YYYY-MM-DD" text, PostgreSQL a date: read either with `as_date`.
    """
    if unit not in UNITS:
        raise ValueError(unit)
    zone = zone_or_utc(rng.zone)
    if _dialect() == "postgresql":
        local = func.timezone(zone, column)
        if unit == DAY:
            return func.date(local)
        return func.date(func.date_trunc(unit, local))
    modifiers: list[Any] = []
    offsets = zone_offsets(zone, rng.utc_start, rng.utc_end)
    if len(offsets) > 1 or offsets[0][1] != 0:
        shifts = [_sqlite_text(f"{seconds:+d} seconds") for _, seconds in offsets]
        if len(shifts) == 1:
            modifiers.append(shifts[0])
        else:
            # The offset in force at each instant; a change takes effect at its instant.
            whens = [
                (column < _sqlite_text(since.strftime(_SQLITE_SECONDS)), shift)
                for (since, _), shift in zip(offsets[1:], shifts[:-1], strict=True)
            ]
            modifiers.append(case(*whens, else_=shifts[-1]))
    if unit == WEEK:
        modifiers += [_sqlite_text("weekday 0"), _sqlite_text("-6 days")]
    elif unit == MONTH:
        modifiers.append(_sqlite_text("start of month"))
    # Whole seconds: midnights are whole seconds, and no rounding of a fraction can move a day.
    return func.date(_whole_seconds(column), *modifiers)


def micros_between(later: Any, earlier: Any) -> ColumnElement[int]:
    """SQL for `later - earlier` in whole microseconds (an exact integer on both databases)."""
    if _dialect() == "postgresql":
        return cast(func.extract("epoch", later - earlier) * 1_000_000, BigInteger)

    def micros(column: Any) -> Any:
        seconds = cast(func.strftime("%s", _whole_seconds(column)), BigInteger)
        fraction = func.substr(column, _sqlite_number(21), _sqlite_number(6))
        return seconds * 1_000_000 + cast(fraction, Integer)

    return micros(later) - micros(earlier)


def _whole_seconds(column: Any) -> Any:
    """SQLite: "YYYY-MM-DD HH:MM:SS" of a stored UTCDateTime, the fraction cut off."""
    return func.substr(column, _sqlite_number(1), _sqlite_number(19))


def _sqlite_number(value: int) -> Any:
    return literal_column(str(int(value)))


def _sqlite_text(value: str) -> Any:
    """A string literal written into the statement: the same text in SELECT and GROUP BY lets
    SQLite see one expression (bound parameters would each be a different one). Only text made
    here from numbers and dates goes through this, never input."""
    if "'" in value:
        raise ValueError(value)
    return literal_column(f"'{value}'")


def as_date(value: Any) -> date:
    """Bucket values come back as dates (PostgreSQL) or ISO strings (SQLite)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


_STEP = timedelta(hours=1)


@lru_cache(maxsize=256)
def zone_offsets(zone: str, start: datetime, end: datetime) -> tuple[tuple[datetime, int], ...]:
    """The zone's UTC offset (seconds) from `start` on, and each change before `end`.

    Offsets are sampled every hour (no zone changes twice within an hour) and each change is
    pinned to its second by bisection.
    """
    tz = ZoneInfo(zone)

    def offset(moment: datetime) -> int:
        return int(moment.astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]

    current = offset(start)
    pieces = [(start, current)]
    low = start
    while low < end:
        high = min(low + _STEP, end)
        if offset(high) != current:
            # The change lies in (low, high]: bisect whole seconds for its first one.
            before, after = 0, int((high - low).total_seconds())
            while after - before > 1:
                middle = (before + after) // 2
                if offset(low + timedelta(seconds=middle)) == current:
                    before = middle
                else:
                    after = middle
            since = low + timedelta(seconds=after)
            current = offset(since)
            pieces.append((since, current))
        low = high
    return tuple(pieces)


# --- the morning comparison: the latest whole day or week against the one before --------------
PERIODS = (DAY, WEEK)


@dataclass(frozen=True)
class Comparison:
    """Two periods of whole local days side by side: the latest one that has ended (yesterday,
    or the 7 days up to yesterday) and the one of the same length just before it."""

    unit: str
    zone: str
    current: tuple[date, date]  # first and last day, both included
    previous: tuple[date, date]

    @property
    def edges(self) -> tuple[datetime, datetime, datetime]:
        """The UTC instants where the previous period starts, the current one starts, and the
        current one ends (exclusive). A day is 23 or 25 hours long when the clocks change."""
        return (
            local_midnight(self.previous[0], self.zone),
            local_midnight(self.current[0], self.zone),
            local_midnight(self.current[1] + timedelta(days=1), self.zone),
        )


def comparison(unit: str, today: date, zone: str) -> Comparison:
    """The day before `today` against the day before that; or, for a week, the 7 days up to
    yesterday against the 7 days before them (today is not over: it is never compared)."""
    length = 7 if unit == WEEK else 1
    last = today - timedelta(days=1)
    first = last - timedelta(days=length - 1)
    before = first - timedelta(days=1)
    return Comparison(
        WEEK if unit == WEEK else DAY,
        zone,
        (first, last),
        (before - timedelta(days=length - 1), before),
    )
