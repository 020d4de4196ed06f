"""Concerns: members writing to the sysops of a SIG (or the site's), the lifecycle, notes,
assignment, deadlines and escalation, "did it help?", and who may read any of it."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select

from forum import events, permissions
from forum.care import queries, services
from forum.care.models import OPEN, RESOLVED, WAITING, Concern, ConcernNote, SysopDuty
from forum.db import transaction
from forum.errors import Conflict, Forbidden, Invalid, NotFound
from forum.extensions import db
from forum.messages.models import Conversation, ConversationMember, PrivateMessage
from forum.notifications.models import Notification
from forum.sigs import services as sig_services
from forum.timeutil import utcnow


@pytest.fixture
def world(f):
    return care_world(f)


def care_world(f) -> dict:
    """Two SIGs: retro (sysops grace and linus; members ken and ada) and games (sysop other),
    and root, the global sysop (tests/test_api_care.py builds on it)."""
    root = f.sysop("root")
    grace, linus = f.user("grace"), f.user("linus")
    ken, ada = f.user("ken"), f.user("ada")
    other = f.user("other")
    retro = f.sig("retro", name="Retro Computing", members=[ken, ada], sysops=[grace, linus])
    games = f.sig("games", name="Games", sysops=[other])
    return {
        "root": root,
        "grace": grace,
        "linus": linus,
        "ken": ken,
        "ada": ada,
        "other": other,
        "retro": retro,
        "games": games,
    }


def _notes(user, what=None):
    rows = db.session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.kind == "concern")
    )
    return [n for n in rows if what is None or n.data.get("what") == what]


def _write(w, subject="My old posts vanished", body="Where did my posts go?"):
    return services.write_to_sysops(w["ken"], w["retro"].id, subject, body)


# --- writing ----------------------------------------------------------------------------------
def test_a_member_writes_to_the_sysops_of_a_sig_from_its_page(browser, world):
    ken = browser(world["ken"])
    page = ken.text("/s/retro/")
    assert "Write to the sysops of Retro Computing" in page
    assert ken.get("/s/retro/sysops/write").status_code == 200
    response = ken.form(
        "/s/retro/sysops/write", {"subject": "Help me", "body": "My **posts** vanished."}
    )
    assert response.status_code == 302
    concern = db.session.scalar(select(Concern))
    assert response.headers["Location"].endswith(f"/care/{concern.id}")
    assert (concern.state, concern.sig_id, concern.member_id) == (
        OPEN,
        world["retro"].id,
        world["ken"].id,
    )
    assert concern.due_at - concern.created_at == timedelta(hours=24)
    assert concern.escalate_at - concern.created_at == timedelta(hours=48)
    # The words are a conversation of forum.messages: the member is its one participant.
    conversation = db.session.get(Conversation, concern.conversation_id)
    assert conversation.kind == "concern" and conversation.subject == "Help me"
    members = db.session.scalars(select(ConversationMember.user_id)).all()
    assert members == [world["ken"].id]
    # Both sysops of the SIG hear of it (the global sysop reads it, but is not told).
    assert len(_notes(world["grace"], "opened")) == 1
    assert len(_notes(world["linus"], "opened")) == 1
    assert _notes(world["other"]) == [] and _notes(world["root"]) == []
    assert "ken wrote to the sysops of Retro Computing" in browser(world["grace"]).text(
        "/notifications"
    )
    # It is in the member's mailbox, and /mail/c/<id> opens the concern.
    assert "Help me" in ken.text("/mail")
    # An answer shows there as the sysops' words, naming no sysop.
    services.reply(world["grace"], concern.id, "We are looking into it.")
    mailbox = ken.text("/mail")
    assert "We are looking into it." in mailbox and "grace" not in mailbox
    moved = ken.get(f"/mail/c/{conversation.id}")
    assert moved.status_code == 302 and moved.headers["Location"].endswith(f"/care/{concern.id}")
    # Private mail's own verbs do not touch it.
    assert ken.form(f"/mail/c/{conversation.id}/reply", {"body": "x"}).status_code == 404


def test_a_member_writes_to_the_sites_sysops(browser, world):
    ken = browser(world["ken"])
    response = ken.form("/care/write", {"subject": "Account", "body": "Rename me please."})
    assert response.status_code == 302
    concern = db.session.scalar(select(Concern))
    assert concern.sig_id is None
    assert len(_notes(world["root"], "opened")) == 1
    assert _notes(world["grace"]) == []
    assert "Account" in browser(world["root"]).text("/mod/concerns")
    assert "Account" not in browser(world["grace"]).text("/mod/concerns")
    assert browser(world["grace"]).get(f"/care/{concern.id}").status_code == 404


def test_ask_the_sysops_about_a_post(browser, world, f):
    topic = f.topic(world["ada"], world["retro"], "Disk drives", "They spin.")
    post = f.reply(world["ada"], topic, "A rude reply.")
    page = browser(world["ken"]).text(f"/t/{topic.id}/{topic.slug}?page=1")
    assert f"/s/retro/sysops/write?post={post.id}" in page
    assert "Ask the sysops about this post" in page
    # The sysops of the SIG are not offered it on their own SIG's posts.
    assert "Ask the sysops about this post" not in browser(world["grace"]).text(
        f"/t/{topic.id}/{topic.slug}?page=1"
    )
    form = browser(world["ken"]).get(f"/s/retro/sysops/write?post={post.id}")
    assert form.status_code == 200
    browser(world["ken"]).form(
        "/s/retro/sysops/write",
        {"subject": "About this reply", "body": "Is it fine?", "post": str(post.id)},
    )
    concern = db.session.scalar(select(Concern))
    assert concern.post_id == post.id
    assert "Disk drives" in browser(world["grace"]).text(f"/care/{concern.id}")
    # A post of another SIG is refused: it goes to that SIG's sysops.
    elsewhere = f.topic(world["other"], world["games"], "Chess", "e4")
    with pytest.raises(Invalid):
        services.write_to_sysops(
            world["ken"], world["retro"].id, "x", "y", post_id=elsewhere.first_post_id
        )


def test_concern_opened_is_published_with_ids(app, world):
    seen = []
    events.subscribe(app, events.ConcernOpened, seen.append)
    concern = _write(world)
    assert seen == [
        events.ConcernOpened(
            concern_id=concern.id,
            sig_id=world["retro"].id,
            member_id=world["ken"].id,
            sysop_ids=tuple(sorted([world["grace"].id, world["linus"].id])),
        )
    ]


# --- answering, the lifecycle -------------------------------------------------------------------
def test_the_sysops_answer_as_the_sysops_and_the_lifecycle_follows(browser, world):
    concern = _write(world)
    grace = browser(world["grace"])
    assert (
        grace.form(f"/care/{concern.id}/reply", {"body": "Look in your drafts."}).status_code == 302
    )
    assert concern.state == WAITING
    assert concern.first_responder_id == world["grace"].id
    assert concern.assignee_id == world["grace"].id
    assert concern.first_response_at is not None
    # The member reads "The sysops", never which one; the sysops see who wrote it.
    member_page = browser(world["ken"]).text(f"/care/{concern.id}")
    assert "Look in your drafts." in member_page and "The sysops" in member_page
    assert "grace" not in member_page
    assert "(grace)" in browser(world["linus"]).text(f"/care/{concern.id}")
    notes = _notes(world["ken"], "answered")
    assert len(notes) == 1 and notes[0].actor_id is None
    assert "The sysops of Retro Computing answered your concern" in browser(world["ken"]).text(
        "/notifications"
    )
    # The member's reply opens it again; it reaches the assignee.
    browser(world["ken"]).form(f"/care/{concern.id}/reply", {"body": "Found them, thanks!"})
    assert concern.state == OPEN
    assert len(_notes(world["grace"], "member_replied")) == 1
    assert _notes(world["linus"], "member_replied") == []
    # Answer and resolve at once; the member is asked once whether it helped.
    grace.form(f"/care/{concern.id}/reply", {"body": "Glad to hear.", "resolve": "y"})
    assert concern.state == RESOLVED and concern.resolved_by_id == world["grace"].id
    assert len(_notes(world["ken"], "resolved")) == 1
    page = browser(world["ken"]).text(f"/care/{concern.id}")
    assert "Did this help?" in page
    assert (
        browser(world["ken"]).form(f"/care/{concern.id}/rate", {"value": "yes"}).status_code == 302
    )
    assert concern.helped is True
    assert "Did this help?" not in browser(world["ken"]).text(f"/care/{concern.id}")
    with pytest.raises(Conflict):
        services.rate(world["ken"], concern.id, False)
    # A reply to a resolved concern reopens it; "did it help?" is not asked again.
    services.reply(world["ken"], concern.id, "One more thing.")
    db.session.refresh(concern)
    assert concern.state == OPEN and concern.resolved_at is None and concern.helped is True
    services.set_state(world["linus"], concern.id, RESOLVED)
    assert not permissions.can_rate_concern(world["ken"], db.session.get(Concern, concern.id))


def test_the_sysops_box_to_resolve_with_the_reply_reads_alone_in_each_language(browser, world):
    # A checkbox's label is read on its own: it said "and mark the concern resolved", "und das
    # Anliegen als erledigt markieren", a sentence's second half.
    concern = _write(world)
    grace = browser(world["grace"])
    labels = {}
    for language in ("en", "de", "es"):
        page = grace.get(f"/care/{concern.id}", headers={"Accept-Language": language})
        box = re.search(
            r'<label class="checkbox"><input[^>]*name="resolve"[^>]*> ([^<]+)</label>',
            page.get_data(as_text=True),
        )
        assert box is not None
        labels[language] = unescape(box.group(1)).strip()
    assert labels == {
        "en": "Mark the concern resolved with this reply",
        "de": "Mit dieser Antwort das Anliegen als erledigt markieren",
        "es": "Marcar la consulta como resuelta con esta respuesta",
    }


def test_only_the_member_rates_and_only_after_resolution(world):
    concern = _write(world)
    with pytest.raises(Conflict):
        services.rate(world["ken"], concern.id, True)
    services.set_state(world["grace"], concern.id, RESOLVED)
    with pytest.raises(Conflict):
        services.rate(world["grace"], concern.id, True)
    services.rate(world["ken"], concern.id, False)
    assert db.session.get(Concern, concern.id).helped is False


def test_notes_are_for_the_sysops_only(browser, world):
    concern = _write(world)
    browser(world["linus"]).form(
        f"/care/{concern.id}/note", {"note-body": "He asked before, in May."}
    )
    assert db.session.scalar(select(ConcernNote)).author_id == world["linus"].id
    assert "He asked before, in May." in browser(world["grace"]).text(f"/care/{concern.id}")
    member_page = browser(world["ken"]).text(f"/care/{concern.id}")
    assert "He asked before" not in member_page and "Sysop notes" not in member_page
    assert (
        browser(world["ken"]).form(f"/care/{concern.id}/note", {"note-body": "x"}).status_code
        == 403
    )
    assert db.session.scalar(select(ConcernNote.id).where(ConcernNote.body_raw == "x")) is None


def test_assigning_is_among_the_concerns_sysops(world):
    concern = _write(world)
    services.assign(world["grace"], concern.id, "linus")
    assert db.session.get(Concern, concern.id).assignee_id == world["linus"].id
    with pytest.raises(Invalid):
        services.assign(world["grace"], concern.id, "other")  # a sysop of another SIG
    with pytest.raises(Invalid):
        services.assign(world["grace"], concern.id, "ken")
    services.assign(world["grace"], concern.id, None)
    assert db.session.get(Concern, concern.id).assignee_id is None
    with pytest.raises(Forbidden):
        services.assign(world["ken"], concern.id, "grace")


# --- who reads it -----------------------------------------------------------------------------
def test_nobody_else_reads_a_concern_by_any_route(browser, world):
    concern = _write(world, subject="Secret trouble", body="secret words")
    conversation_id = concern.conversation_id
    for name in ("ada", "other"):
        b = browser(world[name])
        for url in (
            f"/care/{concern.id}",
            f"/mail/c/{conversation_id}",
        ):
            response = b.get(url)
            assert response.status_code == 404, (name, url)
            assert "secret" not in response.get_data(as_text=True).lower()
        assert "Secret trouble" not in b.text("/mod/concerns") if name == "other" else True
        assert "Secret trouble" not in b.text("/mail")
    assert browser(None).get(f"/care/{concern.id}").status_code == 302  # log in first
    # The global sysop is a sysop of every SIG: they read it.
    assert "secret words" in browser(world["root"]).text(f"/care/{concern.id}")


def test_a_sysop_removed_from_the_sig_loses_access_at_once(browser, world):
    concern = _write(world)
    services.assign(world["grace"], concern.id, "linus")
    services.set_duty(world["linus"], world["retro"].id, True)
    linus = browser(world["linus"])
    assert linus.get(f"/care/{concern.id}").status_code == 200
    sig_services.set_sig_sysop(world["root"], world["retro"].id, world["linus"].id, False)
    db.session.expire_all()
    assert linus.get(f"/care/{concern.id}").status_code == 404
    assert "My old posts" not in linus.text("/mod/concerns")
    # Off duty there, and no longer the assignee.
    assert db.session.get(SysopDuty, (world["retro"].id, world["linus"].id)) is None
    assert db.session.get(Concern, concern.id).assignee_id is None
    # No further word of it reaches them.
    services.reply(world["ken"], concern.id, "Anyone?")
    assert _notes(world["linus"], "member_replied") == []


def test_a_sysop_does_not_write_to_their_own_sig(world):
    with pytest.raises(Forbidden):
        services.write_to_sysops(world["grace"], world["retro"].id, "x", "y")


def test_a_private_sig_is_a_404_to_who_may_not_see_it(browser, world, f):
    f.sig("lair", visibility="private", sysops=[world["other"]])
    assert browser(world["ken"]).get("/s/lair/sysops/write").status_code == 404
    lair = db.session.scalar(select(db.metadata.tables["sigs"].c.id).where(
        db.metadata.tables["sigs"].c.slug == "lair"))  # fmt: skip
    with pytest.raises(NotFound):
        services.write_to_sysops(world["ken"], lair, "x", "y")


# --- a member banned site-wide ------------------------------------------------------------------
def test_a_banned_member_writes_to_the_sites_sysops_one_concern_at_a_time(browser, world):
    from forum.moderation import services as mod

    mod.ban_member(world["root"], world["ken"].id, "spam")
    db.session.expire_all()
    ken = db.session.get(type(world["ken"]), world["ken"].id)
    with pytest.raises(Forbidden):
        services.write_to_sysops(ken, world["retro"].id, "x", "y")
    guest = browser(None)
    assert guest.get("/care/appeal").status_code == 200
    wrong = guest.form(
        "/care/appeal", {"login": "ken", "password": "nope", "subject": "Ban", "body": "Why?"}
    )
    assert wrong.status_code == 400 and db.session.scalar(select(Concern)) is None
    ok = guest.form(
        "/care/appeal",
        {"login": "ken", "password": "correct-horse-battery", "subject": "Ban", "body": "Why?"},
    )
    assert ok.status_code == 200
    concern = db.session.scalar(select(Concern))
    assert concern.sig_id is None and concern.member_id == ken.id
    # A second message goes into the same concern: one at a time.
    guest.form(
        "/care/appeal",
        {"login": "ken", "password": "correct-horse-battery", "body": "Please answer."},
    )
    assert db.session.scalars(select(Concern)).all() == [concern]
    with pytest.raises(Forbidden):
        services.write_to_sysops(ken, None, "Another", "one")
    # The site's sysops answer; the member reads it by giving their password again.
    services.reply(world["root"], concern.id, "You posted spam.")
    page = guest.form(
        "/care/appeal", {"login": "ken", "password": "correct-horse-battery", "body": ""}
    ).get_data(as_text=True)
    assert "You posted spam." in page and "Please answer." in page
    assert "root" not in page.split("appeal-thread")[1].split("</section>")[0]
    # SIG sysops never read it; an account that is not banned may not use the form.
    assert browser(world["grace"]).get(f"/care/{concern.id}").status_code == 404
    refused = guest.form(
        "/care/appeal",
        {"login": "ada", "password": "correct-horse-battery", "subject": "x", "body": "y"},
    )
    assert refused.status_code == 400 and "not banned" in refused.get_data(as_text=True)
    # Resolved, they may open a new one.
    services.set_state(world["root"], concern.id, RESOLVED)
    assert permissions.write_to_sysops_problem(ken, None) is None


# --- deadlines ----------------------------------------------------------------------------------
def test_overdue_concerns_are_marked_told_and_escalated_once(browser, world):
    services.set_deadlines(world["grace"], world["retro"].id, 2, 6)
    concern = _write(world)
    assert concern.due_at - concern.created_at == timedelta(hours=2)
    answered = _write(world, subject="Answered in time")
    services.reply(world["linus"], answered.id, "Here you go.")
    assert services.check_deadlines(utcnow() + timedelta(hours=1)) == ([], [])
    assert services.check_deadlines(utcnow() + timedelta(hours=3)) == ([concern.id], [])
    assert (
        len(_notes(world["grace"], "overdue")) == 1 and len(_notes(world["linus"], "overdue")) == 1
    )
    assert _notes(world["root"]) == []
    # Marked in /mod and in the inbox.
    mod_page = browser(world["grace"]).text("/mod")
    assert "overdue" in mod_page and "My old posts vanished" in mod_page
    assert "Answered in time" not in mod_page
    assert "My old posts vanished" in browser(world["grace"]).text("/mod/concerns?state=overdue")
    # Told once; after the second deadline the global sysop is told.
    assert services.check_deadlines(utcnow() + timedelta(hours=4)) == ([], [])
    assert services.check_deadlines(utcnow() + timedelta(hours=7)) == ([], [concern.id])
    assert len(_notes(world["root"], "escalated")) == 1
    assert "escalated" in browser(world["root"]).text("/mod")
    assert services.check_deadlines(utcnow() + timedelta(hours=8)) == ([], [])
    assert len(_notes(world["grace"], "overdue")) == 1


def test_the_periodic_job_runs_the_deadlines(app, world):
    from forum import jobs

    concern = _write(world)
    with transaction():
        concern.due_at = utcnow() - timedelta(minutes=1)
    spec = jobs.SPECS["forum.care.services.care_deadlines"]
    assert spec.schedule is not None
    jobs.queue_of(app).task(spec.name)()
    db.session.expire_all()
    assert db.session.get(Concern, concern.id).overdue_at is not None


def test_deadlines_are_the_sigs_own_or_the_sites(world):
    from forum import settings
    from forum.settings import SiteSetting

    assert services.deadlines(world["retro"].id) == (24, 48)
    with transaction() as session:
        session.add(SiteSetting(key="care_response_hours", value="12"))
    settings.forget()
    assert services.deadlines(None) == (12, 48)
    services.set_deadlines(world["grace"], world["retro"].id, 4, 8)
    assert services.deadlines(world["retro"].id) == (4, 8)
    with pytest.raises(Invalid):
        services.set_deadlines(world["grace"], world["retro"].id, 8, 4)
    with pytest.raises(Forbidden):
        services.set_deadlines(world["ken"], world["retro"].id, 4, 8)


def test_the_sysops_inbox_lists_its_sigs_concerns_by_state(browser, world, count_queries, f):
    for i in range(3):
        _write(world, subject=f"Concern {i}")
    answered = _write(world, subject="Waiting one")
    services.reply(world["grace"], answered.id, "Tell me more.")
    other = services.write_to_sysops(world["ada"], world["games"].id, "Games trouble", "hm")
    page = browser(world["grace"]).text("/mod/concerns")
    assert all(f"Concern {i}" in page for i in range(3))
    assert "Waiting one" not in page and "Games trouble" not in page
    assert "Waiting one" in browser(world["grace"]).text("/mod/concerns?state=waiting")
    assert browser(world["ken"]).get("/mod/concerns").status_code == 404
    assert browser(world["grace"]).get("/mod/concerns?state=nonsense").status_code == 404
    assert browser(world["grace"]).get("/mod/concerns?sig=games").status_code == 404
    assert f"/care/{other.id}" in browser(world["root"]).text("/mod/concerns")
    # A fixed number of queries, however many concerns.
    read = (lambda: _fresh(world["grace"]), queries.inbox)
    few, _box = _queries(count_queries, read)
    for i in range(5):
        _write(world, subject=f"More {i}")
    many, box = _queries(count_queries, read)
    assert few == many and len(box.rows) == 8


def _fresh(user):
    db.session.expire_all()
    found = db.session.get(type(user), user.id)
    permissions.forget_memberships(found)
    return found


def _queries(count_queries, read):
    """(queries, result) of a read; `read` loads what it reads first (outside the count)."""
    prepare, run = read
    arguments = prepare()
    with count_queries() as counter:
        result = run(arguments)
    return counter.count, result


def test_a_concern_page_is_read_in_a_fixed_number_of_queries(world, count_queries):
    concern = _write(world)
    services.assign(world["grace"], concern.id, "linus")
    services.reply(world["grace"], concern.id, "first answer")
    services.add_note(world["linus"], concern.id, "first note")

    def measure():
        grace = _fresh(world["grace"])
        permissions.memberships(grace)
        with count_queries() as counter:
            page = queries.concern_page(grace, concern.id)
        return counter.count, page

    few, _page = measure()
    for i in range(6):
        services.reply(world["ken"] if i % 2 else world["grace"], concern.id, f"message {i}")
        services.add_note(world["linus"], concern.id, f"note {i}")
    many, page = measure()
    assert len(page.messages) == 8 and len(page.notes) == 7
    assert few == many


def test_messages_are_private_messages_of_the_concerns_conversation(world):
    concern = _write(world)
    services.reply(world["grace"], concern.id, "An answer.")
    messages = db.session.scalars(
        select(PrivateMessage).where(PrivateMessage.conversation_id == concern.conversation_id)
    ).all()
    assert [m.user_id for m in messages] == [world["ken"].id, world["grace"].id]
    conversation = db.session.get(Conversation, concern.conversation_id)
    assert conversation.last_message_id == messages[-1].id and conversation.message_count == 2
    # The member's "Mail" badge counts the answer; reading the concern reads it.
    from forum.messages.queries import unread_count

    assert unread_count(world["ken"].id) == 1
    services.mark_read(world["ken"], db.session.get(Concern, concern.id))
    assert unread_count(world["ken"].id) == 0


def test_the_sites_answer_is_mailed_to_a_banned_member(world, outbox):
    from forum.moderation import services as mod

    from .mailbox import mails

    mod.ban_member(world["root"], world["ken"].id, "spam")
    concern = services.appeal("ken", "correct-horse-battery", "My ban", "Why was I banned?")
    assert mails(outbox) == []
    services.reply(world["root"], concern.id, "You posted **spam** links.")
    (sent,) = mails(outbox)
    assert sent["To"] == "ken@example.com"
    assert sent["Subject"] == "The site's sysops answered your concern"
    text = sent.get_content()
    assert "You posted **spam** links." in text and "/care/appeal" in text
    assert "root" not in text
    # Once per answer; the member's own messages are not mailed back.
    services.appeal("ken", "correct-horse-battery", "", "Sorry, it will not happen again.")
    assert len(mails(outbox)) == 1
    # A member who is not banned reads answers signed in: nothing is mailed.
    other = services.write_to_sysops(world["ada"], None, "Rename", "Please rename me.")
    services.reply(world["root"], other.id, "Done.")
    assert len(mails(outbox)) == 1


def _plain(message):
    return str(message.get_body(preferencelist=("plain",)).get_content())


def _mail_jobs_run(app):
    """Let NOTIFY_MAIL_DELAY pass: the consumer's scheduler would run the waiting mail jobs."""
    from datetime import UTC, datetime

    from forum.jobs import queue_of

    later = datetime.now(UTC) + timedelta(seconds=app.config["NOTIFY_MAIL_DELAY"] + 1)
    return queue_of(app).run_due(later)


