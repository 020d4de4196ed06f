"""Topic and post verbs: start a topic, reply, quote, edit, delete and restore, mark read.

Every verb follows the same steps: validate the input, load through the permission policy,
check the policy, change rows and counters in one transaction, publish an event.
"""

from __future__ import annotations

import re
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, bindparam, func, lambda_stmt, select, update

from .. import content, counters, duplicates, events, hooks, permissions
from ..accounts.former import former_label, is_former, not_former_clause
from ..accounts.models import User
from ..accounts.services import resolve_usernames
from ..db import is_valid_id, lock_for_write, read_columns, transaction, upsert
from ..errors import Duplicate, Forbidden, Invalid, require_at_most
from ..extensions import db
from ..hooks import Screening
from ..i18n import gettext, lazy_ngettext, lazy_number
from ..i18n import lazy_gettext as _l
from ..permissions import Actor
from ..sigs.models import Membership, Sig
from ..sigs.services import add_member_in_tx
from ..text import slugify
from ..timeutil import utcnow
from .models import POST_VISIBLE, Post, PostRevision, Topic, TopicRead


def screen_post(author: User, sig: Sig, text: str) -> Screening:
    """Decide whether a new post is shown at once or waits for approval.

    The moderation feature (word filter, approval queue for new accounts) plugs its rules in
    through `forum.moderation.screening`, which raises Invalid for blocked words.
    """
    return hooks.screen_post.get()(author, sig, text)


def _check_body(body: str) -> str:
    body = content.clean_text(body).strip()
    if not body:
        raise Invalid("body", _l("Write something first."))
    limit = current_app.config["MAX_POST_LENGTH"]
    if len(body) > limit:
        raise Invalid(
            "body",
            _l(
                "Posts are limited to %(limit)s characters; this one has %(length)s.",
                limit=lazy_number(limit),
                length=lazy_number(len(body)),
            ),
        )
    if content.quote_depth(body) > content.MAX_QUOTE_DEPTH:
        raise Invalid(
            "body",
            _l(
                "Quotes can nest %(depth)s deep; trim the oldest ones (the innermost) so "
                "that every word shows.",
                depth=content.MAX_QUOTE_DEPTH,
            ),
        )
    return body


def _check_title(title: str) -> str:
    title = " ".join(content.clean_text(title).split())
    limit = current_app.config["MAX_TITLE_LENGTH"]
    if len(title) < 3:
        raise Invalid("title", _l("Give the topic a title of at least 3 characters."))
    require_at_most("title", title, limit, "title")
    return title


def _cook(body: str, author: User, sig: Sig) -> content.Rendered:
    cooked = content.render(body, resolve_usernames, hooks.image_sizes.get())
    # A new account's limits first: their refusal says what lifts them.
    problem = permissions.new_account_content_problem(
        author, sig, links=cooked.links, mentions=len(cooked.mentions), images=len(cooked.files)
    )
    if problem:
        raise Invalid("body", problem)
    _check_mentions(cooked, author, sig)
    _check_quotes(cooked)
    return cooked


def mention_limit(author: Actor, sig: Sig | int) -> int:
    """How many members one post may mention, and so notify: a site setting, with a higher
    one for the sysops of the SIG (who may need to reach a team), a lower one for new
    accounts (forum.permissions.max_mentions_per_post)."""
    return permissions.max_mentions_per_post(author, sig)


def _check_mentions(cooked: content.Rendered, author: User, sig: Sig) -> None:
    """Refuse a post that mentions more members than the limit (as Discourse does), rather than
    notify some of them and silently not others."""
    limit = mention_limit(author, sig)
    count = len(cooked.mentions)
    if count <= limit:
        return
    if limit == 0:
        raise Invalid("body", _l("Mentions are turned off here: write the names without the @."))
    raise Invalid(
        "body",
        lazy_ngettext(
            "Sorry, you can only mention %(num)s member in a post; this one mentions "
            "%(count)s. Remove some of the @names (or write them without the @).",
            "Sorry, you can only mention %(num)s members in a post; this one mentions "
            "%(count)s. Remove some of the @names (or write them without the @).",
            limit,
            count=count,
        ),
    )


