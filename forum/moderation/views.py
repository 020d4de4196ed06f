"""Moderation pages: /mod (the queue), /mod/log, member panels, flags and topic tools."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from .. import hooks, permissions, ratelimits
from .. import settings as site_settings
from ..accounts.former import display
from ..accounts.models import User
from ..errors import Forbidden, ForumError, Invalid, NotFound
from ..extensions import db
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..i18n import ngettext
from ..sigs.models import Sig
from ..timeutil import utcnow
from ..topics import services as topic_services
from ..topics.models import Post, Topic
from ..web import flash_outcome, form_error, safe_next, viewer
from . import bp, queries, services
from .forms import (
    ActionForm,
    BanForm,
    FlagForm,
    LiftForm,
    MemberNoteForm,
    MergeForm,
    MessageReportForm,
    MoveForm,
    NoteForm,
    ReasonForm,
    RemoveFromSigForm,
    ResolveForm,
    SilenceForm,
    SpamCleanupForm,
    SplitForm,
    SuspendForm,
    WarnForm,
    WordFilterForm,
)


def _back(default: str) -> str:
    return safe_next(request.form.get("next")) or default


def _run(action: Callable[[], Any], success: str, default: str) -> Any:
    """Call a service for a button, then go back where the member came from (a same-site path)."""
    flash_outcome(action, success)
    return redirect(_back(default))


def _post_url(post_id: int) -> str:
    return url_for("topics.permalink", post_id=post_id)


def _topic_url(topic_id: int) -> str:
    return url_for("topics.show", topic_id=topic_id)


def _until(days: int | None) -> Any:
    return utcnow() + timedelta(days=days) if days else None


def _page_arg() -> int:
    page = request.args.get("page", "1")
    if not page.isdecimal() or not 0 < int(page) < 100_000:
        abort(404)
    return int(page)


def _asks_first() -> bool:
    """A destructive button of a sysop menu sends `confirm_first`; static/js/forum.js drops it
    once the sysop agreed to the question in the browser. Without JavaScript it arrives, and the
    answer is a confirmation page (as for a spam cleanup) whose button does the deed."""
    return bool(request.form.get("confirm_first"))


def _confirm_page(form: ReasonForm, title: str, explain: str, button: str, cancel: str) -> Any:
    form.next.data = safe_next(request.form.get("next")) or ""
    return render_template(
        "moderation/confirm.html",
        form=form,
        title=title,
        explain=explain,
        button=button,
        cancel=cancel,
    )


# --- the queue and the log ------------------------------------------------------------------
@bp.route("/mod")
def queue() -> Any:
    return _queue_page()


def _queue_page(
    refused_flags: tuple[int, ResolveForm] | None = None,
    refused_report: tuple[int, MessageReportForm] | None = None,
) -> Any:
    """The queue; with a refused handling form, the page again (400) with that item's form as
    the sysop sent it and the error beside it: the outcome, days and reason are not lost. When
    the item is no longer in the queue (another sysop handled it meanwhile), the error is
    flashed over the queue instead."""
    data = queries.mod_queue(current_user)
    refused = refused_flags or refused_report
    if refused is not None:
        item_id, form = refused
        shown = (
            {item.post.id for item in data.flagged}
            if refused_flags
            else {item.report.id for item in data.message_reports}
        )
        if item_id not in shown:
            errors = [*form.form_errors, *(e for field in form for e in field.errors)]
            flash(" ".join(str(e) for e in errors) or _("Try again."), "error")
            return redirect(_back(url_for("moderation.queue")))
    page = render_template(
        "moderation/queue.html",
        queue=data,
        resolve=ResolveForm(formdata=None),
        note=NoteForm(),
        reason=ReasonForm(),
        action=ActionForm(),
        message_report=MessageReportForm(formdata=None),
        refused_flags=refused_flags,
        refused_report=refused_report,
        sections=hooks.mod_queue_sections.get(),
    )
    return page, 400 if refused is not None else 200


def _handle(form: Any, call: Callable[[], Any]) -> bool:
    """Run a queue item's handling form: True when done; else the form holds the errors (the
    form's own, or the service's beside the field it names)."""
    if not form.validate():
        return False
    try:
        call()
    except (NotFound, Forbidden):
        raise
    except ForumError as exc:
        form_error(form, exc)
        return False
    return True


@bp.route("/mod/mail/<int:report_id>/resolve", methods=["POST"])
def resolve_message_report(report_id: int) -> Any:
    if not permissions.can_handle_message_reports(viewer()):
        abort(404)
    form = MessageReportForm()
    done = _handle(
        form,
        lambda: services.resolve_message_report(
            viewer(), report_id, form.outcome.data, form.reason.data or ""
        ),
    )
    if not done:
        return _queue_page(refused_report=(report_id, form))
    flash(_("Handled."), "success")
    return redirect(_back(url_for("moderation.queue")))


@bp.route("/mod/log")
def log() -> Any:
    filters = queries.LogFilters(
        sig=request.args.get("sig", "").strip()[:64],
        actor=request.args.get("actor", "").strip()[:32],
        member=request.args.get("member", "").strip()[:32],
        action=request.args.get("action", "").strip()[:32],
    )
    data = queries.mod_log(current_user, filters, _page_arg())
    undo = queries.undoable_cleanups(
        current_user,
        [r.entry.id for r in data.rows if r.entry.action in ("delete_spammer", "remove_spammer")],
    )
    return render_template("moderation/log.html", log=data, undo=undo, action=ActionForm())


# --- flags ----------------------------------------------------------------------------------
@bp.route("/p/<int:post_id>/flag", methods=["GET", "POST"])
@ratelimits.reports
def flag(post_id: int) -> Any:
    post = permissions.get_post_for(viewer(), post_id)
    topic = db.session.get(Topic, post.topic_id)
    sig = db.session.get(Sig, topic.sig_id) if topic else None
    assert topic is not None and sig is not None
    permissions.require_flag_post(viewer(), post, topic, sig)
    form = FlagForm()
    if form.validate_on_submit():
        try:
            services.flag_post(viewer(), post.id, form.reason.data, form.note.data or "")
        except (NotFound, Forbidden):
            raise
        except ForumError as exc:
            form_error(form, exc)
        else:
            try:
                permissions.get_post_for(viewer(), post.id)
            except NotFound:
                # Her flag was the one that hid it (forum.moderation.flags): she no longer
                # sees the post, so its address would be a 404; the topic is where she was.
                flash(_("Thank you. The post is hidden until a sysop has looked at it."), "success")
                return redirect(_where_the_hidden_post_was(post, topic, sig))
            flash(_("Thank you. The sysops will look at this post."), "success")
            return redirect(_post_url(post.id))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("moderation/flag.html", form=form, post=post, topic=topic), status


def _where_the_hidden_post_was(post: Post, topic: Topic, sig: Sig) -> str:
    """The topic page the post was on; the SIG's page when it was the only post of the topic
    the member could see (the usual spam topic): a topic with no post shown is not there for
    her any more (permissions), and the topic's address would be a 404 too."""
    if not permissions.can_view_topic(viewer(), topic, sig):
        return url_for("sigs.show", slug=sig.slug)
    page = topic_services.page_of_post(topic, post.number)
    return url_for("topics.show", topic_id=topic.id, slug=topic.slug, page=page)


