"""Who may do what, route by route: a matrix over roles and SIG visibilities.

Roles: a guest, a member of the SIG, a member who is not in it (outsider), the SIG's own sysop,
the sysop of ANOTHER SIG, and the global sysop. Every route that names a SIG, a topic or a post
is tried by each role in a public, a members-only and a private SIG. A refused request changes
nothing in the database, and a private SIG is a 404 to outsiders, indistinguishable from a SIG
that does not exist.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from forum import permissions
from forum.accounts.models import User
from forum.db import transaction
from forum.extensions import db
from forum.sigs import services as sig_services
from forum.sigs.models import JoinRequest, Sig
from forum.timeutil import utcnow
from forum.topics import services as topic_services
from forum.topics.models import Post, Topic

from . import dbstate, worlds

ROLES = ("guest", "member", "outsider", "sig_sysop", "other_sysop", "root")
SIG_NAME = "Hidden Lair"
TOPIC_TITLE = "Secret plans"
REPLY_TEXT = "the member's reply"


@dataclass
class World:
    f: Any
    sig: Sig
    topic: Topic
    reply: Post  # written by "member"
    users: dict[str, User | None] = field(default_factory=dict)

    def user(self, role: str) -> User | None:
        return self.users[role]

    def fresh_reply(self) -> Post:
        """A new reply by the member, so each role deletes its own target."""
        return self.f.reply(self.users["member"], self.topic, "another reply by the member")

    def deleted_reply(self) -> Post:
        post = self.f.reply(self.users["author"], self.topic, "a reply that was deleted")
        topic_services.delete_post(self.users["sig_sysop"], post.id)
        return post

    def fresh_member(self) -> User:
        """A new member of the SIG, so each role disciplines its own target."""
        member = self.f.user()
        self.f.join(member, self.sig)
        self.f.reply(member, self.topic, "a reply by a fresh member")
        return member

    def join_request(self) -> JoinRequest:
        applicant = self.f.user()
        request = sig_services.request_to_join(applicant, self.sig.slug, "let me in")
        assert request is not None
        return request


def build(f: Any, visibility: str) -> World:
    root = f.sysop("root")
    author = f.user("author")
    member = f.user("member")
    outsider = f.user("outsider")
    sig_sysop = f.user("sigsysop")
    other_sysop = f.user("othersysop")
    sig = f.sig("lair", name=SIG_NAME, visibility=visibility, members=[author, member])
    f.sig("elsewhere", visibility=visibility, sysops=[other_sysop])
    sig_services.set_sig_sysop(root, sig.id, sig_sysop.id, True)
    topic = f.topic(author, sig, TOPIC_TITLE, "The first post of the secret plans.")
    reply = f.reply(member, topic, REPLY_TEXT)
    # Something unread for every member, so "mark read" has work to do.
    f.reply(author, topic, "the author's second word")
    users: dict[str, User | None] = {
        "guest": None,
        "member": member,
        "outsider": outsider,
        "sig_sysop": sig_sysop,
        "other_sysop": other_sysop,
        "root": root,
        "author": author,
    }
    return World(f=f, sig=sig, topic=topic, reply=reply, users=users)


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    # Builds the URL (and may create a fresh target for this role) from the world.
    url: Callable[[World], str]
    # Expected outcome per visibility, one per role in ROLES order:
    #   a status code; "L" = redirected to the login page; "302" on a POST = done, the database
    #   changed; "302-" = redirected with a message, nothing changed (e.g. joining twice).
    expect: dict[str, str]
    data: Callable[[World], dict[str, str]] = lambda w: {}
    visibilities: tuple[str, ...] = ("public", "members", "private")


def _same(row: str) -> dict[str, str]:
    return {"public": row, "members": row, "private": row}


READ = {
    "public": "200 200 200 200 200 200",
    "members": "403 200 403 200 403 200",
    "private": "404 200 404 200 404 200",
}
# Opening a topic lands a member on the first post they have not read (a redirect); the
# sysops here never opened it, so they get the page itself.
TOPIC_READ = {
    "public": "200 302 200 200 200 200",
    "members": "403 302 403 200 403 200",
    "private": "404 302 404 200 404 200",
}
WRITE_FORM = {
    "public": "L 200 403 200 403 200",
    "members": "L 200 403 200 403 200",
    "private": "L 200 404 200 404 200",
}
WRITE = {
    "public": "L 302 403 302 403 302",
    "members": "L 302 403 302 403 302",
    "private": "L 302 404 302 404 302",
}
# Posting (a reply, a new topic) in a public SIG joins it: outsiders get the form, and their
# post goes through (tests/test_joining.py).
POST_FORM = {**WRITE_FORM, "public": "L 200 200 200 200 200"}
POST = {**WRITE, "public": "L 302 302 302 302 302"}
# A feed has no "join to read" page: what the reader may not read is a 404, as if it were not
# there. (Feed readers have no cookie and use a private address; see tests/test_feeds.py.)
FEED_READ = {
    "public": "200 200 200 200 200 200",
    "members": "404 200 404 200 404 200",
    "private": "404 200 404 200 404 200",
}
SYSOP_ONLY = {
    "public": "L 403 403 200 403 200",
    "members": "L 403 403 200 403 200",
    "private": "L 403 404 200 404 200",
}

_edits = itertools.count(1)

ROUTES = [
    Route("sig page", "GET", lambda w: f"/s/{w.sig.slug}/", READ),
    Route(
        "new topic form",
        "GET",
        lambda w: f"/s/{w.sig.slug}/new",
        POST_FORM,
    ),
    Route(
        "start topic",
        "POST",
        lambda w: f"/s/{w.sig.slug}/new",
        POST,
        data=lambda w: {"title": "A new topic", "body": "Its first post."},
    ),
    Route("topic", "GET", lambda w: f"/t/{w.topic.id}", TOPIC_READ),
    Route("topic with slug", "GET", lambda w: f"/t/{w.topic.id}/{w.topic.slug}", TOPIC_READ),
    Route(
        "topic page 1",
        "GET",
        lambda w: f"/t/{w.topic.id}/{w.topic.slug}?page=1",
        READ,
    ),
    Route("reply form", "GET", lambda w: f"/t/{w.topic.id}/reply", POST_FORM),
    Route(
        "quote form",
        "GET",
        lambda w: f"/t/{w.topic.id}/reply?quote={w.reply.id}",
        POST_FORM,
    ),
    Route(
        "reply",
        "POST",
        lambda w: f"/t/{w.topic.id}/reply",
        POST,
        data=lambda w: {"body": "a new reply"},
    ),
    Route(
        "permalink",
        "GET",
        lambda w: f"/p/{w.reply.id}",
        {k: v.replace("200", "302") for k, v in READ.items()},
    ),
    Route("quote JSON", "GET", lambda w: f"/p/{w.reply.id}/quote", READ),
    Route("edit form", "GET", lambda w: f"/p/{w.reply.id}/edit", WRITE_FORM),
    Route(
        "edit",
        "POST",
        lambda w: f"/p/{w.reply.id}/edit",
        WRITE,
        data=lambda w: {"body": f"edited reply number {next(_edits)}"},
    ),
    Route("history", "GET", lambda w: f"/p/{w.reply.id}/history", SYSOP_ONLY),
    Route("delete", "POST", lambda w: f"/p/{w.fresh_reply().id}/delete", WRITE),
    Route(
        "restore",
        "POST",
        lambda w: f"/p/{w.deleted_reply().id}/restore",
        # A deleted post does not exist for anyone who may not restore it.
        _same("L 404 404 302 404 302"),
    ),
    Route(
        "join",
        "POST",
        lambda w: f"/s/{w.sig.slug}/join",
        {
            # Members are told they already belong; outsiders join open SIGs at once.
            "public": "L 302- 302 302- 302 302",
            "members": "L 302- 302 302- 302 302",
            # A private SIG is joined by request, and outsiders may not know it exists.
            "private": "L 302- 404 302- 404 302-",
        },
    ),
    Route(
        "leave",
        "POST",
        lambda w: f"/s/{w.sig.slug}/leave",
        {
            "public": "L 302 302- 302 302- 302-",
            "members": "L 302 302- 302 302- 302-",
            "private": "L 302 404 302 404 302-",
        },
    ),
    Route(
        "mark SIG read",
        "POST",
        lambda w: f"/s/{w.sig.slug}/read",
        {
            # Only members keep read marks for a whole SIG.
            "public": "L 302 302- 302 302- 302-",
            "members": "L 302 302- 302 302- 302-",
            "private": "L 302 404 302 404 302-",
        },
    ),
    # Reactions: any reader in good standing but the post's author (the first post here is the
    # author's); a post one may not read is a 404 (or the members-only 403 with a way in).
    Route(
        "react",
        "POST",
        lambda w: f"/p/{w.topic.first_post_id}/react",
        {k: "L " + v.split(" ", 1)[1] for k, v in POST.items()},
        data=lambda w: {"emoji": "\U0001f44d"},
    ),
    Route("who reacted", "GET", lambda w: f"/p/{w.reply.id}/reactions", READ),
    # Bookmarks: a private list, for every member who may read the post.
    Route(
        "bookmark",
        "POST",
        lambda w: f"/p/{w.reply.id}/bookmark",
        {k: "L " + v.split(" ", 1)[1] for k, v in POST.items()},
    ),
    Route(
        "bookmark form",
        "GET",
        lambda w: f"/p/{w.reply.id}/bookmark",
        {k: "L " + v.split(" ", 1)[1] for k, v in POST_FORM.items()},
    ),
    Route("bookmarks", "GET", lambda w: "/bookmarks", _same("L 200 200 200 200 200")),
    Route("member card", "GET", lambda w: "/u/author/card", _same("200 200 200 200 200 200")),
    Route("drafts", "GET", lambda w: "/drafts", _same("L 200 200 200 200 200")),
    Route(
        "save a reply draft",
        "POST",
        lambda w: f"/drafts/reply:{w.topic.id}",
        {k: "L " + v.split(" ", 1)[1] for k, v in READ.items()},
        data=lambda w: {"body": "half a thought"},
    ),
    Route(
        "save an edit draft",
        "POST",
        lambda w: f"/drafts/edit:{w.reply.id}",
        {
            # The member wrote the reply; the sysops may edit it; nobody else.
            "public": "L 200 403 200 403 200",
            "members": "L 200 403 200 403 200",
            "private": "L 200 404 200 404 200",
        },
        data=lambda w: {"body": "a better reply"},
    ),
    Route(
        "mention candidates",
        "GET",
        lambda w: f"/mentions/reply:{w.topic.id}?q=me",
        {k: "L " + v.split(" ", 1)[1] for k, v in READ.items()},
    ),
    Route(
        "preview",
        "POST",
        lambda w: "/preview",
        _same("L 200 200 200 200 200"),
        data=lambda w: {"body": "**bold**"},
    ),
    Route("members", "GET", lambda w: f"/s/{w.sig.slug}/members", READ),
    Route("sig feed", "GET", lambda w: f"/s/{w.sig.slug}/feed.atom", FEED_READ),
    Route("topic feed", "GET", lambda w: f"/t/{w.topic.id}/feed.atom", FEED_READ),
    Route("join requests", "GET", lambda w: f"/s/{w.sig.slug}/requests", SYSOP_ONLY),
    Route(
        "decide join request",
        "POST",
        lambda w: f"/s/{w.sig.slug}/requests/{w.join_request().id}",
        {"private": "L 403 404 302 404 302"},
        data=lambda w: {"value": "approve"},
        visibilities=("private",),
    ),
]


def _invite(w: World) -> sig_services.NewInvite:
    """A fresh invite link to the SIG, made by its sysop (one per role)."""
    return sig_services.create_sig_invite(w.users["sig_sysop"], w.sig.id)


# Invite links (tests/test_sig_invites.py): the SIG's sysops manage them; whoever holds one
# sees the SIG it names and joins by it (a member already in: 409, nothing changed).
ROUTES += [
    Route("invite links", "GET", lambda w: f"/s/{w.sig.slug}/invites", SYSOP_ONLY),
    Route(
        "make an invite link",
        "POST",
        lambda w: f"/s/{w.sig.slug}/invites",
        SYSOP_ONLY,
        data=lambda w: {"expires": "week", "max_uses": "3"},
    ),
    Route(
        "revoke an invite link",
        "POST",
        lambda w: f"/s/{w.sig.slug}/invites/{_invite(w).invite.id}/revoke",
        {
            "public": "L 403 403 302 403 302",
            "members": "L 403 403 302 403 302",
            "private": "L 403 404 302 404 302",
        },
    ),
    Route(
        "an invite link",
        "GET",
        lambda w: f"/s/{w.sig.slug}/invite/{_invite(w).token}",
        _same("200 200 200 200 200 200"),
    ),
    Route(
        "join by an invite link",
        "POST",
        lambda w: f"/s/{w.sig.slug}/invite/{_invite(w).token}",
        _same("L 409 302 409 302 302"),
    ),
]

# Moderation of members: removing from (and banning from) a SIG, and spam cleanup. A guest
# is refused like any non-sysop (403), as on the other /mod pages.
ROUTES += [
    Route(
        "remove and ban from SIG",
        "POST",
        lambda w: f"/mod/u/{w.fresh_member().username}/remove",
        {
            "public": "403 403 403 302 403 302",
            "members": "403 403 403 302 403 302",
            "private": "403 403 403 302 404 302",
        },
        data=lambda w: {
            "remove-sig": str(w.sig.id),
            "remove-reason": "Out.",
            "remove-ban": "y",
        },
    ),
    Route(
        "delete spammer: confirmation page",
        "GET",
        lambda w: f"/mod/u/{w.fresh_member().username}/spam",
        _same("403 403 403 403 403 200"),
    ),
    Route(
        "delete spammer",
        "POST",
        lambda w: f"/mod/u/{w.fresh_member().username}/spam",
        _same("403 403 403 403 403 302"),
        data=lambda w: {"reason": "Spam."},
    ),
    Route(
        "remove spammer from SIG",
        "POST",
        lambda w: f"/mod/u/{w.fresh_member().username}/spam",
        {
            "public": "403 403 403 302 403 302",
            "members": "403 403 403 302 403 302",
            "private": "403 403 403 302 404 302",
        },
        data=lambda w: {"sig": str(w.sig.id), "reason": "Spam."},
    ),
]


def _pending_account(w: World) -> int:
    """A new account waiting for a sysop's approval."""
    from forum.accounts.models import PENDING
    from forum.db import transaction

    user = w.f.user()
    with transaction():
        user.approval = PENDING
    return user.id


