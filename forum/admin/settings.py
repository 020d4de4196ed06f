"""Site settings: typed definitions, a short-lived per-process cache, and the update verb."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from .. import permissions
from ..db import transaction
from ..errors import Invalid
from ..extensions import db
from ..hooks import AppSlot
from ..i18n import lazy_gettext as _l
from ..moderation.models import ModAction
from ..permissions import Actor
from ..timeutil import utcnow
from .models import SiteSetting

log = logging.getLogger(__name__)

REGISTRATION_MODES = {
    "open": _l("Open: anyone may register"),
    "invite": _l("Invite-only: registration needs an invite code"),
    "closed": _l("Closed: nobody may register"),
}
RATE_RE = re.compile(r"^\d{1,5} per (second|minute|hour|day)$")
CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class Setting:
    key: str
    label: str
    kind: str  # "text", "int", "choice", "rate"
    default: Any
    config_key: str | None = None  # mirrored into app.config for the code that reads it
    hint: str = ""
    maximum: int = 100_000


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in [
        Setting("site_name", _l("Site name"), "text", None, "SITE_NAME", maximum=100),
        Setting(
            "site_description", _l("Description"), "text", None, "SITE_DESCRIPTION", maximum=500
        ),
        Setting("registration", _l("Registration"), "choice", "open"),
        Setting(
            "approval_threshold",
            _l("Approval queue for new accounts"),
            "int",
            0,
            hint=_l(
                "A new account's first N posts wait for a sysop's approval (0: off). "
                "Each SIG can override it."
            ),
            maximum=1000,
        ),
        Setting(
            "auto_hide_threshold",
            _l("Auto-hide after flags"),
            "int",
            3,
            hint=_l("Hide a post until reviewed once this many trusted members flag it (0: off)."),
            maximum=1000,
        ),
        Setting(
            "trust_min_posts",
            _l("Trusted flaggers' minimum posts"),
            "int",
            10,
            hint=_l("Members with at least this many visible posts count as trusted flaggers."),
            maximum=1_000_000,
        ),
        Setting(
            "mention_limit",
            _l("Mentions per post"),
            "int",
            None,
            "MENTIONS_PER_POST",
            hint=_l(
                "A post may mention, and so notify, at most this many members; a post with "
                "more is refused with a clear error (0: no mentions)."
            ),
            maximum=1000,
        ),
        Setting(
            "mention_limit_sysop",
            _l("Mentions per post by sysops"),
            "int",
            None,
            "MENTIONS_PER_POST_SYSOP",
            hint=_l("The same limit for the sysops of the SIG posted in (and the global sysop)."),
            maximum=1000,
        ),
        Setting(
            "post_rate_limit",
            _l("Posting rate limit"),
            "rate",
            None,
            "RATELIMIT_POST",
            hint=_l('Per member, e.g. "20 per minute".'),
        ),
        Setting(
            "register_rate_limit",
            _l("Registration rate limit"),
            "rate",
            None,
            "RATELIMIT_REGISTER",
            hint=_l('Per address, e.g. "5 per hour".'),
        ),
    ]
}

# (when read, values) of this process's last read; the configured values, by setting.
_CACHE: AppSlot[tuple[float, dict[str, Any]]] = AppSlot("forum.site_settings")
_DEFAULTS: AppSlot[dict[str, Any]] = AppSlot("forum.site_settings_defaults")


def init_app(app: Flask) -> None:
    # Remember the configured values: a setting without a row falls back to them.
    _DEFAULTS.set(
        app,
        {
            s.key: app.config.get(s.config_key) if s.config_key else s.default
            for s in SETTINGS.values()
        },
    )

    @app.before_request
    def apply_settings() -> None:
        if request.endpoint == "static":
            return
        values = current()
        for s in SETTINGS.values():
            if s.config_key:
                app.config[s.config_key] = values[s.key]


def current() -> dict[str, Any]:
    """Every setting's value; read from the database at most every few seconds per process."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    cached = _CACHE.get(app)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    values = dict(_DEFAULTS.require(app))
    try:
        rows = list(db.session.scalars(select(SiteSetting)))
    except SQLAlchemyError as exc:
        # The database is away: keep serving with what we had (health checks, the 503 page),
        # and ask again in CACHE_SECONDS, not on every request of the outage. One line: the
        # request's own 503 says the rest.
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0][:200]
        log.warning("site settings unavailable (%s); using the last known values", first)
        db.session.rollback()
        known = cached[1] if cached is not None else values
        _CACHE.set(app, (time.monotonic(), known))
        return known
    for row in rows:
        setting = SETTINGS.get(row.key)
        if setting is not None:
            values[row.key] = _parse(setting, row.value)
    _CACHE.set(app, (time.monotonic(), values))
    return values


def get(key: str) -> Any:
    return current()[key]


def forget() -> None:
    _CACHE.pop()


def _parse(setting: Setting, raw: str) -> Any:
    if setting.kind == "int":
        try:
            return int(raw)
        except ValueError:
            return setting.default
    return raw


def _check(setting: Setting, value: Any) -> str:
    text = str(value if value is not None else "").strip()
    if setting.kind == "int":
        if not text.isdigit() or int(text) > setting.maximum:
            raise Invalid(
                setting.key,
                _l(
                    "Enter a whole number from 0 to %(maximum)s.",
                    maximum=format(setting.maximum, ","),
                ),
            )
        return str(int(text))
    if setting.kind == "choice":
        if text not in REGISTRATION_MODES:
            raise Invalid(setting.key, _l("Choose open, invite-only or closed."))
        return text
    if setting.kind == "rate":
        if not RATE_RE.match(text):
            raise Invalid(
                setting.key, _l('Write it like "20 per minute" (second, minute, hour, day).')
            )
        return text
    if not text or len(text) > setting.maximum:
        raise Invalid(setting.key, _l("Use 1 to %(maximum)s characters.", maximum=setting.maximum))
    return text


def update_settings(actor: Actor, changes: dict[str, Any]) -> dict[str, Any]:
    """The global sysop changes site settings; each change is logged."""
    permissions.require_global_sysop(actor)
    assert actor is not None
    unknown = set(changes) - set(SETTINGS)
    if unknown:
        raise Invalid(None, _l("Unknown setting: %(names)s.", names=", ".join(sorted(unknown))))
    checked = {key: _check(SETTINGS[key], value) for key, value in changes.items()}
    before = current()
    with transaction() as session:
        rows = {r.key: r for r in session.scalars(select(SiteSetting))}
        for key, value in checked.items():
            if str(before[key]) == value:
                continue
            row = rows.get(key)
            if row is None:
                session.add(SiteSetting(key=key, value=value, updated_by_id=actor.id))
            else:
                row.value = value
                row.updated_at = utcnow()
                row.updated_by_id = actor.id
            session.add(
                ModAction(
                    actor_id=actor.id,
                    action="change_setting",
                    details=f"{SETTINGS[key].label}: {before[key]} → {value}"[:500],
                )
            )
    forget()
    return current()
