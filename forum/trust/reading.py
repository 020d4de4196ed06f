"""The reading clock: how long each member spends on the forum's pages, kept in memory.

Discourse's measure: the time between one page of a member and their next counts as reading,
unless it is longer than a pause (READ_GAP_SECONDS): then they were away. Each process measures
the pages it serves and keeps the seconds until the member's read position next moves, which
stores them with it (forum.topics: the topic_reads upsert a topic page makes anyway), so the
clock adds no write. Seconds not yet stored when the process stops are lost; with several
processes each sees part of a member's pages, so the measure errs low, never high.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from threading import Lock

READ_GAP_SECONDS = 300.0
_MAX_REMEMBERED = 100_000


class ReadingClock:
    """Per process: each member's last page (a monotonic time) and the seconds not yet stored."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._last: dict[int, float] = {}
        self._pending: dict[int, float] = {}
        self._lock = Lock()

    def _tick(self, user_id: int) -> None:
        now = self.clock()
        last = self._last.get(user_id)
        if last is not None and 0 < now - last <= READ_GAP_SECONDS:
            self._pending[user_id] = self._pending.get(user_id, 0.0) + (now - last)
        if len(self._last) >= _MAX_REMEMBERED:
            self._last.clear()
            self._pending.clear()
        self._last[user_id] = now

    def tick(self, user_id: int) -> None:
        """A page was served to this member."""
        with self._lock:
            self._tick(user_id)

    def take(self, user_id: int) -> int:
        """The whole seconds spent reading up to now, not yet stored; the clock starts again."""
        with self._lock:
            self._tick(user_id)
            seconds = self._pending.pop(user_id, 0.0)
            whole = int(seconds)
            if seconds - whole:
                self._pending[user_id] = seconds - whole
            return whole