@bp.route("/mod/posts/<int:post_id>/resolve", methods=["POST"])
def resolve(post_id: int) -> Any:
    services.moderated_post(viewer(), post_id)  # 404 for a post this sysop may not moderate
    form = ResolveForm()
    done = _handle(
        form,
        lambda: services.resolve_flags(
            viewer(), post_id, form.outcome.data, form.reason.data or "", _until(form.days.data)
        ),
    )
    if not done:
        return _queue_page(refused_flags=(post_id, form))
    flash(_("Handled; the flaggers will be told."), "success")
    return redirect(_back(url_for("moderation.queue")))


@bp.route("/mod/posts/<int:post_id>/claim", methods=["POST"])
def claim(post_id: int) -> Any:
    return _run(
        lambda: services.claim_flag(viewer(), post_id),
        _("You are handling this post."),
        url_for("moderation.queue"),
    )


@bp.route("/mod/posts/<int:post_id>/unclaim", methods=["POST"])
def unclaim(post_id: int) -> Any:
    return _run(
        lambda: services.unclaim_flag(viewer(), post_id),
        _("Released."),
        url_for("moderation.queue"),
    )


@bp.route("/mod/posts/<int:post_id>/note", methods=["POST"])
def review_note(post_id: int) -> Any:
    form = NoteForm()
    return _run(
        lambda: services.add_review_note(viewer(), post_id, form.body.data or ""),
        _("Note added."),
        url_for("moderation.queue"),
    )


