"""The forum's WSGI app with a window on its worker's memory, for bench/worker_memory.py --probe.

    gunicorn ... bench.memory_probe:app     (python -m forum.ops.serve bench.memory_probe:app)

Serves the forum as `wsgi:app` does, and answers GET /_probe/memory itself (loopback only; never
part of the forum): what the process holds by kind (forum.ops.memory is not asked), and with
BENCH_TRACEMALLOC=<frames> set at start, Python's allocations by line: `?mark=1` keeps a
snapshot, a later call compares with it. `?trim=1` collects and trims first (what a trim frees).
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
import threading
import tracemalloc
from typing import Any
from urllib.parse import parse_qs

FRAMES = int(os.environ.get("BENCH_TRACEMALLOC") or 0)
if FRAMES:
    tracemalloc.start(FRAMES)

from bench.memory_bench import pymalloc_numbers  # noqa: E402
from wsgi import app as forum_app  # noqa: E402

_marks: list[tracemalloc.Snapshot] = []
_lock = threading.Lock()


def pymalloc() -> dict[str, float]:
    """pymalloc's arenas (1 MB, freed only when empty) against its live objects' bytes."""
    with _lock:  # (one thread at a time moves the standard error)
        found = pymalloc_numbers()
    return {
        "arenas": found["arenas"],
        "live_mb": round(found["live"] / 2**20, 1),
        "free_in_pools_mb": round((found["available"] + found["headers"]) / 2**20, 1),
    }


def sqlite_mb() -> dict[str, float]:
    try:
        library = ctypes.CDLL("libsqlite3.so.0")
    except OSError:
        return {}
    library.sqlite3_memory_used.restype = ctypes.c_int64
    library.sqlite3_memory_highwater.restype = ctypes.c_int64
    return {
        "used": round(library.sqlite3_memory_used() / 2**20, 1),
        "peak": round(library.sqlite3_memory_highwater(0) / 2**20, 1),
    }


def mallinfo() -> dict[str, float]:
    """glibc's own count: bytes handed out (in use) and free in its arenas (mallinfo2)."""

    class Info(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost")]  # fmt: skip

    try:
        function = ctypes.CDLL(None).mallinfo2
    except AttributeError:
        return {}
    function.restype = Info
    info = function()
    return {
        "heap_mb": round(info.arena / 2**20, 1),  # sbrk'd and arena heaps
        "mmapped_mb": round(info.hblkhd / 2**20, 1),  # blocks mapped apart
        "in_use_mb": round(info.uordblks / 2**20, 1),
        "free_mb": round(info.fordblks / 2**20, 1),
    }


def garbage() -> dict[str, Any]:
    """What the collector would free now (objects in reference cycles), by type, most first."""
    import collections
    import time

    started = time.thread_time()
    gc.collect()  # (timed: what a collection of the unfrozen objects costs; frees nothing saved)
    took = (time.thread_time() - started) * 1000
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        found = gc.collect()
        kinds = collections.Counter(type(o).__qualname__ for o in gc.garbage)
        size = sum(sys.getsizeof(o) for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return {
        "objects": found,
        "mb": round(size / 2**20, 1),
        "first_collection_cpu_ms": round(took, 1),
        "kinds": kinds.most_common(25),
    }


def report(query: dict[str, list[str]]) -> dict[str, Any]:
    if query.get("garbage"):
        return {"garbage": garbage()}
    if query.get("trim"):
        gc.collect()
        ctypes.CDLL(None).malloc_trim(0)
    out: dict[str, Any] = {
        "pid": os.getpid(),
        "modules": len(sys.modules),
        "threads": threading.active_count(),
        "pymalloc": pymalloc(),
        "sqlite_mb": sqlite_mb(),
        "glibc": mallinfo(),
        "gc_objects": len(gc.get_objects()),
        "gc_frozen": gc.get_freeze_count(),
        "gc_counts": gc.get_count(),
        "gc_collections": [g["collections"] for g in gc.get_stats()],
    }
    from forum import pagecache

    with forum_app.app_context():
        cache = pagecache.get_cache(forum_app)
        if cache is not None:
            out["page_cache"] = {
                "pages": len(cache._pages),
                "mb": round(cache.size / 2**20, 1),
                "hits": cache.hits,
                "misses": cache.misses,
            }
    from forum.search import indexer

    backend = indexer._BACKEND.get(forum_app)
    index = getattr(backend, "index", None)
    if index is not None:
        dates = sum(
            sum(a.itemsize * len(a) for a in (s.keys, s.docs, s.values, s.digit))
            for s in index._dates._segments.values()
        )
        out["search_mb"] = {
            "word_bitmaps": round(index._words._size / 2**20, 1),
            "dates": round(dates / 2**20, 1),
            "searcher_open": index._shared is not None,
        }
    if FRAMES:
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        out["traced_mb"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
        group = (query.get("group") or ["lineno"])[0]
        top = int((query.get("top") or ["30"])[0])
        out["largest"] = [str(s) for s in snapshot.statistics(group)[:top]]
        if _marks:
            stats = snapshot.compare_to(_marks[-1], group)
            out["grew_mb"] = round(sum(s.size_diff for s in stats) / 2**20, 1)
            out["grew"] = [str(s) for s in stats[:top]]
        if query.get("mark"):
            _marks[:] = [snapshot]
    return out


def app(environ: dict[str, Any], start_response: Any) -> Any:
    if environ.get("PATH_INFO") == "/_probe/memory":
        if environ.get("REMOTE_ADDR") not in ("127.0.0.1", "::1"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b""]
        body = json.dumps(report(parse_qs(environ.get("QUERY_STRING", ""))), indent=1).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    return forum_app(environ, start_response)