def test_concern_notifications_are_mailed_and_withheld_once_access_is_gone(
    app, browser, world, outbox
):
    from .mailbox import mails

    concern = _write(world, subject="Secret trouble")
    _mail_jobs_run(app)
    sent = {m["To"]: m for m in mails(outbox)}
    assert set(sent) == {"grace@example.com", "linus@example.com"}
    text = _plain(sent["grace@example.com"])
    assert "ken wrote to the sysops of Retro Computing" in text
    assert f"/care/{concern.id}" in text and "Secret trouble" not in text
    services.reply(world["grace"], concern.id, "An answer with words.")
    _mail_jobs_run(app)
    to_ken = [m for m in mails(outbox) if m["To"] == "ken@example.com"]
    assert len(to_ken) == 1
    body = _plain(to_ken[0])
    assert "The sysops of Retro Computing answered your concern" in body
    assert "grace" not in body and "An answer with words." not in body
    # Linus is dismissed: his notification no longer names the member nor links the concern.
    sig_services.set_sig_sysop(world["root"], world["retro"].id, world["linus"].id, False)
    page = browser(world["linus"]).text("/notifications")
    assert "ken wrote" not in page and f"/care/{concern.id}" not in page
    assert "Something happened to a concern." in page
    assert "ken wrote to the sysops of Retro Computing" in browser(world["grace"]).text(
        "/notifications"
    )


