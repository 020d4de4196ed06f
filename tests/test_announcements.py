"""Announcements: who posts where, the banner each member dismisses, the newest-first list."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from forum.accounts import services as accounts
from forum.announcements import queries, services
from forum.announcements.models import Announcement, AnnouncementDismissal
from forum.db import transaction
from forum.errors import Forbidden, Invalid
from forum.extensions import db
from forum.timeutil import utcnow


@pytest.fixture
def world(f: Any) -> dict[str, Any]:
    root = f.sysop("root")
    ada, bob, eve = f.user("ada"), f.user("bob"), f.user("eve")
    retro = f.sig("retro", members=[ada, bob], sysops=[ada])
    games = f.sig("games", members=[eve])
    secret = f.sig("secret", visibility="private", members=[bob])
    return {"root": root, "ada": ada, "bob": bob, "eve": eve, "retro": retro, "games": games,
            "secret": secret}  # fmt: skip


def post(client: Any, where: str, title: str, body: str = "Some **news**.") -> Any:
    return client.form("/announcements/new", {"where": where, "title": title, "body": body})


def test_the_sysop_posts_site_wide_and_sig_sysops_in_their_sig(client, world):
    client.login("root")
    assert post(client, "", "Maintenance tonight").status_code == 302
    client.logout()
    client.login("ada")
    page = client.get("/announcements/new").get_data(as_text=True)
    assert ">Site-wide</option>" not in page
    assert ">Retro</option>" in page and ">Games</option>" not in page
    assert post(client, str(world["retro"].id), "Retro meetup").status_code == 302
    refused = post(client, "", "Sneaky site-wide")
    assert refused.status_code == 400  # not a choice she is offered
    assert post(client, str(world["games"].id), "Not my SIG").status_code == 400
    client.logout()
    client.login("bob")
    assert client.get("/announcements/new").status_code == 403
    titles = db.session.scalars(db.select(Announcement.title).order_by(Announcement.id)).all()
    assert titles == ["Maintenance tonight", "Retro meetup"]


def test_service_checks_permission_and_input(app, world):
    with pytest.raises(Forbidden):
        services.publish_announcement(world["ada"], None, "Site news", "Body")
    with pytest.raises(Forbidden):
        services.publish_announcement(world["bob"], world["retro"].id, "Hello", "Body")
    with pytest.raises(Invalid):
        services.publish_announcement(world["root"], None, "x", "Body")
    made = services.publish_announcement(world["ada"], world["retro"].id, "Meetup", "*Soon*")
    assert made.body_html.strip() == "<p><em>Soon</em></p>"


def test_the_form_keeps_what_was_typed(client, world):
    client.login("root")
    response = post(client, "", "ok", "Body that should stay")
    assert response.status_code == 400
    assert "Body that should stay" in response.get_data(as_text=True)


def test_banner_shows_relevant_announcements_until_dismissed(client, world, make_client):
    services.publish_announcement(world["root"], None, "Site news", "For everyone")
    services.publish_announcement(world["ada"], world["retro"].id, "Retro news", "For retro")
    client.login("bob")
    html = client.get("/").get_data(as_text=True)
    assert "Site news" in html and "Retro news" in html
    eve = make_client()
    eve.login("eve")  # not in retro
    html = eve.get("/").get_data(as_text=True)
    assert "Site news" in html and "Retro news" not in html
    guest = make_client()
    html = guest.get("/").get_data(as_text=True)
    assert "Site news" in html and "Retro news" not in html and "Dismiss" not in html
    site = db.session.scalar(db.select(Announcement).where(Announcement.title == "Site news"))
    response = client.form(f"/announcements/{site.id}/dismiss", {"next": "/s/retro/"})
    assert response.status_code == 302 and response.headers["Location"] == "/s/retro/"
    html = client.get("/").get_data(as_text=True)
    assert "Site news" not in html and "Retro news" in html
    assert "Site news" in eve.get("/").get_data(as_text=True)  # only bob dismissed it
    # Dismissing twice is harmless; a foreign "next" is not followed.
    response = client.form(f"/announcements/{site.id}/dismiss", {"next": "//evil.example/"})
    assert response.headers["Location"] == "/announcements"
    assert db.session.scalar(db.select(db.func.count()).select_from(AnnouncementDismissal)) == 1


def test_old_announcements_leave_the_banner_but_stay_listed(client, world):
    old = services.publish_announcement(world["root"], None, "Last month", "Old news")
    with transaction():
        db.session.get(Announcement, old.id).created_at = utcnow() - timedelta(days=31)
    assert "Last month" not in client.get("/").get_data(as_text=True)
    assert "Last month" in client.get("/announcements").get_data(as_text=True)


def test_banner_costs_one_query(client, world, count_queries):
    services.publish_announcement(world["root"], None, "Site news", "For everyone")
    client.login("bob")
    client.get("/")
    with count_queries() as q:
        client.get("/announcements")
    banner = [s for s in q.statements if "announcement_dismissals" in s]
    assert len(banner) == 1
    client.logout()
    with count_queries() as guest:
        client.get("/")
    assert len([s for s in guest.statements if "FROM announcements" in s]) == 1


def test_pages_without_a_recent_announcement_run_no_banner_query(client, world, count_queries):
    """The newest announcement's time is kept a few seconds per process: with none recent,
    a page asks nothing about announcements; a new one shows on the next page all the same."""
    client.get("/")  # learns there is none
    with count_queries() as q:
        client.get("/")
    assert not [s for s in q.statements if "announcements" in s]
    services.publish_announcement(world["root"], None, "Site news", "For everyone")
    assert "Site news" in client.get("/").get_data(as_text=True)
    old = db.session.scalar(db.select(Announcement))
    with transaction():
        old.created_at = utcnow() - timedelta(days=31)
    queries.forget_newest()  # what ANNOUNCEMENT_CACHE_SECONDS later would do
    client.get("/")
    with count_queries() as q:
        assert "Site news" not in client.get("/").get_data(as_text=True)
    assert not [s for s in q.statements if "announcements" in s]


def listing(client: Any) -> str:
    """The announcements page below its heading (the banner above repeats recent titles)."""
    html = client.get("/announcements").get_data(as_text=True)
    return html[html.index("<h1>Announcements</h1>") :]


def test_list_is_newest_first_and_hides_unreadable_sigs(client, world):
    services.publish_announcement(world["root"], None, "First", "One")
    services.publish_announcement(world["root"], world["secret"].id, "Secret plans", "Two")
    services.publish_announcement(world["ada"], world["retro"].id, "Third", "Three")
    html = listing(client)
    assert html.index("Third") < html.index("First")
    assert "Secret plans" not in html
    client.login("bob")  # a member of the private SIG
    html = listing(client)
    assert html.index("Third") < html.index("Secret plans") < html.index("First")
    secret = db.session.scalar(db.select(Announcement).where(Announcement.title == "Secret plans"))
    client.logout()
    client.login("eve")
    assert client.form(f"/announcements/{secret.id}/dismiss").status_code == 404


def test_removing_an_announcement(client, world):
    made = services.publish_announcement(world["ada"], world["retro"].id, "Oops", "Typo").id
    client.login("bob")
    assert client.form(f"/announcements/{made}/delete").status_code == 403
    client.logout()
    client.login("ada")
    assert client.form(f"/announcements/{made}/delete").status_code == 302
    assert db.session.get(Announcement, made) is None


def _dismiss_button(html: str) -> tuple[str, str]:
    """The banner's Dismiss button: (its accessible name, its visible text)."""
    found = re.search(
        r'<button type="submit" class="link-button" aria-label="([^"]*)">([^<]*)</button>', html
    )
    assert found, "no dismiss button"
    return found.group(1), found.group(2)


