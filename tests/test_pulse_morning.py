"""The pulse's first screen: each headline figure of yesterday (or the last 7 days) against the
period before, across the periods' edges in the viewer's time zone; the day/week switch; the
categories drawn as bars beside their tables; who may see it.

The timeline is tests/test_pulse.py's `seed` (NOW is 2026-03-10 12:00 UTC), with a few
reactions added here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from forum.accounts.models import User
from forum.db import transaction
from forum.errors import NotFound
from forum.extensions import db
from forum.pulse import queries
from forum.pulse.buckets import DAY, WEEK, DateRange, comparison
from forum.reactions.models import Reaction

from .test_pulse import NOW, RANGE, at, seed, stamp


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr("forum.pulse.queries.utcnow", lambda: NOW)
    monkeypatch.setattr("forum.pulse.views.utcnow", lambda: NOW)
    return NOW


def react(refs: dict[str, Any]) -> None:
    """Two thumbs up on 03-09 (UTC) and a heart on 03-08, all on the first post of T1."""
    users = {name: member(name) for name in ("bob", "cyd", "dee")}
    with transaction() as session:
        for name, emoji, when in (
            ("bob", "👍", "2026-03-09 10:00"),
            ("cyd", "👍", "2026-03-09 23:30"),
            ("dee", "❤️", "2026-03-08 10:00"),
        ):
            session.add(
                Reaction(
                    post_id=refs["t1"].first_post_id,
                    user_id=users[name].id,
                    emoji=emoji,
                    created_at=at(when),
                )
            )


def member(name: str) -> User:
    user = db.session.scalar(db.select(User).where(User.username == name))
    assert user is not None
    return user


def figures(morning: queries.Morning) -> dict[str, tuple[int, int]]:
    return {c.key: (c.current, c.previous) for c in morning.changes}


def headline(html: str, key: str) -> str:
    start = html.index(f'data-change="{key}"')
    return html[start : html.index("</li>", start)]


# --- the periods ---------------------------------------------------------------------------
def test_periods_are_whole_days_before_today():
    day = comparison(DAY, date(2026, 3, 10), "UTC")
    assert day.current == (date(2026, 3, 9), date(2026, 3, 9))
    assert day.previous == (date(2026, 3, 8), date(2026, 3, 8))
    week = comparison(WEEK, date(2026, 3, 10), "UTC")
    assert week.current == (date(2026, 3, 3), date(2026, 3, 9))
    assert week.previous == (date(2026, 2, 24), date(2026, 3, 2))
    # New York moved its clocks on 2026-03-08: that day had 23 hours.
    since, middle, until = comparison(DAY, date(2026, 3, 10), "America/New_York").edges
    assert since == datetime(2026, 3, 8, 5, tzinfo=UTC)
    assert middle == datetime(2026, 3, 9, 4, tzinfo=UTC)
    assert until == datetime(2026, 3, 10, 4, tzinfo=UTC)


# --- every change, exactly -----------------------------------------------------------------
def test_yesterday_against_the_day_before(app, f, frozen):
    refs = seed(f)
    react(refs)
    morning = queries.morning(member("root"), None, comparison(DAY, NOW.date(), "UTC"))
    assert figures(morning) == {
        "new-members": (1, 0),  # eve
        "posted": (2, 0),  # cyd and root in games; 03-08's topic was deleted
        "visited": (2, 0),  # bob, eve
        "posts": (2, 0),
        "topics": (1, 0),  # T5
        "answered": (1, 0),
        "unanswered": (0, 0),
        "reactions": (2, 1),
        "concerns": (0, 0),
        "flags-raised": (1, 0),
        "flags-handled": (0, 0),
    }
    assert morning.get("reactions").change == "up +1 (+100%) from 1"
    assert morning.get("posts").change == "up +2 from 0"
    assert morning.get("concerns").change == "no change from 0"
    assert morning.get("reactions").direction == "up"


def test_the_last_week_against_the_week_before(app, f, frozen):
    seed(f)
    morning = queries.morning(member("root"), None, comparison(WEEK, NOW.date(), "UTC"))
    assert figures(morning) == {
        "new-members": (2, 2),  # dee, eve against cyd, bob
        "posted": (4, 3),  # ada, cyd, dee, root against bob, cyd, ada
        "visited": (3, 0),
        "posts": (7, 4),  # dee's hidden reply does not count
        "topics": (4, 1),  # T7 T2 T3 T5 against T1; T4 was deleted
        "answered": (2, 1),  # T2 and T5 (T3 has its author's reply only) against T1
        "unanswered": (2, 0),
        "reactions": (0, 0),
        "concerns": (0, 0),
        "flags-raised": (2, 1),  # the one on 02-20 is before both weeks
        "flags-handled": (2, 1),
    }
    assert morning.get("posts").change == "up +3 (+75%) from 4"
    assert morning.get("topics").change == "up +3 (+300%) from 1"
    assert morning.get("new-members").change == "no change from 2"


def test_a_fall_is_written_down(app, f, frozen):
    seed(f)
    # On 03-08 (UTC) against 03-07: ada's reply to T2 on 03-07, nothing visible on 03-08.
    morning = queries.morning(member("root"), None, comparison(DAY, date(2026, 3, 9), "UTC"))
    posts = morning.get("posts")
    assert (posts.current, posts.previous, posts.direction) == (0, 1, "down")
    assert posts.change == "down \u22121 (\u2212100%) from 1"


def test_the_edges_follow_the_viewers_time_zone(app, f, frozen):
    seed(f)
    # At NOW it is 08:00 on 03-10 in New York: yesterday is 03-09 04:00 to 03-10 04:00 UTC, so
    # T6 (03-10 00:00 UTC) and its reply count as yesterday's, bob's 07:00 visit as today's.
    ny = comparison(DAY, date(2026, 3, 10), "America/New_York")
    morning = queries.morning(member("root"), None, ny)
    got = figures(morning)
    assert got["topics"] == (2, 0)
    assert got["posts"] == (4, 0)
    assert got["posted"] == (3, 0)  # cyd, root, bob
    assert got["visited"] == (2, 0)
    assert got["new-members"] == (1, 0)


def test_the_page_uses_the_viewers_time_zone(client, f, frozen):
    refs = seed(f)
    stamp(refs["root"], timezone="America/New_York")
    client.login("root")
    html = client.get("/pulse").get_data(as_text=True)
    # The zone as people read it, its city in the page's language, not the IANA name.
    assert "Mar 9, 2026 against Mar 8, 2026, days in New York." in html
    assert '<span class="pulse-change-value">2</span>' in headline(html, "topics")
    stamp(refs["root"], timezone="America/New_York", language="es")
    assert "días en Nueva York." in client.get("/pulse").get_data(as_text=True)
    stamp(refs["root"], timezone="Asia/Kolkata", language="de")
    html = client.get("/pulse").get_data(as_text=True)
    assert "Tage in Kalkutta." in html and "Asia/Kolkata" not in html


def test_a_sig_sysop_sees_only_that_sig(client, f, frozen):
    refs = seed(f)
    week = comparison(WEEK, NOW.date(), "UTC")
    retro = queries.morning(member("ada"), refs["retro"], week)
    got = figures(retro)
    assert got["topics"] == (3, 1)  # T5 is in games
    assert got["flags-raised"] == (1, 1)  # the flag on T5 is in games
    assert got["visited"] == (3, 0)  # members of retro
    assert got["new-members"] == (2, 2)  # memberships of retro
    with pytest.raises(NotFound):
        queries.morning(member("ada"), None, week)
    with pytest.raises(NotFound):
        queries.morning(member("bob"), refs["retro"], week)
    with pytest.raises(NotFound):
        queries.morning(member("ada"), refs["games"], week)
    client.login("ada")
    assert client.get("/s/retro/pulse?period=week").status_code == 200
    assert client.get("/pulse?period=week").status_code == 404
    assert client.get("/s/games/pulse?period=week").status_code == 404
    client.logout()
    client.login("bob")
    assert client.get("/s/retro/pulse?period=week").status_code == 404


# --- the page ------------------------------------------------------------------------------
def test_the_first_screen_and_its_day_week_switch(client, f, frozen):
    seed(f)
    client.login("root")
    html = client.get("/pulse", query_string=RANGE).get_data(as_text=True)
    # The headline comes first, before the range picker and every table.
    assert html.index('id="morning-heading"') < html.index('class="pulse-range"')
    assert html.index('id="morning-heading"') < html.index("data-series=")
    assert "Yesterday against the day before" in html
    assert "Mar 9, 2026 against Mar 8, 2026, days in UTC." in html
    flags = headline(html, "flags-raised")
    assert "Flags raised" in flags and "up +1 from 0" in flags and 'aria-hidden="true">▲' in flags
    # The switch: plain links that keep the range; the period on show is marked current.
    week_link = 'href="/pulse?range=custom&amp;start=2026-03-01&amp;end=2026-03-10&amp;period=week"'
    assert week_link in html
    assert 'period=day" aria-current="page">Day</a>' in html
    html = client.get("/pulse", query_string={**RANGE, "period": "week"}).get_data(as_text=True)
    assert "The last 7 days against the 7 days before" in html
    assert "Mar 3, 2026 to Mar 9, 2026 against Feb 24, 2026 to Mar 2, 2026" in html
    assert 'period=week" aria-current="page">Week</a>' in html
    assert "up +3 (+75%) from 4" in headline(html, "posts")
    assert '<input type="hidden" name="period" value="week">' in html  # the range form keeps it
    # The rest of the dashboard is one link away.
    assert 'href="#series-activity"' in html and 'href="#series-sigs"' in html
    # Anything else is a day.
    assert "Yesterday against" in client.get("/pulse?period=year").get_data(as_text=True)
    sig_page = client.get("/s/retro/pulse?period=week").get_data(as_text=True)
    assert 'href="/s/retro/pulse?period=day"' in sig_page


def test_categories_are_bars_beside_their_table(client, f, frozen):
    refs = seed(f)
    react(refs)
    client.login("root")
    html = client.get("/pulse", query_string=RANGE).get_data(as_text=True)
    start = html.index('id="series-sigs"')
    section = html[start : html.index("</section>", start)]
    # Retro 11 posts, Games 2: bars of 100% and 2/11 of it, drawn by the server.
    assert 'class="pulse-bars" role="img"' in section
    assert '<rect width="100.0%"' in section and '<rect width="18.18%"' in section
    assert "data-chart=" not in section  # no line chart of categories
    assert 'data-series="sigs"' in section  # the table stays, for screen readers and CSV
    emoji = html[html.index('id="series-reactions-emoji"') :]
    emoji = emoji[: emoji.index("</section>")]
    assert '<rect width="50.0%"' in emoji and 'data-series="reactions-emoji"' in emoji
    # Days stay line charts.
    activity = html[html.index('id="series-activity"') :]
    assert "data-chart=" in activity[: activity.index("</section>")]
    data = queries.dashboard(
        member("root"), None, DateRange(date(2026, 3, 1), date(2026, 3, 10), "UTC", "custom")
    )
    assert data.get("reactions-emoji").rows == [["👍", 2, 2], ["❤️", 1, 1]]
    table = client.get("/pulse/reactions-emoji.csv", query_string=RANGE).get_data(as_text=True)
    assert table.splitlines()[:2] == ["Emoji,Reactions,Members who reacted", "👍,2,2"]
