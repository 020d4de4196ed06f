"""Thousands of idle Socket.IO clients, and slow HTTP clients, from one process: for the idle-socket
benchmark (bench/sockets_bench.py) and its test (tests/test_idle_sockets.py).

Each socket is a guest's browser tab that opened the page and does nothing: Engine.IO over the
WebSocket transport, Socket.IO connected to "/" (optionally subscribed to a topic's room), then
idle, answering the server's pings. One selector loop keeps them all; a few threads open them.
A slow client sends a request line and then one more header line every few seconds, never
finishing its headers (what a slowloris attack does). Loopback only, bounded in count.
"""

from __future__ import annotations

import json
import resource
import selectors
import socket
import threading
import time
from urllib.parse import urlsplit

from bench.sockets import Socket


def raise_open_files_limit(needed: int) -> int:
    """Raise this process's soft limit on open files towards `needed` (up to the hard limit);
    returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


class IdleCrowd:
    """`count` idle Socket.IO connections to `base`, kept alive until close()."""

    def __init__(self, base: str, *, topic_id: int | None = None) -> None:
        host = urlsplit(base).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("idle sockets only go to loopback")
        self.base = base
        self.topic_id = topic_id
        self.sockets: list[Socket] = []
        self.closed = 0
        self.events: list[tuple[float, str, object]] = []  # (arrived, name, payload)
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None
        self._new: list[Socket] = []  # connected, for the keeper to take on
        self._slow: list[socket.socket] = []
        self.redials = 0
        self._slow_thread: threading.Thread | None = None

    def open(self, count: int, *, threads: int = 4, timeout: float = 30) -> float:
        """Connect `count` sockets (the handshake done) and keep them; returns the seconds it
        took. Each socket is kept (its pings answered) from its handshake on: opening thousands
        takes longer than the server waits for a pong. Failures are kept in `failures`."""
        started = time.monotonic()
        if self._keeper is None:
            self._keeper = threading.Thread(target=self._keep, daemon=True)
            self._keeper.start()
        per_thread = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]

        def connect(n: int) -> None:
            for _ in range(n):
                s = None
                try:
                    s = Socket(self.base, timeout=timeout, deflate=False)
                    if self.topic_id is None:
                        s.wait_for("0{")
                        s.send_text("40")
                        s.wait_for("40")
                    else:
                        s.handshake(self.topic_id)
                except (OSError, RuntimeError) as exc:
                    with self._lock:
                        self.failures.append(f"{type(exc).__name__}: {exc}")
                    if s is not None:
                        s.sock.close()
                    continue
                with self._lock:
                    self.sockets.append(s)
                    self._new.append(s)

        workers = [threading.Thread(target=connect, args=(n,), daemon=True) for n in per_thread]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return time.monotonic() - started

    @property
    def alive(self) -> int:
        return len(self.sockets) - self.closed

    def _keep(self) -> None:
        selector = selectors.DefaultSelector()
        while not self._stop.is_set():
            with self._lock:
                new, self._new = self._new, []
            for s in new:
                s.sock.setblocking(False)
                selector.register(s.sock, selectors.EVENT_READ, s)
                self._handle(s, s.take())  # what arrived with the handshake
            if not selector.get_map():
                time.sleep(0.05)
                continue
            for key, _ in selector.select(timeout=0.2):
                s = key.data
                try:
                    data = s.sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                try:
                    if not data:
                        raise ConnectionError("closed by the server")
                    s.feed(data)
                except ConnectionError:
                    selector.unregister(s.sock)
                    with self._lock:
                        self.closed += 1
                    continue
                self._handle(s, s.take())
        selector.close()

    def _handle(self, s: Socket, messages: list[str]) -> None:
        arrived = time.monotonic()
        for message in messages:
            if message == "2":
                s.send_text("3")  # Engine.IO ping -> pong
            elif message.startswith("42"):
                name, payload = (json.loads(message[2:]) + [None])[:2]
                with self._lock:
                    self.events.append((arrived, name, payload))

    def open_slow(
        self, count: int, address: tuple[str, int], every: float = 5.0, redial: bool = False
    ) -> None:
        """`count` connections that send a request line and then a header line every `every`
        seconds, never finishing the request; with `redial`, one the server closed is dialled
        again (as an attacker would), counted in `redials`."""
        if address[0] not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("slow clients only go to loopback")

        def dial(i: int) -> socket.socket:
            conn = socket.create_connection(address, timeout=10)
            conn.sendall(f"GET /socket.io/?EIO=4&transport=polling&t={i} HTTP/1.1\r\n".encode())
            return conn

        self._slow = [dial(i) for i in range(count)]

        def trickle() -> None:
            n = 0
            while not self._stop.wait(every):
                n += 1
                for i, conn in enumerate(self._slow):
                    try:
                        conn.sendall(f"X-Slow-{n}: {'a' * 8}\r\n".encode())
                        continue
                    except OSError:
                        pass
                    if redial and not self._stop.is_set():
                        conn.close()
                        try:
                            self._slow[i] = dial(i)
                            self.redials += 1
                        except OSError:
                            pass

        self._slow_thread = threading.Thread(target=trickle, daemon=True)
        self._slow_thread.start()

    def slow_alive(self) -> int:
        """Slow connections the server has not closed."""
        alive = 0
        for conn in self._slow:
            try:
                conn.setblocking(False)
                data = conn.recv(1, socket.MSG_PEEK)
                alive += 1 if data else 0
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
            finally:
                conn.setblocking(True)
        return alive

    def close(self) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join(timeout=5)
        for s in self.sockets:
            try:
                s.sock.close()
            except OSError:
                pass
        for conn in self._slow:
            try:
                conn.close()
            except OSError:
                pass
