"""Many Socket.IO clients in one thread, for the real-time benchmark's receiving side.

python-socketio's client runs several threads per connection (the WebSocket reader, the
Engine.IO ping loop, event dispatch), so 500 of them on a 2-core machine spend more time
switching between threads than the server spends sending; the benchmark then measures the
clients. This speaks the same protocol (Engine.IO 4 over the WebSocket transport, Socket.IO 5
packets, through wsproto) for any number of sockets from one selector loop: each socket is
read as soon as the kernel says it is readable, and its arrival time is taken right after
`recv`, before any parsing.

Only what the benchmark needs: connect as a guest to the default namespace, call `subscribe`
with an ack, answer the server's pings, and report `post_created` and `bare` events.
"""

from __future__ import annotations

import json
import selectors
import socket
import sys
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.extensions import PerMessageDeflate

PATH = "/socket.io/?EIO=4&transport=websocket"


class Socket:
    """One Socket.IO connection over a raw TCP socket and wsproto."""

    def __init__(self, base: str, timeout: float = 30, deflate: bool = True) -> None:
        url = urlsplit(base)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80
        self.sock = socket.create_connection((self.host, self.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.accepted = False
        self.text: list[str] = []
        self.messages: list[str] = []  # complete text messages not handled yet
        # Browsers offer permessage-deflate, and the server (simple-websocket) accepts it: then
        # every message is compressed once per socket. Offer it too, so the server works as hard
        # as it does for browsers.
        extensions = [PerMessageDeflate()] if deflate else []
        try:
            self._send(Request(host=f"{self.host}:{self.port}", target=PATH, extensions=extensions))
            while not self.accepted:
                self._recv()
        except BaseException:
            self.sock.close()  # refused (a 503 from a full server) or cut: nothing to keep
            raise

    def _send(self, event: object) -> None:
        self.sock.sendall(self.ws.send(event))  # type: ignore[arg-type]

    def send_text(self, text: str) -> None:
        self._send(TextMessage(data=text))

    def _recv(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.feed(data)

    def feed(self, data: bytes) -> None:
        """Give received bytes to the protocol and take every event it has (one read can hold
        the handshake's answer and the first messages too: none may wait for the next read)."""
        self.ws.receive_data(data)
        for event in self.ws.events():
            if isinstance(event, AcceptConnection):
                self.accepted = True
            elif isinstance(event, RejectConnection):
                raise ConnectionError(f"WebSocket refused: {event.status_code}")
            elif isinstance(event, TextMessage):
                self.text.append(event.data)
                if event.message_finished:
                    self.messages.append("".join(self.text))
                    self.text = []
            elif isinstance(event, Ping):
                self._send(event.response())
            elif isinstance(event, CloseConnection):
                raise ConnectionError(
                    f"the server closed the WebSocket: {event.code} {event.reason!r}"
                )

    def take(self) -> list[str]:
        messages, self.messages = self.messages, []
        return messages

    def wait_for(self, prefix: str) -> str:
        """Block until a message starting with `prefix` arrives (pings answered meanwhile)."""
        while True:
            while self.messages:
                message = self.messages.pop(0)
                if message == "2":
                    self.send_text("3")
                elif message.startswith(prefix):
                    return message
            self._recv()

    def handshake(self, topic_id: int) -> None:
        """Engine.IO open, Socket.IO connect to "/", then subscribe to the topic's room."""
        self.wait_for("0{")
        self.send_text("40")
        self.wait_for("40")
        self.send_text("420" + json.dumps(["subscribe", {"topic_id": topic_id}]))
        answer = json.loads(self.wait_for("430")[3:])
        if not (answer and answer[0].get("ok")):
            raise RuntimeError(f"subscribe refused: {answer}")


def run(
    base: str, topic_id: int, count: int, out: Callable[[str], None], deflate: bool = True
) -> None:
    """Connect `count` sockets, then report arrivals as "<key> <unix time>" until stdin closes."""
    sockets = []
    for _ in range(count):
        s = Socket(base, deflate=deflate)
        s.handshake(topic_id)
        sockets.append(s)
    selector = selectors.DefaultSelector()
    for s in sockets:
        s.sock.setblocking(False)
        selector.register(s.sock, selectors.EVENT_READ, s)
    selector.register(sys.stdin, selectors.EVENT_READ, None)
    out("ready\n")
    while True:
        lines = []
        for key, _ in selector.select():
            s = key.data
            if s is None:
                if not sys.stdin.readline():  # the benchmark closed our stdin: done
                    for s in sockets:
                        s.sock.close()
                    return
                continue
            try:
                data = s.sock.recv(65536)
            except BlockingIOError:
                continue
            arrived = time.time()  # before any parsing: when the bytes reached this client
            if not data:
                raise ConnectionError("the server closed a socket")
            s.feed(data)
            for message in s.take():
                if message == "2":
                    s.send_text("3")  # Engine.IO ping -> pong (the socket is non-blocking
                    # now, but a 1-byte frame always fits the send buffer)
                elif message.startswith("42"):
                    name, payload = json.loads(message[2:])[:2]
                    if name == "post_created":
                        lines.append(f"post:{payload['post_id']} {arrived:.6f}\n")
                    elif name == "bare":
                        lines.append(f"bare:{payload['n']} {arrived:.6f}\n")
        if lines:
            out("".join(lines))
