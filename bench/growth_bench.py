"""Pages that must not grow with the forum: /new and deep SIG pages, at two sizes.

    python bench/growth_bench.py [--postgres] [--posts 50000,200000] [--repeat 7]

For each size it seeds its own forum (bench/data.py's shape: ten SIGs, each member in three, one
topic in five posts) in a temporary SQLite database, or a new PostgreSQL database on
FORUM_BENCH_POSTGRES_URL with --postgres (also chosen when FORUM_DATABASE_URL, set by `make
bench`, is a PostgreSQL URL). It then renders, in this process through the Flask test client with
the page cache off, and prints the CPU time of this process per request (median of --repeat
batches; on SQLite that includes the database's work, on PostgreSQL the server's work is not in it,
so wall time is printed too):

- /new for a member who has read nothing, and for one who has marked everything read
  (POST /new/read, as the page's button does);
- a SIG's first page, a page in its middle and its last page, for a guest and a member, and the
  last page reached by the Next link of the one before (a cursor, not an OFFSET).

A page whose cost stays put from the small forum to the large one is what this checks; the two
sizes run one after the other in one sitting.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


from bench import data  # noqa: E402
from bench.databases import fresh_database, log, postgres_server  # noqa: E402
from bench.loadgen import CSRF_RE  # noqa: E402

BATCH = 5  # requests a timed batch


def sizes_for(posts: int) -> data.Sizes:
    return data.Sizes(sigs=10, members=2_000, topics=posts // 5, posts=posts, big_topic_posts=2_000)


class Client:
    def __init__(self, app: Any, username: str | None) -> None:
        self.client = app.test_client()
        if username:
            response = self.client.post(
                "/login",
                data={"login": username, "password": data.PASSWORD, "csrf_token": self.token()},
            )
            assert response.status_code == 302, f"login as {username}: {response.status_code}"

    def token(self, path: str = "/login") -> str:
        match = CSRF_RE.search(self.client.get(path).get_data(as_text=True))
        assert match, f"no CSRF token on {path}"
        return match.group(1) or match.group(2)

    def get(self, path: str) -> None:
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.status_code)


def next_link(client: Client, slug: str, page: int) -> str:
    """The Next link of a SIG's page (it seeks from a cursor where the forum has them)."""
    body = client.client.get(f"/s/{slug}/?page={page}").get_data(as_text=True)
    match = re.search(r'<a rel="next" href="([^"]+)"', body)
    assert match, f"no Next link on page {page}"
    return match.group(1).replace("&amp;", "&")


def timed(fn: Any, repeat: int) -> tuple[float, float]:
    """Median CPU and wall milliseconds per request over `repeat` batches (after a warm-up)."""
    for _ in range(2):
        fn()
    cpus, walls = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(BATCH):
            fn()
        cpus.append((time.process_time() - cpu) / BATCH * 1000)
        walls.append((time.perf_counter() - wall) / BATCH * 1000)
    return statistics.median(cpus), statistics.median(walls)


def measure(posts: int, postgres: bool, repeat: int) -> dict[str, tuple[float, float]]:
    from flask_migrate import upgrade

    from forum import create_app
    from forum.extensions import db

    workdir = Path(tempfile.mkdtemp(prefix="growth-bench-"))
    url, drop = fresh_database(workdir, "growth_bench", postgres_server(postgres))
    try:
        app = create_app(
            {
                "DATABASE_URL": url,
                "INDEX_DIR": str(workdir / "index"),
                "SECRET_KEY": "growth-bench-" + "x" * 32,
                "SEARCH_SYNC_ON_START": False,
                "REDIS_URL": None,
                "RATELIMIT_ENABLED": False,
                "PAGE_CACHE_SECONDS": 0,
            }
        )
        sizes = sizes_for(posts)
        started = time.perf_counter()
        with app.app_context():
            upgrade()
            dataset = data.build(db.engine, sizes, app.config["POSTS_PER_PAGE"])
        log(
            f"  seeded {posts:,} posts ({sizes.topics:,} topics) in "
            f"{time.perf_counter() - started:.0f} s"
        )
        per_page = app.config["TOPICS_PER_PAGE"]
        sig_pages = -(-len(dataset.topics_by_sig[1]) // per_page)
        middle = max(1, sig_pages // 2)
        fresh = Client(app, dataset.members[0])
        reader = Client(app, dataset.members[1])
        csrf = reader.token("/new")
        response = reader.client.post("/new/read", data={"csrf_token": csrf})
        assert response.status_code == 302, response.status_code
        guest = Client(app, None)
        slug = dataset.sig_slugs[0]
        pages = {
            "new (read nothing)": (fresh, "/new"),
            "new (read everything)": (reader, "/new"),
            "SIG page 1 (guest)": (guest, f"/s/{slug}/"),
            "SIG page, the middle (guest)": (guest, f"/s/{slug}/?page={middle}"),
            "SIG page, the last (guest)": (guest, f"/s/{slug}/?page={sig_pages}"),
            "SIG page, the last, by Next (guest)": (guest, next_link(guest, slug, sig_pages - 1)),
            "SIG page 1 (member)": (fresh, f"/s/{slug}/"),
            "SIG page, the last (member)": (fresh, f"/s/{slug}/?page={sig_pages}"),
        }
        log(f"  SIG 1 has {len(dataset.topics_by_sig[1]):,} topics: pages 1, {middle}, {sig_pages}")
        out = {}
        for name, (client, path) in pages.items():
            out[name] = timed(lambda c=client, p=path: c.get(p), repeat)
        with app.app_context():
            db.engine.dispose()
        return out
    finally:
        drop()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--posts", default="50000,200000", help="forum sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=7, help="timed batches per page")
    args = parser.parse_args(argv)
    postgres = args.postgres or os.environ.get("FORUM_DATABASE_URL", "").startswith("postgres")
    logging.getLogger("forum.request").setLevel(logging.WARNING)
    sizes = [int(n) for n in args.posts.split(",")]
    results = {}
    for posts in sizes:
        log(f"Growth bench, {'postgresql' if postgres else 'sqlite'}, {posts:,} posts …")
        results[posts] = measure(posts, postgres, args.repeat)
    log(f"\n{'page':<36}" + "".join(f"{f'{n:,} posts':>24}" for n in sizes))
    log(f"{'':<36}" + "".join(f"{'CPU / wall ms':>24}" for _ in sizes))
    for name in results[sizes[0]]:
        cells = [f"{results[n][name][0]:>14.1f} / {results[n][name][1]:>6.1f}" for n in sizes]
        log(f"{name:<36}" + "".join(f"{c:>24}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
