"""Small factories: build members, SIGs, topics and posts through the real services."""

from __future__ import annotations

import itertools
from typing import Any

from forum.accounts import services as accounts
from forum.accounts.models import TL_BASIC, User
from forum.extensions import db
from forum.sigs import services as sigs
from forum.sigs.models import Sig
from forum.topics import services as topics
from forum.topics.models import Post, Topic

PASSWORD = "correct-horse-battery"
# The one way tests make password hashing cheap: still scrypt (hashes stay verifiable), with a
# work factor that keeps the suite fast. Every app the tests make gets it as
# PASSWORD_HASH_METHOD (FORUM_PASSWORD_HASH_METHOD for the servers they start).
CHEAP_PASSWORDS = "scrypt:256:2:1"
_seq = itertools.count(1)


def user(username: str | None = None, *, sysop: bool = False, **kwargs: Any) -> User:
    """A member at trust level "basic" (an account that has read a little: the limits of new
    accounts do not apply); `trust_level=TL_NEW` for one that has just registered."""
    n = next(_seq)
    username = username or f"member{n}"
    return accounts.register_member(
        username, kwargs.get("email", f"{username}@example.com"), PASSWORD,
        role="sysop" if sysop else "member", trust_level=kwargs.get("trust_level", TL_BASIC),
    )  # fmt: skip


def sysop(username: str = "root") -> User:
    return user(username, sysop=True)


def _site_sysop() -> User:
    found = db.session.scalar(db.select(User).where(User.role == "sysop").limit(1))
    return found or sysop(f"sysop{next(_seq)}")


def sig(
    slug: str | None = None,
    *,
    visibility: str = "public",
    members: list[User] = (),  # type: ignore[assignment]
    sysops: list[User] = (),  # type: ignore[assignment]
    language: str = "en",
    name: str | None = None,
) -> Sig:
    n = next(_seq)
    slug = slug or f"sig-{n}"
    root = _site_sysop()
    created = sigs.create_sig(
        root,
        name=name or slug.replace("-", " ").title(),
        slug=slug,
        description=f"About {slug}",
        visibility=visibility,
        language=language,
    )
    for member in members:
        join(member, created)
    for s in sysops:
        sigs.set_sig_sysop(root, created.id, s.id, True)
    return created


def join(member: User, sig_: Sig) -> None:
    """Make `member` a member of the SIG whatever its visibility."""
    if sig_.visibility == "private":
        request = sigs.request_to_join(member, sig_.slug)
        assert request is not None
        sigs.decide_join_request(_site_sysop(), request.id, True)
    else:
        sigs.join_sig(member, sig_.id)
    from forum import permissions

    permissions.forget_memberships(member)


def topic(
    author: User, sig_: Sig, title: str = "A topic title", body: str = "The first post."
) -> Topic:
    return topics.start_topic(author, sig_.id, title, body)


def reply(author: User, topic_: Topic, body: str = "A reply.", **kwargs: Any) -> Post:
    return topics.reply_to_topic(author, topic_.id, body, **kwargs)


def first_post(topic_: Topic) -> Post:
    post = db.session.get(Post, topic_.first_post_id)
    assert post is not None
    return post
