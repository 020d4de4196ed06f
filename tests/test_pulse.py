"""The pulse dashboard: who may see it, and every figure checked exactly against seeded activity.

The seed writes timestamps directly (fixed instants, UTC) and freezes the dashboard's clock at
NOW, so each expected number below can be worked out by hand from the timeline in `seed`.
"""

from __future__ import annotations

import csv
import html as html_lib
import io
import json
import math
import random
import re
import statistics
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from forum import permissions
from forum.accounts.models import User
from forum.db import transaction
from forum.extensions import db
from forum.moderation.models import Flag
from forum.pulse import buckets, queries
from forum.pulse.buckets import DateRange
from forum.pulse.models import MemberVisit
from forum.sigs.models import Membership
from forum.timeutil import UTCDateTime
from forum.topics import services as topic_services
from forum.topics.models import Post, Topic

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
RANGE = {"range": "custom", "start": "2026-03-01", "end": "2026-03-10"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def stamp(obj: Any, **values: Any) -> None:
    with transaction():
        for name, value in values.items():
            setattr(obj, name, value)


def topic_at(f: Any, author: User, sig: Any, when: str, title: str) -> Topic:
    topic = f.topic(author, sig, title)
    stamp(topic, created_at=at(when), last_posted_at=at(when))
    stamp(f.first_post(topic), created_at=at(when))
    return topic


def reply_at(f: Any, author: User, topic: Topic, when: str) -> Post:
    post = f.reply(author, topic)
    stamp(post, created_at=at(when))
    return post


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr("forum.pulse.queries.utcnow", lambda: NOW)
    monkeypatch.setattr("forum.pulse.views.utcnow", lambda: NOW)
    return NOW


def seed(f: Any) -> dict[str, Any]:
    """The timeline (all UTC; 2026-03-01 is a Sunday):

    members: root 01-01 (global sysop), ada 02-01 (sysop of retro), cyd 03-01 08:00,
             bob 03-02 09:00, dee 03-05 09:00, eve 03-09 07:00 (never posts)
    T7 retro ada  03-03 09:00  no replies                           -> unanswered (oldest)
    T1 retro bob  03-02 10:00  bob 11:00 (own: no), cyd 12:00 (2 h), ada 15:00 (sysop, 5 h)
    T2 retro cyd   03-05 23:45  dee 03-06 00:15 HIDDEN, ada 03-07 01:45 (26 h, sysop)
    T3 retro dee  03-06 09:00  dee 10:00 (own)                      -> unanswered, welcome
    T4 retro bob  03-08 08:00  cyd 09:00; topic DELETED              -> counts nowhere
    T5 games cyd   03-09 06:00  root 06:10 (10 min, global sysop)
    T6 retro cyd   03-10 00:00  bob 01:00 (1 h); under 24 h old at NOW
    flags: on cyd's T1 reply 03-02 13:00 handled 15:00 (2 h); on T7 03-04 10:00 handled
           03-05 10:00 (24 h); on T5 (games) 03-09 07:00 open; on T1 02-20 handled 03-03 09:00
    """
    root = f.sysop("root")
    ada, bob, cyd, dee, eve = (f.user(n) for n in ("ada", "bob", "cyd", "dee", "eve"))
    retro = f.sig("retro", members=[ada, bob, cyd, dee, eve], sysops=[ada])
    games = f.sig("games", members=[cyd])
    joined = {}
    for user, when in (
        (root, "2026-01-01 00:00"),
        (ada, "2026-02-01 00:00"),
        (cyd, "2026-03-01 08:00"),
        (bob, "2026-03-02 09:00"),
        (dee, "2026-03-05 09:00"),
        (eve, "2026-03-09 07:00"),
    ):
        stamp(user, created_at=at(when))
        joined[user.id] = at(when)
    with transaction():
        for membership in db.session.scalars(db.select(Membership)):
            membership.joined_at = joined[membership.user_id]
    t7 = topic_at(f, ada, retro, "2026-03-03 09:00", "=HYPERLINK(evil) nobody answers")
    t1 = topic_at(f, bob, retro, "2026-03-02 10:00", "Bob asks")
    reply_at(f, bob, t1, "2026-03-02 11:00")
    reply_at(f, cyd, t1, "2026-03-02 12:00")
    reply_at(f, ada, t1, "2026-03-02 15:00")
    t2 = topic_at(f, cyd, retro, "2026-03-05 23:45", "Cy asks")
    hidden = reply_at(f, dee, t2, "2026-03-06 00:15")
    stamp(hidden, hidden_at=at("2026-03-06 01:00"))
    reply_at(f, ada, t2, "2026-03-07 01:45")
    t3 = topic_at(f, dee, retro, "2026-03-06 09:00", "Dee's first question")
    reply_at(f, dee, t3, "2026-03-06 10:00")
    t4 = topic_at(f, bob, retro, "2026-03-08 08:00", "Deleted later")
    reply_at(f, cyd, t4, "2026-03-08 09:00")
    topic_services.delete_post(root, t4.first_post_id)
    t5 = topic_at(f, cyd, games, "2026-03-09 06:00", "Games question")
    reply_at(f, root, t5, "2026-03-09 06:10")
    t6 = topic_at(f, cyd, retro, "2026-03-10 00:00", "Late question")
    reply_at(f, bob, t6, "2026-03-10 01:00")
    with transaction() as session:
        for user, when in (
            (cyd, "2026-03-03 08:00"),
            (bob, "2026-03-09 08:00"),
            (eve, "2026-03-09 09:00"),
            (bob, "2026-03-10 07:00"),
        ):
            moment = at(when)
            session.add(MemberVisit(user_id=user.id, day=moment.date(), first_seen_at=moment))
    cyd_reply = db.session.scalar(
        db.select(Post).where(Post.topic_id == t1.id, Post.user_id == cyd.id)
    )
    with transaction() as session:
        for post_id, raised, handled in (
            (cyd_reply.id, "2026-03-02 13:00", "2026-03-02 15:00"),
            (t7.first_post_id, "2026-03-04 10:00", "2026-03-05 10:00"),
            (t5.first_post_id, "2026-03-09 07:00", None),
            (t1.first_post_id, "2026-02-20 12:00", "2026-03-03 09:00"),
        ):
            session.add(
                Flag(
                    post_id=post_id,
                    user_id=eve.id,
                    reason="spam",
                    created_at=at(raised),
                    resolved_at=at(handled) if handled else None,
                    resolved_by_id=root.id if handled else None,
                    outcome="dismissed" if handled else None,
                )
            )
    for user in (root, ada, bob, cyd, dee, eve):
        permissions.forget_memberships(user)
    return {"retro": retro, "games": games, "t1": t1, "t3": t3, "t7": t7, "root": root}


def rows(html: str, key: str) -> str:
    start = html.index(f'data-series="{key}"')
    return html[start : html.index("</table>", start)]


def read_csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def site(rng: DateRange | None = None) -> queries.Dashboard:
    root = db.session.scalar(db.select(User).where(User.username == "root"))
    return queries.dashboard(
        root, None, rng or DateRange(date(2026, 3, 1), date(2026, 3, 10), "UTC", "custom")
    )


# --- who may see it -------------------------------------------------------------------------
def test_site_dashboard_is_the_global_sysops_only(client, f, frozen):
    seed(f)
    assert client.get("/pulse").status_code == 404  # guests
    client.login("ada")  # a SIG sysop
    assert client.get("/pulse").status_code == 404
    assert client.get("/pulse/activity.csv").status_code == 404
    client.logout()
    client.login("root")
    assert client.get("/pulse").status_code == 200
    assert client.get("/pulse?sig=retro").status_code == 200
    assert client.get("/pulse?sig=no-such-sig").status_code == 404


def test_sig_dashboard_is_for_that_sigs_sysops_only(client, f, frozen):
    seed(f)
    gus = f.user("gus")
    f.sig("other", sysops=[gus])
    secret = f.sig("secret", visibility="private")
    for name, status in (("bob", 404), ("gus", 404), ("ada", 200), ("root", 200)):
        client.login(name)
        assert client.get("/s/retro/pulse").status_code == status, name
        assert client.get("/s/retro/pulse/activity.csv").status_code == status, name
        client.logout()
    assert client.get("/s/retro/pulse").status_code == 404  # guest
    client.login("ada")
    assert client.get(f"/s/{secret.slug}/pulse").status_code == 404
    assert client.get("/s/games/pulse").status_code == 404


# --- every figure, exactly ------------------------------------------------------------------
def test_site_figures(app, f, frozen):
    seed(f)
    data = site()
    figures = {fig.label: fig.raw for fig in data.figures}
    assert figures == {
        "Members in total": 6,
        "Topics started": 6,  # T1 T2 T3 T5 T6 T7; T4 deleted
        "Topics with a reply": 4,  # T3 (own reply only) and T7 have none
        "Topics: median time to first reply": 5400.0,  # 600, 3600, 7200, 93600
        "Topics: 90th percentile time to first reply": 93600.0,
        "Topics: median time to first sysop reply": 18000.0,  # 600 (root), 18000, 93600 (ada)
        "Topics: 90th percentile time to first sysop reply": 93600.0,
        "Topics answered within 24 hours": 0.4,  # T1 and T5 of T1 T2 T3 T5 T7 (T6 too young)
        "Flags raised": 3,  # the one raised before the range does not count
        "Flags raised and handled": 2,
        "Median time to handle a flag": 46800.0,  # 2 h and 24 h
        "Reactions given": 0,  # tests/test_reactions.py counts some
        # Member care (tests/test_pulse_care.py): no concerns in this timeline.
        "Concerns opened": 0,
        "Concerns answered": 0,
        "Concerns: median time to first response": None,
        "Concerns: 90th percentile time to first response": None,
        "Concerns answered within the deadline": None,
        "Concerns resolved": 0,
        "“It helped”": None,
    }
    values = {fig.label: fig.value for fig in data.figures}
    assert values["Topics: median time to first reply"] == "1 h 30 min"
    assert values["Topics: 90th percentile time to first reply"] == "26 h"
    assert values["Topics answered within 24 hours"] == "40% (2 of 5)"


def test_site_series(app, f, frozen):
    seed(f)
    data = site()
    activity = {row[0]: row[1:] for row in data.get("activity").rows}
    assert activity == {
        "2026-03-01": [0, 0],
        "2026-03-02": [1, 4],
        "2026-03-03": [1, 1],
        "2026-03-04": [0, 0],
        "2026-03-05": [1, 1],
        "2026-03-06": [1, 2],  # the hidden reply does not count
        "2026-03-07": [0, 1],
        "2026-03-08": [0, 0],  # the deleted topic's posts do not count
        "2026-03-09": [1, 2],
        "2026-03-10": [1, 2],
    }
    members = data.get("members").rows
    assert members[0] == ["2026-03-01", 1, 3]
    assert [r[1] for r in members] == [1, 1, 0, 0, 1, 0, 0, 0, 1, 0]
    assert members[-1] == ["2026-03-10", 0, 6]
    assert data.get("members-weekly").rows == [
        ["2026-02-23", 1],
        ["2026-03-02", 2],
        ["2026-03-09", 1],
    ]
    daily = {r[0]: r[1:] for r in data.get("active-daily").rows}
    assert daily["2026-03-02"] == [3, 0]  # bob, cyd, ada posted
    assert daily["2026-03-03"] == [1, 1]
    assert daily["2026-03-06"] == [1, 0]  # dee; her hidden reply is not activity
    assert daily["2026-03-09"] == [2, 2]
    assert daily["2026-03-10"] == [2, 1]
    assert sum(r[1] for r in data.get("active-daily").rows) == 11
    assert data.get("active-weekly").rows == [
        ["2026-02-23", 0, 0],
        ["2026-03-02", 4, 1],
        ["2026-03-09", 3, 2],
    ]
    assert data.get("active-monthly").rows == [["2026-03", 5, 3]]
    unanswered = data.get("unanswered").rows
    assert [r[1] for r in unanswered] == ["=HYPERLINK(evil) nobody answers", "Dee's first question"]
    # Each member's first post in a SIG (the SIG's sysops and the global sysop left out; dee's
    # hidden reply is not her first post): tests/test_pulse_care.py marks them welcomed.
    assert [(r[1], r[2], r[3], r[4]) for r in data.get("welcome").rows] == [
        ("Bob asks", "Retro", "bob", ""),
        ("Bob asks", "Retro", "cyd", ""),
        ("Dee's first question", "Retro", "dee", ""),
        ("Games question", "Games", "cyd", ""),
    ]
    assert data.get("contributors").rows == [
        ["cyd", 4, 3],
        ["ada", 3, 1],
        ["bob", 3, 1],
        ["dee", 2, 1],
        ["root", 1, 0],
    ]
    assert data.get("sigs").rows == [["Retro", 11, 4], ["Games", 2, 2]]
    flags = {r[0]: r[1:] for r in data.get("flags").rows if r[1] or r[2]}
    assert flags == {
        "2026-03-02": [1, 1],
        "2026-03-03": [0, 1],
        "2026-03-04": [1, 0],
        "2026-03-05": [0, 1],
        "2026-03-09": [1, 0],
    }


def test_sig_figures_count_only_that_sig(app, f, frozen):
    refs = seed(f)
    ada = db.session.scalar(db.select(User).where(User.username == "ada"))
    rng = DateRange(date(2026, 3, 1), date(2026, 3, 10), "UTC", "custom")
    data = queries.dashboard(ada, refs["retro"], rng)
    figures = {fig.label: fig.raw for fig in data.figures}
    assert figures["Topics started"] == 5
    assert figures["Topics: median time to first reply"] == 7200.0  # 3600, 7200, 93600
    assert figures["Topics: 90th percentile time to first reply"] == 93600.0
    assert figures["Topics: median time to first sysop reply"] == 55800.0  # 18000, 93600
    assert figures["Topics answered within 24 hours"] == 0.25  # T1 of T1 T2 T3 T7
    assert figures["Members in total"] == 5  # memberships of retro
    assert figures["Flags raised"] == 2  # not the one in games
    assert figures["Median time to handle a flag"] == 46800.0
    assert sum(r[2] for r in data.get("flags").rows) == 3
    assert "sigs" not in {s.key for s in data.series}
    assert [r[0] for r in data.get("contributors").rows] == ["ada", "bob", "cyd", "dee"]
    # Visits by members of retro only: cyd (03-03), bob and eve (03-09), bob (03-10).
    assert data.get("active-monthly").rows == [["2026-03", 4, 3]]


def test_days_follow_the_viewers_time_zone(app, f, frozen):
    seed(f)
    # New York moved to daylight saving time on 2026-03-08: UTC-5 before, UTC-4 after.
    data = site(DateRange(date(2026, 3, 1), date(2026, 3, 10), "America/New_York", "custom"))
    activity = {row[0]: row[1:] for row in data.get("activity").rows}
    assert activity["2026-03-05"] == [1, 1]  # T2 at 18:45 local
    assert activity["2026-03-09"] == [2, 4]  # T5 02:00, reply 02:10, T6 20:00, reply 21:00
    assert activity["2026-03-10"] == [0, 0]
    assert activity["2026-03-02"] == [1, 4]  # 05:00 to 10:00 local
    active = {row[0]: row[1:] for row in data.get("active-daily").rows}
    assert active["2026-03-09"] == [3, 2]  # cyd, root, bob posted; bob 04:00 and eve 05:00
    assert active["2026-03-10"] == [0, 1]  # bob's visit at 03:00 local
    assert data.get("active-weekly").rows[-1] == ["2026-03-09", 3, 2]


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kathmandu", "Pacific/Chatham"])
def test_active_members_match_a_count_in_python(app, f, frozen, zone):
    """Every active-member figure, against the seeded rows bucketed one by one in Python."""
    seed(f)
    rng = DateRange(date(2026, 2, 26), date(2026, 3, 10), zone, "custom")
    data = site(rng)
    posts = db.session.execute(
        db.select(Post.user_id, Post.created_at)
        .join(Topic, Topic.id == Post.topic_id)
        .where(queries.public_post(), Topic.deleted_at.is_(None))
    ).all()
    visits = db.session.execute(db.select(MemberVisit.user_id, MemberVisit.first_seen_at)).all()
    tz = ZoneInfo(zone)
    for unit, key in (
        ("day", "active-daily"),
        ("week", "active-weekly"),
        ("month", "active-monthly"),
    ):
        expected: dict[date, list[set[int]]] = {b: [set(), set()] for b in rng.buckets(unit)}
        for column, rows_ in enumerate((posts, visits)):
            for user_id, moment in rows_:
                if rng.utc_start <= moment < rng.utc_end:
                    start = buckets.bucket_start(moment.astimezone(tz).date(), unit)
                    expected[start][column].add(user_id)
        got = {row[0]: row[1:] for row in data.get(key).rows}
        label = (lambda d: d.strftime("%Y-%m")) if unit == "month" else date.isoformat
        assert got == {label(b): [len(p), len(v)] for b, (p, v) in expected.items()}, unit


def test_dashboard_page_shows_figures_tables_and_charts(client, f, frozen):
    refs = seed(f)
    client.login("root")
    response = client.get("/pulse", query_string=RANGE)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "40% (2 of 5)" in html
    assert "1 h 30 min" in html
    unanswered = rows(html, "unanswered")
    assert unanswered.index("HYPERLINK") < unanswered.index("Dee&#39;s first question")
    assert f'href="/t/{refs["t7"].id}/' in unanswered
    assert "data-chart='" in html
    assert 'src="/static/vendor/uPlot.iife.min.js"' in html
    assert 'src="/static/js/pulse.js"' in html
    assert "<script>" not in html  # the CSP allows no inline script
    assert "/pulse/activity.csv?range=custom&amp;start=2026-03-01&amp;end=2026-03-10" in html


def test_date_range_picker(client, f, frozen):
    seed(f)
    client.login("root")
    html = client.get("/pulse?range=7").get_data(as_text=True)
    assert "Mar 4, 2026 to Mar 10, 2026" in html
    html = client.get("/pulse?range=90").get_data(as_text=True)
    assert "Dec 11, 2025 to Mar 10, 2026" in html
    bad = client.get("/pulse?range=custom&start=2026-03-09&end=2026-03-01")
    assert bad.status_code == 200
    text = bad.get_data(as_text=True)
    assert "The first day must not be after the last." in text
    assert "Feb 9, 2026 to Mar 10, 2026" in text  # fell back to the last 30 days
    assert 'value="2026-03-09"' in text  # what the sysop typed is kept
    assert "Give both dates" in client.get("/pulse?range=custom&start=x").get_data(as_text=True)


@pytest.mark.parametrize(
    "start, end",
    [("0001-01-01", "0001-01-01"), ("0001-02-01", "0001-03-01"), ("9999-12-01", "9999-12-31")],
)
def test_a_range_at_the_calendars_edge_shows_its_empty_days(client, f, frozen, start, end):
    """A custom range in the year 1 (a slip in the year box) was a 500: its days came back
    from the database as "1-02-01", no ISO date to read. The page and the site's and a SIG's
    dashboard show the range, empty."""
    seed(f)
    client.login("root")
    for url in ("/pulse", "/s/retro/pulse"):
        response = client.get(url, query_string={"range": "custom", "start": start, "end": end})
        assert response.status_code == 200, (url, start)
        assert f'value="{start}"' in response.get_data(as_text=True)


def test_csv_downloads_use_the_same_filters_and_defuse_formulas(client, f, frozen):
    seed(f)
    client.login("root")
    table = read_csv(client.get("/pulse/activity.csv", query_string=RANGE))
    assert table[0] == ["Day", "Topics", "Posts"]
    assert table[2] == ["2026-03-02", "1", "4"]
    assert len(table) == 11
    queue = read_csv(client.get("/pulse/unanswered.csv", query_string=RANGE))
    assert queue[1][1] == "'=HYPERLINK(evil) nobody answers"
    assert queue[1][0] == "2026-03-03T09:00:00+00:00"
    sig_rows = read_csv(client.get("/pulse/activity.csv", query_string={**RANGE, "sig": "games"}))
    assert [r[2] for r in sig_rows[1:]].count("2") == 1
    response = client.get("/pulse/activity.csv", query_string=RANGE)
    assert "attachment" in response.headers["Content-Disposition"]
    assert client.get("/pulse/nonsense.csv").status_code == 404
    assert client.get("/pulse/sigs.csv?sig=retro").status_code == 404  # site-only series


def test_every_series_downloads(client, f, frozen):
    seed(f)
    client.login("root")
    for key in queries.SERIES_KEYS:
        table = read_csv(client.get(f"/pulse/{key}.csv", query_string=RANGE))
        assert table[0], key  # a header row


def test_dashboard_runs_a_fixed_number_of_queries(client, f, frozen, count_queries):
    refs = seed(f)
    client.login("root")
    client.get("/pulse", query_string=RANGE)  # warm up: the login's visit is recorded

    def statements(path: str = "/pulse", **args: str) -> list[str]:
        with count_queries() as q:
            assert client.get(path, query_string=args).status_code == 200
        return q.statements

    small = statements(**RANGE)
    sig_small = statements("/s/retro/pulse", **RANGE)
    # More of everything: members, sysops, topics, replies, visits and flags.
    members = [f.user(f"extra{n}") for n in range(6)]
    f.sig("extra", sysops=members[:2])
    for member in members:
        f.join(member, refs["retro"])
    for n, member in enumerate(members):
        topic = topic_at(f, member, refs["retro"], f"2026-03-0{n + 1} 12:00", f"Extra {n}")
        reply = reply_at(f, members[n - 1], topic, f"2026-03-0{n + 1} 13:00")
        with transaction() as session:
            moment = at(f"2026-03-0{n + 1} 14:00")
            session.add(MemberVisit(user_id=member.id, day=moment.date(), first_seen_at=moment))
            session.add(Flag(post_id=reply.id, user_id=member.id, reason="spam", created_at=moment))
    large = statements(**RANGE)
    assert len(large) == len(small), (small, large)
    assert len(statements("/s/retro/pulse", **RANGE)) == len(sig_small)
    # The length of the range changes the size of the answers, not their number.
    assert len(statements(range="7")) == len(small)
    year = {"range": "custom", "start": "2025-03-11", "end": "2026-03-10"}
    assert len(statements(**year)) == len(small)
    assert len(statements("/s/retro/pulse", **year)) == len(sig_small)
    # The headline's week compares in the same one statement as its day.
    assert len(statements(period="week", **RANGE)) == len(small)
    # 30 today: 16 for the figures (reactions per day and per emoji among them), 1 for the
    # morning's headline, 6 for member care, the SIG picker, the page itself, and the header
    # (the notification counts, the Mail badge, the flag queue and the reported private messages).
    assert len(small) <= 30


def test_links_lead_sysops_to_their_dashboards(client, f, frozen):
    seed(f)
    client.login("root")
    assert 'href="/pulse"' in client.get("/").get_data(as_text=True)
    client.logout()
    client.login("ada")
    assert 'href="/pulse"' not in client.get("/").get_data(as_text=True)
    assert 'href="/s/retro/pulse"' in client.get("/s/retro/").get_data(as_text=True)
    client.logout()
    client.login("bob")
    assert 'href="/s/retro/pulse"' not in client.get("/s/retro/").get_data(as_text=True)


def test_a_visit_is_written_once_a_day(client, f, count_queries):
    f.user("ada")
    client.login("ada")
    assert db.session.scalar(db.select(db.func.count()).select_from(MemberVisit)) == 1
    client.get("/")
    with count_queries() as q:
        client.get("/")
        client.get("/")
    assert not any("member_visits" in s for s in q.statements)
    assert db.session.scalar(db.select(db.func.count()).select_from(MemberVisit)) == 1
    client.logout()
    with count_queries() as guest:
        client.get("/")
    assert not any(s.lstrip().upper().startswith(("INSERT", "UPDATE")) for s in guest.statements)


def test_a_sysop_of_another_sig_is_not_a_sysop_here(app, f, frozen):
    seed(f)
    cyd = db.session.scalar(db.select(User).where(User.username == "cyd"))
    other = f.sig("other", sysops=[cyd])
    f.topic(cyd, other, "Elsewhere, after the range")
    # cyd's reply in retro's T1 (2 h) is still not a sysop's reply.
    figures = {fig.label: fig.raw for fig in site().figures}
    assert figures["Topics: median time to first sysop reply"] == 18000.0  # 600, 18000, 93600
    assert figures["Topics: median time to first reply"] == 5400.0


# --- the SQL underneath: buckets, durations, order statistics --------------------------------
ZONES = (
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "America/St_Johns",  # UTC-3:30, with daylight saving time
    "Asia/Kolkata",  # UTC+5:30
    "Asia/Kathmandu",  # UTC+5:45
    "Australia/Lord_Howe",  # daylight saving time of half an hour
    "America/Santiago",  # changes at local midnight
    "Pacific/Chatham",  # UTC+12:45 / +13:45
    "Pacific/Kiritimati",  # UTC+14
    "Pacific/Pago_Pago",  # UTC-11
)


def instants_to_check(rng: DateRange) -> list[datetime]:
    """Every 15 minutes for a day either side of each change of the zone's offset in the range
    and of the range's own ends, each change and midnight to the second, some microseconds."""
    edges = [since for since, _ in buckets.zone_offsets(rng.zone, rng.utc_start, rng.utc_end)]
    edges.append(rng.utc_end - timedelta(microseconds=1))
    moments = set()
    for edge in edges:
        for quarter in range(-100, 101):
            moment = edge + timedelta(minutes=15 * quarter)
            if rng.utc_start <= moment < rng.utc_end:
                moments.add(moment)
        for delta in (timedelta(seconds=-1), timedelta(microseconds=-1), timedelta(0)):
            if rng.utc_start <= edge + delta < rng.utc_end:
                moments.add(edge + delta)
    for day in (rng.start, rng.start + timedelta(days=100), rng.end):
        midnight = buckets.local_midnight(day, rng.zone)
        moments.update({midnight, midnight - timedelta(microseconds=1)} - {rng.utc_end})
    return sorted(m for m in moments if rng.utc_start <= m < rng.utc_end)


@pytest.mark.parametrize("zone", ZONES)
def test_buckets_match_the_zone_database(app, zone):
    rng = DateRange(date(2026, 1, 1), date(2026, 12, 31), zone, "custom")
    moments = instants_to_check(rng)
    table = sa.values(sa.column("at", UTCDateTime), name="moments").data([(m,) for m in moments])
    table = table.cte("moments")
    query = sa.select(
        table.c.at,
        *(buckets.bucket(table.c.at, unit, rng) for unit in buckets.UNITS),
    ).order_by(table.c.at)
    got = {at: [buckets.as_date(v) for v in rest] for at, *rest in db.session.execute(query)}
    tz = ZoneInfo(zone)
    expected = {
        m: [buckets.bucket_start(m.astimezone(tz).date(), unit) for unit in buckets.UNITS]
        for m in moments
    }
    assert got == expected


def test_zone_offsets_pin_each_change_to_its_second():
    rng = DateRange(date(2026, 1, 1), date(2026, 12, 31), "America/New_York", "custom")
    assert buckets.zone_offsets(rng.zone, rng.utc_start, rng.utc_end) == (
        (rng.utc_start, -5 * 3600),
        (at("2026-03-08 07:00"), -4 * 3600),
        (at("2026-11-01 06:00"), -5 * 3600),
    )
    utc = DateRange(date(2026, 1, 1), date(2026, 12, 31), "UTC", "custom")
    assert buckets.zone_offsets("UTC", utc.utc_start, utc.utc_end) == ((utc.utc_start, 0),)


def test_bounds_cut_weeks_and_months_to_the_range():
    rng = DateRange(date(2026, 3, 4), date(2026, 3, 10), "America/New_York", "custom")
    assert rng.bounds(buckets.WEEK) == [
        (date(2026, 3, 2), at("2026-03-04 05:00"), at("2026-03-09 04:00")),
        (date(2026, 3, 9), at("2026-03-09 04:00"), at("2026-03-11 04:00")),
    ]
    assert rng.bounds(buckets.MONTH) == [
        (date(2026, 3, 1), at("2026-03-04 05:00"), at("2026-03-11 04:00"))
    ]


def test_durations_are_exact_to_the_microsecond(app):
    pairs = [
        (at("2026-03-02 00:00:00.000001"), at("2026-03-01 23:59:59.999999"), 2),
        (at("2026-03-10 12:00:00"), at("2026-03-10 12:00:00"), 0),
        (at("2026-03-10 12:00:00.5"), at("2025-03-10 12:00:00.25"), 365 * 86400 * 10**6 + 250000),
        (at("2026-03-10 12:00:00"), at("2026-03-10 12:00:01"), -(10**6)),
    ]
    table = sa.values(
        sa.column("later", UTCDateTime), sa.column("earlier", UTCDateTime), name="pairs"
    ).data([(later, earlier) for later, earlier, _ in pairs])
    table = table.cte("pairs")
    got = db.session.execute(
        sa.select(buckets.micros_between(table.c.later, table.c.earlier)).order_by(
            table.c.later, table.c.earlier
        )
    ).scalars()
    expected = sorted(pairs, key=lambda p: (p[0], p[1]))
    assert list(got) == [micros for _, _, micros in expected]


def reference_stats(values: list[int]) -> tuple[int, float | None, float | None]:
    """What the dashboard computed in Python before: statistics.median, nearest-rank 90 %."""
    if not values:
        return 0, None, None
    seconds = sorted(v / 1_000_000 for v in values)
    rank = max(1, math.ceil(0.9 * len(seconds)))
    return len(seconds), statistics.median(seconds), seconds[rank - 1]


def test_order_statistics_match_python(app):
    generator = random.Random(3)
    samples = {
        1: [7_200_000_000],
        2: [3, 1],
        3: [5, 5, 5, 1, 9],
        4: [generator.randrange(10**12) for _ in range(101)],
        5: [generator.randrange(10**6) * 1_000_001 for _ in range(40)],  # even, with fractions
        6: [generator.choice((60, 3600)) * 10**6 for _ in range(11)],  # ties
    }
    rows = [(kind, value) for kind, values in samples.items() for value in values]
    table = sa.values(
        sa.column("kind", sa.Integer), sa.column("micros", sa.BigInteger), name="samples"
    ).data(rows)
    table = table.cte("samples")
    got = queries._order_stats(sa.select(table.c.kind, table.c.micros))
    for kind, values in samples.items():
        stats = got[kind]
        assert (stats.count, stats.median, stats.p90) == reference_stats(values), kind
    assert 7 not in got


def test_days_and_months_read_in_the_readers_language(client, f, frozen):
    """The tables' days were ISO ("2026-03-02") in every language, the monthly table's heading
    was "Month" in German too, and the chart's legend began with uPlot's "Value". The CSV keeps
    ISO days, for spreadsheets."""
    seed(f)
    root = db.session.scalar(db.select(User).where(User.username == "root"))
    root.language = "de"
    db.session.commit()
    client.login("root")
    html = client.get("/pulse", query_string=RANGE).get_data(as_text=True)
    activity = rows(html, "activity")
    assert "2. März 2026" in activity and "2026-03-02" not in activity
    monthly = rows(html, "active-monthly")
    assert ">Monat</th>" in monthly and "März 2026" in monthly and "2026-03" not in monthly
    chart = json.loads(html_lib.unescape(html.split("data-chart='", 1)[1].split("'", 1)[0]))
    assert chart["x"] == "Tag" and chart["labels"][1] == "2. März"
    assert chart["titles"][1] == "2. März 2026"
    table = read_csv(client.get("/pulse/activity.csv", query_string=RANGE))
    assert table[2][0] == "2026-03-02"


@pytest.mark.parametrize(
    ("language", "duration", "share", "unit_header"),
    [
        ("en", "1 h 30 min", "40% (2 of 5)", "Unit"),
        ("de", None, None, None),
        ("es", None, None, None),
    ],
)
def test_response_figures_read_in_their_units_and_the_csv_keeps_raw_numbers(
    app, client, f, frozen, language, duration, share, unit_header
):
    """The Response table showed the raw number beside each figure under "Seconds or count"
    (a share from 0 to 1 too, and seconds with float noise and an English decimal point in
    every language). The page says each figure once, in its unit and the reader's language;
    the CSV keeps the raw number (a decimal point, seconds to the millisecond) and names its
    unit, for spreadsheets."""
    from forum.i18n import force_locale, gettext

    seed(f)
    root = db.session.scalar(db.select(User).where(User.username == "root"))
    root.language = language
    db.session.commit()
    client.login("root")
    html = client.get("/pulse", query_string=RANGE).get_data(as_text=True)
    response = rows(html, "response")
    headers = re.findall(r'<th scope="col"[^>]*>([^<]*)</th>', response)
    with app.test_request_context(), force_locale(language):
        assert headers == [gettext("Figure"), gettext("Value")]
        in_words = {fig.label: fig.value for fig in site().figures}
        said = {
            key: gettext(key)
            for key in (
                "Topics: median time to first reply",
                "Topics answered within 24 hours",
                "Number",
            )
        }
    median = in_words[said["Topics: median time to first reply"]]
    in_time = in_words[said["Topics answered within 24 hours"]]
    if duration:
        assert (median, in_time) == (duration, share)
    assert re.search(
        rf"<td>{said['Topics: median time to first reply']}</td>\s*<td>{median}</td>", response
    )
    assert f"<td>{html_lib.escape(in_time, quote=False)}</td>" in response
    assert "5400" not in response and "0.4" not in response  # no raw numbers on the page
    body = response[response.index("<tbody>") :]
    assert all(len(re.findall(r"<td", row)) == 2 for row in body.split("<tr>")[1:])
    table = read_csv(client.get("/pulse/response.csv", query_string=RANGE))
    assert table[0][2] == said["Number"] and len(table[0]) == 4
    by_label = {row[0]: row[1:] for row in table[1:]}
    assert by_label[said["Topics: median time to first reply"]][1] == "5400.0"
    assert by_label[said["Topics answered within 24 hours"]][1] == "0.4"
    if unit_header:
        assert table[0][3] == unit_header
        assert by_label["Topics: median time to first reply"][2] == "seconds"
        assert by_label["Topics answered within 24 hours"][2] == "share from 0 to 1"
        assert by_label["Topics started"] == ["6", "6", "count"]


@pytest.mark.parametrize(
    ("language", "header", "unit"),
    [
        ("en", "Waiting for", "month"),
        ("de", "Wartet seit", "Monat"),
        ("es", "Esperando desde hace", "mes"),
    ],
)
def test_the_queues_say_how_long_a_topic_has_waited(client, f, frozen, language, header, unit):
    """The queues' last column read "Waiting | 8 minutes ago" ("Wartet seit | vor 8
    Minuten"): it says a duration, under a heading that reads with it in each language."""
    seed(f)
    root = db.session.scalar(db.select(User).where(User.username == "root"))
    root.language = language
    db.session.commit()
    client.login("root")
    html = client.get("/pulse", query_string=RANGE).get_data(as_text=True)
    queue = rows(html, "unanswered")
    assert f'<th scope="col">{header}</th>' in queue
    waits = re.findall(r"<td>([^<]*)</td>\s*</tr>", queue)
    assert waits and all(unit in wait for wait in waits), waits
    assert not [w for w in waits if re.search(r"\b(ago|vor|hace)\b", w)]


def test_pulse_dates_read_alike_and_the_charts_are_named_once_drawn(client, f, frozen):
    """The headline said "06.12.2026" and the tables "8. Nov. 2026": one shape for a day. A
    chart is drawn by pulse.js: until then it is hidden (no image without a picture); drawn,
    it is one image named by its title (pulse.js sets role and name from data-label)."""
    seed(f)
    root = db.session.scalar(db.select(User).where(User.username == "root"))
    root.language = "de"
    db.session.commit()
    client.login("root")
    html = client.get("/pulse", query_string=RANGE).get_data(as_text=True)
    # No day as "01.03.2026" (a moment, "03.03.2026, 09:00", is another kind of date).
    assert not re.search(r"\b\d\d\.\d\d\.\d{4}\b(?!, \d)", html)
    assert "1. März 2026 bis 10. März 2026" in html
    charts = re.findall(r'<div class="pulse-chart"[^>]*>', html)
    assert charts
    for chart in charts:
        assert " hidden " in chart and 'role="img"' not in chart
        assert re.search(r'data-label="[^"]+; dieselben Zahlen stehen in der Tabelle', chart)


@pytest.mark.parametrize(
    ("language", "topics", "concerns", "first"),
    [
        ("en", "Topics", "Concerns", "time to first"),
        ("de", "Themen", "Anliegen", "zur ersten"),
        ("es", "Temas", "Consultas", "la primera"),
    ],
)
def test_at_a_glance_tells_topic_and_concern_response_times_apart(
    client, f, frozen, language, topics, concerns, first
):
    """ "Median time to first reply" (topics) and "Median time to first response" (concerns)
    read alike among the cards: each time and share card now leads with what it counts."""
    seed(f)
    root = db.session.scalar(db.select(User).where(User.username == "root"))
    root.language = language
    db.session.commit()
    client.login("root")
    html = client.get("/pulse", query_string=RANGE).get_data(as_text=True)
    glance = re.search(r'<dl class="pulse-figures">(.*?)</dl>', html, re.S)
    assert glance is not None
    labels = [html_lib.unescape(t) for t in re.findall(r"<dt>([^<]*)</dt>", glance.group(1))]
    timed = [t for t in labels if first in t]
    assert len(timed) == 6  # four for topics, two for concerns
    assert all(t.startswith((topics, concerns)) for t in timed), timed
    assert len([t for t in timed if t.startswith(concerns)]) == 2
    within = [t for t in labels if "24" in t or "Frist" in t or "deadline" in t or "plazo" in t]
    assert len(within) == 2 and len(set(within)) == 2
    assert any(topics in t for t in within) and any(concerns in t for t in within)
