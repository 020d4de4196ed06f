"""Trust X-Forwarded-* headers only from the reverse proxy, and only when configured to.

PROXY_HOPS is how many proxies stand in front of the app (0: none, the headers are ignored; 1:
nginx). Even then the headers count only when the connection comes from an address in
PROXY_TRUSTED (nginx's), so a client that reaches the app server directly cannot pick its own IP
address for the rate limiter or the logs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


class TrustedProxyFix:
    def __init__(self, app: Any, hops: int, trusted: Iterable[str]) -> None:
        self.app = app
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=0)
        self.trusted = frozenset(trusted)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REMOTE_ADDR", "") in self.trusted:
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)


def init_app(app: Flask) -> None:
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops > 0:
        trusted = app.config.get("PROXY_TRUSTED") or ["127.0.0.1", "::1"]
        app.wsgi_app = TrustedProxyFix(app.wsgi_app, hops, trusted)  # type: ignore[method-assign]
