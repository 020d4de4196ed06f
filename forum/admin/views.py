"""The console: /admin for the global sysop only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import permissions, settings
from ..errors import Forbidden, ForumError, NotFound
from ..i18n import gettext as _
from ..i18n import number
from ..moderation import services as mod_services
from ..text import slugify
from ..web import flash_outcome, form_error, safe_next, viewer
from . import bp, queries, services
from .forms import (
    ActionForm,
    DecideAccountForm,
    InviteForm,
    RoleForm,
    SettingsForm,
    SigForm,
    SysopForm,
    ThresholdForm,
)


@bp.before_request
def only_the_sysop() -> None:
    permissions.require_global_sysop(viewer())


def _page_arg() -> int:
    page = request.args.get("page", "1")
    if not page.isdecimal() or not 0 < int(page) < 100_000:
        abort(404)
    return int(page)


def _run(action: Callable[[], Any], success: str, back: str) -> Any:
    flash_outcome(action, success)
    return redirect(back)


@bp.route("/")
def index() -> Any:
    return render_template(
        "admin/index.html", counts=queries.dashboard(current_user), settings=settings.current()
    )


@bp.route("/members")
def members() -> Any:
    q = request.args.get("q", "")[:100]
    status = request.args.get("status", "")
    page = _page_arg()
    rows, has_next = queries.members(current_user, q, status, page)
    return render_template(
        "admin/members.html",
        rows=rows,
        q=q,
        status=status,
        page=page,
        has_next=has_next,
        role_form=RoleForm(),
    )


@bp.route("/members/<int:user_id>/role", methods=["POST"])
def set_role(user_id: int) -> Any:
    form = RoleForm()
    return _run(
        lambda: services.set_role(viewer(), user_id, form.role.data or ""),
        _("The role is changed."),
        safe_next(form.next.data) or url_for("admin.members"),
    )


@bp.route("/sigs", methods=["GET", "POST"])
def sigs() -> Any:
    form = SigForm()
    if form.validate_on_submit():
        try:
            sig = services.create_sig(
                viewer(),
                name=form.name.data,
                slug=(form.slug.data or slugify(form.name.data)).strip().lower(),
                description=form.description.data or "",
                visibility=form.visibility.data,
                language=form.language.data,
            )
        except (NotFound, Forbidden):
            raise
        except ForumError as exc:
            form_error(form, exc)
        else:
            flash(_("%(name)s is created.", name=sig.name), "success")
            return redirect(url_for("admin.sig", sig_id=sig.id))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("admin/sigs.html", rows=queries.sigs(current_user), form=form), status


@bp.route("/sigs/<int:sig_id>", methods=["GET", "POST"])
def sig(sig_id: int) -> Any:
    sig, sysops, threshold = queries.sig_detail(current_user, sig_id)
    form = SigForm(prefix="sig")
    if request.method == "GET":
        form.name.data = sig.name
        form.slug.data = sig.slug
        form.description.data = sig.description
        form.visibility.data = sig.visibility
        form.language.data = sig.language
    if form.validate_on_submit():
        try:
            services.update_sig(
                viewer(),
                sig.id,
                name=form.name.data,
                description=form.description.data or "",
                visibility=form.visibility.data,
                language=form.language.data,
            )
        except (NotFound, Forbidden):
            raise
        except ForumError as exc:
            form_error(form, exc)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("admin.sig", sig_id=sig.id))
    threshold_form = ThresholdForm(prefix="threshold")
    if request.method == "GET":
        threshold_form.threshold.data = threshold
    status = 400 if form.errors or form.form_errors else 200
    return (
        render_template(
            "admin/sig.html",
            sig=sig,
            sysops=sysops,
            form=form,
            sysop_form=SysopForm(prefix="sysop"),
            threshold_form=threshold_form,
            action=ActionForm(),
        ),
        status,
    )


@bp.route("/sigs/<int:sig_id>/archive", methods=["POST"])
def archive(sig_id: int) -> Any:
    archived = ActionForm().value.data != "unarchive"
    return _run(
        lambda: services.set_archived(viewer(), sig_id, archived),
        _("Archived: it can be read but not written to.") if archived else _("Unarchived."),
        url_for("admin.sig", sig_id=sig_id),
    )


@bp.route("/sigs/<int:sig_id>/sysops", methods=["POST"])
def sysops(sig_id: int) -> Any:
    form = SysopForm(prefix="sysop")
    appoint = form.value.data != "dismiss"
    return _run(
        lambda: services.set_sig_sysop(viewer(), sig_id, form.username.data or "", appoint),
        _("Appointed.") if appoint else _("Dismissed."),
        url_for("admin.sig", sig_id=sig_id),
    )


@bp.route("/sigs/<int:sig_id>/threshold", methods=["POST"])
def threshold(sig_id: int) -> Any:
    form = ThresholdForm(prefix="threshold")
    if not form.validate():
        flash(
            _(
                "Enter a whole number from 0 to %(maximum)s, or leave it empty.",
                maximum=number(1000),
            ),
            "error",
        )
        return redirect(url_for("admin.sig", sig_id=sig_id))
    return _run(
        lambda: mod_services.set_sig_approval_threshold(viewer(), sig_id, form.threshold.data),
        _("Saved."),
        url_for("admin.sig", sig_id=sig_id),
    )


@bp.route("/settings", methods=["GET", "POST"])
def site_settings() -> Any:
    form = SettingsForm()
    values = settings.current()
    if request.method == "GET":
        for key, value in values.items():
            getattr(form, key).data = settings.form_value(key, value)
    if form.validate_on_submit():
        try:
            # A setting the form did not send (a page from before it existed) stays as it is.
            services.update_settings(
                viewer(),
                {key: getattr(form, key).data for key in settings.SETTINGS if key in request.form},
            )
        except (NotFound, Forbidden):
            raise
        except ForumError as exc:
            form_error(form, exc)
        else:
            flash(_("Settings saved."), "success")
            return redirect(url_for("admin.site_settings"))
    status = 400 if form.errors or form.form_errors else 200
    return (
        render_template("admin/settings.html", form=form, definitions=settings.SETTINGS),
        status,
    )


@bp.route("/invites", methods=["GET", "POST"])
def invites() -> Any:
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invite = services.create_invite(viewer(), form.note.data or "")
        except ForumError as exc:
            form_error(form, exc)
        else:
            flash(_("New invite code: %(code)s", code=invite.code), "success")
            return redirect(url_for("admin.invites"))
    status = 400 if form.errors or form.form_errors else 200
    page = render_template(
        "admin/invites.html",
        form=form,
        rows=queries.invites(current_user),
        mode=settings.get("registration"),
    )
    return page, status


@bp.route("/approvals")
def approvals() -> Any:
    """New accounts waiting for a sysop's approval."""
    return render_template(
        "admin/approvals.html",
        rows=queries.pending_accounts(current_user),
        required=bool(settings.get("account_approval")),
        form=DecideAccountForm(),
    )


@bp.route("/approvals/<int:user_id>", methods=["POST"])
def decide_account(user_id: int) -> Any:
    form = DecideAccountForm()
    approve = form.value.data != "refuse"
    return _run(
        lambda: services.decide_account(viewer(), user_id, approve),
        _("Approved: the member may post now and was told so.")
        if approve
        else _("Refused: the member can read but not post, and was told so."),
        url_for("admin.approvals"),
    )
