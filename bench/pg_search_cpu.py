"""PostgreSQL's own CPU per search: the search bench's queries replayed on a kept database.

    python bench/pg_search_cpu.py postgresql://postgres@127.0.0.1:5432/forum_search_bench_xxxx
                                  [--queries 200] [--rounds 2] [--sorts relevance,newest]
                                  [--slowest 10] [--explain QUERY]

Runs `bench/search_bench.py`'s query set (as guest and member, best match and newest first)
through the search page's read model against a database that `search_bench.py --postgres
--keep-database` left, in this one process, one search after another, and gives for each row the
p50 / p99 of: the CPU time PostgreSQL's server process for this connection spent on the search
(its `sum_exec_runtime` in /proc/<pid>/schedstat, in nanoseconds: what eight searches at once
compete for on the machine's cores), this process's CPU time, and the wall time. The server's CPU
is the bench's cost that load on the machine does not change; wall time does. With `--explain`,
EXPLAIN (ANALYZE, BUFFERS) of every statement one search runs, as the member, instead.

Needs the PostgreSQL server on this machine (it reads /proc of the server's process).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.search_bench import percentile, query_set  # noqa: E402


def server_ns(pid: int) -> int:
    """CPU time the server process `pid` has run, in nanoseconds."""
    with open(f"/proc/{pid}/schedstat") as handle:
        return int(handle.read().split()[0])


def kind_of(q: str) -> str:
    if "author:" in q:
        return "author:"
    if "sig:" in q:
        return "sig:"
    if "in:title" in q:
        return "in:title"
    if "after:" in q:
        return "after:"
    if '"' in q:
        return "phrase"
    if q.endswith("*"):
        return "prefix"
    if " -" in q:
        return "exclusion"
    if " OR " in q:
        return "OR"
    return f"{len(q.split())} word(s)"


def statement_kind(statement: str) -> str:
    s = " ".join(statement.split())[:400]
    for mark, name in (
        ("EXPLAIN", "estimate"),
        ("WITH top", "search"),
        ("ts_headline", "excerpts"),
        ("set_config", "settings"),
        ("RESET", "reset"),
        ("plainto_tsquery", "tsqueries"),
        ("array((SELECT DISTINCT sigs.language", "tsqueries"),
        ("post_vectors.created_at  FROM post_vectors", "cut"),
        ("similarity", "suggest"),
        ("posts.body_html", "load"),
        ("FROM memberships", "memberships"),
        ("FROM sigs", "scope"),
    ):
        if mark in s:
            return name
    return s[:60]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("database")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sorts", default="relevance,newest")
    parser.add_argument("--slowest", type=int, default=10)
    parser.add_argument(
        "--best-of",
        type=int,
        default=1,
        help="run each search this many times in a row and keep its least PostgreSQL CPU (a "
        "figure that other processes on the machine move less)",
    )
    parser.add_argument("--who", default="guest,member")
    parser.add_argument(
        "--explain", default=None, help="a search to EXPLAIN, statement by statement"
    )
    parser.add_argument(
        "--statements", action="store_true", help="also PostgreSQL's CPU by kind of statement"
    )
    args = parser.parse_args()

    from sqlalchemy import event

    from forum import create_app
    from forum.accounts.models import User
    from forum.extensions import db
    from forum.search import queries

    app = create_app(
        {
            "SEARCH_SYNC_ON_START": False,
            "DATABASE_URL": args.database,
            "SEARCH_BACKEND": "postgres",
        }
    )
    per_statement: dict[str, list[float]] = {}
    if args.statements:
        started: list[tuple[int, int]] = []

        def before(conn: Any, cursor: Any, statement: str, *_a: Any) -> None:
            pid = conn.connection.dbapi_connection.info.backend_pid
            started.append((pid, server_ns(pid)))

        def after(conn: Any, cursor: Any, statement: str, *_a: Any) -> None:
            pid, ns = started.pop()
            per_statement.setdefault(statement_kind(statement), []).append(
                (server_ns(pid) - ns) / 1e6
            )

    with app.app_context():
        if args.statements:
            event.listen(db.engine, "before_cursor_execute", before)
            event.listen(db.engine, "after_cursor_execute", after)
        member = db.session.get(User, 2)
        if args.explain:
            explain(db, event, queries, member, args.explain)
            return
        qs = query_set(args.queries)
        for sort in args.sorts.split(","):
            for who, user in (("guest", None), ("member", member)):
                if who not in args.who.split(","):
                    continue
                queries.search_page(user, "modem", 1, sort)  # (warm: the first connection)
                server: list[float] = []
                cpu: list[float] = []
                wall: list[float] = []
                worst: dict[str, float] = {}
                by_kind: dict[str, list[float]] = {}
                for _ in range(args.rounds):
                    for q in qs:
                        tries = []
                        for _try in range(args.best_of):
                            db.session.rollback()
                            conn = db.session.connection()
                            pid = conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
                            s0, c0, t0 = server_ns(pid), time.process_time(), time.perf_counter()
                            page = queries.search_page(user, q, 1, sort)
                            tries.append(
                                (
                                    (server_ns(pid) - s0) / 1e6,
                                    (time.process_time() - c0) * 1000,
                                    (time.perf_counter() - t0) * 1000,
                                )
                            )
                        ms = min(t[0] for t in tries)
                        cpu.append(min(t[1] for t in tries))
                        wall.append(min(t[2] for t in tries))
                        server.append(ms)
                        worst[q] = max(worst.get(q, 0.0), ms)
                        by_kind.setdefault(kind_of(q), []).append(ms)
                        if page.error:
                            print(f"  refused: {q!r}: {page.error}")
                db.session.rollback()
                print(
                    f"{sort:<9} {who:<6}  PostgreSQL CPU p50 {statistics.median(server):5.1f} "
                    f"p99 {percentile(server, 99):5.1f} sum {sum(server) / args.rounds:6.0f} | "
                    f"app CPU p50 {statistics.median(cpu):5.1f} p99 {percentile(cpu, 99):5.1f} | "
                    f"wall p50 {statistics.median(wall):5.1f} p99 {percentile(wall, 99):5.1f} ms"
                )
                kinds = ", ".join(
                    f"{k} {statistics.median(v):.1f}/{max(v):.0f}"
                    for k, v in sorted(by_kind.items(), key=lambda kv: -statistics.median(kv[1]))
                )
                print(f"    by kind (PostgreSQL CPU median/max): {kinds}")
                slow = sorted(worst.items(), key=lambda kv: -kv[1])[: args.slowest]
                print("    slowest: " + ", ".join(f"{q!r} {ms:.0f}" for q, ms in slow))
                if per_statement:
                    n = args.rounds * len(qs)
                    print(
                        "    by statement (PostgreSQL CPU ms a search, mean; statements): "
                        + ", ".join(
                            f"{k} {sum(v) / n:.2f} ({len(v)})"
                            for k, v in sorted(per_statement.items(), key=lambda kv: -sum(kv[1]))
                        )
                    )
                    per_statement.clear()


def explain(db: Any, event: Any, queries: Any, member: Any, q: str) -> None:
    """Each statement of one search (member, both sorts) under EXPLAIN (ANALYZE, BUFFERS)."""
    seen: list[tuple[str, Any]] = []

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    engine = db.engine
    for sort in ("relevance", "newest"):
        seen.clear()
        event.listen(engine, "before_cursor_execute", record)
        queries.search_page(member, q, 1, sort)
        event.remove(engine, "before_cursor_execute", record)
        db.session.rollback()
        print(f"===== {q!r}, {sort}: {len(seen)} statements")
        conn = db.session.connection()
        from forum.search.postgres import PLANNER_SETTINGS

        for name, value in PLANNER_SETTINGS.items():
            conn.exec_driver_sql(f"SET {name} = '{value}'")
        for statement, parameters in seen:
            if "EXPLAIN" in statement:
                continue
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
            print(statement[:300].replace("\n", " "), "...")
            print("\n".join(r[0] for r in rows))
            print()
        db.session.rollback()


if __name__ == "__main__":
    main()