def _authors_session(w: World) -> int:
    from forum.accounts import services as account_services

    author = w.users["author"]
    assert author is not None
    return account_services.open_session(author, "Firefox", "192.0.2.1").id


# Account security (issue 20): the console's approvals are the global sysop's; two-factor and
# the sessions list are every member's own (nobody ends another member's session).
ROUTES += [
    Route(
        "approvals list",
        "GET",
        lambda w: "/admin/approvals",
        _same("403 403 403 403 403 200"),
        visibilities=("public",),
    ),
    Route(
        "approve account",
        "POST",
        lambda w: f"/admin/approvals/{_pending_account(w)}",
        _same("403 403 403 403 403 302"),
        data=lambda w: {"value": "approve"},
        visibilities=("public",),
    ),
    Route(
        "two-factor settings",
        "GET",
        lambda w: "/settings/two-factor",
        _same("L 200 200 200 200 200"),
        visibilities=("public",),
    ),
    Route(
        "end another member's session",
        "POST",
        lambda w: f"/settings/sessions/{_authors_session(w)}/end",
        _same("L 302- 302- 302- 302- 302-"),
        visibilities=("public",),
    ),
]

# Webhooks (issue 25): a SIG's are its sysops' (and the global sysop's), the site's the global
# sysop's alone. The address is a public one given as a number: no lookup, and no route here
# sends anything (no event happens after the webhook is made).
WEBHOOK_URL = "https://93.184.216.34/hook"
SYSOP_WRITE = {
    "public": "L 403 403 302 403 302",
    "members": "L 403 403 302 403 302",
    "private": "L 403 404 302 404 302",
}


def _webhook(w: World, site: bool = False) -> int:
    from forum.webhooks import services as webhooks

    owner = w.users["root"] if site else w.users["sig_sysop"]
    return webhooks.create_webhook(
        owner, None if site else w.sig.id, WEBHOOK_URL, ["post.created"]
    ).id


ROUTES += [
    Route("SIG webhooks", "GET", lambda w: f"/s/{w.sig.slug}/webhooks", SYSOP_ONLY),
    Route(
        "add a SIG webhook",
        "POST",
        lambda w: f"/s/{w.sig.slug}/webhooks",
        SYSOP_WRITE,
        data=lambda w: {"url": WEBHOOK_URL, "events": "post.created", "active": "y"},
    ),
    Route("SIG webhook page", "GET", lambda w: f"/mod/webhooks/{_webhook(w)}", SYSOP_ONLY),
    Route(
        "change a SIG webhook",
        "POST",
        lambda w: f"/mod/webhooks/{_webhook(w)}",
        SYSOP_WRITE,
        data=lambda w: {"url": WEBHOOK_URL, "events": "topic.created"},
    ),
    Route(
        "new webhook secret",
        "POST",
        lambda w: f"/mod/webhooks/{_webhook(w)}/secret",
        SYSOP_WRITE,
    ),
    Route(
        "delete a SIG webhook",
        "POST",
        lambda w: f"/mod/webhooks/{_webhook(w)}/delete",
        SYSOP_WRITE,
    ),
    Route(
        "webhooks overview",
        "GET",
        lambda w: "/mod/webhooks",
        _same("L 403 403 200 200 200"),
        visibilities=("public",),
    ),
    Route(
        "site webhooks",
        "GET",
        lambda w: "/admin/webhooks",
        _same("L 403 403 403 403 200"),
        visibilities=("public",),
    ),
    Route(
        "add a site webhook",
        "POST",
        lambda w: "/admin/webhooks",
        _same("L 403 403 403 403 302"),
        data=lambda w: {"url": WEBHOOK_URL, "events": "topic.created", "active": "y"},
        visibilities=("public",),
    ),
    Route(
        "site webhook page",
        "GET",
        lambda w: f"/mod/webhooks/{_webhook(w, site=True)}",
        _same("L 403 403 403 403 200"),
        visibilities=("public",),
    ),
]


