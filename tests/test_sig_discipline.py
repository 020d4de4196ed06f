"""SIG discipline that holds: a SIG suspension or ban lives apart from the membership, so
leaving and re-joining changes nothing; a ban takes the member out of the SIG, keeps them out,
and (unless the SIG is public) out of its pages, search results and notifications."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from forum import permissions
from forum.errors import Conflict, Forbidden, NotFound
from forum.extensions import db
from forum.moderation import services as mod
from forum.moderation.models import ModAction
from forum.notifications.models import Notification
from forum.search import indexer
from forum.search.backend import WhooshBackend
from forum.sigs.models import Membership, SigDiscipline
from forum.timeutil import utcnow
from forum.topics.models import Post

from .mod_support import build_world

RESULT_RE = re.compile(r'class="search-result-title"><a href="([^"]+)">')


@pytest.fixture(autouse=True)
def index(app: Flask, tmp_path: Path) -> Any:
    app.config["INDEX_DIR"] = str(tmp_path / "index")
    indexer.replace_backend(app, WhooshBackend(app.config["INDEX_DIR"]))
    yield indexer.get_backend(app)
    indexer.get_backend(app).close()


def _is_member(user_id: int, sig_id: int) -> bool:
    return (
        db.session.scalar(
            select(Membership.id).where(Membership.user_id == user_id, Membership.sig_id == sig_id)
        )
        is not None
    )


def _actions() -> list[str]:
    return list(db.session.scalars(select(ModAction.action).order_by(ModAction.id)))


def _suspend(b: Any, sig_id: int, reason: str = "Cool off.") -> Any:
    return b.form(
        "/mod/u/author/suspend",
        {"suspend-days": "5", "suspend-reason": reason, "suspend-sig": str(sig_id)},
    )


def _ban(b: Any, sig_id: int, reason: str = "Trolling again.") -> Any:
    response = b.form(
        "/mod/u/author/remove",
        {"remove-sig": str(sig_id), "remove-reason": reason, "remove-ban": "y"},
    )
    return response


def test_a_sig_suspension_holds_after_leaving_and_joining_again(app, browser):
    w = build_world()
    sysop = browser(w.sig_sysop)
    assert _suspend(sysop, w.sig.id).status_code == 302
    author = browser(w.author)
    assert author.form(f"/s/{w.sig.slug}/leave").status_code == 302
    assert not _is_member(w.author.id, w.sig.id)
    assert author.form(f"/s/{w.sig.slug}/join").status_code == 302
    assert _is_member(w.author.id, w.sig.id)
    response = author.form(f"/t/{w.topic.id}/reply", {"body": "Am I back in business?"})
    assert response.status_code in (400, 403)
    assert "You are suspended in Main until" in response.get_data(as_text=True)
    assert db.session.scalar(select(Post.id).where(Post.body_raw.like("Am I back%"))) is None
    # The sysop still sees it on the member's panel, after the leave and the re-join.
    panel = sysop.text("/mod/u/author")
    assert "Suspended in Main until" in panel and "Cool off." in panel
    # Lifting it (from the panel's button) lets the member write again.
    assert (
        sysop.form(
            "/mod/u/author/lift", {"lift-kind": "suspension", "lift-sig": str(w.sig.id)}
        ).status_code
        == 302
    )
    assert author.form(f"/t/{w.topic.id}/reply", {"body": "Back again."}).status_code == 302
    assert _actions()[-2:] == ["suspend_member", "lift_suspension"]


def test_a_sig_ban_takes_the_member_out_and_keeps_them_out(app, browser):
    w = build_world()
    sysop = browser(w.sig_sysop)
    assert _ban(sysop, w.sig.id).status_code == 302
    assert not _is_member(w.author.id, w.sig.id)
    ban = db.session.scalar(select(SigDiscipline))
    assert (ban.user_id, ban.sig_id, ban.kind, ban.by_id, ban.reason) == (
        w.author.id,
        w.sig.id,
        "ban",
        w.sig_sysop.id,
        "Trolling again.",
    )
    entry = db.session.scalar(select(ModAction).where(ModAction.action == "ban_from_sig"))
    assert (entry.sig_id, entry.target_user_id, entry.actor_id) == (
        w.sig.id,
        w.author.id,
        w.sig_sysop.id,
    )
    author = browser(w.author)
    response = author.form(f"/s/{w.sig.slug}/join")
    assert not _is_member(w.author.id, w.sig.id)
    assert "You are banned from Main" in author.text(f"/s/{w.sig.slug}/")
    assert response.status_code in (302, 400, 403)
    assert "You are banned from Main" in author.text("/settings")
    # The member was told, in their notifications.
    assert "A sysop banned you in Main" in author.text("/notifications")
    panel = sysop.text("/mod/u/author")
    assert "Banned from Main since" in panel and "Trolling again." in panel
    # The global sysop cannot appoint them around the ban either.
    from forum.sigs import services as sigs

    with pytest.raises(Conflict, match="banned"):
        sigs.set_sig_sysop(w.root, w.sig.id, w.author.id, True)
    # Lifted: they may join again (they are not put back by it).
    sysop.form("/mod/u/author/lift", {"lift-kind": "sig_ban", "lift-sig": str(w.sig.id)})
    assert not _is_member(w.author.id, w.sig.id)
    assert author.form(f"/s/{w.sig.slug}/join").status_code == 302
    assert _is_member(w.author.id, w.sig.id)
    assert _actions()[-2:] == ["ban_from_sig", "lift_sig_ban"]


def test_a_sysop_removes_a_member_without_a_ban_and_it_is_logged(app, browser):
    w = build_world()
    sysop = browser(w.sig_sysop)
    response = sysop.form(
        "/mod/u/author/remove", {"remove-sig": str(w.sig.id), "remove-reason": "Inactive."}
    )
    assert response.status_code == 302
    assert not _is_member(w.author.id, w.sig.id)
    assert db.session.scalar(select(SigDiscipline.id)) is None
    assert _actions()[-1] == "remove_from_sig"
    assert "A sysop removed you from Main" in browser(w.author).text("/notifications")
    assert browser(w.author).form(f"/s/{w.sig.slug}/join").status_code == 302
    assert _is_member(w.author.id, w.sig.id)


def test_a_private_sig_ban_refuses_a_new_join_request(app, browser):
    w = build_world("private")
    _ban(browser(w.sig_sysop), w.sig.id)
    from forum.sigs import services as sigs

    assert sigs.request_to_join(w.author, w.sig.slug, "Let me back in") is None


@pytest.mark.parametrize("visibility", ["public", "members", "private"])
def test_what_a_member_banned_from_a_sig_may_still_read(app, browser, client, visibility):
    w = build_world(visibility)
    marker = "zanzibarquokka"
    topic_page = f"/t/{w.topic.id}?page=1"
    author = browser(w.author)
    assert marker not in author.text(topic_page)
    from forum.topics import services as topics

    topics.reply_to_topic(w.member, w.topic.id, f"Before the ban: {marker}.")
    assert len(RESULT_RE.findall(author.text(f"/search?q={marker}"))) == 1
    assert "Before the ban" in author.text("/notifications")  # the author watches their topic
    _ban(browser(w.sig_sysop), w.sig.id)
    topics.reply_to_topic(w.member, w.topic.id, f"After the ban: {marker}.")
    page = author.get(topic_page)
    results = RESULT_RE.findall(author.text(f"/search?q={marker}"))
    notifications = author.text("/notifications")
    reply = author.form(f"/t/{w.topic.id}/reply", {"body": "Let me in."})
    assert reply.status_code in (400, 403, 404)
    assert db.session.scalar(select(Post.id).where(Post.body_raw == "Let me in.")) is None
    new_notes = db.session.scalar(
        select(db.func.count(Notification.id)).where(Notification.user_id == w.author.id)
    )
    if visibility == "public":
        assert page.status_code == 200 and "After the ban" in page.get_data(as_text=True)
        assert len(results) == 2
        assert "You are banned from Main" in page.get_data(as_text=True)
        assert "After the ban" in notifications
    else:
        assert page.status_code == (404 if visibility == "private" else 403)
        assert results == []
        # No notification for the post after the ban, and the earlier one shows no text.
        assert "After the ban" not in notifications and "Before the ban" not in notifications
        assert new_notes >= 1
        sig = db.session.get(type(w.sig), w.sig.id)
        assert not permissions.can_read_sig(w.author, sig)
        assert w.sig.id not in (permissions.readable_sig_ids(w.author) or set())


def test_a_sysop_of_another_sig_can_neither_see_nor_act(app, browser):
    w = build_world("private")
    _ban(browser(w.sig_sysop), w.sig.id)
    other = browser(w.other_sysop)
    assert "Banned from Main" not in other.text("/mod/u/author")
    response = other.form(
        "/mod/u/author/remove",
        {"remove-sig": str(w.sig.id), "remove-reason": "Mine now.", "remove-ban": "y"},
    )
    assert response.status_code == 404  # a private SIG is no SIG to outsiders
    response = other.form("/mod/u/author/lift", {"lift-kind": "sig_ban", "lift-sig": str(w.sig.id)})
    assert response.status_code == 404
    assert db.session.scalar(select(SigDiscipline.lifted_at)) is None
    with pytest.raises(NotFound):
        mod.lift_sig_ban(w.other_sysop, w.author.id, w.sig.id)
    public = build_world.__globals__["factories"].sig("open-sig", members=[w.author])
    with pytest.raises(Forbidden):
        mod.remove_from_sig(w.other_sysop, w.author.id, public.id, "Not yours.", ban=True)
    # A SIG sysop may not ban another sysop of their SIG; nor a member remove anyone.
    with pytest.raises(Forbidden):
        mod.remove_from_sig(w.member, w.author.id, w.sig.id, "Go.", ban=True)
    assert [a for a in _actions() if a in ("ban_from_sig", "lift_sig_ban")] == ["ban_from_sig"]


def test_a_sig_suspension_that_ran_out_holds_no_more(app, browser):
    """The signed-in member's SIG disciplines come with their session (one statement,
    permissions.with_memberships), as of the request's moment: a suspension whose time is up
    no longer bars them, one still running does."""
    w = build_world()
    assert _suspend(browser(w.sig_sysop), w.sig.id).status_code == 302
    author_id, topic_id = w.author.id, w.topic.id
    author = browser(w.author)

    def reply(body: str) -> Any:
        return author.form(f"/t/{topic_id}/reply", {"body": body})

    assert reply("Still suspended?").status_code in (400, 403)
    db.session.execute(
        update(SigDiscipline)
        .where(SigDiscipline.user_id == author_id)
        .values(until=utcnow() - timedelta(minutes=1))
    )
    db.session.commit()
    assert reply("The time is up.").status_code == 302
    assert db.session.scalar(select(Post.id).where(Post.body_raw == "The time is up."))
