"""Drafts: saved while typing (JSON, for the composer's script), listed at /drafts, deleted."""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, render_template, request, url_for
from flask_login import login_required

from .. import ratelimits
from ..errors import ForumError
from ..i18n import gettext as _
from ..timeutil import utcnow
from ..web import redirect_back, viewer, wants_json
from . import bp, queries, services


def _json_error(exc: ForumError) -> Any:
    return (
        jsonify(
            {
                "error": {
                    "status": exc.status_code,
                    "field": getattr(exc, "field", None),
                    "message": str(exc.message),
                }
            }
        ),
        exc.status_code,
    )


def _text(name: str) -> str:
    """A text field of the form or of a JSON body ("" when absent); anything but text raises."""
    data = request.get_json(silent=True) if request.is_json else None
    value = (data if isinstance(data, dict) else request.form).get(name, "")
    if value is None:
        return ""
    return value  # type: ignore[no-any-return]


@bp.route("/drafts")
@login_required
def index() -> Any:
    return render_template("drafts/index.html", rows=queries.drafts_page(viewer()))


@bp.route("/drafts/<key>", methods=["POST"])
@login_required
@ratelimits.drafts
def save(key: str) -> Any:
    """Save what the composer holds (its script calls this while the member types, and as the
    page is left). Answers JSON: the draft's time, or {"deleted": true} for an emptied one."""
    try:
        draft = services.save_draft(viewer(), key, _text("body"), _text("title"))
    except ForumError as exc:
        return _json_error(exc)
    if draft is None:
        return jsonify({"deleted": True})
    return jsonify({"key": draft.key, "updated_at": (draft.updated_at or utcnow()).isoformat()})


@bp.route("/drafts/<key>/delete", methods=["POST"])
@login_required
def delete(key: str) -> Any:
    # The composer's "Discard draft" button (a formaction of the post form) and /drafts' buttons.
    try:
        services.delete_draft(viewer(), key)
    except ForumError as exc:
        if wants_json():
            return _json_error(exc)
        flash(exc.message, "error")
    else:
        if wants_json():
            return jsonify({"deleted": True})
        flash(_("The draft was deleted."), "info")
    return redirect_back(request.form.get("next"), url_for("drafts.index"))
