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
    results = checks.run_all(current_app._get_current_object())  # type: ignore[attr-defined]
    ready = all(check.ok for check in results)
    response = jsonify(
        {
            "status": "ok" if ready else "unavailable",
            "checks": {check.name: check.as_dict() for check in results},
        }
    )
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response
