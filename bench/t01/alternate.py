"""Run T-01 (SQLite) against several checkouts in turn, A B A B ..., and print medians.

    python bench/t01/alternate.py ROUNDS label=/path/to/checkout [label=/path ...]

Each checkout needs `make setup` done (any commit: `git worktree add --detach DIR COMMIT`).
Prints each run (replies a second, p50/p99, the workers' CPU a reply and each worker's CPU
seconds: with keep-alive clients the 16 connections fall to the two workers by accept races,
sometimes all to one), then the median and range per label. Results:
$FAULTS_WORK/<label>-<round>.result.json (default /tmp/t01run); port $FAULTS_PORT (5352).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = Path(os.environ.get("FAULTS_WORK", "/tmp/t01run"))


def main() -> None:
    rounds = int(sys.argv[1])
    pairs = [a.split("=", 1) for a in sys.argv[2:]]
    out: dict[str, list[tuple[float, float, float]]] = {label: [] for label, _ in pairs}
    for r in range(rounds):
        for label, repo in pairs:
            name = f"{label}-{r}"
            env = dict(
                os.environ,
                FAULTS_REPO=repo,
                FAULTS_WORK=str(WORK),
                FAULTS_NAME=name,
                FAULTS_SKIP_SEARCH="1",
            )
            env.setdefault("FAULTS_PORT", "5352")
            proc = subprocess.run(
                [sys.executable, str(HERE / "t01_concurrent_replies.py"), "sqlite"],
                env=env,
                capture_output=True,
                text=True,
            )
            if proc.returncode:
                print(name, "FAILED", proc.stderr[-2000:], flush=True)
                continue
            res = json.loads((WORK / f"{name}.result.json").read_text())
            ok = res["reply"]["by_status"] == {"302": 800} and res["db"]["counters_exact"]
            load = os.getloadavg()[0]
            out[label].append(
                (res["replies_per_s"], res["reply"]["p50_ms"], res["reply"]["p99_ms"])
            )
            print(
                f"{name}: {res['replies_per_s']} replies/s, p50 {res['reply']['p50_ms']} "
                f"p99 {res['reply']['p99_ms']} ms, "
                f"cpu {res.get('worker_cpu_ms_per_reply')} ms/reply "
                f"{res.get('worker_cpu_s_each')}, ok={ok}, load {load:.1f}",
                flush=True,
            )
    for label, rows in out.items():
        if not rows:
            continue
        rps = sorted(x[0] for x in rows)
        p50 = sorted(x[1] for x in rows)
        p99 = sorted(x[2] for x in rows)
        print(
            f"{label}: n={len(rows)} replies/s median {statistics.median(rps)} "
            f"(min {rps[0]}, max {rps[-1]}); p50 median {statistics.median(p50)} ms; "
            f"p99 median {statistics.median(p99)} ms",
            flush=True,
        )


if __name__ == "__main__":
    main()