def _mail_stopped(w: World) -> str:
    """Every member's mail stopped after bounces (the banner's button turns theirs back on)."""
    from forum.db import transaction

    with transaction():
        for user in w.users.values():
            if user is not None:
                user.mail_disabled_at = utcnow()
    return "/settings/mail/resume"


# Mail (issue 23): a SIG's digest note is its sysops' (and the global sysop's); turning mail
# back on after bounces is every member's own.
ROUTES += [
    Route("digest note form", "GET", lambda w: f"/s/{w.sig.slug}/digest-note", SYSOP_ONLY),
    Route(
        "write a digest note",
        "POST",
        lambda w: f"/s/{w.sig.slug}/digest-note",
        SYSOP_WRITE,
        data=lambda w: {"body": "Meetup on Saturday."},
    ),
    Route(
        "turn mail back on",
        "POST",
        _mail_stopped,
        _same("L 302 302 302 302 302"),
        visibilities=("public",),
    ),
]


def _png() -> Any:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "PNG")
    out.seek(0)
    return (out, "matrix.png")


def _file_in_reply(w: World) -> str:
    """A picture in a reply by the member (made once per world): who may fetch it."""
    found = getattr(w, "_file_url", None)
    if found is None:
        import io

        from forum.files import services as file_services

        member = w.users["member"]
        out, name = _png()
        upload = file_services.upload_file(member, w.sig.id, io.BytesIO(out.read()), name)
        markdown = file_services.upload_markdown(upload)
        w.f.reply(member, w.topic, f"a picture: {markdown}")
        found = file_services.file_url(upload.sha256, upload.name)
        w._file_url = found  # type: ignore[attr-defined]
    return found  # type: ignore[no-any-return]


def _library_file(w: World, pending: bool = False) -> int:
    """A file in the SIG's library: approved (the SIG's sysop put it there, once per world),
    or one the author uploaded that waits for a librarian (fresh each time)."""
    import io

    from forum.files import library

    if pending:
        author = w.users["author"]
        entry = library.upload_to_library(
            author, w.sig.id, None, "Waiting file", "", "", io.BytesIO(b"wait\n"), "w.txt"
        )
        return entry.id
    found = getattr(w, "_library_id", None)
    if found is None:
        sysop = w.users["sig_sysop"]
        entry = library.upload_to_library(
            sysop, w.sig.id, None, "Library file", "", "", io.BytesIO(b"lib\n"), "l.txt"
        )
        found = w._library_id = entry.id  # type: ignore[attr-defined]
    return found  # type: ignore[no-any-return]


# SIG libraries (issue 22): the library reads like the SIG; a file's bytes are a 404 to who may
# not read them; members upload (uploading joins nothing); the SIG's sysops (and librarians)
# approve; sections and librarians are the SIG's sysops'.
ROUTES += [
    Route("library", "GET", lambda w: f"/s/{w.sig.slug}/library", READ),
    Route("library file", "GET", lambda w: f"/s/{w.sig.slug}/library/{_library_file(w)}", READ),
    Route(
        "library download",
        "GET",
        lambda w: f"/s/{w.sig.slug}/library/{_library_file(w)}/download",
        FEED_READ,
    ),
    Route("library upload form", "GET", lambda w: f"/s/{w.sig.slug}/library/upload", WRITE_FORM),
    Route(
        "approve a library file",
        "POST",
        lambda w: f"/s/{w.sig.slug}/library/{_library_file(w, pending=True)}/approve",
        {
            "public": "L 404 404 302 404 302",
            "members": "L 404 403 302 403 302",
            "private": "L 404 404 302 404 302",
        },
    ),
    Route("library sections", "GET", lambda w: f"/s/{w.sig.slug}/library/manage", SYSOP_ONLY),
]


def _authors_avatar(w: World) -> int:
    """The author has a picture (set once per world): who may take it down."""
    import io

    from forum.files import avatars

    author = w.users["author"]
    assert author is not None
    if avatars.avatar_of(author.id) is None:
        out, name = _png()
        avatars.set_avatar(author, io.BytesIO(out.read()), name)
    return author.id


# Pictures (issue 22): each member sets their own; only the global sysop resets another's.
ROUTES += [
    Route(
        "set my picture",
        "POST",
        lambda w: "/settings/avatar",
        _same("L 302 302 302 302 302"),
        data=lambda w: {"file": _png()},
        visibilities=("public",),
    ),
    Route(
        "reset another member's picture",
        "POST",
        lambda w: f"/u/{_authors_avatar(w)}/avatar/reset",
        _same("L 403 403 403 403 302"),
        visibilities=("public",),
    ),
]

# Files (issue 22): a file is readable where the post that holds it is, and a 404 elsewhere
# (no "join to read" page for a file); uploading for a post follows the posting rules.
ROUTES += [
    Route("file in a reply", "GET", _file_in_reply, FEED_READ),
    Route(
        "upload a file",
        "POST",
        lambda w: "/files/upload",
        {
            "public": "L 200 200 200 200 200",
            "members": "L 200 403 200 403 200",
            "private": "L 200 404 200 404 200",
        },
        data=lambda w: {"sig": str(w.sig.id), "file": _png()},
    ),
]

CASES = [
    pytest.param(route, visibility, id=f"{route.name}-{visibility}")
    for route in ROUTES
    for visibility in route.visibilities
]


@pytest.mark.parametrize(("route", "visibility"), CASES)
def test_route_matrix(make_client, f, route: Route, visibility: str) -> None:
    world = worlds.once(("routes", visibility), lambda: build(f, visibility))
    expected = dict(zip(ROLES, route.expect[visibility].split(), strict=True))
    failures = []
    for role in ROLES:
        client = make_client()
        user = world.user(role)
        if user is not None:
            client.login(user.username)
        url = route.url(world)
        db.session.expire_all()
        before = dbstate.snapshot()
        if route.method == "GET":
            response = client.get(url)
        else:
            response = client.form(url, route.data(world))
        after = dbstate.snapshot()
        outcome = _outcome(response, route.method, before, after)
        if outcome != expected[role]:
            failures.append(f"{role}: expected {expected[role]}, got {outcome} for {url}")
        if response.status_code == 404:
            body = response.get_data(as_text=True)
            assert SIG_NAME not in body and TOPIC_TITLE not in body, f"{role} sees a 404 leak"
        if outcome in ("403", "404", "L", "400"):
            assert response.status_code != 500
            changed = dbstate.diff(before, after)
            # A member's read position is the one thing a GET may write.
            if route.method == "POST" or set(changed) - {"topic_reads"}:
                assert not changed, f"{role} was refused but {changed} changed"
    assert not failures, "\n".join(failures)


def _outcome(response: Any, method: str, before: Any, after: Any) -> str:
    status = response.status_code
    if status == 302 and "/login" in response.headers["Location"]:
        return "L"
    if status == 302 and method == "POST":
        return "302" if dbstate.diff(before, after) else "302-"
    return str(status)


# --- what a webhook may be told: by who registered it, where, and the SIG's visibility --------
# (owner role, "site" or "sig" webhook) -> may it be told of a visible post, per visibility.
# A site-wide webhook hears what a guest may read; a SIG's, that SIG's news while its owner
# is one of the SIG's sysops (the global sysop is, everywhere).
WEBHOOK_CARRY = {
    ("root", "site"): {"public": True, "members": False, "private": False},
    ("root", "sig"): {"public": True, "members": True, "private": True},
    ("sig_sysop", "sig"): {"public": True, "members": True, "private": True},
    ("sig_sysop", "site"): {"public": False, "members": False, "private": False},
    ("other_sysop", "sig"): {"public": False, "members": False, "private": False},
    ("member", "sig"): {"public": False, "members": False, "private": False},
    ("guest", "site"): {"public": False, "members": False, "private": False},
}


