"""T-01: 16 concurrent members x 50 replies into one topic on the production server
(gunicorn, 2 workers), then check posts and counters in the database and the search index.

    FAULTS_REPO=/path/to/checkout python bench/t01/t01_concurrent_replies.py sqlite|pg \
        [clients] [replies]

Adapted from shared/reviews/faults: FAULTS_NAME (the run's name), FAULTS_PORT (default 5302),
FAULTS_SKIP_SEARCH=1 (skip the 800 searches after the run: not part of the throughput),
FAULTS_PYSPY=/path/to/py-spy (record each worker while the replies run, collapsed stacks in
FAULTS_WORK; FAULTS_PYSPY_ARGS="--gil" samples only the thread holding the GIL). The result
also gives the workers' CPU a reply (worker_cpu_ms_per_reply) and each worker's CPU seconds.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import common as c


def main() -> None:
    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    replies = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    name = os.environ.get("FAULTS_NAME", f"t01-{backend}")
    db_url = c.pg_recreate("faults_t01") if backend == "pg" else None
    inst, env, fx = c.fresh_instance(name, db_url, members=clients)
    server = c.Server(name, env, int(os.environ.get("FAULTS_PORT", "5302")), workers=2)
    server.start()
    try:
        members = c.login_all(server.base, fx["members"])
        rec = c.Recorder()
        topic = fx["topic_id"]
        barrier = threading.Barrier(clients)

        def work(m: c.Member) -> None:
            barrier.wait()
            for i in range(replies):
                tok = c.unique_word()
                status, ms, note = m.reply(topic, f"Reply {i} from {m.username}: {tok}")
                rec.add(c.Record("reply", status, ms, time.time(), m.username, tok, note))

        cpu0 = server.cpu_seconds()
        by0 = server.cpu_by_worker()
        spies = []
        if os.environ.get("FAULTS_PYSPY"):  # py-spy record each worker, collapsed stacks
            import subprocess

            for pid in server.worker_pids():
                out = c.WORK / f"{name}.{pid}.pyspy.txt"
                spies.append(
                    subprocess.Popen(
                        [
                            os.environ["FAULTS_PYSPY"],
                            "record",
                            "-p",
                            str(pid),
                            "-r",
                            "200",
                            "--format",
                            "raw",
                            "-o",
                            str(out),
                            "--nonblocking",
                            *os.environ.get("FAULTS_PYSPY_ARGS", "").split(),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            time.sleep(1)
        t0 = time.time()
        threads = [threading.Thread(target=work, args=(m,)) for m in members]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.time() - t0
        cpu = server.cpu_seconds() - cpu0
        by1 = server.cpu_by_worker()
        cpu_split = sorted(round(by1[p] - by0.get(p, 0), 1) for p in by1)
        for spy in spies:
            spy.send_signal(2)
            spy.wait(timeout=30)
        time.sleep(3)  # let the background drain apply the last commits to the index
        db = c.DB(db_url, inst)
        check = db.topic_check(topic)
        acked = c.acked_vs_found(rec, check.pop("bodies"))
        tokens = [r.token for r in rec.records if 200 <= r.status < 400]
        search = (
            c.search_check(server.base, tokens)
            if not os.environ.get("FAULTS_SKIP_SEARCH")
            else {"skipped": True}
        )
        logtext = server.log_text()
        result = {
            "test": "T-01",
            "backend": backend,
            "clients": clients,
            "replies_each": replies,
            "wall_s": round(wall, 1),
            "replies_per_s": round(len(rec.records) / wall, 1),
            "worker_cpu_ms_per_reply": round(cpu * 1000 / len(rec.records), 2),
            "worker_cpu_s_each": cpu_split,
            "reply": rec.summary("reply"),
            "db": check,
            "acked_vs_found": acked,
            "integrity": db.integrity(),
            "search_sample": search,
            "log_status": c.status_counts(logtext),
            "log_errors": c.grep_log(logtext, "Traceback", "ERROR", "LockError", "locked"),
        }
        c.save(name, result)
        rec.dump(c.WORK / f"{name}.records.jsonl")
        print(result)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
