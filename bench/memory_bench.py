"""A page worker's memory: at start-up, and as it grows under the bench's mix, in one process.

    python bench/memory_bench.py [--posts 50000] [--requests 6000] [--threads 8] [--trace]
        [--nocache] [--trim] [--trim-seconds S]

Seeds a forum as bench/page_cpu.py does, in a child process (so seeding leaves nothing in this
one), then builds the app as a gunicorn worker does (no Flask-Migrate, glibc's arenas at two)
and prints its resident memory; then drives --requests requests of `make bench`'s open-loop mix
through the test client from --threads threads (guests on the SIG index, SIG pages 1-5, random
topics and pages of the big topic, in English, German and Spanish; members on the same pages,
/new, and replies), printing resident memory every tenth of the way, and again once the worker's
malloc_trim (MEMORY_TRIM_SECONDS, forum.ops.memory; --trim-seconds) had its turn. --trace compares
tracemalloc snapshots taken after create_app() and at the end (what grew, by line).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.databases import log  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_parts() -> str:
    """The resident set's anonymous part (the heap: Python's and the C library's) and the part
    mapped from files (the interpreter's and the extensions' code, shared between workers)."""
    fields = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile"):
                fields[key] = int(value.split()[0]) / 1024
    return (
        f"{fields.get('RssAnon', 0):.0f} MB anonymous, {fields.get('RssFile', 0):.0f} MB from files"
    )


def pymalloc_numbers() -> dict[str, int]:
    """Python's own allocator (objects of 512 bytes or less), from sys._debugmallocstats: its
    arenas of 1 MB (freed only when every object in them is), the bytes of its live objects,
    and the bytes free in its pools and lost to their headers."""
    import re

    read, write = os.pipe()
    saved = os.dup(2)
    try:
        os.dup2(write, 2)
        os.close(write)
        sys._debugmallocstats()  # (written by C to the standard error)
        sys.stderr.flush()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    with os.fdopen(read) as fh:
        text = fh.read()

    def number(label: str) -> int:
        found = re.search(re.escape(label) + r"\s*=\s*([\d,]+)", text)
        return int(found.group(1).replace(",", "")) if found else 0

    return {
        "arenas": number("# arenas allocated current"),
        "live": number("# bytes in allocated blocks"),
        "available": number("# bytes in available blocks"),
        "headers": number("# bytes lost to pool headers"),
    }


def pymalloc_stats() -> str:
    """pymalloc_numbers, as a line."""
    found = pymalloc_numbers()
    return (
        f"{found['arenas']} arenas of 1 MB, "
        f"{found['live'] / 2**20:.1f} MB in live objects, "
        f"{(found['live'] + found['available']) / 2**20:.1f} MB in their pools"
    )


def sqlite_memory() -> str:
    """What SQLite holds in this process (its page caches, statements, schemas), all connections."""
    import ctypes
    import sqlite3  # noqa: F401  (loads the library the driver uses)

    try:
        library = ctypes.CDLL("libsqlite3.so.0")
    except OSError:
        return "(no libsqlite3.so.0 to ask)"
    library.sqlite3_memory_used.restype = ctypes.c_int64
    library.sqlite3_memory_highwater.restype = ctypes.c_int64
    used = library.sqlite3_memory_used() / 2**20
    peak = library.sqlite3_memory_highwater(0) / 2**20
    return f"{used:.1f} MB now, {peak:.1f} MB at most"


def seed(url: str, posts: int, out: str) -> None:
    """In the child: migrate and fill the database, write the dataset (pickled) to `out`."""
    import pickle

    from flask_migrate import upgrade

    from bench import data
    from bench.growth_bench import sizes_for
    from forum import create_app
    from forum.extensions import db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "m" * 40, "SEARCH_SYNC_ON_START": False})
    with app.app_context():
        upgrade()
        dataset = data.build(db.engine, sizes_for(posts), app.config["POSTS_PER_PAGE"])
    Path(out).write_bytes(pickle.dumps(dataset))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=6_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--trace", action="store_true", help="tracemalloc: what grew, by line")
    parser.add_argument("--group", default="lineno", help="tracemalloc: lineno or filename")
    parser.add_argument("--trim", action="store_true", help="malloc_trim(0) at the end (glibc)")
    parser.add_argument("--nocache", action="store_true", help="page cache off")
    parser.add_argument(
        "--drop-cache",
        action="store_true",
        help="at the end, empty the page cache, collect and trim: what giving its pages up frees",
    )
    parser.add_argument(
        "--trim-seconds", type=float, help="MEMORY_TRIM_SECONDS (default: the app's; 0: off)"
    )
    parser.add_argument("--seed-into", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seed_into:
        seed(args.seed_into[0], args.posts, args.seed_into[1])
        return 0
    if "MALLOC_ARENA_MAX" not in os.environ:  # as forum.ops.serve runs the workers
        os.environ["MALLOC_ARENA_MAX"] = "2"
        os.execv(sys.executable, [sys.executable, *sys.argv])

    import pickle

    workdir = Path(tempfile.mkdtemp(prefix="memory-bench-"))
    try:
        url = f"sqlite:///{workdir / 'forum.db'}"
        subprocess.run(
            [sys.executable, __file__, "--posts", str(args.posts), "--seed-into", url,
             str(workdir / "dataset")],
            check=True,
        )  # fmt: skip
        dataset = pickle.loads((workdir / "dataset").read_bytes())
        os.environ.update(
            FORUM_DATABASE_URL=url,
            FORUM_INSTANCE_PATH=str(workdir),
            FORUM_INDEX_DIR=str(workdir / "index"),
            FORUM_SECRET_KEY="m" * 40,
            FORUM_MIGRATIONS="false",
            FORUM_RATELIMIT_ENABLED="false",
            FORUM_SEARCH_SYNC_ON_START="false",
            FORUM_PAGE_CACHE_SECONDS="0" if args.nocache else "30",
        )
        if args.trim_seconds is not None:
            os.environ["FORUM_MEMORY_TRIM_SECONDS"] = str(args.trim_seconds)
        if args.trace:
            tracemalloc.start(1)
        log(f"python alone: {rss_mb():.0f} MB, {len(sys.modules)} modules")
        from forum import create_app

        app = create_app()
        log(f"after create_app(): {rss_mb():.0f} MB, {len(sys.modules)} modules")
        log(f"  of which {rss_parts()}")
        log(f"  pymalloc: {pymalloc_stats()}")
        drive(app, dataset, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def drive(app: Any, dataset: Any, args: argparse.Namespace) -> None:
    import logging

    from bench.growth_bench import Client
    from bench.run import reply_body

    logging.getLogger("forum.request").setLevel(logging.WARNING)
    from sqlalchemy import event

    from forum.extensions import db

    connects = [0]
    with app.app_context():

        @event.listens_for(db.engine, "connect")
        def _count(*_args: Any) -> None:
            connects[0] += 1

    topics = [t for sig in sorted(dataset.topics_by_sig) for t in dataset.topics_by_sig[sig]]
    members = [Client(app, dataset.members[i]) for i in range(args.threads)]
    guests = [Client(app, None) for _ in range(args.threads)]
    log(f"after {args.threads} logins: {rss_mb():.0f} MB")
    languages = ["en", "de", "es"]
    big, last = dataset.big_topic_id, dataset.big_topic_pages
    done = [0]
    lock = threading.Lock()
    step = max(1, args.requests // 10)
    first_tenth: list[Any] = []

    def one(rng: random.Random, index: int) -> None:
        roll = rng.random()
        member = rng.random() < 0.3
        client = (members if member else guests)[index].client
        headers = {"Accept-Language": rng.choice(languages)}
        if member and roll < 0.08:
            name = dataset.members[index]
            sig_id = rng.choice(dataset.sigs_of_member[name])
            topic_id = rng.choice(dataset.topics_by_sig[sig_id])
            token = members[index].token(f"/t/{topic_id}")
            response = client.post(
                f"/t/{topic_id}/reply",
                data={"body": reply_body(rng), "csrf_token": token},
                headers=headers,
            )
            assert response.status_code == 302, response.status_code
            return
        if member and roll < 0.15:
            path = "/new"
        elif roll < 0.25:
            path = "/"
        elif roll < 0.45:
            n = rng.randrange(len(dataset.sig_slugs))
            pages = max(1, -(-len(dataset.topics_by_sig[n + 1]) // 30))  # (as bench/run.py)
            path = f"/s/{dataset.sig_slugs[n]}/?page={rng.randint(1, min(5, pages))}"
        elif roll < 0.6:
            path = f"/t/{big}?page={rng.randint(1, last)}"
        else:
            path = f"/t/{rng.choice(topics)}"
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code)

    def worker(index: int) -> None:
        rng = random.Random(index)
        while True:
            with lock:
                if done[0] >= args.requests:
                    return
                done[0] += 1
                n = done[0]
            one(rng, index)
            if n % step == 0:
                log(f"  after {n:>6} requests: {rss_mb():.0f} MB")

    if args.trace:
        first_tenth.append(tracemalloc.take_snapshot())
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
    cpu = time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu = time.process_time() - cpu
    log(
        f"end: {rss_mb():.0f} MB after {args.requests} requests ({args.threads} threads, "
        f"{cpu / args.requests * 1000:.2f} CPU ms a request)"
    )
    log(f"  of which {rss_parts()}")
    log(f"  SQLite's own: {sqlite_memory()}")
    log(f"  pymalloc: {pymalloc_stats()}")
    with app.app_context():
        from forum.extensions import db

        log(f"  pool: {db.engine.pool.status()}; {connects[0]} connections opened in all")
    from forum.ops import memory

    trimmer = memory.current_trimmer()
    if trimmer is not None:
        time.sleep(trimmer.delay + 1)
        log(f"idle for {trimmer.delay + 1:.0f} s: {rss_mb():.0f} MB ({trimmer.trims} trims)")
    from forum.search import indexer

    with app.app_context():  # let the search drain finish before the folder goes
        deadline = time.monotonic() + 30
        while indexer.backlog() > 0 and time.monotonic() < deadline:
            time.sleep(0.2)
    if args.trim:
        import ctypes

        started = time.perf_counter()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        took = (time.perf_counter() - started) * 1000
        log(f"after malloc_trim(0): {rss_mb():.0f} MB (it took {took:.1f} ms)")
    from forum import pagecache

    cache = pagecache.get_cache(app)
    if cache is not None:
        log(
            f"page cache: {len(cache._pages)} pages, {cache.size / 2**20:.1f} MB of bodies, "
            f"{cache.hits} hits, {cache.misses} misses"
        )
        if args.drop_cache:
            import ctypes
            import gc

            before = rss_mb()
            cache.clear()
            gc.collect()
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            log(
                f"page cache emptied, collected, trimmed: {rss_mb():.0f} MB (from {before:.0f}); "
                f"pymalloc: {pymalloc_stats()}"
            )
    sizes: dict[str, int] = {}
    guest = app.test_client()
    for name, path in (("SIG index", "/"), ("SIG page", f"/s/{dataset.sig_slugs[0]}/"),
                       ("topic page of 25 posts", f"/t/{big}?page=1"),
                       ("a random topic", f"/t/{topics[len(topics) // 2]}")):  # fmt: skip
        sizes[name] = len(guest.get(path).get_data())
    log("page sizes: " + ", ".join(f"{k} {v / 1000:.0f} KB" for k, v in sizes.items()))
    if args.trace:
        current, _peak = tracemalloc.get_traced_memory()
        log(f"Python objects (tracemalloc): {current / 2**20:.0f} MB now")
    if args.trace and first_tenth:
        end = tracemalloc.take_snapshot()
        diffs = end.compare_to(first_tenth[0], args.group)
        grew = sum(stat.size_diff for stat in diffs) / 2**20
        log(f"grew since create_app() (tracemalloc, by {args.group}): {grew:.1f} MB in all")
        for stat in diffs[:40]:
            log(f"  {stat}")
        log("largest at the end:")
        for stat in end.statistics("lineno")[:25]:
            log(f"  {stat}")


if __name__ == "__main__":
    raise SystemExit(main())
