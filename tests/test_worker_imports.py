"""A page worker loads what serving pages needs, and the rest when it is first used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
    done = subprocess.run(
        [sys.executable, "-c", LEAVES_OUT, str(tmp_path / "index")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["[]", "undecodable", "['PIL']"]


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
    done = subprocess.run(
        [sys.executable, "-c", QUEUES_A_JOB, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "['huey']"]
