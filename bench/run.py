"""`make bench`: seed the fixed data set, serve it with the production setup on loopback, and
measure each page as a ratio to a bare Flask page served the same way in the same run.

    python bench/run.py [--postgres] [--redis URL] [--duration 8] [--connections 8]
    python bench/run.py --smoke    # seconds: every page once on a tiny data set (a test runs it)

SQLite by default; --postgres makes its own database on FORUM_BENCH_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/postgres) and drops it afterwards. Prints a table
and writes JSON to bench/results/. Rate limits are off (they would measure the limiter).
With --postgres the forum searches with PostgreSQL full-text search (the default there), and a
second set of servers searches the same posts with Whoosh: the rows search_whoosh and
reply_whoosh, and both index build times, stand beside search and reply (issue 26);
bench/search_bench.py then times queries with excerpts on both backends (BENCH_POSTGRES_URL).

Other benchmarks (bench/search_bench.py, realtime_bench.py, pulse_bench.py, growth_bench.py,
sockets_bench.py, digest_bench.py) run after, when present, with the seeded forum described in
their environment: FORUM_DATABASE_URL, FORUM_INSTANCE_PATH, FORUM_INDEX_DIR, FORUM_SECRET_KEY,
BENCH_BASE_URLS (the running forum processes, comma-separated), BENCH_RESULTS_DIR, BENCH_DATASET
(a JSON file of ids).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import data, loadgen  # noqa: E402
from bench.databases import fresh_database, log  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# Memory is read again this long after the end: the workers' MEMORY_TRIM_SECONDS (10) and a
# second for the trim (forum.ops.memory).
REST_SECONDS = 11
EXTRA_BENCHES = (
    "search_bench.py",
    "realtime_bench.py",
    "pulse_bench.py",
    "growth_bench.py",
    "sockets_bench.py",
    "digest_bench.py",
)
# Seconds each may take (default 300): growth_bench.py seeds two forums of its own (50,000 and
# 200,000 posts); sockets_bench.py opens thousands of sockets, which takes minutes on 2 cores.
# digest_bench.py renders and queues 10,000 digests (some 10 minutes on SQLite).
EXTRA_TIMEOUT = {
    "growth_bench.py": 1800,
    "sockets_bench.py": 900,
    "digest_bench.py": 1800,
    "search_bench.py": 2400,
}
PY = sys.executable

# Targets from the issue, as (kind, value): ratio to bare, or latency in ms.
TARGETS = {
    "sig_index_nocache": "≥ 60 %",
    "sig_page_nocache": "≥ 60 %",
    "topic_first_nocache": "≥ 50 %",
    "topic_last_nocache": "≥ 50 %",
    "sig_page_member": "≥ 45 %",
    "topic_member": "≥ 50 %",
    "search": "≥ 10 %",
    "search_whoosh": "≥ 10 % (the same searches, Whoosh)",
    "reply_whoosh": "(Whoosh; PostgreSQL's reply p99 within 20 % of it)",
    "open_reply": "p99 < 150 ms",
    "open_page": "p99 < 100 ms",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------- database


def seed(env: dict[str, str], sizes: data.Sizes, password_method: str | None) -> data.Dataset:
    from flask_migrate import upgrade

    from forum import create_app
    from forum.extensions import db

    app = create_app(
        {
            "DATABASE_URL": env["FORUM_DATABASE_URL"],
            "INDEX_DIR": env["FORUM_INDEX_DIR"],
            "SECRET_KEY": env["FORUM_SECRET_KEY"],
            "SEARCH_SYNC_ON_START": False,
            "REDIS_URL": None,
        }
    )
    with app.app_context():
        started = time.perf_counter()
        upgrade()
        migrate_s = time.perf_counter() - started
        dataset = data.build(db.engine, sizes, app.config["POSTS_PER_PAGE"], password_method)
        dataset.timings["migrate_s"] = migrate_s
        has_reindex = "reindex" in getattr(app.cli.commands.get("forum"), "commands", {})
        db.engine.dispose()
    dataset.timings["has_reindex"] = float(has_reindex)
    return dataset


def reindex(env: dict[str, str], backend: str | None = None) -> tuple[bool, float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [
            PY,
            "-m",
            "flask",
            "--app",
            "wsgi.py",
            "forum",
            "reindex",
            *(["--backend", backend] if backend else []),
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    tail = (result.stdout + result.stderr).strip()[-500:]
    return result.returncode == 0, time.perf_counter() - started, tail


# ---------------------------------------------------------------------------- servers


class Servers:
    """gunicorn processes started through forum.ops.serve: the production setup."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, env: dict[str, str], count: int, app: str | None, name: str) -> list[int]:
        ports = []
        for i in range(count):
            port = free_port()
            logfile = (self.workdir / f"{name}-{i}.log").open("wb")
            command = [PY, "-m", "forum.ops.serve", *([app] if app else [])]
            proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env={
                    "FORUM_BASE_URL": f"http://127.0.0.1:{port}",
                    **env,
                    "FORUM_BIND": f"127.0.0.1:{port}",
                    "FORUM_WORKERS": "1",
                },
                stdout=logfile,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.procs.append(proc)
            ports.append(port)
        return ports

    def wait(self, ports: list[int], path: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        for port in ports:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server on port {port} did not answer {path}")
                time.sleep(0.3)

    def worker_pids(self, procs: list[subprocess.Popen[bytes]] | None = None) -> list[int]:
        pids = []
        for proc in procs or self.procs:
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
            if children.exists():
                pids += [int(p) for p in children.read_text().split()]
        return pids

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


# ---------------------------------------------------------------------------- scenarios

# Who drives a closed-loop row: "bare" (the yardstick), "anon" (a guest, served from the page
# cache when it holds the page), "nocache" (a guest of processes started with the page cache off),
# "guest_session" (a guest whose browser holds a session: rendered, never cached), "member"
# (a member who has read nothing) and "reader" (a member who has marked everything read).
# Members 0-7 drive "member", 8-15 "reader", 16-31 the open-loop replies, 32-47 its member
# page views: each client is its own member, so no two share read positions.
READERS = 8
OPEN_REPLIERS = 16
OPEN_VIEWERS = 16
OPEN_GUESTS = 24
# --smoke: how long a row that finished no request in its 0.6 s is measured again.
SMOKE_RETRY_SECONDS = 5.0
# --smoke: each connection's measured requests a row (then it stops): the smoke asks that
# every page answers, and a row driven flat out for its 0.6 s took a core from the test suite
# it runs in (tests/test_bench.py: 70 s of a `make test`, most of it measuring).
SMOKE_REQUESTS = 3

# --smoke's password hashes: still scrypt, with the work factor the tests use
# (tests/factories.py CHEAP_PASSWORDS); `make bench` keeps the production hashes.
SMOKE_PASSWORDS = "scrypt:1024:8:1"


def reply_body(rng: random.Random) -> str:
    """A reply as long as real ones (about 85 words, as the search anchors use), in two
    paragraphs."""
    n = rng.randint(60, 110)
    first = rng.randint(n // 3, 2 * n // 3)
    return data.sentence(rng, first) + "\n\n" + data.sentence(rng, n - first)


def scenarios(
    dataset: data.Dataset, has_search: bool, whoosh_too: bool = False
) -> list[tuple[str, str, Any]]:
    """(name, who, step) of the closed-loop rows, in the order of each round. Rows that write
    come last: the reply row adds posts that others would then have to read."""
    last = dataset.big_topic_pages
    big = dataset.big_topic_id
    rng = random.Random(3)
    sig = dataset.sig_slugs[0]

    def get(path: str) -> Any:
        return lambda session, index: ("GET", path, None, 200)

    def reply(session: loadgen.Session, index: int) -> Any:
        member = dataset.members[index]
        sig_id = rng.choice(dataset.sigs_of_member[member])
        topic_id = rng.choice(dataset.topics_by_sig[sig_id][1:] or dataset.topics_by_sig[sig_id])
        form = {"body": reply_body(rng), "csrf_token": session.csrf}
        return ("POST", f"/t/{topic_id}/reply", form, 302)

    queries = list(data.SEARCH_QUERIES)

    def search(session: loadgen.Session, index: int) -> Any:
        q = queries[(index + int(time.perf_counter() * 1000)) % len(queries)]
        return ("GET", "/search?" + urllib.parse.urlencode({"q": q}), None, 200)

    out = [("bare", "bare", get(f"/bare/{big}"))]
    for name, path in (
        ("sig_index", "/"),
        ("sig_page", f"/s/{sig}/"),
        ("topic_first", f"/t/{big}?page=1"),
        ("topic_last", f"/t/{big}?page={last}"),
    ):
        out.append((name, "anon", get(path)))
        out.append((f"{name}_nocache", "nocache", get(path)))
    out += [
        ("topic_rendered", "guest_session", get(f"/t/{big}?page=1")),
        ("sig_index_member", "member", get("/")),
        ("sig_page_member", "member", get(f"/s/{sig}/")),
        ("topic_member", "member", get(f"/t/{big}?page=1")),
        ("new", "member", get("/new")),
        ("new_read_all", "reader", get("/new")),
    ]
    if has_search:
        out.append(("search", "anon", search))
    if whoosh_too:  # (--postgres: the same searches and replies on servers searching with Whoosh)
        out.append(("search_whoosh", "anon_whoosh", search))
    out.append(("reply", "member", reply))
    if whoosh_too:
        out.append(("reply_whoosh", "member_whoosh", reply))
    out.append(("bare_again", "bare", get(f"/bare/{big}")))
    return out


def open_loop_streams(
    dataset: data.Dataset,
    replies: list[loadgen.Session],
    viewers: list[loadgen.Session],
    guests: list[loadgen.Session],
    reply_rate: float,
    page_rate: float,
) -> list[loadgen.Stream]:
    """Replies at `reply_rate` a second from their own members; page views at `page_rate` from
    other clients: three in four from guests (the SIG index, SIG pages and topic pages, first
    page mostly), one in four from members reading topics (each view writes a read position)."""
    rng = random.Random(5)
    topics = [t for sig in sorted(dataset.topics_by_sig) for t in dataset.topics_by_sig[sig]]
    n_guests = len(guests)

    def reply(session: loadgen.Session, index: int) -> Any:
        member = dataset.members[READERS * 2 + index]
        sig_id = rng.choice(dataset.sigs_of_member[member])
        topic_id = rng.choice(dataset.topics_by_sig[sig_id][1:] or dataset.topics_by_sig[sig_id])
        form = {"body": reply_body(rng), "csrf_token": session.csrf}
        return ("POST", f"/t/{topic_id}/reply", form, 302)

    def page(session: loadgen.Session, index: int) -> Any:
        roll = rng.random()
        if index >= n_guests:  # a member's client: an explicit page, or it may redirect
            return ("GET", f"/t/{rng.choice(topics)}?page=1", None, 200)
        if roll < 0.1:
            return ("GET", "/", None, 200)
        if roll < 0.3:
            n = rng.randrange(len(dataset.sig_slugs))
            slug = dataset.sig_slugs[n]
            pages = max(1, -(-len(dataset.topics_by_sig[n + 1]) // 30))
            return (
                "GET",
                f"/s/{slug}/?page={1 if rng.random() < 0.7 else rng.randint(1, min(5, pages))}",
                None,
                200,
            )
        if roll < 0.4:
            return (
                "GET",
                f"/t/{dataset.big_topic_id}?page={rng.randint(1, dataset.big_topic_pages)}",
                None,
                200,
            )
        return ("GET", f"/t/{rng.choice(topics)}", None, 200)

    return [
        loadgen.Stream("open_reply", reply_rate, replies, reply),
        loadgen.Stream("open_page_guest", page_rate * 0.75, guests, page),
        loadgen.Stream(
            "open_page_member",
            page_rate * 0.25,
            viewers,
            lambda session, index: page(session, n_guests + index),
        ),
    ]


# ---------------------------------------------------------------------------- main


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "kernel": platform.release(),
        # Other work on the machine skews absolute figures; the ratios hold up better.
        "load_average_at_start": [round(x, 1) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "FORUM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--redis", default="", help="a Redis URL for the app processes")
    parser.add_argument("--processes", type=int, default=2, help="app processes (1 worker each)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per page")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds unmeasured first")
    parser.add_argument("--runs", type=int, default=3, help="rounds over every page")
    parser.add_argument("--open-duration", type=float, default=20.0, help="open-loop seconds")
    parser.add_argument("--reply-rate", type=float, default=50.0, help="open-loop replies/s")
    parser.add_argument("--page-rate", type=float, default=200.0, help="open-loop page views/s")
    parser.add_argument("--scale", type=float, default=1.0, help="data set size (1 = full)")
    parser.add_argument("--no-extra", action="store_true", help="skip other helpers' benches")
    parser.add_argument(
        "--extra", default="", help="comma-separated extra benches to run (default: all)"
    )
    parser.add_argument("--output", default="", help="JSON path (default bench/results/…)")
    parser.add_argument(
        "--pages",
        default="",
        help="comma-separated pages to measure (topic_member,reply,open,…); bare always runs",
    )
    parser.add_argument(
        "--cache-pair-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the page-cache pair only (e.g. FORUM_PAGE_CACHE_SECONDS=0, to tell "
        "what its cache holds from what its other rows leave); may be repeated",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="every page briefly on the smallest data set: checks the bench runs (figures mean "
        "nothing); exits 1 if a page failed",
    )
    args = parser.parse_args(argv)
    open_warmup, open_guests = 2.0, OPEN_GUESTS
    open_repliers, open_viewers = OPEN_REPLIERS, OPEN_VIEWERS
    if args.smoke:
        # Seconds, not minutes (a test runs it): the smallest data set, cheap password hashes
        # (every member signs in), 0.6 s a page (a loaded machine still answers a page several
        # times in it), and an open loop at a tenth of the rates, with fewer clients.
        args.scale, args.duration, args.warmup, args.runs = 0.005, 0.6, 0.1, 1
        args.open_duration, args.connections, args.no_extra = 1.0, 2, True
        args.reply_rate, args.page_rate = 10.0, 40.0
        open_warmup, open_guests, open_repliers, open_viewers = 0.5, 6, 4, 4
    wanted = {p.strip() for p in args.pages.split(",") if p.strip()}

    begun = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="forum-bench-"))
    instance = workdir / "instance"
    instance.mkdir()
    url, drop_database = fresh_database(
        workdir, "bench", args.postgres_url if args.postgres else None
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORUM_", "FLASK_"))}
    env.update(
        FORUM_DATABASE_URL=url,
        FORUM_INSTANCE_PATH=str(instance),
        FORUM_INDEX_DIR=str(instance / "index"),
        FORUM_SECRET_KEY=secrets.token_hex(32),
        FORUM_RATELIMIT_ENABLED="false",
        FORUM_THREADS="16",
    )
    if args.smoke:
        env["FORUM_PASSWORD_HASH_METHOD"] = SMOKE_PASSWORDS
    if args.redis:
        env["FORUM_REDIS_URL"] = args.redis
    sizes = data.Sizes().scaled(args.scale)
    servers = Servers(workdir)
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": "postgresql" if args.postgres else "sqlite",
        "redis": bool(args.redis),
        "machine": machine(),
        "setup": {
            "processes": args.processes,
            "workers_per_process": 1,
            "worker_class": "gthread",
            "connections": args.connections,
            "duration_s": args.duration,
            "runs": args.runs,
            "open_loop": {
                "seconds": args.open_duration,
                "reply_rate": args.reply_rate,
                "page_rate": args.page_rate,
            },
        },
        "dataset": asdict(sizes),
        "results": {},
        "runs": {},
    }
    try:
        log(f"Seeding {sizes} into {report['database']} …")
        dataset = seed(env, sizes, SMOKE_PASSWORDS if args.smoke else None)
        report["timings"] = {k: round(v, 2) for k, v in dataset.timings.items()}
        log(f"  seeded in {dataset.timings['insert_s'] + dataset.timings['generate_s']:.1f} s")
        has_search = whoosh_too = False
        if dataset.timings.get("has_reindex"):
            # On PostgreSQL: its full-text search (the default there) fills the posts' vectors.
            ok, seconds, tail = reindex(env)
            report["timings"]["reindex_s"] = round(seconds, 2)
            log(f"  search index built in {seconds:.1f} s" if ok else f"  reindex failed: {tail}")
            has_search = ok
            if args.postgres and ok:
                # And a Whoosh index of the same posts, for servers that search with Whoosh.
                ok, seconds, tail = reindex(env, "whoosh")
                report["timings"]["reindex_whoosh_s"] = round(seconds, 2)
                log(f"  Whoosh index built in {seconds:.1f} s" if ok else f"  failed: {tail}")
                whoosh_too = ok
        (workdir / "dataset.json").write_text(json.dumps(asdict(dataset)))

        forum_env = {**env, **dict(pair.split("=", 1) for pair in args.cache_pair_env)}
        forum_ports = servers.start(forum_env, args.processes, None, "forum")
        forum_procs = list(servers.procs)
        nocache_env = {**env, "FORUM_PAGE_CACHE_SECONDS": "0"}
        nocache_ports = servers.start(nocache_env, args.processes, None, "nocache")
        nocache_procs = [p for p in servers.procs if p not in forum_procs]
        bare_ports = servers.start(env, args.processes, "bench.bare:app", "bare")
        whoosh_ports: list[int] = []
        if whoosh_too:
            # As a Whoosh deployment on PostgreSQL before issue 26: no vectors written.
            whoosh_env = {
                **env,
                "FORUM_SEARCH_BACKEND": "whoosh",
                "FORUM_SEARCH_POSTGRES_VECTORS": "false",
            }
            whoosh_ports = servers.start(whoosh_env, args.processes, None, "whoosh")
            servers.wait(whoosh_ports, "/readyz")
        servers.wait(forum_ports + nocache_ports, "/readyz")
        servers.wait(bare_ports, f"/bare/{dataset.big_topic_id}")
        if has_search:
            probe = urllib.request.urlopen(
                f"http://127.0.0.1:{forum_ports[0]}/search?q={data.WORDS[0]}", timeout=30
            )
            has_search = probe.status == 200

        def sessions(who: str, count: int = args.connections, first: int = 0) -> list[Any]:
            ports = {"bare": bare_ports, "nocache": nocache_ports}.get(who, forum_ports)
            if who.endswith("_whoosh"):
                ports = whoosh_ports
            made = [loadgen.Session("127.0.0.1", ports[i % len(ports)]) for i in range(count)]
            if who in ("member", "reader", "member_whoosh"):
                offset = first + (READERS if who == "reader" else 0)
                for i, session in enumerate(made):
                    session.login(dataset.members[offset + i], data.PASSWORD)
            if who == "guest_session":
                # A guest whose browser holds a session (a login form's token): the guest page
                # cache does not serve it, so this measures rendering the page for a guest.
                for session in made:
                    session.fetch_csrf("/login")
            return made

        whos = ["bare", "anon", "nocache", "guest_session", "member", "reader"]
        pool = {
            who: sessions(who)
            for who in whos + (["anon_whoosh", "member_whoosh"] if whoosh_too else [])
        }
        rows = [
            row
            for row in scenarios(dataset, has_search, whoosh_too)
            if not wanted or row[0] in wanted or row[1] == "bare"
        ]
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in rows}
        for n in range(args.runs):
            log(f"Round {n + 1} of {args.runs}")
            # The readers mark everything read again: the last round's replies are news.
            for session in pool["reader"]:
                session.request("POST", "/new/read", {"csrf_token": session.csrf})
            for name, who, step in rows:
                result = loadgen.run(
                    pool[who], step, args.duration, args.warmup, SMOKE_REQUESTS if args.smoke else 0
                )
                if args.smoke and not result.requests:
                    # The smoke asks that every page answers, not how fast: on a machine the
                    # test suite loads (three workers beside it), no reply may finish inside
                    # 0.6 s (seen once in CI). Measure such a row again, longer.
                    log(f"  {name}: nothing finished in {args.duration} s; again for 5 s")
                    result = loadgen.run(
                        pool[who], step, SMOKE_RETRY_SECONDS, args.warmup, SMOKE_REQUESTS
                    )
                runs[name].append(
                    {
                        "rps": round(result.rps, 1),
                        "p50_ms": round(result.percentile(50), 2),
                        "p99_ms": round(result.percentile(99), 2),
                        "requests": result.requests,
                        "errors": result.errors,
                        **({"first_error": result.first_error} if result.first_error else {}),
                    }
                )
                row = runs[name][-1]
                log(
                    f"  {name:<18}{row['rps']:>9.1f} req/s{row['p50_ms']:>9.1f}"
                    f"{row['p99_ms']:>9.1f} ms{row['errors']:>6}"
                )
        for group in pool.values():
            for session in group:
                session.close()
        report["runs"] = runs
        report["results"] = summarize(runs)
        report["bare_rps"] = report["results"]["bare"]["rps"]

        if not wanted or "open" in wanted:
            report["open_loop"] = {}
            for label, ports in (("cache", forum_ports), ("nocache", nocache_ports)):
                log(
                    f"Open loop ({label}): {args.reply_rate:.0f} replies/s and "
                    f"{args.page_rate:.0f} page views/s for {args.open_duration:.0f} s"
                )
                repliers = sessions_on(ports, dataset, open_repliers, READERS * 2)
                viewers = sessions_on(ports, dataset, open_viewers, READERS * 2 + open_repliers)
                guests = [
                    loadgen.Session("127.0.0.1", ports[i % len(ports)]) for i in range(open_guests)
                ]
                streams = open_loop_streams(
                    dataset, repliers, viewers, guests, args.reply_rate, args.page_rate
                )
                results = loadgen.run_open(streams, args.open_duration, open_warmup)
                report["open_loop"][label] = open_summary(results)
                for session in repliers + viewers + guests:
                    session.close()

        if not args.no_extra:
            only = {name.strip() for name in args.extra.split(",") if name.strip()}
            report["extra"] = run_extra(
                env, forum_ports, workdir, only, args.postgres_url if args.postgres else ""
            )
        elif args.smoke:
            # The digest figure on a few members: it seeds its own forum (seconds).
            report["extra"] = run_extra(
                {**env, "BENCH_SMOKE": "1"}, forum_ports, workdir, {"digest_bench"}, ""
            )
        # Memory at the end of the run, after every page, the open loop and the other benches.
        report["memory_mb_per_worker"] = {
            label: [memory_mb(pid) for pid in servers.worker_pids(procs)]
            for label, procs in (("forum", forum_procs), ("nocache", nocache_procs))
        }
        report["bare_memory_mb_per_worker"] = [
            memory_mb(pid)
            for pid in servers.worker_pids(
                [p for p in servers.procs if p not in forum_procs + nocache_procs]
            )
        ]
        if not args.smoke:
            # And at rest, once each worker gave its free memory back (forum.ops.memory).
            time.sleep(REST_SECONDS)
            report["memory_mb_per_worker_at_rest"] = {
                label: [memory_mb(pid) for pid in servers.worker_pids(procs)]
                for label, procs in (("forum", forum_procs), ("nocache", nocache_procs))
            }
    finally:
        servers.stop()
        drop_database()
        shutil.rmtree(workdir, ignore_errors=True)

    report["total_s"] = round(time.perf_counter() - begun, 1)
    print_table(report)
    if args.smoke:
        problems = smoke_problems(report)
        for problem in problems:
            log(f"smoke: {problem}")
        if args.output:
            Path(args.output).write_text(json.dumps(report, indent=2))
        return 1 if problems else 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.output) if args.output else RESULTS / f"bench-{report['database']}-{stamp}.json"
    out.write_text(json.dumps(report, indent=2))
    if not args.output:
        (RESULTS / f"latest-{report['database']}.json").write_text(json.dumps(report, indent=2))
    log(f"\nWrote {out}")
    errors = [row["errors"] for row in report["results"].values()]
    errors += [row["errors"] for row in report.get("open_loop", {}).get("cache", {}).values()]
    return 1 if any(errors) else 0


