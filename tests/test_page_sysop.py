"""Page the sysop: sysops on duty per SIG, "a sysop is here", paging them live (a sound only
for who allowed it, text for the live region), the first to take it, and a page nobody takes
becoming an open concern; rate-limited per member; a dismissed sysop hears nothing more."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from forum import jobs
from forum.accounts import services as accounts
from forum.care import services
from forum.care.models import OPEN, Concern, SysopDuty, SysopPage
from forum.db import transaction
from forum.errors import Conflict, Forbidden, Invalid, NotFound
from forum.extensions import db, socketio
from forum.messages.models import Conversation
from forum.notifications.models import Notification
from forum.settings import SiteSetting
from forum.sigs import services as sig_services
from forum.timeutil import utcnow


@pytest.fixture
def world(f):
    root = f.sysop("root")
    grace, linus, ken = f.user("grace"), f.user("linus"), f.user("ken")
    retro = f.sig("retro", name="Retro Computing", members=[ken], sysops=[grace, linus])
    return {"root": root, "grace": grace, "linus": linus, "ken": ken, "retro": retro}


def _sock(app, client):
    return socketio.test_client(app, flask_test_client=client)


def _care(sc):
    return [e["args"][0] for e in sc.get_received() if e["name"] == "care"]


def _sockets(app, make_client, *names):
    out = {}
    for name in names:
        client = make_client()
        client.login(name)
        out[name] = _sock(app, client)
        out[name].get_received()
    return out


def test_a_sysop_on_duty_shows_a_sysop_is_here(browser, world):
    ken = browser(world["ken"])
    assert "a sysop is here" not in ken.text("/s/retro/")
    grace = browser(world["grace"])
    assert "Go on duty" in grace.text("/s/retro/")
    assert grace.form("/s/retro/duty", {"value": "on", "sound": "y"}).status_code == 302
    duty = db.session.get(SysopDuty, (world["retro"].id, world["grace"].id))
    assert duty is not None and duty.until - duty.since == timedelta(hours=8)
    assert services.page_sound(db.session.get(type(world["grace"]), world["grace"].id))
    page = ken.text("/s/retro/")
    assert "a sysop is here" in page and "Page a sysop" in page
    assert "You are on duty here" in grace.text("/s/retro/")
    assert "Retro Computing" in grace.text("/settings")  # the "On duty" section
    grace.form("/s/retro/duty", {"value": "off"})
    assert "a sysop is here" not in ken.text("/s/retro/")
    # Members may not go on duty; a duty that ran out shows nobody.
    assert browser(world["ken"]).form("/s/retro/duty", {"value": "on"}).status_code == 302
    assert db.session.scalar(select(SysopDuty)) is None
    services.set_duty(world["linus"], world["retro"].id, True)
    with transaction():
        db.session.get(SysopDuty, (world["retro"].id, world["linus"].id)).until = utcnow()
    assert "a sysop is here" not in ken.text("/s/retro/")
    with pytest.raises(Forbidden):
        services.set_duty(world["ken"], world["retro"].id, True)


def test_a_page_rings_live_for_the_sysops_on_duty_only(app, make_client, browser, world):
    services.set_duty(world["grace"], world["retro"].id, True, sound=True)
    services.set_duty(world["linus"], world["retro"].id, True, sound=False)
    other = world["root"]
    sockets = _sockets(app, make_client, "grace", "linus", "ken", other.username)
    response = browser(world["ken"]).form("/s/retro/page", {"body": "My modem will not dial"})
    assert response.status_code == 302
    page = db.session.scalar(select(SysopPage))
    assert response.headers["Location"].endswith(f"/care/pages/{page.id}")
    assert page.expires_at - page.created_at == timedelta(minutes=3)
    rang = _care(sockets["grace"])
    assert rang == [
        {
            "type": "page",
            "page_id": page.id,
            "text": "ken pages the sysops of Retro Computing: “My modem will not dial”",
            "url": f"/care/pages/{page.id}",
            "sound": True,
        }
    ]
    assert _care(sockets["linus"])[0]["sound"] is False
    assert _care(sockets["ken"]) == [] and _care(sockets[other.username]) == []
    # The member waits on a page that says so (and reloads itself without JavaScript).
    waiting = browser(world["ken"]).text(f"/care/pages/{page.id}")
    assert "The sysops on duty are paged" in waiting
    assert '<noscript><meta http-equiv="refresh" content="20"></noscript>' in waiting
    # Grace takes it first: a live concern assigned to her; Linus's bell stops.
    taken = browser(world["grace"]).form(f"/care/pages/{page.id}/take")
    concern = db.session.scalar(select(Concern))
    assert taken.headers["Location"].endswith(f"/care/{concern.id}")
    assert (concern.assignee_id, concern.source, concern.state) == (world["grace"].id, "page", OPEN)
    assert _care(sockets["ken"]) == [
        {
            "type": "page_answered",
            "page_id": page.id,
            "taken": True,
            "text": "A sysop is here: your page became a live conversation.",
            "url": f"/care/{concern.id}",
        }
    ]
    assert _care(sockets["linus"]) == [{"type": "page_gone", "page_id": page.id}]
    # Linus comes second: told it is taken.
    late = browser(world["linus"]).form(f"/care/pages/{page.id}/take")
    assert late.status_code == 302 and late.headers["Location"].endswith(f"/care/pages/{page.id}")
    with pytest.raises(Conflict):
        services.take_page(world["linus"], page.id)
    # The member's waiting page now opens the conversation.
    moved = browser(world["ken"]).get(f"/care/pages/{page.id}")
    assert moved.headers["Location"].endswith(f"/care/{concern.id}")
    # Live conversation: each message nudges the other side's page, ids only.
    _care(sockets["grace"])
    services.reply(world["grace"], concern.id, "Hello Ken, I am here.")
    assert _care(sockets["ken"]) == [{"type": "concern", "concern_id": concern.id}]
    services.reply(world["ken"], concern.id, "It just beeps.")
    assert {"type": "concern", "concern_id": concern.id} in _care(sockets["grace"])
    # What the live page fetches: the concern's page, "the sysops" to the member.
    fragment = browser(world["ken"]).text(f"/care/{concern.id}")
    messages = fragment.split('id="care-messages"')[1].split("<section")[0]
    assert "Hello Ken, I am here." in messages and "grace" not in messages


def test_a_page_nobody_takes_becomes_an_open_concern(app, browser, world):
    services.set_duty(world["grace"], world["retro"].id, True)
    page = services.page_sysops(world["ken"], world["retro"].id, "Anyone there?")
    # Not yet due: the delayed job leaves it be.
    assert services.expire_page(page.id) is None
    with transaction():
        db.session.get(SysopPage, page.id).expires_at = utcnow() - timedelta(seconds=1)
    ran = jobs.queue_of(app).run_due(utcnow() + timedelta(minutes=4))
    assert ran == 1
    db.session.expire_all()
    page = db.session.get(SysopPage, page.id)
    concern = db.session.get(Concern, page.concern_id)
    assert page.expired_at is not None and page.taken_by_id is None
    assert (concern.state, concern.assignee_id, concern.source) == (OPEN, None, "page")
    told = db.session.scalars(
        select(Notification).where(Notification.user_id == world["ken"].id)
    ).all()
    assert [n.data["what"] for n in told] == ["page_missed"]
    assert "it is a concern now" in browser(world["ken"]).text(f"/care/pages/{page.id}")
    assert "Anyone there?" in browser(world["grace"]).text(f"/care/{concern.id}")
    with pytest.raises(Conflict):
        services.take_page(world["grace"], page.id)
    # The minute job is the backstop for a lost delayed job.
    again = services.page_sysops(world["ken"], world["retro"].id, "Still there?")
    with transaction():
        db.session.get(SysopPage, again.id).expires_at = utcnow() - timedelta(seconds=1)
    services.care_deadlines()
    db.session.expire_all()
    assert db.session.get(SysopPage, again.id).concern_id is not None


def _subject_row(world, concern):
    conversation = db.session.get(Conversation, concern.conversation_id)
    return conversation.subject, conversation.subject_kind


def _tagged(html, tag, words):
    """Whether the page shows `words` as a subject with the page's `tag` just before it, as an
    appeal's tag is: both in one cell, line or heading's line, read together."""
    import re

    span = f'<span class="tag tag-page">{re.escape(tag)}</span>'
    link = rf'\s*<a href="/care/\d+">{re.escape(words)}</a>'
    return re.search(span + link, html) is not None


def test_a_page_s_concern_is_titled_in_each_reader_s_language(app, browser, world):
    """The concern a page becomes is the member's words beside a "Page" tag in the reader's
    language on the care pages (as an appeal's tag), and "Page: <words>" where there is no tag
    (the mailbox, a page's title): not in the language of the sysop who took it, nor of the
    job that opened it, and never stored as a sentence (the row keeps the words and the kind)."""
    accounts.set_language(world["grace"], "de")
    accounts.set_language(world["ken"], "es")
    services.set_duty(world["grace"], world["retro"].id, True)
    services.set_duty(world["linus"], world["retro"].id, True)
    taken = services.page_sysops(world["ken"], world["retro"].id, "¿Alguien ahí?")
    # Grace reads German, and she takes it (her request's language once made the subject).
    assert browser(world["grace"]).form(f"/care/pages/{taken.id}/take").status_code == 302
    db.session.expire_all()
    concern = db.session.get(Concern, db.session.get(SysopPage, taken.id).concern_id)
    assert _subject_row(world, concern) == ("¿Alguien ahí?", "page")
    ken, grace, linus = browser(world["ken"]), browser(world["grace"]), browser(world["linus"])
    # My concerns, and the concern page: the tag, then the words; on the concern page both are
    # in the heading, so that one moving by headings hears it is a page (it was the words alone,
    # the tag in the line below).
    mine = ken.text("/care")
    assert _tagged(mine, "Llamada", "¿Alguien ahí?"), mine
    assert "Llamada:" not in mine and "Ruf" not in mine and "Page" not in mine
    page = ken.text(f"/care/{concern.id}")
    assert '<h1><span class="tag tag-page">Llamada</span> ¿Alguien ahí?</h1>' in page
    assert page.count("tag-page") == 1
    assert "<title>Llamada: ¿Alguien ahí? · " in page  # a title has no tag
    assert "Ruf" not in page and "Page:" not in page
    # The mailbox has no tag: it says it in words.
    assert "Llamada: ¿Alguien ahí?" in ken.text("/mail")
    # The sysops' inbox and the concern page, each in its reader's words.
    inbox = grace.text("/mod/concerns")
    assert _tagged(inbox, "Ruf", "¿Alguien ahí?"), inbox
    assert "Ruf: ¿Alguien ahí?" not in inbox and "Llamada" not in inbox
    page = grace.text(f"/care/{concern.id}")
    assert '<h1><span class="tag tag-page">Ruf</span> ¿Alguien ahí?</h1>' in page
    assert _tagged(linus.text("/mod/concerns"), "Page", "¿Alguien ahí?")
    # A page nobody took: the job opens it (in no reader's language); ken still reads Spanish.
    missed = services.page_sysops(world["ken"], world["retro"].id, "Sigo aquí")
    with transaction():
        db.session.get(SysopPage, missed.id).expires_at = utcnow() - timedelta(seconds=1)
    jobs.queue_of(app).run_due(utcnow() + timedelta(minutes=4))
    db.session.expire_all()
    opened = db.session.get(Concern, db.session.get(SysopPage, missed.id).concern_id)
    assert _subject_row(world, opened) == ("Sigo aquí", "page")
    page = ken.text(f"/care/{opened.id}")
    assert '<h1><span class="tag tag-page">Llamada</span> Sigo aquí</h1>' in page
    assert "Page:" not in page
    assert _tagged(grace.text("/mod/concerns"), "Ruf", "Sigo aquí")
    # A written concern has no tag and its subject as typed.
    services.write_to_sysops(world["ken"], world["retro"].id, "Ruf: typed", "Hola")
    inbox = grace.text("/mod/concerns")
    assert '">Ruf: typed</a>' in inbox and inbox.count('class="tag tag-page"') == 2


def test_pages_are_rate_limited_per_member(world):
    with transaction() as session:
        session.add(SiteSetting(key="care_pages_per_hour", value="2"))
    from forum import settings

    settings.forget()
    services.set_duty(world["grace"], world["retro"].id, True)
    services.page_sysops(world["ken"], world["retro"].id, "one")
    services.page_sysops(world["ken"], world["retro"].id, "two")
    with pytest.raises(Invalid) as refused:
        services.page_sysops(world["ken"], world["retro"].id, "three")
    assert "2 times an hour" in str(refused.value.message)
    assert len(db.session.scalars(select(SysopPage)).all()) == 2


def test_nobody_on_duty_means_no_page(world):
    with pytest.raises(Invalid):
        services.page_sysops(world["ken"], world["retro"].id, "hello?")
    services.set_duty(world["grace"], world["retro"].id, True)
    with pytest.raises(Forbidden):
        services.page_sysops(world["grace"], world["retro"].id, "my own SIG")
    with pytest.raises(Invalid):
        services.page_sysops(world["ken"], world["retro"].id, "   ")


def test_a_refused_page_keeps_the_words_in_the_form_to_write_instead(browser, world):
    """Nobody on duty any more by the time the member sends (or too many pages): the answer
    is the form to write to the sysops, the words typed for the page in its body, not the SIG
    page with them gone."""
    ken = browser(world["ken"])
    words = "A spam bot floods the SIG right now"
    response = ken.form("/s/retro/page", {"body": words})
    assert response.status_code == 400
    shown = response.get_data(as_text=True)
    assert "No sysop is on duty here now; write to them instead." in shown
    assert '<form method="post" action="/s/retro/sysops/write" class="post-form">' in shown
    assert f"{words}</textarea>" in shown
    assert "Write to the sysops of Retro Computing" in shown
    assert not db.session.scalars(select(SysopPage)).all()


@pytest.mark.parametrize(
    ("language", "words", "said"),
    [
        ("en", "x" * 501, "Keep it to 500 characters"),
        ("de", "x" * 501, "Höchstens 500 Zeichen"),
        ("en", "   ", "Say in a few words what it is about."),
    ],
)
def test_a_page_refused_for_its_words_keeps_them_in_the_box_with_why_beside_it(
    browser, world, language, words, said
):
    """A browser that ignores the box's maxlength sends too long a text (or an empty one): the
    answer is the SIG page again, its box focused (in view), the words in it and what is wrong
    beside it (marked on the field for a screen reader), not a redirect that drops them. (No
    "#care" on the form's action: a page sent well would open with it, as a redirect without
    a fragment keeps the request's.)"""
    services.set_duty(world["grace"], world["retro"].id, True)
    ken = browser(world["ken"])
    if language != "en":
        ken.form("/language", {"language": language})
    response = ken.form("/s/retro/page", {"body": words})
    assert response.status_code == 400
    shown = response.get_data(as_text=True)
    form = shown[shown.index('<form method="post" action="/s/retro/page"') :]
    form = form[: form.index("</form>")]
    box = re.search(r'<input type="text" id="care-page-body"[^>]*>', form).group(0)
    if words.strip():
        assert f'value="{words}"' in box
    assert 'aria-invalid="true"' in box and 'aria-describedby="care-page-body-error"' in box
    assert "autofocus" in box
    error = re.search(r'<p class="error" id="care-page-body-error">([^<]*)</p>', form).group(1)
    assert said in error
    assert "Retro Computing" in shown  # the SIG page itself
    assert not db.session.scalars(select(SysopPage)).all()


def test_a_dismissed_sysop_is_off_duty_and_hears_no_page(app, make_client, world):
    services.set_duty(world["grace"], world["retro"].id, True)
    services.set_duty(world["linus"], world["retro"].id, True)
    sockets = _sockets(app, make_client, "grace", "linus")
    sig_services.set_sig_sysop(world["root"], world["retro"].id, world["linus"].id, False)
    assert db.session.get(SysopDuty, (world["retro"].id, world["linus"].id)) is None
    page = services.page_sysops(world["ken"], world["retro"].id, "help")
    assert [e["type"] for e in _care(sockets["grace"])] == ["page"]
    assert _care(sockets["linus"]) == []
    with pytest.raises(NotFound):
        services.take_page(world["linus"], page.id)


def test_a_sysop_dismissed_after_the_page_gets_no_live_word(app, make_client, world):
    services.set_duty(world["grace"], world["retro"].id, True)
    page = services.page_sysops(world["ken"], world["retro"].id, "help")
    concern = services.take_page(world["grace"], page.id)
    sockets = _sockets(app, make_client, "grace", "ken")
    sig_services.set_sig_sysop(world["root"], world["retro"].id, world["grace"].id, False)
    services.reply(world["ken"], concern.id, "are you there?")
    assert _care(sockets["grace"]) == []


def test_a_note_or_an_assignment_is_not_nudged_to_the_member(app, make_client, world):
    services.set_duty(world["grace"], world["retro"].id, True)
    page = services.page_sysops(world["ken"], world["retro"].id, "help")
    concern = services.take_page(world["grace"], page.id)
    sockets = _sockets(app, make_client, "linus", "ken")
    services.add_note(world["grace"], concern.id, "he asked before")
    services.assign(world["grace"], concern.id, "linus")
    assert _care(sockets["ken"]) == []
    assert _care(sockets["linus"]) == [{"type": "concern", "concern_id": concern.id}] * 2


def test_the_sites_sysops_answer_the_pages_of_a_sig_without_sysops(app, world, f):
    """A SIG nobody runs: the global sysop goes on duty there, is paged, and a page nobody took
    becomes a concern the site's sysops are told of."""
    lonely = f.sig("stammtisch", name="Stammtisch", members=[world["ken"]])
    services.set_duty(world["root"], lonely.id, True)
    assert services.on_duty_ids(lonely.id) == [world["root"].id]
    page = services.page_sysops(world["ken"], lonely.id, "Anyone there?")
    with transaction():
        db.session.get(SysopPage, page.id).expires_at = utcnow() - timedelta(seconds=1)
    concern_id = services.expire_page(page.id)
    assert concern_id is not None
    told = db.session.scalars(
        select(Notification).where(Notification.user_id == world["root"].id)
    ).all()
    assert [n.data["what"] for n in told if "page_id" not in n.data] == ["opened"]
    # The page's own notification says it became a concern, and asks nothing more.
    (paged,) = [n for n in told if "page_id" in n.data]
    assert paged.data["what"] == "page_expired" and paged.read_at is not None
    assert _notes_of(world["grace"]) == []


def _notes_of(user):
    return db.session.scalars(select(Notification).where(Notification.user_id == user.id)).all()


def _page_notes(user):
    return [
        n
        for n in db.session.scalars(
            select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        )
        if "page_id" in (n.data or {})
    ]


def test_a_page_reaches_the_sysops_on_duty_in_their_notification_centre_and_mail(
    app, browser, world, outbox
):
    """A sysop on duty who has no page open hears of a page too: a notification in their own
    language, linked to the page, and mail at once (a page waits minutes, not the mail's usual
    delay) unless their mail choice for concerns is off; never the page's words."""
    from forum.notifications import services as notifications

    from .mailbox import mails

    accounts.set_language(world["grace"], "de")
    notifications.set_mail_preferences(world["linus"], {"concern": "off"})
    services.set_duty(world["grace"], world["retro"].id, True)
    services.set_duty(world["linus"], world["retro"].id, True)
    page = services.page_sysops(world["ken"], world["retro"].id, "My modem will not dial")
    db.session.expire_all()
    assert [n.data for n in _page_notes(world["grace"])] == [{"page_id": page.id, "what": "paged"}]
    assert len(_page_notes(world["linus"])) == 1
    assert _page_notes(world["ken"]) == [] and _page_notes(world["root"]) == []
    centre = browser(world["grace"]).text("/notifications")
    assert "ken ruft die Sysops von Retro Computing" in centre
    assert f'href="/notifications/{_page_notes(world["grace"])[0].id}"' in centre
    assert "My modem" not in centre
    assert "ken pages the sysops of Retro Computing" in browser(world["linus"]).text(
        "/notifications"
    )
    # Opening it leads to the page, where she may take it.
    opened = browser(world["grace"]).get(f"/notifications/{_page_notes(world['grace'])[0].id}")
    assert opened.headers["Location"].endswith(f"/care/pages/{page.id}")
    # Mailed at once, in German, to Grace alone (Linus turned concern mail off).
    sent = [m for m in mails(outbox) if "Sysops" in m["Subject"] or "sysops" in m["Subject"]]
    assert [(m["To"], m["Subject"]) for m in sent] == [
        ("grace@example.com", "[Forum] ken ruft die Sysops von Retro Computing")
    ]
    text = str(sent[0].get_body(preferencelist=("plain",)).get_content())
    assert "ken ruft die Sysops von Retro Computing" in text
    assert f"/care/pages/{page.id}" in text and "My modem" not in text


def test_a_taken_page_no_longer_looks_like_it_waits(app, browser, world, outbox):
    """Once one sysop takes the page, the others' notifications are read and say another sysop
    took it, and the page they lead to says so; a page nobody took says it became a concern."""
    services.set_duty(world["grace"], world["retro"].id, True)
    services.set_duty(world["linus"], world["retro"].id, True)
    page = services.page_sysops(world["ken"], world["retro"].id, "help")
    linus = browser(world["linus"])
    assert "ken pages the sysops" in linus.text("/notifications")
    concern = services.take_page(world["grace"], page.id)
    db.session.expire_all()
    for sysop in ("grace", "linus"):
        (note,) = _page_notes(world[sysop])
        assert note.read_at is not None
        assert note.data == {"page_id": page.id, "what": "page_taken", "concern_id": concern.id}
    centre = linus.text("/notifications")
    assert "Another sysop took ken’s page in Retro Computing" in centre
    assert "ken pages the sysops" not in centre
    shown = linus.text(f"/care/pages/{page.id}")
    assert "Another sysop took this page and answers the member." in shown
    assert ">Take it<" not in shown
    assert "You took this page." in browser(world["grace"]).text(f"/care/pages/{page.id}")
    # A page nobody took: the notification says it is a concern now.
    missed = services.page_sysops(world["ken"], world["retro"].id, "still there?")
    with transaction():
        db.session.get(SysopPage, missed.id).expires_at = utcnow() - timedelta(seconds=1)
    services.expire_page(missed.id)
    db.session.expire_all()
    notes = [n for n in _page_notes(world["linus"]) if n.data["page_id"] == missed.id]
    assert [n.data["what"] for n in notes] == ["page_expired"] and notes[0].read_at is not None
    assert "Nobody took ken’s page in Retro Computing in time" in linus.text("/notifications")


def test_a_waiting_page_refreshes_for_a_sysop_without_javascript(browser, world):
    """A sysop who opened a waiting page learns there that another took it: realtime.js
    reloads it when told (tests/e2e/test_care.py), and without JavaScript the page refreshes
    itself, as the member's does, so "Take it" does not stay on it."""
    services.set_duty(world["grace"], world["retro"].id, True)
    page = services.page_sysops(world["ken"], world["retro"].id, "help")
    waiting = browser(world["grace"]).text(f"/care/pages/{page.id}")
    assert ">Take it<" in waiting
    assert '<noscript><meta http-equiv="refresh" content="20"></noscript>' in waiting
    services.take_page(world["grace"], page.id)
    assert "refresh" not in browser(world["linus"]).text(f"/care/pages/{page.id}")


def test_the_waiting_member_is_not_reloaded_under_a_script(browser, world):
    """The member's waiting page refreshed itself every 20 seconds with JavaScript on too,
    where realtime.js already opens the conversation when a sysop takes it: a screen reader
    went back to the page's top three times a minute (axe-core's meta-refresh, WCAG 2.2.1).
    The refresh is for browsers without JavaScript only, as the sysop's; the script reloads
    the page itself when its socket comes back after a break (`data-care-waiting`)."""
    services.set_duty(world["grace"], world["retro"].id, True)
    page = services.page_sysops(world["ken"], world["retro"].id, "help")
    waiting = browser(world["ken"]).text(f"/care/pages/{page.id}")
    assert "The sysops on duty are paged" in waiting and 'data-care-waiting="1"' in waiting
    assert waiting.count('http-equiv="refresh"') == 1
    assert '<noscript><meta http-equiv="refresh" content="20"></noscript>' in waiting
    services.take_page(world["grace"], page.id)
    taken = browser(world["linus"]).text(f"/care/pages/{page.id}")
    assert "refresh" not in taken and "data-care-waiting" not in taken


def test_a_waiting_page_open_anywhere_hears_it_was_taken(app, make_client, f, world):
    """Not only the sysops on duty it rang for: a global sysop, or a SIG sysop off duty, who
    opened the waiting page hears it go (realtime.js reloads it); a member who may not see
    the page cannot listen to it."""
    services.set_duty(world["grace"], world["retro"].id, True)
    page = services.page_sysops(world["ken"], world["retro"].id, "help")
    f.user("ada")
    db.session.commit()
    sockets = _sockets(app, make_client, "root", "linus", "ada")
    for name in ("root", "linus"):
        answer = sockets[name].emit("subscribe", {"care_page": page.id}, callback=True)
        assert answer == {"ok": True, "room": f"care_page:{page.id}"}, name
    refused = sockets["ada"].emit("subscribe", {"care_page": page.id}, callback=True)
    assert refused == {"ok": False, "error": "Not found."}
    services.take_page(world["grace"], page.id)
    gone = {"type": "page_gone", "page_id": page.id}
    assert _care(sockets["root"]) == [gone] and _care(sockets["linus"]) == [gone]
    assert _care(sockets["ada"]) == []


def test_a_sysop_dismissed_while_a_page_is_open_stops_hearing_it(app, make_client, world):
    """The page's room is asked again like a topic's: a sysop removed from the SIG leaves it
    (and the member who sent the page, and the sysop still in office, stay)."""
    services.set_duty(world["grace"], world["retro"].id, True)
    page = services.page_sysops(world["ken"], world["retro"].id, "help")
    sockets = _sockets(app, make_client, "grace", "linus", "ken")
    for name in ("grace", "linus", "ken"):
        answer = sockets[name].emit("subscribe", {"care_page": page.id}, callback=True)
        assert answer == {"ok": True, "room": f"care_page:{page.id}"}, name
    sig_services.set_sig_sysop(world["root"], world["retro"].id, world["linus"].id, False)
    sockets["linus"].get_received()
    services.take_page(world["grace"], page.id)
    gone = {"type": "page_gone", "page_id": page.id}
    assert _care(sockets["grace"]) == [gone] and gone in _care(sockets["ken"])
    assert _care(sockets["linus"]) == []


def test_a_global_sysop_demoted_while_a_page_is_open_stops_hearing_it(app, make_client, f, world):
    """Losing the global sysop's role asks the page's room again like a dismissal from its SIG:
    a global sysop outside the SIG leaves it; its own sysop and the member who sent it stay."""
    from forum.admin import services as admin

    ada = f.sysop("ada")
    services.set_duty(world["grace"], world["retro"].id, True)
    page = services.page_sysops(world["ken"], world["retro"].id, "help")
    sockets = _sockets(app, make_client, "ada", "grace", "ken")
    for name in ("ada", "grace", "ken"):
        answer = sockets[name].emit("subscribe", {"care_page": page.id}, callback=True)
        assert answer == {"ok": True, "room": f"care_page:{page.id}"}, name
    admin.set_role(world["root"], ada.id, "member")
    sockets["ada"].get_received()
    services.take_page(world["grace"], page.id)
    gone = {"type": "page_gone", "page_id": page.id}
    assert _care(sockets["grace"]) == [gone] and gone in _care(sockets["ken"])
    assert _care(sockets["ada"]) == []


def test_a_demoted_global_sysop_is_off_duty_where_no_longer_a_sysop(app, make_client, f, world):
    """Losing the global sysop's role is a dismissal from every SIG they do not run themselves:
    off duty there, and its concerns (the site's own too) given to them are nobody's again; in
    their own SIG they stay on duty, with its concerns."""
    from forum.admin import services as admin

    ada = f.sysop("ada")
    amiga = f.sig("amiga", name="Amiga", members=[world["ken"]], sysops=[ada])
    lonely = f.sig("stammtisch", name="Stammtisch", members=[world["ken"]])
    for sig in (world["retro"], amiga, lonely):
        services.set_duty(ada, sig.id, True)
    services.set_duty(world["grace"], world["retro"].id, True)
    concerns = {}
    for key, sig_id in (("retro", world["retro"].id), ("amiga", amiga.id), ("lonely", lonely.id)):
        concerns[key] = services.write_to_sysops(world["ken"], sig_id, f"About {key}", "Help")
    concerns["site"] = services.write_to_sysops(world["ken"], None, "About the site", "Help")
    for concern in concerns.values():
        services.assign(world["root"], concern.id, "ada")
    graces = services.write_to_sysops(world["ken"], world["retro"].id, "For grace", "Help")
    services.assign(world["root"], graces.id, "grace")
    sockets = _sockets(app, make_client, "ada")

    admin.set_role(world["root"], ada.id, "member")

    duties = db.session.scalars(select(SysopDuty).where(SysopDuty.user_id == ada.id)).all()
    assert [d.sig_id for d in duties] == [amiga.id]
    assert db.session.get(SysopDuty, (world["retro"].id, world["grace"].id)) is not None
    assignees = {key: db.session.get(Concern, c.id).assignee_id for key, c in concerns.items()}
    assert assignees == {"retro": None, "amiga": ada.id, "lonely": None, "site": None}
    assert db.session.get(Concern, graces.id).assignee_id == world["grace"].id
    # Paged in the SIG she still runs only.
    services.page_sysops(world["ken"], amiga.id, "help")
    with pytest.raises(Invalid):
        services.page_sysops(world["ken"], lonely.id, "help")
    assert [e["type"] for e in _care(sockets["ada"])] == ["page"]


def test_a_page_notification_is_withheld_from_a_sysop_dismissed_since(browser, world):
    services.set_duty(world["grace"], world["retro"].id, True)
    services.page_sysops(world["ken"], world["retro"].id, "help")
    sig_services.set_sig_sysop(world["root"], world["retro"].id, world["grace"].id, False)
    centre = browser(world["grace"]).text("/notifications")
    assert "ken pages" not in centre and "/care/pages/" not in centre


def test_the_sysop_who_takes_a_page_is_not_told_it_became_a_concern(world):
    """Taking a page opens a concern assigned to the sysop who took it, and the concern told
    every sysop of the SIG "ken wrote to the sysops of Retro Computing", the one who took it
    too: an unread notification (and a mail at once) about the conversation they had just
    opened themselves. The others are told; the taker is not."""
    services.set_duty(world["grace"], world["retro"].id, True)
    services.set_duty(world["linus"], world["retro"].id, True)
    page = services.page_sysops(world["ken"], world["retro"].id, "help")
    concern = services.take_page(world["grace"], page.id)
    db.session.expire_all()

    def opened(user):
        return [
            n
            for n in _notes_of(user)
            if n.data.get("what") == "opened" and n.data.get("concern_id") == concern.id
        ]

    assert opened(world["grace"]) == []
    assert len(opened(world["linus"])) == 1
    assert [n.data["what"] for n in _page_notes(world["grace"])] == ["page_taken"]


# --- the column holds what a page keeps -----------------------------------------------------------
WORDS_BEFORE = "0042_announcement_end_events"


def test_the_page_s_words_column_holds_what_a_page_keeps(base_config, empty_database):
    """sysop_pages.body is VARCHAR(500), the page's own limit, up and down (migration 0043); a
    page of 500 characters stays whole, a longer one (none can be written) is cut to 500."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import String, inspect, text

    from forum import create_app

    from .test_care_appeals import _insert_ken, _insert_retro

    assert isinstance(SysopPage.body.type, String)
    assert SysopPage.body.type.length == services.PAGE_TEXT_LIMIT == 500
    migrated = create_app({**base_config, "DATABASE_URL": empty_database})
    now = utcnow()

    def body_length():
        (column,) = [
            c for c in inspect(db.engine).get_columns("sysop_pages") if c["name"] == "body"
        ]
        return column["type"].length

    with migrated.app_context():
        upgrade(revision=WORDS_BEFORE)
        with db.engine.begin() as conn:
            _insert_ken(conn, now)
            _insert_retro(conn, now)
            for page_id, body in ((1, "é" * 500), (2, "x" * 600)):
                conn.execute(
                    text(
                        "INSERT INTO sysop_pages (id, sig_id, member_id, body, created_at, "
                        "expires_at) VALUES (:id, 1, 1, :body, :now, :now)"
                    ),
                    {"id": page_id, "body": body, "now": now},
                )
        assert body_length() == 1000
        upgrade()
        assert body_length() == 500
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, body FROM sysop_pages ORDER BY id")).all()
        assert [(i, b) for i, b in rows] == [(1, "é" * 500), (2, "x" * 500)]
        downgrade(revision=WORDS_BEFORE)
        assert body_length() == 1000
        upgrade()
        assert body_length() == 500
        db.session.remove()
        db.engine.dispose()
