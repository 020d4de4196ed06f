"""What the sysops see of a member's trust level: on their profile, and with its progress on
the member's moderation page."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from .. import permissions
from ..accounts.models import TL_REGULAR, User
from ..timeutil import utcnow
from .services import Thresholds
from .stats import Stats, gather


@dataclass(frozen=True)
class TrustCard:
    level: int
    name: str
    locked: bool
    changed_at: datetime | None
    can_set: bool  # the viewer may set it by hand
    stats: Stats | None = None  # with progress: what the review counts
    rules: Thresholds | None = None
    account_days: int = 0


def trust_card(current: Any, member: User, *, progress: bool = False) -> TrustCard | None:
    """The member's level for a viewer who may see it (sysops), else None; with `progress`,
    the measures the review counts (a few grouped queries, for the moderation page)."""
    viewer = permissions.actor(current)
    if not permissions.can_see_trust_level(viewer):
        return None
    level = TL_REGULAR if member.is_global_sysop else int(member.trust_level or 0)
    card = TrustCard(
        level=level,
        name=str(permissions.TRUST_LEVEL_NAMES[level]),
        locked=bool(member.trust_locked),
        changed_at=member.trust_changed_at,
        can_set=permissions.trust_level_problem(viewer, member) is None,
    )
    if not progress or member.is_global_sysop:
        return card
    rules = Thresholds.now()
    now = utcnow()
    stats = gather(
        [member.id], now, flag_days=rules.member_flag_days, window_days=rules.regular_window
    )[member.id]
    created = member.created_at or now
    return replace(card, stats=stats, rules=rules, account_days=(now - created).days)
