"""The sweep of lost notification mail (forum.notifications.mail.sweep_lost_mail) on a forum
with many notifications: what it costs every 10 minutes when there is nothing to catch up, and
the query plan.

    python bench/mail_sweep_bench.py [--per-day 20000] [--days 30] [--postgres]

Seeds MEMBERS members and DAYS days of notifications (PER_DAY a day, spread evenly) by bulk
insert: a third replies and mentions (mailed at once by default: all claimed, as their jobs
ran), the rest watched posts and reactions (off by default: never claimed); of all, the half
older than a day read. The sweep then finds nothing to queue, but reads every unread, unclaimed
notification of its window (those of the unwanted kinds) to ask each member's choices.
Prints the plan, the rows in the window and the median time of 7 runs, with the model's indexes
and with the index on mail_key alone that migration 0044 replaced.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from bench.databases import fresh_database, log, postgres_server  # noqa: E402

MEMBERS = 2000
KINDS = ("reply", "watched", "watched", "reaction", "mention", "watched")


def seed(per_day: int, days: int, now: datetime) -> None:
    from forum.accounts.models import User
    from forum.extensions import db
    from forum.notifications.models import Notification

    session = db.session
    verified = now - timedelta(days=days + 1)
    session.execute(
        insert(User),
        [
            {
                "username": f"m{n}",
                "email": f"m{n}@bench.example",
                "password_hash": "x",
                "email_verified_at": verified,
                "preferences": {},
                "timezone": "UTC",
            }
            for n in range(MEMBERS)
        ],
    )
    user_ids = [row[0] for row in session.execute(text("SELECT id FROM users ORDER BY id"))]
    total = per_day * days
    step = timedelta(days=days) / total
    batch = []
    for i in range(total):
        created = now - timedelta(days=days) + step * i
        kind = KINDS[i % len(KINDS)]
        mailed = kind in ("reply", "mention")
        batch.append(
            {
                "user_id": user_ids[(i * 7919) % MEMBERS],
                "kind": kind,
                "data": {},
                "created_at": created,
                "read_at": created + timedelta(hours=1) if created < now - timedelta(days=1)
                and i % 2 else None,
                "mail_key": f"notify:0:{i}" if mailed else None,
            }
        )  # fmt: skip
        if len(batch) == 10_000:
            session.execute(insert(Notification), batch)
            batch = []
    if batch:
        session.execute(insert(Notification), batch)
    session.commit()


# Other indexes, each measured in place of the model's: (make, undo).
TRY = {
    "before migration 0044: ix_notifications_mail_key (mail_key)": (
        "CREATE INDEX ix_notifications_mail_key ON notifications (mail_key)",
        "DROP INDEX ix_notifications_mail_key_created",
    ),
}
UNDO = {
    "before migration 0044: ix_notifications_mail_key (mail_key)": (
        "DROP INDEX ix_notifications_mail_key",
        "CREATE INDEX ix_notifications_mail_key_created ON notifications (mail_key, created_at)",
    ),
}


def measure(now: datetime, name: str) -> tuple[str, int, int, list, list[float]]:
    from forum.extensions import db
    from forum.notifications import mail
    from forum.notifications.models import Notification

    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE notifications"))
    else:
        db.session.execute(text("ANALYZE"))
    db.session.commit()
    oldest, _newest, newest_page = mail.sweep_window(now)
    in_window = (Notification.created_at > oldest, Notification.created_at <= newest_page)
    unclaimed = (Notification.read_at.is_(None), Notification.mail_key.is_(None))
    window = db.session.scalar(select(func.count()).where(*in_window))
    scanned = db.session.scalar(select(func.count()).where(*in_window, *unclaimed))
    statement = (
        mail._mail_rows()
        .where(*in_window, *unclaimed)
        .order_by(Notification.created_at, Notification.id)
    )
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    explain = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
    plan = db.session.execute(text(explain + str(compiled))).all()
    db.session.rollback()
    times = []
    for _ in range(7):
        started = time.perf_counter()
        assert mail.sweep_lost_mail(now) == []
        times.append((time.perf_counter() - started) * 1000)
        db.session.rollback()
    return name, int(window or 0), int(scanned or 0), plan, times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-day", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()

    from flask_migrate import upgrade

    from forum import create_app
    from forum.extensions import db

    workdir = Path(tempfile.mkdtemp(prefix="mail-sweep-bench-"))
    url, drop = fresh_database(workdir, "mail_sweep_bench", postgres_server(args.postgres))
    now = datetime.now(UTC)
    app = create_app(
        {
            "DATABASE_URL": url,
            "INDEX_DIR": str(workdir / "index"),
            "OUTBOX_DIR": str(workdir / "outbox"),
            "SECRET_KEY": "mail-sweep-bench-secret",
            "SEARCH_SYNC_ON_START": False,
            "REDIS_URL": None,
            "JOBS_IMMEDIATE": False,
            "JOBS_SQLITE_PATH": str(workdir / "jobs.db"),
            "RATELIMIT_ENABLED": False,
        }
    )
    logging.getLogger("forum").setLevel(logging.ERROR)
    try:
        with app.app_context():
            started = time.perf_counter()
            upgrade()
            seed(args.per_day, args.days, now)
            log(f"Seeded in {time.perf_counter() - started:.1f} s")
            results = [measure(now, "the model's indexes")]
            for name, make in TRY.items():
                for statement in make:
                    db.session.execute(text(statement))
                db.session.commit()
                results.append(measure(now, name))
                for statement in UNDO[name]:
                    db.session.execute(text(statement))
                db.session.commit()
        print(f"{url.split(':')[0]}: {args.per_day * args.days} notifications")
        for name, window, scanned, plan, times in results:
            print(f"-- {name}")
            print(f"in the window: {window}, read by the sweep (unread, unclaimed): {scanned}")
            for row in plan:
                print("   ", " | ".join(str(c) for c in row))
            print(f"sweep with nothing to queue: median {statistics.median(times):.1f} ms "
                  f"(min {min(times):.1f}, max {max(times):.1f})")  # fmt: skip
    finally:
        drop()


if __name__ == "__main__":
    main()