@pytest.mark.parametrize("visibility", ["public", "members", "private"])
def test_webhook_delivery_matrix(f, visibility: str) -> None:
    from forum import permissions
    from forum.moderation import services as moderation

    world = build(f, visibility)
    sig, topic, post = world.sig, world.topic, world.reply
    failures = []
    for (role, scope), expected in WEBHOOK_CARRY.items():
        owner = world.user(role)
        permissions.forget_memberships(owner)
        where = None if scope == "site" else sig.id
        answers = {
            "post": permissions.webhook_may_carry_post(owner, where, post, topic, sig),
            "member joined": permissions.webhook_may_carry_membership(owner, where, sig),
            "flag": permissions.webhook_may_carry_flag(owner, where, sig),
        }
        for what, got in answers.items():
            if got != expected[visibility]:
                failures.append(
                    f"{role}/{scope} {what}: expected {expected[visibility]}, got {got}"
                )
    # A SIG's webhook is never told of another SIG, and nobody's of a hidden post.
    elsewhere = db.session.scalar(db.select(Sig).where(Sig.slug == "elsewhere"))
    assert not permissions.webhook_may_carry_post(
        world.user("root"), elsewhere.id, post, topic, sig
    )
    moderation.hide_post(world.user("sig_sysop"), post.id, "hidden")
    for role, scope in WEBHOOK_CARRY:
        where = None if scope == "site" else sig.id
        assert not permissions.webhook_may_carry_post(world.user(role), where, post, topic, sig)
    # Its owner stepped down: the SIG's webhook hears nothing more, whatever the visibility.
    sig_services.set_sig_sysop(world.user("root"), sig.id, world.user("sig_sysop").id, False)
    permissions.forget_memberships(world.user("sig_sysop"))
    assert not permissions.can_deliver_webhook(world.user("sig_sysop"), sig.id, sig)
    assert not failures, "\n".join(failures)


# --- a private SIG cannot be told apart from one that does not exist -----------------------


OUTSIDER_PROBES = [
    ("GET", "/s/{slug}/"),
    ("GET", "/s/{slug}/new"),
    ("GET", "/s/{slug}/members"),
    ("GET", "/s/{slug}/feed.atom"),
    ("GET", "/t/{topic}/feed.atom"),
    ("GET", "/s/{slug}/requests"),
    ("GET", "/s/{slug}/invites"),
    ("POST", "/s/{slug}/invites"),
    ("POST", "/s/{slug}/invites/1/revoke"),
    ("GET", "/s/{slug}/invite/not-a-token"),
    ("POST", "/s/{slug}/invite/not-a-token"),
    ("GET", "/s/{slug}/webhooks"),
    ("POST", "/s/{slug}/webhooks"),
    ("POST", "/s/{slug}/new"),
    ("POST", "/s/{slug}/join"),
    ("POST", "/s/{slug}/leave"),
    ("POST", "/s/{slug}/read"),
    ("GET", "/t/{topic}"),
    ("GET", "/t/{topic}/some-slug"),
    ("GET", "/t/{topic}/reply"),
    ("POST", "/t/{topic}/reply"),
    ("POST", "/drafts/reply:{topic}"),
    ("GET", "/mentions/reply:{topic}"),
    ("GET", "/p/{post}"),
    ("GET", "/p/{post}/quote"),
    ("GET", "/p/{post}/edit"),
    ("POST", "/p/{post}/edit"),
    ("GET", "/p/{post}/history"),
    ("POST", "/p/{post}/delete"),
    ("POST", "/p/{post}/restore"),
    ("POST", "/p/{post}/react"),
    ("GET", "/p/{post}/reactions"),
    ("GET", "/p/{post}/bookmark"),
    ("POST", "/p/{post}/bookmark"),
]


@pytest.mark.parametrize("role", ["guest", "outsider", "other_sysop"])
def test_private_sig_looks_exactly_like_a_missing_one(make_client, f, role: str) -> None:
    world = build(f, "private")
    client = make_client()
    if world.user(role) is not None:
        client.login(world.user(role).username)
    real = {"slug": world.sig.slug, "topic": world.topic.id, "post": world.reply.id}
    missing = {"slug": "no-such-sig", "topic": 999_999, "post": 999_999}
    data = {"title": "Probe title", "body": "probe body", "value": "approve"}
    for method, pattern in OUTSIDER_PROBES:
        answers = []
        for values in (real, missing):
            url = pattern.format(**values)
            response = client.get(url) if method == "GET" else client.form(url, data)
            location = response.headers.get("Location", "")
            answers.append((response.status_code, location.split("?")[0]))
        assert answers[0] == answers[1], f"{method} {pattern}: {answers}"
        assert answers[0][0] in (302, 404)


# --- archived SIGs, locked topics ----------------------------------------------------------


def test_archived_sig_is_readable_but_not_writable(client, f) -> None:
    root = f.sysop("root")
    ada = f.user("ada")
    sig = f.sig("old", members=[ada])
    topic = f.topic(ada, sig, "From the old days")
    post = f.reply(ada, topic, "still here")
    sig_services.set_archived(root, sig.id, True)
    client.login("ada")

    assert client.get(f"/s/{sig.slug}/").status_code == 200
    page = client.get(f"/t/{topic.id}")
    assert page.status_code == 200
    assert "archived" in page.get_data(as_text=True)
    assert "reply-form" not in page.get_data(as_text=True)

    before = dbstate.snapshot()
    refused = [
        client.form(f"/s/{sig.slug}/new", {"title": "Another", "body": "text"}),
        client.form(f"/t/{topic.id}/reply", {"body": "a reply"}),
        client.form(f"/p/{post.id}/edit", {"body": "changed"}),
    ]
    for response in refused:
        assert response.status_code == 403, response.status_code
        assert "archived" in response.get_data(as_text=True)
    assert dbstate.diff(before, dbstate.snapshot()) == []
    # Nobody joins an archived SIG either.
    bob = f.user("bob")
    with pytest.raises(Exception, match="cannot join"):
        sig_services.join_sig(bob, sig.id)


def _lock(topic: Topic) -> None:
    topic.locked_at = utcnow() - timedelta(minutes=1)
    db.session.commit()


def test_locked_topic_takes_replies_from_sysops_only(make_client, f) -> None:
    ada = f.user("ada")
    boss = f.user("boss")
    sig = f.sig("club", members=[ada], sysops=[boss])
    topic = f.topic(ada, sig, "Closed for now")
    _lock(topic)

    member = make_client()
    member.login("ada")
    page = member.get(f"/t/{topic.id}").get_data(as_text=True)
    assert "This topic is locked" in page and "reply-form" not in page
    assert member.get(f"/t/{topic.id}/reply").status_code == 403
    before = dbstate.count(Post)
    refused = member.form(f"/t/{topic.id}/reply", {"body": "let me in"})
    assert refused.status_code == 403
    assert "locked" in refused.get_data(as_text=True)
    assert dbstate.count(Post) == before

    sysop = make_client()
    sysop.login("boss")
    assert "reply-form" in sysop.get(f"/t/{topic.id}").get_data(as_text=True)
    done = sysop.form(f"/t/{topic.id}/reply", {"body": "sysop's last word"})
    assert done.status_code == 302
    assert dbstate.count(Post) == before + 1
    assert db.session.get(Topic, topic.id).post_count == 2


# --- the policy itself ----------------------------------------------------------------------


def test_sig_sysop_moderates_only_their_own_sig(f) -> None:
    from forum import permissions

    boss = f.user("boss")
    ada = f.user("ada")
    mine = f.sig("mine", members=[ada], sysops=[boss])
    theirs = f.sig("theirs", members=[ada, boss])
    assert permissions.is_sig_sysop(boss, mine)
    assert not permissions.is_sig_sysop(boss, theirs)
    post = f.first_post(f.topic(ada, theirs, "Not yours"))
    topic = db.session.get(Topic, post.topic_id)
    assert not permissions.can_edit_post(boss, post, topic, theirs)
    assert not permissions.can_delete_post(boss, post, topic, theirs)
    with pytest.raises(Exception, match="Only sysops"):
        topic_services.post_history(boss, post.id)


def test_post_checks_answer_as_the_rules_post_by_post(f) -> None:
    """A topic page asks PostChecks once for all its posts; its answers are the rules' asked
    post by post (the sysop's power, the author's edit and standing problems, flag_problem), for
    every kind of reader and post, in an open and in a locked topic."""
    from forum.moderation.posts import hide_post

    root = f.sysop("root")
    boss, ada, bob, out, mute = (f.user(name) for name in ("boss", "ada", "bob", "out", "mute"))
    sig = f.sig("club", members=[ada, bob, mute], sysops=[boss])
    topic = f.topic(ada, sig, "Mixed posts")
    posts = [f.first_post(topic), f.reply(bob, topic, "bob's reply")]
    posts.append(hide_post(boss, f.reply(bob, topic, "to be hidden").id, "rude"))
    deleted = f.reply(ada, topic, "to be deleted")
    topic_services.delete_post(ada, deleted.id)
    posts.append(deleted)
    mute.silenced_until = utcnow() + timedelta(days=1)
    db.session.commit()
    readers = [None, root, boss, ada, bob, out, mute]
    answers = set()
    for locked in (False, True):
        if locked:
            _lock(topic)
        for reader in readers:
            checks = permissions.PostChecks(reader, topic, sig)
            for post in posts:
                db.session.refresh(post)
                # The rules asked post by post, from the policy's own parts (can_edit_post and
                # can_delete_post ask PostChecks now, so they are no reference).
                own = reader is not None and post.user_id == reader.id
                alive = reader is not None and not post.is_deleted
                sysop = permissions.is_sig_sysop(reader, sig)
                expected = (
                    alive
                    and (sysop or (own and permissions._edit_problem(reader, topic, sig) is None)),
                    alive
                    and (sysop or (own and permissions.standing_problem(reader, sig) is None)),
                    permissions.flag_problem(reader, post, topic, sig) is None,
                )
                got = (checks.can_edit(post), checks.can_delete(post), checks.can_flag(post))
                assert got == expected, (reader and reader.username, post.id, locked)
                answers.add(got)
    # The matrix reaches every answer of each question.
    for question in range(3):
        assert {a[question] for a in answers} == {True, False}