def _check_quotes(cooked: content.Rendered) -> None:
    """Each quoted post notifies its author: a post quotes a bounded number of posts, so that
    no post can page hundreds of members at once (the mention limit's reason)."""
    limit = int(current_app.config["QUOTES_PER_POST"])
    count = len(cooked.quoted_post_ids)
    if count > limit:
        raise Invalid(
            "body",
            lazy_ngettext(
                "Sorry, a post can quote %(num)s post at most; this one quotes %(count)s. "
                "Keep the quotes your answer needs.",
                "Sorry, a post can quote %(num)s posts at most; this one quotes %(count)s. "
                "Keep the quotes your answer needs.",
                limit,
                count=count,
            ),
        )


def _require_not_banned_now(actor: User) -> None:
    """The author's row, locked and read afresh in the write transaction (after the topic and
    the SIG, in lock order): a ban committed since the request checked standing (a spam cleanup
    while this post was being written) refuses the post instead of letting it in after it."""
    banned_at = db.session.scalar(
        select(User.banned_at).where(User.id == actor.id).with_for_update(key_share=True)
    )
    if banned_at is not None:
        raise Forbidden(_l("Your account is banned."))


def _refuse_repeated_reply(author_id: int, topic_id: int, body: str) -> None:
    """The double-submit rule (forum.duplicates) for a reply, under the topic's lock: the
    author's own post in this topic with this text within the window, found through
    ix_posts_user_created (user_id, created_at) or ix_posts_topic_created_cover (topic_id,
    created_at), whichever the planner picks: either reads only the window's rows. A
    lambda_stmt built once per process and run
    past the ORM, as the reply path's other reads: it costs a reply one short index read."""
    statement = lambda_stmt(
        lambda: (
            select(Post.id)
            .where(
                Post.user_id == bindparam("author_id"),
                Post.created_at >= bindparam("since"),
                Post.topic_id == bindparam("topic_id"),
                Post.body_raw == bindparam("body"),
                Post.deleted_at.is_(None),
            )
            .order_by(Post.created_at.desc())
            .limit(1)
        ),
        enable_tracking=False,
    )
    since = duplicates.since()
    if since is None:
        return
    params = {
        "author_id": author_id,
        "since": since,
        "topic_id": topic_id,
        "body": body,
    }
    post_id = read_columns(statement, params).scalar()
    if post_id is not None:
        post = db.session.get(Post, post_id)
        assert post is not None
        raise Duplicate(post)


def _refuse_repeated_topic(author_id: int, sig_id: int, title: str, body: str) -> None:
    """The double-submit rule for a new topic, under the SIG's lock: the author's own topic in
    this SIG with this title and first post within the window."""
    since = duplicates.since()
    if since is None:
        return
    topic = db.session.scalar(
        select(Topic)
        .join(Post, Post.topic_id == Topic.id)
        .where(
            Post.user_id == author_id,
            Post.created_at >= since,
            Post.number == 1,
            Post.body_raw == body,
            Post.deleted_at.is_(None),
            Topic.sig_id == sig_id,
            Topic.title == title,
            Topic.deleted_at.is_(None),
        )
        .order_by(Post.created_at.desc())
        .limit(1)
    )
    if topic is not None:
        raise Duplicate(topic)


def _add_post_in_tx(
    author: User,
    topic: Topic,
    sig: Sig,
    body: str,
    cooked: content.Rendered,
    screening: Screening,
    *,
    number: int,
    now: datetime,
    reply_to_post_id: int | None = None,
) -> Post:
    """Write a new post in its transaction (the topic and the SIG locked, or new): the row,
    the counters that move with it, and its author's read mark up to it."""
    post = Post(
        topic_id=topic.id,
        user_id=author.id,
        number=number,
        reply_to_post_id=reply_to_post_id,
        body_raw=body,
        body_html=cooked.html,
        render_version=cooked.version,
        status=screening.status,
        created_at=now,
    )
    db.session.add(post)
    counters.count_new_post(post, topic, sig, author)
    db.session.flush()
    _mark_read_in_tx(author.id, topic.id, number)
    return post


