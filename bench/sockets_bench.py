"""Idle-socket benchmark: how many idle Socket.IO connections and slow clients the socket server
holds, what they cost it in memory, and whether the page servers still answer quickly meanwhile.

    python bench/sockets_bench.py [--sockets 5000] [--slow 500] [--duration 10]

Run by `make bench` after the page benchmark, on the forum it seeded (FORUM_DATABASE_URL,
FORUM_INSTANCE_PATH, FORUM_SECRET_KEY; BENCH_BASE_URLS are the page servers, BENCH_DATASET the
ids). It starts a Redis of its own and the socket server (`python -m forum.ops.serve --sockets`:
gevent, one worker) on loopback, measures the pages (`/`, a SIG page, a topic page) from
`--connections` keep-alive clients for `--duration` seconds, then opens `--sockets` idle guests'
sockets (Engine.IO over WebSocket, Socket.IO connected, answering pings) and `--slow` slow
clients (a request line, then a header line every 2 s, never finished; the server drops each
after its 5 s keep-alive and the client dials again) against the socket server, and measures the
pages again while holding them. Memory is the socket worker's resident set before and after,
per 1,000 sockets. Prints a table and a `RESULT {json}` line; writes JSON to BENCH_RESULTS_DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402
from bench.idle import IdleCrowd, raise_open_files_limit  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_for(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer")


def measure_pages(ports: list[int], paths: list[str], connections: int, duration: float) -> Any:
    sessions = [loadgen.Session("127.0.0.1", ports[i % len(ports)]) for i in range(connections)]

    def step(session: loadgen.Session, index: int) -> Any:
        return ("GET", paths[(index + int(time.perf_counter() * 1000)) % len(paths)], None, 200)

    try:
        return loadgen.run(sessions, step, duration, warmup=1.0)
    finally:
        for session in sessions:
            session.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=int(os.environ.get("BENCH_SOCKETS", 5000)))
    parser.add_argument("--slow", type=int, default=int(os.environ.get("BENCH_SLOW", 500)))
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--open-threads", type=int, default=4)
    args = parser.parse_args(argv)

    base_urls = [u for u in os.environ.get("BENCH_BASE_URLS", "").split(",") if u]
    if not base_urls:
        print("BENCH_BASE_URLS is not set: run through `make bench`", file=sys.stderr)
        return 2
    ports = [int(u.rsplit(":", 1)[1]) for u in base_urls]
    dataset = json.loads(Path(os.environ["BENCH_DATASET"]).read_text())
    paths = ["/", f"/s/{dataset['sig_slugs'][0]}/", f"/t/{dataset['big_topic_id']}?page=1"]
    limit = raise_open_files_limit(args.sockets + args.slow + 1_000)
    if limit < args.sockets + args.slow + 1_000:
        print(f"open files limited to {limit}: raise `ulimit -Hn`", file=sys.stderr)
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="forum-sockets-bench-"))
    redis_port, socket_port = free_port(), free_port()
    redis_proc = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    env = {
        **os.environ,
        "FORUM_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "FORUM_SOCKETS_BIND": f"127.0.0.1:{socket_port}",
    }
    log = (workdir / "sockets.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "forum.ops.serve", "--sockets"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    crowd: IdleCrowd | None = None
    report: dict[str, Any] = {"when": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        wait_for(f"http://127.0.0.1:{socket_port}/healthz")
        worker = int(Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()[0])
        before = measure_pages(ports, paths, args.connections, args.duration)
        rss_before = rss_mb(worker)
        crowd = IdleCrowd(f"http://127.0.0.1:{socket_port}")
        opened_in = crowd.open(args.sockets, threads=args.open_threads)
        time.sleep(2)
        rss_after = rss_mb(worker)
        crowd.open_slow(args.slow, ("127.0.0.1", socket_port), every=2.0, redial=True)
        time.sleep(3)
        held = measure_pages(ports, paths, args.connections, args.duration)
        report.update(
            sockets_asked=args.sockets,
            sockets_held=crowd.alive,
            socket_failures=len(crowd.failures),
            slow_clients=args.slow,
            slow_redials=crowd.redials,
            open_seconds=round(opened_in, 1),
            socket_worker_rss_mb={"before": round(rss_before, 1), "after": round(rss_after, 1)},
            mb_per_1000_sockets=round((rss_after - rss_before) / max(crowd.alive, 1) * 1000, 1),
            pages_before={"p50_ms": round(before.percentile(50), 1),
                          "p99_ms": round(before.percentile(99), 1), "rps": round(before.rps, 1),
                          "errors": before.errors},
            pages_holding={"p50_ms": round(held.percentile(50), 1),
                           "p99_ms": round(held.percentile(99), 1), "rps": round(held.rps, 1),
                           "errors": held.errors},
            load_average=os.getloadavg()[0],
        )  # fmt: skip
    finally:
        if crowd is not None:
            crowd.close()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        redis_proc.kill()
        redis_proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        f"{'idle sockets held':<22}{'slow':>6}{'page p99 before':>17}{'page p99 holding':>18}"
        f"{'MB/1,000 sockets':>18}{'opened in':>11}"
    )
    print(
        f"{report['sockets_held']:>6,} of {report['sockets_asked']:<10,}{report['slow_clients']:>6}"
        f"{report['pages_before']['p99_ms']:>14.1f} ms{report['pages_holding']['p99_ms']:>15.1f} ms"
        f"{report['mb_per_1000_sockets']:>18.1f}{report['open_seconds']:>9.0f} s"
    )
    print("RESULT " + json.dumps(report))
    out_dir = Path(os.environ.get("BENCH_RESULTS_DIR") or ROOT / "bench" / "results")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "latest-sockets.json").write_text(json.dumps(report, indent=2))
    ok = report["sockets_held"] == args.sockets and not report["pages_holding"]["errors"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
