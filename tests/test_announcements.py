"""Announcements: who posts where, the banner each member dismisses, the newest-first list."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from forum.accounts import services as accounts
from forum.announcements import queries, services
from forum.announcements.models import Announcement, AnnouncementDismissal
from forum.db import transaction
from forum.errors import Forbidden, Invalid
from forum.extensions import db
from forum.timeutil import in_zone, utcnow


@pytest.fixture
def world(f: Any) -> dict[str, Any]:
    root = f.sysop("root")
    ada, bob, eve = f.user("ada"), f.user("bob"), f.user("eve")
    retro = f.sig("retro", members=[ada, bob], sysops=[ada])
    games = f.sig("games", members=[eve])
    secret = f.sig("secret", visibility="private", members=[bob])
    return {"root": root, "ada": ada, "bob": bob, "eve": eve, "retro": retro, "games": games,
            "secret": secret}  # fmt: skip


def post(client: Any, where: str, title: str, body: str = "Some **news**.", **when: str) -> Any:
    """The announcement form; `when`: starts_at and ends_at as a datetime-local field sends
    them."""
    data = {"where": where, "title": title, "body": body, **when}
    return client.form("/announcements/new", data)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> dict[str, datetime]:
    """The announcements' clock (their modules' utcnow, as the tests move time): `clock["now"]
    += timedelta(…)` moves it."""
    state = {"now": utcnow()}
    for module in ("queries", "services", "views"):
        monkeypatch.setattr(f"forum.announcements.{module}.utcnow", lambda: state["now"])
    return state


def banner_of(response: Any) -> str:
    """The page's announcement banner ("" without one)."""
    html = response.get_data(as_text=True)
    found = re.search(r'<section class="announcement-banner".*?</section>', html, re.S)
    return found.group(0) if found else ""


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


def test_old_announcements_leave_the_banner_but_stay_listed(client, world, clock):
    """Without a "Show until", an announcement shows for BANNER_DAYS from its start."""
    services.publish_announcement(world["root"], None, "Last month", "Old news")
    clock["now"] += timedelta(days=29)
    assert "Last month" in banner_of(client.get("/"))
    clock["now"] += timedelta(days=2)
    assert "Last month" not in banner_of(client.get("/"))
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
    """The earliest start of what has not ended is kept a few seconds per process: with
    nothing showing, a page asks nothing about announcements; a new one shows on the next page
    all the same."""
    client.get("/")  # learns there is none
    with count_queries() as q:
        client.get("/")
    assert not [s for s in q.statements if "announcements" in s]
    services.publish_announcement(world["root"], None, "Site news", "For everyone")
    assert "Site news" in client.get("/").get_data(as_text=True)
    old = db.session.scalar(db.select(Announcement))
    with transaction():
        old.starts_at = utcnow() - timedelta(days=31)
        old.ends_at = utcnow() - timedelta(days=1)
    queries.forget_banner_start()  # what ANNOUNCEMENT_CACHE_SECONDS later would do
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


# --- scheduling: "Show from" and "Show until" ---------------------------------------------------
def local_field(moment: datetime, zone: str) -> str:
    """A moment as a datetime-local field sends it, in the zone `zone`."""
    return in_zone(moment, zone).strftime("%Y-%m-%dT%H:%M")


def test_a_german_sysop_reads_each_time_of_the_window_with_uhr(client, world, clock):
    """German writes a time of day with "Uhr" (as "Bis zum 06.01.2027, 16:57 Uhr" on the same
    list): the start said "Erscheint ab 10.01.2027, 10:00", and the notice after posting "Sie
    erscheint ab 10.01.2027, 10:00." without it."""
    accounts.set_language(world["root"], "de")
    start = datetime(2027, 1, 10, 10, 0, tzinfo=UTC)
    clock["now"] = start - timedelta(days=3)
    client.login("root")
    assert post(client, "", "Umfrage", starts_at="2027-01-10T10:00").status_code == 302
    services.publish_announcement(world["root"], None, "Wartung", "Heute")
    html = client.get("/announcements").get_data(as_text=True)
    assert "Die Ankündigung ist geplant: Sie erscheint ab 10.01.2027, 10:00 Uhr." in html
    assert re.search(r"Erscheint ab <time[^>]*>10\.01\.2027, 10:00</time> Uhr", html)
    assert re.search(r"Bis zum <time[^>]*>06\.02\.2027, 10:00</time> Uhr", html)


