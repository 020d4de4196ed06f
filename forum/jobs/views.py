"""/admin/jobs: the global sysop's list of jobs held for the queue, and of those that failed for
good, each with a retry."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, url_for

from .. import permissions
from ..i18n import gettext as _
from ..web import flash_outcome, viewer
from . import bp, queue_of, services


@bp.before_request
def only_the_sysop() -> None:
    permissions.require_global_sysop(viewer())


@bp.route("/")
def failed() -> Any:
    queue = queue_of()
    try:
        queued, scheduled = queue.huey.pending_count(), queue.huey.scheduled_count()
    except Exception:  # noqa: BLE001 - Redis down: the page says so, and lists the held jobs
        queued = scheduled = None
    return render_template(
        "jobs/failed.html",
        rows=services.failed_jobs(viewer()),
        held=services.held_jobs(viewer()),
        held_count=services.held_count(),
        queued=queued,
        scheduled=scheduled,
    )


@bp.route("/<int:failed_id>/retry", methods=["POST"])
def retry(failed_id: int) -> Any:
    flash_outcome(
        lambda: services.retry_failed_job(viewer(), failed_id), _("The job is queued again.")
    )
    return redirect(url_for("jobs.failed"))
