"""Webhook pages: a SIG's (/s/<slug>/webhooks, its sysops'), the site's (/admin/webhooks, the
global sysop's), the overview of every webhook a sysop manages (/mod/webhooks), and one
webhook with its delivery log (/mod/webhooks/<id>)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_login import login_required

from .. import permissions, ratelimits
from ..errors import Forbidden, ForumError, NotFound
from ..i18n import gettext as _
from ..sigs.models import Sig
from ..web import form_error, viewer
from . import bp, queries, services
from .forms import EVENT_LABELS, ActionForm, WebhookForm
from .models import Webhook


def _list_url(hook: Webhook, sig: Sig | None) -> str:
    if sig is None:
        return url_for("webhooks.site")
    return url_for("webhooks.sig", slug=sig.slug)


def _scope_page(sig: Sig | None) -> Any:
    """The list of a SIG's (or the site's) webhooks, with the form that registers one."""
    form = WebhookForm()
    status = 200
    if form.validate_on_submit():
        try:
            hook = services.create_webhook(
                viewer(),
                sig.id if sig is not None else None,
                form.url.data or "",
                list(form.events.data or []),
                form.description.data or "",
            )
        except (NotFound, Forbidden):
            raise
        except ForumError as exc:
            status = form_error(form, exc)
        else:
            flash(_("Webhook added. Copy its secret to check the signatures."), "success")
            return redirect(url_for("webhooks.show", webhook_id=hook.id))
    elif form.errors:
        status = 400
    rows = queries.of_site() if sig is None else queries.of_sig(sig)
    return (
        render_template("webhooks/list.html", sig=sig, rows=rows, form=form, labels=EVENT_LABELS),
        status,
    )


@bp.route("/s/<slug>/webhooks", methods=["GET", "POST"])
@login_required
def sig(slug: str) -> Any:
    return _scope_page(services.sig_for_webhooks(viewer(), slug))


@bp.route("/admin/webhooks", methods=["GET", "POST"])
@login_required
def site() -> Any:
    return _scope_page(services.sig_for_webhooks(viewer(), None))


@bp.route("/mod/webhooks")
@login_required
def overview() -> Any:
    user = viewer()
    if not permissions.can_moderate_anything(user):
        raise Forbidden(_("Only sysops may see this page."))
    return render_template(
        "webhooks/overview.html",
        rows=queries.managed(user),
        sigs=queries.moderated_sigs(user),
        labels=EVENT_LABELS,
    )


@bp.route("/mod/webhooks/<int:webhook_id>", methods=["GET", "POST"])
@login_required
def show(webhook_id: int) -> Any:
    hook, sig = services.webhook_for(viewer(), webhook_id)
    form = WebhookForm(obj=None)
    status = 200
    if form.validate_on_submit():
        try:
            services.update_webhook(
                viewer(),
                hook.id,
                form.url.data or "",
                list(form.events.data or []),
                form.description.data or "",
                bool(form.active.data),
            )
        except (NotFound, Forbidden):
            raise
        except ForumError as exc:
            status = form_error(form, exc)
        else:
            flash(_("Webhook saved."), "success")
            return redirect(url_for("webhooks.show", webhook_id=hook.id))
    elif form.errors:
        status = 400
    else:
        form.url.data = hook.url
        form.description.data = hook.description
        form.events.data = hook.event_list
        form.active.data = hook.active
    return (
        render_template(
            "webhooks/show.html",
            hook=hook,
            secret=services.readable_secret(hook),
            unreadable=services.SECRET_UNREADABLE,
            sig=sig,
            form=form,
            action=ActionForm(),
            log=queries.delivery_log(hook),
            back=_list_url(hook, sig),
            labels=EVENT_LABELS,
        ),
        status,
    )


def _button(call: Any, success: str, webhook_id: int) -> Any:
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("webhooks.show", webhook_id=webhook_id))
    try:
        call()
    except (NotFound, Forbidden):
        raise
    except ForumError as exc:
        flash(exc.message, "error")
    else:
        flash(success, "success")
    return redirect(url_for("webhooks.show", webhook_id=webhook_id))


@bp.route("/mod/webhooks/<int:webhook_id>/delete", methods=["POST"])
@login_required
def delete(webhook_id: int) -> Any:
    hook, sig = services.webhook_for(viewer(), webhook_id)
    back = _list_url(hook, sig)
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("webhooks.show", webhook_id=webhook_id))
    services.delete_webhook(viewer(), webhook_id)
    flash(_("Webhook deleted."), "success")
    return redirect(back)


@bp.route("/mod/webhooks/<int:webhook_id>/secret", methods=["POST"])
@login_required
def secret(webhook_id: int) -> Any:
    return _button(
        lambda: services.rotate_secret(viewer(), webhook_id),
        _("A new secret was made: the old one no longer signs deliveries."),
        webhook_id,
    )


@bp.route("/mod/webhooks/<int:webhook_id>/ping", methods=["POST"])
@login_required
@ratelimits.webhook_tests
def ping(webhook_id: int) -> Any:
    return _button(
        lambda: services.ping(viewer(), webhook_id),
        _("A ping is on its way; its answer shows in the log below."),
        webhook_id,
    )


@bp.route("/mod/webhooks/deliveries/<int:delivery_id>/redeliver", methods=["POST"])
@login_required
@ratelimits.webhook_tests
def redeliver(delivery_id: int) -> Any:
    delivery, hook = services.delivery_for(viewer(), delivery_id)
    return _button(
        lambda: services.redeliver(viewer(), delivery.id),
        _("Sent again; its answer shows in the log below."),
        hook.id,
    )
