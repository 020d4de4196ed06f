"""/settings/tokens: a member's personal access tokens for the JSON API: make one (its secret
shown once, on the answer to the form), see when each was last used, revoke one."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from .. import permissions
from ..errors import ForumError
from ..i18n import gettext as _
from ..web import absolute_url_for, form_error, viewer
from . import queries, services, tokens_bp
from .forms import ActionForm, TokenForm


def _page(form: TokenForm, secret: str | None = None, status: int = 200) -> Any:
    return (
        render_template(
            "api/tokens.html",
            form=form,
            tokens=queries.member_tokens(current_user),
            secret=secret,
            example=f'curl -H "Authorization: Bearer {secret}" {absolute_url_for("api.get_me")}'
            if secret
            else None,
            revoke_form=ActionForm(),
        ),
        status,
    )


@tokens_bp.route("/settings/tokens", methods=["GET", "POST"])
@login_required
def tokens() -> Any:
    form = TokenForm()
    form.offer(permissions.token_scopes_for(viewer()))
    if not form.is_submitted():
        return _page(form)
    if form.validate():
        try:
            made = services.create_token(
                viewer(), form.name.data or "", form.scopes.data or [], int(form.expires.data)
            )
        except ForumError as exc:
            return _page(form, status=form_error(form, exc))
        flash(_("Your token is made. Copy it now: it is not shown again."), "success")
        return _page(_fresh_form(), secret=made.secret)
    return _page(form, status=400)


def _fresh_form() -> TokenForm:
    form = TokenForm(formdata=None)
    form.offer(permissions.token_scopes_for(viewer()))
    return form


@tokens_bp.route("/settings/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int) -> Any:
    if ActionForm().validate_on_submit():
        token = services.revoke_token(viewer(), token_id)
        flash(_("The token “%(name)s” is revoked.", name=token.name), "info")
    else:
        flash(_("That form was not valid; try again."), "error")
    return redirect(url_for("api_tokens.tokens"))
