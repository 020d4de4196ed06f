"""A page worker loads what serving pages needs, and the rest when it is first used."""

from __future__ import annotations

from .serverkit import run_forum_script

LEAVES_OUT = """
import sys
from forum import create_app
app = create_app({"DATABASE_URL": "sqlite://", "MIGRATIONS": False, "TESTING": True,
                  "SEARCH_SYNC_ON_START": False, "INDEX_DIR": sys.argv[1]})
print(sorted(name for name in ("PIL",) if name in sys.modules))
from forum.files import processing
try:
    processing.process_image(b"GIF89a not really", processing.Limits())
except processing.Refused as refused:
    print(refused.code)
print(sorted(name for name in ("PIL",) if name in sys.modules))
"""


def test_a_worker_loads_pillow_when_it_first_decodes_an_image(tmp_path) -> None:
    # 1.8 MB of every page worker's memory at start-up (forum.files.processing).
    out = run_forum_script(LEAVES_OUT, str(tmp_path / "index"))
    assert out.split("\n")[:3] == ["[]", "undecodable", "['PIL']"]


QUEUES_A_JOB = """
import sys
from forum import create_app, jobs
app = create_app({"DATABASE_URL": "sqlite://", "MIGRATIONS": False,
                  "SEARCH_SYNC_ON_START": False, "INDEX_DIR": sys.argv[1] + "/index",
                  "JOBS_SQLITE_PATH": sys.argv[1] + "/jobs.db", "REDIS_URL": None})
print(sorted(name for name in ("huey", "gevent", "psycopg") if name in sys.modules))
with app.app_context():
    jobs.queue_of(app).huey.storage.enqueue(b"a job", 0)
print(sorted(name for name in ("huey", "gevent", "psycopg") if name in sys.modules))
import psycopg  # (still importable afterwards)
"""


def test_a_worker_that_queues_a_job_loads_huey_without_gevent_or_psycopg(tmp_path) -> None:
    # 13 MB of a page worker on SQLite that queued a notification mail (forum.jobs.load_huey).
    out = run_forum_script(QUEUES_A_JOB, str(tmp_path))
    assert out.split("\n")[:2] == ["[]", "['huey']"]


LOADS_ON_DEMAND = """
import sys
from forum import create_app
app = create_app({"DATABASE_URL": "sqlite://", "MIGRATIONS": False, "TESTING": True,
                  "SEARCH_SYNC_ON_START": False, "INDEX_DIR": sys.argv[1]})
print(sorted(name for name in ("pydantic", "spectree") if name in sys.modules))
client = app.test_client()
assert client.get("/api/v1/openapi.json").status_code == 200
print(sorted(name for name in ("pydantic", "spectree") if name in sys.modules))
"""


def test_a_worker_loads_pydantic_and_spectree_on_the_first_api_request(tmp_path) -> None:
    # About 10 MB a page worker that serves no API request does without (forum.api.spec).
    out = run_forum_script(LOADS_ON_DEMAND, str(tmp_path / "index"))
    assert out.split("\n")[:2] == ["[]", "['pydantic', 'spectree']"]