# --- webhooks: concern.opened -------------------------------------------------------------------
@pytest.mark.config(BASE_URL="http://forum.example.org", WEBHOOK_ALLOW_PRIVATE_TARGETS=True)
def test_concern_opened_reaches_the_sigs_webhook_as_ids_only(world, job_queue):
    import json

    from forum.webhooks import services as webhooks
    from forum.webhooks.models import WebhookDelivery

    url = "http://127.0.0.1:9/hook"
    sig_hook = webhooks.create_webhook(world["grace"], world["retro"].id, url, ["concern.opened"])
    site_hook = webhooks.create_webhook(world["root"], None, url, ["concern.opened"])
    other = webhooks.create_webhook(world["other"], world["games"].id, url, ["concern.opened"])
    concern = _write(world, subject="Secret trouble", body="secret words")
    site_concern = services.write_to_sysops(world["ada"], None, "Site trouble", "hm")
    deliveries = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    assert [(d.webhook_id, d.event) for d in deliveries] == [
        (sig_hook.id, "concern.opened"),
        (site_hook.id, "concern.opened"),
    ]
    payload = json.loads(deliveries[0].payload)
    assert payload["concern"]["id"] == concern.id
    assert payload["concern"]["url"] == f"http://forum.example.org/care/{concern.id}"
    assert payload["sig"]["slug"] == "retro"
    text = deliveries[0].payload
    assert "Secret trouble" not in text and "secret words" not in text and "ken" not in text
    assert json.loads(deliveries[1].payload)["concern"]["id"] == site_concern.id
    assert other.id not in {d.webhook_id for d in deliveries}
    # Its owner dismissed as the SIG's sysop before delivery: withdrawn, never sent.
    sig_services.set_sig_sysop(world["root"], world["retro"].id, world["grace"].id, False)
    job_queue.run_pending()
    db.session.expire_all()
    assert db.session.get(WebhookDelivery, deliveries[0].id).status == "withdrawn"


