"""Notification pages: the center, mark read, watch levels, preferences. Thin wrappers."""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import permissions
from ..accounts.views import settings_page
from ..errors import ForumError, Invalid
from ..extensions import csrf
from ..i18n import gettext as _
from ..i18n import ngettext
from ..web import form_error, viewer
from . import bp, mail, queries, services
from .digest import digest_choice
from .forms import (
    LEVEL_CHOICES,
    LEVEL_NAMES,
    ActionForm,
    DigestNoteForm,
    PreferencesForm,
    WatchForm,
)


def _page_arg() -> int:
    page = request.args.get("page", "1")
    if not page.isdecimal() or not 0 < int(page) < 100_000:
        abort(404)
    return int(page)


@bp.route("/notifications")
@login_required
def index() -> Any:
    page = queries.notifications_page(current_user, _page_arg())
    return render_template("notifications/index.html", page=page, action=ActionForm())


@bp.route("/notifications/<int:notification_id>")
@login_required
def open_notification(notification_id: int) -> Any:
    """Follow a notification: it is read now, and the member lands on what it names (as they
    may read it now: forum.notifications.queries asks the permission policy again). The one
    GET that writes more than a read position: a notification's read state is the member's
    own, and opening it is what reading it means."""
    member = viewer()
    assert member is not None
    row = services.mark_read(member, notification_id)
    shown = queries.member_rows(member, [row.id])
    return redirect(shown[0].url if shown else url_for("notifications.index"))


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_required
def mark_read(notification_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    services.mark_read(viewer(), notification_id)
    return redirect(url_for("notifications.index", page=request.args.get("page") or None))


@bp.route("/notifications/read", methods=["POST"])
@login_required
def mark_all_read() -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    count = services.mark_all_read(viewer())
    flash(
        ngettext(
            "Marked %(num)s notification as read.",
            "Marked %(num)s notifications as read.",
            count,
        ),
        "info",
    )
    return redirect(url_for("notifications.index"))


@bp.route("/t/<int:topic_id>/watch", methods=["POST"])
@login_required
def watch_topic(topic_id: int) -> Any:
    topic = permissions.get_topic_for(viewer(), topic_id)
    form = WatchForm()
    if not form.validate_on_submit():
        flash(_("Choose watching, tracking, normal or muted."), "error")
    else:
        try:
            services.set_topic_level(viewer(), topic.id, form.level.data)
        except ForumError as exc:
            flash(exc.message, "error")
        else:
            flash(
                _("This topic’s notifications: %(level)s.", level=LEVEL_NAMES[form.level.data]),
                "success",
            )
    return redirect(url_for("topics.show", topic_id=topic.id, slug=topic.slug))


@bp.route("/s/<slug>/watch", methods=["POST"])
@login_required
def watch_sig(slug: str) -> Any:
    sig = permissions.get_sig_for(viewer(), slug)
    form = WatchForm()
    if not form.validate_on_submit():
        flash(_("Choose watching, tracking, normal or muted."), "error")
    else:
        try:
            services.set_sig_level(viewer(), sig.id, form.level.data)
        except ForumError as exc:
            flash(exc.message, "error")
        else:
            flash(
                _(
                    "Notifications for %(name)s: %(level)s.",
                    name=sig.name,
                    level=LEVEL_NAMES[form.level.data],
                ),
                "success",
            )
    return redirect(url_for("sigs.show", slug=sig.slug))


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@login_required
def preferences() -> Any:
    """The settings page's notification form. A value it does not offer (sent by hand, or by an
    older page) brings the settings page back (400) with the error beside its field and what was
    sent still chosen; nothing is saved unless all of it is (services.set_preferences). A GET
    (the footer's language switch, from the page shown here) goes to the settings page."""
    if request.method == "GET":
        return redirect(url_for("accounts.settings", _anchor="notifications-heading"))
    form = PreferencesForm()
    if form.validate_on_submit():
        try:
            services.set_preferences(
                viewer(),
                watch_posted=bool(form.watch_posted.data),
                mail=form.mail_choices(),
                digest_frequency=form.digest_frequency.data or None,
                digest_hour=int(form.digest_hour.data) if form.digest_hour.data else None,
                digest_weekday=int(form.digest_weekday.data) if form.digest_weekday.data else None,
            )
        except ForumError as exc:
            if isinstance(exc, Invalid) and exc.field in mail.CATEGORIES:
                exc.field = f"mail_{exc.field}"  # the form's name of a mail category's select
            status = form_error(form, exc)
        else:
            flash(_("Your notification preferences are saved."), "success")
            return redirect(url_for("accounts.settings", _anchor="notifications-heading"))
    else:
        status = 400
    _show_saved(form, viewer(), unsent_only=True)
    return settings_page(status, notification_form=form)


def _show_saved(form: PreferencesForm, user: Any, unsent_only: bool = False) -> None:
    """The member's saved mail and digest choices in the form's selects; with `unsent_only`,
    only in those the request left out or sent a refused value in (a refused form shows what
    was sent where it can, beside what is saved, as saving would have kept it; a value the
    select does not offer could not be shown chosen)."""
    choices = mail.mail_choices(user) if user is not None else mail.DEFAULTS
    shown = {f"mail_{c}": choice for c, choice in choices.items()}
    digest = digest_choice(user) if user is not None else None
    if digest is not None:
        shown["digest_frequency"] = digest.frequency
        shown["digest_hour"] = str(digest.hour)
        shown["digest_weekday"] = str(digest.weekday)
    for name, value in shown.items():
        select = getattr(form, name)
        sent = unsent_only and select.raw_data and select.raw_data[0] and not select.errors
        if not sent:
            select.data = value


@bp.route("/mail/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: the mail client POSTs without a form; the signed token is the proof
def unsubscribe(token: str) -> Any:
    """A notification mail's one-click unsubscribe. GET asks (a link scanner changes nothing);
    POST, from the mail client or the button, turns that mail's categories off. No login."""
    found = mail.read_unsubscribe_token(token)
    if found is None:
        return render_template("notifications/unsubscribe.html", valid=False), 400
    if request.method == "POST":
        member, categories = services.unsubscribe(token)
        return render_template(
            "notifications/unsubscribe.html",
            valid=True,
            done=True,
            what=[mail.UNSUBSCRIBABLE[c] for c in categories],
        )
    return render_template(
        "notifications/unsubscribe.html",
        valid=True,
        done=False,
        what=[mail.UNSUBSCRIBABLE[c] for c in found[1]],
    )


@bp.route("/s/<slug>/digest-note", methods=["GET", "POST"])
@login_required
def digest_note(slug: str) -> Any:
    """A SIG sysop's note for the next digest of the SIG's members, and the recent ones."""
    sig = permissions.get_sig_for(viewer(), slug)
    if not permissions.can_write_digest_note(viewer(), sig):
        abort(403)
    form = DigestNoteForm()
    delete = ActionForm(prefix="delete")
    status = 200
    if request.method == "POST":
        note_id = request.form.get("note_id", "")
        if note_id:
            if not delete.validate_on_submit() or not note_id.isdecimal():
                abort(400)
            try:
                services.delete_digest_note(viewer(), int(note_id))
            except ForumError as exc:
                flash(exc.message, "error")
            else:
                flash(_("The note is taken back."), "success")
            return redirect(url_for("notifications.digest_note", slug=sig.slug))
        if form.validate_on_submit():
            try:
                services.write_digest_note(viewer(), sig.id, form.body.data or "")
            except ForumError as exc:
                form_error(form, exc)
            else:
                flash(_("The note goes out with each member's next digest."), "success")
                return redirect(url_for("notifications.digest_note", slug=sig.slug))
        status = 400
    return (
        render_template(
            "notifications/digest_note.html",
            sig=sig,
            form=form,
            delete=delete,
            notes=queries.recent_digest_notes(sig.id),
        ),
        status,
    )


def init_templates(app: Flask) -> None:
    """Helpers for the watch menus the topic and SIG pages include."""

    # The watch menus are written out by notifications/_watch_select.html from the level
    # alone: a WatchForm per page cost more than the rest of the menu (forms validate the POST).
    def topic_watch_level(topic: Any) -> str:
        return queries.topic_level(current_user, topic)

    def sig_watch_level(sig: Any) -> str:
        return queries.sig_level(current_user, sig.id)

    def notification_preferences() -> PreferencesForm:
        form = PreferencesForm(formdata=None)
        user = viewer()
        form.watch_posted.data = user is not None and services.watches_posted_topics(user)
        _show_saved(form, user)
        return form

    app.jinja_env.globals.update(
        topic_watch_level=topic_watch_level,
        sig_watch_level=sig_watch_level,
        watch_level_choices=list(LEVEL_CHOICES.items()),
        notification_preferences=notification_preferences,
    )
