"""Trust level verbs: the review that raises members (and lowers a regular who no longer
qualifies), and the sysop setting a level by hand.

Thresholds are site settings (forum/settings.py, TRUST_SETTINGS); the limits a level lifts are
asked of forum.permissions. A level set by hand is locked: no review changes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select

from .. import events, jobs, permissions, settings
from ..accounts.models import ROLE_MEMBER, TL_BASIC, TL_MEMBER, TL_NEW, TL_REGULAR, User
from ..db import is_valid_id, transaction
from ..errors import Invalid, NotFound
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..moderation.common import clean_reason
from ..moderation.models import ModAction
from ..permissions import Actor
from ..pulse.models import MemberVisit
from ..timeutil import utcnow
from .stats import Stats, gather

# A regular stays one for at least this long before the review may lower them (Discourse's
# tl3_promotion_min_duration), so a quiet fortnight does not cost the level at once.
REGULAR_GRACE = timedelta(days=14)
BATCH = 200
# The levels as the moderation log names them (its details are not translated).
LOG_NAMES = {TL_NEW: "new", TL_BASIC: "basic", TL_MEMBER: "member", TL_REGULAR: "regular"}


@dataclass(frozen=True)
class Thresholds:
    basic_topics: int
    basic_seconds: int
    basic_days: int
    member_replied: int
    member_days_visited: int
    member_flag_days: int
    regular_window: int
    regular_days_visited: int
    regular_posts: int
    regular_topics: int

    @classmethod
    def now(cls) -> Thresholds:
        g = settings.get_int
        return cls(
            basic_topics=g("trust_basic_topics"),
            basic_seconds=g("trust_basic_minutes") * 60,
            basic_days=g("trust_basic_days"),
            member_replied=g("trust_member_replied"),
            member_days_visited=g("trust_member_days_visited"),
            member_flag_days=g("trust_member_flag_days"),
            regular_window=max(1, g("trust_regular_window")),
            regular_days_visited=g("trust_regular_days_visited"),
            regular_posts=g("trust_regular_posts"),
            regular_topics=g("trust_regular_topics"),
        )


def earned_level(user: User, stats: Stats, rules: Thresholds, now: datetime | None = None) -> int:
    """The level the member's record earns now: each level needs the one below it. A regular
    who no longer qualifies goes back to member only after REGULAR_GRACE as a regular; no other
    level is ever lowered by the review."""
    now = now or utcnow()
    current = int(user.trust_level or TL_NEW)
    created = user.created_at or now
    basic = (
        stats.topics_read >= rules.basic_topics
        and stats.read_seconds >= rules.basic_seconds
        and now - created >= timedelta(days=rules.basic_days)
    )
    member = (
        stats.replied_posts >= rules.member_replied
        and stats.days_visited >= rules.member_days_visited
        and stats.upheld_flags == 0
    )
    regular = (
        stats.recent_days_visited >= rules.regular_days_visited
        and stats.recent_posts >= rules.regular_posts
        and stats.recent_topics_read >= rules.regular_topics
        and stats.recent_upheld_flags == 0
    )
    earned = TL_NEW
    if current >= TL_BASIC or basic:
        earned = TL_BASIC
        if current >= TL_MEMBER or member:
            earned = TL_MEMBER
            if regular:
                earned = TL_REGULAR
    if current == TL_REGULAR and earned < TL_REGULAR:
        since = user.trust_changed_at or created
        return TL_REGULAR if now - since < REGULAR_GRACE else TL_MEMBER
    return max(earned, min(current, TL_MEMBER))


def _apply(user: User, level: int, actor_id: int | None, now: datetime) -> None:
    old = int(user.trust_level or TL_NEW)
    user.trust_level = level
    user.trust_changed_at = now
    events.publish(
        events.TrustLevelChanged(user_id=user.id, old_level=old, new_level=level, actor_id=actor_id)
    )


def review_members(user_ids: Sequence[int], now: datetime | None = None) -> dict[int, int]:
    """Raise (or lower, a regular) these members to the level their record earns; locked
    levels, banned members and global sysops stay as they are. {user id: new level} of those
    that changed."""
    now = now or utcnow()
    rules = Thresholds.now()
    changed: dict[int, int] = {}
    ids = sorted(set(user_ids))
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        stats = gather(
            chunk, now, flag_days=rules.member_flag_days, window_days=rules.regular_window
        )
        with transaction() as session:
            users = session.scalars(
                select(User).where(
                    User.id.in_(chunk),
                    User.trust_locked.is_(False),
                    User.banned_at.is_(None),
                    User.role == ROLE_MEMBER,
                )
            )
            for user in users:
                level = earned_level(user, stats[user.id], rules, now)
                if level != user.trust_level:
                    old = int(user.trust_level or TL_NEW)
                    _apply(user, level, None, now)
                    # In the log as the forum's own doing (no sysop), on the member's history.
                    session.add(
                        ModAction(
                            actor_id=None,
                            action="review_trust_level",
                            target_user_id=user.id,
                            details=f"{LOG_NAMES[old]} → {LOG_NAMES[level]}",
                            params={"from": old, "to": level},
                        )
                    )
                    changed[user.id] = level
    return changed


def review_new_member(user_id: int) -> bool:
    """After a new account read something: make it basic at once if it has done all that
    takes (one query of its reading; nothing for members past "new")."""
    user = db.session.get(User, user_id)
    if (
        user is None
        or user.trust_level != TL_NEW
        or user.trust_locked
        or not permissions.new_account_limits(user)
        or permissions.basic_requirements_missing(user)
    ):
        return False
    return bool(review_members([user_id]))


@jobs.periodic(jobs.crontab(minute=f"*/{permissions.REVIEW_EVERY_MINUTES}"))
def review_active_members() -> None:
    """Every few minutes: review the members seen since yesterday (who may have earned a level)
    and every regular (who may have stopped earning theirs)."""
    now = utcnow()
    seen = exists().where(
        MemberVisit.user_id == User.id, MemberVisit.day >= (now - timedelta(days=1)).date()
    )
    ids = list(
        db.session.scalars(
            select(User.id).where(
                User.trust_locked.is_(False),
                User.banned_at.is_(None),
                User.role == ROLE_MEMBER,
                (User.trust_level == TL_REGULAR) | seen,
            )
        )
    )
    review_members(ids, now)


def _target(user_id: int) -> User:
    user = db.session.get(User, user_id) if is_valid_id(user_id) else None
    if user is None:
        raise NotFound(_l("No such member."))
    return user


def set_trust_level(
    actor: Actor, user_id: int, level: int, *, locked: bool = True, reason: str = ""
) -> User:
    """The sysop sets a member's trust level by hand, locked (no review changes it) or not (the
    review goes on from there; a level is never lowered by it but a regular's). Logged."""
    target = _target(user_id)
    permissions.require_set_trust_level(actor, target)
    assert actor is not None
    if level not in permissions.TRUST_LEVEL_NAMES:
        raise Invalid("level", _l("Choose a trust level."))
    reason = clean_reason(reason)
    old, was_locked = int(target.trust_level or TL_NEW), bool(target.trust_locked)
    if old == level and was_locked == locked:
        return target
    now = utcnow()
    with transaction() as session:
        if old != level:
            _apply(target, level, actor.id, now)
        target.trust_locked = locked
        details = f"{LOG_NAMES[old]} → {LOG_NAMES[level]}" + (" (locked)" if locked else "")
        session.add(
            ModAction(
                actor_id=actor.id,
                action="set_trust_level",
                target_user_id=target.id,
                reason=reason,
                details=details[:500],
                params={"from": old, "to": level, "locked": locked},
            )
        )
    return target
