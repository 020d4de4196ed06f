"""Only the forum's own pages open a Socket.IO connection; Engine.IO's answers carry the pages'
security headers; a malformed packet is one log line; the CSP names the forum's own WebSocket.

A page of another origin on the same site (another port, a sibling subdomain) sends the
member's cookies with a WebSocket (browsers apply no CORS to WebSocket) and with a polling
request: its Origin header is what tells it apart.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket
from flask import Flask

from forum import create_app
from forum.extensions import db, socketio

from . import factories as f
from .serverkit import Member, Server, free_port, migrated_sqlite, server_env

HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


def socket_count() -> int:
    return len(socketio.server.eio.sockets)


def polling_handshake(client: Any, origin: str | None, **kwargs: Any) -> Any:
    headers = {"Origin": origin} if origin else {}
    return client.get(HANDSHAKE, headers=headers, **kwargs)


def opened(response: Any) -> bool:
    body = response.get_data(as_text=True)
    return response.status_code == 200 and body.startswith("0{") and '"sid"' in body


# --- the polling handshake ------------------------------------------------------------------
FOREIGN_IN_DEVELOPMENT = [
    "http://evil.example",
    "http://localhost:5001",  # another port of the same host
    "https://localhost",  # another scheme
    "http://sub.localhost",  # a sibling name
    "http://localhost.evil.example",
    "null",  # a sandboxed frame, a file: page
    "http://LOCALHOST",  # not how a browser writes it
]


@pytest.mark.parametrize("origin", FOREIGN_IN_DEVELOPMENT)
def test_a_foreign_origin_gets_no_polling_session(client, f, origin):
    f.user("ada")
    client.login("ada")  # the member's cookie goes along, as a browser would send it
    before = socket_count()
    response = polling_handshake(client, origin)
    assert response.status_code == 400
    assert "sid" not in response.get_data(as_text=True)
    assert "Access-Control-Allow-Origin" not in response.headers
    assert socket_count() == before


def test_the_forums_own_origin_and_no_origin_get_a_session_in_development(client):
    """Without BASE_URL, the request's own origin is the forum's (the test client's Host is
    localhost). A request with no Origin (not a cross-origin browser request) is not checked."""
    own = polling_handshake(client, "http://localhost")
    assert opened(own)
    assert own.headers["Access-Control-Allow-Origin"] == "http://localhost"
    assert opened(polling_handshake(client, None))
    assert opened(
        polling_handshake(client, "http://127.0.0.1:5000", base_url="http://127.0.0.1:5000")
    )


@pytest.mark.config(
    BASE_URL="https://forum.example.org/",
    SOCKETIO_ORIGINS=["https://www.forum.example.org", "http://127.0.0.1:8001/"],
    SESSION_COOKIE_SECURE=False,
)
@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://forum.example.org", True),
        ("https://www.forum.example.org", True),
        ("http://127.0.0.1:8001", True),
        ("http://forum.example.org", False),
        ("https://forum.example.org:8443", False),
        ("https://chat.forum.example.org", False),
        ("https://forum.example.org.evil.example", False),
        # With BASE_URL set, the Host header counts for nothing.
        ("http://localhost", False),
        ("null", False),
    ],
)
def test_with_base_url_only_the_configured_origins_get_a_session(client, origin, allowed):
    before = socket_count()
    response = polling_handshake(client, origin)
    assert opened(response) is allowed
    assert socket_count() == before + (1 if allowed else 0)
    if allowed:
        assert response.headers["Access-Control-Allow-Origin"] == origin
    else:
        assert response.status_code == 400
        assert "Access-Control-Allow-Origin" not in response.headers


def test_a_foreign_origin_cannot_use_a_session_opened_by_the_forums_page(client):
    """Every polling request is checked, not only the first."""
    own = polling_handshake(client, "http://localhost")
    sid = json.loads(own.get_data(as_text=True)[1:])["sid"]
    url = f"{HANDSHAKE}&sid={sid}"
    assert client.post(url, data="40", headers={"Origin": "http://evil.example"}).status_code == 400
    assert client.get(url, headers={"Origin": "http://evil.example"}).status_code == 400


# --- the headers of Engine.IO's answers -----------------------------------------------------
@pytest.mark.parametrize("origin", ["http://localhost", "http://evil.example", None])
def test_engineio_answers_carry_the_security_headers(client, origin):
    response = polling_handshake(client, origin)
    assert response.status_code in (200, 400)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    csp = dict(
        d.strip().split(" ", 1) for d in response.headers["Content-Security-Policy"].split(";")
    )
    assert csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'none'"
    assert response.headers["Cache-Control"] == "no-store"
    secure = polling_handshake(client, origin, base_url="https://localhost")
    assert "max-age=" in secure.headers["Strict-Transport-Security"]


# --- the CSP's connect-src ------------------------------------------------------------------
def _connect_src(response: Any) -> list[str]:
    csp = dict(
        d.strip().split(" ", 1) for d in response.headers["Content-Security-Policy"].split(";")
    )
    return csp["connect-src"].split()


def test_connect_src_names_the_request_origin_in_development(client):
    assert _connect_src(client.get("/")) == ["'self'", "ws://localhost"]
    secure = client.get("/", base_url="https://localhost:8443")
    assert _connect_src(secure) == ["'self'", "wss://localhost:8443"]


@pytest.mark.config(
    BASE_URL="https://forum.example.org", SOCKETIO_ORIGINS=["https://www.forum.example.org"]
)
def test_connect_src_names_the_configured_origins(client):
    for response in (client.get("/"), client.get("/", base_url="http://evil.example")):
        assert _connect_src(response) == [
            "'self'",
            "wss://forum.example.org",
            "wss://www.forum.example.org",
        ]


def test_a_host_header_cannot_write_into_the_csp(client):
    response = client.get("/", headers={"Host": "a;script-src *"})
    assert _connect_src(response) == ["'self'"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "*" not in response.headers["Content-Security-Policy"]


# --- malformed packets ----------------------------------------------------------------------
MALFORMED = [b"garbage", b"4", b'42["subscribe"', b"4{", b"40{bad", b"\x00\xff", b'45-["x"]']


def test_a_malformed_packet_is_one_log_line_not_a_traceback(client, caplog):
    sid = json.loads(polling_handshake(client, None).get_data(as_text=True)[1:])["sid"]
    url = f"{HANDSHAKE}&sid={sid}"
    for body in MALFORMED:
        with caplog.at_level(logging.INFO, logger="engineio.server"):
            caplog.clear()
            response = client.post(url, data=body)
        assert response.status_code in (200, 400), body
        records = [
            r
            for r in caplog.records
            if r.name == "engineio.server" and r.levelno >= logging.WARNING
        ]
        assert len(records) == 1, (body, [r.getMessage() for r in records])
        [record] = records
        assert record.levelno == logging.WARNING
        assert record.exc_info is None and "\n" not in record.getMessage(), body
        assert "malformed packet" in record.getMessage()


def test_an_error_raised_in_the_forums_own_code_keeps_its_traceback(caplog):
    """Only what never reached the forum's code is the client's doing."""
    from forum.config import normalize_database_url
    from forum.realtime import packet_error_log

    log = packet_error_log()
    with caplog.at_level(logging.INFO, logger="engineio.server"):
        try:
            normalize_database_url(None)  # type: ignore[arg-type]  (fails in forum/config.py)
        except AttributeError:
            log.exception("message handler error")
    [record] = [r for r in caplog.records if r.name == "engineio.server"]
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert record.getMessage() == "message handler error"


# --- the WebSocket handshake, on a real server ----------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`make serve`'s gunicorn (WebSocket through simple-websocket), on SQLite, BASE_URL its own
    address (serverkit.Server sets it)."""
    tmp = tmp_path_factory.mktemp("origin-server")
    instance = tmp / "instance"
    instance.mkdir()
    database = migrated_sqlite(tmp / "forum.db")
    app: Flask = create_app(
        {"DATABASE_URL": database, "INDEX_DIR": str(instance / "index"), "SECRET_KEY": "seed",
         "SEARCH_SYNC_ON_START": False, "SEARCH_DRAIN": "inline", "REDIS_URL": None,
         "PASSWORD_HASH_METHOD": f.CHEAP_PASSWORDS}
    )  # fmt: skip
    with app.app_context():
        f.user("ada")
        db.session.remove()
        db.engine.dispose()
    running = Server(server_env(database, instance), tmp, "origin")
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def ada_cookie(server: Server) -> str:
    ada = Member("ada", f.PASSWORD)
    ada.login(server.url)
    return "; ".join(f"{c.name}={c.value}" for c in ada.http.cookies)