def start_topic(actor: Actor, sig_id: int, title: str, body: str) -> Topic:
    """Open a new topic in a SIG with its first post. The same topic again a moment later
    raises Duplicate with the first (forum.duplicates)."""
    sig = permissions.get_sig_by_id_for(actor, sig_id)
    permissions.require_read_sig(actor, sig)
    permissions.require_start_topic(actor, sig)
    permissions.require_post_quota(actor, sig, new_topic=True)
    assert actor is not None
    title = _check_title(title)
    body = _check_body(body)
    screening = screen_post(actor, sig, f"{title}\n{body}")
    cooked = _cook(body, actor, sig)
    visible = screening.status == POST_VISIBLE
    joining = permissions.joins_by_posting(actor, sig)
    with transaction() as session:
        lock_for_write(Sig, sig.id, refresh=False)  # its counters move by SQL increments
        _require_not_banned_now(actor)
        _refuse_repeated_topic(actor.id, sig.id, title, body)
        if joining:
            add_member_in_tx(sig, actor.id)
        # Taken once the write transaction has begun, so times follow the order of commits.
        now = utcnow()
        topic = Topic(
            sig_id=sig.id,
            user_id=actor.id,
            title=title,
            slug=slugify(title),
            created_at=now,
            last_posted_at=now,
            last_post_user_id=actor.id,
        )
        session.add(topic)
        session.flush()
        post = _add_post_in_tx(actor, topic, sig, body, cooked, screening, number=1, now=now)
        topic.first_post_id = post.id
        events.publish(
            events.TopicCreated(
                topic_id=topic.id, sig_id=sig.id, post_id=post.id, author_id=actor.id
            )
        )
        events.publish(
            events.PostCreated(
                post_id=post.id,
                topic_id=topic.id,
                sig_id=sig.id,
                author_id=actor.id,
                is_first=True,
                visible=visible,
            )
        )
    if joining:
        permissions.forget_memberships(actor)
    return topic


def reply_to_topic(
    actor: Actor, topic_id: int, body: str, reply_to_post_id: int | None = None
) -> Post:
    """Add a reply at the end of a topic. The same reply again a moment later raises
    Duplicate with the first (forum.duplicates)."""
    topic = permissions.get_topic_for(actor, topic_id)
    sig = db.session.get(Sig, topic.sig_id)
    assert sig is not None
    permissions.require_reply(actor, topic, sig)
    permissions.require_post_quota(actor, sig, new_topic=False)
    assert actor is not None
    body = _check_body(body)
    if reply_to_post_id is not None:
        target = db.session.get(Post, reply_to_post_id) if is_valid_id(reply_to_post_id) else None
        if target is None or target.topic_id != topic.id:
            reply_to_post_id = None
    screening = screen_post(actor, sig, body)
    cooked = _cook(body, actor, sig)
    visible = screening.status == POST_VISIBLE
    joining = permissions.joins_by_posting(actor, sig)
    with transaction():
        # Post numbers are handed out one at a time, and the counters move in lock order:
        # topics, then SIGs, then members. The topic is read afresh under its lock (on SQLite,
        # BEGIN IMMEDIATE has made this the only writer); the SIG's counters move by SQL
        # increments, so it is locked (on PostgreSQL) but not read.
        lock_for_write(Topic, topic.id)
        lock_for_write(Sig, sig.id, refresh=False)
        _require_not_banned_now(actor)
        _refuse_repeated_reply(actor.id, topic.id, body)
        if joining:
            add_member_in_tx(sig, actor.id)
        # Taken under the lock, so a topic's times follow its post numbers.
        now = utcnow()
        post = _add_post_in_tx(
            actor,
            topic,
            sig,
            body,
            cooked,
            screening,
            number=topic.highest_post_number + 1,
            now=now,
            reply_to_post_id=reply_to_post_id,
        )
        events.publish(
            events.PostCreated(
                post_id=post.id,
                topic_id=topic.id,
                sig_id=sig.id,
                author_id=actor.id,
                is_first=False,
                visible=visible,
            )
        )
    if joining:
        permissions.forget_memberships(actor)
    return post


def preview_post(actor: Actor, body: str) -> str:
    """The HTML a post with this text would show: the checks and the cooking of a real post
    (start_topic, reply_to_topic, edit_post), nothing saved."""
    if actor is None:
        raise Invalid(None, _l("Log in to post."))
    if not isinstance(body, str):
        raise Invalid("body", _l("Write something first."))
    body = _check_body(body)
    return content.render(body, resolve_usernames, hooks.image_sizes.get()).html


MENTION_PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def mention_candidates(actor: Actor, sig: Sig, prefix: str, limit: int = 8) -> list[str]:
    """Usernames starting with `prefix` among the members who may read the SIG (so a mention
    offered is one that can reach its reader), for the composer's @name completion."""
    if actor is None or not isinstance(prefix, str) or not MENTION_PREFIX.match(prefix):
        return []
    permissions.require_read_sig(actor, sig)
    if mention_limit(actor, sig) == 0:
        return []
    return list(
        db.session.scalars(
            select(User.username)
            .where(
                func.lower(User.username).startswith(prefix.lower(), autoescape=True),
                User.id != actor.id,
                not_former_clause(User.username),
                permissions.sig_readers_clause(sig),
            )
            .order_by(func.lower(User.username))
            .limit(limit)
        )
    )


