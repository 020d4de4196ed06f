"""Private mail pages: the mailbox, a conversation, write, reply, add, leave, archive, report;
ignoring members and the mail preferences. Thin wrappers over services and queries."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import hooks, permissions, ratelimits
from ..accounts.former import display
from ..accounts.views import settings_page
from ..errors import Duplicate, ForumError
from ..i18n import gettext as _
from ..web import form_error, redirect_back, unless_read_only, viewer
from . import bp, queries, services
from .forms import (
    ActionForm,
    AddMemberForm,
    ConversationForm,
    MailPreferencesForm,
    MessageForm,
    ReportForm,
)


def _page_arg(default: int | None = 1) -> int | None:
    page = request.args.get("page")
    if page is None:
        return default
    if not page.isdecimal() or not 0 < int(page) < 100_000:
        abort(404)
    return int(page)


def conversation_url(
    conversation_id: int, page: int | None = None, anchor: int | None = None
) -> str:
    return url_for(
        "messages.conversation",
        conversation_id=conversation_id,
        page=page,
        _anchor=f"message-{anchor}" if anchor else None,
    )


@bp.route("/mail")
@login_required
def mailbox() -> Any:
    q = request.args.get("q", "").strip()[:200]
    if q:
        box = queries.search_mail(current_user, q)
    else:
        folder = request.args.get("folder", queries.INBOX)
        if folder not in (queries.INBOX, queries.ARCHIVE):
            abort(404)
        box = queries.mailbox(current_user, folder, _page_arg() or 1)
    return render_template("messages/mailbox.html", box=box)


@bp.route("/mail/new", methods=["GET", "POST"])
@login_required
@ratelimits.mail
def new() -> Any:
    form = ConversationForm()
    problem = permissions.send_mail_problem(viewer())
    if request.method == "GET":
        form.to.data = request.args.get("to", "")[:2000]
        return render_template("messages/new.html", form=form, problem=problem)
    status = 400
    if form.validate_on_submit():
        try:
            conversation = services.start_conversation(
                viewer(), form.to.data, form.subject.data, form.body.data
            )
        except Duplicate as repeat:  # sent twice: the first one's conversation, nothing new
            flash(repeat.message, "info")
            return redirect(conversation_url(repeat.item.id))
        except ForumError as exc:
            status = form_error(form, exc)
        else:
            flash(_("Your message is sent."), "success")
            return redirect(conversation_url(conversation.id))
    return render_template("messages/new.html", form=form, problem=problem), status


def _render_conversation(
    conversation_id: int,
    page: int | None,
    reply: MessageForm | None = None,
    add: AddMemberForm | None = None,
    status: int = 200,
) -> Any:
    data = queries.conversation_page(current_user, conversation_id, page)
    if status == 200 and data.last_shown_id > data.member.last_read_message_id:
        shown = data.last_shown_id
        unless_read_only(
            lambda: services.mark_read(viewer(), data.member, shown), "the read position"
        )
    return (
        render_template(
            "messages/conversation.html",
            page=data,
            reply=reply or MessageForm(formdata=None),
            add=add or AddMemberForm(formdata=None),
            action=ActionForm(),
        ),
        status,
    )


@bp.route("/mail/c/<int:conversation_id>")
@login_required
def conversation(conversation_id: int) -> Any:
    elsewhere = hooks.conversation_elsewhere.get()(viewer(), conversation_id)
    if elsewhere:
        return redirect(elsewhere)
    return _render_conversation(conversation_id, _page_arg(None))


@bp.route("/mail/c/<int:conversation_id>/reply", methods=["POST"])
@login_required
@ratelimits.mail
def reply(conversation_id: int) -> Any:
    permissions.get_conversation_for(viewer(), conversation_id)
    form = MessageForm()
    status = 400
    if form.validate_on_submit():
        try:
            message = services.reply_to_conversation(viewer(), conversation_id, form.body.data)
        except Duplicate as repeat:  # sent twice: the first one's message, nothing new
            flash(repeat.message, "info")
            return redirect(conversation_url(conversation_id, anchor=repeat.item.id))
        except ForumError as exc:
            status = form_error(form, exc)
        else:
            return redirect(conversation_url(conversation_id, anchor=message.id))
    data = queries.conversation_page(current_user, conversation_id, None)
    return _render_conversation(conversation_id, data.pages, reply=form, status=status)


@bp.route("/mail/c/<int:conversation_id>/add", methods=["POST"])
@login_required
@ratelimits.mail
def add_member(conversation_id: int) -> Any:
    permissions.get_conversation_for(viewer(), conversation_id)
    form = AddMemberForm()
    status = 400
    if form.validate_on_submit():
        try:
            added = services.add_member(viewer(), conversation_id, form.username.data)
        except ForumError as exc:
            status = form_error(form, exc)
        else:
            flash(
                _("%(name)s is in the conversation now.", name=added.username),
                "success",
            )
            return redirect(conversation_url(conversation_id))
    return _render_conversation(conversation_id, None, add=form, status=status)


@bp.route("/mail/c/<int:conversation_id>/leave", methods=["POST"])
@login_required
def leave(conversation_id: int) -> Any:
    permissions.get_conversation_for(viewer(), conversation_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    services.leave_conversation(viewer(), conversation_id)
    flash(_("You left the conversation."), "info")
    return redirect(url_for("messages.mailbox"))


@bp.route("/mail/c/<int:conversation_id>/archive", methods=["POST"])
@login_required
def archive(conversation_id: int) -> Any:
    permissions.get_conversation_for(viewer(), conversation_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    restore = request.form.get("value") == "restore"
    services.archive_conversation(viewer(), conversation_id, archived=not restore)
    if restore:
        flash(_("The conversation is back in your inbox."), "info")
        return redirect(conversation_url(conversation_id))
    flash(_("Archived. A new message brings it back to your inbox."), "info")
    return redirect(url_for("messages.mailbox"))


@bp.route("/mail/m/<int:message_id>/report", methods=["GET", "POST"])
@login_required
@ratelimits.reports
def report(message_id: int) -> Any:
    message = services.get_message_for(viewer(), message_id)
    permissions.require_report_message(viewer(), message)
    form = ReportForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                services.report_message(
                    viewer(), message.id, form.reason.data, form.note.data or ""
                )
            except ForumError as exc:
                status = form_error(form, exc)
            else:
                flash(
                    _(
                        "Thank you. The sysop will see this message and the two before it, "
                        "nothing else."
                    ),
                    "success",
                )
                return redirect(conversation_url(message.conversation_id))
    return render_template("messages/report.html", form=form, message=message), status


# --- ignoring, and who may write to me -------------------------------------------------------
@bp.route("/u/<username>/ignore", methods=["POST"])
@login_required
def ignore(username: str) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    undo = request.form.get("value") == "unignore"
    try:
        if undo:
            user = services.unignore_member(viewer(), username)
            flash(_("You no longer ignore %(name)s.", name=display(user.username)), "success")
        else:
            user = services.ignore_member(viewer(), username)
            flash(
                _(
                    "You ignore %(name)s: no private mail or mentions from them, and their "
                    "posts are folded.",
                    name=user.username,
                ),
                "success",
            )
    except ForumError as exc:
        if exc.status_code == 404:
            raise
        flash(exc.message, "error")
    return redirect_back(request.form.get("next"), url_for("accounts.profile", username=username))


@bp.route("/settings/mail", methods=["GET", "POST"])
@login_required
def preferences() -> Any:
    """The settings page's private mail form: a refused choice brings the settings page back
    (400) with the error beside it and what was sent; nothing is saved. A GET (the footer's
    language switch, from the page shown here) goes to the settings page."""
    if request.method == "GET":
        return redirect(url_for("accounts.settings", _anchor="mail-heading"))
    form = MailPreferencesForm()
    status = 400
    if form.validate_on_submit():
        try:
            services.set_mail_preferences(viewer(), form.mail_from.data, bool(form.notify.data))
        except ForumError as exc:
            status = form_error(form, exc)
        else:
            flash(_("Your private mail settings are saved."), "success")
            # Where the form was (its action's #mail-heading): the notice beside it.
            return redirect(url_for("accounts.settings", _anchor="mail-heading"))
    member = viewer()
    if form.mail_from.errors and member is not None:
        form.mail_from.data = services.mail_from(member)  # the refused value is no choice
    return settings_page(status, mail_form=form)


def init_templates(app: Any) -> None:
    """Helpers for the partials other pages include (settings, profiles)."""

    def mail_preferences() -> MailPreferencesForm:
        form = MailPreferencesForm(formdata=None)
        user = viewer()
        if user is not None:
            form.mail_from.data = services.mail_from(user)
            form.notify.data = services.notifies_mail(user)
        return form

    def ignored_members() -> list[Any]:
        return queries.ignored_members(current_user)

    def mail_relation(member: Any) -> dict[str, Any]:
        """What the profile's mail buttons need: may I write, do I ignore them."""
        me = viewer()
        if me is None or member.id == me.id:
            return {"show": False}
        problem = permissions.send_mail_problem(me) or permissions.accepts_mail_problem(me, member)
        return {
            "show": True,
            "problem": str(problem) if problem else None,
            "ignoring": permissions.ignores(me.id, member.id),
            "can_ignore": not member.is_global_sysop,
        }

    app.jinja_env.globals.update(
        mail_preferences=mail_preferences,
        ignored_members=ignored_members,
        mail_relation=mail_relation,
    )
