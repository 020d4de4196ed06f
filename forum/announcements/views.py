"""Announcement pages: the list, posting (now or scheduled), ending, removing, and dismissing
the banner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..errors import Forbidden, ForumError
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..i18n import localtime
from ..timeutil import from_zone, utcnow
from ..web import fixed_url, form_error, redirect_back, viewer
from . import bp, queries, services
from .forms import ActionForm, AnnouncementForm


def _page_arg() -> int:
    page = request.args.get("page", "1")
    if not page.isdecimal() or not 0 < int(page) < 100_000:
        abort(404)
    return int(page)


@bp.route("/announcements")
def index() -> Any:
    page = _page_arg()
    rows, has_next = queries.announcement_list(current_user, page)
    return render_template(
        "announcements/index.html",
        rows=rows,
        page=page,
        has_next=has_next,
        can_post=bool(queries.announce_targets(current_user)),
        action=ActionForm(),
    )


def _list_url(announcement_id: int, anchor: bool = True) -> str:
    """The announcements page that lists this announcement (page 1 without a page), with its
    anchor; a 404 for one this member may not read (as the list hides it)."""
    page = queries.page_of(current_user, announcement_id)
    if page is None:
        abort(404)
    return url_for(
        "announcements.index",
        page=page if page > 1 else None,
        _anchor=f"announcement-{announcement_id}" if anchor else None,
    )


@bp.route("/announcements/<int:announcement_id>")
def permalink(announcement_id: int) -> Any:
    """An announcement's own address (the banner's link): the list's page that has it, even
    when scheduled ones or 20 newer ones push it past page 1."""
    return redirect(_list_url(announcement_id))


@bp.route("/announcements/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    targets = queries.announce_targets(current_user)
    if not targets:
        raise Forbidden(_l("Only sysops post announcements."))
    form = AnnouncementForm()
    # The site-wide choice comes without a name from the query; it is named in the reader's
    # language here.
    form.where.choices = {key: name if key else _("Site-wide") for key, name in targets}
    if request.method == "GET" and request.args.get("sig"):
        form.where.data = request.args["sig"]
    if form.validate_on_submit():
        sig_id = int(form.where.data) if form.where.data else None
        author = viewer()
        assert author is not None

        def local(value: datetime | None) -> datetime | None:
            return None if value is None else from_zone(value, author.timezone)

        try:
            made = services.publish_announcement(
                author,
                sig_id,
                form.title.data,
                form.body.data,
                local(form.starts_at.data),
                local(form.ends_at.data),
            )
        except ForumError as exc:
            form_error(form, exc)
        else:
            if made.starts_at > utcnow():
                flash(
                    _(
                        "The announcement is scheduled: it shows from %(when)s.",
                        when=localtime(made.starts_at),
                    ),
                    "success",
                )
            else:
                flash(_("The announcement is posted."), "success")
            return redirect(url_for("announcements.index"))
    status = 400 if form.errors or form.form_errors else 200
    return (
        render_template("announcements/new.html", form=form, banner_days=queries.BANNER_DAYS),
        status,
    )


@bp.route("/announcements/<int:announcement_id>/end", methods=["POST"])
@login_required
def end(announcement_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    services.end_announcement(viewer(), announcement_id)
    flash(_("The announcement has ended: it no longer shows in the banner."), "info")
    # As posting and removing confirm themselves: the notice on top of the list, in view (an
    # anchor would scroll it off a phone's screen), on the page that lists the ended one.
    return redirect(_list_url(announcement_id, anchor=False))


@bp.route("/announcements/<int:announcement_id>/delete", methods=["POST"])
@login_required
def delete(announcement_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    services.delete_announcement(viewer(), announcement_id)
    flash(_("The announcement was removed."), "info")
    return redirect(url_for("announcements.index"))


@bp.route("/announcements/<int:announcement_id>/dismiss", methods=["POST"])
@login_required
def dismiss(announcement_id: int) -> Any:
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    services.dismiss_announcement(viewer(), announcement_id)
    return redirect_back(form.next.data, url_for("announcements.index"))


def init_banner(app: Flask) -> None:
    """`announcement_banner()` in templates: loaded once per page, only when base.html asks."""

    def announcement_banner() -> queries.Banner:
        if "forum_banner" not in g:
            g.forum_banner = queries.banner(current_user)
        return g.forum_banner  # type: ignore[no-any-return]

    app.jinja_env.globals["announcement_banner"] = announcement_banner


def header_item(user: object) -> dict[str, Any]:
    """The "Announcements" link in the header, for everyone (no query)."""
    return {
        "url": fixed_url("announcements.index"),
        "label": _("Announcements"),
        "count": None,
        "id": "announcements-link",
    }
