"""Dashboard pages (/pulse, /s/<slug>/pulse), their CSV downloads, and the answer buttons."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from .. import permissions
from ..errors import ForumError
from ..extensions import db
from ..files.queries import library_stats
from ..i18n import gettext as _
from ..sigs.models import Sig
from ..timeutil import in_zone, utcnow, zone_or_utc
from ..topics.models import Topic
from ..topics.queries import TopicPage
from ..web import fixed_url, redirect_back, viewer
from . import bp, queries, services
from .buckets import DAY, PERIODS, WEEK, DateRange, comparison, local_today
from .forms import ActionForm, RangeForm, WelcomeForm

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def _zone() -> str:
    user = viewer()
    return zone_or_utc(user.timezone if user else "UTC")


def _range_form() -> tuple[RangeForm, DateRange]:
    form = RangeForm(request.args)
    zone = _zone()
    return form, form.to_range(local_today(utcnow(), zone), zone)


def _global_scope() -> Sig | None:
    """The SIG picked with ?sig= on /pulse (404 for anyone but the global sysop)."""
    permissions.require_pulse(viewer(), None)
    slug = request.args.get("sig", "")
    if not slug:
        return None
    return permissions.get_sig_for(viewer(), slug)


def _sig_scope(slug: str) -> Sig:
    sig = permissions.get_sig_for(viewer(), slug)
    permissions.require_pulse(viewer(), sig)
    return sig


@bp.route("/pulse")
def dashboard() -> Any:
    sig = _global_scope()
    return _render(sig, on_site_page=True)


@bp.route("/s/<slug>/pulse")
def sig_dashboard(slug: str) -> Any:
    return _render(_sig_scope(slug), on_site_page=False)


def _period() -> str:
    """?period=day|week: what the headline compares (anything else is a day)."""
    period = request.args.get("period", DAY)
    return period if period in PERIODS else DAY


def _render(sig: Sig | None, on_site_page: bool) -> Any:
    form, rng = _range_form()
    data = queries.dashboard(current_user, sig, rng)
    period = _period()
    zone = _zone()
    morning = queries.morning(
        current_user, sig, comparison(period, local_today(utcnow(), zone), zone)
    )
    return render_template(
        "pulse/dashboard.html",
        data=data,
        morning=morning,
        period=period,
        period_links=_period_links(sig, on_site_page),
        library=library_stats(sig.id, rng.utc_start, rng.utc_end) if sig is not None else None,
        form=form,
        on_site_page=on_site_page,
        sigs=queries.pulse_sigs() if on_site_page else [],
        action=ActionForm(),
        filters=_filters(sig, rng, on_site_page),
    )


def _period_links(sig: Sig | None, on_site_page: bool) -> list[tuple[str, str, str]]:
    """(period, label, URL) of the day/week switch: plain links that keep the other filters."""
    args: dict[str, Any] = {
        k: v for k, v in request.args.items() if k in ("range", "start", "end", "sig")
    }
    links = []
    for period, label in ((DAY, _("Day")), (WEEK, _("Week"))):
        query = {**args, "period": period}
        url = (
            url_for("pulse.dashboard", **query)
            if on_site_page
            else url_for("pulse.sig_dashboard", slug=sig.slug if sig else "", **query)
        )
        links.append((period, label, url))
    return links


def _filters(sig: Sig | None, rng: DateRange, on_site_page: bool) -> dict[str, str]:
    args = rng.query_args()
    if on_site_page and sig is not None:
        args["sig"] = sig.slug
    return args


@bp.route("/pulse/<key>.csv")
def download(key: str) -> Any:
    return _csv(_global_scope(), key)


@bp.route("/s/<slug>/pulse/<key>.csv")
def sig_download(slug: str, key: str) -> Any:
    return _csv(_sig_scope(slug), key)


def _csv(sig: Sig | None, key: str) -> Any:
    form, rng = _range_form()
    if form.form_errors:
        abort(400, " ".join(form.form_errors))
    series = queries.one_series(current_user, sig, rng, key)
    if series is None:
        abort(404)
    zone = _zone()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(c, zone) for c in series.columns])
    for row in series.rows:
        writer.writerow([safe_cell(c, zone) for c in row])
    scope = sig.slug if sig else "site"
    name = f"pulse-{scope}-{key}-{rng.start.isoformat()}-{rng.end.isoformat()}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def safe_cell(value: Any, zone: str) -> Any:
    """A CSV cell a spreadsheet shows as text: formulas are defused, times are local."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return in_zone(value, zone).isoformat(timespec="seconds")
    if isinstance(value, bool | int | float):
        return value
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


