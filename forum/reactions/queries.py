"""Read models: a topic page's reaction counts (one query), who reacted to one post."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, case, func, lambda_stmt, select

from .. import permissions, settings
from ..accounts.models import User
from ..accounts.queries import iso
from ..extensions import db
from ..permissions import Actor
from ..sigs.models import Sig
from ..topics.models import Post, Topic
from .models import Reaction

# The names a who-reacted list shows per emoji; the count says how many there are in all.
NAMES_SHOWN = 100


@dataclass
class PostReactions:
    """One post's reactions as a page shows them: each offered emoji with its count (in the
    site's order), and the reader's own."""

    counts: list[tuple[str, int]]
    mine: str | None = None

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)

    def count(self, emoji: str) -> int:
        return next((n for e, n in self.counts if e == emoji), 0)

    def as_json(self) -> dict[str, Any]:
        return {
            "counts": [{"emoji": e, "count": n} for e, n in self.counts],
            "mine": self.mine,
            "total": self.total,
        }


def _counts_query() -> Any:
    mine = func.max(case((Reaction.user_id == bindparam("viewer_id"), 1), else_=0))
    return (
        select(Reaction.post_id, Reaction.emoji, func.count(), mine)
        .where(Reaction.post_id.in_(bindparam("post_ids", expanding=True)))
        .group_by(Reaction.post_id, Reaction.emoji)
    )


def page_reactions(viewer: Actor, post_ids: list[int]) -> dict[int, PostReactions]:
    """The reactions of these posts and the reader's own, in one query (a topic page's)."""
    offered = settings.reactions()
    found: dict[int, dict[str, int]] = {}
    mine: dict[int, str] = {}
    if post_ids:
        # Built once per process: every topic page runs it.
        statement = lambda_stmt(_counts_query, enable_tracking=False)
        rows = db.session.execute(
            statement,
            {"post_ids": list(post_ids), "viewer_id": viewer.id if viewer is not None else -1},
        )
        for post_id, emoji, count, is_mine in rows:
            found.setdefault(post_id, {})[emoji] = count
            if is_mine:
                mine[post_id] = emoji
    return {
        post_id: PostReactions(
            counts=[(e, found.get(post_id, {}).get(e, 0)) for e in offered],
            mine=mine.get(post_id) if mine.get(post_id) in offered else None,
        )
        for post_id in post_ids
    }


@dataclass
class ReactionGroup:
    emoji: str
    count: int
    names: list[str] = field(default_factory=list)
    mine: bool = False


@dataclass
class WhoReacted:
    post: Post
    topic: Topic
    sig: Sig
    groups: list[ReactionGroup]
    reactions: PostReactions
    can_react: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "post_id": self.post.id,
            **self.reactions.as_json(),
            "groups": [
                {"emoji": g.emoji, "count": g.count, "names": g.names, "mine": g.mine}
                for g in self.groups
            ],
            "can_react": self.can_react,
        }


def who_reacted(current: Any, post_id: int) -> WhoReacted:
    """Who reacted to a post, with what: for the no-JavaScript page and the names shown on
    hover or focus. NotFound for a post the reader may not read. Two queries beyond the post."""
    viewer = permissions.actor(current)
    post, topic, sig = permissions.get_post_topic_and_sig_for(viewer, post_id)
    offered = settings.reactions()
    groups = {e: ReactionGroup(e, 0) for e in offered}
    if post.is_public:
        counted = page_reactions(viewer, [post.id])[post.id]
        for emoji, count in counted.counts:
            groups[emoji].count = count
        ranked = (
            select(
                Reaction.emoji,
                User.username,
                func.row_number()
                .over(partition_by=Reaction.emoji, order_by=(Reaction.created_at, User.id))
                .label("rank"),
            )
            .join(User, User.id == Reaction.user_id)
            .where(Reaction.post_id == post.id, Reaction.emoji.in_(offered))
            .subquery()
        )
        for emoji, name in db.session.execute(
            select(ranked.c.emoji, ranked.c.username)
            .where(ranked.c.rank <= NAMES_SHOWN)
            .order_by(ranked.c.emoji, ranked.c.rank)
        ):
            groups[emoji].names.append(name)
        if counted.mine:
            groups[counted.mine].mine = True
    else:
        counted = PostReactions(counts=[(e, 0) for e in offered])
    return WhoReacted(
        post=post,
        topic=topic,
        sig=sig,
        groups=[g for g in groups.values() if g.count],
        reactions=counted,
        can_react=permissions.can_react(viewer, post, topic, sig),
    )


def account_reactions(user: User) -> list[dict[str, Any]]:
    """The member's reactions, for their data export (hooks.account_data)."""
    return [
        {"post_id": r.post_id, "emoji": r.emoji, "created_at": iso(r.created_at)}
        for r in db.session.scalars(
            select(Reaction)
            .where(Reaction.user_id == user.id)
            .order_by(Reaction.created_at, Reaction.post_id)
        )
    ]