def sessions_on(ports: list[int], dataset: data.Dataset, count: int, first: int) -> list[Any]:
    made = [loadgen.Session("127.0.0.1", ports[i % len(ports)]) for i in range(count)]
    for i, session in enumerate(made):
        session.login(dataset.members[first + i], data.PASSWORD)
    return made


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Each row's median over the rounds, as a ratio to the same round's bare page, and its
    noise: half the spread of the rounds' ratios, in points."""
    rounds = len(runs["bare"])
    bare = [(runs["bare"][i]["rps"] + runs["bare_again"][i]["rps"]) / 2 for i in range(rounds)]
    out: dict[str, Any] = {}
    for name, rows in runs.items():
        ratios = [row["rps"] / b for row, b in zip(rows, bare, strict=True) if b]
        out[name] = {
            "rps": round(statistics.median(row["rps"] for row in rows), 1),
            "ratio": round(statistics.median(ratios), 3) if ratios else None,
            "noise": round((max(ratios) - min(ratios)) / 2, 3) if ratios else None,
            "p50_ms": round(statistics.median(row["p50_ms"] for row in rows), 2),
            "p99_ms": round(statistics.median(row["p99_ms"] for row in rows), 2),
            "requests": sum(row["requests"] for row in rows),
            "errors": sum(row["errors"] for row in rows),
            **next(({"first_error": r["first_error"]} for r in rows if "first_error" in r), {}),
        }
    if bare:
        out["bare"]["noise"] = round((max(bare) - min(bare)) / 2 / statistics.median(bare), 3)
        out["bare"]["rps"] = round(statistics.median(bare), 1)
    return out


