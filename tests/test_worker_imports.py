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