def test_a_scheduled_announcement_shows_from_its_start_in_the_authors_time_zone(
    app, client, world, clock, make_client
):
    accounts.set_timezone(world["root"], "Europe/Berlin")
    start = (clock["now"] + timedelta(hours=2)).replace(second=0, microsecond=0)
    client.login("root")
    response = post(client, "", "Maintenance", starts_at=local_field(start, "Europe/Berlin"))
    assert response.status_code == 302
    made = db.session.scalar(db.select(Announcement))
    assert made.starts_at == start  # the wall clock read in Berlin, kept in UTC
    assert made.ends_at == start + timedelta(days=queries.BANNER_DAYS)
    assert made.published_at is None
    guest = make_client()
    assert "Maintenance" not in banner_of(guest.get("/"))
    clock["now"] = start - timedelta(seconds=1)
    assert "Maintenance" not in banner_of(guest.get("/"))
    clock["now"] = start
    # No cache to wait for: each process knows when the next one starts.
    assert "Maintenance" in banner_of(guest.get("/"))
    assert "Maintenance" in banner_of(client.get("/"))


def test_a_scheduled_announcement_is_published_at_its_start_not_when_saved(app, world, clock):
    """AnnouncementPublished (what hears of announcements: the guest page cache) goes out when
    it starts to show: a job at the start, once."""
    from forum import events
    from forum.jobs import queue_of

    seen: list[events.AnnouncementPublished] = []
    events.subscribe(app, events.AnnouncementPublished, seen.append)
    start = clock["now"] + timedelta(hours=1)
    made = services.publish_announcement(world["root"], None, "Later", "Soon", starts_at=start)
    assert seen == []
    assert queue_of(app).run_due(datetime.now(UTC) + timedelta(minutes=30)) == 0
    clock["now"] = start + timedelta(seconds=1)
    assert queue_of(app).run_due(datetime.now(UTC) + timedelta(hours=1, minutes=1)) == 1
    assert [e.announcement_id for e in seen] == [made.id]
    assert services.start_announcement(made.id) is False  # a repeated job publishes nothing
    assert len(seen) == 1
    # One posted to show now is published at once.
    now = services.publish_announcement(world["root"], None, "Now", "Here")
    assert [e.announcement_id for e in seen] == [made.id, now.id]


def test_a_scheduled_announcement_ended_before_its_start_is_never_published(app, world, clock):
    from forum import events

    seen: list[events.AnnouncementPublished] = []
    events.subscribe(app, events.AnnouncementPublished, seen.append)
    start = clock["now"] + timedelta(hours=1)
    made = services.publish_announcement(world["root"], None, "Later", "Soon", starts_at=start)
    services.end_announcement(world["root"], made.id)
    clock["now"] = start + timedelta(minutes=1)
    assert services.start_announcement(made.id) is False
    assert seen == []


def test_the_sweep_publishes_a_start_whose_job_was_lost_once(app, world, clock):
    """The delayed job never ran (the queue was down when it was posted): the minute sweep
    publishes the start, once, and the job coming after all publishes nothing."""
    from forum import events
    from forum.jobs import queue_of

    seen: list[events.AnnouncementPublished] = []
    events.subscribe(app, events.AnnouncementPublished, seen.append)
    start = clock["now"] + timedelta(hours=1)
    made = services.publish_announcement(world["root"], None, "Later", "Soon", starts_at=start)
    assert services.sweep_announcements() == ([], [])  # not yet
    clock["now"] = start + timedelta(seconds=30)
    assert services.sweep_announcements() == ([made.id], [])
    assert services.sweep_announcements() == ([], [])  # claimed: never twice
    # The delayed job runs after all (the queue came back): it finds it published.
    assert queue_of(app).run_due(datetime.now(UTC) + timedelta(hours=1, minutes=1)) == 1
    assert [(e.announcement_id, e.sig_id, e.author_id) for e in seen] == [
        (made.id, None, world["root"].id)
    ]
    assert db.session.get(Announcement, made.id).published_at == clock["now"]
    # The other way round: the job first, then the sweep has nothing to tell.
    second = services.publish_announcement(
        world["ada"], world["retro"].id, "Retro later", "Soon",
        starts_at=clock["now"] + timedelta(hours=1),
    )  # fmt: skip
    clock["now"] += timedelta(hours=1, seconds=1)
    assert queue_of(app).run_due(datetime.now(UTC) + timedelta(hours=2, minutes=2)) == 1
    assert services.sweep_announcements() == ([], [])
    assert [e.announcement_id for e in seen] == [made.id, second.id]