def test_banned_sysop_loses_every_power(f) -> None:
    from forum import permissions

    root = f.sysop("root")
    boss = f.user("boss")
    sig = f.sig("club", sysops=[boss])
    root.banned_at = utcnow()
    boss.banned_at = utcnow()
    db.session.commit()
    assert not permissions.is_global_sysop(root)
    assert not permissions.is_sig_sysop(boss, sig)
    assert permissions.write_problem(boss, sig) is not None


# --- an id that exists but is invisible answers exactly like one that never existed --------

MISSING_ID = 987_654
# Every route that takes a post or a topic id. `{post}` and `{topic}` are filled with the
# invisible thing's ids, then with MISSING_ID.
ID_PROBES = [
    ("GET", "/p/{post}"),
    ("GET", "/p/{post}/quote"),
    ("GET", "/p/{post}/edit"),
    ("POST", "/p/{post}/edit"),
    ("GET", "/p/{post}/history"),
    ("GET", "/p/{post}/flag"),
    ("POST", "/p/{post}/flag"),
    ("POST", "/p/{post}/delete"),
    ("POST", "/p/{post}/restore"),
    ("POST", "/p/{post}/answer"),
    ("POST", "/p/{post}/react"),
    ("GET", "/p/{post}/reactions"),
    ("GET", "/p/{post}/bookmark"),
    ("POST", "/p/{post}/bookmark"),
    ("GET", "/t/{topic}/reply?quote={post}"),
    ("POST", "/mod/posts/{post}/hide"),
    ("POST", "/mod/posts/{post}/unhide"),
    ("POST", "/mod/posts/{post}/approve"),
    ("POST", "/mod/posts/{post}/reject"),
    ("POST", "/mod/posts/{post}/claim"),
    ("POST", "/mod/posts/{post}/unclaim"),
    ("POST", "/mod/posts/{post}/note"),
    ("POST", "/mod/posts/{post}/resolve"),
    ("GET", "/t/{topic}"),
    ("GET", "/t/{topic}/some-slug?page=1"),
    ("GET", "/t/{topic}/reply"),
    ("POST", "/t/{topic}/reply"),
    ("POST", "/t/{topic}/watch"),
    ("POST", "/t/{topic}/answer/clear"),
    ("GET", "/mod/topics/{topic}/move"),
    ("POST", "/mod/topics/{topic}/lock"),
]
PROBE_DATA = {
    "body": "probe body",
    "title": "Probe title",
    "reason": "spam",
    "outcome": "dismissed",
    "level": "watching",
    "emoji": "\U0001f44d",
}
_ID_IN_LINK = re.compile(
    r"(/(?:p|t|posts|topics|mail/c|mail/m|care)/|%2F(?:p|t|posts|topics|mail%2Fc|mail%2Fm|care)%2F"
    r"|quote%3D|quote=)(\d+)"
)
_TOKEN = re.compile(r'((?:name="csrf_token" value|name="csrf-token" content)=")[^"]+"')


def _invisible_things(f: Any, visibility: str) -> tuple[World, dict[str, tuple[int, int]]]:
    """The world of the matrix above plus posts and topics that exist but that a plain member
    of the SIG may not see: (post id, topic id) by what hides them."""
    from forum.moderation import services as mod

    from .mod_support import make_pending

    w = build(f, visibility)
    root, author = w.user("root"), w.user("author")
    hidden = f.reply(author, w.topic, "a reply a sysop hid")
    mod.hide_post(root, hidden.id, "rude")
    pending = make_pending(f.reply(author, w.topic, "a reply waiting for approval"))
    deleted = f.reply(author, w.topic, "a reply its author deleted")
    topic_services.delete_post(author, deleted.id)
    gone = f.topic(author, w.sig, "A topic a sysop deleted", "Its first post.")
    gone_reply = f.reply(author, gone, "a reply in the deleted topic")
    mod.delete_topic(root, gone.id, "duplicate")
    waiting = f.topic(author, w.sig, "A topic waiting for approval", "Held by the filter.")
    make_pending(f.first_post(waiting))
    return w, {
        "hidden post": (hidden.id, w.topic.id),
        "pending post": (pending.id, w.topic.id),
        "deleted post": (deleted.id, w.topic.id),
        "post in a deleted topic": (gone_reply.id, gone.id),
        "pending topic": (waiting.first_post_id, waiting.id),
        "post in the SIG": (w.reply.id, w.topic.id),
    }


def _answer(
    client: Any, method: str, url: str, accept: str, ids: tuple[int, ...], token: str
) -> tuple:
    headers = {"Accept": accept}
    with client.session_transaction() as session:
        session.pop("_flashes", None)  # a guest's "Log in to see that page", not yet shown
    if method == "GET":
        response = client.get(url, headers=headers)
    else:
        response = client.form(url, {**PROBE_DATA, "csrf_token": token}, headers=headers)
    body = _TOKEN.sub(r'\1TOKEN"', response.get_data(as_text=True))
    location = response.headers.get("Location", "")
    # The id itself shows in links back to the page (?next=/p/<id>): compare without it.
    numbers = {str(number) for number in ids}

    def blank(m: re.Match[str]) -> str:
        return m.group(1) + ("ID" if m.group(2) in numbers else m.group(2))

    return response.status_code, _ID_IN_LINK.sub(blank, location), _ID_IN_LINK.sub(blank, body)


def _log_in(client: Any, user: Any) -> None:
    client.login(user.username)
    client.get("/settings")  # shows (and so ends) the welcome message


def _assert_same_as_missing(
    client: Any,
    label: str,
    ids: tuple[int, int],
    topic_seen: bool,
    missing_answers: dict[tuple[str, str, str, int], tuple] | None = None,
) -> None:
    """Every probe of the invisible post (or topic) answers exactly as for MISSING_ID. When
    only the post is hidden, its topic is one the member sees: the probes keep the topic and
    leave out those of the topic alone. `missing_answers` keeps the answers for MISSING_ID
    from one call to the next of the same client (they are the same for every label)."""
    if missing_answers is None:
        missing_answers = {}
    post_id, topic_id = ids
    other_topic = topic_id if topic_seen else MISSING_ID
    # One form token for every probe (not a page fetched for each): the session keeps it, and a
    # token it stopped taking would answer 400, which the probes refuse below.
    token = client.csrf_token()
    for method, pattern in ID_PROBES:
        if topic_seen and "{post}" not in pattern:
            continue
        for accept in ("text/html", "application/json"):
            real = pattern.format(post=post_id, topic=topic_id)
            missing = pattern.format(post=MISSING_ID, topic=other_topic)
            seen = _answer(client, method, real, accept, ids, token)
            key = (method, missing, accept, other_topic)
            if key not in missing_answers:
                missing_answers[key] = _answer(
                    client, method, missing, accept, (MISSING_ID, other_topic), token
                )
            unseen = missing_answers[key]
            where = f"{label}: {method} {real} ({accept})"
            assert seen[:2] == unseen[:2], f"{where}: {seen[:2]} against {unseen[:2]}"
            assert seen[2] == unseen[2], f"{where}: " + "".join(
                difflib.unified_diff(unseen[2].splitlines(True), seen[2].splitlines(True), n=0)
            )
            # 403: what the member may not do to the topic they see (reply without joining).
            assert seen[0] in (302, 403, 404), (where, seen[:2])


@pytest.mark.parametrize(
    ("visibility", "role"),
    [("private", "outsider"), ("private", "other_sysop"), ("private", "guest")],
)
def test_posts_and_topics_of_a_private_sig_answer_like_missing_ones(
    make_client, f, visibility: str, role: str
) -> None:
    w, things = _invisible_things(f, visibility)
    client = make_client()
    user = w.user(role)
    if user is not None:
        _log_in(client, user)
    missing: dict[tuple[str, str, str, int], tuple] = {}
    for label, ids in things.items():
        _assert_same_as_missing(client, label, ids, topic_seen=False, missing_answers=missing)


@pytest.mark.parametrize("visibility", ["public", "members"])
def test_invisible_posts_and_topics_answer_like_missing_ones(make_client, f, visibility) -> None:
    # A member of the SIG, and (members-only SIG) a member who is not in it: a hidden,
    # pending or deleted post, a deleted topic and one whose first post waits for approval
    # do not exist for them. (A visible post of a members-only SIG is a 403 with a way in.)
    w, things = _invisible_things(f, visibility)
    del things["post in the SIG"]
    topic_seen = {"hidden post", "pending post", "deleted post"}
    roles = ["member"] + (["outsider"] if visibility == "members" else [])
    for role in roles:
        client = make_client()
        _log_in(client, w.user(role))
        missing: dict[tuple[str, str, str, int], tuple] = {}
        for label, ids in things.items():
            # Outsiders of a members-only SIG see that its topics exist (a 403 with a way in).
            seen = label in topic_seen
            _assert_same_as_missing(
                client, f"{role}: {label}", ids, topic_seen=seen, missing_answers=missing
            )


