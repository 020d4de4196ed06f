"""One log line per request: request id, method, path, status, duration, client address.

The id comes from the proxy's X-Request-ID header when it looks like one (nginx's $request_id),
so a line in nginx's log and a line here can be matched; otherwise a new one is made. It goes back
to the client in X-Request-ID."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

log = logging.getLogger("forum.request")

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id() -> str:
    """The current request's id (made on first use)."""
    if "forum_request_id" not in g:
        incoming = request.headers.get("X-Request-ID", "")
        g.forum_request_id = incoming if REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
    return str(g.forum_request_id)


def init_app(app: Flask) -> None:
    @app.before_request
    def start_timer() -> None:
        g.forum_request_started = time.perf_counter()
        request_id()

    @app.after_request
    def log_request(response: Response) -> Response:
        started = g.get("forum_request_started")
        duration_ms = (time.perf_counter() - started) * 1000 if started else 0.0
        rid = request_id()
        response.headers["X-Request-ID"] = rid
        log.info(
            "request_id=%s method=%s path=%s status=%d duration_ms=%.1f ip=%s",
            rid,
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            request.remote_addr,
        )
        return response