def test_the_sweep_runs_every_minute(app, world, clock):
    from forum import events, jobs

    spec = jobs.SPECS[f"{services.sweep_announcements.__module__}.sweep_announcements"]
    assert spec.schedule is not None
    assert spec.schedule(datetime(2026, 12, 8, 10, 17)) is True
    seen: list[events.AnnouncementPublished] = []
    events.subscribe(app, events.AnnouncementPublished, seen.append)
    start = clock["now"] + timedelta(minutes=5)
    made = services.publish_announcement(world["root"], None, "Later", "Soon", starts_at=start)
    clock["now"] = start
    jobs.queue_of(app).task(spec.name)()  # as the consumer's scheduler runs it
    assert [e.announcement_id for e in seen] == [made.id]


@pytest.mark.config(PAGE_CACHE_SECONDS=30)
def test_an_announcement_reaching_its_end_leaves_cached_guest_pages(app, world, clock, make_client):
    """Its end reached by itself, the sweep publishes AnnouncementEnded once, so the guest
    page cache renders its pages again without the banner (not up to PAGE_CACHE_SECONDS
    later); one ended by "End now" was told then, and the sweep tells it no more."""
    from forum import events

    ended: list[events.AnnouncementEnded] = []
    events.subscribe(app, events.AnnouncementEnded, ended.append)
    site = services.publish_announcement(
        world["root"], None, "Short", "Brief", ends_at=clock["now"] + timedelta(hours=1)
    )
    retro = services.publish_announcement(
        world["ada"], world["retro"].id, "Retro short", "Brief",
        ends_at=clock["now"] + timedelta(hours=2),
    )  # fmt: skip
    stopped = services.publish_announcement(world["root"], None, "Stopped", "Brief")
    services.end_announcement(world["root"], stopped.id)
    assert [e.announcement_id for e in ended] == [stopped.id]
    guest = make_client()
    for path in ("/", "/s/retro/"):
        guest.get(path)
        response = guest.get(path)
        assert response.headers.get("X-Page-Cache") == "hit", path
        assert "Short" in banner_of(response), path
    clock["now"] += timedelta(hours=1)
    assert services.sweep_announcements() == ([], [site.id])
    for path in ("/", "/s/retro/"):
        response = guest.get(path)
        assert response.headers.get("X-Page-Cache") == "miss", path
        assert "Short" not in banner_of(response), path
    assert services.sweep_announcements() == ([], [])  # once
    clock["now"] += timedelta(hours=1)
    assert services.sweep_announcements() == ([], [retro.id])
    assert [(e.announcement_id, e.sig_id, e.actor_id) for e in ended] == [
        (stopped.id, None, world["root"].id),
        (site.id, None, None),
        (retro.id, world["retro"].id, None),
    ]
    assert db.session.get(Announcement, retro.id).end_published_at == clock["now"]


def test_an_announcement_shows_until_its_end(client, world, clock):
    services.publish_announcement(
        world["root"], None, "Short", "Brief", ends_at=clock["now"] + timedelta(hours=1)
    )
    assert "Short" in banner_of(client.get("/"))
    clock["now"] += timedelta(hours=1)
    assert "Short" not in banner_of(client.get("/"))


