"""The sysop sets a member's trust level (from the member's moderation page); the partials
that show the level to sysops."""

from __future__ import annotations

from typing import Any

from flask import Flask, flash, redirect, url_for
from flask_login import current_user

from ..accounts.models import User
from ..errors import NotFound
from ..extensions import db
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..web import flash_outcome, viewer
from . import bp, queries, services
from .forms import TrustLevelForm


def _member(username: str) -> User:
    member = db.session.scalar(
        db.select(User).where(db.func.lower(User.username) == username.lower())
    )
    if member is None:
        raise NotFound(_l("No such member."))
    return member


@bp.route("/mod/u/<username>/trust", methods=["POST"])
def set_level(username: str) -> Any:
    member = _member(username)
    form = TrustLevelForm()
    page = url_for("moderation.member", username=member.username)
    if not form.validate_on_submit():
        errors = " ".join(e for found in form.errors.values() for e in found)
        flash(errors or _("Try again."), "error")
        return redirect(page)
    level = int(form.level.data) if str(form.level.data).isdecimal() else -1
    flash_outcome(
        lambda: services.set_trust_level(
            viewer(), member.id, level, locked=bool(form.locked.data), reason=form.reason.data or ""
        ),
        _l("Trust level saved."),
    )
    return redirect(page)


def init_templates(app: Flask) -> None:
    def trust_card(member: Any, progress: bool = False) -> Any:
        """The member's trust level for a sysop (None for everyone else)."""
        return queries.trust_card(current_user, member, progress=progress)

    def trust_form(card: Any) -> TrustLevelForm:
        form = TrustLevelForm(formdata=None)
        form.level.data = str(card.level)
        form.locked.data = True
        return form

    app.jinja_env.globals.update(trust_card=trust_card, trust_form=trust_form)
