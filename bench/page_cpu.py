"""CPU time of the pages with a ratio target, and of the bare page, in one process.

    python bench/page_cpu.py [--posts 50000] [--repeat 9] [--rounds 3] [--postgres]
    python bench/page_cpu.py --profile sig_page_member | --sql sig_page_member

Seeds a forum as bench/growth_bench.py does (a temporary SQLite database, or a new PostgreSQL
one with --postgres), then renders through the Flask test client, page cache off: the guest SIG
index, SIG page and topic page; a member's SIG index, SIG page and topic page (a member of the
SIG who has read nothing, as `make bench`'s "member" rows); the page frame alone for each
(`/search` without words: the header, the footer, the session, no content); and the bare page
(bench/bare.py) on the same database. Prints the CPU milliseconds per request (median of
--rounds passes, each the median of --repeat batches) and the bare page's CPU as a share of
each page's: roughly the ratio `make bench` shows on an idle machine, less the server's own
work per request (HTTP, gunicorn), which is the same for every page and lifts the real ratios
of the slower pages.

--sql NAME prints the SQL statements of one request of a page, each with how SQLAlchemy got it
("cached since …" or "generated"). --profile NAME runs cProfile over 200 requests of one page
and prints the top calls by cumulative and by own time; the whole profile goes to
/tmp/page_cpu_NAME.prof, for pstats.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import logging
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import data  # noqa: E402
from bench.databases import fresh_database, log, postgres_server  # noqa: E402
from bench.growth_bench import Client, sizes_for  # noqa: E402

BATCH = 10


def timed(fn: Any, repeat: int) -> float:
    """Median CPU milliseconds per request over `repeat` batches, after a warm-up."""
    for _ in range(3):
        fn()
    cpus = []
    for _ in range(repeat):
        cpu = time.process_time()
        for _ in range(BATCH):
            fn()
        cpus.append((time.process_time() - cpu) / BATCH * 1000)
    return statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=9, help="timed batches per page")
    parser.add_argument("--rounds", type=int, default=3, help="passes over every page")
    parser.add_argument("--profile", help="cProfile one page (by name)")
    parser.add_argument("--sql", help="print the SQL statements of one request of a page")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args(argv)
    logging.getLogger("forum.request").setLevel(logging.WARNING)

    from flask_migrate import upgrade

    from forum import create_app
    from forum.extensions import db

    workdir = Path(tempfile.mkdtemp(prefix="page-cpu-"))
    url, drop = fresh_database(workdir, "page_cpu", postgres_server(args.postgres))
    try:
        app = create_app(
            {
                "DATABASE_URL": url,
                "INDEX_DIR": str(workdir / "index"),
                "SECRET_KEY": "page-cpu-" + "x" * 32,
                "SEARCH_SYNC_ON_START": False,
                "REDIS_URL": None,
                "RATELIMIT_ENABLED": False,
                "PAGE_CACHE_SECONDS": 0,
            }
        )
        sizes = sizes_for(args.posts)
        with app.app_context():
            upgrade()
            dataset = data.build(db.engine, sizes, app.config["POSTS_PER_PAGE"])
        os.environ["FORUM_DATABASE_URL"] = url
        bare = importlib.import_module("bench.bare").app.test_client()
        slug = dataset.sig_slugs[0]
        member_name = next(m for m in dataset.members if 1 in dataset.sigs_of_member.get(m, ()))
        guest, member = Client(app, None), Client(app, member_name)
        big = dataset.big_topic_id

        def bare_get() -> None:
            assert bare.get(f"/bare/{big}").status_code == 200

        pages: dict[str, Any] = {
            "bare": bare_get,
            "sig_index_nocache": lambda: guest.get("/"),
            "sig_page_nocache": lambda: guest.get(f"/s/{slug}/"),
            "topic_first_nocache": lambda: guest.get(f"/t/{big}?page=1"),
            "sig_index_member": lambda: member.get("/"),
            "sig_page_member": lambda: member.get(f"/s/{slug}/"),
            "topic_member": lambda: member.get(f"/t/{big}?page=1"),
            "frame_guest": lambda: guest.get("/search"),
            "frame_member": lambda: member.get("/search"),
        }
        if args.sql:
            from sqlalchemy import event

            pages[args.sql]()
            statements: list[str] = []

            def record(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
                context = rest[-2]  # how SQLAlchemy got the SQL: "cached since …", "generated …"
                statements.append(f"-- {context._get_cache_stats()}\n{statement}")

            with app.app_context():
                engine = db.engine
            event.listen(engine, "before_cursor_execute", record)
            pages[args.sql]()
            event.remove(engine, "before_cursor_execute", record)
            for statement in statements:
                log(" ".join(statement.split()) + "\n")
            return 0
        if args.profile:
            fn = pages[args.profile]
            for _ in range(5):
                fn()
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(200):
                fn()
            profiler.disable()
            profiler.dump_stats(f"/tmp/page_cpu_{args.profile}.prof")
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(35)
            return 0
        results: dict[str, list[float]] = {name: [] for name in pages}
        for _ in range(args.rounds):
            for name, fn in pages.items():
                results[name].append(timed(fn, args.repeat))
        bare_ms = statistics.median(results["bare"])
        log(f"\n{'page':<22}{'CPU ms (median)':>16}{'rounds':>24}{'bare / page':>13}")
        for name, values in results.items():
            ms = statistics.median(values)
            rounds = " ".join(f"{v:.2f}" for v in values)
            log(f"{name:<22}{ms:>16.2f}{rounds:>24}{bare_ms / ms:>12.0%}")
        with app.app_context():
            db.engine.dispose()
        return 0
    finally:
        drop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