def test_an_end_before_the_start_or_in_the_past_is_refused_and_the_form_kept(client, world, clock):
    client.login("root")
    zone = "UTC"
    start = clock["now"] + timedelta(days=2)
    typed = {
        "starts_at": local_field(start, zone),
        "ends_at": local_field(start - timedelta(hours=1), zone),
    }
    response = post(client, "", "Meetup", "Bring *snacks*", **typed)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert '<p class="error" id="ends_at-error">The end must come after the start.</p>' in html
    assert 'value="Meetup"' in html and "Bring *snacks*</textarea>" in html
    assert f'value="{typed["starts_at"]}"' in html and f'value="{typed["ends_at"]}"' in html
    past = local_field(clock["now"] - timedelta(hours=1), zone)
    response = post(client, "", "Meetup", "Bring snacks", ends_at=past)
    assert response.status_code == 400
    assert (
        '<p class="error" id="ends_at-error">Choose a time in the future.</p>'
        in response.get_data(as_text=True)
    )
    assert db.session.scalar(db.select(db.func.count()).select_from(Announcement)) == 0
    # The service says the same to every caller (the API).
    with pytest.raises(Invalid) as refused:
        services.publish_announcement(
            world["root"], None, "Meetup", "Body", starts_at=start, ends_at=start
        )
    assert refused.value.field == "ends_at"


def test_end_now_takes_it_off_the_banner_and_the_list_says_each_state(
    app, client, world, clock, make_client
):
    from forum import events

    ended: list[events.AnnouncementEnded] = []
    events.subscribe(app, events.AnnouncementEnded, ended.append)
    showing = services.publish_announcement(world["ada"], world["retro"].id, "Retro now", "On")
    later = services.publish_announcement(
        world["ada"], world["retro"].id, "Retro later", "Soon",
        starts_at=clock["now"] + timedelta(days=3),
    )  # fmt: skip
    client.login("bob")  # a member, not a sysop of retro
    assert "Retro now" in banner_of(client.get("/"))
    page = listing(client)
    assert "End now" not in page
    assert client.form(f"/announcements/{showing.id}/end").status_code == 403
    ada = make_client()
    ada.login("ada")
    page = listing(ada)
    assert page.count(">End now</button>") == 2
    assert "Scheduled</span> Shows from" in page and "Showing</span> Until" in page
    response = ada.form(f"/announcements/{showing.id}/end")
    assert response.status_code == 302
    # No anchor: the notice on top of the list stays in view (on a phone an anchor scrolled
    # the page to the item, the notice above it off the screen), as after posting or removing.
    assert response.headers["Location"] == "/announcements"
    shown = ada.get(response.headers["Location"]).get_data(as_text=True)
    notice = shown.index("The announcement has ended: it no longer shows in the banner.")
    assert shown.index('<main id="main"') < notice < shown.index(f'id="announcement-{showing.id}"')
    assert "Retro now" not in banner_of(client.get("/"))
    assert [e.announcement_id for e in ended] == [showing.id]
    page = listing(ada)
    assert page.count(">End now</button>") == 1  # the scheduled one's
    assert "Ended</span>" in page and "Retro now" in page  # still listed
    assert ada.form(f"/announcements/{showing.id}/end").status_code == 302  # again: harmless
    assert len(ended) == 1
    # A scheduled one ended never shows.
    ada.form(f"/announcements/{later.id}/end")
    clock["now"] += timedelta(days=4)
    assert "Retro later" not in banner_of(client.get("/"))
    assert db.session.get(Announcement, later.id).state(clock["now"]) == "ended"


def test_a_scheduled_announcement_costs_no_query_until_its_start(
    client, world, clock, count_queries
):
    services.publish_announcement(
        world["root"], None, "Later", "Soon", starts_at=clock["now"] + timedelta(hours=1)
    )
    client.get("/")  # learns when the next one starts
    with count_queries() as q:
        assert "Later" not in banner_of(client.get("/"))
    assert not [s for s in q.statements if "announcements" in s]
    clock["now"] += timedelta(hours=1)
    with count_queries() as q:
        assert "Later" in banner_of(client.get("/"))
    assert len([s for s in q.statements if "FROM announcements" in s]) == 1


