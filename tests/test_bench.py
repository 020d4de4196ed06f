"""`make bench` keeps working: its smoke mode seeds a tiny forum, serves it with the production
setup beside the bare page, and measures every page briefly. The figures mean nothing (the
measuring itself is `make bench`'s); this proves the seeder, the servers, every scenario and the
report still run after a change to the code they drive."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .serverkit import ROOT

# (It makes its own SQLite forum, so the PostgreSQL pass skips it: tests/conftest.py.)
pytestmark = pytest.mark.slow


def test_bench_smoke_measures_every_page(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--smoke", "--output", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    guest = {"sig_index", "sig_page", "topic_first", "topic_last"}
    expected = guest | {f"{page}_nocache" for page in guest} | {"bare", "bare_again"}
    expected |= {"sig_page_member", "topic_member", "new", "new_read_all", "reply"}
    assert expected <= set(report["results"])
    for name, row in report["results"].items():
        assert row["requests"] > 0 and row["errors"] == 0, (name, row)
        assert row["ratio"] > 0 and row["p99_ms"] >= row["p50_ms"] > 0
    for label in ("cache", "nocache"):
        rows = report["open_loop"][label]
        assert {"open_reply", "open_page"} <= set(rows)
        assert all(row["measured"] > 0 and row["errors"] == 0 for row in rows.values()), rows
    for label in ("forum", "nocache"):
        workers = report["memory_mb_per_worker"][label]
        assert len(workers) == 2 and all(0 < w["peak"] < 1000 for w in workers), workers
    assert "vs bare" in result.stdout and "Memory per forum worker" in result.stdout