# --- rules the pages used to decide for themselves -----------------------------------------


@pytest.mark.parametrize("visibility", ["public", "members", "private"])
def test_who_may_join_or_ask_to_join(f, visibility: str) -> None:
    """Public and members-only SIGs are joined at once, private ones by request; members,
    guests, banned members and archived SIGs neither."""
    from forum import permissions

    w = build(f, visibility)
    private = visibility == "private"
    banned = f.user("banned")
    banned.banned_at = utcnow()
    db.session.commit()
    users = {**w.users, "banned": banned}
    expected = {
        # role: (can_join_sig, can_request_to_join)
        "guest": (False, False),
        "member": (False, False),
        "outsider": (not private, private),
        "sig_sysop": (False, False),  # made a member when appointed
        "other_sysop": (not private, private),
        "root": (not private, private),
        "banned": (False, False),
    }
    got = {
        role: (
            permissions.can_join_sig(users[role], w.sig),
            permissions.can_request_to_join(users[role], w.sig),
        )
        for role in expected
    }
    assert got == expected
    w.sig.archived_at = utcnow()
    db.session.commit()
    assert not permissions.can_join_sig(users["outsider"], w.sig)
    assert not permissions.can_request_to_join(users["outsider"], w.sig)
    # The verb asks the same policy: nothing is filed for an archived SIG.
    assert sig_services.request_to_join(users["outsider"], w.sig.slug) is None


def test_who_may_release_a_claim(app, browser) -> None:
    """The sysop who claimed a flagged post, or the global sysop; the page offers the button to
    them only, and the verb refuses the others."""
    from forum import permissions
    from forum.errors import Forbidden
    from forum.moderation import services as mod

    from .mod_support import build_world

    w = build_world()
    second = w.member  # made a second sysop of the SIG below
    sig_services.set_sig_sysop(w.root, w.sig.id, second.id, True)
    mod.flag_post(w.victim, w.post.id, "spam")
    mod.claim_flag(w.sig_sysop, w.post.id)
    claimer = w.sig_sysop.id
    assert permissions.can_release_claim(w.sig_sysop, claimer)
    assert permissions.can_release_claim(w.root, claimer)
    assert not permissions.can_release_claim(second, claimer)
    assert not permissions.can_release_claim(None, claimer)
    assert not permissions.can_release_claim(w.sig_sysop, None)
    release = f"/mod/posts/{w.post.id}/unclaim"
    assert release in browser(w.sig_sysop).text("/mod")
    assert release in browser(w.root).text("/mod")
    assert release not in browser(second).text("/mod")
    with pytest.raises(Forbidden):
        mod.unclaim_flag(second, w.post.id)
    mod.unclaim_flag(w.root, w.post.id)


def test_a_topic_awaiting_approval_is_marked_from_its_first_post(client, f) -> None:
    """The listing's "awaiting approval" and the flash after starting a topic come from the first
    post's status (the read model), not from the topic's counters."""
    from forum import hooks
    from forum.hooks import Screening
    from forum.sigs import queries as sig_queries
    from forum.topics import queries as topic_queries

    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    shown = f.topic(ada, sig, "Shown at once")
    hooks.screen_post.provide(client.application, lambda a, s, t: Screening("pending"))
    waiting = f.topic(ada, sig, "Waits for a sysop")
    assert not topic_queries.awaits_approval(shown)
    assert topic_queries.awaits_approval(waiting)
    rows = {r.topic.title: r.awaits_approval for r in sig_queries.sig_page(ada, "retro").topics}
    assert rows == {"Shown at once": False, "Waits for a sysop": True}
    client.login("ada")
    response = client.post(
        "/s/retro/new",
        data={"title": "Another wait", "body": "Held.", "csrf_token": client.csrf_token()},
        follow_redirects=True,
    )
    assert "waiting for a sysop" in response.get_data(as_text=True)


# --- private mail: a conversation is its participants' alone ---------------------------------
# Roles: a guest, a participant, a member outside the conversation, a SIG sysop, the global
# sysop, and a former participant who left. Nobody but the participants reads or touches a
# conversation, the global sysop included; to everyone else it is a 404 like a missing one.
MAIL_ROLES = ("guest", "participant", "outsider", "sig_sysop", "root", "former")
MAIL_PRIVATE = "L 200 404 404 404 404"
MAIL_WRITE = "L 302 404 404 404 404"
MAIL_OPEN = "L 200 200 200 200 200"


@dataclass
class MailWorld:
    f: Any
    conversation_id: int
    message_id: int  # written by the other participant
    users: dict[str, User | None]

    def newcomer(self) -> str:
        return self.f.user().username


def build_mail(f: Any) -> MailWorld:
    from forum.messages import services as mail

    root = f.sysop("root")
    writer = f.user("writer")
    participant = f.user("participant")
    former = f.user("former")
    outsider = f.user("outsider")
    sig_sysop = f.user("sigsysop")
    f.sig("lair", name=SIG_NAME, sysops=[sig_sysop])
    conversation = mail.start_conversation(
        writer, "participant, former", TOPIC_TITLE, "The words of the secret plans."
    )
    mail.leave_conversation(former, conversation.id)
    users: dict[str, User | None] = {
        "guest": None,
        "participant": participant,
        "outsider": outsider,
        "sig_sysop": sig_sysop,
        "root": root,
        "former": former,
    }
    return MailWorld(f, conversation.id, conversation.last_message_id, users)


MAIL_ROUTES = [
    ("mailbox", "GET", lambda w: "/mail", MAIL_OPEN, lambda w: {}),
    ("new conversation form", "GET", lambda w: "/mail/new?to=writer", MAIL_OPEN, lambda w: {}),
    ("conversation", "GET", lambda w: f"/mail/c/{w.conversation_id}", MAIL_PRIVATE, lambda w: {}),
    (
        "conversation page 1",
        "GET",
        lambda w: f"/mail/c/{w.conversation_id}?page=1",
        MAIL_PRIVATE,
        lambda w: {},
    ),
    (
        "reply",
        "POST",
        lambda w: f"/mail/c/{w.conversation_id}/reply",
        MAIL_WRITE,
        lambda w: {"body": "let me in"},
    ),
    (
        "add a member",
        "POST",
        lambda w: f"/mail/c/{w.conversation_id}/add",
        MAIL_WRITE,
        lambda w: {"username": w.newcomer()},
    ),
    ("archive", "POST", lambda w: f"/mail/c/{w.conversation_id}/archive", MAIL_WRITE, lambda w: {}),
    (
        "report form",
        "GET",
        lambda w: f"/mail/m/{w.message_id}/report",
        MAIL_PRIVATE,
        lambda w: {},
    ),
    (
        "report",
        "POST",
        lambda w: f"/mail/m/{w.message_id}/report",
        MAIL_WRITE,
        lambda w: {"reason": "spam"},
    ),
    ("leave", "POST", lambda w: f"/mail/c/{w.conversation_id}/leave", MAIL_WRITE, lambda w: {}),
]


@pytest.mark.parametrize("route", MAIL_ROUTES, ids=[r[0] for r in MAIL_ROUTES])
def test_private_mail_route_matrix(make_client, f, route) -> None:
    name, method, url_of, expect, data = route
    world = worlds.once("mail", lambda: build_mail(f))
    expected = dict(zip(MAIL_ROLES, expect.split(), strict=True))
    failures = []
    for role in MAIL_ROLES:
        client = make_client()
        user = world.users[role]
        if user is not None:
            client.login(user.username)
        url, payload = url_of(world), data(world)
        db.session.expire_all()
        before = dbstate.snapshot()
        if method == "GET":
            response = client.get(url)
        else:
            response = client.form(url, payload)
        after = dbstate.snapshot()
        outcome = _outcome(response, method, before, after)
        if outcome != expected[role]:
            failures.append(f"{role}: expected {expected[role]}, got {outcome} for {url}")
        if response.status_code == 404:
            body = response.get_data(as_text=True)
            assert TOPIC_TITLE not in body and "secret plans" not in body, f"{role} sees a leak"
        if outcome in ("403", "404", "L", "400"):
            assert not dbstate.diff(before, after), f"{role} was refused but something changed"
    assert not failures, "\n".join(failures)


MAIL_PROBES = [
    ("GET", "/mail/c/{c}"),
    ("GET", "/mail/c/{c}?page=2"),
    ("POST", "/mail/c/{c}/reply"),
    ("POST", "/mail/c/{c}/add"),
    ("POST", "/mail/c/{c}/archive"),
    ("POST", "/mail/c/{c}/leave"),
    ("GET", "/mail/m/{m}/report"),
    ("POST", "/mail/m/{m}/report"),
]


