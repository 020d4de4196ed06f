"""Topic pages: read, start, reply, quote, edit, delete, restore; /new and permalinks."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import hooks, pagecache, permissions, settings
from ..errors import ForumError
from ..extensions import db, limiter
from ..i18n import gettext as _
from ..i18n import ngettext
from ..sigs.models import Sig
from ..web import form_error, unless_read_only, url_template, viewer
from . import bp, queries, services
from .forms import ActionForm, EditForm, ReplyForm, TopicForm
from .models import Post, Topic


def _post_limit() -> str:
    return str(settings.get("post_rate_limit"))


def _member_key() -> str:
    user = viewer()
    return f"user:{user.id}" if user else f"ip:{request.remote_addr}"


# One budget for every way of posting (new topic, reply, edit), not one per route.
post_limit = limiter.shared_limit(
    _post_limit, scope="posting", key_func=_member_key, methods=["POST"]
)


def _page_arg() -> int | None:
    page = request.args.get("page")
    if page is None:
        return None
    if not page.isdigit() or not 0 < int(page) < 1_000_000:
        abort(404)
    return int(page)


def topic_url(topic: Topic, page: int | None = None, anchor: int | None = None) -> str:
    """Without a page, the topic opens where the member left off; with one, on that page."""
    return url_for(
        "topics.show",
        topic_id=topic.id,
        slug=topic.slug,
        page=page,
        _anchor=f"post-{anchor}" if anchor else None,
    )


def _sig_of(topic: Topic) -> Sig:
    sig = db.session.get(Sig, topic.sig_id)
    assert sig is not None
    return sig


@bp.app_template_global()
def post_url(topic: Any, number: int) -> str:
    """`topic` is a Topic or anything with its `id` and `slug`."""
    # Always with its page, even page 1: a page-less URL would send a member with unread posts
    # on to the first unread one (and back here, in a loop) instead of to this post.
    # From a URL template: lists of results link dozens of posts, and url_for costs far more.
    link = url_template("topics.show", "topic_id", "slug", "page", text=("slug",))
    return f"{link(topic.id, topic.slug, services.page_of_post(topic, number))}#post-{number}"


@bp.app_template_global()
def composer_hint(sig: Sig | int) -> str:
    """The line under every post's text box: Markdown, and how many members a post may mention
    in this SIG (more are refused)."""
    limit = services.mention_limit(viewer(), sig)
    if limit == 0:
        return _(
            "Markdown: **bold**, *italic*, `code`, > quote, - list, [link](https://…). "
            "Mentions are turned off."
        )
    return ngettext(
        "Markdown: **bold**, *italic*, `code`, > quote, - list, [link](https://…). Mention "
        "someone with @name (up to %(num)s member a post).",
        "Markdown: **bold**, *italic*, `code`, > quote, - list, [link](https://…). Mention "
        "someone with @name (up to %(num)s members a post).",
        limit,
    )


@bp.route("/t/<int:topic_id>")
@bp.route("/t/<int:topic_id>/<slug>")
@pagecache.for_guests(pagecache.topic_page_version)
def show(topic_id: int, slug: str | None = None) -> Any:
    page = _page_arg()
    if page is None:
        topic = permissions.get_topic_for(viewer(), topic_id)
        first_unread = queries.first_unread_number(current_user, topic)
        if first_unread:
            # With an explicit page, so that the landing page renders (and marks what it shows
            # read) instead of redirecting to itself again.
            return redirect(
                url_for(
                    "topics.show",
                    topic_id=topic.id,
                    slug=topic.slug,
                    page=services.page_of_post(topic, first_unread),
                    _anchor=f"post-{first_unread}",
                )
            )
        page = 1
    data = queries.topic_page(current_user, topic_id, page)
    # No form (and so no CSRF token) for guests: their page holds nothing of theirs.
    reply = ReplyForm() if viewer() is not None else None
    return _render_topic(data, reply)


def _render_topic(data: queries.TopicPage, reply: ReplyForm | None, status: int = 200) -> Any:
    if data.posts and viewer() is not None and status == 200:
        seen = max(row.post.number for row in data.posts)
        if seen > data.last_read:
            unless_read_only(
                lambda: services.mark_read(viewer(), data.topic, seen), "the read position"
            )
    # Other features add to the page (forum.pulse: the answer under the question).
    for extend in hooks.topic_page.get():
        extend(data)
    return (
        render_template(
            "topics/show.html",
            page=data,
            reply=reply,
            action=ActionForm() if viewer() is not None else None,
        ),
        status,
    )


@bp.route("/t/<int:topic_id>/reply", methods=["GET", "POST"])
@login_required
@post_limit
def reply(topic_id: int) -> Any:
    form = ReplyForm()
    topic = permissions.get_topic_for(viewer(), topic_id)
    status = 400
    if request.method == "GET":
        # No form for a member who could not send it (locked topic, not a member, archived).
        permissions.require_reply(viewer(), topic, _sig_of(topic))
        # The no-JavaScript "quote" and "reply" buttons land here with the text prepared.
        quote = request.args.get("quote", "")
        if quote.isdigit():
            form.body.data = services.quote_text(viewer(), int(quote))
            form.reply_to.data = quote
        return render_template("topics/reply.html", topic=topic, form=form)
    if form.validate_on_submit():
        reply_to = int(form.reply_to.data) if (form.reply_to.data or "").isdigit() else None
        try:
            post = services.reply_to_topic(viewer(), topic.id, form.body.data, reply_to)
        except ForumError as exc:
            status = form_error(form, exc)
        else:
            if post.is_pending:
                flash(_("Your reply is waiting for a sysop's approval."), "info")
            return redirect(post_url(topic, post.number))
    # Show the page again with what the member typed and the reason it failed.
    last_page = services.page_count(topic)
    data = queries.topic_page(current_user, topic.id, last_page)
    return _render_topic(data, form, status=status)


@bp.route("/s/<slug>/new", methods=["GET", "POST"])
@login_required
@post_limit
def new_topic(slug: str) -> Any:
    sig = permissions.get_sig_for(viewer(), slug)
    permissions.require_read_sig(viewer(), sig)
    form = TopicForm()
    problem = permissions.write_problem(viewer(), sig)
    status = 200
    if form.validate_on_submit():
        try:
            topic = services.start_topic(viewer(), sig.id, form.title.data, form.body.data)
        except ForumError as exc:
            status = form_error(form, exc)
        else:
            if queries.awaits_approval(topic):
                flash(_("Your topic is waiting for a sysop's approval."), "info")
            return redirect(topic_url(topic))
    if status == 200 and (form.errors or form.form_errors):
        status = 400
    return render_template("topics/new.html", sig=sig, form=form, problem=problem), status


@bp.route("/p/<int:post_id>")
def permalink(post_id: int) -> Any:
    post = permissions.get_post_for(viewer(), post_id)
    topic = db.session.get(Topic, post.topic_id)
    assert topic is not None
    return redirect(post_url(topic, post.number))


@bp.route("/p/<int:post_id>/edit", methods=["GET", "POST"])
@login_required
@post_limit
def edit(post_id: int) -> Any:
    post = permissions.get_post_for(viewer(), post_id)
    topic = db.session.get(Topic, post.topic_id)
    assert topic is not None
    form = EditForm()
    status = 200
    if request.method == "GET":
        permissions.require_edit_post(viewer(), post, topic, _sig_of(topic))
        form.body.data = post.body_raw
        form.title.data = topic.title
    if form.validate_on_submit():
        try:
            services.edit_post(
                viewer(), post.id, form.body.data, form.title.data if post.number == 1 else None
            )
        except ForumError as exc:
            status = form_error(form, exc)
        else:
            flash(_("Saved."), "success")
            return redirect(post_url(topic, post.number))
    if status == 200 and (form.errors or form.form_errors):
        status = 400
    return render_template("topics/edit.html", post=post, topic=topic, form=form), status


@bp.route("/p/<int:post_id>/delete", methods=["POST"])
@login_required
def delete(post_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    post = services.delete_post(viewer(), post_id)
    topic = db.session.get(Topic, post.topic_id)
    assert topic is not None
    flash(_("The post was deleted.") if post.number > 1 else _("The topic was deleted."), "info")
    if topic.is_deleted and not permissions.is_sig_sysop(viewer(), topic.sig_id):
        sig = permissions.get_sig_by_id_for(viewer(), topic.sig_id)
        return redirect(url_for("sigs.show", slug=sig.slug))
    return redirect(post_url(topic, post.number))


@bp.route("/p/<int:post_id>/restore", methods=["POST"])
@login_required
def restore(post_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    post = services.restore_post(viewer(), post_id)
    topic = db.session.get(Topic, post.topic_id)
    assert topic is not None
    flash(_("Restored."), "success")
    return redirect(post_url(topic, post.number))


@bp.route("/p/<int:post_id>/history")
@login_required
def history(post_id: int) -> Any:
    revisions = services.post_history(viewer(), post_id)
    post = db.session.get(Post, post_id)
    assert post is not None
    topic = db.session.get(Topic, post.topic_id)
    return render_template("topics/history.html", post=post, topic=topic, revisions=revisions)


@bp.route("/new")
@login_required
def unread() -> Any:
    page = _page_arg() or 1
    only = request.args.get("filter") or None
    rows, has_next = queries.new_topics(current_user, page, only)
    return render_template(
        "topics/new_list.html",
        rows=rows,
        page=page,
        has_next=has_next,
        only=only,
        filters=list(queries.new_filters()),
        action=ActionForm(),
    )


@bp.route("/new/read", methods=["POST"])
@login_required
def mark_all_read() -> Any:
    if ActionForm().validate_on_submit():
        services.mark_all_read(viewer())
        flash(_("Everything is marked as read."), "info")
    return redirect(url_for("topics.unread"))


@bp.route("/p/<int:post_id>/quote")
def quote(post_id: int) -> Any:
    """The Markdown that quotes a post, for the reply box (JSON)."""
    return jsonify({"markdown": services.quote_text(viewer(), post_id)})
