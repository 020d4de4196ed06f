"""Giving the C library's free memory back to the system a few seconds after requests (glibc).

Python hands what a request freed back to the C library, and glibc keeps much of it in its free
lists, between live blocks, where its own trimming (the top of the heap only) does not reach
(the page caches of the connections the pool opens and closes under load among it).
`malloc_trim(0)` gives those pages back. Measured with `bench/memory_bench.py` (20,000 posts,
3,000 requests of the bench's mix from 8 threads; docs/benchmarks.md, "Memory per page
worker"): a worker at 167 MB after the load was at 155 MB after one trim, which took 3 ms (1 ms
when little was left to give). Under load the pages come back within seconds, so trimming after
every request would buy little for 3 ms a page: one thread trims once, MEMORY_TRIM_SECONDS after
the first request that ended since its last trim, off the requests' path, and sleeps while the
worker is idle: the bench's mix cost 12.4 and 12.9 CPU ms a request with it, against 13.7 and
12.2 before (with the page cache and without), and gave back 11 and 6 MB after the burst.

Not for password hashes: scrypt's 32 MB block is mapped apart by glibc and unmapped when freed
(measured: the resident set is back where it was as soon as a login's hash is done).

Before each trim the thread lets the process's idle holders go (`on_trim`): the search index's
shared searcher, when no search used it since the last trim (forum.search.engine.index), whose
maps of the index files held 24 MB of a page worker's resident set at 100,000 posts after the
bench's searches, until its next search (docs/benchmarks.md, "Memory per page worker, sixth
session").

Elsewhere than glibc (musl, macOS) there is nothing to call, and nothing is installed.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable

from flask import Flask

log = logging.getLogger(__name__)


def _find_malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, from the C library this interpreter runs on, or None."""
    try:
        function = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # no such symbol: not glibc
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]


_malloc_trim = _find_malloc_trim()


def trim() -> bool:
    """Give the C library's free pages back to the system now; False where there is no glibc."""
    if _malloc_trim is None:
        return False
    # ctypes lets go of the GIL for the call: other threads run Python meanwhile.
    _malloc_trim(0)
    return True


# What the process may let go of before a trim: bound methods, held weakly (an app, and what it
# holds, goes when nothing else keeps it; tests make many). Each returns True while it still
# holds something it may give back at a later turn.
_releasers: list[weakref.WeakMethod[Callable[[], bool]]] = []
_releasers_lock = threading.Lock()


def on_trim(release: Callable[[], bool]) -> None:
    """Call `release` (a bound method) before each trim; it returns True to be asked again
    one delay later even if no request ends meanwhile (it holds what it may let go then)."""
    with _releasers_lock:
        _releasers[:] = [ref for ref in _releasers if ref() is not None]
        _releasers.append(weakref.WeakMethod(release))


def release() -> bool:
    """Ask every live releaser to let go of what it may; whether one wants another turn."""
    with _releasers_lock:
        refs = list(_releasers)
    again = False
    for ref in refs:
        method = ref()
        if method is None:
            continue
        try:
            again = bool(method()) or again
        except Exception:  # one holder's failure stops neither the others nor the trim
            log.exception("releasing %r failed", method)
        finally:
            del method  # (a logged traceback keeps this frame: it must not keep the holder)
    return again


class Trimmer:
    """One per process: requests say they ended (`request_ended`), and a thread trims once,
    `delay` seconds after the first of them, then waits for the next. Before trimming, it lets
    the idle holders go (`release`); one that still holds something asks for another turn."""

    def __init__(
        self,
        delay: float,
        trim: Callable[[], bool] = trim,
        release: Callable[[], bool] = release,
    ) -> None:
        self.delay = delay
        self.trim = trim
        self.release = release
        self.trims = 0
        self._pending = threading.Event()
        self._lock = threading.Lock()
        self._pid = 0

    @property
    def pending(self) -> bool:
        """Whether a request ended since the last trim."""
        return self._pending.is_set()

    def request_ended(self) -> None:
        if not self._pending.is_set():
            self._pending.set()

    def ensure_running(self) -> None:
        """Start the thread, once in each process (a forked child starts its own)."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="forum-malloc-trim", daemon=True).start()

    def _run(self) -> None:
        while True:
            self._pending.wait()
            time.sleep(self.delay)  # let the burst of requests go by first
            self.tick()

    def tick(self) -> bool:
        """Trim if a request ended since the last trim; whether it trimmed."""
        if not self._pending.is_set():
            return False
        # Cleared first: a request that ends during the trim asks for the next one.
        self._pending.clear()
        try:
            again = self.release()
        except Exception:
            log.exception("releasing before the trim failed")
            again = False
        if again:  # something was still in use: look again one delay later, requests or not
            self._pending.set()
        try:
            done = self.trim()
        except Exception:  # never let the thread die: the worker would only grow
            log.exception("malloc_trim failed")
            return False
        self.trims += done
        return done


_trimmer: Trimmer | None = None
_trimmer_lock = threading.Lock()


def trimmer(delay: float) -> Trimmer:
    """This process's trimmer (the memory is the process's, whatever the number of apps)."""
    global _trimmer
    with _trimmer_lock:
        if _trimmer is None:
            _trimmer = Trimmer(delay)
        return _trimmer


def current_trimmer() -> Trimmer | None:
    """This process's trimmer, if an app made one."""
    return _trimmer


def init_app(app: Flask) -> None:
    delay = float(app.config.get("MEMORY_TRIM_SECONDS") or 0)
    if delay <= 0 or _malloc_trim is None:
        return
    process_trimmer = trimmer(delay)

    @app.teardown_request
    def _ask_for_a_trim(_error: BaseException | None) -> None:
        process_trimmer.request_ended()
        process_trimmer.ensure_running()