@pytest.mark.parametrize("role", ["outsider", "sig_sysop", "root", "former"])
def test_a_conversation_looks_exactly_like_a_missing_one(make_client, f, role: str) -> None:
    world = build_mail(f)
    client = make_client()
    _log_in(client, world.users[role])
    token = client.csrf_token()  # (one for every probe: see _assert_same_as_missing)
    ids = (world.conversation_id, world.message_id)
    for method, pattern in MAIL_PROBES:
        for accept in ("text/html", "application/json"):
            real = pattern.format(c=world.conversation_id, m=world.message_id)
            missing = pattern.format(c=MISSING_ID, m=MISSING_ID)
            seen = _answer(client, method, real, accept, ids, token)
            unseen = _answer(client, method, missing, accept, (MISSING_ID,), token)
            where = f"{role}: {method} {real} ({accept})"
            assert seen[0] == 404 and seen[:2] == unseen[:2], (where, seen[:2], unseen[:2])
            assert seen[2] == unseen[2], f"{where}: " + "".join(
                difflib.unified_diff(unseen[2].splitlines(True), seen[2].splitlines(True), n=0)
            )


# --- trust levels: what each level may write, through the pages ------------------------------
# Each trust level (and the sysops, whatever theirs) against each limit of new accounts, tried
# through the pages as the member would: "302" done (the database changed), "400" the form
# again with the reason, "403" refused; every refusal leaves the database as it was. A new
# account that is a SIG's sysop is not limited in that SIG, and writes private mail.
TRUST_ROLES = ("new", "basic", "member", "regular", "new_sig_sysop", "root")
THREE_LINKS = "see https://a.example, https://b.example and https://c.example"


@dataclass
class TrustWorld:
    f: Any
    sig: Sig
    topic: Topic
    users: dict[str, User] = field(default_factory=dict)


def _trust_world(f: Any) -> TrustWorld:
    from forum.accounts.models import TL_BASIC, TL_MEMBER, TL_NEW, TL_REGULAR
    from forum.admin import services as admin_services

    root = f.sysop("root")
    users = {
        "new": f.user("newbie", trust_level=TL_NEW),
        "basic": f.user("basic", trust_level=TL_BASIC),
        "member": f.user("trusted", trust_level=TL_MEMBER),
        "regular": f.user("regular", trust_level=TL_REGULAR),
        "new_sig_sysop": f.user("newsysop", trust_level=TL_NEW),
        "root": root,
    }
    for name in ("bob", "cyd", "dee"):
        f.user(name)
    sig = f.sig("square", members=[u for k, u in users.items() if k != "root"])
    sig_services.set_sig_sysop(root, sig.id, users["new_sig_sysop"].id, True)
    topic = f.topic(users["basic"], sig, "The town square", "Talk here.")
    admin_services.update_settings(
        root, {"new_posts_per_day": "2", "new_topics_per_day": "1", "new_max_links": "2"}
    )
    return TrustWorld(f=f, sig=sig, topic=topic, users=users)


@dataclass(frozen=True)
class TrustAction:
    name: str
    method: str
    url: Callable[[TrustWorld, User], str]
    expect: str  # one outcome per TRUST_ROLES
    data: Callable[[TrustWorld], dict[str, str]] = lambda w: {}
    # Done as the member before the request (their posts so far today).
    prepare: Callable[[TrustWorld, User], None] = lambda w, u: None
    # A limit of new accounts: its refusal says what lifts it.
    new_account_limit: bool = True


def _posts_today(w: TrustWorld, user: User) -> None:
    w.f.reply(user, w.topic, "my first words today")
    w.f.reply(user, w.topic, "and my second")


TRUST_ACTIONS = [
    TrustAction(
        "reply with three links",
        "POST",
        lambda w, u: f"/t/{w.topic.id}/reply",
        "400 302 302 302 302 302",
        data=lambda w: {"body": THREE_LINKS},
    ),
    TrustAction(
        "new topic with three links",
        "POST",
        lambda w, u: f"/s/{w.sig.slug}/new",
        "400 302 302 302 302 302",
        data=lambda w: {"title": "Links I like", "body": THREE_LINKS},
    ),
    TrustAction(
        "reply mentioning three members",
        "POST",
        lambda w, u: f"/t/{w.topic.id}/reply",
        "400 302 302 302 302 302",
        data=lambda w: {"body": "hello @bob, @cyd and @dee"},
    ),
    TrustAction(
        "a third post in a day",
        "POST",
        lambda w, u: f"/t/{w.topic.id}/reply",
        "403 302 302 302 302 302",
        data=lambda w: {"body": "one more thing"},
        prepare=_posts_today,
    ),
    TrustAction(
        "a second topic in a day",
        "POST",
        lambda w, u: f"/s/{w.sig.slug}/new",
        "403 302 302 302 302 302",
        data=lambda w: {"title": "Another topic", "body": "Its words."},
        prepare=lambda w, u: w.f.topic(u, w.sig, "My first topic today"),
    ),
    TrustAction(
        "write private mail",
        "POST",
        lambda w, u: "/mail/new",
        "403 302 302 302 302 302",
        data=lambda w: {"to": "bob", "subject": "Hello", "body": "Hi Bob"},
    ),
    TrustAction(
        "set a member's trust level",
        "POST",
        lambda w, u: f"/mod/u/{w.f.user().username}/trust",
        "403 403 403 403 403 302",
        data=lambda w: {"level": "2", "locked": "y"},
        new_account_limit=False,
    ),
    TrustAction(
        "see a member's trust level",
        "GET",
        lambda w, u: "/u/bob",
        "- - - - shown shown",
        new_account_limit=False,
    ),
]


@pytest.mark.parametrize("action", [pytest.param(a, id=a.name) for a in TRUST_ACTIONS])
def test_trust_level_matrix(make_client, f, action: TrustAction) -> None:
    world = _trust_world(f)
    expected = dict(zip(TRUST_ROLES, action.expect.split(), strict=True))
    failures = []
    for role in TRUST_ROLES:
        user = world.users[role]
        action.prepare(world, user)
        client = make_client()
        client.login(user.username)
        url = action.url(world, user)
        db.session.expire_all()
        before = dbstate.snapshot()
        if action.method == "GET":
            response = client.get(url)
            shown = "Trust level:" in response.get_data(as_text=True)
            outcome = "shown" if shown else "-"
        else:
            response = client.form(url, action.data(world))
            outcome = _outcome(response, "POST", before, dbstate.snapshot())
        if outcome != expected[role]:
            failures.append(f"{role}: expected {expected[role]}, got {outcome} for {url}")
        if outcome in ("400", "403"):
            text = response.get_data(as_text=True)
            if role == "new" and action.new_account_limit:
                assert "It lifts once you have" in text, f"{role}: no word of what lifts it"
            assert not dbstate.diff(before, dbstate.snapshot()), f"{role} was refused but wrote"
    assert not failures, "\n".join(failures)


def test_the_policy_answers_for_images_and_flags_by_level(f) -> None:
    from forum import permissions
    from forum.accounts.models import TL_BASIC, TL_MEMBER, TL_NEW, TL_REGULAR

    root = f.sysop("root")
    levels = {lvl: f.user(trust_level=lvl) for lvl in (TL_NEW, TL_BASIC, TL_MEMBER, TL_REGULAR)}
    sysop_new = f.user(trust_level=TL_NEW)
    sig = f.sig("square", sysops=[sysop_new])
    assert [permissions.max_images_per_post(levels[lvl], sig) for lvl in sorted(levels)] == [
        0, None, None, None,
    ]  # fmt: skip
    assert permissions.max_images_per_post(sysop_new, sig) is None
    assert permissions.max_images_per_post(root) is None
    assert permissions.max_images_per_post(None) is None
    assert [permissions.flag_weight(levels[lvl]) for lvl in sorted(levels)] == [0, 2, 3, 4]
    assert permissions.flag_weight(root) == 4


# --- personal access tokens (the JSON API; its route matrix is tests/test_api.py) ------------


def test_token_scopes_follow_the_role(f) -> None:
    from forum import permissions

    root = f.sysop("root")
    boss = f.user("boss")
    ada = f.user("ada")
    f.sig("club", members=[ada], sysops=[boss])
    assert permissions.token_scopes_for(None) == ()
    assert permissions.token_scopes_for(ada) == ("read", "write")
    assert permissions.token_scopes_for(boss) == ("read", "write", "moderate")
    assert permissions.token_scopes_for(root) == ("read", "write", "moderate", "admin")
    ada.banned_at = utcnow()
    db.session.commit()
    assert permissions.token_scopes_for(ada) == ()


def test_a_scope_is_a_ceiling_never_a_grant() -> None:
    from forum import permissions
    from forum.errors import Forbidden

    # A signed-in browser (None) acts with whatever its member may do.
    assert permissions.scope_problem(None, "admin") is None
    assert permissions.scope_problem(frozenset({"read", "write"}), "write") is None
    assert "moderate" in (permissions.scope_problem(frozenset({"read"}), "moderate") or "")
    assert permissions.scope_problem(frozenset(), "read")
    with pytest.raises(Forbidden):
        permissions.require_scope(frozenset({"read"}), "write")


