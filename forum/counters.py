"""The stored counters and their rules, in one place: verbs call these in their transaction,
and `flask forum recount` (recount_all) rebuilds every counter from the rows by the same rules.

What each counts (a post "readers see" is permissions.public_posts_clause(): not pending, not
hidden, not deleted; a topic is "live" while it is not deleted):
- a topic: `post_count`, `last_post_number`, `last_posted_at` and `last_post_user_id` follow the
  posts readers see; `highest_post_number` every post ever numbered in it (never reused);
- a SIG: `topic_count` its live topics with a post readers see, `post_count` those topics' posts
  readers see, `last_topic_id` and `last_posted_at` the newest of them, `member_count` its
  memberships;
- a member: `post_count` their posts readers see in live topics, `topic_count` their live topics
  with a post readers see.

Writers lock counter rows in one order (forum.db.lock_for_write): topics, then SIGs, then members.
A new post moves the counters by increments (count_new_post); the rarer verbs that change which
posts are seen recount from the rows (recount_topic, recount_members). An increment is written
in SQL (`n = n + delta`) through the unit of work (_add); moves of one counter in one transaction
add up.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, case, func, inspect, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute

from . import permissions
from .accounts.models import User
from .db import lock_for_write, transaction
from .extensions import db
from .sigs.models import Membership, Sig
from .topics.models import Post, Topic


# --- a new post: increments -----------------------------------------------------------------
def count_new_post(post: Post, topic: Topic, sig: Sig, author: User) -> None:
    """Count a post just added to `topic` (the first one when `post.number` is 1), in its
    transaction. The topic must be locked and read afresh (lock_for_write) or new: its
    counters are set from what it holds. The SIG's and the author's move by SQL increments,
    so they need no read first; the SIG's newest topic only moves forward (a writer in another
    topic of the SIG that commits later with an earlier time must not take the place back)."""
    topic.highest_post_number = max(topic.highest_post_number or 0, post.number)
    if not post.is_public:
        return  # numbered, but counted once it is approved (recount_topic)
    new_topic = post.number == 1
    topic.post_count = (topic.post_count or 0) + 1
    topic.last_post_number = post.number
    topic.last_posted_at = post.created_at
    topic.last_post_user_id = post.user_id
    newer = or_(Sig.last_posted_at.is_(None), Sig.last_posted_at <= post.created_at)
    _add(sig, Sig.post_count, 1)
    sig.last_topic_id = case((newer, topic.id), else_=Sig.last_topic_id)
    sig.last_posted_at = case((newer, post.created_at), else_=Sig.last_posted_at)
    _add(author, User.post_count, 1)
    if new_topic:
        _add(sig, Sig.topic_count, 1)
        _add(author, User.topic_count, 1)


def count_member_posts(user_id: int | None, delta: int) -> None:
    """Move a member's post counter when one of their posts is hidden, deleted or restored."""
    author = db.session.get(User, user_id) if user_id is not None and delta else None
    if author is not None:
        _add(author, User.post_count, delta)


def count_member_topics(user_id: int | None, delta: int) -> None:
    """Move a member's topic counter when a topic of theirs appears or goes (a topic merged
    away; recount_topic moves it when readers come to see a post of the topic, or none)."""
    author = db.session.get(User, user_id) if user_id is not None and delta else None
    if author is not None:
        _add(author, User.topic_count, delta)


def count_sig_members(sig: Sig, delta: int) -> None:
    """A membership of this SIG was added (+1) or removed (-1)."""
    _add(sig, Sig.member_count, delta)


def _add(obj: Any, counter: InstrumentedAttribute[int], delta: int) -> None:
    """Move a stored counter by `delta` in SQL, through the unit of work: the next flush writes
    `SET n = n + delta`, so no read comes first and no writer in another transaction is
    overwritten; after it the attribute is expired, and the object reads the row's value.

    A counter that already holds a move not yet flushed is flushed first: a second pending
    `n + delta` would replace the first (a verb that hid a member's posts in a loop counted one
    of them). Flushing only then keeps a single move (a reply) at no statement of its own.
    Adding to the pending expression instead would read SQL back out of the object and grow
    the statement by a term a move; an ORM-enabled UPDATE a move would cost every reply a
    statement, and set the loaded object by evaluating `n + delta` on what it had loaded, which
    another writer may have moved since."""
    if inspect(obj).attrs[counter.key].history.has_changes():
        db.session.flush()
    setattr(obj, counter.key, counter + delta)