@pytest.mark.parametrize(
    ("language", "word"), [("en", "Dismiss"), ("de", "Ausblenden"), ("es", "Ocultar")]
)
def test_the_banners_dismiss_button_hides_it_in_every_language(client, world, language, word):
    """ "Dismiss" also removes a SIG sysop or a librarian from their office ("Abberufen",
    "Destituir"); the banner's button hides an announcement, and says so. Its visible word is
    in its accessible name (WCAG 2.5.3), so a voice user can say what they see."""
    accounts.set_language(world["bob"], language)
    services.publish_announcement(world["root"], None, "Site news", "For everyone")
    client.login("bob")
    name, visible = _dismiss_button(client.get("/s/retro/").get_data(as_text=True))
    assert visible == word
    assert word.lower() in name.lower() and "Site news" in name


@pytest.mark.parametrize(("language", "word"), [("de", "Abberufen"), ("es", "Destituir")])
def test_dismissing_a_sig_sysop_or_librarian_still_removes_them_from_office(
    client, world, language, word
):
    accounts.set_language(world["root"], language)
    client.login("root")
    sig_page = client.get(f"/admin/sigs/{world['retro'].id}").get_data(as_text=True)
    assert f'<button type="submit" class="link-button">{word}</button>' in sig_page
    from forum.files import library

    library.appoint_librarian(world["root"], world["retro"].id, "bob")
    manage = client.get("/s/retro/library/manage").get_data(as_text=True)
    assert f">{word}</button>" in manage


@pytest.mark.parametrize(
    ("language", "limit"), [("en", "30,000"), ("de", "30.000"), ("es", "30.000")]
)
def test_a_refused_announcement_says_every_fault_with_numbers_in_the_readers_language(
    app, client, world, language, limit
):
    """A too-short title and a too-long body are both said at once, each by its field, and
    the length limit is written as the reader writes numbers."""
    app.config["MAX_POST_LENGTH"] = 30_000
    accounts.set_language(world["root"], language)
    client.login("root")
    response = post(client, "", "ok", "x" * 30_001)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    from forum.i18n import force_locale, gettext

    with app.test_request_context(), force_locale(language):
        title_error = gettext("Give the announcement a title of 3 to %(MAX_TITLE)s characters.",
                              MAX_TITLE=200)  # fmt: skip
        body_error = gettext("Announcements are limited to %(limit)s characters.", limit=limit)
    assert f'<p class="error" id="title-error">{title_error}</p>' in html
    assert f'<p class="error" id="body-error">{body_error}</p>' in html
    assert db.session.scalar(db.select(db.func.count()).select_from(Announcement)) == 0
