"""Real-time benchmark: time from a reply's commit to its `post_created` arriving at 1, 100 and 500
Socket.IO clients on loopback, beside a bare Socket.IO emit over the same path.

    python bench/realtime_bench.py [--redis URL] [--clients 1,100,500] [--trials 40]
                                   [--servers 2] [--client raw|socketio] [--client-procs 2]

It seeds a SQLite forum, starts `--servers` production server processes (gunicorn, threaded
WebSocket; one per core, as deployed) joined by Redis on a channel of their own, and connects
clients, spread over the servers, that subscribe to one topic as guests. This process then acts
as one more forum process: it posts replies through `topics.services.reply_to_topic` and notes
the time right after COMMIT; the forum's after-commit handler emits through Redis to the
servers, which send to their clients. The
yardstick is a bare `socketio.emit` from this same process to the same room (no database, no
forum code), timed from just before the emit. Every process reads the same system clock
(`time.time()`): a client notes when the bytes reached it, the moment `recv` returns.

The clients (`--client`): `raw` (default) runs each process's sockets from one selector loop
speaking Engine.IO/Socket.IO over wsproto (bench/sockets.py); `socketio` uses python-socketio's
client, which runs several threads per socket, so at 500 sockets on two cores its own
scheduling dominates what is measured. Both are spread over `--client-procs` processes. The
figures also give the CPU time the server process, and the client processes, spent per message,
and the machine's load average before and after.

Targets (issue 4): p99 under 100 ms for 500 clients, and p99 no more than 3 times the bare
emit's p99 for 100 clients. Prints a table; writes JSON to BENCH_RESULTS_DIR or bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.databases import log  # noqa: E402

TARGET_P99_MS_500 = 100.0
TARGET_RATIO_100 = 3.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class Clients:
    """N python-socketio clients subscribed to one topic, spread over worker processes (so the
    clients' own Python does not queue behind one GIL); each notes when events arrive."""

    def __init__(self, bases: list[str], topic_id: int, procs: int, kind: str) -> None:
        self.bases = bases  # client processes go to the servers in turn
        self.topic_id = topic_id
        self.procs = procs
        self.kind = kind
        self.count = 0
        self.workers: list[subprocess.Popen[str]] = []
        # The reader threads wake `wait` when arrivals come in (no polling loop on this process,
        # which shares the machine's two cores with the server and the clients).
        self.arrived = threading.Condition()
        self.arrivals: dict[str, list[float]] = {}

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            key, _, stamp = line.strip().partition(" ")
            if key and stamp and key != "ready":
                with self.arrived:
                    self.arrivals.setdefault(key, []).append(float(stamp))
                    self.arrived.notify_all()

    def grow(self, total: int) -> None:
        more = total - self.count
        if more <= 0:
            return
        split = max(1, min(self.procs, more))
        shares = [more // split + (1 if i < more % split else 0) for i in range(split)]
        started = []
        for share in shares:
            base = self.bases[(len(self.workers) + len(started)) % len(self.bases)]
            proc = subprocess.Popen(
                [sys.executable, __file__, "--worker", self.kind, base, str(self.topic_id),
                 str(share)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
            )  # fmt: skip
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a client worker failed to connect")
            started.append(proc)
        for proc in started:
            threading.Thread(target=self._read, args=(proc,), daemon=True).start()
        self.workers += started
        self.count = total

    def wait(self, key: str, count: int, timeout: float = 10) -> list[float]:
        with self.arrived:
            if self.arrived.wait_for(lambda: len(self.arrivals.get(key, ())) >= count, timeout):
                return list(self.arrivals.pop(key))
            got = len(self.arrivals.get(key, ()))
        raise RuntimeError(f"{key}: {got} of {count} clients received it in {timeout}s")

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(proc.pid) for proc in self.workers)

    def close(self) -> None:
        for proc in self.workers:
            if proc.stdin:
                proc.stdin.close()
        for proc in self.workers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc; 0 when unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_worker_pid(master: int) -> int:
    """gunicorn's worker, the child of the master process `python -m forum.ops.serve` became."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        except OSError:
            children = []
        if children:
            return int(children[0])
        time.sleep(0.1)
    return master


def raw_worker(base: str, topic_id: int, count: int) -> None:
    """A client process of raw sockets in one selector loop (bench/sockets.py)."""
    from bench import sockets

    def out(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    sockets.run(base, topic_id, count, out)


def worker(base: str, topic_id: int, count: int) -> None:
    """A client process of python-socketio clients; prints "<key> <time>" for every arrival."""
    import socketio

    out_lock = threading.Lock()

    def note(key: str) -> None:
        now = time.time()
        with out_lock:
            sys.stdout.write(f"{key} {now:.6f}\n")
            sys.stdout.flush()

    clients = []
    for _ in range(count):
        client = socketio.Client(reconnection=False)
        client.on("post_created", lambda data: note(f"post:{data['post_id']}"))
        client.on("bare", lambda data: note(f"bare:{data['n']}"))
        client.connect(base, transports=["websocket"], wait_timeout=20)
        answer = client.call("subscribe", {"topic_id": topic_id}, timeout=20)
        assert answer and answer.get("ok"), answer
        clients.append(client)
    with out_lock:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
    sys.stdin.read()  # until the bench closes our stdin
    for client in clients:
        client.disconnect()


def seed(database: str, instance: Path) -> dict[str, Any]:
    from flask_migrate import upgrade

    from forum import create_app
    from forum.accounts import services as accounts
    from forum.accounts.models import TL_MEMBER
    from forum.sigs import services as sigs
    from forum.topics import services as topics

    app = create_app(
        {"DATABASE_URL": database, "INDEX_DIR": str(instance / "index"), "SECRET_KEY": "seed",
         "SEARCH_SYNC_ON_START": False, "REDIS_URL": None,
         "PASSWORD_HASH_METHOD": "scrypt:1024:8:1"}
    )  # fmt: skip
    with app.app_context():
        upgrade()
        root = accounts.register_member("benchroot", "root@example.com", "bench-password-1",
                                        role="sysop")  # fmt: skip
        poster = accounts.register_member("poster", "poster@example.com", "bench-password-1",
                                          trust_level=TL_MEMBER)  # fmt: skip
        sig = sigs.create_sig(root, name="Bench", slug="bench", visibility="public")
        sigs.join_sig(poster, sig.id)
        topic = topics.start_topic(poster, sig.id, "Live topic", "The first post.")
        return {"topic_id": topic.id, "poster_id": poster.id}


def start_server(
    database: str, instance: Path, redis_url: str, channel: str, threads: int, name: str = "server"
) -> Any:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORUM_", "FLASK_"))}
    env.update(
        FORUM_DATABASE_URL=database,
        FORUM_INSTANCE_PATH=str(instance),
        FORUM_INDEX_DIR=str(instance / "index"),
        FORUM_SECRET_KEY=secrets.token_hex(32),
        FORUM_REDIS_URL=redis_url,
        FORUM_SOCKETIO_CHANNEL=channel,
        FORUM_RATELIMIT_ENABLED="false",
        FORUM_SEARCH_SYNC_ON_START="false",
        FORUM_BIND=f"127.0.0.1:{port}",
        FORUM_BASE_URL=f"http://127.0.0.1:{port}",
        FORUM_THREADS=str(threads),
        FORUM_LOG_LEVEL="warning",
    )
    logfile = (instance / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "forum.ops.serve"], cwd=ROOT, env=env, stdout=logfile,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((instance / f"{name}.log").read_text()[-3000:])
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import redis

    redis.Redis.from_url(args.redis, socket_connect_timeout=1).ping()
    workdir = Path(tempfile.mkdtemp(prefix="forum-rt-bench-"))
    instance = workdir / "instance"
    instance.mkdir()
    database = f"sqlite:///{workdir / 'forum.db'}"
    ids = seed(database, instance)
    channel = f"forum-rt-bench-{uuid.uuid4().hex[:10]}"
    sizes = sorted(int(n) for n in args.clients.split(","))
    # The production layout on two cores (README, docs/deployment.md): one gunicorn process per
    # core, joined by Redis, each holding half of the sockets. --servers 1 puts them all on one.
    servers = [
        start_server(database, instance, args.redis, channel, max(sizes) + 64, f"server{i}")
        for i in range(args.servers)
    ]
    clients = Clients(
        [base for _, base in servers], ids["topic_id"], args.client_procs, args.client
    )
    try:
        # This process is the writing forum process: same database, same Redis channel.
        from forum import create_app
        from forum.accounts.models import User
        from forum.db import on_commit, transaction
        from forum.extensions import db, socketio
        from forum.topics import services as topics

        app = create_app(
            {"DATABASE_URL": database, "INDEX_DIR": str(instance / "index"), "SECRET_KEY": "writer",
             "SEARCH_SYNC_ON_START": False, "REDIS_URL": args.redis, "SOCKETIO_CHANNEL": channel,
             "PRESENCE_LOOP": False}
        )  # fmt: skip
        server_pids = [server_worker_pid(proc.pid) for proc, _ in servers]

        def server_cpu() -> float:
            return sum(cpu_seconds(pid) for pid in server_pids)

        results: dict[str, Any] = {
            "clients": {}, "trials": args.trials, "channel": "redis", "client": args.client,
            "client_procs": args.client_procs, "servers": args.servers, "cpus": os.cpu_count(),
            "load_before": os.getloadavg(),
        }  # fmt: skip
        bare_n = 0
        with app.app_context():
            poster = db.session.get(User, ids["poster_id"])
            for size in sizes:
                clients.grow(size)
                time.sleep(0.5)  # let the server settle after the connections
                forum_ms: list[float] = []
                bare_ms: list[float] = []
                cpu = {"server_forum": 0.0, "server_bare": 0.0, "clients_forum": 0.0,
                       "clients_bare": 0.0}  # fmt: skip
                for trial in range(args.warmup + args.trials):
                    s0, c0 = server_cpu(), clients.cpu_seconds()
                    # The forum: a reply, timed from right after its COMMIT.
                    stamp: dict[str, float] = {}
                    with transaction():
                        on_commit(lambda stamp=stamp: stamp.setdefault("t0", time.time()))
                        post = topics.reply_to_topic(poster, ids["topic_id"], f"Reply {trial}")
                    arrivals = clients.wait(f"post:{post.id}", size)
                    s1, c1 = server_cpu(), clients.cpu_seconds()
                    # The yardstick: a bare emit to the same room over the same Redis path.
                    bare_n += 1
                    t0 = time.time()
                    socketio.emit("bare", {"n": bare_n}, to=f"topic:{ids['topic_id']}")
                    bare_arrivals = clients.wait(f"bare:{bare_n}", size)
                    s2, c2 = server_cpu(), clients.cpu_seconds()
                    if trial >= args.warmup:
                        forum_ms += [(t - stamp["t0"]) * 1000 for t in arrivals]
                        bare_ms += [(t - t0) * 1000 for t in bare_arrivals]
                        cpu["server_forum"] += s1 - s0
                        cpu["server_bare"] += s2 - s1
                        cpu["clients_forum"] += c1 - c0
                        cpu["clients_bare"] += c2 - c1
                    time.sleep(args.pause)
                results["clients"][size] = {
                    "forum_p50_ms": percentile(forum_ms, 50),
                    "forum_p99_ms": percentile(forum_ms, 99),
                    "bare_p50_ms": percentile(bare_ms, 50),
                    "bare_p99_ms": percentile(bare_ms, 99),
                    "forum_mean_ms": statistics.fmean(forum_ms),
                    "samples": len(forum_ms),
                    # CPU per message (ms), summed over all threads of the process(es).
                    **{f"{k}_cpu_ms": v * 1000 / args.trials for k, v in cpu.items()},
                }
        results["load_after"] = os.getloadavg()
    finally:
        clients.close()
        for proc, _ in servers:
            proc.terminate()
        for proc, _ in servers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    shutil.rmtree(workdir, ignore_errors=True)  # kept when the run failed: server.log is there
    return results


def report(results: dict[str, Any]) -> bool:
    log("")
    log(f"Commit-to-receipt of post_created over Redis (ms), beside a bare Socket.IO emit "
        f"({results['servers']} server process(es); {results['client']} clients in "
        f"{results['client_procs']} processes, "
        f"{results['cpus']} CPUs):")  # fmt: skip
    log(f"{'clients':>8} {'p50':>8} {'p99':>8} {'bare p50':>9} {'bare p99':>9} {'p99 ratio':>10}"
        f" {'server CPU/msg':>15} {'clients CPU/msg':>16}")  # fmt: skip
    ok = True
    for size, row in sorted(results["clients"].items(), key=lambda kv: int(kv[0])):
        ratio = row["forum_p99_ms"] / row["bare_p99_ms"] if row["bare_p99_ms"] else float("inf")
        row["p99_ratio"] = ratio
        log(
            f"{size:>8} {row['forum_p50_ms']:>8.1f} {row['forum_p99_ms']:>8.1f} "
            f"{row['bare_p50_ms']:>9.1f} {row['bare_p99_ms']:>9.1f} {ratio:>9.2f}x"
            f" {row['server_forum_cpu_ms']:>12.1f} ms {row['clients_forum_cpu_ms']:>13.1f} ms"
        )
    load = ", ".join(f"{x:.2f}" for x in results["load_before"])
    load_after = ", ".join(f"{x:.2f}" for x in results.get("load_after", ()))
    log(f"load average before: {load}; after: {load_after}")
    rows = {int(k): v for k, v in results["clients"].items()}
    if 500 in rows:
        met = rows[500]["forum_p99_ms"] < TARGET_P99_MS_500
        ok &= met
        log(f"target: p99 < {TARGET_P99_MS_500:.0f} ms at 500 clients: "
            f"{rows[500]['forum_p99_ms']:.1f} ms — {'met' if met else 'NOT met'}")  # fmt: skip
    if 100 in rows:
        met = rows[100]["p99_ratio"] <= TARGET_RATIO_100
        ok &= met
        log(f"target: p99 ≤ {TARGET_RATIO_100:.0f}× bare at 100 clients: "
            f"{rows[100]['p99_ratio']:.2f}× — {'met' if met else 'NOT met'}")  # fmt: skip
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default=os.environ.get("FORUM_BENCH_REDIS_URL",
                                                          "redis://127.0.0.1:6379/0"))  # fmt: skip
    parser.add_argument("--clients", default="1,100,500")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--pause", type=float, default=0.05)
    parser.add_argument("--client", choices=("raw", "socketio"), default="raw")
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument(
        "--worker", nargs=4, metavar=("KIND", "BASE", "TOPIC", "COUNT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.worker:
        kind, base, topic, count = args.worker
        (raw_worker if kind == "raw" else worker)(base, int(topic), int(count))
        return 0
    # Stopped from outside (`timeout`, Ctrl-C): still stop the server and the client processes.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        results = measure(args)
    except Exception as exc:  # noqa: BLE001
        import redis

        if isinstance(exc, redis.RedisError):
            log(f"realtime bench skipped: no Redis at {args.redis} ({exc})")
            return 0
        raise
    ok = report(results)
    out_dir = Path(os.environ.get("BENCH_RESULTS_DIR") or ROOT / "bench" / "results")
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"realtime-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    log(f"results: {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
