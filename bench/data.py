"""Build the benchmark forum with bulk inserts: 10 SIGs, 5,000 members, 10,000 topics,
100,000 posts, one topic with 2,000 posts. Deterministic (one seeded random generator), so two
runs measure the same data. Counters are computed here, not recounted afterwards."""

from __future__ import annotations

import html
import random
import time
from bisect import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

from sqlalchemy import text
from werkzeug.security import generate_password_hash

SIGS = 10
MEMBERS = 5_000
TOPICS = 10_000
POSTS = 100_000
BIG_TOPIC_POSTS = 2_000
PASSWORD = "bench-password-1"
VOCABULARY = 3_000
CHUNK = 5_000

SYLLABLES = [
    "ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pa", "de", "gu", "sho", "ban", "tel",
    "mor", "kin", "dra", "vel", "sum", "tor", "qua", "lin", "pex", "rod", "fim", "gar",
]  # fmt: skip


def vocabulary(size: int = VOCABULARY) -> list[str]:
    """Made-up words, most common first (so rank says how rare a word is)."""
    rng = random.Random(11)
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


WORDS = vocabulary()
# Zipf-like frequencies: rank 1 is in most posts, the last ranks in a handful.
_CUMULATIVE = list(accumulate(1.0 / (rank**1.07) for rank in range(1, len(WORDS) + 1)))

# The search mix: common, middling and rare words, and two-word queries.
SEARCH_QUERIES = [
    WORDS[0],
    WORDS[4],
    WORDS[60],
    WORDS[400],
    WORDS[1500],
    WORDS[2900],
    f"{WORDS[2]} {WORDS[30]}",
    f"{WORDS[150]} {WORDS[2500]}",
]


def sentence(rng: random.Random, n: int) -> str:
    total = _CUMULATIVE[-1]
    words = [WORDS[bisect(_CUMULATIVE, rng.random() * total)] for _ in range(n)]
    return " ".join(words).capitalize() + "."


def cook_plain(body: str) -> str:
    """The cooked HTML of a one-paragraph plain-text body (checked against content.render)."""
    return f"<p>{html.escape(body, quote=False)}</p>\n"


@dataclass(frozen=True)
class Sizes:
    sigs: int = SIGS
    members: int = MEMBERS
    topics: int = TOPICS
    posts: int = POSTS
    big_topic_posts: int = BIG_TOPIC_POSTS

    def scaled(self, scale: float) -> Sizes:
        """A smaller data set of the same shape (for a quick check of the benchmark itself)."""
        if scale >= 1:
            return self
        big = max(60, int(self.big_topic_posts * scale))
        topics = max(20, int(self.topics * scale))
        return Sizes(
            sigs=self.sigs,
            members=max(30, int(self.members * scale)),
            topics=topics,
            posts=max(big + topics, int(self.posts * scale)),
            big_topic_posts=big,
        )


