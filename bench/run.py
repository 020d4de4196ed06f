"""`make bench`: seed the fixed data set, serve it with the production setup on loopback, and
measure each page as a ratio to a bare Flask page served the same way in the same run.

    python bench/run.py [--postgres] [--redis URL] [--duration 8] [--connections 8]

SQLite by default; --postgres makes its own database on FORUM_BENCH_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/postgres) and drops it afterwards. Prints a table
and writes JSON to bench/results/. Rate limits are off (they would measure the limiter).

Other helpers' benchmarks (bench/search_bench.py, realtime_bench.py, pulse_bench.py) run after,
when present, with the seeded forum described in their environment: FORUM_DATABASE_URL,
FORUM_INSTANCE_PATH, FORUM_INDEX_DIR, FORUM_SECRET_KEY, BENCH_BASE_URLS (the running forum
processes, comma-separated), BENCH_RESULTS_DIR, BENCH_DATASET (a JSON file of ids).
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
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import data, loadgen  # noqa: E402

RESULTS = ROOT / "bench" / "results"
EXTRA_BENCHES = ("search_bench.py", "realtime_bench.py", "pulse_bench.py")
PY = sys.executable

# Targets from the issue, as (kind, value): ratio to bare, or latency in ms.
TARGETS = {
    "sig_index": "≥ 60 %",
    "sig_page": "≥ 60 %",
    "topic_first": "≥ 50 %",
    "topic_last": "≥ 50 %",
    "topic_member": "≥ 40 %",
    "search": "≥ 10 %",
    "reply": "p50 < 30 ms, p99 < 150 ms",
}


def log(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------- database


def make_database(args: argparse.Namespace, workdir: Path) -> tuple[str, Any]:
    """A fresh database URL, and a function that drops it."""
    if not args.postgres:
        return f"sqlite:///{workdir / 'forum.db'}", lambda: None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(args.postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"forum_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    url = base.set(database=name).render_as_string(hide_password=False)
    return url.replace("postgresql+psycopg://", "postgresql://", 1), drop


def seed(env: dict[str, str], sizes: data.Sizes) -> data.Dataset:
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
        dataset = data.build(db.engine, sizes, app.config["POSTS_PER_PAGE"])
        dataset.timings["migrate_s"] = migrate_s
        has_reindex = "reindex" in getattr(app.cli.commands.get("forum"), "commands", {})
        db.engine.dispose()
    dataset.timings["has_reindex"] = float(has_reindex)
    return dataset


def reindex(env: dict[str, str]) -> tuple[bool, float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [PY, "-m", "flask", "--app", "wsgi.py", "forum", "reindex"],
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


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ---------------------------------------------------------------------------- scenarios


def scenarios(dataset: data.Dataset, has_search: bool) -> list[tuple[str, str, Any]]:
    """(name, who, step): who is "anon", "member" or "bare"."""
    last = dataset.big_topic_pages
    big = dataset.big_topic_id
    rng = random.Random(3)

    def get(path: str) -> Any:
        return lambda session, index: ("GET", path, None, 200)

    def reply(session: loadgen.Session, index: int) -> Any:
        member = dataset.members[index]
        sig_id = rng.choice(dataset.sigs_of_member[member])
        topic_id = rng.choice(dataset.topics_by_sig[sig_id][1:] or dataset.topics_by_sig[sig_id])
        body = data.sentence(rng, 20)
        return ("POST", f"/t/{topic_id}/reply", {"body": body, "csrf_token": session.csrf}, 302)

    queries = list(data.SEARCH_QUERIES)

    def search(session: loadgen.Session, index: int) -> Any:
        q = queries[(index + int(time.perf_counter() * 1000)) % len(queries)]
        return ("GET", "/search?" + urllib.parse.urlencode({"q": q}), None, 200)

    out = [
        ("bare", "bare", get(f"/bare/{big}")),
        ("sig_index", "anon", get("/")),
        ("sig_page", "anon", get(f"/s/{dataset.sig_slugs[0]}/")),
        ("topic_first", "anon", get(f"/t/{big}?page=1")),
        ("topic_last", "anon", get(f"/t/{big}?page={last}")),
        ("topic_rendered", "guest_session", get(f"/t/{big}?page=1")),
        ("topic_member", "member", get(f"/t/{big}?page=1")),
        ("new", "member", get("/new")),
    ]
    if has_search:
        out.append(("search", "anon", search))
    out.append(("reply", "member", reply))
    out.append(("bare_again", "bare", get(f"/bare/{big}")))
    return out


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
    parser.add_argument("--duration", type=float, default=8.0, help="seconds measured per page")
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds unmeasured first")
    parser.add_argument("--scale", type=float, default=1.0, help="data set size (1 = full)")
    parser.add_argument("--no-extra", action="store_true", help="skip other helpers' benches")
    parser.add_argument("--output", default="", help="JSON path (default bench/results/…)")
    parser.add_argument(
        "--pages",
        default="",
        help="comma-separated pages to measure (topic_member,reply,…); bare always runs",
    )
    args = parser.parse_args(argv)
    wanted = {p.strip() for p in args.pages.split(",") if p.strip()}

    begun = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="forum-bench-"))
    instance = workdir / "instance"
    instance.mkdir()
    url, drop_database = make_database(args, workdir)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORUM_", "FLASK_"))}
    env.update(
        FORUM_DATABASE_URL=url,
        FORUM_INSTANCE_PATH=str(instance),
        FORUM_INDEX_DIR=str(instance / "index"),
        FORUM_SECRET_KEY=secrets.token_hex(32),
        FORUM_RATELIMIT_ENABLED="false",
        FORUM_THREADS="16",
    )
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
        },
        "dataset": asdict(sizes),
        "results": {},
    }
    try:
        log(f"Seeding {sizes} into {report['database']} …")
        dataset = seed(env, sizes)
        report["timings"] = {k: round(v, 2) for k, v in dataset.timings.items()}
        log(f"  seeded in {dataset.timings['insert_s'] + dataset.timings['generate_s']:.1f} s")
        has_search = False
        if dataset.timings.get("has_reindex"):
            ok, seconds, tail = reindex(env)
            report["timings"]["reindex_s"] = round(seconds, 2)
            log(f"  search index built in {seconds:.1f} s" if ok else f"  reindex failed: {tail}")
            has_search = ok
        (workdir / "dataset.json").write_text(json.dumps(asdict(dataset)))

        forum_ports = servers.start(env, args.processes, None, "forum")
        forum_procs = list(servers.procs)
        bare_ports = servers.start(env, args.processes, "bench.bare:app", "bare")
        servers.wait(forum_ports, "/readyz")
        servers.wait(bare_ports, f"/bare/{dataset.big_topic_id}")
        if has_search:
            probe = urllib.request.urlopen(
                f"http://127.0.0.1:{forum_ports[0]}/search?q={data.WORDS[0]}", timeout=30
            )
            has_search = probe.status == 200

        def sessions(who: str) -> list[loadgen.Session]:
            ports = bare_ports if who == "bare" else forum_ports
            made = [
                loadgen.Session("127.0.0.1", ports[i % len(ports)]) for i in range(args.connections)
            ]
            if who == "member":
                for i, session in enumerate(made):
                    session.login(dataset.members[i], data.PASSWORD)
            if who == "guest_session":
                # A guest whose browser holds a session (a login form's token): the guest page
                # cache does not serve it, so this measures rendering the page for a guest.
                for session in made:
                    session.fetch_csrf("/login")
            return made

        pool = {who: sessions(who) for who in ("bare", "anon", "guest_session", "member")}
        header = f"{'page':<14}{'req/s':>9}{'vs bare':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        log(header)
        for name, who, step in scenarios(dataset, has_search):
            if wanted and name not in wanted and who != "bare":
                continue
            result = loadgen.run(pool[who], step, args.duration, args.warmup)
            report["results"][name] = {
                "rps": round(result.rps, 1),
                "p50_ms": round(result.percentile(50), 2),
                "p99_ms": round(result.percentile(99), 2),
                "requests": result.requests,
                "errors": result.errors,
                **({"first_error": result.first_error} if result.first_error else {}),
            }
            row = report["results"][name]
            log(
                f"{name:<14}{row['rps']:>9.1f}{'':>9}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}"
                f"{row['errors']:>8}"
            )
        for group in pool.values():
            for session in group:
                session.close()

        bare_rps = (report["results"]["bare"]["rps"] + report["results"]["bare_again"]["rps"]) / 2
        report["bare_rps"] = round(bare_rps, 1)
        for row in report["results"].values():
            row["ratio"] = round(row["rps"] / bare_rps, 3) if bare_rps else None
        workers = servers.worker_pids(forum_procs)
        report["peak_rss_mb_per_worker"] = [round(peak_rss_mb(pid), 1) for pid in workers]
        report["bare_peak_rss_mb_per_worker"] = [
            round(peak_rss_mb(pid), 1)
            for pid in servers.worker_pids([p for p in servers.procs if p not in forum_procs])
        ]

        if not args.no_extra:
            report["extra"] = run_extra(env, forum_ports, workdir)
    finally:
        servers.stop()
        drop_database()
        shutil.rmtree(workdir, ignore_errors=True)

    report["total_s"] = round(time.perf_counter() - begun, 1)
    print_table(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.output) if args.output else RESULTS / f"bench-{report['database']}-{stamp}.json"
    out.write_text(json.dumps(report, indent=2))
    if not args.output:
        (RESULTS / f"latest-{report['database']}.json").write_text(json.dumps(report, indent=2))
    log(f"\nWrote {out}")
    return 1 if any(row["errors"] for row in report["results"].values()) else 0


def run_extra(env: dict[str, str], ports: list[int], workdir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    extra_env = {
        **env,
        "BENCH_BASE_URLS": ",".join(f"http://127.0.0.1:{p}" for p in ports),
        "BENCH_RESULTS_DIR": str(RESULTS),
        "BENCH_DATASET": str(workdir / "dataset.json"),
    }
    for name in EXTRA_BENCHES:
        script = ROOT / "bench" / name
        if not script.exists():
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
                timeout=300,
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
    return out


def print_table(report: dict[str, Any]) -> None:
    m = report["machine"]
    log(
        f"\nForum benchmark, {report['database']}, {report['setup']['processes']} gunicorn "
        f"processes × 1 gthread worker, {report['setup']['connections']} connections, "
        f"{report['setup']['duration_s']:.0f} s per page"
    )
    log(
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}, "
        f"SQLite {m['sqlite']}; load average at start {m['load_average_at_start'][0]}"
    )
    log(f"Bare Flask page (25 posts, one query): {report['bare_rps']:.1f} req/s")
    log(f"{'page':<14}{'req/s':>9}{'vs bare':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}  target")
    for name, row in report["results"].items():
        ratio = f"{row['ratio'] * 100:.0f} %" if row.get("ratio") is not None else "-"
        log(
            f"{name:<14}{row['rps']:>9.1f}{ratio:>9}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}"
            f"{row['errors']:>8}  {TARGETS.get(name, '')}"
        )
    rss = report["peak_rss_mb_per_worker"]
    log(f"Peak memory per forum worker: {', '.join(f'{v:.0f} MB' for v in rss)} (target < 150 MB)")
    log(f"Total time: {report['total_s']:.0f} s")


if __name__ == "__main__":
    import urllib.parse  # noqa: F401  (used by the search step)

    sys.exit(main())
