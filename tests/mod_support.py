"""Helpers for the moderation and console tests: a world of every role, and browsers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from forum.accounts.models import User
from forum.extensions import db
from forum.sigs.models import Sig
from forum.topics.models import POST_PENDING, Post, Topic

from . import factories


def make_pending(post: Post) -> Post:
    """Turn a reply into one awaiting approval, as the screening hook would have made it."""
    from forum import counters
    from forum.db import transaction

    topic = db.session.get(Topic, post.topic_id)
    sig = db.session.get(Sig, topic.sig_id)
    with transaction():
        post.status = POST_PENDING
        counters.recount_topic(topic, sig)
        counters.count_member_posts(post.user_id, -1)
    return post


@dataclass
class World:
    root: User  # the global sysop
    sig_sysop: User  # sysop of `sig` and of `sig_b`
    other_sysop: User  # sysop of `other_sig` only
    author: User  # wrote `post`
    member: User  # an ordinary member of `sig`
    victim: User  # a member to discipline, already banned/silenced/suspended as needed
    sig: Sig
    sig_b: Sig
    other_sig: Sig
    topic: Topic
    post: Post  # a reply by `author`, flagged by `member`
    topic2: Topic
    pending: Post


def build_world(visibility: str = "public") -> World:
    """Members of every role around one SIG, built through the services in one transaction."""
    from forum.db import transaction

    with transaction():
        return _build_world(visibility)


def _build_world(visibility: str) -> World:
    f = factories
    root = f.sysop("root")
    sig_sysop = f.user("sigsysop")
    other_sysop = f.user("othersysop")
    author = f.user("author")
    member = f.user("member")
    victim = f.user("victim")
    sig = f.sig("main", visibility=visibility, members=[author, member, victim], sysops=[sig_sysop])
    sig_b = f.sig("side", sysops=[sig_sysop])
    other_sig = f.sig("other", sysops=[other_sysop])
    topic = f.topic(author, sig, "A topic about things", "First post by author.")
    post = f.reply(author, topic, "A reply by the author.")
    f.reply(member, topic, "A reply by a member.")
    topic2 = f.topic(member, sig, "Another topic here", "Its first post.")
    pending = make_pending(f.reply(author, topic2, "Waiting for approval."))
    from forum.moderation import services as mod

    mod.flag_post(member, post.id, "spam")
    return World(
        root=root,
        sig_sysop=sig_sysop,
        other_sysop=other_sysop,
        author=author,
        member=member,
        victim=victim,
        sig=sig,
        sig_b=sig_b,
        other_sig=other_sig,
        topic=topic,
        post=post,
        topic2=topic2,
        pending=pending,
    )


class Browser:
    """A logged-in test client that reads the CSRF token once and keeps it for its forms."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._token: str | None = None

    def login(self, user: User) -> None:
        self.client.login(user)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, **kwargs)

    def form(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if self._token is None:
            self._token = self.client.csrf_token()
        return self.client.form(url, {"csrf_token": self._token, **(data or {})}, **kwargs)

    def text(self, url: str) -> str:
        response = self.get(url, follow_redirects=True)
        return response.get_data(as_text=True)  # type: ignore[no-any-return]


@pytest.fixture
def browser(make_client: Any) -> Any:
    """`browser(user)` (or `browser(None)` for a guest): a logged-in Browser."""

    def open_as(user: User | None) -> Browser:
        browser = Browser(make_client())
        if user is not None:
            browser.login(user)
        return browser

    return open_as