def _ws_url(server: Server) -> str:
    return f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"


def _open(server: Server, cookie: str, origin: str) -> websocket.WebSocket:
    return websocket.create_connection(
        _ws_url(server), header=[f"Cookie: {cookie}"], origin=origin, timeout=10
    )


@pytest.mark.slow
def test_the_forums_own_page_opens_a_websocket_with_the_members_session(server, ada_cookie):
    ws = _open(server, ada_cookie, server.url)
    try:
        assert ws.recv().startswith('0{"sid"')
        ws.send("40")
        assert ws.recv().startswith('40{"sid"')
    finally:
        ws.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://127.0.0.1:{other}",  # another port on the same host
        "http://localhost:{port}",  # another name for the same server
        "https://127.0.0.1:{port}",  # another scheme
        "null",
    ],
)
def test_a_foreign_origin_gets_no_websocket(server, ada_cookie, origin):
    origin = origin.format(port=server.port, other=free_port())
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        _open(server, ada_cookie, origin)
    assert refused.value.status_code == 400
    # Refused before any Engine.IO session was made: nothing to read, nothing to send.
    assert "sid" not in str(refused.value)


@pytest.mark.slow
def test_a_malformed_websocket_frame_is_one_log_line(server, ada_cookie):
    before = Path(server.logfile).read_text(errors="replace")
    ws = _open(server, ada_cookie, server.url)
    try:
        ws.recv()
        ws.send("40")
        ws.recv()
        for frame in ("garbage", "4", '42["subscribe"', "4{"):
            ws.send(frame)
        ws.send('42["subscribe",{"topic_id":1}]')
    finally:
        ws.close()
    # The server goes on answering; what it logged for the garbage is one line each, no trace.
    assert opened_over_http(server)
    log = _log_after(server, before, until="malformed packet")
    assert "Traceback" not in log, log
    assert log.count("malformed packet") >= 1, log


def _log_after(server: Server, before: str, until: str, wait: float = 10.0) -> str:
    """What the server logged after `before`, once `until` shows (or `wait` seconds pass).

    The frames were sent and the socket closed without waiting for the server: on a busy
    machine it reads them, and writes its log line, a moment after the test asks.
    """
    deadline = time.monotonic() + wait
    while True:
        log = Path(server.logfile).read_text(errors="replace")[len(before) :]
        if until in log or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def opened_over_http(server: Server) -> bool:
    import requests

    body = requests.get(server.url + HANDSHAKE, timeout=10).text
    return body.startswith("0{")