def test_a_concerns_state_reads_as_a_concern_in_spanish(browser, world):
    """The word "open" was one string for a concern and for the registration ("el registro
    está abierto"), so the inbox read "abierto (1)" beside "resuelta (0)": a concern (la
    consulta) is "abierta", and the inbox's tabs list concerns, "abiertas (1)"."""
    concern = _write(world)
    world["grace"].language = "es"
    world["root"].language = "es"
    db.session.commit()
    inbox = browser(world["grace"]).text("/mod/concerns")
    assert "abiertas (1)" in inbox and "resueltas (0)" in inbox
    assert "abierto" not in inbox
    assert '<span class="tag">abierta</span>' in browser(world["grace"]).text(f"/care/{concern.id}")
    # The registration keeps its own word.
    assert "Registro: <strong>abierto</strong>" in browser(world["root"]).text("/admin/")


# --- a SIG without sysops of its own --------------------------------------------------------
def test_a_sig_without_sysops_of_its_own_is_handled_by_the_sites_sysops(browser, world, f):
    lonely = f.sig("stammtisch", name="Stammtisch", members=[world["ken"]])
    ken = browser(world["ken"])
    assert "the site’s sysops will answer" in ken.text("/s/stammtisch/sysops/write")
    response = ken.form("/s/stammtisch/sysops/write", {"subject": "Help", "body": "Anyone?"})
    assert response.status_code == 302
    concern = db.session.scalar(select(Concern).where(Concern.sig_id == lonely.id))
    # The member is told the truth: the site's sysops have it.
    said = unescape(ken.text(response.headers["Location"]))
    assert "Your concern is with the site's sysops" in said
    assert "the sysops of Stammtisch; you will be told" not in said
    # The global sysop is told, and may take it.
    assert len(_notes(world["root"], "opened")) == 1
    assert _notes(world["grace"]) == []
    root = browser(world["root"])
    page = root.text(f"/care/{concern.id}")
    assert '<option value="root">root</option>' in page
    assigned = root.form(f"/care/{concern.id}/assign", {"assignee": "root"})
    assert assigned.status_code == 302
    assert db.session.get(Concern, concern.id).assignee_id == world["root"].id
    # Said beside the form, a phone's screens below the top, and what changed (it said
    # "Saved." on top of the page).
    assert assigned.headers["Location"].endswith(f"/care/{concern.id}#handle-h")
    page = root.text(assigned.headers["Location"])
    assert page.index('id="handle-h"') < page.index("Assigned to root.")
    # The member's next message goes to the one who took it.
    services.reply(world["root"], concern.id, "I am here.")
    services.reply(world["ken"], concern.id, "Thanks, one more thing.")
    assert len(_notes(world["root"], "member_replied")) == 1
    # A SIG that has sysops: theirs the notification, but the site's sysops may be assigned.
    concern = _write(world)
    assert _notes(world["root"], "opened") and len(_notes(world["root"], "opened")) == 1
    assert '<option value="root">' in browser(world["grace"]).text(f"/care/{concern.id}")
    services.assign(world["grace"], concern.id, "root")
    services.reply(world["ken"], concern.id, "Still there?")
    assert len(_notes(world["root"], "member_replied")) == 2
    assert _notes(world["grace"], "member_replied") == []


