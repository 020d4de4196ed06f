"""Site settings: what the global sysop changes from /admin without a restart.

Each setting is typed (text, a whole number, a choice, a rate limit) and has a default: the
configured value (instance/config.py, FORUM_* variables) when it mirrors one, else its own.
`get(key)` reads one on demand. This process keeps what it read for SETTINGS_CACHE_SECONDS
(10 s by default): a change saved here is seen at once (`forget()`), one saved by another
process within that time. Nothing is copied into app.config.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import ForeignKey, String, Text, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from . import blocklist
from .errors import Invalid
from .extensions import db
from .hooks import AppSlot
from .i18n import lazy_gettext as _l
from .i18n import lazy_number
from .timeutil import UTCDateTime, utcnow

log = logging.getLogger(__name__)

Value = str | int | None
"""A setting's value: text (text, choice, rate), a whole number (int), or None when neither a
row nor the configuration gives one."""

DEFAULT_CACHE_SECONDS = 10.0


class SiteSetting(db.Model):  # type: ignore[name-defined,misc]
    """One setting; a missing row means the default."""

    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Text: the blocked-domain and address-range lists run to thousands of lines.
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )


@dataclass(frozen=True)
class Choice:
    """One value of a choice setting: the settings page's label, which explains it, and the
    short name sentences and the moderation log use ("Registration: open → invite-only")."""

    label: Any
    short: Any


REGISTRATION_MODES = {
    "open": Choice(_l("Open: anyone may register"), _l("open")),
    "invite": Choice(_l("Invite-only: registration needs an invite code"), _l("invite-only")),
    "closed": Choice(_l("Closed: nobody may register"), _l("closed")),
}
RATE_RE = re.compile(r"^\d{1,5} per (second|minute|hour|day)$")
# The reactions members choose from under every post (forum.reactions), in this order.
DEFAULT_REACTIONS = "\U0001f44d \u2764\ufe0f \U0001f602 \U0001f62e \U0001f64f"
MAX_REACTIONS = 8


@dataclass(frozen=True)
class Setting:
    key: str
    label: str
    kind: str  # "text", "int", "choice", "rate", "bool", "domains", "networks", "emoji"
    default: Any
    config_key: str | None = None  # app.config's key for the default (instance/config.py)
    hint: str = ""
    maximum: int = 100_000
    # A choice's values (kind "choice"): each with the settings page's long label and the short
    # name the moderation log gives it.
    choices: dict[str, Choice] | None = field(default=None, hash=False, compare=False)


def _trust(key: str, label: Any, default: int, hint: Any, maximum: int = 100_000) -> Setting:
    return Setting(key, label, "int", default, hint=hint, maximum=maximum)


# Trust levels (forum.trust reviews them; forum.permissions applies the limits of "new").
TRUST_SETTINGS = [
    _trust(
        "trust_basic_topics",
        _l("Basic: topics read"),
        5,
        _l("A new account becomes basic once it has opened and read this many topics…"),
    ),
    _trust(
        "trust_basic_minutes",
        _l("Basic: minutes reading"),
        10,
        _l(
            "…spent this many minutes reading (time between its pages, a pause of more than "
            "five minutes not counted)…"
        ),
    ),
    _trust(
        "trust_basic_days",
        _l("Basic: days since joining"),
        1,
        _l("…and has been registered this many days."),
        maximum=3650,
    ),
    _trust(
        "trust_member_replied",
        _l("Member: posts others replied to"),
        3,
        _l("A basic account becomes a member once this many of its posts got replies…"),
    ),
    _trust(
        "trust_member_days_visited",
        _l("Member: days visited"),
        10,
        _l("…it visited on this many days…"),
        maximum=3650,
    ),
    _trust(
        "trust_member_flag_days",
        _l("Member: days without upheld flags"),
        90,
        _l("…and no flag on its posts was upheld in this many days."),
        maximum=3650,
    ),
    _trust(
        "trust_regular_window",
        _l("Regular: days looked at"),
        100,
        _l(
            "A member becomes a regular by what they did in this many last days, and goes back "
            "to member when they no longer do (not within two weeks of becoming one)…"
        ),
        maximum=3650,
    ),
    _trust(
        "trust_regular_days_visited",
        _l("Regular: days visited"),
        50,
        _l("…visited on this many of those days…"),
        maximum=3650,
    ),
    _trust(
        "trust_regular_posts",
        _l("Regular: posts written"),
        10,
        _l("…wrote this many posts that are shown…"),
    ),
    _trust(
        "trust_regular_topics",
        _l("Regular: topics read"),
        25,
        _l("…read this many topics, and had no flag on their posts upheld."),
    ),
    _trust(
        "new_max_links",
        _l("New accounts: links per post"),
        2,
        _l("Until a new account becomes basic, a post of theirs may hold this many links."),
        maximum=1000,
    ),
    _trust(
        "new_max_mentions",
        _l("New accounts: mentions per post"),
        2,
        _l("…mention this many members…"),
        maximum=1000,
    ),
    _trust(
        "new_max_images",
        _l("New accounts: images per post"),
        0,
        _l("…hold this many uploaded images…"),
        maximum=1000,
    ),
    _trust(
        "new_posts_per_day",
        _l("New accounts: posts a day"),
        10,
        _l("…and they write this many posts (topics and replies) in 24 hours…"),
        maximum=10_000,
    ),
    _trust(
        "new_topics_per_day",
        _l("New accounts: new topics a day"),
        3,
        _l("…of which this many new topics. Private mail waits until they are basic."),
        maximum=10_000,
    ),
]


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in [
        Setting("site_name", _l("Site name"), "text", None, "SITE_NAME", maximum=100),
        Setting(
            "site_description", _l("Description"), "text", None, "SITE_DESCRIPTION", maximum=500
        ),
        Setting("registration", _l("Registration"), "choice", "open", choices=REGISTRATION_MODES),
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
            hint=_l(
                "Hide a post until reviewed once its flags weigh this much (0: off). A flag "
                "weighs by its flagger's trust level: basic 1, member 1.5, regular 2; a new "
                "account's flag counts for nothing."
            ),
            maximum=1000,
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
            hint=_l("Per member, in Flask-Limiter’s notation, in English: “20 per minute”."),
        ),
        Setting(
            "account_approval",
            _l("Sysop approval of new accounts"),
            "bool",
            0,
            hint=_l(
                "New accounts wait in the console's list until a sysop approves them; until "
                "then they can log in and read, but not post."
            ),
        ),
        Setting(
            "sysops_require_2fa",
            _l("Sysops must use two-factor sign-in"),
            "bool",
            0,
            hint=_l(
                "A sysop (of any SIG, or of the site) without two-factor sign-in is sent to set "
                "it up before using the console or the moderation pages."
            ),
        ),
        Setting(
            "block_disposable",
            _l("Refuse disposable email addresses"),
            "bool",
            0,
            hint=_l(
                "Refuse registration from the throwaway-mail services on the maintained "
                "disposable-email-domains list (about %(count)s domains).",
                count=lazy_number(10000),
            ),
        ),
        Setting(
            "blocked_email_domains",
            _l("Blocked email domains"),
            "domains",
            "",
            hint=_l(
                "One domain a line; its subdomains are blocked too. Addresses there can neither "
                "register, log in nor post. Lines starting with # are comments."
            ),
        ),
        Setting(
            "blocked_ip_ranges",
            _l("Blocked address ranges"),
            "networks",
            "",
            hint=_l(
                "One IPv4 or IPv6 address or range (CIDR, like 192.0.2.0/24 or 2001:db8::/32) a "
                "line. Nobody can register, log in or post from there; the sysop is never "
                "blocked."
            ),
        ),
        Setting(
            "register_rate_limit",
            _l("Registration rate limit"),
            "rate",
            None,
            "RATELIMIT_REGISTER",
            hint=_l("Per address, in Flask-Limiter’s notation, in English: “5 per hour”."),
        ),
        Setting(
            "mail_max_participants",
            _l("Members per private conversation"),
            "int",
            None,
            "MAIL_MAX_PARTICIPANTS",
            hint=_l("The most members one private conversation holds, its starter included."),
            maximum=1000,
        ),
        Setting(
            "mail_rate_limit",
            _l("Private mail rate limit"),
            "rate",
            None,
            "RATELIMIT_MAIL",
            hint=_l(
                "Private messages per member, in Flask-Limiter’s notation, in English: "
                "“10 per minute”."
            ),
        ),
        *TRUST_SETTINGS,
        Setting(
            "webhook_private_targets",
            _l("Webhooks to private addresses"),
            "bool",
            None,
            "WEBHOOK_ALLOW_PRIVATE_TARGETS",
            hint=_l(
                "Let webhooks deliver to loopback and private-network addresses (such as "
                "127.0.0.1 or 10.0.0.0/8). Off, only public addresses are called; link-local "
                "and cloud metadata addresses never are."
            ),
        ),
        Setting(
            "webhook_failure_limit",
            _l("Webhook failures before disabling"),
            "int",
            None,
            "WEBHOOK_FAILURE_LIMIT",
            hint=_l(
                "A webhook whose deliveries fail this many times in a row is disabled and its "
                "owner notified."
            ),
            maximum=1000,
        ),
        Setting(
            "bounce_threshold",
            _l("Bounces before mail stops"),
            "int",
            3,
            hint=_l(
                "After this many bounced mails (or one spam complaint) the forum stops mailing "
                "an address until its member turns mail back on (0: never stop)."
            ),
            maximum=100,
        ),
        Setting(
            "digest_unvisited_limit",
            _l("Digests without a visit"),
            "int",
            4,
            hint=_l(
                "A member who does not visit gets at most this many digests in a row; the last "
                "one says so (0: no limit)."
            ),
            maximum=1000,
        ),
        Setting(
            "reactions",
            _l("Reactions"),
            "emoji",
            DEFAULT_REACTIONS,
            hint=_l(
                "The emoji members react to posts with, separated by spaces (1 to 8). "
                "Reactions with an emoji taken off the list stay stored but are not shown."
            ),
            maximum=MAX_REACTIONS,
        ),
        Setting(
            "upload_max_mb",
            _l("Largest upload (MB)"),
            "int",
            None,
            "UPLOAD_MAX_MB",
            hint=_l("The largest file a member may attach to a post or put in a library."),
            maximum=1024,
        ),
        Setting(
            "upload_quota_member_mb",
            _l("Uploads per member (MB)"),
            "int",
            None,
            "UPLOAD_QUOTA_MEMBER_MB",
            hint=_l("All of one member's uploads together may not pass this (0: no limit)."),
            maximum=1_000_000,
        ),
        Setting(
            "upload_quota_sig_mb",
            _l("Uploads per SIG (MB)"),
            "int",
            None,
            "UPLOAD_QUOTA_SIG_MB",
            hint=_l(
                "All uploads into one SIG (its posts and its library) may not pass this "
                "(0: no limit)."
            ),
            maximum=10_000_000,
        ),
        Setting(
            "upload_types",
            _l("File types members may upload"),
            "text",
            None,
            "UPLOAD_TYPES",
            hint=_l(
                "Types found in the files' bytes (not their names), separated by spaces: "
                "image/png image/jpeg image/gif image/webp application/pdf application/zip "
                "application/gzip application/x-7z-compressed application/x-tar text/plain. "
                "HTML, SVG and programs are never accepted."
            ),
            maximum=1000,
        ),
        Setting(
            "care_response_hours",
            _l("First response to a concern within (hours)"),
            "int",
            24,
            hint=_l(
                "A member's concern to the sysops is overdue after this many hours without an "
                "answer, and its sysops are told. Each SIG's sysops can set their own."
            ),
            maximum=24 * 365,
        ),
        Setting(
            "care_escalate_hours",
            _l("Escalate an unanswered concern after (hours)"),
            "int",
            48,
            hint=_l(
                "After this many hours without an answer the global sysop is told too. Each "
                "SIG's sysops can set their own."
            ),
            maximum=24 * 365,
        ),
        Setting(
            "care_page_minutes",
            _l("A page waits for a sysop (minutes)"),
            "int",
            3,
            hint=_l(
                "When no sysop on duty takes a member's page within this time, it becomes an "
                "open concern and the member is told."
            ),
            maximum=120,
        ),
        Setting(
            "care_pages_per_hour",
            _l("Pages per member and hour"),
            "int",
            3,
            hint=_l("How often one member may page the sysops on duty in an hour."),
            maximum=100,
        ),
        Setting(
            "care_duty_hours",
            _l("A sysop's duty lasts (hours)"),
            "int",
            8,
            hint=_l("A sysop on duty goes off duty by themselves after this many hours."),
            maximum=24 * 7,
        ),
    ]
}

# (when read, the stored values by key) of this process's last read.
_STORED: AppSlot[tuple[float, dict[str, Value]]] = AppSlot("forum.site_settings")


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]


def default(key: str) -> Value:
    """The setting's value when no row says otherwise: the configured one, if it mirrors one."""
    setting = SETTINGS[key]
    if setting.config_key:
        configured: Value = _app().config.get(setting.config_key)
        if setting.kind == "bool" and configured is not None:
            return 1 if configured else 0  # True/False in the configuration
        return configured
    value: Value = setting.default
    return value


