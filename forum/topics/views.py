"""Topic pages: read, start, reply, quote, edit, delete, restore; /new and permalinks."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import (
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from .. import hooks, pagecache, permissions, ratelimits, shortcodes
from ..drafts import services as drafts
from ..errors import Duplicate, Forbidden, ForumError
from ..extensions import db
from ..i18n import gettext as _
from ..i18n import ngettext
from ..sigs.models import Sig
from ..web import form_error, unless_read_only, url_template, viewer
from . import bp, queries, services
from .forms import ActionForm, EditForm, ReplyForm, TopicForm
from .models import Post, Topic


def _page_arg() -> int | None:
    page = request.args.get("page")
    if page is None:
        return None
    if not page.isdecimal() or not 0 < int(page) < 1_000_000:
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
    """The line under every post's text box: Markdown, how many members a post may mention in
    this SIG, and a new account's links (more are refused)."""
    limit = services.mention_limit(viewer(), sig)
    if limit == 0:
        hint = _(
            "Markdown: **bold**, *italic*, `code`, > quote, - list, [link](https://…). "
            "Mentions are turned off."
        )
    else:
        hint = ngettext(
            "Markdown: **bold**, *italic*, `code`, > quote, - list, [link](https://…). Mention "
            "someone with @name (up to %(num)s member a post).",
            "Markdown: **bold**, *italic*, `code`, > quote, - list, [link](https://…). Mention "
            "someone with @name (up to %(num)s members a post).",
            limit,
        )
    links = permissions.max_links_per_post(viewer(), sig)
    if links is not None:
        # A new account's limit, said before it is met.
        hint += " " + (
            _("New accounts cannot post links yet.")
            if links == 0
            else ngettext(
                "New accounts: up to %(num)s link a post.",
                "New accounts: up to %(num)s links a post.",
                links,
            )
        )
    return hint


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
    draft = None
    if reply is not None and data.reply_problem is None:
        # What the member was writing here, on this device or another, is in the box again.
        draft = drafts.get_draft(viewer(), drafts.reply_key(data.topic.id))
        if draft is not None:
            reply.body.data = draft.body
    return _render_topic(data, reply, draft=draft)


def _render_topic(
    data: queries.TopicPage,
    reply: ReplyForm | None,
    status: int = 200,
    draft: Any = None,
    preview: str | None = None,
) -> Any:
    member = viewer()
    if data.posts and member is not None and status == 200 and preview is None:
        seen = max(row.post.number for row in data.posts)
        if seen > data.last_read:
            unless_read_only(
                lambda: services.mark_read(
                    member, data.topic, seen, hooks.reading_time.get()(member.id)
                ),
                "the read position",
            )
        # Before the header's counts are drawn (forum.notifications reads what these posts
        # told the member, and the header's count follows).
        shown = tuple(row.post.id for row in data.posts)
        for posts_shown in hooks.posts_shown.get():
            unless_read_only(partial(posts_shown, member, shown), "the posts shown")
    # Other features add to the page (forum.pulse: the answer under the question).
    for extend in hooks.topic_page.get():
        extend(data)
    return (
        render_template(
            "topics/show.html",
            page=data,
            reply=reply,
            draft=draft,
            preview=preview,
            join_note=_join_note(data.sig),
        ),
        status,
    )


def _join_note(sig: Sig) -> str | None:
    """Said above the composer of a member whose post will make them a member of the SIG."""
    if permissions.joins_by_posting(viewer(), sig):
        return _("You are not a member of %(sig)s yet: posting here joins it.", sig=sig.name)
    return None


def _flash_joined(sig: Sig) -> None:
    """Once, after the post that joined the SIG: what happened, and a button that undoes it."""
    # Flask keeps any JSON-able message in the session; base.html shows a mapping's text with
    # its undo button.
    message: Any = {
        "text": _("You joined %(sig)s to post here.", sig=sig.name),
        "undo_url": url_for("sigs.leave", slug=sig.slug),
        "undo_label": _("Leave %(sig)s", sig=sig.name),
    }
    flash(message, "joined")


def _preview_html(form: Any) -> str | None:
    """The no-JavaScript "Preview" button: the text cooked as the post would be (errors go on
    the form's body field)."""
    try:
        return services.preview_post(viewer(), form.body.data or "")
    except ForumError as exc:
        form_error(form, exc)
        return None


def _save_draft_button(form: Any, key: str) -> bool:
    """The no-JavaScript "Save draft" button. True when saved (the caller redirects back)."""
    title = getattr(form, "title", None)
    try:
        drafts.save_draft(viewer(), key, form.body.data or "", (title.data or "") if title else "")
    except ForumError as exc:
        form_error(form, exc)
        return False
    flash(_("Draft saved. It is here for you on any device until you post it."), "success")
    return True