def test_on_a_phone_the_banner_shows_the_newest_and_folds_the_others(client, world, clock):
    """Several announcements showing: the newest start is shown, the others behind "N more
    announcements" (a <details>, no JavaScript), so a phone's first screen stays the page's."""
    for hours, title in ((1, "Oldest"), (2, "Middle"), (3, "Newest")):
        start = clock["now"] + timedelta(hours=hours)
        services.publish_announcement(world["root"], None, title, "Words " * 60, starts_at=start)
    clock["now"] += timedelta(hours=4)
    banner = banner_of(client.get("/"))
    shown, folded = banner.split('<details class="announcement-more">')
    assert "Newest" in shown and "Middle" not in shown and "Oldest" not in shown
    assert "<summary>2 more announcements</summary>" in folded
    assert folded.index("Middle") < folded.index("Oldest")
    # One showing: nothing folded.
    services.end_announcement(world["root"], db.session.scalar(
        db.select(Announcement.id).where(Announcement.title == "Newest")))  # fmt: skip
    services.end_announcement(world["root"], db.session.scalar(
        db.select(Announcement.id).where(Announcement.title == "Middle")))  # fmt: skip
    banner = banner_of(client.get("/"))
    assert "Oldest" in banner and "<details" not in banner


def test_the_folded_banner_counts_every_announcement_showing(client, world, clock):
    """More showing than the banner lists (BANNER_LIMIT): "N more" counts them all, not only
    the listed ones, and a link leads to the page that has the rest."""
    titles = [f"News {n}" for n in range(queries.BANNER_LIMIT + 2)]
    for hours, title in enumerate(titles, start=1):
        start = clock["now"] + timedelta(hours=hours)
        services.publish_announcement(world["root"], None, title, "Words", starts_at=start)
    clock["now"] += timedelta(hours=len(titles) + 1)
    banner = banner_of(client.get("/"))
    assert f"<summary>{len(titles) - 1} more announcements</summary>" in banner
    assert banner.count('class="announcement-item"') == queries.BANNER_LIMIT
    assert "2 more on the announcements page</a>" in banner
    # As many as it lists: no link.
    services.end_announcement(world["root"], db.session.scalar(
        db.select(Announcement.id).where(Announcement.title == titles[-1])))  # fmt: skip
    services.end_announcement(world["root"], db.session.scalar(
        db.select(Announcement.id).where(Announcement.title == titles[-2])))  # fmt: skip
    banner = banner_of(client.get("/"))
    assert f"<summary>{queries.BANNER_LIMIT - 1} more announcements</summary>" in banner
    assert "announcements page" not in banner


@pytest.mark.parametrize(
    ("language", "more"),
    [("de", "2 weitere Ankündigungen"), ("es", "2 anuncios más")],
)
def test_the_folded_banner_speaks_the_readers_language(client, world, language, more):
    accounts.set_language(world["bob"], language)
    for title in ("One", "Two", "Three"):
        services.publish_announcement(world["root"], None, title, "Body")
    client.login("bob")
    assert f"<summary>{more}</summary>" in banner_of(client.get("/"))


# --- the migration ------------------------------------------------------------------------------
BEFORE_WINDOWS = "0040_messages_user_created"