def _stored(read: bool) -> dict[str, Value]:
    """The rows' values, from this process's cache while it is fresh (or `read` is False)."""
    app = _app()
    cached = _STORED.get(app)
    ttl = float(app.config.get("SETTINGS_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))
    if cached is not None and (not read or time.monotonic() - cached[0] < ttl):
        return cached[1]
    if not read:
        return {}
    try:
        rows = list(db.session.execute(select(SiteSetting.key, SiteSetting.value)))
    except SQLAlchemyError as exc:
        # The database is away: keep serving with what we had (health checks, the 503 page),
        # and ask again after the cache time, not on every request of the outage. One line:
        # the request's own 503 says the rest.
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0][:200]
        log.warning("site settings unavailable (%s); using the last known values", first)
        db.session.rollback()
        known = cached[1] if cached is not None else {}
        _STORED.set(app, (time.monotonic(), known))
        return known
    values = {key: _parse(SETTINGS[key], raw) for key, raw in rows if key in SETTINGS}
    _STORED.set(app, (time.monotonic(), values))
    return values


def get(key: str, *, read: bool = True) -> Value:
    """The setting's value (an int for whole numbers, else text), or its default.

    With `read=False` the database is not asked: what this process last read, else the default
    (pages that must not wait for the database, e.g. the 503 page)."""
    if key not in SETTINGS:
        raise KeyError(key)
    stored = _stored(read)
    return stored[key] if key in stored else default(key)


def get_int(key: str) -> int:
    """A whole-number setting; 0 when it has no value."""
    return int(get(key) or 0)


def current() -> dict[str, Value]:
    """Every setting's value, by key (the console's form)."""
    stored = _stored(True)
    return {key: stored[key] if key in stored else default(key) for key in SETTINGS}


def forget(app: Flask | None = None) -> None:
    """Drop this process's cache: the next read asks the database (after a save; tests)."""
    _STORED.pop(app)


def _parse(setting: Setting, raw: str) -> Value:
    if setting.kind == "bool":
        return 1 if raw == "1" else 0
    if setting.kind == "int":
        try:
            return int(raw)
        except ValueError:
            fallback: Value = setting.default
            return fallback
    return raw


def form_value(key: str, value: Value) -> str:
    """A setting's value as its form field shows it."""
    if SETTINGS[key].kind == "bool":
        return "1" if value else "0"
    return "" if value is None else str(value)


def _check_list(setting: Setting, text: str) -> str:
    parse = blocklist.parse_domains if setting.kind == "domains" else blocklist.parse_networks
    try:
        entries = parse(text)
    except blocklist.EntryError as exc:
        if exc.reason == "too many entries":
            raise Invalid(
                setting.key,
                _l(
                    "Keep the list to %(maximum)s entries.",
                    maximum=lazy_number(blocklist.MAX_ENTRIES),
                ),
            ) from exc
        if setting.kind == "domains":
            message = _l(
                "Line %(line)s, “%(entry)s”, is not a domain name (like example.com).",
                line=exc.line,
                entry=exc.entry[:80],
            )
        elif exc.reason == "blocks every address":
            message = _l(
                "Line %(line)s, “%(entry)s”, would block every address.",
                line=exc.line,
                entry=exc.entry[:80],
            )
        else:
            message = _l(
                "Line %(line)s, “%(entry)s”, is not an address or range (like 192.0.2.0/24 or "
                "2001:db8::/32).",
                line=exc.line,
                entry=exc.entry[:80],
            )
        raise Invalid(setting.key, message) from exc
    return "\n".join(entries)


def check(setting: Setting, value: object) -> str:
    """The value as stored, or Invalid(setting.key, …)."""
    if setting.kind in ("domains", "networks"):
        return _check_list(setting, str(value or ""))
    if setting.kind == "emoji":
        return _check_reactions(setting, str(value or ""))
    text = str(value if value is not None else "").strip()
    if setting.kind == "bool":
        if text not in ("0", "1", "True", "False", "on", ""):
            raise Invalid(setting.key, _l("Choose on or off."))
        return "1" if text in ("1", "True", "on") else "0"
    if setting.kind == "int":
        if not text.isdecimal() or int(text) > setting.maximum:
            raise Invalid(
                setting.key,
                _l(
                    "Enter a whole number from 0 to %(maximum)s.",
                    maximum=lazy_number(setting.maximum),
                ),
            )
        return str(int(text))
    if setting.kind == "choice":
        if text not in (setting.choices or {}):
            raise Invalid(setting.key, _l("Choose open, invite-only or closed."))
        return text
    if setting.kind == "rate":
        if not RATE_RE.match(text):
            raise Invalid(
                setting.key,
                _l(
                    "Write it in Flask-Limiter’s notation, in English: “20 per minute” "
                    "(second, minute, hour or day)."
                ),
            )
        return text
    if not text or len(text) > setting.maximum:
        raise Invalid(setting.key, _l("Use 1 to %(maximum)s characters.", maximum=setting.maximum))
    return text


def change_details(key: str, before: Value, after: str) -> str:
    """What the moderation log says of a change (a list: what was added and removed)."""
    setting = SETTINGS[key]
    if setting.kind in ("domains", "networks"):
        old, new = set(blocklist.lines(str(before or ""))), set(blocklist.lines(after))
        added, removed = sorted(new - old), sorted(old - new)
        text = f"{setting.label}: +{len(added)} −{len(removed)}"
        if added:
            text += " +" + ", ".join(added[:10])
        if removed:
            text += " −" + ", ".join(removed[:10])
        return text[:500]
    return f"{setting.label}: {form_value(key, before)} → {after}"[:500]


def change_params(key: str, before: Value, after: str) -> dict[str, Any]:
    """The same change as data, which the log says in the reader's language (a list: the
    first ten added and removed, and how many)."""
    setting = SETTINGS[key]
    if setting.kind in ("domains", "networks"):
        old, new = set(blocklist.lines(str(before or ""))), set(blocklist.lines(after))
        added, removed = sorted(new - old), sorted(old - new)
        return {
            "key": key,
            "added": added[:10],
            "removed": removed[:10],
            "added_count": len(added),
            "removed_count": len(removed),
        }
    return {"key": key, "before": form_value(key, before)[:200], "after": after[:200]}


def _is_emoji(text: str) -> bool:
    """One emoji as members see it: pictographs, with the joiners, variation selectors and
    skin-tone modifiers that build one (no letters, digits or punctuation)."""
    if not 1 <= len(text) <= 8:
        return False
    pictures = 0
    for char in text:
        if char in "\u200d\ufe0f\ufe0e":
            continue
        category = unicodedata.category(char)
        if category == "So":
            pictures += 1
        elif category != "Sk" and not 0x1F3FB <= ord(char) <= 0x1F3FF:
            return False
    return pictures > 0


def _check_reactions(setting: Setting, text: str) -> str:
    found: list[str] = []
    for item in text.split():
        if not _is_emoji(item):
            raise Invalid(setting.key, _l("“%(item)s” is not an emoji.", item=item[:20]))
        if item not in found:
            found.append(item)
    if not 1 <= len(found) <= setting.maximum:
        raise Invalid(
            setting.key,
            _l("Choose 1 to %(maximum)s emoji, separated by spaces.", maximum=setting.maximum),
        )
    return " ".join(found)


def reactions() -> list[str]:
    """The reactions members may choose now, in their order (the "reactions" setting)."""
    value = str(get("reactions") or DEFAULT_REACTIONS)
    return value.split() or DEFAULT_REACTIONS.split()


def blocklist_now() -> blocklist.Blocklist:
    """The matcher for the blocked domains and ranges as they are set now."""
    return blocklist.compile_lists(
        str(get("blocked_email_domains") or ""), str(get("blocked_ip_ranges") or "")
    )
