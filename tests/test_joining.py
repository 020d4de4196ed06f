"""Joining by posting, and no post form for whoever may not send it.

Posting (a reply or a new topic) in a public SIG joins it, said once with a button that undoes
it. A member who may not post sees why and what to do instead of a form: guests a log-in link,
members a Join button where joining helps, and the reason (a lock, an archive, a ban, a
silence) where it does not. Every rule comes from forum.permissions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from forum import permissions
from forum.extensions import db
from forum.sigs.models import Membership, Sig
from forum.timeutil import utcnow
from forum.topics.models import Post, Topic

JOINED = "You joined Retro Computing to post here."


def _html(response: Any) -> str:
    return response.get_data(as_text=True)


def _member(user_id: int, sig_id: int) -> bool:
    return (
        db.session.scalar(
            select(Membership.id).where(Membership.user_id == user_id, Membership.sig_id == sig_id)
        )
        is not None
    )


def _member_count(sig_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Sig, sig_id).member_count


def _world(f: Any, visibility: str = "public") -> Any:
    author = f.user("author")
    sig = f.sig("retro", name="Retro Computing", visibility=visibility, members=[author])
    topic = f.topic(author, sig, "Favourite machines", "The C64.")
    return author, sig, topic


def test_replying_in_a_public_sig_joins_it_and_says_so_once(client, f) -> None:
    _author, sig, topic = _world(f)
    ada = f.user("ada")
    client.login("ada")
    page = _html(client.get(f"/t/{topic.id}/{topic.slug}?page=1"))
    assert 'id="reply-form"' in page
    assert "You are not a member of Retro Computing yet: posting here joins it." in page
    before = _member_count(sig.id)

    response = client.form(f"/t/{topic.id}/reply", {"body": "Mine was a Spectrum."})
    assert response.status_code == 302
    assert _member(ada.id, sig.id) and _member_count(sig.id) == before + 1
    landing = _html(client.get(response.headers["Location"]))
    assert JOINED in landing
    assert f'action="/s/{sig.slug}/leave"' in landing and "Leave Retro Computing" in landing
    assert "posting here joins it" not in landing

    # Once: the next reply says nothing of joining.
    again = client.form(f"/t/{topic.id}/reply", {"body": "And a ZX81 before it."})
    assert JOINED not in _html(client.get(again.headers["Location"]))


def test_starting_a_topic_in_a_public_sig_joins_it(client, f) -> None:
    _author, sig, _topic = _world(f)
    ada = f.user("ada")
    client.login("ada")
    form = _html(client.get(f"/s/{sig.slug}/new"))
    assert 'id="topic-form"' in form and "posting here joins it" in form
    sig_page = _html(client.get(f"/s/{sig.slug}/"))
    assert f'href="/s/{sig.slug}/new"' in sig_page
    response = client.form(f"/s/{sig.slug}/new", {"title": "Hello all", "body": "New here."})
    assert response.status_code == 302
    assert _member(ada.id, sig.id)
    assert JOINED in _html(client.get(response.headers["Location"]))


def test_the_undo_button_leaves_and_the_post_stays(client, f) -> None:
    _author, sig, topic = _world(f)
    ada = f.user("ada")
    client.login("ada")
    client.form(f"/t/{topic.id}/reply", {"body": "Just passing by."})
    left = client.form(f"/s/{sig.slug}/leave")
    assert left.status_code == 302 and not _member(ada.id, sig.id)
    assert db.session.scalar(select(Post.id).where(Post.body_raw == "Just passing by."))


def test_a_refused_reply_joins_nothing(client, f) -> None:
    _author, sig, topic = _world(f)
    ada = f.user("ada")
    client.login("ada")
    assert client.form(f"/t/{topic.id}/reply", {"body": "x" * 40_000}).status_code == 400
    assert client.form(f"/t/{topic.id}/reply", {"body": "hi", "preview": "1"}).status_code == 200
    assert client.form(f"/t/{topic.id}/reply", {"body": "hi", "save_draft": "1"}).status_code == 302
    assert not _member(ada.id, sig.id)


def test_members_and_sysops_post_without_a_join_message(client, f) -> None:
    author, _sig, topic = _world(f)
    f.sysop("root")
    for who in ("author", "root"):
        client.login(who)
        response = client.form(f"/t/{topic.id}/reply", {"body": f"reply by {who}"})
        page = _html(client.get(response.headers["Location"]))
        assert "You joined" not in page and "posting here joins it" not in page
        client.logout()


def test_guests_get_a_login_link_instead_of_a_form(client, f) -> None:
    _author, sig, topic = _world(f)
    page = _html(client.get(f"/t/{topic.id}/{topic.slug}?page=1"))
    assert 'id="reply-form"' not in page and "<textarea" not in page
    assert f'href="/login?next=/t/{topic.id}/{topic.slug}"' in page
    assert client.get(f"/s/{sig.slug}/new").status_code == 302  # to the login page
    assert f'href="/s/{sig.slug}/new"' not in _html(client.get(f"/s/{sig.slug}/"))


def test_outsiders_of_members_only_and_private_sigs_get_no_form(client, f) -> None:
    _author, club, topic = _world(f, "members")
    hidden = f.sig("hidden", visibility="private")
    f.user("ada")
    client.login("ada")
    refused = client.get(f"/t/{topic.id}/{topic.slug}?page=1")
    assert refused.status_code == 403 and "<textarea" not in _html(refused)
    assert client.get(f"/t/{topic.id}/reply").status_code == 403
    sig_page = _html(client.get(f"/s/{club.slug}/"))
    assert f'href="/s/{club.slug}/new"' not in sig_page and "Join this SIG" in sig_page
    new_topic = client.get(f"/s/{club.slug}/new")
    assert new_topic.status_code == 403 and "<textarea" not in _html(new_topic)
    assert "Join it to read its topics" in _html(new_topic)
    assert f'action="/s/{club.slug}/join"' in _html(new_topic)
    assert client.form(f"/t/{topic.id}/reply", {"body": "let me in"}).status_code == 403
    assert client.get(f"/s/{hidden.slug}/new").status_code == 404


def test_a_locked_topic_offers_no_form_but_says_why(client, f) -> None:
    author, sig, topic = _world(f)
    boss = f.user("boss")
    from forum.sigs import services as sigs

    sigs.set_sig_sysop(f.sysop("root"), sig.id, boss.id, True)
    db.session.get(Topic, topic.id).locked_at = utcnow()
    db.session.commit()
    for who in ("author", "ada"):
        if who == "ada":
            f.user("ada")
        client.login(who)
        page = _html(client.get(f"/t/{topic.id}/{topic.slug}?page=1"))
        assert "This topic is locked: no new replies." in page
        assert 'id="reply-form"' not in page and "Quote</a>" not in page
        reply_page = client.get(f"/t/{topic.id}/reply")
        assert reply_page.status_code == 403 and "<textarea" not in _html(reply_page)
        assert "This topic is locked" in _html(reply_page)
        client.logout()
    # Its SIG's sysops still reply.
    client.login("boss")
    assert 'id="reply-form"' in _html(client.get(f"/t/{topic.id}/{topic.slug}?page=1"))


@pytest.mark.parametrize("trouble", ["banned", "silenced", "suspended in the SIG"])
def test_members_who_may_not_write_see_why_instead_of_a_form(client, f, trouble: str) -> None:
    author, sig, topic = _world(f)
    ada = f.user("ada")
    f.join(ada, sig)
    later = utcnow() + timedelta(days=2)
    if trouble == "banned":
        ada.banned_at = utcnow()
        ada.ban_reason = "spam"
        expected = "Your account is banned"
    elif trouble == "silenced":
        ada.silenced_until = later
        ada.silence_reason = "cool down"
        expected = "You are silenced until"
    else:
        from forum.moderation import services as moderation

        moderation.suspend_member(f.sysop("root"), ada.id, later, "off topic", sig.id)
        expected = "You are suspended in Retro Computing"
    db.session.commit()
    if trouble == "banned":
        # A banned member cannot log in at all: the pages refuse them on any route.
        assert not permissions.can_reply(ada, topic, sig)
        assert not permissions.can_start_topic(ada, sig)
        return
    client.login("ada")
    page = _html(client.get(f"/t/{topic.id}/{topic.slug}?page=1"))
    assert expected in page and 'id="reply-form"' not in page
    for url in (f"/t/{topic.id}/reply", f"/s/{sig.slug}/new"):
        refused = client.get(url)
        assert refused.status_code == 403 and expected in _html(refused)
        assert "<textarea" not in _html(refused)
    assert f'href="/s/{sig.slug}/new"' not in _html(client.get(f"/s/{sig.slug}/"))


def test_an_archived_public_sig_neither_joins_nor_offers_a_form(client, f) -> None:
    _author, sig, topic = _world(f)
    ada = f.user("ada")
    db.session.get(Sig, sig.id).archived_at = utcnow()
    db.session.commit()
    client.login("ada")
    page = _html(client.get(f"/t/{topic.id}/{topic.slug}?page=1"))
    assert "This SIG is archived" in page and 'id="reply-form"' not in page
    assert client.form(f"/t/{topic.id}/reply", {"body": "hello?"}).status_code == 403
    assert not _member(ada.id, sig.id)


@pytest.mark.parametrize("visibility", ["public", "members", "private"])
def test_the_policy_for_each_role_and_visibility(f, visibility: str) -> None:
    """can_reply / can_start_topic / joins_by_posting for every role in a SIG of each kind."""
    author, sig, topic = _world(f, visibility)
    outsider = f.user("outsider")
    root = f.sysop("root")
    boss = f.user("boss")
    from forum.sigs import services as sigs

    sigs.set_sig_sysop(root, sig.id, boss.id, True)
    permissions.forget_memberships(boss)
    public = visibility == "public"
    expect = {
        None: (False, False, False),
        author: (True, True, False),
        boss: (True, True, False),
        root: (True, True, False),
        outsider: (public, public, public),
    }
    for who, (reply, start, joins) in expect.items():
        assert permissions.can_reply(who, topic, sig) == reply, who
        assert permissions.can_start_topic(who, sig) == start, who
        assert permissions.joins_by_posting(who, sig) == joins, who
        assert (permissions.post_problem(who, sig) is None) == start, who


def test_editing_joins_nothing(client, f) -> None:
    """A member who posted and left may not edit there (editing is no way back in)."""
    _author, sig, topic = _world(f)
    ada = f.user("ada")
    client.login("ada")
    client.form(f"/t/{topic.id}/reply", {"body": "Before I left."})
    client.form(f"/s/{sig.slug}/leave")
    mine = db.session.scalar(select(Post).where(Post.body_raw == "Before I left."))
    assert client.get(f"/p/{mine.id}/edit").status_code == 403
    assert client.form(f"/p/{mine.id}/edit", {"body": "After."}).status_code == 403
    assert not _member(ada.id, sig.id)


def test_a_post_that_finds_the_membership_made_meanwhile_counts_it_once(f, monkeypatch) -> None:
    """The same member's two posts at once both set out to join: the second, under the SIG's
    lock, finds the membership the first made, and neither fails nor counts it twice."""
    from forum.topics import services as topics

    _author, sig, topic = _world(f)
    ada = f.user("ada")
    topics.reply_to_topic(ada, topic.id, "the first post joins")
    count = _member_count(sig.id)
    # The second post decided to join before the first one committed.
    monkeypatch.setattr(permissions, "joins_by_posting", lambda user, sig: True)
    topics.reply_to_topic(ada, topic.id, "the second post finds the membership")
    topics.start_topic(ada, sig.id, "A third post", "also finds it")
    assert _member_count(sig.id) == count
    members = db.session.scalars(
        select(Membership).where(Membership.sig_id == sig.id, Membership.user_id == ada.id)
    )
    assert len(list(members)) == 1


@pytest.mark.parametrize("discipline", ["suspended", "banned"])
def test_leaving_a_sig_is_no_way_around_its_discipline(client, f, discipline: str) -> None:
    """A member suspended in (or banned from) a public SIG who is not in it any more may not
    post their way back in."""
    from forum.moderation import services as moderation

    _author, sig, topic = _world(f)
    ada = f.user("ada")
    f.join(ada, sig)
    root = f.sysop("root")
    later = utcnow() + timedelta(days=2)
    if discipline == "suspended":
        moderation.suspend_member(root, ada.id, later, "off topic", sig.id)
        client.login("ada")
        client.form(f"/s/{sig.slug}/leave")
        expected = "You are suspended in Retro Computing"
    else:
        moderation.remove_from_sig(root, ada.id, sig.id, "spam", ban=True)
        client.login("ada")
        expected = "banned from Retro Computing"
    assert not _member(ada.id, sig.id)
    # A ban keeps her out; a suspension lets her join (and read), not post.
    assert permissions.joins_by_posting(ada, sig) == (discipline == "suspended")
    assert not permissions.can_reply(ada, topic, sig)
    page = _html(client.get(f"/t/{topic.id}/{topic.slug}?page=1"))
    assert 'id="reply-form"' not in page
    refused = client.form(f"/t/{topic.id}/reply", {"body": "back again"})
    assert refused.status_code == 403
    assert client.form(f"/s/{sig.slug}/new", {"title": "Back", "body": "again"}).status_code == 403
    assert not _member(ada.id, sig.id)
    assert expected in page and f'action="/s/{sig.slug}/join"' not in page
