"""Time the pulse dashboard at size beside a bare Flask page, and count its queries.

    python bench/pulse_bench.py [--postgres] [--scale 1] [--repeat 5]

Runnable alone: it seeds its own forum (bench/data.py: 5,000 members, 100,000 posts, bulk
inserts) on a temporary SQLite database, or on FORUM_BENCH_POSTGRES_URL with --postgres. Under
`make bench` it uses the forum already seeded there (FORUM_DATABASE_URL). It adds one visit row
per member for 20 of the last 90 days, then renders the dashboard in-process (the Flask test
client, no network) for three ranges and one SIG, next to bench/bare.py's page rendered the
same way, and prints the median wall and CPU times, the ratio bare/dashboard, and the number of
SQL statements per dashboard.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, select, text  # noqa: E402

from bench import data  # noqa: E402
from bench.databases import fresh_database, log, postgres_server  # noqa: E402

VISIT_DAYS = 20


def add_visits(engine: Any, now: datetime) -> int:
    """One visit row per member on VISIT_DAYS random days of the last 90 (skipped if present)."""
    from forum.extensions import db

    visits = db.metadata.tables["member_visits"]
    users = db.metadata.tables["users"]
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(visits)).scalar():
            return 0
        ids = [row[0] for row in conn.execute(select(users.c.id))]
        rng = random.Random(5)
        rows = []
        for user_id in ids:
            for days_ago in rng.sample(range(90), VISIT_DAYS):
                day = (now - timedelta(days=days_ago)).date()
                moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
                    seconds=rng.randrange(86400)
                )
                rows.append({"user_id": user_id, "day": day, "first_seen_at": min(moment, now)})
        for start in range(0, len(rows), 5000):
            conn.execute(visits.insert(), rows[start : start + 5000])
    return len(rows)


def analyze(engine: Any, table: str) -> None:
    """Statistics (and on PostgreSQL the visibility map) for rows just bulk-inserted, as a forum
    that wrote them over months would have from autovacuum; without them the planner is blind."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM ANALYZE {table}"))
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"ANALYZE {table}")


def timed(fn: Any, repeat: int) -> tuple[float, float]:
    """The median wall time and the median CPU time of this process over `repeat` calls, after
    one warm-up call. On a shared machine the CPU time says more about the code; on SQLite it
    includes the database's work, on PostgreSQL the server's work is not in it."""
    fn()
    walls, cpus = [], []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--scale", type=float, default=1.0, help="data set size (1 = full)")
    parser.add_argument("--repeat", type=int, default=5, help="timed renders per page")
    args = parser.parse_args(argv)

    from flask_migrate import upgrade

    from forum import create_app
    from forum.accounts.models import User
    from forum.extensions import db

    workdir = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
    url = os.environ.get("FORUM_DATABASE_URL", "")
    drop = lambda: None  # noqa: E731
    seeded = bool(url)
    if not seeded:
        url, drop = fresh_database(workdir, "pulse_bench", postgres_server(args.postgres))
    app = create_app(
        {
            "DATABASE_URL": url,
            "INDEX_DIR": str(workdir / "index"),
            "SECRET_KEY": os.environ.get("FORUM_SECRET_KEY", "pulse-bench-secret"),
            "SEARCH_SYNC_ON_START": False,
            "REDIS_URL": None,
            "RATELIMIT_ENABLED": False,
        }
    )
    # One log line per request is the production setting; here it would bury the table.
    logging.getLogger("forum.request").setLevel(logging.WARNING)
    try:
        with app.app_context():
            if not seeded:
                log(f"Seeding the bench forum (bench/data.py, scale {args.scale}) …")
                started = time.perf_counter()
                upgrade()
                data.build(db.engine, data.Sizes().scaled(args.scale), app.config["POSTS_PER_PAGE"])
                log(f"  seeded in {time.perf_counter() - started:.1f} s")
            now = datetime.now(UTC)
            added = add_visits(db.engine, now)
            log(f"  {added:,} visit rows added")
            if added:
                analyze(db.engine, "member_visits")
            counts = {
                name: db.session.scalar(text(f"SELECT count(*) FROM {name}"))
                for name in ("users", "posts", "topics", "member_visits")
            }
            sysop = db.session.scalar(select(User).where(User.role == "sysop").limit(1))
            assert sysop is not None, "the seeded forum has no global sysop"
            login_id = sysop.get_id()
            topic_id = db.session.scalar(text("SELECT min(id) FROM topics"))
            sig_slug = db.session.scalar(text("SELECT slug FROM sigs ORDER BY id LIMIT 1"))
            db.session.remove()

        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = login_id
            session["_fresh"] = True

        os.environ["FORUM_DATABASE_URL"] = url
        from bench import bare

        bare_client = bare.app.test_client()

        def get(c: Any, path: str) -> Any:
            def fetch() -> None:
                response = c.get(path)
                assert response.status_code == 200, (path, response.status_code)

            return fetch

        statements: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        today = datetime.now(UTC).date()
        year = f"range=custom&start={today - timedelta(days=365)}&end={today}"
        pages = [
            ("pulse, last 30 days", "/pulse?range=30"),
            ("pulse, last 90 days", "/pulse?range=90"),
            ("pulse, a whole year", f"/pulse?{year}"),
            ("pulse, one SIG, a year", f"/s/{sig_slug}/pulse?{year}"),
        ]
        bare_s, bare_cpu = timed(get(bare_client, f"/bare/{topic_id}"), args.repeat)
        results: dict[str, Any] = {
            "bare_ms": round(bare_s * 1000, 2),
            "bare_cpu_ms": round(bare_cpu * 1000, 2),
            "pages": {},
            "rows": counts,
        }
        log(f"\nData: {counts}")
        log(f"{'page':32} {'median ms':>10} {'CPU ms':>8} {'bare/page':>10} {'queries':>8}")
        log(
            f"{'bare Flask page (25 posts)':32} {bare_s * 1000:10.1f} {bare_cpu * 1000:8.1f} "
            f"{'100 %':>10} {1:8}"
        )
        with app.app_context():
            engine = db.engine
        for label, path in pages:
            seconds, cpu = timed(get(client, path), args.repeat)
            statements.clear()
            event.listen(engine, "before_cursor_execute", record)
            try:
                get(client, path)()
            finally:
                event.remove(engine, "before_cursor_execute", record)
            ratio = bare_s / seconds
            results["pages"][label] = {
                "path": path,
                "median_ms": round(seconds * 1000, 2),
                "cpu_ms": round(cpu * 1000, 2),
                "ratio_to_bare": round(ratio, 4),
                "queries": len(statements),
            }
            log(
                f"{label:32} {seconds * 1000:10.1f} {cpu * 1000:8.1f} {ratio:10.1%} "
                f"{len(statements):8}"
            )
        out_dir = Path(os.environ.get("BENCH_RESULTS_DIR", ROOT / "bench" / "results"))
        out_dir.mkdir(parents=True, exist_ok=True)
        dialect = "postgresql" if url.startswith("postgresql") else "sqlite"
        (out_dir / f"pulse-{dialect}.json").write_text(json.dumps(results, indent=2))
    finally:
        with app.app_context():
            db.engine.dispose()
        drop()
        shutil.rmtree(workdir, ignore_errors=True)  # the SQLite database is 120 MB
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
