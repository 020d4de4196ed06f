"""`make bench`'s page workers' memory in a few minutes: the production servers (forum.ops.serve,
gunicorn, one gthread worker a process) on the bench's data, the bench's rows for a pair, then
its open loop, and each worker's memory along the way, split by kind of mapping.

    python bench/worker_memory.py [--keep DIR] [--pair cache|nocache] [--row-seconds 2]
        [--open-seconds 10] [--scale 1] [--probe] [--tracemalloc FRAMES] [--env NAME=VALUE]

The data (100,000 posts, as `make bench`) is seeded once into --keep DIR and copied for each run
(a run's replies never reach the next). --pair cache drives what the bench's page-cache pair
serves (the guests' cached rows, a guest with a session, members and readers, search, replies),
--pair nocache what the other pair serves (the guests' rows with the page cache off); both then
take the open loop (replies and page views, members logged in). Memory is read from /proc after
the workers started, after the logins, at the end, and once they were idle for the trim
(REST_SECONDS): resident, anonymous, from files, and the anonymous part by mapping: glibc's
main heap, its second arena, pymalloc's 1 MB arenas, thread stacks, and blocks mapped apart.
--probe serves bench.memory_probe:app instead, which also reports what Python, glibc, SQLite
and the page cache hold inside each worker (and, with --tracemalloc, what grew, by line).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import data, loadgen  # noqa: E402
from bench.databases import log  # noqa: E402
from bench.run import (  # noqa: E402
    OPEN_GUESTS,
    OPEN_REPLIERS,
    OPEN_VIEWERS,
    READERS,
    REST_SECONDS,
    Servers,
    file_maps,
    open_loop_streams,
    reindex,
    scenarios,
    seed,
)

MB = 2**20


def mappings(pid: int) -> dict[str, float]:
    """The worker's anonymous resident memory (MB) by the mapping that holds it: glibc's main
    heap (`[heap]`), its second arena (`MALLOC_ARENA_MAX=2`: a map aligned on 64 MB), thread
    stacks (maps of the 8 MB stack limit), and the rest (pymalloc's 1 MB arenas, which the
    kernel merges with their neighbours, and the blocks glibc maps apart)."""
    out = {"heap": 0.0, "arena2": 0.0, "stacks": 0.0, "maps": 0.0}
    pointers = stack_pointers(pid)
    current: tuple[str, int, int] | None = None
    with open(f"/proc/{pid}/smaps") as fh:
        for line in fh:
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):
                parts = line.split()
                start, end = (int(x, 16) for x in parts[0].split("-"))
                current = (parts[5] if len(parts) > 5 else "", start, end - start)
            elif first == "Anonymous:" and current is not None:
                kb = int(line.split()[1])
                name, start, size = current
                if name == "[heap]":
                    kind = "heap"
                elif name:
                    continue
                elif start % (64 * MB) == 0:
                    kind = "arena2"
                elif any(start <= sp < start + size for sp in pointers):
                    kind = "stacks"
                else:
                    kind = "maps"
                out[kind] += kb / 1024
    return {k: round(v, 1) for k, v in out.items()}


def stack_pointers(pid: int) -> list[int]:
    """Where each thread's stack is (its stack pointer, as /proc shows a thread in a call)."""
    pointers = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "syscall").read_text().split()
        except OSError:
            continue
        if len(fields) >= 3 and fields[0] != "running":
            pointers.append(int(fields[-2], 16))
    return pointers


def memory(pid: int) -> dict[str, Any]:
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {
        "rss": fields["VmRSS"],
        "peak": fields["VmHWM"],
        "anon": fields["RssAnon"],
        "file": fields["RssFile"],
        "by_map": mappings(pid),
    }


def show(label: str, pids: list[int]) -> list[dict[str, Any]]:
    figures = [memory(pid) for pid in pids]
    for pid, m in zip(pids, figures, strict=True):
        parts = ", ".join(f"{k} {v:.1f}" for k, v in m["by_map"].items())
        log(
            f"  {label:<12} worker {pid}: {m['rss']:.0f} MB (peak {m['peak']:.0f}; anon "
            f"{m['anon']:.0f}, files {m['file']:.0f}; anon by map: {parts})"
        )
    return figures


def probe(port: int, **query: str) -> dict[str, Any]:
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_probe/memory?{qs}", timeout=60) as r:
        return json.loads(r.read())


def prepare(keep: Path, scale: float) -> tuple[Path, data.Dataset]:
    """The seeded forum in keep/seeded (made once), copied into a fresh folder for this run."""
    seeded = keep / "seeded"
    if not (seeded / "dataset.json").exists():
        shutil.rmtree(seeded, ignore_errors=True)
        (seeded / "instance").mkdir(parents=True)
        env = seed_env(seeded)
        log(f"Seeding into {seeded} …")
        dataset = seed(env, data.Sizes().scaled(scale), None)
        ok, seconds, tail = reindex(env)
        if not ok:
            raise SystemExit(f"reindex failed: {tail}")
        log(f"  seeded and indexed ({seconds:.0f} s for the index)")
        (seeded / "dataset.json").write_text(json.dumps(asdict(dataset)))
    run = Path(tempfile.mkdtemp(prefix="run-", dir=keep))
    shutil.copytree(seeded, run, dirs_exist_ok=True)
    raw = json.loads((run / "dataset.json").read_text())
    fields = data.Dataset.__dataclass_fields__
    dataset = data.Dataset(**{k: v for k, v in raw.items() if k in fields})
    # JSON made the dicts' int keys strings.
    dataset.topics_by_sig = {int(k): v for k, v in dataset.topics_by_sig.items()}
    dataset.sigs_of_member = dict(dataset.sigs_of_member)
    return run, dataset


