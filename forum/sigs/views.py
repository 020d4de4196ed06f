"""SIG pages: the index, a SIG's topics, joining and leaving, join requests, invite links."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import hooks, pagecache, permissions, ratelimits
from ..errors import ForumError
from ..i18n import gettext as _
from ..i18n import ngettext
from ..topics import services as topic_services
from ..web import absolute_url_for, form_error, viewer
from . import bp, queries, services
from .forms import ActionForm, InviteForm, JoinForm, RequestForm


def _page_arg() -> int:
    page = request.args.get("page", "1")
    if not page.isdecimal() or not 0 < int(page) < 100_000:
        abort(404)
    return int(page)


@bp.route("/")
@pagecache.for_guests(pagecache.sig_index_version)
def index() -> Any:
    return render_template(
        "sigs/index.html", rows=queries.sig_index(current_user), unread_shown=queries.UNREAD_SHOWN
    )


@bp.route("/s/<slug>/")
@pagecache.for_guests(pagecache.sig_page_version)
def show(slug: str) -> Any:
    return sig_page(slug)


def sig_page(slug: str, status: int | None = None, **sections: Any) -> Any:
    """The SIG page as its query asks for it; `status` and `sections` from a form of one of its
    sections that another route refused (forum.care's page form: what was typed, its error
    beside it), re-rendered here rather than lost to a redirect."""
    filter = request.args.get("filter", "all")
    filters = hooks.sig_topic_filters.get()
    if filter not in ("all", "unread", *filters):
        filter = "all"
    after, before = (request.args.get(name) for name in ("after", "before"))
    page = queries.sig_page(
        current_user,
        slug,
        _page_arg(),
        filter,
        after=queries.Cursor.parse(after) if after else None,
        before=queries.Cursor.parse(before) if before and not after else None,
    )
    if status is None:
        status = 200 if page.can_read else 403
    # The join form (and so a CSRF token) only for those the policy lets join, as the template
    # asks: a guest's page holds nothing of theirs, and a member's has no use for it.
    may_join = permissions.can_join_sig(viewer(), page.sig)
    return render_template(
        "sigs/show.html",
        page=page,
        filters=filters,
        sections=hooks.sig_page_sections.get(),
        join_form=JoinForm() if may_join else None,
        **sections,
    ), status


@bp.route("/s/<slug>", strict_slashes=False)
def show_no_slash(slug: str) -> Any:
    return redirect(url_for("sigs.show", slug=slug), code=301)


@bp.route("/s/<slug>/join", methods=["POST"])
@login_required
@ratelimits.membership
def join(slug: str) -> Any:
    form = JoinForm()
    sig = queries.sig_page(current_user, slug).sig
    if form.validate_on_submit():
        try:
            services.join_sig(viewer(), sig.id)
        except ForumError as exc:
            flash(exc.message, "error")
        else:
            flash(_("You joined %(name)s.", name=sig.name), "success")
    else:
        flash(_("That form was not valid; try again."), "error")
    return redirect(url_for("sigs.show", slug=sig.slug))


@bp.route("/sigs/request", methods=["GET", "POST"])
@login_required
@ratelimits.membership
def request_to_join() -> Any:
    """Ask to join a private SIG whose address a member was given."""
    form = RequestForm()
    if form.validate_on_submit():
        try:
            services.request_to_join(viewer(), form.slug.data, form.message.data or "")
        except ForumError as exc:
            form_error(form, exc)
        else:
            # The same answer whether or not the SIG exists: private SIGs stay hidden.
            flash(
                _(
                    "If a private SIG has that address, its sysops now have your request. "
                    "You will be notified of their answer."
                ),
                "info",
            )
            return redirect(url_for("sigs.index"))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("sigs/request.html", form=form), status


@bp.route("/s/<slug>/leave", methods=["POST"])
@login_required
@ratelimits.membership
def leave(slug: str) -> Any:
    sig = queries.sig_page(current_user, slug).sig
    if ActionForm().validate_on_submit():
        try:
            services.leave_sig(viewer(), sig.id)
        except ForumError as exc:
            flash(exc.message, "error")
        else:
            flash(_("You left %(name)s.", name=sig.name), "info")
            if sig.is_private:
                return redirect(url_for("sigs.index"))
    return redirect(url_for("sigs.show", slug=sig.slug))


@bp.route("/s/<slug>/read", methods=["POST"])
@login_required
def mark_read(slug: str) -> Any:
    sig = queries.sig_page(current_user, slug).sig
    if ActionForm().validate_on_submit():
        count = topic_services.mark_all_read(viewer(), sig.id)
        flash(
            ngettext(
                "Marked %(num)s topic as read.",
                "Marked %(num)s topics as read.",
                count,
            ),
            "info",
        )
    return redirect(url_for("sigs.show", slug=sig.slug))


@bp.route("/s/<slug>/members")
def members(slug: str) -> Any:
    sig, rows = queries.sig_members(current_user, slug)
    return render_template("sigs/members.html", sig=sig, rows=rows)


@bp.route("/s/<slug>/requests")
@login_required
def requests(slug: str) -> Any:
    sig, pending = queries.join_requests(current_user, slug)
    return render_template("sigs/requests.html", sig=sig, pending=pending, action=ActionForm())


@bp.route("/s/<slug>/requests/<int:request_id>", methods=["POST"])
@login_required
def decide(slug: str, request_id: int) -> Any:
    sig, _pending = queries.join_requests(current_user, slug)
    form = ActionForm()
    if form.validate_on_submit() and form.value.data in ("approve", "deny"):
        try:
            services.decide_join_request(viewer(), request_id, form.value.data == "approve")
        except ForumError as exc:
            flash(exc.message, "error")
        else:
            flash(_("Approved.") if form.value.data == "approve" else _("Denied."), "success")
    else:
        flash(_("Choose approve or deny."), "error")
    return redirect(url_for("sigs.requests", slug=sig.slug))


# --- invite links ---------------------------------------------------------------------------
def _invites_page(slug: str, form: InviteForm, link: str | None = None, status: int = 200) -> Any:
    sig, rows = queries.sig_invites(current_user, slug)
    return render_template(
        "sigs/invites.html", sig=sig, rows=rows, form=form, link=link, action=ActionForm()
    ), status


@bp.route("/s/<slug>/invites", methods=["GET", "POST"])
@login_required
def invites(slug: str) -> Any:
    """A SIG's invite links, for its sysops: make one (shown once, on the answer), revoke one."""
    form = InviteForm()
    if not form.is_submitted():
        return _invites_page(slug, form)
    sig, _rows = queries.sig_invites(current_user, slug)
    if not form.validate():
        return _invites_page(slug, form, status=400)
    try:
        made = services.create_sig_invite(
            viewer(), sig.id, expires=form.expires.data or "", max_uses=form.max_uses.data
        )
    except ForumError as exc:
        return _invites_page(slug, form, status=form_error(form, exc))
    flash(_("Your invite link is made. Copy it now: it is not shown again."), "success")
    link = absolute_url_for("sigs.invite", slug=sig.slug, token=made.token)
    return _invites_page(slug, InviteForm(formdata=None), link=link)