# --- recounts from the rows -----------------------------------------------------------------
def recount_topic(topic: Topic, sig: Sig) -> None:
    """Recompute a topic's counters from its posts, then its SIG's, in the caller's transaction
    (for the verbs that change which posts readers see: delete, restore, hide, approve, move,
    split, merge). A live topic whose posts readers see went to none, or came from none, moves
    its starter's topic counter; a topic deleted or restored with it is its verb's to count
    (recount_authors)."""
    lock_for_write(Topic, topic.id)
    was_seen = topic.post_count > 0
    _recount_topic(topic)
    db.session.flush()
    recount_sig(sig)
    seen = topic.post_count > 0
    if seen != was_seen and not topic.is_deleted:
        count_member_topics(topic.user_id, +1 if seen else -1)


def recount_sig(sig: Sig) -> None:
    """Recompute a SIG's topic and post counters and newest topic from its topics."""
    lock_for_write(Sig, sig.id)
    _recount_sig(sig)


def recount_members(user_ids: Iterable[int | None]) -> None:
    """Rebuild these members' post and topic counters, in the caller's transaction (for verbs
    that take many posts out of sight at once, such as deleting a whole topic)."""
    ids = {user_id for user_id in user_ids if user_id}
    if ids:
        db.session.execute(
            update(User)
            .where(User.id.in_(ids))
            .values(**_member_counts())
            .execution_options(synchronize_session="fetch")
        )


def recount_authors(topic: Topic) -> None:
    """Rebuild the counters of everyone a topic counts towards (its starter and its posts'
    authors), for verbs that take a whole topic out of sight or bring it back."""
    authors = set(db.session.scalars(select(Post.user_id).where(Post.topic_id == topic.id)))
    recount_members(authors | {topic.user_id})


def recount_all() -> None:
    """Rebuild every stored counter from the rows (`flask forum recount`)."""
    with transaction() as session:
        # Rebuild from the rows, never from what this session remembers of them.
        session.expire_all()
        for topic in session.scalars(select(Topic)):
            _recount_topic(topic)
        session.flush()
        for sig in session.scalars(select(Sig)):
            _recount_sig(sig)
            sig.member_count = (
                session.scalar(select(func.count(Membership.id)).where(Membership.sig_id == sig.id))
                or 0
            )
        session.execute(update(User).values(**_member_counts()))


def _recount_topic(topic: Topic) -> None:
    session = db.session
    session.flush()
    count, last_number, last_at = session.execute(
        select(func.count(Post.id), func.max(Post.number), func.max(Post.created_at)).where(
            Post.topic_id == topic.id, permissions.public_posts_clause()
        )
    ).one()
    topic.post_count = count or 0
    topic.last_post_number = last_number or 0
    topic.highest_post_number = max(
        topic.highest_post_number or 0,
        session.scalar(select(func.max(Post.number)).where(Post.topic_id == topic.id)) or 0,
    )
    if last_at is not None:
        topic.last_posted_at = last_at
        topic.last_post_user_id = session.scalar(
            select(Post.user_id).where(Post.topic_id == topic.id, Post.number == last_number)
        )


def _recount_sig(sig: Sig) -> None:
    """From its topics' counters: recount those first."""
    session = db.session
    session.flush()
    live = and_(Topic.sig_id == sig.id, Topic.deleted_at.is_(None), Topic.post_count > 0)
    topics, posts = session.execute(
        select(func.count(Topic.id), func.coalesce(func.sum(Topic.post_count), 0)).where(live)
    ).one()
    sig.topic_count = topics or 0
    sig.post_count = posts or 0
    newest = session.execute(
        select(Topic.id, Topic.last_posted_at)
        .where(live)
        .order_by(Topic.last_posted_at.desc())
        .limit(1)
    ).first()
    sig.last_topic_id = newest[0] if newest else None
    sig.last_posted_at = newest[1] if newest else None


def _member_counts() -> dict[str, Any]:
    """A member counts the posts readers can see in topics that are not deleted, and the
    topics with at least one such post."""
    live_topic = Topic.deleted_at.is_(None)
    return {
        "post_count": select(func.count(Post.id))
        .join(Topic, Topic.id == Post.topic_id)
        .where(Post.user_id == User.id, live_topic, permissions.public_posts_clause())
        .scalar_subquery(),
        "topic_count": select(func.count(Topic.id))
        .where(Topic.user_id == User.id, live_topic, Topic.post_count > 0)
        .scalar_subquery(),
    }