# --- post tools -----------------------------------------------------------------------------
@bp.route("/mod/posts/<int:post_id>/hide", methods=["POST"])
def hide(post_id: int) -> Any:
    form = ReasonForm()
    return _run(
        lambda: services.hide_post(viewer(), post_id, form.reason.data or ""),
        _("The post is hidden."),
        _post_url(post_id),
    )


@bp.route("/mod/posts/<int:post_id>/unhide", methods=["POST"])
def unhide(post_id: int) -> Any:
    return _run(
        lambda: services.unhide_post(viewer(), post_id),
        _("The post is shown again."),
        _post_url(post_id),
    )


@bp.route("/mod/posts/<int:post_id>/approve", methods=["POST"])
def approve(post_id: int) -> Any:
    return _run(
        lambda: services.approve_post(viewer(), post_id),
        _("Approved."),
        url_for("moderation.queue"),
    )


@bp.route("/mod/posts/<int:post_id>/reject", methods=["POST"])
def reject(post_id: int) -> Any:
    form = ReasonForm()
    if _asks_first():
        post, topic, _sig = services.moderated_post(viewer(), post_id)
        return _confirm_page(
            form,
            _("Reject post #%(num)s of “%(title)s”?", num=post.number, title=topic.title),
            _("The post is deleted; it waited for approval and never showed to members."),
            _("Reject"),
            _post_url(post.id),
        )
    return _run(
        lambda: services.reject_post(viewer(), post_id, form.reason.data or ""),
        _("Rejected."),
        url_for("moderation.queue"),
    )


# --- topic tools ----------------------------------------------------------------------------
TOPIC_BUTTONS: dict[str, tuple[Callable[..., Any], str]] = {
    "lock": (services.lock_topic, _l("The topic is locked.")),
    "unlock": (services.unlock_topic, _l("The topic is unlocked.")),
    "pin": (services.pin_topic, _l("The topic is pinned.")),
    "unpin": (services.unpin_topic, _l("The topic is unpinned.")),
    "delete": (services.delete_topic, _l("The topic is deleted.")),
    "restore": (services.restore_topic, _l("The topic is restored.")),
}


def topic_button(topic_id: int, verb: str) -> Any:
    fn, message = TOPIC_BUTTONS[verb]
    form = ReasonForm()
    if verb == "delete" and _asks_first():
        topic, _sig = services.moderated_topic(viewer(), topic_id)
        return _confirm_page(
            form,
            _("Delete the topic “%(title)s”?", title=topic.title),
            _("Members no longer see it or its posts; sysops can restore it."),
            _("Delete topic"),
            _topic_url(topic.id),
        )
    if verb in ("lock", "delete"):
        return _run(
            lambda: fn(viewer(), topic_id, form.reason.data or ""), message, _topic_url(topic_id)
        )
    return _run(lambda: fn(viewer(), topic_id), message, _topic_url(topic_id))


for _verb in TOPIC_BUTTONS:
    bp.add_url_rule(
        f"/mod/topics/<int:topic_id>/{_verb}",
        endpoint=f"topic_{_verb}",
        view_func=topic_button,
        defaults={"verb": _verb},
        methods=["POST"],
    )


def _sig_choices() -> list[SelectChoice]:
    ids = permissions.moderated_sig_ids(viewer())
    query = db.select(Sig).where(Sig.archived_at.is_(None)).order_by(Sig.name)
    if ids is not None:
        query = query.where(Sig.id.in_(sorted(ids)))
    sigs = list(db.session.scalars(query))
    return [SelectChoice(s.id, s.name) for s in sigs]