def seed_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORUM_", "FLASK_"))}
    env.update(
        FORUM_DATABASE_URL=f"sqlite:///{folder / 'bench.db'}",
        FORUM_INSTANCE_PATH=str(folder / "instance"),
        FORUM_INDEX_DIR=str(folder / "instance" / "index"),
        FORUM_SECRET_KEY=secrets.token_hex(32),
        FORUM_RATELIMIT_ENABLED="false",
        FORUM_THREADS="16",
    )
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", default=str(Path(tempfile.gettempdir()) / "worker-memory"))
    parser.add_argument("--pair", choices=("cache", "nocache"), default="cache")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--row-seconds", type=float, default=2.0)
    parser.add_argument("--open-seconds", type=float, default=10.0)
    parser.add_argument("--reply-rate", type=float, default=50.0)
    parser.add_argument("--page-rate", type=float, default=200.0)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--probe", action="store_true", help="serve bench.memory_probe:app")
    parser.add_argument("--tracemalloc", type=int, default=0, help="frames (with --probe)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--output", default="", help="JSON of the figures")
    args = parser.parse_args(argv)

    keep = Path(args.keep)
    keep.mkdir(parents=True, exist_ok=True)
    run, dataset = prepare(keep, args.scale)
    env = seed_env(run)
    env.update(dict(pair.split("=", 1) for pair in args.env))
    if args.pair == "nocache":
        env["FORUM_PAGE_CACHE_SECONDS"] = "0"
    if args.tracemalloc:
        env["BENCH_TRACEMALLOC"] = str(args.tracemalloc)
    servers = Servers(run)
    report: dict[str, Any] = {"args": vars(args), "when": time.strftime("%H:%M:%S", time.gmtime())}
    sessions: list[loadgen.Session] = []
    try:
        ports = servers.start(
            env, args.processes, "bench.memory_probe:app" if args.probe else None, "forum"
        )
        servers.wait(ports, "/readyz")
        pids = servers.worker_pids()
        log(f"{args.pair} pair, ports {ports}, workers {pids}, load {os.getloadavg()[0]:.1f}")
        report["ready"] = show("ready", pids)
        if args.probe:
            report["probe_ready"] = [probe(p, mark="1") for p in ports]

        def made(count: int) -> list[loadgen.Session]:
            out = [loadgen.Session("127.0.0.1", ports[i % len(ports)]) for i in range(count)]
            sessions.extend(out)
            return out

        def logged_in(count: int, first: int) -> list[loadgen.Session]:
            out = made(count)
            for i, session in enumerate(out):
                session.login(dataset.members[first + i], data.PASSWORD)
            return out

        pool: dict[str, list[loadgen.Session]] = {}
        if args.pair == "nocache":
            pool["nocache"] = made(args.connections)
        else:
            pool["anon"] = made(args.connections)
            pool["member"] = logged_in(args.connections, 0)
            pool["reader"] = logged_in(args.connections, READERS)
            pool["guest_session"] = made(args.connections)
            for session in pool["guest_session"]:
                session.fetch_csrf("/login")
        repliers = logged_in(OPEN_REPLIERS, READERS * 2)
        viewers = logged_in(OPEN_VIEWERS, READERS * 2 + OPEN_REPLIERS)
        guests = made(OPEN_GUESTS)
        report["logins"] = show("logins", pids)

        for name, who, step in scenarios(dataset, has_search=True):
            if who not in pool:
                continue
            # (a process's first searches read the index's commonest words: seconds)
            seconds = args.row_seconds * (4 if name == "search" else 1)
            result = loadgen.run(pool[who], step, seconds, 0.5)
            log(f"    {name:<18}{result.rps:>8.1f} req/s, {result.errors} errors")
        report["rows"] = show("rows", pids)
        streams = open_loop_streams(
            dataset, repliers, viewers, guests, args.reply_rate, args.page_rate
        )
        results = loadgen.run_open(streams, args.open_seconds, 1.0)
        for name, result in results.items():
            log(f"    {name:<18}{len(result.latencies_ms):>6} answered, {result.errors} errors")
        report["end"] = show("end", pids)
        time.sleep(REST_SECONDS)
        report["rest"] = show("at rest", pids)
        for pid in pids:
            log(f"  files of {pid}: {file_maps(pid)}")
        if args.probe:
            report["probe_end"] = [probe(p, top="40") for p in ports]
            report["garbage"] = [probe(p, garbage="1") for p in ports]
            for p, found in zip(ports, report["garbage"], strict=True):
                log(f"  garbage {p}: {found['garbage']}")
            report["probe_trimmed"] = [probe(p, trim="1", top="0") for p in ports]
            for p, end, trimmed in zip(
                ports, report["probe_end"], report["probe_trimmed"], strict=True
            ):
                log(f"  probe {p}: " + json.dumps({k: v for k, v in end.items()
                    if k not in ("largest", "grew")}))  # fmt: skip
                log(f"  after collect+trim: {trimmed['glibc']} {trimmed['pymalloc']}")
                for line in end.get("grew", [])[:25]:
                    log(f"    grew {line}")
                for line in end.get("largest", [])[:25]:
                    log(f"    held {line}")
    finally:
        for session in sessions:
            session.close()
        servers.stop()
        if args.output:
            Path(args.output).write_text(json.dumps(report, indent=1))
        shutil.rmtree(run, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
