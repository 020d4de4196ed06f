"""The pulse's member-care section (per SIG and site-wide, by sysop, per week, as CSV) and the
welcome queue per SIG with its "welcomed" mark."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from forum.accounts.models import User
from forum.care import services as care
from forum.care.models import Concern
from forum.db import transaction
from forum.errors import Forbidden
from forum.extensions import db
from forum.pulse import queries
from forum.pulse import services as pulse
from forum.pulse.buckets import DateRange
from forum.pulse.models import SigWelcome

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
RANGE = {"range": "custom", "start": "2026-03-01", "end": "2026-03-10"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr("forum.pulse.queries.utcnow", lambda: NOW)
    monkeypatch.setattr("forum.pulse.views.utcnow", lambda: NOW)
    return NOW


def concern_at(member: User, sig: Any, opened: str, **times: Any) -> Concern:
    """A concern opened at `opened`, with its answer, resolution and rating stamped."""
    concern = care.write_to_sysops(member, sig.id if sig else None, "Help", "Please help.")
    with transaction():
        row = db.session.get(Concern, concern.id)
        row.created_at = at(opened)
        row.due_at = at(opened) + timedelta(hours=24)
        row.escalate_at = at(opened) + timedelta(hours=48)
        for name, value in times.items():
            setattr(row, name, at(value) if name.endswith("_at") else value)
    return concern


def seed(f: Any) -> dict[str, Any]:
    """Concerns (UTC), deadline 24 h:
    C1 retro ken  03-02 10:00  grace 11:00 (1 h), resolved by grace, helped
    C2 retro ken  03-03 10:00  linus 03-04 16:00 (30 h: late), resolved by linus, did not help
    C3 retro ada  03-09 08:00  grace 08:30 (30 min), resolved by grace, not rated
    C4 retro ada  03-09 09:00  unanswered, due 03-10 09:00 (past at NOW: counts, late)
    C5 retro ken  03-10 11:00  unanswered, still in time: not counted for the deadline
    C6 games ken  03-05 10:00  other 10:10 (10 min)
    C7 site  ken  02-20 10:00  before the range: counted nowhere
    """
    root = f.sysop("root")
    grace, linus, other = f.user("grace"), f.user("linus"), f.user("other")
    ken, ada = f.user("ken"), f.user("ada")
    retro = f.sig("retro", name="Retro", members=[ken, ada], sysops=[grace, linus])
    games = f.sig("games", name="Games", members=[ken], sysops=[other])
    concern_at(ken, retro, "2026-03-02 10:00", first_response_at="2026-03-02 11:00",
               first_responder_id=grace.id, state="resolved", resolved_at="2026-03-02 12:00",
               resolved_by_id=grace.id, helped=True)  # fmt: skip
    concern_at(ken, retro, "2026-03-03 10:00", first_response_at="2026-03-04 16:00",
               first_responder_id=linus.id, state="resolved", resolved_at="2026-03-04 17:00",
               resolved_by_id=linus.id, helped=False)  # fmt: skip
    concern_at(ada, retro, "2026-03-09 08:00", first_response_at="2026-03-09 08:30",
               first_responder_id=grace.id, state="resolved", resolved_at="2026-03-09 09:00",
               resolved_by_id=grace.id)  # fmt: skip
    concern_at(ada, retro, "2026-03-09 09:00")
    concern_at(ken, retro, "2026-03-10 11:00")
    concern_at(ken, games, "2026-03-05 10:00", first_response_at="2026-03-05 10:10",
               first_responder_id=other.id, state="waiting")  # fmt: skip
    concern_at(ken, None, "2026-02-20 10:00")
    return {"root": root, "grace": grace, "retro": retro, "games": games, "ken": ken}


def dashboard(user: User, sig: Any = None) -> queries.Dashboard:
    return queries.dashboard(
        user, sig, DateRange(date(2026, 3, 1), date(2026, 3, 10), "UTC", "custom")
    )


def test_site_care_figures(app, f, frozen):
    w = seed(f)
    figures = {fig.label: fig.raw for fig in dashboard(w["root"]).figures}
    assert figures["Concerns opened"] == 6
    assert figures["Concerns answered"] == 4
    # 600, 1800, 3600, 108000 seconds
    assert figures["Concerns: median time to first response"] == 2700.0
    assert figures["Concerns: 90th percentile time to first response"] == 108000.0
    # Answered in time: C1, C3, C6 of C1 C2 C3 C4 C6 (C5's deadline has not passed).
    assert figures["Concerns answered within the deadline"] == 0.6
    assert figures["Concerns resolved"] == 3
    assert figures["“It helped”"] == 0.5


def test_sig_care_figures_by_sysop_and_per_week(app, f, frozen):
    w = seed(f)
    data = dashboard(w["grace"], w["retro"])
    figures = {fig.label: fig.raw for fig in data.figures}
    assert figures["Concerns opened"] == 5
    assert figures["Concerns answered within the deadline"] == 0.5  # C1 C3 of C1 C2 C3 C4
    assert figures["Concerns: median time to first response"] == 3600.0  # 1800, 3600, 108000
    assert data.get("care-sysops").rows == [
        ["grace", 2, 2700.0, 2, 2, 1.0],
        ["linus", 1, 108000.0, 0, 1, 0.0],
    ]
    assert data.get("care-weekly").rows == [
        ["2026-02-23", 0, 0, "", ""],
        ["2026-03-02", 2, 2, 0.5, 0.5],
        ["2026-03-09", 3, 1, 0.5, ""],
    ]
    # Another SIG's sysop sees none of it; the SIG's dashboard is a 404 to them.
    other = db.session.scalar(select(User).where(User.username == "other"))
    games = {fig.label: fig.raw for fig in dashboard(other, w["games"]).figures}
    assert games["Concerns opened"] == 1


def test_care_series_download_as_csv(client, f, frozen):
    seed(f)
    client.login("grace")
    for key in ("care", "care-sysops", "care-weekly"):
        response = client.get(f"/s/retro/pulse/{key}.csv", query_string=RANGE)
        assert response.status_code == 200 and response.mimetype == "text/csv"
        table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
        assert table[0]
    sysops = client.get("/s/retro/pulse/care-sysops.csv", query_string=RANGE)
    assert "grace,2,2700.0,2,2,1.0" in sysops.get_data(as_text=True)
    assert client.get("/pulse/care.csv", query_string=RANGE).status_code == 404
    client.logout()
    client.login("root")
    page = client.get("/pulse", query_string=RANGE).get_data(as_text=True)
    assert "Member care" in page and "Member care by sysop" in page


# --- the welcome queue ------------------------------------------------------------------------
def test_the_welcome_queue_is_per_sig_and_marks_who_welcomed(browser, f):
    root = f.sysop("root")
    grace, newbie, old = f.user("grace"), f.user("newbie"), f.user("old")
    retro = f.sig("retro", name="Retro", members=[newbie, old], sysops=[grace])
    games = f.sig("games", name="Games", members=[newbie])
    f.topic(old, retro, "Old hand", "first")
    f.topic(newbie, retro, "Hello retro", "My first post here.")
    f.topic(newbie, retro, "Second topic", "Not a first post.")
    f.topic(newbie, games, "Hello games", "My first post in games.")
    f.topic(grace, retro, "Sysop topic", "Sysops are not welcomed.")
    f.topic(root, games, "Root topic", "Nor is the global sysop.")
    today = datetime.now(UTC).date()
    rng = DateRange(today - timedelta(days=1), today, "UTC", "custom")
    rows = queries.dashboard(grace, retro, rng).get("welcome")
    assert [(r[1], r[3], r[4]) for r in rows.rows] == [
        ("Old hand", "old", ""),
        ("Hello retro", "newbie", ""),
    ]
    site = queries.dashboard(root, None, rng).get("welcome")
    assert [(r[1], r[2]) for r in site.rows] == [
        ("Old hand", "Retro"),
        ("Hello retro", "Retro"),
        ("Hello games", "Games"),
    ]
    # Grace marks newbie welcomed in Retro: the row says who, and goes last.
    grace_browser = browser(grace)
    page = grace_browser.text("/s/retro/pulse")
    assert "Mark welcomed" in page
    back = re.search(r'action="/pulse/welcome".*?name="next" value="([^"]+)"', page, re.S)
    assert back and back.group(1) == "/s/retro/pulse#series-welcome"
    response = grace_browser.form(
        "/pulse/welcome",
        {"sig_id": retro.id, "user_id": newbie.id, "next": back.group(1)},
    )
    # Back to the queue, not the top of a page a dozen screens long; the notice is drawn
    # beside it (forum.web's notices_follow_the_redirect), not above the first chart.
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/s/retro/pulse#series-welcome")
    page = grace_browser.text(response.headers["Location"])
    assert page.index('id="series-welcome"') < page.index("Marked as welcomed.")
    mark = db.session.get(SigWelcome, (retro.id, newbie.id))
    assert mark.welcomed_by_id == grace.id
    rows = queries.dashboard(grace, retro, rng).get("welcome")
    assert [(r[1], r[4]) for r in rows.rows] == [("Old hand", ""), ("Hello retro", "grace")]
    assert rows.actions[1] is None and rows.actions[0] == {"sig_id": retro.id, "user_id": old.id}
    # Welcomed in Retro is not welcomed in Games; only a SIG's sysops mark there.
    site = queries.dashboard(root, None, rng).get("welcome")
    assert [(r[1], r[4]) for r in site.rows][-1] == ("Hello retro", "grace")
    with pytest.raises(Forbidden):
        pulse.mark_welcomed(grace, games.id, newbie.id)
    with pytest.raises(Forbidden):
        pulse.mark_welcomed(newbie, retro.id, old.id)
    refused = browser(newbie).form("/pulse/welcome", {"sig_id": retro.id, "user_id": old.id})
    assert refused.status_code == 302
    assert db.session.get(SigWelcome, (retro.id, old.id)) is None


def test_kens_page_answered_by_grace_shows_in_the_sigs_pulse(browser, f):
    """Ken pages the Retro sysops, Grace (on duty) takes it and answers within a minute and
    resolves it; another concern goes unanswered and reaches the global sysop; Retro's pulse
    shows the response times."""
    root = f.sysop("root")
    grace, ken = f.user("grace"), f.user("ken")
    retro = f.sig("retro", name="Retro Computing", members=[ken], sysops=[grace])
    browser(grace).form("/s/retro/duty", {"value": "on", "sound": "y"})
    browser(ken).form("/s/retro/page", {"body": "My disk drive clicks"})
    page_id = db.session.scalar(select(Concern.id))
    assert page_id is None  # a page, not a concern yet
    from forum.care.models import SysopPage

    page = db.session.scalar(select(SysopPage))
    browser(grace).form(f"/care/pages/{page.id}/take")
    concern = db.session.scalar(select(Concern))
    browser(grace).form(f"/care/{concern.id}/reply", {"body": "Try a new belt.", "resolve": "y"})
    unanswered = care.write_to_sysops(ken, retro.id, "Another thing", "Nobody answers this.")
    care.check_deadlines(datetime.now(UTC) + timedelta(hours=49))
    from forum.notifications.models import Notification

    escalated = db.session.scalars(
        select(Notification).where(Notification.user_id == root.id, Notification.kind == "concern")
    ).all()
    assert [n.data for n in escalated] == [{"concern_id": unanswered.id, "what": "escalated"}]
    db.session.expire_all()
    done = db.session.get(Concern, concern.id)
    assert done.state == "resolved"
    assert (done.first_response_at - done.created_at) < timedelta(minutes=1)
    today = datetime.now(UTC).date()
    rng = DateRange(today - timedelta(days=6), today, "UTC", "7")
    figures = {fig.label: fig for fig in queries.dashboard(grace, retro, rng).figures}
    assert figures["Concerns opened"].raw == 2
    assert figures["Concerns: median time to first response"].raw < 60
    assert figures["Concerns resolved"].raw == 1
    page_html = browser(grace).text("/s/retro/pulse")
    assert "Member care" in page_html and "Concerns: median time to first response" in page_html


def test_care_tables_write_numbers_as_the_reader_does(client, f, frozen):
    """The care tables showed Python's floats ("2700.0", "0.5") on the page, in German too;
    the CSV keeps them for spreadsheets."""
    w = seed(f)
    w["grace"].language = "de"
    db.session.commit()
    client.login("grace")
    html = client.get("/s/retro/pulse", query_string=RANGE).get_data(as_text=True)
    start = html.index('data-series="care-sysops"')
    by_sysop = html[start : html.index("</table>", start)]
    assert ">2.700</td>" in by_sysop and ">108.000</td>" in by_sysop
    assert "2700.0" not in by_sysop and "1.0<" not in by_sysop
    start = html.index('data-series="care-weekly"')
    weekly = html[start : html.index("</table>", start)]
    assert ">0,5</td>" in weekly and "0.5" not in weekly
    sysops = client.get("/s/retro/pulse/care-sysops.csv", query_string=RANGE)
    assert "grace,2,2700.0,2,2,1.0" in sysops.get_data(as_text=True)
