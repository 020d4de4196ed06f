"""Bookmark pages: /bookmarks, a post's bookmark and its reminder, removal. Thin wrappers."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, jsonify, render_template, request, url_for
from flask_login import login_required

from .. import permissions, ratelimits
from ..errors import ForumError, Invalid
from ..i18n import gettext as _
from ..i18n import localtime
from ..topics.queries import TopicPage
from ..web import form_error, redirect_back, viewer, wants_json
from . import bp, queries, services
from .forms import REMIND_LABELS, BookmarkForm


def _page_arg() -> int:
    page = request.args.get("page", "1")
    if not page.isdecimal() or not 0 < int(page) < 100_000:
        abort(404)
    return int(page)


@bp.route("/bookmarks")
@login_required
def index() -> Any:
    return render_template(
        "bookmarks/index.html", page=queries.bookmarks_page(viewer(), _page_arg())
    )


def _form_page(post_id: int, form: BookmarkForm, status: int = 200) -> Any:
    post, topic, sig = permissions.get_post_topic_and_sig_for(viewer(), post_id)
    permissions.require_bookmark(viewer(), post, topic, sig)
    bookmark = services.get_bookmark(viewer(), post.id)
    return (
        render_template(
            "bookmarks/edit.html",
            form=form,
            post=post,
            topic=topic,
            sig=sig,
            bookmark=bookmark,
            labels=REMIND_LABELS,
        ),
        status,
    )


@bp.route("/p/<int:post_id>/bookmark", methods=["GET", "POST"])
@login_required
@ratelimits.bookmarks
def bookmark(post_id: int) -> Any:
    """GET: the post's bookmark and when to be reminded. POST: keep it (the quick button under
    each post sends no reminder; this page's form sends one)."""
    form = BookmarkForm()
    if request.method == "GET":
        found = services.get_bookmark(viewer(), post_id)
        if found is not None and found.reminder_pending:
            form.remind.data = services.CUSTOM
            form.remind_at.data = None
        return _form_page(post_id, form)
    if not form.validate_on_submit():
        if wants_json():
            abort(400)
        return _form_page(post_id, form, 400)
    try:
        saved = services.bookmark_post(
            viewer(), post_id, form.remind.data or "", form.remind_at.data
        )
    except Invalid as exc:
        if wants_json():
            raise
        return _form_page(post_id, form, form_error(form, exc))
    if wants_json():
        return jsonify(
            {
                "post_id": post_id,
                "bookmarked": True,
                "remind_at": saved.remind_at.isoformat() if saved.remind_at else None,
            }
        )
    if saved.remind_at is not None:
        flash(
            _("Bookmarked. You will be reminded %(when)s.", when=localtime(saved.remind_at)),
            "success",
        )
    else:
        flash(_("Bookmarked. Find it under Bookmarks."), "success")
    return redirect_back(request.form.get("next"), f"/p/{post_id}")


@bp.route("/p/<int:post_id>/bookmark/delete", methods=["POST"])
@login_required
def remove(post_id: int) -> Any:
    try:
        removed = services.remove_bookmark(viewer(), post_id)
    except ForumError as exc:
        flash(exc.message, "error")
        removed = False
    if wants_json():
        return jsonify({"post_id": post_id, "bookmarked": False})
    if removed:
        flash(_("The bookmark was removed."), "info")
    return redirect_back(request.form.get("next"), url_for("bookmarks.index"))


def topic_page_extras(page: TopicPage) -> None:
    """Which posts of the page the member bookmarked (a guest keeps none)."""
    user = viewer()
    if user is None:
        return
    page.extras["bookmarks"] = queries.page_bookmarks(user, [row.post.id for row in page.posts])
    page.extras["can_bookmark"] = not user.is_banned