@bp.route("/s/<slug>/invites/<int:invite_id>/revoke", methods=["POST"])
@login_required
def revoke_invite(slug: str, invite_id: int) -> Any:
    sig, _rows = queries.sig_invites(current_user, slug)
    if ActionForm().validate_on_submit():
        try:
            services.revoke_sig_invite(viewer(), sig.id, invite_id)
        except ForumError as exc:
            if exc.status_code == 404:
                raise
            flash(exc.message, "error")
        else:
            flash(_("The invite link is revoked: nobody can join by it any more."), "info")
    else:
        flash(_("That form was not valid; try again."), "error")
    return redirect(url_for("sigs.invites", slug=sig.slug))


@bp.route("/s/<slug>/invite/<token>", methods=["GET", "POST"])
def invite(slug: str, token: str) -> Any:
    """An invite link: to a guest, log in or register; to a member, the SIG and a Join button.
    A wrong token is the 404 of a SIG that does not exist."""
    page = queries.invite_page(current_user, slug, token)
    member = viewer() is not None
    status, refusal = 200, None
    if request.method == "POST":
        if not member:
            return redirect(url_for("accounts.login", next=request.path))
        if JoinForm().validate_on_submit():
            try:
                services.join_by_invite(viewer(), slug, token)
            except ForumError as exc:
                if exc.status_code == 404:
                    raise
                # Nothing changed: the page says why (read again: the link may have just gone).
                refusal, status = exc.message, exc.status_code
                page = queries.invite_page(current_user, slug, token)
            else:
                flash(_("You joined %(name)s.", name=page.sig.name), "success")
                return redirect(url_for("sigs.show", slug=page.sig.slug))
        else:
            refusal, status = _("That form was not valid; try again."), 400
    return render_template(
        "sigs/invite.html", page=page, refusal=refusal, join_form=JoinForm() if member else None
    ), status