def quote_text(actor: Actor, post_id: int) -> str:
    """The Markdown that starts a reply quoting this post."""
    post = permissions.get_post_for(actor, post_id)
    author = db.session.get(User, post.user_id) if post.user_id else None
    if author is None:
        who = gettext("someone")
    elif is_former(author.username):
        who = former_label()
    else:
        who = f"@{author.username}"
    # Translators: a quoted post's heading in a reply's Markdown: "**@ada** [wrote](/p/12):".
    return content.quote_markdown(who, post.id, post.body_raw, wrote=gettext("wrote"))


def edit_post(actor: Actor, post_id: int, body: str, title: str | None = None) -> Post:
    """Change a post's text, keeping the previous text as a revision."""
    post = permissions.get_post_for(actor, post_id)
    topic = db.session.get(Topic, post.topic_id)
    sig = db.session.get(Sig, topic.sig_id) if topic else None
    assert topic is not None and sig is not None
    permissions.require_edit_post(actor, post, topic, sig)
    assert actor is not None
    body = _check_body(body)
    new_title = _check_title(title) if (title is not None and post.number == 1) else None
    if body == post.body_raw and (new_title is None or new_title == topic.title):
        return post
    cooked = _cook(body, actor, sig)
    with transaction() as session:
        revisions = session.scalar(
            select(func.count()).select_from(PostRevision).where(PostRevision.post_id == post.id)
        )
        session.add(
            PostRevision(
                post_id=post.id,
                number=(revisions or 0) + 1,
                body_raw=post.body_raw,
                editor_id=actor.id,
            )
        )
        post.body_raw = body
        post.body_html = cooked.html
        post.render_version = cooked.version
        post.edited_at = utcnow()
        post.edit_count = Post.edit_count + 1
        if new_title is not None and new_title != topic.title:
            topic.title = new_title
            topic.slug = slugify(new_title)
        events.publish(
            events.PostEdited(post_id=post.id, topic_id=topic.id, sig_id=sig.id, editor_id=actor.id)
        )
    return post


def post_history(actor: Actor, post_id: int) -> list[PostRevision]:
    post = permissions.get_post_for(actor, post_id)
    topic = db.session.get(Topic, post.topic_id)
    sig = db.session.get(Sig, topic.sig_id) if topic else None
    assert sig is not None
    if not permissions.can_see_history(actor, sig):
        raise Forbidden(_l("Only sysops see the edit history."))
    return list(
        db.session.scalars(
            select(PostRevision)
            .where(PostRevision.post_id == post.id)
            .order_by(PostRevision.number.desc())
        )
    )


def delete_post(actor: Actor, post_id: int) -> Post:
    """Soft-delete a post; deleting the first post deletes the topic."""
    post = permissions.get_post_for(actor, post_id)
    topic = db.session.get(Topic, post.topic_id)
    sig = db.session.get(Sig, topic.sig_id) if topic else None
    assert topic is not None and sig is not None
    if not permissions.can_delete_post(actor, post, topic, sig):
        raise Forbidden(_l("You may not delete this post."))
    assert actor is not None
    is_sysop = permissions.is_sig_sysop(actor, sig)
    if post.number == 1 and not is_sysop and topic.post_count > 1:
        raise Forbidden(_l("Others have replied: only a sysop can delete this topic now."))
    with transaction():
        was_counted = post.is_public
        post.deleted_at = utcnow()
        post.deleted_by_id = actor.id
        if post.number == 1:
            topic.deleted_at = post.deleted_at
            topic.deleted_by_id = actor.id
        counters.recount_topic(topic, sig)
        if post.number == 1:
            # The whole topic left sight: every author in it counts one post less.
            counters.recount_authors(topic)
        elif was_counted and not topic.is_deleted:
            counters.count_member_posts(post.user_id, -1)
        if post.number == 1:
            events.publish(
                events.TopicChanged(
                    topic_id=topic.id, sig_id=sig.id, actor_id=actor.id, change="deleted"
                )
            )
        events.publish(
            events.PostVisibilityChanged(
                post_id=post.id,
                topic_id=topic.id,
                sig_id=sig.id,
                actor_id=actor.id,
                change="deleted",
            )
        )
    return post