def test_the_migration_gives_existing_announcements_their_30_days(base_config, empty_database):
    """Rows from before showed from their posting for 30 days: they keep exactly that window,
    written out, and count as published when they were posted."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect, text

    from forum import create_app

    migrated = create_app({**base_config, "DATABASE_URL": empty_database})
    posted = datetime(2026, 11, 20, 9, 30, 15, 250000, tzinfo=UTC)
    with migrated.app_context():
        upgrade(revision=BEFORE_WINDOWS)
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO announcements (id, title, body_raw, body_html, render_version, "
                    "created_at) VALUES (1, 'Old', 'x', '<p>x</p>', 1, :posted)"
                ),
                {
                    "posted": posted
                    if conn.dialect.name != "sqlite"
                    else posted.replace(tzinfo=None)
                },
            )
        upgrade()
        db.session.remove()
        row = db.session.get(Announcement, 1)
        assert row.starts_at == posted and row.published_at == posted
        assert row.ends_at == posted + timedelta(days=30)
        db.session.remove()
        import warnings

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
            downgrade(revision=BEFORE_WINDOWS)
        columns = {c["name"] for c in inspect(db.engine).get_columns("announcements")}
        assert not {"starts_at", "ends_at", "published_at"} & columns
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM announcements")).scalar_one() == 1
        upgrade()
        db.session.remove()
        db.engine.dispose()


BEFORE_END_EVENTS = "0041_announcement_windows"


def test_the_migration_marks_the_ends_already_past_as_told(base_config, empty_database):
    """An announcement that ended before the sweep existed is not told again by its first
    run; one still showing is told at its end."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect, text

    from forum import create_app

    migrated = create_app({**base_config, "DATABASE_URL": empty_database})
    now = utcnow().replace(microsecond=0)
    rows = {1: now - timedelta(days=40), 2: now - timedelta(days=1)}  # created_at
    with migrated.app_context():
        upgrade(revision=BEFORE_END_EVENTS)
        with db.engine.begin() as conn:
            for row_id, posted in rows.items():
                ends = posted + timedelta(days=30)
                conn.execute(
                    text(
                        "INSERT INTO announcements (id, title, body_raw, body_html, "
                        "render_version, created_at, starts_at, ends_at, published_at) VALUES "
                        "(:id, 'Old', 'x', '<p>x</p>', 1, :posted, :posted, :ends, :posted)"
                    ),
                    {
                        "id": row_id,
                        **{
                            key: value if conn.dialect.name != "sqlite"
                            else value.replace(tzinfo=None)
                            for key, value in (("posted", posted), ("ends", ends))
                        },
                    },
                )  # fmt: skip
        upgrade()
        db.session.remove()
        ended, showing = db.session.get(Announcement, 1), db.session.get(Announcement, 2)
        assert ended.end_published_at == ended.ends_at == rows[1] + timedelta(days=30)
        assert showing.end_published_at is None
        db.session.remove()
        downgrade(revision=BEFORE_END_EVENTS)
        columns = {c["name"] for c in inspect(db.engine).get_columns("announcements")}
        assert "end_published_at" not in columns and "published_at" in columns
        upgrade()
        db.session.remove()
        db.engine.dispose()


# --- the API ------------------------------------------------------------------------------------
def test_the_api_takes_and_gives_the_window_and_ends_announcements(client, world, clock):
    from .test_api import API, error_of, send, token_for

    root, ada = token_for(world["root"]), token_for(world["ada"])
    start = clock["now"] + timedelta(days=1)
    made = send(client, "POST", f"{API}/announcements", ada, {
        "title": "Retro meetup", "body": "*Soon*", "sig": "retro",
        "starts_at": start.astimezone(in_zone(start, "America/New_York").tzinfo).isoformat(),
    })  # fmt: skip
    assert made.status_code == 201, made.get_json()
    shown = made.get_json()
    assert datetime.fromisoformat(shown["starts_at"]) == start
    assert datetime.fromisoformat(shown["ends_at"]) == start + timedelta(days=30)
    assert (shown["state"], shown["can_end"], shown["sig"]["slug"]) == ("scheduled", True, "retro")
    assert shown["author"]["username"] == "ada"
    # Refused as the form refuses: the field named.
    refused = send(client, "POST", f"{API}/announcements", root, {
        "title": "Backwards", "body": "x", "starts_at": start.isoformat(),
        "ends_at": (start - timedelta(hours=1)).isoformat(),
    })  # fmt: skip
    assert refused.status_code == 400
    assert error_of(refused)["field"] == "ends_at"
    naive = send(client, "POST", f"{API}/announcements", root,
                 {"title": "Naive", "body": "x", "ends_at": "2030-01-01T10:00:00"})  # fmt: skip
    assert naive.status_code == 400  # a time without its zone is not guessed
    # A member of retro (not its sysop) sees it from its start, and may not end it.
    bob = token_for(world["bob"])
    assert send(client, "GET", f"{API}/announcements", bob).get_json()["items"] == []
    assert send(client, "GET", f"{API}/announcements/{shown['id']}", bob).status_code == 404
    clock["now"] = start
    listed = send(client, "GET", f"{API}/announcements", bob).get_json()
    assert [(i["title"], i["state"], i["can_end"]) for i in listed["items"]] == [
        ("Retro meetup", "showing", False)
    ]
    assert send(client, "POST", f"{API}/announcements/{shown['id']}/end", bob).status_code == 403
    one = send(client, "GET", f"{API}/announcements/{shown['id']}", bob).get_json()
    assert one["state"] == "showing"
    ended = send(client, "POST", f"{API}/announcements/{shown['id']}/end", ada)
    assert ended.status_code == 200
    assert ended.get_json()["state"] == "ended" and ended.get_json()["can_end"] is False
    assert datetime.fromisoformat(ended.get_json()["ends_at"]) == start
    # A guest reads the site-wide list only; the SIG's is for those who may read retro.
    assert send(client, "GET", f"{API}/announcements/{shown['id']}").status_code == 200
    secret = services.publish_announcement(world["root"], world["secret"].id, "Psst", "x")
    assert send(client, "GET", f"{API}/announcements/{secret.id}").status_code == 404


