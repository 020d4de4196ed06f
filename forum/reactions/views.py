"""Reaction routes: the buttons under a post (a plain form; JSON for the script), who reacted."""

from __future__ import annotations

from typing import Any

from flask import Flask, flash, jsonify, render_template, request
from flask_login import login_required

from .. import permissions, ratelimits, settings
from ..errors import Invalid
from ..i18n import gettext as _
from ..topics.queries import TopicPage
from ..web import redirect_back, viewer, wants_json
from . import bp, queries, services


def _back(post_id: int) -> Any:
    # Back where the button was: the post on its topic page (through its permalink).
    return redirect_back(request.form.get("next"), f"/p/{post_id}")


@bp.route("/p/<int:post_id>/react", methods=["POST"])
@login_required
@ratelimits.reactions
def react(post_id: int) -> Any:
    """A reaction button: the member's own reaction takes it back, another sets it. NotFound
    and Forbidden go to the error pages (JSON errors for the script)."""
    emoji = request.form.get("emoji", "")
    try:
        if request.form.get("remove"):
            now = services.set_reaction(viewer(), post_id, None)
        else:
            now = services.toggle_reaction(viewer(), post_id, emoji)
    except Invalid as exc:
        if wants_json():
            raise
        flash(exc.message, "error")
        return _back(post_id)
    if wants_json():
        return jsonify(queries.who_reacted(viewer(), post_id).as_json())
    if now is None:
        flash(_("Your reaction was taken back."), "info")
    else:
        flash(_("You reacted with %(emoji)s.", emoji=now), "success")
    return _back(post_id)


@bp.route("/p/<int:post_id>/reactions")
def who(post_id: int) -> Any:
    """Who reacted with what: a page of its own without JavaScript, JSON for the names the
    script shows on hover and focus."""
    data = queries.who_reacted(viewer(), post_id)
    if wants_json():
        return jsonify(data.as_json())
    return render_template("reactions/who.html", data=data)


def topic_page_extras(page: TopicPage) -> None:
    """The counts under each post of a topic page and the reader's own reactions (one query),
    and whether the reader may press the buttons."""
    user = viewer()
    posts = [row.post for row in page.posts if row.post.is_public]
    reactions = queries.page_reactions(user, [p.id for p in posts])
    page.extras["reactions"] = reactions
    # The posts with reactions to count: a reader who may neither react nor bookmark (a guest)
    # has a tray under these alone (templates/reactions/_macros.html).
    page.extras["reacted"] = {post_id for post_id, shown in reactions.items() if shown.total}
    may: set[int] = set()
    if user is not None and permissions.react_topic_problem(user, page.topic, page.sig) is None:
        may = {p.id for p in posts if permissions.react_post_problem(user, p) is None}
    page.extras["can_react"] = may


def init_templates(app: Flask) -> None:
    def offered_reactions() -> list[str]:
        return settings.reactions()

    app.jinja_env.globals.update(offered_reactions=offered_reactions)
