"""Digests for many members: how long rendering and queueing them takes, and the peak memory.

    python bench/digest_bench.py [--members 10000] [--postgres] [--smoke]

Seeds a forum of its own (bulk inserts: MEMBERS members in 3 of 20 SIGs each, 100 topics per
SIG with 10 posts each, 10 topics per SIG active in the last day and the rest older, nothing
read), every member's digest due at this hour: each lists some 30 topics with news.
Then, as the hourly job and the consumer would: `queue_digests` puts one job per member into a
real SQLite job queue, and the jobs run here one after another (`JobQueue.run_pending`): each
gathers the member's news (two queries and the claims), renders text and HTML, and hands the
mail on (to instance/outbox/, as without MAIL_SERVER). Timed once without tracemalloc; then,
with the sent keys forgotten, the hourly run again and its first --memory-jobs digests under
tracemalloc, for the peak of Python memory.
Prints a table and a `RESULT {json}` line (bench/run.py reads it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, insert, text, update  # noqa: E402

from bench.databases import fresh_database, log, postgres_server  # noqa: E402

SIGS = 20
SIGS_PER_MEMBER = 3
TOPICS_PER_SIG = 100
# Of which this many had posts in the last day (the rest are older, days to weeks).
ACTIVE_PER_SIG = 10
POSTS_PER_TOPIC = 10


def seed(members: int, now: datetime, topics_per_sig: int = TOPICS_PER_SIG) -> dict[str, int]:
    """Members, SIGs, memberships, topics and posts by bulk insert (no services: seconds)."""
    from forum.accounts.models import User
    from forum.extensions import db
    from forum.sigs.models import Membership, Sig
    from forum.topics.models import Post, Topic

    session = db.session
    day_ago = now - timedelta(hours=20)
    session.execute(
        insert(User),
        [
            {
                "username": f"m{n}",
                "email": f"m{n}@bench.example",
                "password_hash": "x",
                "email_verified_at": day_ago,
                "preferences": {},
                "timezone": "UTC",
            }
            for n in range(members)
        ],
    )
    session.execute(
        insert(Sig),
        [{"slug": f"sig-{n}", "name": f"SIG {n}", "description": ""} for n in range(SIGS)],
    )
    user_ids = [row[0] for row in session.execute(text("SELECT id FROM users ORDER BY id"))]
    sig_ids = [row[0] for row in session.execute(text("SELECT id FROM sigs ORDER BY id"))]
    session.execute(
        insert(Membership),
        [
            {"sig_id": sig_ids[(i + k * 7) % SIGS], "user_id": user_id, "role": "member"}
            for i, user_id in enumerate(user_ids)
            for k in range(SIGS_PER_MEMBER)
        ],
    )
    topics = []
    for s, sig_id in enumerate(sig_ids):
        for t in range(topics_per_sig):
            moment = day_ago + timedelta(seconds=(s * topics_per_sig + t) * 7)
            if t >= ACTIVE_PER_SIG:
                moment -= timedelta(days=2 + t % 30)
            topics.append(
                {
                    "sig_id": sig_id,
                    "user_id": user_ids[(s * topics_per_sig + t) % len(user_ids)],
                    "title": f"Topic {t} of SIG {s}",
                    "slug": f"topic-{t}-of-sig-{s}",
                    "created_at": moment,
                    "last_posted_at": moment + timedelta(minutes=POSTS_PER_TOPIC),
                    "highest_post_number": POSTS_PER_TOPIC,
                    "last_post_number": POSTS_PER_TOPIC,
                    "post_count": POSTS_PER_TOPIC,
                }
            )
    session.execute(insert(Topic), topics)
    topic_rows = session.execute(text("SELECT id, created_at FROM topics ORDER BY id")).all()
    posts = []
    for index, (topic_id, _) in enumerate(topic_rows):
        start = topics[index]["created_at"]
        # Popularity varies: some topics got all their posts in the last day, others fewer.
        for number in range(1, POSTS_PER_TOPIC + 1):
            posts.append(
                {
                    "topic_id": topic_id,
                    "user_id": user_ids[(index * 13 + number) % len(user_ids)],
                    "number": number,
                    "body_raw": f"Post {number} of topic {topic_id}.",
                    "body_html": f"<p>Post {number} of topic {topic_id}.</p>",
                    "created_at": start + timedelta(minutes=number * (1 + index % 5) * 20),
                }
            )
    for at in range(0, len(posts), 5000):
        session.execute(insert(Post), posts[at : at + 5000])
    session.commit()
    # Statistics, as a forum that wrote these rows over months has them (the planner is blind
    # without: the topics query takes three times as long).
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        session.execute(text("ANALYZE"))
        session.commit()
    return {"members": members, "sigs": SIGS, "topics": len(topics), "posts": len(posts)}


def forget_digests() -> None:
    """As if no digest had gone out: the run can be measured again."""
    from forum.accounts.models import User
    from forum.extensions import db
    from forum.jobs.models import SentMail

    db.session.execute(delete(SentMail))
    db.session.execute(update(User).values(last_digest_at=None, digests_unvisited=0))
    db.session.commit()


def run_once(app: Any, now: datetime, jobs: int | None = None) -> tuple[int, int, float, float]:
    """queue_digests, then the queued jobs here (the first `jobs` of them, the rest dropped):
    (queued, sent, queue s, render+send s)."""
    from forum.extensions import db
    from forum.jobs import queue_of
    from forum.jobs.models import SentMail
    from forum.notifications.digest import queue_digests

    with app.app_context():
        started = time.perf_counter()
        queued = queue_digests(now)
        queued_s = time.perf_counter() - started
        db.session.remove()
    queue = queue_of(app)
    started = time.perf_counter()
    if jobs is None:
        queue.run_pending()
    else:
        for _ in range(jobs):
            task = queue.huey.dequeue()
            if task is None:
                break
            queue.huey.execute(task)
        queue.huey.flush()
    sent_s = time.perf_counter() - started
    with app.app_context():
        sent = int(db.session.scalar(text("SELECT count(*) FROM sent_mails")) or 0)
        assert sent == db.session.query(SentMail).count()
    return queued, sent, queued_s, sent_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument(
        "--memory-jobs",
        type=int,
        default=1000,
        help="digests rendered under tracemalloc (each job is alone: the peak does not grow)",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="40 members, 20 topics a SIG: checks it runs"
    )
    args = parser.parse_args(argv)
    topics_per_sig = TOPICS_PER_SIG
    if args.smoke or os.environ.get("BENCH_SMOKE"):
        # Every step once, in seconds (bench/run.py --smoke, which a test runs): each member's
        # digest still lists the active topics of three SIGs, and some older ones.
        args.members, args.memory_jobs, topics_per_sig = 40, 10, 2 * ACTIVE_PER_SIG

    from flask_migrate import upgrade

    from forum import create_app
    from forum.extensions import db

    workdir = Path(tempfile.mkdtemp(prefix="digest-bench-"))
    url, drop = fresh_database(workdir, "digest_bench", postgres_server(args.postgres))
    now = datetime.now(UTC)
    app = create_app(
        {
            "DATABASE_URL": url,
            "INDEX_DIR": str(workdir / "index"),
            "OUTBOX_DIR": str(workdir / "outbox"),
            "SECRET_KEY": "digest-bench-secret",
            "BASE_URL": "https://forum.bench.example",
            "SEARCH_SYNC_ON_START": False,
            "REDIS_URL": None,
            "MAIL_SERVER": None,
            "JOBS_IMMEDIATE": False,
            "JOBS_SQLITE_PATH": str(workdir / "jobs.db"),
            "DIGEST_HOUR": now.hour,
            "DIGEST_FREQUENCY": "daily",
            "RATELIMIT_ENABLED": False,
        }
    )
    # One log line per outbox mail (and per job) would measure the logger.
    for name in ("forum", "huey"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with app.app_context():
            started = time.perf_counter()
            upgrade()
            sizes = seed(args.members, now, topics_per_sig)
            log(f"Seeded {sizes} in {time.perf_counter() - started:.1f} s")
        queued, sent, queue_s, send_s = run_once(app, now)
        with app.app_context():
            forget_digests()
        # The whole hourly run under tracemalloc, and the first of the digests it queued.
        tracemalloc.start()
        _, sent_again, _, _ = run_once(app, now, args.memory_jobs)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        total = queue_s + send_s
        result = {
            "members": args.members,
            "database": "postgresql" if args.postgres else "sqlite",
            "dataset": sizes,
            "queued": queued,
            "sent": sent,
            "rendered_under_tracemalloc": sent_again,
            "queue_s": round(queue_s, 2),
            "render_and_send_s": round(send_s, 2),
            "total_s": round(total, 2),
            "ms_per_digest": round(total * 1000 / max(sent, 1), 2),
            "peak_mb": round(peak / 2**20, 1),
        }
        log(
            f"Digests for {args.members:,} members: {queued:,} queued in {queue_s:.1f} s, "
            f"{sent:,} rendered and sent in {send_s:.1f} s ({result['ms_per_digest']} ms "
            f"each); peak Python memory {result['peak_mb']} MB (tracemalloc)"
        )
        log("RESULT " + json.dumps(result))
        out_dir = Path(os.environ.get("BENCH_RESULTS_DIR", ROOT / "bench" / "results"))
        if not args.smoke and not os.environ.get("BENCH_SMOKE"):
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / f"digest-{result['database']}.json").write_text(json.dumps(result, indent=2))
        expected = min(args.memory_jobs, args.members)
        return 0 if sent == queued == args.members and sent_again == expected else 1
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