def test_a_start_or_end_too_far_ahead_is_refused(world, clock):
    far = datetime(9999, 12, 31, tzinfo=UTC)
    with pytest.raises(Invalid) as refused:
        services.publish_announcement(world["root"], None, "Far", "x", starts_at=far)
    assert refused.value.field == "starts_at"
    with pytest.raises(Invalid) as refused:
        services.publish_announcement(world["root"], None, "Far", "x", ends_at=far)
    assert refused.value.field == "ends_at"


def test_a_time_at_the_calendars_edge_is_refused_on_its_field_not_a_500(client, world, clock):
    """The form's "Show from" and "Show until" read in the author's zone: year 1 east of UTC
    (a slip in the year box) or 9999 west of it falls outside what Python's datetime holds in
    UTC, and the page was a 500 (OverflowError). It is refused as any time in the past or more
    than a year ahead, on its field, with what was typed kept."""
    for zone, field, typed, said in (
        ("Europe/Berlin", "ends_at", "0001-01-01T00:30", "Choose a time in the future."),
        ("America/New_York", "starts_at", "9999-12-31T23:59", "Choose a time within a year."),
        ("America/New_York", "ends_at", "9999-12-31T23:59", "Choose a time within a year."),
    ):
        world["root"].timezone = zone
        db.session.commit()
        client.login("root")
        response = post(client, "", "Meetup", "Bring *snacks*", **{field: typed})
        assert response.status_code == 400, (zone, field)
        html = response.get_data(as_text=True)
        assert f'<p class="error" id="{field}-error">{said}</p>' in html
        assert f'value="{typed}"' in html and 'value="Meetup"' in html
        client.logout()
    assert db.session.scalar(db.select(db.func.count()).select_from(Announcement)) == 0


def test_a_scheduled_announcement_is_seen_before_its_start_only_by_who_may_post_it(
    client, world, clock, make_client
):
    """Until it starts, an announcement is its editors' own: the list and the API show it to
    who may announce there (the SIG's sysops, the global sysop), not to its readers."""
    later = clock["now"] + timedelta(days=2)
    sig_one = services.publish_announcement(
        world["ada"], world["retro"].id, "Retro plans", "Soon", starts_at=later
    )
    site_one = services.publish_announcement(
        world["root"], None, "Site plans", "Soon", starts_at=later
    )
    client.login("bob")  # a member of retro, no sysop
    assert "Retro plans" not in listing(client) and "Site plans" not in listing(client)
    for made in (sig_one, site_one):
        assert client.get(f"/api/v1/announcements/{made.id}").status_code == 404
    listed = client.get("/api/v1/announcements").get_json()["items"]
    assert [a["title"] for a in listed] == []
    ada, root = make_client(), make_client()
    ada.login("ada")  # retro's sysop: her SIG's, not the site's
    assert "Retro plans" in listing(ada) and "Site plans" not in listing(ada)
    root.login("root")
    assert "Retro plans" in listing(root) and "Site plans" in listing(root)
    clock["now"] = later + timedelta(minutes=1)
    assert "Retro plans" in listing(client) and "Site plans" in listing(client)
    assert client.get(f"/api/v1/announcements/{site_one.id}").status_code == 200