@dataclass
class Dataset:
    """Ids the load generator needs to know about."""

    big_topic_id: int = 1
    big_topic_pages: int = 0
    sizes: Sizes = field(default_factory=Sizes)
    sig_slugs: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    topics_by_sig: dict[int, list[int]] = field(default_factory=dict)
    sigs_of_member: dict[str, list[int]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def sigs_of(user_index: int, sigs: int = SIGS) -> list[int]:
    """Each member belongs to three SIGs (1-based SIG ids)."""
    return sorted({user_index % sigs + 1, (user_index + 3) % sigs + 1, (user_index + 7) % sigs + 1})


def build(
    engine: Any,
    sizes: Sizes | None = None,
    posts_per_page: int = 25,
    password_method: str | None = None,
) -> Dataset:
    """Fill an empty, migrated database. Returns what the load generator needs. Every member's
    password is PASSWORD, hashed as the forum hashes it, or with `password_method` (Werkzeug's
    method string: bench/run.py --smoke makes it cheap)."""
    from forum import content
    from forum.accounts.models import TL_MEMBER
    from forum.extensions import db

    tables = db.metadata.tables
    sizes = sizes or Sizes()
    n_sigs, n_members, n_topics = sizes.sigs, sizes.members, sizes.topics
    rng = random.Random(7)
    started = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    origin = now - timedelta(days=365)
    sample = sentence(random.Random(1), 12)
    assert content.render(sample).html == cook_plain(sample), "cook_plain drifted from render"

    password_hash = (
        generate_password_hash(PASSWORD, method=password_method)
        if password_method
        else generate_password_hash(PASSWORD)
    )
    users = [
        {
            "id": 1,
            "username": "benchsysop",
            "email": "benchsysop@example.com",
            "password_hash": password_hash,
            "role": "sysop",
            "trust_level": TL_MEMBER,
            "created_at": origin,
        }
    ]
    for i in range(1, n_members + 1):
        users.append(
            {
                "id": i + 1,
                "username": f"member{i:04d}",
                "email": f"member{i:04d}@example.com",
                "password_hash": password_hash,
                "role": "member",
                # Members of a year's standing: past the new-account limits (forum.trust).
                "trust_level": TL_MEMBER,
                "created_at": origin + timedelta(minutes=i),
            }
        )
    members_of_sig: dict[int, list[int]] = {s: [] for s in range(1, n_sigs + 1)}
    memberships = []
    for i in range(1, n_members + 1):
        for sig_id in sigs_of(i, n_sigs):
            members_of_sig[sig_id].append(i + 1)
            memberships.append(
                {"sig_id": sig_id, "user_id": i + 1, "role": "member", "joined_at": origin}
            )

    # Posts per topic: the big topic has 2,000; the rest share 98,000 (at least one each).
    others = n_topics - 1
    counts = [1] * others
    for _ in range(sizes.posts - sizes.big_topic_posts - others):
        counts[rng.randrange(others)] += 1
    counts.insert(0, sizes.big_topic_posts)

    sig_stats = {
        s: {"topic_count": 0, "post_count": 0, "last": (None, None)} for s in members_of_sig
    }
    user_posts = [0] * (n_members + 2)
    user_topics = [0] * (n_members + 2)
    topics = []
    posts = []
    post_id = 0
    data = Dataset(
        big_topic_pages=-(-sizes.big_topic_posts // posts_per_page),
        sizes=sizes,
        sig_slugs=[f"sig-{s}" for s in range(1, n_sigs + 1)],
        members=[f"member{i:04d}" for i in range(1, n_members + 1)],
        topics_by_sig={s: [] for s in range(1, n_sigs + 1)},
    )
    for topic_id, n_posts in enumerate(counts, start=1):
        sig_id = 1 if topic_id == 1 else rng.randint(1, n_sigs)
        pool = members_of_sig[sig_id]
        start = origin + timedelta(seconds=rng.randrange(300 * 86400))
        step = timedelta(seconds=rng.randint(60, 3600)) if topic_id != 1 else timedelta(seconds=60)
        author = rng.choice(pool)
        title = sentence(rng, rng.randint(3, 8)).rstrip(".")
        last_user = author
        for number in range(1, n_posts + 1):
            post_id += 1
            poster = author if number == 1 else rng.choice(pool)
            body = sentence(rng, rng.randint(12, 60))
            posts.append(
                {
                    "id": post_id,
                    "topic_id": topic_id,
                    "user_id": poster,
                    "number": number,
                    "body_raw": body,
                    "body_html": cook_plain(body),
                    "render_version": content.RENDER_VERSION,
                    "status": "visible",
                    "created_at": start + step * (number - 1),
                }
            )
            user_posts[poster] += 1
            last_user = poster
        last_at = start + step * (n_posts - 1)
        topics.append(
            {
                "id": topic_id,
                "sig_id": sig_id,
                "user_id": author,
                "title": title[:200],
                "slug": "-".join(title.lower().split())[:80],
                "created_at": start,
                "last_posted_at": last_at,
                "last_post_user_id": last_user,
                "highest_post_number": n_posts,
                "last_post_number": n_posts,
                "post_count": n_posts,
            }
        )
        user_topics[author] += 1
        stats = sig_stats[sig_id]
        stats["topic_count"] += 1
        stats["post_count"] += n_posts
        if stats["last"][1] is None or last_at > stats["last"][1]:
            stats["last"] = (topic_id, last_at)
        data.topics_by_sig[sig_id].append(topic_id)
    data.timings["generate_s"] = time.perf_counter() - started

    started = time.perf_counter()
    sigs = [
        {
            "id": s,
            "slug": f"sig-{s}",
            "name": f"Bench SIG {s}",
            "description": f"Benchmark SIG number {s}.",
            "visibility": "public",
            "position": s,
            "created_at": origin,
            "topic_count": sig_stats[s]["topic_count"],
            "post_count": sig_stats[s]["post_count"],
            "member_count": len(members_of_sig[s]),
        }
        for s in range(1, n_sigs + 1)
    ]
    for row in users:
        row["post_count"] = user_posts[row["id"]]
        row["topic_count"] = user_topics[row["id"]]
    with engine.begin() as conn:
        _insert(conn, tables["users"], users)
        _insert(conn, tables["sigs"], sigs)
        _insert(conn, tables["memberships"], memberships)
        _insert(conn, tables["topics"], topics)
        _insert(conn, tables["posts"], posts)
        conn.execute(
            text(
                "UPDATE topics SET first_post_id = "
                "(SELECT p.id FROM posts p WHERE p.topic_id = topics.id AND p.number = 1)"
            )
        )
        for s, stats in sig_stats.items():
            conn.execute(
                text("UPDATE sigs SET last_topic_id = :t, last_posted_at = :at WHERE id = :s"),
                {"t": stats["last"][0], "at": stats["last"][1], "s": s},
            )
        if engine.dialect.name == "postgresql":
            for name in ("users", "sigs", "memberships", "topics", "posts"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT max(id) FROM {name}))"
                    )
                )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    data.timings["insert_s"] = time.perf_counter() - started
    data.sigs_of_member = {
        f"member{i:04d}": sigs_of(i, n_sigs) for i in range(1, min(64, n_members) + 1)
    }
    return data


def _insert(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(table.insert(), rows[start : start + CHUNK])
