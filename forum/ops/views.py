"""/healthz (the process answers) and /readyz (it can reach what it needs), in JSON."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify

from ..extensions import limiter
from . import bp, checks


@bp.route("/healthz")
@limiter.exempt
def healthz() -> Any:
    response = jsonify({"status": "ok"})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/readyz")
@limiter.exempt
def readyz() -> Any:
    """200 while this server can serve its core (status "ok", or "degraded" with `warnings`
    naming what is missing, e.g. Redis); 503 "unavailable" when it cannot."""
    results = checks.run_all(current_app._get_current_object())  # type: ignore[attr-defined]
    ready = all(check.ok for check in results if check.required)
    warnings = [f"{c.name}: {c.error}" for c in results if not c.ok and not c.required]
    body: dict[str, Any] = {
        "status": "unavailable" if not ready else "degraded" if warnings else "ok",
        "checks": {check.name: check.as_dict() for check in results},
    }
    if warnings:
        body["warnings"] = warnings
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response