def open_summary(results: dict[str, loadgen.OpenResult]) -> dict[str, Any]:
    pages = loadgen.OpenResult()
    out: dict[str, Any] = {}
    for name, result in results.items():
        if name.startswith("open_page"):
            pages.latencies_ms += result.latencies_ms
            pages.send_lag_ms += result.send_lag_ms
            pages.errors += result.errors
            pages.offered += result.offered
            pages.first_error = pages.first_error or result.first_error
        out[name] = one_open(result)
    out["open_page"] = one_open(pages)
    return out


def one_open(result: loadgen.OpenResult) -> dict[str, Any]:
    lag = loadgen.Result(latencies_ms=result.send_lag_ms)
    return {
        "offered": result.offered,
        "measured": len(result.latencies_ms),
        "p50_ms": round(result.percentile(50), 2),
        "p99_ms": round(result.percentile(99), 2),
        "max_ms": round(max(result.latencies_ms, default=0.0), 2),
        "send_lag_p99_ms": round(lag.percentile(99), 2),
        "errors": result.errors,
        **({"first_error": result.first_error} if result.first_error else {}),
    }


def file_maps(pid: int, top: int = 8) -> list[tuple[str, float]]:
    """The files whose pages count most in the worker's resident set (MB), "(deleted)" after the
    name of one unlinked since it was mapped (a search segment merged away)."""
    sizes: dict[str, float] = {}
    name = ""
    with open(f"/proc/{pid}/smaps") as fh:
        for line in fh:
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):
                parts = line.split()
                name = " ".join(parts[5:]) if len(parts) > 5 and parts[5].startswith("/") else ""
            elif first == "Rss:" and name:
                sizes[name] = sizes.get(name, 0.0) + int(line.split()[1]) / 1024
    ranked = sorted(sizes.items(), key=lambda item: -item[1])[:top]
    return [(n.rsplit("/", 1)[-1], round(mb, 1)) for n, mb in ranked]