# --- how the state reads ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("language", "mine", "theirs"),
    [
        ("en", "waiting for your reply", "waiting for the member"),
        ("de", "wartet auf deine Antwort", "wartet auf das Mitglied"),
        ("es", "esperando tu respuesta", "esperando al miembro"),
    ],
)
def test_a_concern_waiting_for_its_member_says_so_to_them_as_theirs(
    browser, world, language, mine, theirs
):
    from forum.accounts import services as accounts

    concern = _write(world)
    services.reply(world["grace"], concern.id, "Which posts?")
    accounts.set_language(world["ken"], language)
    accounts.set_language(world["grace"], language)
    ken = browser(world["ken"])
    for url in ("/care", f"/care/{concern.id}"):
        page = ken.text(url)
        assert mine in page and theirs not in page, url
    page = browser(world["grace"]).text(f"/care/{concern.id}")
    assert theirs in page and mine not in page


@pytest.mark.parametrize(
    ("language", "heading"),
    [
        ("en", "Answer as the sysops"),
        ("de", "Im Namen der Sysops antworten"),
        ("es", "Responder en nombre de los sysops"),
    ],
)
def test_the_sysops_answer_in_the_name_of_the_sysops(browser, world, language, heading):
    from forum.accounts import services as accounts

    concern = _write(world)
    accounts.set_language(world["grace"], language)
    page = browser(world["grace"]).text(f"/care/{concern.id}")
    assert f'<h2 id="reply-h">{heading}</h2>' in page