# --- member care: concerns, duty, pages, the welcome mark ---------------------------------------
# Roles: a guest, the member who wrote the concern (or paged), another member, the SIG's sysop
# (on duty), the sysop of another SIG, the global sysop, and a sysop dismissed from the SIG
# after the concern was written. A concern is its member's and its sysops' alone: a 404 to
# everyone else, like one that does not exist; a dismissed sysop loses it at once.
CARE_ROLES = ("guest", "member", "outsider", "sig_sysop", "other_sysop", "root", "removed")
CARE_READ = "L 200 404 200 404 200 404"
CARE_WRITE = "L 302 404 302 404 302 404"
CARE_SYSOPS = "L 403 404 302 404 302 404"


@dataclass
class CareWorld:
    world: World

    @property
    def users(self) -> dict[str, User | None]:
        return self.world.users

    def concern(self, resolved: bool = False) -> Any:
        from forum.care import services as care

        concern = care.write_to_sysops(
            self.users["member"], self.world.sig.id, TOPIC_TITLE, "the secret plans' words"
        )
        if resolved:
            care.set_state(self.users["sig_sysop"], concern.id, "resolved")
        return concern

    def page(self) -> Any:
        from forum.care import services as care
        from forum.care.models import SysopPage

        with transaction():
            page = SysopPage(
                sig_id=self.world.sig.id,
                member_id=self.users["member"].id,  # type: ignore[union-attr]
                body="help with the secret plans",
                expires_at=utcnow() + timedelta(minutes=5),
            )
            db.session.add(page)
        assert care.on_duty_ids(self.world.sig.id)
        return page


def build_care(f: Any, visibility: str) -> CareWorld:
    from forum.care import services as care

    world = build(f, visibility)
    removed = f.user("removed")
    f.join(removed, world.sig)
    root = world.users["root"]
    sig_services.set_sig_sysop(root, world.sig.id, removed.id, True)
    permissions.forget_memberships(removed)
    care.set_duty(world.users["sig_sysop"], world.sig.id, True)
    world.users["removed"] = removed
    care_world = CareWorld(world)
    care_world.first = care_world.concern()  # type: ignore[attr-defined]
    sig_services.set_sig_sysop(root, world.sig.id, removed.id, False)
    return care_world


_deadlines = itertools.count(2)


def _hours() -> dict[str, str]:
    """Deadlines no role set before (the same ones again would change nothing)."""
    hours = next(_deadlines)
    return {"response_hours": str(hours), "escalate_hours": str(hours * 2)}


CARE_ROUTES = [
    ("concern", "GET", lambda w: f"/care/{w.concern().id}", CARE_READ, lambda w: {}),
    ("concern in the mailbox", "GET", lambda w: f"/mail/c/{w.concern().conversation_id}",
     "L 302 404 302 404 302 404", lambda w: {}),
    ("reply", "POST", lambda w: f"/care/{w.concern().id}/reply", CARE_WRITE,
     lambda w: {"body": "more words"}),
    ("note", "POST", lambda w: f"/care/{w.concern().id}/note", CARE_SYSOPS,
     lambda w: {"note-body": "a note"}),
    ("resolve", "POST", lambda w: f"/care/{w.concern().id}/state", CARE_SYSOPS,
     lambda w: {"value": "resolved"}),
    ("assign", "POST", lambda w: f"/care/{w.concern().id}/assign", CARE_SYSOPS,
     lambda w: {"assignee": "sigsysop"}),
    ("it helped", "POST", lambda w: f"/care/{w.concern(resolved=True).id}/rate",
     "L 302 404 302- 404 302- 404", lambda w: {"value": "yes"}),
    ("write form", "GET", lambda w: f"/s/{w.world.sig.slug}/sysops/write",
     "L 200 200 403 200 403 200", lambda w: {}),
    ("write", "POST", lambda w: f"/s/{w.world.sig.slug}/sysops/write",
     "L 302 302 403 302 403 302", lambda w: {"subject": "Hello", "body": "A question."}),
    ("write about a post", "POST", lambda w: f"/s/{w.world.sig.slug}/sysops/write",
     "L 302 302 403 302 403 302",
     lambda w: {"subject": "Hello", "body": "This post.", "post": str(w.world.reply.id)}),
    ("write to the site's sysops", "POST", lambda w: "/care/write",
     "L 302 302 302 302 403 302", lambda w: {"subject": "Hello", "body": "A question."}),
    ("my concerns", "GET", lambda w: "/care", "L 200 200 200 200 200 200", lambda w: {}),
    ("sysops' inbox", "GET", lambda w: "/mod/concerns", "L 404 404 200 200 200 404",
     lambda w: {}),
    ("a SIG's inbox", "GET", lambda w: f"/mod/concerns?sig={w.world.sig.slug}",
     "L 404 404 200 404 200 404", lambda w: {}),
    ("go on duty", "POST", lambda w: f"/s/{w.world.sig.slug}/duty",
     "L 302- 302- 302 302- 302 302-", lambda w: {"value": "on"}),
    ("deadlines", "POST", lambda w: f"/s/{w.world.sig.slug}/care/deadlines",
     "L 403 403 302 403 302 403", lambda w: _hours()),
    ("page", "POST", lambda w: f"/s/{w.world.sig.slug}/page",
     "L 302 302 403 302 403 302", lambda w: {"body": "help"}),
    ("page status", "GET", lambda w: f"/care/pages/{w.page().id}",
     "L 200 404 200 404 200 404", lambda w: {}),
    ("take a page", "POST", lambda w: f"/care/pages/{w.page().id}/take",
     "L 302- 404 302 404 302 404", lambda w: {}),
    ("welcomed", "POST", lambda w: "/pulse/welcome", "L 302- 302- 302 302- 302 302-",
     lambda w: {"sig_id": str(w.world.sig.id), "user_id": str(w.world.fresh_member().id)}),
]  # fmt: skip


@pytest.mark.parametrize("route", CARE_ROUTES, ids=[r[0] for r in CARE_ROUTES])
def test_care_route_matrix(make_client, f, route) -> None:
    name, method, url_of, expect, data = route
    world = build_care(f, "public")
    expected = dict(zip(CARE_ROLES, expect.split(), strict=True))
    failures = []
    for role in CARE_ROLES:
        client = make_client()
        user = world.users[role]
        if user is not None:
            client.login(user.username)
        url, payload = url_of(world), data(world)
        db.session.expire_all()
        before = dbstate.snapshot()
        if method == "GET":
            response = client.get(url)
        else:
            response = client.form(url, payload)
        after = dbstate.snapshot()
        outcome = _outcome(response, method, before, after)
        if outcome != expected[role]:
            failures.append(f"{role}: expected {expected[role]}, got {outcome} for {url}")
        if response.status_code == 404:
            body = response.get_data(as_text=True)
            assert TOPIC_TITLE not in body and "secret plans" not in body, f"{role} sees a leak"
        if outcome in ("403", "404", "L", "400"):
            changed = set(dbstate.diff(before, after)) - {"topic_reads", "conversation_members"}
            assert not changed, f"{role} was refused but {changed} changed"
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("visibility", ["members", "private"])
def test_writing_to_a_sigs_sysops_follows_its_visibility(make_client, f, visibility) -> None:
    world = build_care(f, visibility)
    expected = {"members": "200", "private": "404"}[visibility]
    client = make_client()
    client.login("outsider")
    assert str(client.get(f"/s/{world.world.sig.slug}/sysops/write").status_code) == expected
    client = make_client()
    client.login("member")
    assert client.get(f"/s/{world.world.sig.slug}/sysops/write").status_code == 200


@pytest.mark.parametrize("role", ["outsider", "other_sysop", "removed"])
def test_a_concern_looks_exactly_like_a_missing_one(make_client, f, role: str) -> None:
    world = build_care(f, "public")
    concern = world.first  # type: ignore[attr-defined]
    client = make_client()
    _log_in(client, world.users[role])
    token = client.csrf_token()  # (one for every probe: see _assert_same_as_missing)
    probes = [
        ("GET", "/care/{c}"),
        ("POST", "/care/{c}/reply"),
        ("POST", "/care/{c}/note"),
        ("POST", "/care/{c}/state"),
        ("POST", "/care/{c}/assign"),
        ("POST", "/care/{c}/rate"),
    ]
    for method, pattern in probes:
        for accept in ("text/html", "application/json"):
            real = pattern.format(c=concern.id)
            missing = pattern.format(c=MISSING_ID)
            seen = _answer(client, method, real, accept, (concern.id,), token)
            unseen = _answer(client, method, missing, accept, (MISSING_ID,), token)
            where = f"{role}: {method} {real} ({accept})"
            assert seen[0] == 404 and seen[:2] == unseen[:2], (where, seen[:2], unseen[:2])
            assert seen[2] == unseen[2], where
