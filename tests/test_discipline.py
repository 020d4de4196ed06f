"""Member discipline: warn, silence, suspend (in a SIG or site-wide), ban and lift; notes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from forum import events
from forum.accounts.models import User
from forum.care.models import Concern
from forum.errors import Conflict, Forbidden, Invalid
from forum.extensions import db
from forum.moderation import services as mod
from forum.moderation.models import MemberWarning, ModAction
from forum.notifications.models import Notification
from forum.timeutil import utcnow
from forum.topics.models import Post

from .mod_support import build_world


def _user(user_id: int) -> User:
    db.session.expire_all()
    return db.session.get(User, user_id)


def test_a_warning_is_shown_to_the_member_until_read(app, browser):
    w = build_world()
    told: list[events.MemberDisciplined] = []
    events.subscribe(app, events.MemberDisciplined, told.append)
    sysop = browser(w.sig_sysop)
    response = sysop.form(
        "/mod/u/author/warn", {"warn-reason": "Mind your language.", "warn-sig": str(w.sig.id)}
    )
    assert response.status_code == 302
    assert [(e.user_id, e.kind, e.sig_id) for e in told] == [(w.author.id, "warned", w.sig.id)]
    author = browser(w.author)
    settings = author.text("/settings")
    assert "Mind your language." in settings and "I have read these warnings" in settings
    author.form("/settings/warnings/read")
    warning = db.session.scalar(select(MemberWarning))
    assert warning.acknowledged_at is not None
    assert "I have read these warnings" not in author.text("/settings")


@pytest.mark.parametrize(
    ("language", "kind", "said"),
    [
        ("de", "silence", "Du bist bis zum "),
        ("es", "silence", "Estás silenciado hasta el "),
        ("de", "suspend", "Dein Konto ist bis zum "),
        ("es", "suspend", "Tu cuenta está suspendida hasta el "),
    ],
)
def test_why_a_member_may_not_write_is_said_in_their_language(app, browser, language, kind, said):
    from forum.accounts import services as accounts

    w = build_world()
    accounts.set_language(w.author, language)
    sysop = browser(w.root)
    sysop.form(f"/mod/u/author/{kind}", {f"{kind}-days": "2", f"{kind}-reason": "Flooding."})
    page = browser(w.author).text(f"/t/{w.topic.id}?page=1")
    assert said in page and ": Flooding." in page
    assert "until" not in page.split(said)[1][:40]  # the moment in the member's words too


def test_silence_stops_writing_everywhere_and_says_why(app, browser):
    w = build_world()
    sysop = browser(w.root)
    sysop.form("/mod/u/author/silence", {"silence-days": "2", "silence-reason": "Flooding."})
    author = browser(w.author)
    page = author.text(f"/t/{w.topic.id}?page=1")
    assert "You are silenced until" in page and "Flooding." in page
    response = author.form(f"/t/{w.topic.id}/reply", {"body": "Can I still post?"})
    assert response.status_code in (400, 403)
    assert "You are silenced until" in response.get_data(as_text=True)
    assert db.session.scalar(select(Post.id).where(Post.body_raw == "Can I still post?")) is None
    assert "You are silenced until" in author.text("/settings")
    sysop.form("/mod/u/author/lift", {"lift-kind": "silence"})
    assert author.form(f"/t/{w.topic.id}/reply", {"body": "Back."}).status_code == 302


def test_a_sig_suspension_bars_only_that_sig(app, f, browser):
    w = build_world()
    f.join(w.author, w.sig_b)
    browser(w.sig_sysop).form(
        "/mod/u/author/suspend",
        {"suspend-days": "5", "suspend-reason": "Cool off.", "suspend-sig": str(w.sig.id)},
    )
    author = browser(w.author)
    page = author.text(f"/s/{w.sig.slug}/new")
    assert "You are suspended in Main until" in page and "Cool off." in page
    assert author.form(f"/s/{w.sig.slug}/new", {"title": "Hello", "body": "x"}).status_code in (
        400,
        403,
    )
    assert (
        author.form(f"/s/{w.sig_b.slug}/new", {"title": "Hello there", "body": "x"}).status_code
        == 302
    )
    assert "You are suspended in Main" in author.text("/settings")
    browser(w.sig_sysop).form(
        "/mod/u/author/lift", {"lift-kind": "suspension", "lift-sig": str(w.sig.id)}
    )
    assert author.form(f"/s/{w.sig.slug}/new", {"title": "Hello", "body": "x"}).status_code == 302


def test_a_site_suspension_needs_the_global_sysop(app):
    w = build_world()
    until = utcnow() + timedelta(days=1)
    with pytest.raises(Forbidden, match="Only the sysop"):
        mod.suspend_member(w.sig_sysop, w.author.id, until, "x")
    mod.suspend_member(w.root, w.author.id, until, "Away for a day")
    assert _user(w.author.id).is_suspended()
    with pytest.raises(Invalid, match="in the future"):
        mod.suspend_member(w.root, w.author.id, utcnow() - timedelta(days=1), "x")
    with pytest.raises(Invalid, match="Give a reason"):
        mod.suspend_member(w.root, w.author.id, until, "   ")


def test_ban_ends_every_session_and_blocks_login(app, browser, client):
    w = build_world()
    revoked: list[events.SessionsRevoked] = []
    events.subscribe(app, events.SessionsRevoked, revoked.append)
    author = browser(w.author)
    assert author.get("/settings").status_code == 200
    token = db.session.get(User, w.author.id).session_token
    browser(w.root).form("/mod/u/author/ban", {"ban-reason": "Spammer."})
    banned = db.session.get(User, w.author.id)
    assert banned.is_banned and banned.session_token != token
    assert revoked == [events.SessionsRevoked(user_id=w.author.id)]
    assert author.get("/settings").status_code == 302  # logged out
    response = client.form("/login", {"login": "author", "password": "correct-horse-battery"})
    assert "This account is banned: Spammer." in response.get_data(as_text=True)
    browser(w.root).form("/mod/u/author/lift", {"lift-kind": "ban"})
    assert not db.session.get(User, w.author.id).is_banned


def test_who_may_discipline_whom(app):
    w = build_world()
    until = utcnow() + timedelta(days=1)
    with pytest.raises(Forbidden, match="yourself"):
        mod.warn_member(w.root, w.root.id, "x")
    with pytest.raises(Forbidden, match="cannot be disciplined"):
        mod.warn_member(w.root, _other_sysop(w).id, "x")
    with pytest.raises(Forbidden, match="Only the sysop may discipline a SIG sysop"):
        mod.suspend_member(w.sig_sysop, _co_sysop(w).id, until, "x", w.sig.id)
    with pytest.raises(Forbidden):
        mod.warn_member(w.other_sysop, w.author.id, "x", sig_id=w.sig.id)
    with pytest.raises(Invalid, match="not a member of Main"):
        mod.suspend_member(w.sig_sysop, w.other_sysop.id, until, "x", w.sig.id)
    mod.ban_member(w.root, w.victim.id, "x")
    with pytest.raises(Conflict, match="already banned"):
        mod.ban_member(w.root, w.victim.id, "x")


def _other_sysop(w):
    from forum.accounts import services as accounts

    return accounts.create_sysop("root2", "root2@example.com", "correct-horse-battery")


def _co_sysop(w):
    from forum.sigs import services as sigs

    sigs.set_sig_sysop(w.root, w.sig.id, w.member.id, True)
    return w.member


def test_notes_on_members_are_for_sysops_only(app, browser):
    w = build_world()
    sysop = browser(w.sig_sysop)
    sysop.form(
        "/mod/u/author/note", {"note-body": "Was warned by mail in May.", "note-sig": w.sig.id}
    )
    page = sysop.text("/mod/u/author")
    assert "Was warned by mail in May." in page and "sigsysop" in page
    # Filed under the SIG: its sysops and the global sysop read it, other SIGs' sysops do not.
    assert "Was warned by mail in May." in browser(w.root).text("/mod/u/author")
    assert "Was warned by mail in May." not in browser(w.other_sysop).text("/mod/u/author")
    assert "Was warned by mail in May." not in browser(w.author).text("/u/author")
    assert "Was warned by mail in May." not in browser(w.author).text("/settings")
    assert browser(w.author).get("/mod/u/author").status_code == 403
    entry = db.session.scalar(select(ModAction).where(ModAction.action == "add_member_note"))
    assert entry.target_user_id == w.author.id


def test_the_sysop_hears_of_each_action_in_their_language(app, browser):
    """What the member page says after a button (warned, silenced, banned, lifted, a note added)
    is in the sysop's language, as the buttons are."""
    from forum.accounts import services as accounts

    w = build_world()
    accounts.set_language(db.session.get(User, w.root.id), "de")
    root = browser(w.root)
    steps = [
        ("note", {"note-body": "Schreibt oft nachts."}, "Notiz hinzugefügt."),
        ("warn", {"warn-reason": "Bitte freundlich bleiben."}, "Verwarnt; das Mitglied bekommt"),
        ("silence", {"silence-days": "1", "silence-reason": "Pause."}, "Stummgeschaltet."),
        ("ban", {"ban-reason": "Spam."}, "Gesperrt; alle Sitzungen des Mitglieds sind beendet."),
        ("lift", {"lift-kind": "ban"}, "Aufgehoben."),
    ]
    for action, data, said in steps:
        response = root.form(f"/mod/u/author/{action}", data, follow_redirects=True)
        assert said in response.get_data(as_text=True), action