def test_the_subject_box_holds_what_the_service_allows(browser, world, app):
    limit = app.config["MAX_TITLE_LENGTH"]
    ken = browser(world["ken"])
    for url in ("/care/write", "/s/retro/sysops/write"):
        page = ken.text(url)
        box = page.split('id="subject"')[0].rsplit("<input", 1)[1] + page.split('id="subject"')[1]
        assert f'maxlength="{limit}"' in box.split(">")[0], url
    assert f'maxlength="{limit}"' in browser(None).text("/care/appeal")
    refused = ken.form("/care/write", {"subject": "x" * (limit + 1), "body": "Kept words."})
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert f"Keep the subject to {limit} characters or fewer." in page and "Kept words." in page
    assert db.session.scalar(select(Concern)) is None


def test_did_it_help_is_thanked_once(browser, world):
    concern = _write(world)
    services.reply(world["grace"], concern.id, "Restored.", resolve=True)
    ken = browser(world["ken"])
    answered = ken.form(f"/care/{concern.id}/rate", {"value": "yes"}, follow_redirects=True)
    assert answered.status_code == 200
    assert answered.get_data(as_text=True).count("Thank you for telling us.") == 1
    assert db.session.get(Concern, concern.id).helped is True


def test_the_deadline_boxes_take_only_what_the_service_keeps(client, world):
    """The SIG page's deadline boxes let a sysop type 100000 hours; the service refused it
    after the round trip, in a notice at the top of the page while the page opened at the care
    box with the section folded and the numbers typed gone. The boxes say the limit the service
    keeps (`max`), so the browser says it before sending, with the number still there."""
    client.login("grace")
    html = client.get("/s/retro/").get_data(as_text=True)
    for name in ("response_hours", "escalate_hours"):
        box = re.search(rf'<input [^>]*name="{name}"[^>]*>', html)
        assert box, name
        assert 'min="1"' in box.group(0) and f'max="{services.MAX_DEADLINE_HOURS}"' in box.group(0)
    assert services.MAX_DEADLINE_HOURS == 8760
    with pytest.raises(Invalid):
        services.set_deadlines(world["grace"], world["retro"].id, 8761, 8761)