@bp.route("/s/<slug>/pulse/support", methods=["POST"])
@login_required
def set_support(slug: str) -> Any:
    sig = _sig_scope(slug)
    form = ActionForm()
    if form.validate_on_submit() and form.value.data in ("on", "off"):
        try:
            services.set_support_sig(viewer(), sig.id, form.value.data == "on")
        except ForumError as exc:
            flash(exc.message, "error")
        else:
            flash(
                _(
                    "%(name)s is now a support SIG: replies can be marked as the answer.",
                    name=sig.name,
                )
                if sig.is_support
                else _("%(name)s is no longer a support SIG.", name=sig.name),
                "success",
            )
    else:
        flash(_("That form was not valid; try again."), "error")
    return redirect(url_for("pulse.sig_dashboard", slug=sig.slug))


@bp.route("/pulse/welcome", methods=["POST"])
@login_required
def welcome() -> Any:
    """Mark a member welcomed in a SIG (a row of the welcome queue)."""
    form = WelcomeForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.mark_welcomed(viewer(), form.sig_id.data, form.user_id.data)
    except ForumError as exc:
        if exc.status_code == 404:
            raise
        flash(exc.message, "error")
    else:
        flash(_("Marked as welcomed."), "success")
    return redirect_back(form.next.data, url_for("pulse.dashboard") + "#series-welcome")


@bp.route("/p/<int:post_id>/answer", methods=["POST"])
@login_required
def mark_answer(post_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        topic = services.mark_answer(viewer(), post_id)
    except ForumError as exc:
        if exc.status_code == 404:
            raise
        flash(exc.message, "error")
        topic = _topic_of_post(post_id)
    else:
        flash(_("Marked as the answer."), "success")
    return redirect(url_for("topics.show", topic_id=topic.id, slug=topic.slug))


@bp.route("/t/<int:topic_id>/answer/clear", methods=["POST"])
@login_required
def clear_answer(topic_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        topic = services.clear_answer(viewer(), topic_id)
    except ForumError as exc:
        if exc.status_code == 404:
            raise
        flash(exc.message, "error")
        topic = permissions.get_topic_for(viewer(), topic_id)
    else:
        flash(_("The answer mark was taken off."), "info")
    return redirect(url_for("topics.show", topic_id=topic.id, slug=topic.slug))


def _topic_of_post(post_id: int) -> Topic:
    post = permissions.get_post_for(viewer(), post_id)
    topic = db.session.get(Topic, post.topic_id)
    assert topic is not None
    return topic


def topic_page_extras(page: TopicPage) -> None:
    """In a support SIG: the answer under the question, and the buttons that pick it."""
    if not page.sig.is_support:
        return
    user, topic, sig = viewer(), page.topic, page.sig
    answer = queries.marked_answer(topic)
    after = page.extras.setdefault("after_post", {})
    actions = page.extras.setdefault("post_actions", {})
    if answer is not None and topic.first_post_id is not None:
        answer_post, author = answer
        after.setdefault(topic.first_post_id, []).append(
            Markup(
                render_template("pulse/_answer.html", topic=topic, post=answer_post, author=author)
            )
        )
    if not permissions.can_mark_answer(user, topic, sig):
        return
    for row in page.posts:
        post = row.post
        if answer is not None and post.id == answer[0].id:
            html = render_template("pulse/_answer_button.html", topic=topic, post=post, marked=True)
        elif permissions.can_mark_answer(user, topic, sig, post):
            html = render_template(
                "pulse/_answer_button.html", topic=topic, post=post, marked=False
            )
        else:
            continue
        actions.setdefault(post.id, []).append(Markup(html))


def header_item(user: permissions.Actor) -> dict[str, Any] | None:
    """The "Pulse" link in the header for the global sysop; SIG sysops find theirs on the SIG."""
    if not permissions.can_view_pulse(user, None):
        return None
    return {
        "url": fixed_url("pulse.dashboard"),
        "label": _("Pulse"),
        "count": None,
        "id": "pulse-link",
    }
