"""How soon the jobs held during a Redis outage run once Redis is back: a page server and the
jobs worker (two processes, as `make serve` runs them, on one SQLite forum) and a Redis of the
script's own, killed while members ask for password resets (each mail job held in the database:
held_jobs) and started again on the same port; a second after it answers, one more member asks
(the traffic that goes on). Prints, per round, the seconds from Redis answering again to the
last held job's mail in the outbox.

    python bench/held_jobs_bench.py [--held 5] [--rounds 3]

Before the put-back was woken by the first put after an outage, the held jobs waited for the
worker's minute run, anywhere from 0 to 59 s: 58 s in each of 3 rounds here (each round ended
just after a minute run), against 1.3 s after (of which 1 s is the pause before that reset).
"""

from __future__ import annotations

import argparse
import email
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import factories as f  # noqa: E402
from tests.serverkit import Member, RedisServer, Server, migrated_sqlite, server_env  # noqa: E402


def seed(database: str, instance: Path, members: int) -> None:
    from forum import create_app
    from forum.extensions import db

    app = create_app(
        {"DATABASE_URL": database, "INDEX_DIR": str(instance / "index"), "SECRET_KEY": "seed",
         "SEARCH_SYNC_ON_START": False, "SEARCH_DRAIN": "inline", "REDIS_URL": None,
         "PASSWORD_HASH_METHOD": f.CHEAP_PASSWORDS}
    )  # fmt: skip
    with app.app_context():
        for n in range(members):
            f.user(f"member{n}")
        db.session.remove()
        db.engine.dispose()


def ask_reset(base: str, address: str) -> None:
    guest = Member("guest", "")
    token = guest.csrf(base, "/password/forgot")
    response = guest.http.post(
        base + "/password/forgot",
        data={"email": address, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, response.status_code


def held(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        return int(conn.execute("select count(*) from held_jobs").fetchone()[0])


def mailed(outbox: Path) -> dict[str, float]:
    """The outbox's mail: the address each went to, and when it was written (the latest)."""
    found: dict[str, float] = {}
    for path in outbox.glob("*.eml") if outbox.exists() else []:
        to = email.message_from_bytes(path.read_bytes())["To"]
        found[to] = max(found.get(to, 0.0), path.stat().st_mtime)
    return found


def round_trip(base: str, redis: RedisServer, database: Path, outbox: Path, round_: int,
               count: int) -> float:  # fmt: skip
    addresses = [f"member{round_ * (count + 1) + n}@example.com" for n in range(count + 1)]
    redis.kill()
    for address in addresses[:count]:
        ask_reset(base, address)
    deadline = time.monotonic() + 30
    while held(database) < count:
        assert time.monotonic() < deadline, f"only {held(database)} of {count} held"
        time.sleep(0.1)
    time.sleep(2)  # the worker's breaker finds Redis down too (it polls the queue)
    redis.start()
    back = time.time()
    time.sleep(1.0)
    ask_reset(base, addresses[count])  # the traffic that goes on
    deadline = time.monotonic() + 120
    while True:
        sent = mailed(outbox)
        if all(a in sent for a in addresses[:count]):
            return max(sent[a] for a in addresses[:count]) - back
        assert time.monotonic() < deadline, "the held jobs did not run within 2 minutes"
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--held", type=int, default=5, help="jobs held per outage")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="held-jobs-bench-"))
    instance = work / "instance"
    instance.mkdir()
    database = work / "forum.db"
    url = migrated_sqlite(database)
    seed(url, instance, args.rounds * (args.held + 1))
    redis = RedisServer(work)
    redis.start()
    env = server_env(
        url, instance, FORUM_REDIS_URL=redis.url, FORUM_RATELIMIT_LOGIN="100000 per minute",
        FORUM_RATELIMIT_MAIL="100000 per minute", FORUM_RATELIMIT_KEY_PREFIX="held-bench",
    )  # fmt: skip
    server = Server(env, work, "server")
    worker_log = (work / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "forum", "forum", "jobs", "worker"],
        cwd=ROOT, env=env, stdout=worker_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        server.wait_ready()
        took = []
        for round_ in range(args.rounds):
            seconds = round_trip(server.url, redis, database, instance / "outbox", round_,
                                 args.held)  # fmt: skip
            took.append(seconds)
            print(f"round {round_ + 1}: {args.held} held jobs, the last ran {seconds:.1f} s "
                  "after Redis answered again", flush=True)  # fmt: skip
        print(f"median {statistics.median(took):.1f} s, worst {max(took):.1f} s ({work})")
    finally:
        worker.terminate()
        worker.wait(30)
        server.stop()
        redis.kill()


if __name__ == "__main__":
    main()
