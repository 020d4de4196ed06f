"""A small load generator aimed at loopback only, bounded in time: closed-loop (`run`: N threads,
one keep-alive HTTP connection each, each sending again as soon as it is answered) and open-loop
(`run_open`: requests arrive at a fixed rate, Poisson, whether or not earlier ones were
answered)."""

from __future__ import annotations

import http.client
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"|name="csrf_token"[^>]*value="([^"]+)"')


class Session:
    """One browser: a keep-alive connection to one server process and its cookies."""

    def __init__(self, host: str, port: int) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the benchmark only sends load to loopback")
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        headers = {"Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 2:
                    raise
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        return response.status, data, dict(response.getheaders())

    def fetch_csrf(self, path: str = "/login") -> str:
        status, body, _ = self.request("GET", path)
        match = CSRF_RE.search(body.decode())
        if status != 200 or not match:
            raise RuntimeError(f"no CSRF token on {path} (status {status})")
        self.csrf = match.group(1) or match.group(2)
        return self.csrf

    def login(self, username: str, password: str) -> None:
        self.fetch_csrf("/login")
        status, _, headers = self.request(
            "POST", "/login", {"login": username, "password": password, "csrf_token": self.csrf}
        )
        if status != 302:
            raise RuntimeError(f"login as {username} failed with {status}")
        self.fetch_csrf("/settings")

    def close(self) -> None:
        self.conn.close()


# A step takes the session and its index and returns (method, path, form, expected status).
Step = Callable[[Session, int], tuple[str, str, dict[str, str] | None, int]]


@dataclass
class Result:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    first_error: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(
    sessions: list[Session], step: Step, duration: float, warmup: float, limit: int = 0
) -> Result:
    """Drive every session in its own thread: `warmup` seconds unmeasured, then `duration`;
    with a `limit`, each session stops after that many measured requests (the smoke run)."""
    result = Result()
    lock = threading.Lock()
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration

    def worker(index: int, session: Session) -> None:
        local: list[float] = []
        errors = 0
        first_error = ""
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                break
            try:
                method, path, form, expected = step(session, index)
            except Exception as exc:  # noqa: BLE001  (the scenario itself failed: an error)
                errors += 1
                first_error = first_error or f"the scenario failed: {exc!r}"
                break
            t0 = time.perf_counter()
            try:
                status, body, _ = session.request(method, path, form)
            except Exception as exc:  # noqa: BLE001  (counted and reported, not fatal)
                status, body = 0, str(exc).encode()
            t1 = time.perf_counter()
            if t0 >= measure_from and t1 <= stop_at:
                local.append((t1 - t0) * 1000)
                if status != expected:
                    errors += 1
                    first_error = first_error or f"{method} {path} -> {status}: {body[:200]!r}"
                if limit and len(local) >= limit:
                    break
        with lock:
            result.latencies_ms.extend(local)
            result.errors += errors
            result.first_error = result.first_error or first_error

    threads = [threading.Thread(target=worker, args=(i, s)) for i, s in enumerate(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = duration
    result.requests = len(result.latencies_ms)
    return result


@dataclass
class Stream:
    """Open-loop traffic: requests arrive at `rate` a second (Poisson), whoever is free sends."""

    name: str
    rate: float
    sessions: list[Session]
    step: Step


@dataclass
class OpenResult(Result):
    offered: int = 0
    # How late requests left the client after their scheduled time (all sessions busy): the
    # latencies include it, so a slow server cannot hide behind a slow client.
    send_lag_ms: list[float] = field(default_factory=list)


def arrivals(rate: float, until: float, seed: int) -> list[float]:
    """Poisson arrival times (seconds from the start) at `rate` a second, up to `until`."""
    rng = random.Random(seed)
    times, t = [], 0.0
    while True:
        t += rng.expovariate(rate)
        if t >= until:
            return times
        times.append(t)


def run_open(
    streams: list[Stream], duration: float, warmup: float, seed: int = 1
) -> dict[str, OpenResult]:
    """Offer every stream at its rate for `warmup` + `duration` seconds. A request's latency is
    measured from its scheduled arrival, not from when a client got round to sending it (no
    coordinated omission); requests scheduled in the warm-up are not measured."""
    results = {stream.name: OpenResult() for stream in streams}
    start = time.perf_counter() + 0.2
    threads = []
    for n, stream in enumerate(streams):
        times = arrivals(stream.rate, warmup + duration, seed + n)
        result = results[stream.name]
        result.offered = len(times)
        schedule = _Schedule(iter(times), start, start + warmup)
        threads += [
            threading.Thread(target=schedule.drive, args=(stream, i, s, result))
            for i, s in enumerate(stream.sessions)
        ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results.values():
        result.seconds = duration
        result.requests = len(result.latencies_ms)
    return results


class _Schedule:
    """One stream's arrivals, taken in turn by whichever of its sessions is free."""

    def __init__(self, times: Any, start: float, measure_from: float) -> None:
        self.times = times
        self.start = start
        self.measure_from = measure_from
        self.lock = threading.Lock()

    def drive(self, stream: Stream, index: int, session: Session, result: OpenResult) -> None:
        local: list[float] = []
        lags: list[float] = []
        errors = 0
        first_error = ""
        while True:
            with self.lock:
                offset = next(self.times, None)
            if offset is None:
                break
            due = self.start + offset
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            method, path, form, expected = stream.step(session, index)
            sent = time.perf_counter()
            try:
                status, body, _ = session.request(method, path, form)
            except Exception as exc:  # noqa: BLE001  (counted and reported, not fatal)
                status, body = 0, str(exc).encode()
            done = time.perf_counter()
            if due >= self.measure_from:
                local.append((done - due) * 1000)
                lags.append(max(0.0, sent - due) * 1000)
                if status != expected:
                    errors += 1
                    first_error = first_error or f"{method} {path} -> {status}: {body[:200]!r}"
        with self.lock:
            result.latencies_ms.extend(local)
            result.send_lag_ms.extend(lags)
            result.errors += errors
            result.first_error = result.first_error or first_error