def test_the_member_page_shows_the_forms_its_read_model_offers(app, browser):
    """Which of the member page's forms a sysop gets is the read model's rule (MemberPanel.offers),
    which the page and the views read: the global sysop every one, a sysop of the member's SIG
    the note, warning, suspension and removal, a sysop of another SIG a note only."""
    import re

    from forum.moderation.queries import MEMBER_FORMS, member_panel

    w = build_world()
    expected = {
        w.root: set(MEMBER_FORMS),
        w.sig_sysop: {"note", "warn", "suspend", "remove"},
        w.other_sysop: {"note"},
    }
    for sysop, forms in expected.items():
        panel = member_panel(sysop, w.member.username)
        assert {form for form in MEMBER_FORMS if panel.offers(form)} == forms, sysop.username
        assert panel.offers_discipline == (forms != {"note"})
        page = browser(sysop).text(f"/mod/u/{w.member.username}")
        shown = set(re.findall(rf'action="/mod/u/{w.member.username}/(\w+)"', page))
        assert shown & set(MEMBER_FORMS) == forms, sysop.username  # (trust, spam: not its own)
        assert ('id="discipline-heading"' in page) == (forms != {"note"})
    with pytest.raises(ValueError, match="no form 'lift'"):
        member_panel(w.root, w.member.username).offers("lift")