def test_the_banners_link_reaches_its_announcement_on_whatever_page_lists_it(
    client, world, clock, make_client
):
    """The list is paged and puts an editor's scheduled ones first: the banner links to the
    announcement's own address, which sends each reader to the page that lists it, and is a
    404 for who may not read it (the list hides it: the address must not tell it exists)."""
    showing = services.publish_announcement(world["ada"], world["retro"].id, "Retro now", "On")
    for n in range(queries.PER_PAGE):
        services.publish_announcement(
            world["ada"], world["retro"].id, f"Plan {n}", "Soon",
            starts_at=clock["now"] + timedelta(days=1, minutes=n),
        )  # fmt: skip
    ada = make_client()
    ada.login("ada")  # retro's sysop: her 20 scheduled ones come first, "Retro now" on page 2
    link = re.search(r'<a href="([^"]+)">Retro now</a>', banner_of(ada.get("/"))).group(1)
    assert link == f"/announcements/{showing.id}"
    response = ada.get(link)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/announcements?page=2#announcement-{showing.id}"
    assert f'id="announcement-{showing.id}"' in ada.get("/announcements?page=2").get_data(
        as_text=True
    )
    assert f'id="announcement-{showing.id}"' not in listing(ada)
    client.login("bob")  # a member: no scheduled ones before it, so page 1
    assert link in banner_of(client.get("/"))
    assert client.get(link).headers["Location"] == f"/announcements#announcement-{showing.id}"
    # Ended, it stays listed, and its address still finds it (ending it moves it on no page).
    assert ada.form(f"/announcements/{showing.id}/end").headers["Location"] == (
        "/announcements?page=2"
    )
    assert client.get(link).headers["Location"] == f"/announcements#announcement-{showing.id}"
    # Who may not read it: a 404, as for none at all.
    scheduled = db.session.scalar(db.select(Announcement).where(Announcement.title == "Plan 0"))
    secret = services.publish_announcement(world["root"], world["secret"].id, "Secret", "Two")
    client.logout()
    client.login("eve")
    for hidden in (scheduled.id, secret.id, 999_999):
        assert client.get(f"/announcements/{hidden}").status_code == 404
    assert client.get(f"/announcements/{showing.id}").status_code == 302
    client.logout()  # a guest: retro's announcement reads as public retro's
    assert client.get(f"/announcements/{secret.id}").status_code == 404
    api = client.get(f"/api/v1/announcements/{showing.id}").get_json()
    assert api["url"].endswith(f"/announcements/{showing.id}")


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        # Longer than the banner's excerpt: it ends at the last whole sentence in it.
        (
            "Am Samstag ist das Forum von 10 bis 12 Uhr nicht erreichbar, weil wir z. B. die "
            "Datenbank umziehen. Beiträge, die du bis dahin schreibst, bleiben erhalten. "
            + "Danach ist alles wie vorher, nur schneller und mit mehr Platz für Anhänge und "
            "Bilder in deinen Themen und Beiträgen.",
            "Am Samstag ist das Forum von 10 bis 12 Uhr nicht erreichbar, weil wir z. B. die "
            "Datenbank umziehen. Beiträge, die du bis dahin schreibst, bleiben erhalten.",
        ),
        # Short enough: all of it.
        ("Es gibt Kuchen. Wirklich!", "Es gibt Kuchen. Wirklich!"),
    ],
)
def test_the_banner_ends_its_excerpt_at_a_sentence(client, world, body, shown):
    """On a phone the banner cut the message mid-sentence ("nicht…"): its excerpt now ends
    where a sentence does, and wraps (no line clamp)."""
    services.publish_announcement(world["root"], None, "Wartung am Samstag", body)
    banner = banner_of(client.get("/"))
    excerpt = re.search(r'<span class="announcement-excerpt">(.*?)</span>', banner, re.S)
    assert excerpt is not None and excerpt.group(1) == shown


def test_a_first_sentence_longer_than_the_banner_is_cut_at_a_word(client, world):
    words = " ".join(["Wartung"] * 40) + "."
    services.publish_announcement(world["root"], None, "Lang", words)
    assert queries.banner_excerpt(f"<p>{words}</p>").endswith("Wartung…")
