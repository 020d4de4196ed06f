"""Where a reply's CPU goes: replies posted through the test client in one process.

    python bench/reply_loop.py [--replies 600] [--rounds 3] [--profile] [--statements] [--turn]
                               [--postgres] [--crowd N]

Seeds a small copy of the bench data set (a twentieth) into a temporary SQLite database, logs a
member in, and posts replies to random topics of their SIGs the way the reply bench does (the
search index drained by its background thread, as in production). Prints the process's CPU time
per reply, best of --rounds, each round on a fresh copy of the seeded database. --profile adds
cProfile's twenty most expensive calls of one more round, by cumulative time; --statements,
for one more round, the CPU of the session's calls (execute, scalar(s), get, flush, commit: the
statement built, run and its rows read) by the line of the forum that made them. --turn also
prints what each round's replies held SQLite's write turn for (forum.sqlite.WriteQueue): the
turn is what bounds replies a second, as writers take it one at a time. --postgres seeds a
database on the FORUM_BENCH_POSTGRES_URL server instead (each round a copy of it, made with
CREATE DATABASE … TEMPLATE; all dropped at the end); the CPU is then the forum's alone, not
PostgreSQL's.

--crowd N replies the way T-01 does (bench/t01), one at a time: N members of one SIG, each
signed in on a client of their own, take turns replying into one topic. Each one's first reply
(among the warm-up's) makes them watch it, and signing in lists them as online (the presence
grace set to an hour, so that they stay listed as an open page would keep them), so every
measured reply writes N-1 notifications in its transaction and, after commit, renders the N-1
live nudges and tracked counts of online recipients. Without it, one member replies to random
topics of their SIGs, which few members watch and nobody online.

No server and no load generator share the CPU here, so the figures move much less from run to
run than `make bench`'s; they are for comparing one change with the next. The server spends a
few milliseconds more a reply (HTTP, threads, the other process's index work).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data  # noqa: E402
from bench.databases import copy_database, fresh_database, postgres_server  # noqa: E402
from bench.loadgen import CSRF_RE  # noqa: E402


def config(workdir: Path, url: str | None = None, crowd: int = 0) -> dict[str, Any]:
    return {
        # --crowd: the members stay online for the whole round, as an open page keeps them.
        **({"PRESENCE_GRACE_SECONDS": 3600} if crowd else {}),
        "DATABASE_URL": url or f"sqlite:///{workdir / 'forum.db'}",
        "INDEX_DIR": str(workdir / "index"),
        "SECRET_KEY": "reply-loop-" + "x" * 32,
        "SEARCH_SYNC_ON_START": False,
        "REDIS_URL": None,
        "RATELIMIT_ENABLED": False,
    }


def seed(workdir: Path, url: str | None = None) -> dict[str, Any]:
    from flask_migrate import upgrade

    from forum import create_app
    from forum.extensions import db

    app = create_app(config(workdir, url))
    with app.app_context():
        upgrade()
        dataset = data.build(db.engine, data.Sizes().scaled(0.05), app.config["POSTS_PER_PAGE"])
        db.engine.dispose()
    return json.loads(json.dumps(asdict(dataset)))  # keys as strings, as in a JSON file


class TurnClock:
    """Wall and CPU time of each write turn taken while `recording` (forum.sqlite.WriteQueue)."""

    def __init__(self) -> None:
        from forum.sqlite import WriteQueue

        self.recording = False
        self.turns: list[tuple[float, float]] = []
        real_turn = WriteQueue.turn
        clock = self

        @contextmanager
        def turn(queue: WriteQueue) -> Iterator[None]:
            with real_turn(queue):
                wall, cpu = time.perf_counter(), time.thread_time()
                try:
                    yield
                finally:
                    if clock.recording:
                        clock.turns.append((time.perf_counter() - wall, time.thread_time() - cpu))

        WriteQueue.turn = turn  # type: ignore[method-assign]

    def report(self, replies: int) -> str:
        walls = sorted(w * 1000 for w, _ in self.turns)
        cpu = sum(c for _, c in self.turns) * 1000
        p99 = walls[min(len(walls) - 1, int(len(walls) * 0.99))]
        return (
            f"write turn: {sum(walls) / replies:.2f} ms wall and {cpu / replies:.2f} ms CPU a "
            f"reply ({len(walls)} turns; each p50 {statistics.median(walls):.2f} ms, "
            f"p99 {p99:.2f} ms)"
        )


class StatementClock:
    """The request thread's CPU in the session's calls while `recording`, by the forum's line
    that made each (the first frame under forum/, outside the library)."""

    METHODS = ("execute", "scalar", "scalars", "get", "flush", "commit")

    def __init__(self) -> None:
        from sqlalchemy.orm import Session

        self.recording = False
        self.cpu: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        clock = self
        for name in self.METHODS:
            real = getattr(Session, name)

            def timed(session: Any, *args: Any, _real: Any = real, _name: str = name, **kw: Any):
                if not clock.recording:
                    return _real(session, *args, **kw)
                clock.recording = False  # a call inside this one (autoflush) counts as this one
                started = time.thread_time()
                try:
                    return _real(session, *args, **kw)
                finally:
                    site = f"{_name} {clock._site()}"
                    clock.cpu[site] += time.thread_time() - started
                    clock.calls[site] += 1
                    clock.recording = True

            setattr(Session, name, timed)

    @staticmethod
    def _site() -> str:
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            if "/forum/" in name and "site-packages" not in name:
                return f"{name.rsplit('/forum/', 1)[1]}:{frame.f_lineno}"
            frame = frame.f_back  # type: ignore[assignment]
        return "?"

    def report(self, replies: int, top: int = 25) -> str:
        total = sum(self.cpu.values()) * 1000 / replies
        lines = [f"session calls: {total:.2f} ms of CPU a reply; by site, ms and calls a reply:"]
        for site, cpu in self.cpu.most_common(top):
            lines.append(
                f"  {cpu * 1000 / replies:6.3f}  {self.calls[site] / replies:5.2f}  {site}"
            )
        return "\n".join(lines)


def one_round(
    workdir: Path,
    dataset: dict[str, Any],
    replies: int,
    profile: bool,
    turns: TurnClock | None = None,
    url: str | None = None,
    statements: StatementClock | None = None,
    crowd: int = 0,
) -> float:
    from forum import create_app
    from forum.search.handlers import stop_drainer

    app = create_app(config(workdir, url, crowd))
    member = dataset["members"][0]

    def sign_in(name: str) -> tuple[Any, str]:
        client = app.test_client()

        def token(path: str) -> str:
            match = CSRF_RE.search(client.get(path).get_data(as_text=True))
            assert match, f"no CSRF token on {path}"
            return match.group(1) or match.group(2)

        response = client.post(
            "/login", data={"login": name, "password": data.PASSWORD, "csrf_token": token("/login")}
        )
        assert response.status_code == 302, f"login failed: {response.status_code}"
        return client, token("/settings")

    rng = random.Random(1)
    if crowd:
        sig = dataset["sigs_of_member"][str(member)][0]
        names = [n for n, sigs in dataset["sigs_of_member"].items() if sig in sigs][:crowd]
        assert len(names) == crowd, f"only {len(names)} members share SIG {sig}"
        members = [sign_in(name) for name in names]
        topic = dataset["topics_by_sig"][str(sig)][1]
        turn = iter(range(10**9))

        def post(n: int) -> None:
            for _ in range(n):
                client, csrf = members[next(turn) % crowd]
                form = {"body": data.sentence(rng, 20), "csrf_token": csrf}
                response = client.post(f"/t/{topic}/reply", data=form)
                assert response.status_code == 302, response.get_data(as_text=True)[:300]

    else:
        client, csrf = sign_in(member)
        topics = [
            topic
            for sig in dataset["sigs_of_member"][str(member)]
            for topic in dataset["topics_by_sig"][str(sig)][1:]
        ]

        def post(n: int) -> None:
            for _ in range(n):
                form = {"body": data.sentence(rng, 20), "csrf_token": csrf}
                response = client.post(f"/t/{rng.choice(topics)}/reply", data=form)
                assert response.status_code == 302, response.get_data(as_text=True)[:300]

    post(max(30, 2 * crowd))  # warm caches, statements and the index writer; the crowd watches
    profiler = cProfile.Profile() if profile else None
    started = time.process_time()
    if profiler:
        profiler.enable()
    if turns:
        turns.turns.clear()
        turns.recording = True
    if statements:
        statements.recording = True
    post(replies)
    if statements:
        statements.recording = False
        print(statements.report(replies), flush=True)
    if turns:
        turns.recording = False
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(20)
    cpu = (time.process_time() - started) / replies * 1000
    # The search drain's thread finishes the round's index writes now, while its folder is
    # still there (left to exit, it wrote into a removed folder and logged an error).
    stop_drainer(app)
    return cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one more round")
    parser.add_argument(
        "--statements", action="store_true", help="one more round: CPU by statement site"
    )
    parser.add_argument("--turn", action="store_true", help="time the write turns too")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument(
        "--crowd", type=int, default=0, help="N online members take turns in one topic (T-01)"
    )
    args = parser.parse_args(argv)
    if args.postgres and args.turn:
        parser.error("--turn times SQLite's write turns; PostgreSQL has none")
    logging.getLogger("forum.request").setLevel(logging.WARNING)  # a line a reply otherwise

    turns = TurnClock() if args.turn else None
    base = Path(tempfile.mkdtemp(prefix="forum-reply-loop-"))
    drops: list[Callable[[], None]] = []
    try:
        seeded = base / "seeded"
        seeded.mkdir()
        url = None
        if args.postgres:
            url, drop = fresh_database(seeded, "replyloop", postgres_server(True))
            drops.append(drop)
        dataset = seed(seeded, url)
        figures = []
        extra = ["profile"] * args.profile + ["statements"] * args.statements
        for n in range(args.rounds + len(extra)):
            workdir = base / f"round-{n}"
            shutil.copytree(seeded, workdir)
            round_url = None
            if url:
                round_url, drop = copy_database(url, f"r{n}")
                drops.append(drop)
            kind = extra[n - args.rounds] if n >= args.rounds else None
            clock = StatementClock() if kind == "statements" else None
            ms = one_round(
                workdir,
                dataset,
                args.replies,
                kind == "profile",
                turns,
                round_url,
                clock,
                args.crowd,
            )
            if kind is None:
                figures.append(ms)
                print(f"round {n + 1}: {ms:.2f} ms of CPU a reply", flush=True)
                if turns:
                    print(f"  {turns.report(args.replies)}", flush=True)
        if figures:
            best = min(figures)
            print(f"best of {len(figures)}: {best:.2f} ms of CPU a reply ({args.replies} replies)")
    finally:
        for drop in reversed(drops):
            drop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
