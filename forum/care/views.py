"""Member care pages: write to the sysops (of a SIG, of the site, about a post, or as a banned
member), a concern, the sysops' inbox, on duty, paging and taking a page. Thin wrappers over
services and queries."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup, escape

from .. import permissions, ratelimits
from ..accounts.services import NOT_BANNED
from ..errors import Duplicate, ForumError
from ..i18n import gettext as _
from ..sigs.views import sig_page
from ..topics.queries import TopicPage
from ..web import form_error, unless_read_only, viewer
from . import bp, queries, services
from .forms import (
    ActionForm,
    AppealForm,
    AssignForm,
    DeadlinesForm,
    DutyForm,
    NoteForm,
    PageForm,
    ReplyForm,
    WriteForm,
)
from .models import OPEN, RESOLVED, WAITING


def _concern_url(concern_id: int, anchor: int | None = None) -> str:
    return url_for(
        "care.concern", concern_id=concern_id, _anchor=f"message-{anchor}" if anchor else None
    )


def _post_arg(form: WriteForm) -> int | None:
    raw = form.post.data or request.args.get("post", "")
    if not raw:
        return None
    if not str(raw).isdecimal() or not 0 < int(raw) < 2**31:
        abort(404)
    return int(raw)


# --- writing to the sysops ------------------------------------------------------------------
def _write(sig: Any, kept: str | None = None, kept_status: int = 200) -> Any:
    """The form to write to the sysops; `kept`: the words of a page that was refused (nobody
    on duty any more, too many pages), shown in its body rather than lost, with the refusal
    flashed above."""
    form = WriteForm(formdata=None) if kept is not None else WriteForm()
    if kept is not None:
        form.body.data = kept
    post_id = _post_arg(form)
    problem = permissions.write_to_sysops_problem(viewer(), sig)
    if problem is permissions.NO_SUCH_SIG:
        abort(404)
    post = None
    if post_id is not None:
        post = permissions.get_post_for(viewer(), post_id)
        form.post.data = str(post.id)
    status = kept_status
    if request.method == "POST" and kept is None:
        status = 400
        if form.validate_on_submit():
            try:
                concern = services.write_to_sysops(
                    viewer(),
                    sig.id if sig else None,
                    form.subject.data,
                    form.body.data,
                    post_id,
                )
            except Duplicate as repeat:  # sent twice: the first one's concern, nothing new
                flash(repeat.message, "info")
                return redirect(_concern_url(repeat.item.id))
            except ForumError as exc:
                status = form_error(form, exc)
            else:
                flash(
                    _("Your concern is with %(whom)s; you will be told when they answer.",
                      whom=queries.answered_by(sig)),
                    "success",
                )  # fmt: skip
                return redirect(_concern_url(concern.id))
    elif problem:
        status = 403
    return (
        render_template(
            "care/write.html",
            form=form,
            sig=sig,
            to_whom=queries.to_whom(sig.name if sig else None),
            site_answers=sig is not None and permissions.concerns_go_to_site(sig.id),
            problem=problem,
            post=post,
            # A refused page's words come back on the page's address: the form says where.
            action=url_for("care.write_to_sig", slug=sig.slug) if kept is not None else None,
        ),
        status,
    )


@bp.route("/s/<slug>/sysops/write", methods=["GET", "POST"])
@login_required
@ratelimits.mail
def write_to_sig(slug: str) -> Any:
    return _write(permissions.get_sig_for(viewer(), slug))


@bp.route("/care/write", methods=["GET", "POST"])
@login_required
@ratelimits.mail
def write_to_site() -> Any:
    return _write(None)


@bp.route("/care/appeal", methods=["GET", "POST"])
@ratelimits.mail
def appeal() -> Any:
    """For members banned site-wide, who cannot sign in: their name and password each time."""
    form = AppealForm()
    concern = None
    member = None
    data = None
    not_banned = False
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                if form.body.data:
                    concern = services.appeal(
                        form.login.data,
                        form.password.data,
                        form.subject.data or "",  # none: the forum's own, said to each reader
                        form.body.data,
                    )
                    flash(_("Your message is with the site's sysops."), "success")
                else:
                    member, concern = services.appeal_status(form.login.data, form.password.data)
                status = 200
            except Duplicate as repeat:  # sent twice: their concern as it is, nothing new
                flash(repeat.message, "info")
                member, concern = services.appeal_status(form.login.data, form.password.data)
                status = 200
            except ForumError as exc:
                not_banned = exc.lazy_message is NOT_BANNED
                status = form_error(form, exc)
        if concern is not None:
            data = queries.appeal_page(concern)
            member = member or data.member
        form.password.data = ""  # never sent back; what they wrote is, unless it was sent
        if status == 200:
            form.body.data = ""
    return render_template(
        "care/appeal.html", form=form, page=data, member=member, not_banned=not_banned
    ), status


# --- one concern ----------------------------------------------------------------------------
def _render(concern_id: int, reply: ReplyForm | None = None, note: NoteForm | None = None,
            status: int = 200) -> Any:  # fmt: skip
    data = queries.concern_page(current_user, concern_id)
    if status == 200 and not data.is_sysop:
        unless_read_only(lambda: services.mark_read(viewer(), data.concern), "the read position")
    assign = AssignForm(formdata=None)
    assign.assignee.data = data.assignee.username if data.assignee else ""
    return (
        render_template(
            "care/concern.html",
            page=data,
            reply=reply or ReplyForm(formdata=None),
            # (Its fields prefixed: the reply form beside it has a `body` too, and one page
            # may hold one id="body".)
            note=note or NoteForm(formdata=None, prefix="note"),
            assign=assign,
            action=ActionForm(),
            states=(OPEN, WAITING, RESOLVED),
            state_label=queries.state_label,
        ),
        status,
    )


@bp.route("/care/<int:concern_id>")
@login_required
def concern(concern_id: int) -> Any:
    return _render(concern_id)


@bp.route("/care/<int:concern_id>/reply", methods=["POST"])
@login_required
@ratelimits.mail
def reply(concern_id: int) -> Any:
    permissions.get_concern_for(viewer(), concern_id)
    form = ReplyForm()
    status = 400
    if form.validate_on_submit():
        try:
            message = services.reply(
                viewer(), concern_id, form.body.data, resolve=bool(form.resolve.data)
            )
        except Duplicate as repeat:  # sent twice: the first one's message, nothing new
            flash(repeat.message, "info")
            return redirect(_concern_url(concern_id, repeat.item.id))
        except ForumError as exc:
            status = form_error(form, exc)
        else:
            return redirect(_concern_url(concern_id, message.id))
    return _render(concern_id, reply=form, status=status)


@bp.route("/care/<int:concern_id>/note", methods=["POST"])
@login_required
def note(concern_id: int) -> Any:
    concern = permissions.get_concern_for(viewer(), concern_id)
    permissions.require_act_on_concern(viewer(), concern)
    form = NoteForm(prefix="note")
    status = 400
    if form.validate_on_submit():
        try:
            services.add_note(viewer(), concern_id, form.body.data)
        except ForumError as exc:
            status = form_error(form, exc)
        else:
            flash(_("Your note is saved; only the sysops see it."), "success")
            return redirect(_concern_url(concern_id) + "#notes")
    return _render(concern_id, note=form, status=status)


@bp.route("/care/<int:concern_id>/state", methods=["POST"])
@login_required
def set_state(concern_id: int) -> Any:
    concern = permissions.get_concern_for(viewer(), concern_id)
    permissions.require_act_on_concern(viewer(), concern)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        changed = services.set_state(viewer(), concern_id, form.value.data or "")
    except ForumError as exc:
        flash(exc.message, "error")
    else:
        flash(
            {
                OPEN: _("The concern is open again."),
                WAITING: _("The concern waits for the member now."),
                RESOLVED: _("The concern is resolved."),
            }[changed.state],
            "info",
        )
    return redirect(_concern_url(concern_id))


@bp.route("/care/<int:concern_id>/assign", methods=["POST"])
@login_required
def assign(concern_id: int) -> Any:
    concern = permissions.get_concern_for(viewer(), concern_id)
    permissions.require_act_on_concern(viewer(), concern)
    form = AssignForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.assign(viewer(), concern_id, form.assignee.data or None)
    except ForumError as exc:
        flash(exc.message, "error")
    else:
        # What changed, not "Saved.", beside the form (a phone's screens below the top).
        if form.assignee.data:
            flash(_("Assigned to %(name)s.", name=form.assignee.data), "success")
        else:
            flash(_("Nobody is assigned to it now."), "success")
    return redirect(url_for("care.concern", concern_id=concern_id, _anchor="handle-h"))


@bp.route("/care/<int:concern_id>/rate", methods=["POST"])
@login_required
def rate(concern_id: int) -> Any:
    permissions.get_concern_for(viewer(), concern_id)
    form = ActionForm()
    if not form.validate_on_submit() or form.value.data not in ("yes", "no"):
        abort(400)
    try:
        services.rate(viewer(), concern_id, form.value.data == "yes")
    except ForumError as exc:
        flash(exc.message, "error")
    # Thanked once, on the concern's page (which says it for as long as the answer stands).
    return redirect(_concern_url(concern_id))


@bp.route("/care")
@login_required
def mine() -> Any:
    return render_template("care/mine.html", rows=queries.my_concerns(current_user))


@bp.route("/mod/concerns")
@login_required
def inbox() -> Any:
    state = request.args.get("state", OPEN)
    if state not in queries.FILTERS:
        abort(404)
    appeals = request.args.get("appeal", "")
    if appeals not in ("", "1"):
        abort(404)
    slug = request.args.get("sig", "")
    sig = permissions.get_sig_for(viewer(), slug) if slug else None
    box = queries.inbox(current_user, state, sig, appeals=appeals == "1")
    return render_template(
        "care/inbox.html", box=box, state_label=queries.state_label, to_whom=queries.to_whom
    )


# --- on duty, pages -------------------------------------------------------------------------
@bp.route("/s/<slug>/duty", methods=["POST"])
@login_required
def duty(slug: str) -> Any:
    sig = permissions.get_sig_for(viewer(), slug)
    form = DutyForm()
    if not form.validate_on_submit():
        abort(400)
    on = request.form.get("value") == "on"
    try:
        services.set_duty(viewer(), sig.id, on, sound=bool(form.sound.data) if on else None)
    except ForumError as exc:
        if exc.status_code == 404:
            raise
        flash(exc.message, "error")
    else:
        flash(
            _("You are on duty in %(sig)s: members can page you.", sig=sig.name)
            if on
            else _("You are off duty in %(sig)s.", sig=sig.name),
            "success",
        )
    return redirect(url_for("sigs.show", slug=sig.slug))


@bp.route("/s/<slug>/care/deadlines", methods=["POST"])
@login_required
def deadlines(slug: str) -> Any:
    sig = permissions.get_sig_for(viewer(), slug)
    permissions.require_sig_sysop(viewer(), sig)
    form = DeadlinesForm()
    if not form.validate_on_submit():
        flash(_("Enter whole numbers of hours."), "error")
    else:
        try:
            services.set_deadlines(
                viewer(), sig.id, form.response_hours.data or 0, form.escalate_hours.data or 0
            )
        except ForumError as exc:
            flash(exc.message, "error")
        else:
            flash(_("The deadlines are saved."), "success")
    return redirect(url_for("sigs.show", slug=sig.slug) + "#care")


@bp.route("/s/<slug>/page", methods=["POST"])
@login_required
def page_sysops(slug: str) -> Any:
    sig = permissions.get_sig_for(viewer(), slug)
    permissions.require_page(viewer(), sig)
    form = PageForm()
    if not form.validate_on_submit():
        # Too long (a browser that ignores the box's maxlength) or empty: the SIG page again,
        # the words typed still in the box, focused, and what is wrong beside it.
        return sig_page(sig.slug, status=400, care_page_form=form)
    try:
        page = services.page_sysops(viewer(), sig.id, form.body.data)
    except ForumError as exc:
        if exc.status_code == 404:
            raise
        flash(exc.message, "error")
        if permissions.write_to_sysops_problem(viewer(), sig) is None:
            # "Write to them instead": the form to do so, with the words typed for the page.
            return _write(sig, kept=form.body.data, kept_status=exc.status_code)
        return redirect(url_for("sigs.show", slug=sig.slug) + "#care")
    return redirect(url_for("care.page", page_id=page.id))


@bp.route("/care/pages/<int:page_id>")
@login_required
def page(page_id: int) -> Any:
    data, sig, member, can_take = queries.page_view(current_user, page_id)
    if data.concern_id is not None and data.member_id == getattr(viewer(), "id", None):
        if data.taken_by_id is not None:
            return redirect(_concern_url(data.concern_id))
    return render_template(
        "care/page.html",
        page=data,
        sig=sig,
        member=member,
        can_take=can_take,
        took_it=data.taken_by_id is not None and data.taken_by_id == getattr(viewer(), "id", None),
        action=ActionForm(),
    )


@bp.route("/care/pages/<int:page_id>/take", methods=["POST"])
@login_required
def take(page_id: int) -> Any:
    permissions.get_page_for(viewer(), page_id)  # a 404 before the form is even read
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        concern = services.take_page(viewer(), page_id)
    except ForumError as exc:
        if exc.status_code == 404:
            raise
        flash(exc.message, "error")
        return redirect(url_for("care.page", page_id=page_id))
    flash(_("You took the page: answer the member here."), "success")
    return redirect(_concern_url(concern.id))


# --- on other pages ---------------------------------------------------------------------------
def topic_page_extras(page: TopicPage) -> None:
    """ "Ask the sysops about this post" under each post, for members who are not its sysops."""
    user = viewer()
    if user is None or permissions.write_to_sysops_problem(user, page.sig) is not None:
        return
    actions = page.extras.setdefault("post_actions", {})
    # Escaped once per page: Markup.format per post cost 25 µs each, 0.6 ms per topic page.
    label = escape(_("Ask the sysops about this post"))
    base = escape(url_for("care.write_to_sig", slug=page.sig.slug))
    for row in page.posts:
        if row.post.is_public:
            actions.setdefault(row.post.id, []).append(
                Markup(f'<a class="ask-sysops-link" href="{base}?post={row.post.id:d}">{label}</a>')
            )


def init_templates(app: Any) -> None:
    def care_for_sig(sig: Any) -> queries.SigCare:
        return queries.sig_care(current_user, sig)

    def care_for_mod() -> queries.ModCare | None:
        return queries.mod_care(current_user)

    def care_duties() -> list[Any]:
        return queries.duty_sigs(current_user)

    app.jinja_env.globals.update(
        care_for_sig=care_for_sig,
        care_for_mod=care_for_mod,
        care_duties=care_duties,
        care_forms={"page": PageForm, "duty": DutyForm, "deadlines": DeadlinesForm},
        care_to_whom=queries.to_whom,
        care_state=queries.state_label,
    )