def memory_mb(pid: int) -> dict[str, Any]:
    """The worker's resident memory now, and its peak; and of it, the anonymous part (the heap:
    Python's and the C library's) and the part mapped from files (code, and the search index's
    maps: page cache the kernel may take back, shared between the workers)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {
        "rss": fields.get("VmRSS", 0.0),
        "peak": fields.get("VmHWM", 0.0),
        "anon": fields.get("RssAnon", 0.0),
        "file": fields.get("RssFile", 0.0),
        "largest_files": file_maps(pid, 5),
    }


def smoke_problems(report: dict[str, Any]) -> list[str]:
    """What a smoke run found wrong: a page that served nothing or failed, or a report without
    its figures."""
    problems = []
    for name, row in report["results"].items():
        if not row["requests"] or row["errors"]:
            problems.append(f"{name}: {row['requests']} requests, {row['errors']} errors {row}")
        elif not (row["ratio"] and row["p99_ms"] >= row["p50_ms"] > 0):
            problems.append(f"{name}: no figures {row}")
    for label, rows in report.get("open_loop", {}).items():
        for name, row in rows.items():
            if not row["measured"] or row["errors"]:
                problems.append(f"open loop ({label}) {name}: {row}")
    digests = report.get("extra", {}).get("digest_bench.py", {})
    if digests and (digests.get("returncode") != 0 or not digests.get("result")):
        problems.append(f"digest bench: {digests.get('output_tail', '')[-500:]}")
    memory = report.get("memory_mb_per_worker", {})
    for label in ("forum", "nocache"):
        workers = memory.get(label, [])
        if len(workers) != report["setup"]["processes"] or not all(
            0 < w["peak"] < 1000 for w in workers
        ):
            problems.append(f"memory per {label} worker not read: {workers}")
    return problems


def run_extra(
    env: dict[str, str],
    ports: list[int],
    workdir: Path,
    only: set[str] | None = None,
    postgres_url: str = "",
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    extra_env = {
        **env,
        "BENCH_BASE_URLS": ",".join(f"http://127.0.0.1:{p}" for p in ports),
        "BENCH_RESULTS_DIR": str(RESULTS),
        "BENCH_DATASET": str(workdir / "dataset.json"),
    }
    if postgres_url:  # search_bench.py: both backends on the same posts, in a database of its own
        extra_env["BENCH_POSTGRES_URL"] = postgres_url
    for name in EXTRA_BENCHES:
        script = ROOT / "bench" / name
        if not script.exists() or (only and name not in only and name[:-3] not in only):
            continue
        log(f"\nRunning bench/{name} …")
        started = time.perf_counter()
        try:
            result = subprocess.run(
                [PY, str(script)],
                cwd=ROOT,
                env=extra_env,
                capture_output=True,
                text=True,
                timeout=EXTRA_TIMEOUT.get(name, 300),
                check=False,
            )
            output, code = result.stdout + result.stderr, result.returncode
        except subprocess.TimeoutExpired as exc:
            output, code = f"timed out after {exc.timeout} s", -1
        log(output.rstrip())
        out[name] = {
            "returncode": code,
            "seconds": round(time.perf_counter() - started, 1),
            "output_tail": output[-2000:],
        }
        for line in output.splitlines():
            if line.startswith("RESULT {"):
                out[name]["result"] = json.loads(line[len("RESULT ") :])
    return out


def print_table(report: dict[str, Any]) -> None:
    m = report["machine"]
    setup = report["setup"]
    log(
        f"\nForum benchmark, {report['database']}, {setup['processes']} gunicorn "
        f"processes × 1 gthread worker, {setup['connections']} connections, "
        f"{setup['runs']} rounds of {setup['duration_s']:g} s per page"
    )
    log(
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}, "
        f"SQLite {m['sqlite']}; load average at start {m['load_average_at_start'][0]}"
    )
    log(f"Bare Flask page (25 posts, one query): {report['bare_rps']:.1f} req/s (median)")
    log(
        f"{'page':<18}{'req/s':>8}{'vs bare':>9}{'noise':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'errors':>7}  target"
    )
    for name, row in report["results"].items():
        ratio = f"{row['ratio'] * 100:.0f} %" if row.get("ratio") is not None else "-"
        noise = f"±{row['noise'] * 100:.0f}" if row.get("noise") is not None else "-"
        log(
            f"{name:<18}{row['rps']:>8.1f}{ratio:>9}{noise:>8}{row['p50_ms']:>8.1f}"
            f"{row['p99_ms']:>8.1f}{row['errors']:>7}  {TARGETS.get(name, '')}"
        )
    results = report["results"]
    if "reply_whoosh" in results and "reply" in results:
        pg, wh = results["reply"]["p99_ms"], results["reply_whoosh"]["p99_ms"]
        timings = report.get("timings", {})
        log(
            f"PostgreSQL full-text search beside Whoosh: reply p99 {pg:.1f} ms vs {wh:.1f} ms "
            f"({(pg / wh - 1) * 100 if wh else 0:+.0f} %, target within +20 %); search page "
            f"{(results['search'].get('ratio') or 0) * 100:.0f} % vs "
            f"{(results['search_whoosh'].get('ratio') or 0) * 100:.0f} % of bare; index built in "
            f"{timings.get('reindex_s', 0):.1f} s vs {timings.get('reindex_whoosh_s', 0):.1f} s "
            "(query and highlight p50/p99: bench/search_bench.py's two tables)"
        )
    for label, rows in report.get("open_loop", {}).items():
        setup_open = setup["open_loop"]
        log(
            f"Open loop, page cache {'on' if label == 'cache' else 'off'}: "
            f"{setup_open['reply_rate']:.0f} replies/s and {setup_open['page_rate']:.0f} page "
            f"views/s (Poisson) for {setup_open['seconds']:.0f} s"
        )
        for name in ("open_reply", "open_page", "open_page_guest", "open_page_member"):
            row = rows[name]
            log(
                f"  {name:<18}{row['measured']:>6} measured  p50 {row['p50_ms']:>7.1f}  "
                f"p99 {row['p99_ms']:>7.1f}  max {row['max_ms']:>7.1f} ms  send lag p99 "
                f"{row['send_lag_p99_ms']:.1f} ms  errors {row['errors']}  "
                f"{TARGETS.get(name, '')}"
            )
    for label, workers in report.get("memory_mb_per_worker", {}).items():
        figures = ", ".join(
            f"{w['rss']:.0f} MB (peak {w['peak']:.0f}; anon {w.get('anon', 0):.0f}, "
            f"files {w.get('file', 0):.0f})"
            for w in workers
        )
        log(f"Memory per {label} worker at the end: {figures} (target < 150 MB)")
    for label, workers in report.get("memory_mb_per_worker_at_rest", {}).items():
        figures = ", ".join(
            f"{w['rss']:.0f} MB (anon {w.get('anon', 0):.0f}, files {w.get('file', 0):.0f})"
            for w in workers
        )
        log(f"Memory per {label} worker at rest ({REST_SECONDS} s later): {figures}")
    idle = report.get("extra", {}).get("sockets_bench.py", {}).get("result")
    if idle:
        held, before = idle["pages_holding"]["p99_ms"], idle["pages_before"]["p99_ms"]
        log(
            f"Idle sockets on the socket server: {idle['sockets_held']:,} held and "
            f"{idle['slow_clients']} slow clients; page p99 {held:.0f} ms while holding them "
            f"({before:.0f} ms before; target < 200 ms); "
            f"{idle['mb_per_1000_sockets']:.0f} MB per 1,000 sockets"
        )
    digests = report.get("extra", {}).get("digest_bench.py", {}).get("result")
    if digests:
        log(
            f"Digests for {digests['members']:,} members rendered and queued: "
            f"{digests['total_s']:.1f} s ({digests['ms_per_digest']:.1f} ms each), peak "
            f"{digests['peak_mb']:.1f} MB of Python memory (tracemalloc)"
        )
    log(f"Total time: {report['total_s']:.0f} s")


if __name__ == "__main__":
    import urllib.parse  # noqa: F401  (used by the search step)

    sys.exit(main())