@bp.route("/mod/topics/<int:topic_id>/move", methods=["GET", "POST"])
def move(topic_id: int) -> Any:
    topic, sig = services.moderated_topic(viewer(), topic_id)
    form = MoveForm()
    form.sig.choices = [c for c in _sig_choices() if c.value != sig.id]
    if form.validate_on_submit():
        try:
            services.move_topic(viewer(), topic.id, form.sig.data, form.reason.data or "")
        except (NotFound, Forbidden):
            raise
        except ForumError as exc:
            form_error(form, exc)
        else:
            flash(_("The topic is moved."), "success")
            return redirect(_topic_url(topic.id))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("moderation/move.html", form=form, topic=topic, sig=sig), status


@bp.route("/mod/topics/<int:topic_id>/split", methods=["GET", "POST"])
def split(topic_id: int) -> Any:
    topic, sig = services.moderated_topic(viewer(), topic_id)
    form = SplitForm()
    form.sig.choices = _sig_choices()
    goto = None
    if request.method == "GET":
        form.sig.data = sig.id
        # "Split off into a new topic" in a post's menu: that post is ticked, on its page.
        marked = _int_or_none(request.args.get("post"))
        chosen = [marked] if marked else []
        page = (
            queries.split_page_of(topic, marked)
            if marked
            else _int_or_none(request.args.get("page")) or 1
        )
    else:
        chosen = [int(v) for v in request.form.getlist("posts") if v.isdecimal()]
        # Another page of the list: the form comes back with what was chosen and typed.
        goto = _int_or_none(request.form.get("goto"))
        page = goto or _int_or_none(request.form.get("page")) or 1
    if goto is None and form.validate_on_submit():
        try:
            new = services.split_topic(
                viewer(),
                topic.id,
                chosen,
                form.title.data,
                form.sig.data,
                form.reason.data or "",
                and_later=form.later.data,
            )
        except (NotFound, Forbidden):
            raise
        except ForumError as exc:
            form_error(form, exc)
        else:
            flash(
                ngettext(
                    "Split %(num)s post into a new topic.",
                    "Split %(num)s posts into a new topic.",
                    new.highest_post_number,
                ),
                "success",
            )
            return redirect(_topic_url(new.id))
    status = 400 if form.errors or form.form_errors else 200
    listing = queries.split_choices(topic, page)
    on_page = {c.post.id for c in listing.choices}
    return (
        render_template(
            "moderation/split.html",
            form=form,
            topic=topic,
            sig=sig,
            listing=listing,
            chosen=set(chosen),
            # Ticked on other pages of the list: sent on as hidden fields.
            chosen_elsewhere=sorted(set(chosen) - on_page),
        ),
        status,
    )


TOPIC_REF = re.compile(r"(?:^|/t/)(\d{1,12})(?:\D|$)")


@bp.route("/mod/topics/<int:topic_id>/merge", methods=["GET", "POST"])
def merge(topic_id: int) -> Any:
    topic, sig = services.moderated_topic(viewer(), topic_id)
    form = MergeForm()
    if form.validate_on_submit():
        match = TOPIC_REF.search(form.target.data.strip())
        try:
            if match is None:
                raise Invalid("target", _l("Enter the other topic's number or paste its address."))
            target = services.merge_topics(
                viewer(), topic.id, int(match.group(1)), form.reason.data or ""
            )
        except Forbidden:
            raise
        except NotFound as exc:
            form_error(form, Invalid("target", exc.message))
        except ForumError as exc:
            form_error(form, exc)
        else:
            flash(_("The topics are merged."), "success")
            return redirect(_topic_url(target.id))
    # The picker: a search (GET, or kept in the POST form) re-renders the page with the
    # matching topics the sysop may merge into as radio buttons.
    words = (request.values.get("q") or "").strip()[:500]
    match = TOPIC_REF.search(words)
    choices = queries.merge_candidates(
        current_user, topic, words, int(match.group(1)) if match else None
    )
    status = 400 if form.errors or form.form_errors else 200
    return (
        render_template(
            "moderation/merge.html",
            form=form,
            topic=topic,
            sig=sig,
            words=words,
            choices=choices,
            chosen=(form.target.data or "").strip(),
        ),
        status,
    )