def test_the_inbox_says_each_cells_column_when_a_phone_stacks_the_rows(client, world):
    """At phone width the inbox's table hides its header and stacks each row (`.listing`):
    "ken", "the sysops of Retro Computing", "nobody", "3 minutes ago" stood there unlabelled
    ("nobody" what?). Each cell but the subject says its column (`data-label`), as the SIG
    list's do."""
    _write(world)
    client.login("grace")
    html = client.get("/mod/concerns").get_data(as_text=True)
    row = re.search(r"<tbody>.*?</tr>", html, re.S)
    assert row
    labels = re.findall(r'<td data-label="([^"]+)">', row.group(0))
    assert labels == ["Member", "To", "Assigned to", "Last activity"]
    # The member's own list of concerns likewise ("State: open").
    client.logout()
    client.login("ken")
    html = client.get("/care").get_data(as_text=True)
    row = re.search(r"<tbody>.*?</tr>", html, re.S)
    assert row
    labels = re.findall(r'<td data-label="([^"]+)">', row.group(0))
    assert labels == ["To", "State", "Last activity"]


def test_the_inbox_tabs_name_the_concerns_they_list_in_spanish(client, world):
    """The tabs said one concern's state, "abierta (3)", "resuelta (0)": a native speaker
    names what a tab lists, "abiertas (3)". The state of each row stays singular."""
    _write(world)
    client.login("grace")
    html = unescape(
        client.get("/mod/concerns", headers={"Accept-Language": "es"}).get_data(as_text=True)
    )
    tabs = re.search(r'<nav class="filters"[^>]*>(.*?)</nav>', html, re.S)
    assert tabs
    words = re.findall(r">([^<>]+) \(\d+\)</a>", tabs.group(1))
    assert words == ["abiertas", "esperando al miembro", "resueltas", "atrasadas"]
    english = client.get("/mod/concerns", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert re.findall(r">([^<>]+) \(\d+\)</a>", english)[:4] == [
        "open",
        "waiting for the member",
        "resolved",
        "overdue",
    ]


def test_a_spammers_ban_reason_reads_in_the_appeal_pages_language(browser, world):
    """A spam cleanup with no reason typed bans with the forum's own word, kept as "spam": the
    sign-in page said "Dieses Konto ist gesperrt: Spam.", the appeal page "Angegebener Grund:
    spam", in English."""
    from forum.moderation import services as mod

    mod.delete_spammer(world["root"], world["ken"].id, "")
    guest = browser(None)
    page = unescape(
        guest.form(
            "/care/appeal",
            {"login": "ken", "password": "correct-horse-battery", "body": ""},
            headers={"Accept-Language": "de"},
        ).get_data(as_text=True)
    )
    assert "Angegebener Grund: Spam" in page and "Grund: spam" not in page