def _attach_files(form: Any, sig_id: int) -> int | None:
    """The composer's plain file input (no JavaScript): each chosen file is kept and its
    Markdown added to the text (hooks.attach_files). The error status when one was refused."""
    files = request.files.getlist("files")
    try:
        form.body.data = hooks.attach_files.get()(viewer(), sig_id, files, form.body.data or "")
    except ForumError as exc:
        return form_error(form, exc)
    return None


def _refusal(problem: str, sig: Sig, status: int = 403, **context: Any) -> Any:
    """The page a member sees instead of a form they could not send: why, and what to do."""
    return (
        render_template("topics/refused.html", problem=problem, sig=sig, **context),
        status,
    )


@bp.route("/t/<int:topic_id>/reply", methods=["GET", "POST"])
@login_required
@ratelimits.posting
def reply(topic_id: int) -> Any:
    form = ReplyForm()
    topic, sig = permissions.get_topic_and_sig_for(viewer(), topic_id)
    key = drafts.reply_key(topic.id)
    status = 400
    preview = None
    draft = None
    if request.method == "GET":
        # No form for a member who could not send it (locked topic, archived SIG, a ban): the
        # reason, and what they can do instead.
        problem = permissions.reply_problem(viewer(), topic, sig)
        if problem:
            return _refusal(problem, sig, topic=topic)
        draft = drafts.get_draft(viewer(), key)
        if draft is not None:
            form.body.data = draft.body
        # The no-JavaScript "quote" and "reply" buttons land here with the text prepared.
        quote = request.args.get("quote", "")
        if quote.isdecimal():
            quoted = services.quote_text(viewer(), int(quote))
            form.body.data = (form.body.data + "\n\n" if form.body.data else "") + quoted
            form.reply_to.data = quote
        # No preview yet (None: the composer shows its box only for a preview asked for).
        return render_template(
            "topics/reply.html",
            topic=topic,
            form=form,
            draft=draft,
            preview=None,
            join_note=_join_note(sig),
        )
    refused = _attach_files(form, sig.id)
    if refused is not None:
        status = refused
    elif "attach" in request.form:
        status = 200  # the text again, with the files' Markdown in it
    elif "save_draft" in request.form:
        # CSRFProtect checked the token; an empty text is fine here (it deletes the draft).
        if _save_draft_button(form, key):
            return redirect(url_for("topics.reply", topic_id=topic.id))
    elif "preview" in request.form and form.validate_on_submit():
        permissions.require_reply(viewer(), topic, sig)
        preview = _preview_html(form)
        status = 200 if preview is not None else 400
    elif form.validate_on_submit():
        reply_to = int(form.reply_to.data) if (form.reply_to.data or "").isdecimal() else None
        joining = permissions.joins_by_posting(viewer(), sig)
        try:
            post = services.reply_to_topic(viewer(), topic.id, form.body.data, reply_to)
        except Duplicate as repeat:  # sent twice: the first one's post, nothing new
            flash(repeat.message, "info")
            return redirect(post_url(topic, repeat.item.number))
        except ForumError as exc:
            status = form_error(form, exc)
        else:
            if joining:
                _flash_joined(sig)
            if post.is_pending:
                flash(_("Your reply is waiting for a sysop's approval."), "info")
            return redirect(post_url(topic, post.number))
    # The topic's last page again, with what the member typed in the reply box: the preview
    # above it, or the reason it failed.
    last_page = services.page_count(topic)
    data = queries.topic_page(current_user, topic.id, last_page)
    return _render_topic(data, form, status=status, preview=preview)


@bp.route("/s/<slug>/new", methods=["GET", "POST"])
@login_required
@ratelimits.posting
def new_topic(slug: str) -> Any:
    sig = permissions.get_sig_for(viewer(), slug)
    try:
        permissions.require_read_sig(viewer(), sig)
    except Forbidden as exc:
        # A members-only SIG: why, and the Join button.
        return _refusal(str(exc.message), sig)
    problem = permissions.post_problem(viewer(), sig)
    if problem:
        # No form for a member who could not send it; a POST is refused by the service too.
        return _refusal(problem, sig)
    form = TopicForm()
    key = drafts.topic_key(sig.id)
    status = 200
    preview = None
    draft = None
    if request.method == "GET":
        draft = drafts.get_draft(viewer(), key)
        if draft is not None:
            form.title.data = draft.title
            form.body.data = draft.body
    elif (refused := _attach_files(form, sig.id)) is not None:
        status = refused
    elif "attach" in request.form:
        pass  # the form again, with the files' Markdown in the text
    elif "save_draft" in request.form:
        if _save_draft_button(form, key):
            return redirect(url_for("topics.new_topic", slug=sig.slug))
    elif "preview" in request.form and form.validate_on_submit():
        preview = _preview_html(form)
    elif form.validate_on_submit():
        joining = permissions.joins_by_posting(viewer(), sig)
        try:
            topic = services.start_topic(viewer(), sig.id, form.title.data, form.body.data)
        except Duplicate as repeat:  # sent twice: the first one's topic, nothing new
            flash(repeat.message, "info")
            return redirect(topic_url(repeat.item))
        except ForumError as exc:
            status = form_error(form, exc)
        else:
            if joining:
                _flash_joined(sig)
            if queries.awaits_approval(topic):
                flash(_("Your topic is waiting for a sysop's approval."), "info")
            return redirect(topic_url(topic))
    if status == 200 and (form.errors or form.form_errors):
        status = 400
    return (
        render_template(
            "topics/new.html",
            sig=sig,
            form=form,
            preview=preview,
            draft=draft,
            join_note=_join_note(sig),
        ),
        status,
    )