# --- members --------------------------------------------------------------------------------
def _member_forms(panel: queries.MemberPanel, sig_id: int | None = None) -> dict[str, Any]:
    """The panel's forms. `sig_id`: the SIG the sysop came from (a post's "Suspend the author"),
    chosen first in warn, suspend and remove when they moderate it; a global sysop can still
    pick "Site-wide"."""
    sig_choices = [SelectChoice(s.id, s.name) for s in panel.moderated]
    warn, suspend = WarnForm(prefix="warn"), SuspendForm(prefix="suspend")
    if panel.is_global:
        sig_choices = [SelectChoice(0, _l("Site-wide")), *sig_choices]
    warn.sig.choices = sig_choices
    suspend.sig.choices = sig_choices
    remove = RemoveFromSigForm(prefix="remove")
    remove.sig.choices = [SelectChoice(s.id, s.name) for s in panel.moderated]
    if sig_id is not None and any(s.id == sig_id for s in panel.moderated):
        warn.sig.data = suspend.sig.data = remove.sig.data = sig_id
    note = MemberNoteForm(prefix="note")
    note.sig.choices = [SelectChoice(s.id, s.name) for s in panel.note_sigs]
    if panel.is_global:
        note.sig.choices = [SelectChoice(0, _l("Site-wide (the sysop only)")), *note.sig.choices]
    return {
        "note": note,
        "warn": warn,
        "suspend": suspend,
        "remove": remove,
        "silence": SilenceForm(prefix="silence"),
        "ban": BanForm(prefix="ban"),
        "lift": LiftForm(prefix="lift"),
    }


@bp.route("/mod/u/<username>")
def member(username: str) -> Any:
    panel = queries.member_panel(current_user, username)
    forms = _member_forms(panel, _int_or_none(request.args.get("sig")))
    return render_template("moderation/member.html", panel=panel, forms=forms)


def _member_id(username: str) -> int:
    permissions.require_moderate_anything(viewer())
    user_id = db.session.scalar(
        db.select(User.id).where(db.func.lower(User.username) == username.lower())
    )
    if user_id is None:
        raise NotFound(_l("No such member."))
    return int(user_id)


def _member_action(
    username: str, key: str, form: Any, call: Callable[[int], Any], success: str
) -> Any:
    """Run one of the member page's forms (`key` in queries.MEMBER_FORMS). Refused, by the form or
    by the service, the page comes back with that form as it was sent and the error beside
    it: the reason the sysop wrote is not lost."""
    user_id = _member_id(username)
    if form.validate_on_submit():
        try:
            call(user_id)
        except (NotFound, Forbidden):
            raise
        except ForumError as exc:
            status = form_error(form, exc)
        else:
            flash(str(success), "success")
            return redirect(_back(url_for("moderation.member", username=username)))
    else:
        status = 400
    panel = queries.member_panel(current_user, username)
    forms = _member_forms(panel)
    if not panel.offers(key):  # no longer on the page (the member left the SIG meanwhile)
        errors = [*form.form_errors, *(e for field in form for e in field.errors)]
        flash(" ".join(str(e) for e in errors) or _("Try again."), "error")
        return redirect(_back(url_for("moderation.member", username=username)))
    if hasattr(form, "sig"):
        form.sig.choices = forms[key].sig.choices
    forms[key] = form
    return render_template("moderation/member.html", panel=panel, forms=forms), status


def _sig_arg(value: int | None) -> int | None:
    return value or None


@bp.route("/mod/u/<username>/note", methods=["POST"])
def member_note(username: str) -> Any:
    form = MemberNoteForm(prefix="note")
    return _member_action(
        username,
        "note",
        form,
        lambda uid: services.add_member_note(
            viewer(), uid, form.body.data, _sig_arg(form.sig.data)
        ),
        _("Note added."),
    )