def restore_post(actor: Actor, post_id: int) -> Post:
    """Undo a deletion (SIG sysops and the global sysop)."""
    post, topic, sig = permissions.get_post_topic_and_sig_for(actor, post_id)
    permissions.require_sig_sysop(actor, sig)
    assert actor is not None
    if not post.is_deleted:
        return post
    with transaction():
        post.deleted_at = None
        post.deleted_by_id = None
        topic_restored = post.number == 1 and topic.is_deleted
        if topic_restored:
            topic.deleted_at = None
            topic.deleted_by_id = None
            events.publish(
                events.TopicChanged(
                    topic_id=topic.id, sig_id=sig.id, actor_id=actor.id, change="restored"
                )
            )
        counters.recount_topic(topic, sig)
        if topic_restored:
            counters.recount_authors(topic)
        elif post.is_public and not topic.is_deleted:
            counters.count_member_posts(post.user_id, +1)
        events.publish(
            events.PostVisibilityChanged(
                post_id=post.id,
                topic_id=topic.id,
                sig_id=sig.id,
                actor_id=actor.id,
                change="restored",
            )
        )
    return post


def mark_read(user: Actor, topic: Topic, post_number: int, read_seconds: int = 0) -> None:
    """Remember that this member has read up to `post_number` (one upsert; never goes back),
    and add the `read_seconds` they spent reading since their position last moved (the trust
    levels count them; at least one: a topic opened is a topic read)."""
    if user is None:
        return
    post_number = min(post_number, topic.highest_post_number)
    with transaction():
        _mark_read_in_tx(user.id, topic.id, post_number, max(1, read_seconds))
        if post_number >= topic.last_post_number:
            events.publish(events.TopicsRead(user_id=user.id, topic_ids=(topic.id,)))


def _mark_read_in_tx(user_id: int, topic_id: int, post_number: int, read_seconds: int = 0) -> None:
    now = utcnow()
    changes: dict[str, object] = {"last_read_post_number": post_number, "updated_at": now}
    if read_seconds:
        changes["read_seconds"] = TopicRead.read_seconds + read_seconds
    upsert(
        TopicRead,
        {
            "user_id": user_id,
            "topic_id": topic_id,
            "last_read_post_number": post_number,
            "updated_at": now,
            "read_seconds": read_seconds,
        },
        index_elements=["user_id", "topic_id"],
        set_=changes,
        where=TopicRead.last_read_post_number < post_number,  # never back
    )


def mark_all_read(user: Actor, sig_id: int | None = None) -> int:
    """Mark every readable topic (in one SIG, or in all my SIGs) as read."""
    if user is None:
        return 0
    with transaction() as session:
        query = (
            select(Topic.id, Topic.last_post_number)
            .join(
                Membership, and_(Membership.sig_id == Topic.sig_id, Membership.user_id == user.id)
            )
            .outerjoin(
                TopicRead, and_(TopicRead.topic_id == Topic.id, TopicRead.user_id == user.id)
            )
            .where(
                Topic.deleted_at.is_(None),
                func.coalesce(TopicRead.last_read_post_number, 0) < Topic.last_post_number,
            )
        )
        if sig_id is not None:
            query = query.where(Topic.sig_id == sig_id)
        rows = session.execute(query).all()
        for topic_id, number in rows:
            _mark_read_in_tx(user.id, topic_id, number)
        # Each SIG is read up to its newest activity: /new need not look further back.
        newest = select(Topic.sig_id, func.max(Topic.last_posted_at)).group_by(Topic.sig_id)
        mine = select(Membership.sig_id).where(Membership.user_id == user.id)
        newest = newest.where(Topic.sig_id.in_([sig_id] if sig_id is not None else mine))
        for sig, read_through in session.execute(newest).all():
            session.execute(
                update(Membership)
                .where(Membership.sig_id == sig, Membership.user_id == user.id)
                .values(read_through=read_through)
            )
        if rows:
            events.publish(events.TopicsRead(user_id=user.id, topic_ids=tuple(t for t, _ in rows)))
    return len(rows)


def page_of_post(topic: Topic, number: int) -> int:
    per_page = int(current_app.config["POSTS_PER_PAGE"])
    return max(1, (number - 1) // per_page + 1)


def page_count(topic: Topic) -> int:
    per_page = int(current_app.config["POSTS_PER_PAGE"])
    return max(1, (topic.highest_post_number - 1) // per_page + 1)