@bp.route("/preview", methods=["POST"])
@login_required
@ratelimits.preview
def preview() -> Any:
    """The composer's live preview: the text cooked exactly as the post would be (JSON)."""
    data = request.get_json(silent=True) if request.is_json else None
    body = (data if isinstance(data, dict) else request.form).get("body", "")
    try:
        html = services.preview_post(viewer(), body)
    except ForumError as exc:
        message = {"status": exc.status_code, "field": "body", "message": str(exc.message)}
        return jsonify({"error": message}), exc.status_code
    return jsonify({"html": html})


@bp.route("/p/<int:post_id>")
def permalink(post_id: int) -> Any:
    post = permissions.get_post_for(viewer(), post_id)
    topic = db.session.get(Topic, post.topic_id)
    assert topic is not None
    return redirect(post_url(topic, post.number))


@bp.route("/p/<int:post_id>/edit", methods=["GET", "POST"])
@login_required
@ratelimits.posting
def edit(post_id: int) -> Any:
    post = permissions.get_post_for(viewer(), post_id)
    topic = db.session.get(Topic, post.topic_id)
    assert topic is not None
    form = EditForm()
    key = drafts.edit_key(post.id)
    status = 200
    preview = None
    draft = None
    if request.method == "GET":
        permissions.require_edit_post(viewer(), post, topic, _sig_of(topic))
        draft = drafts.get_draft(viewer(), key)
        form.body.data = draft.body if draft is not None else post.body_raw
        form.title.data = (draft.title if draft is not None else "") or topic.title
    elif (refused := _attach_files(form, topic.sig_id)) is not None:
        status = refused
    elif "attach" in request.form:
        pass  # the form again, with the files' Markdown in the text
    elif "save_draft" in request.form:
        if _save_draft_button(form, key):
            return redirect(url_for("topics.edit", post_id=post.id))
    elif "preview" in request.form and form.validate_on_submit():
        permissions.require_edit_post(viewer(), post, topic, _sig_of(topic))
        preview = _preview_html(form)
    elif form.validate_on_submit():
        try:
            services.edit_post(
                viewer(), post.id, form.body.data, form.title.data if post.number == 1 else None
            )
        except ForumError as exc:
            status = form_error(form, exc)
        else:
            # An edit that changed nothing writes nothing (no event): its draft goes here.
            drafts.delete_draft(viewer(), key)
            flash(_("Saved."), "success")
            return redirect(post_url(topic, post.number))
    if status == 200 and (form.errors or form.form_errors):
        status = 400
    return (
        render_template(
            "topics/edit.html", post=post, topic=topic, form=form, preview=preview, draft=draft
        ),
        status,
    )


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


@bp.route("/mentions/<key>")
@login_required
def mention_candidates(key: str) -> Any:
    """The members an @name being typed at this place (a draft key) may mean: only those who
    may read it (JSON)."""
    kind, target = drafts.parse_key(key)
    if kind == "topic":
        sig = permissions.get_sig_by_id_for(viewer(), target)
    elif kind == "reply":
        sig = permissions.get_topic_and_sig_for(viewer(), target)[1]
    else:
        sig = permissions.get_post_topic_and_sig_for(viewer(), target)[2]
    names = services.mention_candidates(viewer(), sig, request.args.get("q", ""))
    return jsonify({"members": names})


@bp.get("/emoji.json")
def emoji_shortcodes() -> Response:
    """The composer's `:name:` completion list (forum/shortcodes.py), fetched the first time a
    member types `:` and two letters. Its address carries the list's version (?v=), so the
    browser keeps it for good; gzipped here when the browser takes it (about 20 KB)."""
    body, packed, version = shortcodes.payload()
    current = request.args.get("v") == version
    zipped = "gzip" in request.headers.get("Accept-Encoding", "")
    response = Response(packed if zipped else body, mimetype="application/json")
    if zipped:
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = (
        "public, max-age=31536000, immutable" if current else "public, max-age=3600"
    )
    response.set_etag(f"{version}-gz" if zipped else version)
    response.make_conditional(request)
    return response