@bp.route("/mod/u/<username>/warn", methods=["POST"])
def warn(username: str) -> Any:
    form = WarnForm(prefix="warn")
    return _member_action(
        username,
        "warn",
        form,
        lambda uid: services.warn_member(viewer(), uid, form.reason.data, _sig_arg(form.sig.data)),
        _("Warned; the member will see it."),
    )


@bp.route("/mod/u/<username>/suspend", methods=["POST"])
def suspend(username: str) -> Any:
    form = SuspendForm(prefix="suspend")
    return _member_action(
        username,
        "suspend",
        form,
        lambda uid: services.suspend_member(
            viewer(), uid, _until(form.days.data), form.reason.data, _sig_arg(form.sig.data)
        ),
        _("Suspended."),
    )


@bp.route("/mod/u/<username>/silence", methods=["POST"])
def silence(username: str) -> Any:
    form = SilenceForm(prefix="silence")
    return _member_action(
        username,
        "silence",
        form,
        lambda uid: services.silence_member(
            viewer(), uid, _until(form.days.data), form.reason.data
        ),
        _("Silenced."),
    )


@bp.route("/mod/u/<username>/ban", methods=["POST"])
def ban(username: str) -> Any:
    form = BanForm(prefix="ban")
    return _member_action(
        username,
        "ban",
        form,
        lambda uid: services.ban_member(viewer(), uid, form.reason.data),
        _("Banned; every session of the member has ended."),
    )


@bp.route("/mod/u/<username>/remove", methods=["POST"])
def remove(username: str) -> Any:
    form = RemoveFromSigForm(prefix="remove")
    return _member_action(
        username,
        "remove",
        form,
        lambda uid: services.remove_from_sig(
            viewer(),
            uid,
            form.sig.data or 0,
            form.reason.data,
            ban=bool(form.ban.data),
            until=_until(form.days.data) if form.ban.data else None,
        ),
        _("Removed from the SIG."),
    )


@bp.route("/mod/u/<username>/lift", methods=["POST"])
def lift(username: str) -> Any:
    form = LiftForm(prefix="lift")

    def call(uid: int) -> Any:
        reason = form.reason.data or ""
        if form.kind.data == "silence":
            return services.lift_silence(viewer(), uid, reason)
        if form.kind.data == "ban":
            return services.lift_ban(viewer(), uid, reason)
        if form.kind.data == "sig_ban":
            return services.lift_sig_ban(viewer(), uid, form.sig.data or 0, reason)
        return services.lift_suspension(viewer(), uid, _sig_arg(form.sig.data), reason)

    # A button of hidden fields, nothing typed: a refusal is a flash on the member's page.
    user_id = _member_id(username)
    page = url_for("moderation.member", username=username)
    if not form.validate_on_submit():
        flash(_("Try again."), "error")
        return redirect(page)
    return _run(lambda: call(user_id), _("Lifted."), page)