def test_a_refused_discipline_form_keeps_what_the_sysop_typed(app, browser):
    """Warn, suspend, silence, ban and remove redirected to the member's page on an error, with
    the error in a flash and the form empty: the reason the sysop wrote was gone. The page comes
    back with the form as it was sent and the error beside it."""
    w = build_world()
    reason = "Rude to three members in one evening"
    root, sysop = browser(w.root), browser(w.sig_sysop)
    page = root.text(f"/mod/u/{w.author.username}")  # the sysop opens the page …
    assert f'<option value="{w.sig.id}">Main</option>' in page
    # … meanwhile a SIG sysop takes the author out of the SIG; the service refuses.
    assert (
        sysop.form(
            f"/mod/u/{w.author.username}/remove",
            {"remove-sig": str(w.sig.id), "remove-reason": "Spam"},
        ).status_code
        == 302
    )
    refused = root.form(
        f"/mod/u/{w.author.username}/suspend",
        {"suspend-days": "5", "suspend-reason": reason, "suspend-sig": str(w.sig.id)},
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert f'value="{reason}"' in html and 'value="5"' in html
    assert "author is not a member of Main." in html
    assert _user(w.author.id).suspended_until is None
    # The form refuses: too many days.
    invalid = root.form(
        f"/mod/u/{w.author.username}/silence",
        {"silence-days": "99999", "silence-reason": reason},
    )
    assert invalid.status_code == 400
    html = invalid.get_data(as_text=True)
    assert f'value="{reason}"' in html and "Between 1 and 3,650 days." in html
    # The SIG sysop's page no longer offers the form: the error is said there.
    gone = sysop.form(
        f"/mod/u/{w.author.username}/suspend",
        {"suspend-days": "5", "suspend-reason": reason, "suspend-sig": str(w.sig.id)},
    )
    assert gone.status_code == 302
    assert "author is not a member of Main." in sysop.text(f"/mod/u/{w.author.username}")
    # Done: back to the page, as before.
    done = root.form(f"/mod/u/{w.author.username}/warn", {"warn-reason": reason, "warn-sig": "0"})
    assert done.status_code == 302


def _notice(page: str) -> str:
    """The first notice on a page (what bars the member, and whom to write to)."""
    found = re.search(r'<p class="notice">(.*?)</p>', page, re.S)
    assert found, "no notice"
    return found.group(1)


def test_a_silenced_member_is_told_whom_to_write_to_and_may_write_there(app, browser):
    """A site-wide silence is the site's sysops' doing: the notice where the member would
    reply links to writing to them, and a silenced member may send it. The notification opens
    the settings page at the member's standing, not at its top."""
    w = build_world()
    browser(w.root).form(
        "/mod/u/author/silence", {"silence-days": "2", "silence-reason": "Flooding."}
    )
    author = browser(w.author)
    notice = _notice(author.text(f"/t/{w.topic.id}/reply"))
    assert "You are silenced until" in notice
    assert "write to the site’s sysops</a>" in notice and 'href="/care/write"' in notice
    sent = author.form("/care/write", {"subject": "My silence", "body": "I was quoting a song."})
    assert sent.status_code == 302
    concern = db.session.scalar(select(Concern).where(Concern.member_id == w.author.id))
    assert concern is not None and concern.sig_id is None
    note = db.session.scalar(
        select(Notification).where(
            Notification.user_id == w.author.id, Notification.kind == "discipline"
        )
    )
    opened = author.get(f"/notifications/{note.id}")
    assert opened.status_code == 302
    assert opened.headers["Location"].endswith("/settings#standing-heading")
    assert 'id="standing-heading"' in author.text("/settings")


def test_a_member_suspended_in_a_sig_is_pointed_to_its_sysops(app, f, browser):
    w = build_world()
    browser(w.sig_sysop).form(
        "/mod/u/author/suspend",
        {"suspend-days": "5", "suspend-reason": "Cool off.", "suspend-sig": str(w.sig.id)},
    )
    author = browser(w.author)
    for url in (f"/s/{w.sig.slug}/", f"/t/{w.topic.id}/reply", f"/s/{w.sig.slug}/new"):
        notice = _notice(author.text(url))
        assert "You are suspended in Main until" in notice, url
        assert f'href="/s/{w.sig.slug}/sysops/write">write to the sysops of Main</a>' in notice
    sent = author.form(
        f"/s/{w.sig.slug}/sysops/write", {"subject": "Suspension", "body": "May I explain?"}
    )
    assert sent.status_code == 302
    concern = db.session.scalar(select(Concern).where(Concern.member_id == w.author.id))
    assert concern is not None and concern.sig_id == w.sig.id
    # Elsewhere nothing bars them, and no notice points anywhere.
    assert "sysops/write" not in author.text(f"/s/{w.sig_b.slug}/new")


@pytest.mark.parametrize(
    ("language", "said"),
    [("de", "schreib den Sysops von Main</a>"), ("es", "escribe a los sysops de Main</a>")],
)
def test_whom_to_write_to_is_said_in_the_members_language(app, browser, language, said):
    from forum.accounts import services as accounts

    w = build_world()
    accounts.set_language(w.author, language)
    browser(w.sig_sysop).form(
        "/mod/u/author/suspend",
        {"suspend-days": "5", "suspend-reason": "Cool off.", "suspend-sig": str(w.sig.id)},
    )
    assert said in _notice(browser(w.author).text(f"/s/{w.sig.slug}/"))
