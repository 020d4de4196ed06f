"""The page servers' gunicorn worker: gthread, but a connection gets a thread only once its
request head (the request line and headers) has arrived whole.

gunicorn's threaded worker hands a connection to a pool thread as soon as its first bytes
arrive, and the thread then reads the headers blocking: a client that sends them a line every
few seconds (slowloris) holds a thread for as long as it likes, and FORUM_THREADS of them stop
the process serving pages (the fault review's T-12: 100 such connections against one worker of
64 threads, 12 of 15 page requests timed out). Here the worker's own loop (the one that accepts
and watches kept-alive connections) reads each head without blocking, keeps what it read, and
hands the connection to a thread with those bytes given back to the request parser. A head not
whole within HEAD_SECONDS is dropped, so an idle or trickling connection costs a file
descriptor, never a thread. (A body that trickles still holds its thread: nginx in front, as in
deploy/, buffers both.)

With TLS in gunicorn itself the head cannot be read before the handshake: then the worker
behaves as gunicorn's own."""

from __future__ import annotations

import errno
import selectors
import time
from collections import deque
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

# The gunicorn whose threaded worker this extends, reading and calling its private parts
# (TConn, enqueue_req, keepalived_conns, poller, murder_pending): tests/test_idle_sockets.py
# fails when another is installed.
GUNICORN_VERSION = "27.0.1"

# How long a client may take to send a whole request head, from its connection (or, on a
# kept-alive connection, from its next request's first byte).
HEAD_SECONDS = 10.0
# A head this long goes to the parser as it is, which refuses it (gunicorn's limits on the
# request line and header fields are far below).
HEAD_MAX_BYTES = 256 * 1024
END_OF_HEAD = b"\r\n\r\n"


class PageWorker(ThreadWorker):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Connections whose head is still arriving, oldest first (deadline order).
        self.heads: deque[TConn] = deque()

    def _buffers_heads(self) -> bool:
        return not self.cfg.is_ssl

    def accept(self, listener: Any) -> None:
        if not self._buffers_heads():
            super().accept(listener)
            return
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())  # non-blocking
        self._await_head(conn)

    def on_client_socket_readable(self, conn: TConn, client: Any) -> None:
        """A kept-alive connection's next request begins: its head is read here too."""
        if not self._buffers_heads():
            super().on_client_socket_readable(conn, client)
            return
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._await_head(conn)
        self._read_head(conn, client)

    def _await_head(self, conn: TConn) -> None:
        conn.forum_head = bytearray()
        conn.timeout = time.monotonic() + HEAD_SECONDS
        self.heads.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_head, conn))

    def _read_head(self, conn: TConn, client: Any) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away before its request was whole
            self._drop_head(conn)
            return
        head = conn.forum_head
        start = max(0, len(head) - len(END_OF_HEAD) + 1)
        head += data
        if END_OF_HEAD in head[start:] or len(head) >= HEAD_MAX_BYTES:
            self._forget_head(conn)
            conn.forum_head_bytes = bytes(head)
            conn.data_ready = True
            self.enqueue_req(conn)

    def handle(self, conn: TConn) -> Any:
        """In the pool thread: the head read so far goes back to the request parser first."""
        head = conn.__dict__.pop("forum_head_bytes", None)
        if head is not None:
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(head)
        return super().handle(conn)

    def _forget_head(self, conn: TConn) -> None:
        try:
            self.poller.unregister(conn.sock)
        except (OSError, KeyError, ValueError):
            pass
        try:
            self.heads.remove(conn)
        except ValueError:
            pass
        conn.forum_head = None

    def _drop_head(self, conn: TConn) -> None:
        self._forget_head(conn)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Also drop the connections whose head is late (all of them once the worker stops:
        none has a request to answer yet)."""
        super().murder_pending()
        now = time.monotonic()
        while self.heads and (not self.alive or self.heads[0].timeout <= now):
            self._drop_head(self.heads[0])