# --- spam cleanup ---------------------------------------------------------------------------
def _int_or_none(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isdecimal() and 0 < int(raw) < 2**31 else None


@bp.route("/mod/u/<username>/spam", methods=["GET", "POST"])
def spam_cleanup(username: str) -> Any:
    """One confirmation page, then one POST: "Delete spammer" (no SIG: the global sysop) or
    "Remove from SIG and hide all their posts here" (?sig=: that SIG's sysops)."""
    user_id = _member_id(username)
    form = SpamCleanupForm()
    sig_id = _int_or_none(request.values.get("sig"))
    if form.validate_on_submit():
        try:
            if sig_id is None:
                cleanup = services.delete_spammer(viewer(), user_id, form.reason.data or "")
            else:
                cleanup = services.remove_spammer_from_sig(
                    viewer(), user_id, sig_id, form.reason.data or ""
                )
        except (NotFound, Forbidden):
            raise
        except ForumError as exc:
            form_error(form, exc)
        else:
            flash(_spam_cleanup_done(cleanup, display(username)), "success")
            return redirect(url_for("moderation.log", member=username))
    preview = services.cleanup_preview(viewer(), user_id, sig_id)
    form.sig.data = str(sig_id) if sig_id else ""
    status = 400 if form.errors or form.form_errors else 200
    return render_template("moderation/spam.html", form=form, preview=preview), status


def _spam_cleanup_done(cleanup: Any, name: str | None) -> str:
    """What the sysop is told after "Delete spammer" or "Remove from SIG": the ban too, not only
    the hidden posts (it said "2 posts of spam4e60 were hidden." and no word of the ban)."""
    num = len(cleanup.post_ids)
    if cleanup.sig_id is not None and cleanup.sig_discipline_id is not None:
        sig = db.session.get(Sig, cleanup.sig_id)
        return ngettext(
            "%(name)s is removed from %(sig)s and banned from it; %(num)s post was hidden.",
            "%(name)s is removed from %(sig)s and banned from it; %(num)s posts were hidden.",
            num,
            name=name,
            sig=sig.name if sig else "",
        )
    if cleanup.sig_id is None and cleanup.banned_site:
        return ngettext(
            "%(name)s is banned site-wide and signed out; %(num)s post was hidden.",
            "%(name)s is banned site-wide and signed out; %(num)s posts were hidden.",
            num,
            name=name,
        )
    # The member was banned already: the cleanup only hid posts.
    return ngettext(
        "%(num)s post of %(name)s was hidden.",
        "%(num)s posts of %(name)s were hidden.",
        num,
        name=name,
    )


@bp.route("/mod/cleanups/<int:cleanup_id>/undo", methods=["POST"])
def undo_cleanup(cleanup_id: int) -> Any:
    services.get_cleanup_for(viewer(), cleanup_id)
    if not ActionForm().validate_on_submit():
        flash(_("Try again."), "error")
        return redirect(url_for("moderation.log"))
    return _run(
        lambda: services.undo_spam_cleanup(viewer(), cleanup_id),
        _("Undone: the posts are back and the ban is lifted."),
        url_for("moderation.log"),
    )


# --- word filters ---------------------------------------------------------------------------
@bp.route("/mod/filters", methods=["GET", "POST"])
def filters() -> Any:
    rows = queries.word_filters(current_user)
    form = WordFilterForm()
    choices = _sig_choices()
    if permissions.is_global_sysop(viewer()):
        choices = [SelectChoice(0, _l("Everywhere")), *choices]
    form.sig.choices = choices
    if form.validate_on_submit():
        try:
            services.add_word_filter(
                viewer(),
                form.word.data,
                form.action.data,
                form.whole_word.data,
                _sig_arg(form.sig.data),
            )
        except (NotFound, Forbidden):
            raise
        except ForumError as exc:
            form_error(form, exc)
        else:
            flash(_("Added to the word filter."), "success")
            return redirect(url_for("moderation.filters"))
    status = 400 if form.errors or form.form_errors else 200
    return (
        render_template(
            "moderation/filters.html",
            rows=rows,
            form=form,
            action=ActionForm(),
            thresholds=queries.approval_thresholds(current_user),
            site_threshold=site_settings.get("approval_threshold"),
        ),
        status,
    )


@bp.route("/mod/sigs/<int:sig_id>/approval", methods=["POST"])
def approval_threshold(sig_id: int) -> Any:
    raw = (request.form.get("threshold") or "").strip()
    if raw and not raw.isdecimal():
        services.moderated_sig(viewer(), sig_id)
        flash(_("Enter a whole number, or leave it empty for the site's setting."), "error")
        return redirect(url_for("moderation.filters"))
    return _run(
        lambda: services.set_sig_approval_threshold(viewer(), sig_id, int(raw) if raw else None),
        _("Saved."),
        url_for("moderation.filters"),
    )


@bp.route("/mod/filters/<int:filter_id>/delete", methods=["POST"])
def remove_filter(filter_id: int) -> Any:
    return _run(
        lambda: services.remove_word_filter(viewer(), filter_id),
        _("Removed from the word filter."),
        url_for("moderation.filters"),
    )


# --- the member's own standing --------------------------------------------------------------
@bp.route("/settings/warnings/read", methods=["POST"])
def acknowledge() -> Any:
    if viewer() is None:
        raise Forbidden(_l("Log in first."))
    services.acknowledge_warnings(viewer())
    flash(_("Thank you for reading."), "info")
    return redirect(url_for("accounts.settings"))
