"""The rest of member care in the JSON API: a SIG's care box, going on and off duty, a SIG's
deadlines, paging the sysops on duty, a page's state, the waiting pages and taking one —
through the care pages' services, read models and policy; the same refusals as the pages, the
scopes, bad input that writes nothing (who may do what as every role: tests/test_api_care.py's
matrix)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from forum.admin import services as admin_services
from forum.care import services as care
from forum.care.models import OPEN, Concern, SigCareSetting, SysopDuty, SysopPage
from forum.db import transaction
from forum.extensions import db
from forum.timeutil import utcnow

from .test_api import error_of, refused_and_nothing_written, send, token_for
from .test_concerns import care_world
from .test_permissions import MISSING_ID

API = "/api/v1"


@pytest.fixture
def world(f) -> dict[str, Any]:
    return {**care_world(f), "tokens": {}}


def tok(w: dict[str, Any], name: str) -> str:
    """The member's token with every scope they may hold (one per member and test)."""
    if name not in w["tokens"]:
        w["tokens"][name] = token_for(w[name])
    return str(w["tokens"][name])


def _on_duty(w: dict[str, Any], name: str = "grace") -> None:
    care.set_duty(w[name], w["retro"].id, True)


def _page(w: dict[str, Any], body: str = "Is anyone there?") -> SysopPage:
    _on_duty(w)
    return care.page_sysops(w["ken"], w["retro"].id, body)


# --- duty and the care box ------------------------------------------------------------------
def test_a_sysop_goes_on_duty_reads_it_and_goes_off_again(client, world) -> None:
    grace = tok(world, "grace")
    box = send(client, "GET", f"{API}/sigs/retro/care", grace).get_json()
    assert box["is_sysop"] is True and box["sysop_here"] is False
    assert box["handling"]["on_duty"] is False and box["handling"]["page_sound"] is False
    assert send(client, "GET", f"{API}/concerns/duty", grace).get_json() == {
        "items": [],
        "page_sound": False,
    }

    on = send(client, "PUT", f"{API}/sigs/retro/care/duty", grace, {"on": True, "sound": True})
    assert on.status_code == 200, on.get_json()
    assert on.get_json()["handling"]["on_duty"] is True
    assert on.get_json()["handling"]["page_sound"] is True and on.get_json()["sysop_here"]
    duty = db.session.get(SysopDuty, (world["retro"].id, world["grace"].id))
    assert duty is not None and duty.until > utcnow() + timedelta(hours=1)
    assert care.page_sound(db.session.get(type(world["grace"]), world["grace"].id)) is True
    mine = send(client, "GET", f"{API}/concerns/duty", grace).get_json()
    assert [d["sig"]["slug"] for d in mine["items"]] == ["retro"] and mine["page_sound"] is True
    # A member reads that a sysop is here, and that they may page; no handling.
    ken = send(client, "GET", f"{API}/sigs/retro/care", tok(world, "ken")).get_json()
    assert ken["sysop_here"] is True and ken["can_page"] is True and ken["can_write"] is True
    assert ken["is_sysop"] is False and ken["handling"] is None
    # A guest reads the box too, as on the SIG's page, and may do nothing.
    guest = send(client, "GET", f"{API}/sigs/retro/care").get_json()
    assert guest["sysop_here"] is True and not guest["can_page"] and not guest["can_write"]

    # Going on duty without `sound` keeps the choice; going off leaves it be.
    again = send(client, "PUT", f"{API}/sigs/retro/care/duty", grace, {"on": True})
    assert again.status_code == 200
    off = send(client, "PUT", f"{API}/sigs/retro/care/duty", grace, {"on": False, "sound": False})
    assert off.status_code == 200 and off.get_json()["handling"]["on_duty"] is False
    assert off.get_json()["handling"]["page_sound"] is True
    assert db.session.get(SysopDuty, (world["retro"].id, world["grace"].id)) is None
    assert send(client, "GET", f"{API}/concerns/duty", grace).get_json()["items"] == []


def test_a_sysop_sets_the_sigs_deadlines(client, world) -> None:
    made = send(
        client,
        "PUT",
        f"{API}/sigs/retro/care/deadlines",
        tok(world, "grace"),
        {"response_hours": 6, "escalate_hours": 30},
    )
    assert made.status_code == 200, made.get_json()
    handling = made.get_json()["handling"]
    assert (handling["response_hours"], handling["escalate_hours"]) == (6, 30)
    own = db.session.get(SigCareSetting, world["retro"].id)
    assert (own.response_hours, own.escalate_hours) == (6, 30)
    concern = care.write_to_sysops(world["ken"], world["retro"].id, "Late?", "Words.")
    assert concern.due_at - concern.created_at == timedelta(hours=6)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"response_hours": 0, "escalate_hours": 5}, "response_hours"),
        ({"response_hours": 10, "escalate_hours": 5}, "escalate_hours"),
        ({"response_hours": 10, "escalate_hours": 9_000}, "escalate_hours"),
        ({"response_hours": "10", "escalate_hours": 20}, "response_hours"),
        ({"response_hours": 10}, "escalate_hours"),
        ({"response_hours": -1, "escalate_hours": 20}, "response_hours"),
    ],
    ids=["zero", "escalate before the answer", "over a year", "not a number", "missing", "neg"],
)
def test_bad_deadlines_are_a_clear_error_and_write_nothing(client, world, body, field) -> None:
    refused = refused_and_nothing_written(
        client, "PUT", f"{API}/sigs/retro/care/deadlines", tok(world, "grace"), body
    )
    assert refused.status_code == 400 and error_of(refused)["field"] == field


def test_duty_and_deadlines_are_the_sigs_sysops_and_need_the_moderate_scope(client, world) -> None:
    # A sysop of another SIG, a member, a member's token: refused, nothing written.
    for who in ("other", "ken"):
        for path, body in (
            ("duty", {"on": True}),
            ("deadlines", {"response_hours": 5, "escalate_hours": 9}),
        ):
            refused = refused_and_nothing_written(
                client, "PUT", f"{API}/sigs/retro/care/{path}", tok(world, who), body
            )
            assert refused.status_code == 403, (who, path)
    other = refused_and_nothing_written(
        client, "PUT", f"{API}/sigs/retro/care/duty", tok(world, "other"), {"on": True}
    )
    assert error_of(other)["message"] == "Only this SIG's sysops go on duty here."
    weak = token_for(world["grace"], ("read", "write"))
    refused = refused_and_nothing_written(
        client, "PUT", f"{API}/sigs/retro/care/duty", weak, {"on": True}
    )
    assert refused.status_code == 403 and "moderate" in error_of(refused)["message"]
    # A SIG that does not exist; a guest.
    missing = refused_and_nothing_written(
        client, "PUT", f"{API}/sigs/no-such/care/duty", tok(world, "grace"), {"on": True}
    )
    assert missing.status_code == 404
    assert send(client, "GET", f"{API}/concerns/duty").status_code == 401
    assert send(client, "GET", f"{API}/sigs/no-such/care").status_code == 404


def test_the_sysops_care_box_is_not_shown_to_another_sigs_sysop(client, world) -> None:
    box = send(client, "GET", f"{API}/sigs/retro/care", tok(world, "other")).get_json()
    assert box["is_sysop"] is False and box["handling"] is None
    root = send(client, "GET", f"{API}/sigs/retro/care", tok(world, "root")).get_json()
    assert root["is_sysop"] is True and root["handling"]["open_count"] == 0


# --- paging -----------------------------------------------------------------------------------
def test_a_member_pages_a_sysop_takes_it_and_they_talk_in_the_concern(client, world) -> None:
    _on_duty(world)
    ken, grace = tok(world, "ken"), tok(world, "grace")
    made = send(client, "POST", f"{API}/sigs/retro/care/pages", ken, {"body": "Help  me\nnow"})
    assert made.status_code == 201, made.get_json()
    page = db.session.scalar(select(SysopPage))
    shown = made.get_json()
    assert (page.member_id, page.sig_id, page.body) == (
        world["ken"].id,
        world["retro"].id,
        "Help me now",
    )
    assert shown["id"] == page.id and shown["state"] == "waiting" and shown["body"] == "Help me now"
    assert shown["can_take"] is False and shown["concern_id"] is None
    assert shown["member"] == {"id": world["ken"].id, "username": "ken"}
    assert shown["url"].endswith(f"/care/pages/{page.id}")
    assert send(client, "GET", f"{API}/concerns/pages/{page.id}", ken).get_json() == shown

    # The sysops on duty (and every sysop of the SIG) see it waiting, and may take it.
    waiting = send(client, "GET", f"{API}/concerns/pages", grace).get_json()["items"]
    assert [p["id"] for p in waiting] == [page.id] and waiting[0]["sig"]["slug"] == "retro"
    assert send(client, "GET", f"{API}/concerns/pages/{page.id}", grace).get_json()["can_take"]
    assert send(client, "GET", f"{API}/concerns/pages", tok(world, "other")).get_json() == {
        "items": []
    }

    taken = send(client, "POST", f"{API}/concerns/pages/{page.id}/take", grace)
    assert taken.status_code == 201, taken.get_json()
    concern = db.session.scalar(select(Concern))
    assert taken.get_json()["id"] == concern.id and taken.get_json()["source"] == "page"
    assert taken.get_json()["handling"]["assignee"]["username"] == "grace"
    assert (concern.assignee_id, concern.state) == (world["grace"].id, OPEN)
    # The member reads who took it as "a sysop", and the concern it became.
    state = send(client, "GET", f"{API}/concerns/pages/{page.id}", ken).get_json()
    assert state["state"] == "taken" and state["concern_id"] == concern.id
    assert state["concern_url"].endswith(f"/care/{concern.id}") and state["taken_at"]
    assert "grace" not in str(state)
    assert send(client, "GET", f"{API}/concerns/pages", grace).get_json()["items"] == []
    # The second sysop is too late, as on the page.
    late = refused_and_nothing_written(
        client, "POST", f"{API}/concerns/pages/{page.id}/take", tok(world, "linus")
    )
    assert late.status_code == 409
    assert error_of(late)["message"] == "Someone took this page already."
    answer = send(client, "POST", f"{API}/concerns/{concern.id}/messages", grace, {"body": "Hi!"})
    assert answer.status_code == 201


def test_a_page_nobody_took_in_time_reads_as_a_concern(client, world) -> None:
    page = _page(world)
    with transaction():
        db.session.get(SysopPage, page.id).expires_at = utcnow() - timedelta(seconds=1)
    concern_id = care.expire_page(page.id)
    shown = send(client, "GET", f"{API}/concerns/pages/{page.id}", tok(world, "ken")).get_json()
    assert shown["state"] == "expired" and shown["concern_id"] == concern_id
    late = refused_and_nothing_written(
        client, "POST", f"{API}/concerns/pages/{page.id}/take", tok(world, "grace")
    )
    assert late.status_code == 409
    assert "Nobody took this page in time" in error_of(late)["message"]


def test_paging_is_refused_as_on_the_page(client, world) -> None:
    ken = tok(world, "ken")
    url = f"{API}/sigs/retro/care/pages"
    nobody = refused_and_nothing_written(client, "POST", url, ken, {"body": "Hello?"})
    assert nobody.status_code == 400
    assert error_of(nobody)["message"] == "No sysop is on duty here now; write to them instead."
    _on_duty(world)
    own = refused_and_nothing_written(client, "POST", url, tok(world, "linus"), {"body": "Me"})
    assert own.status_code == 403
    assert error_of(own)["message"] == "You are one of this SIG's sysops."
    read_only = token_for(world["ken"], ("read",))
    scope = refused_and_nothing_written(client, "POST", url, read_only, {"body": "Hi"})
    assert scope.status_code == 403 and "write" in error_of(scope)["message"]
    guest = refused_and_nothing_written(client, "POST", url, None, {"body": "Hi"})
    assert guest.status_code == 400  # a guest's write has no CSRF token (nor a member)
    missing = refused_and_nothing_written(
        client, "POST", f"{API}/sigs/no-such/care/pages", ken, {"body": "Hi"}
    )
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (None, "body", None),
        ({}, "body", None),
        ({"body": ""}, "body", None),
        ({"body": "   \n "}, "body", "Say in a few words what it is about."),
        ({"body": "x" * 501}, "body", "at most 500 characters"),  # the model's bound
        ({"body": "x" * 2_001}, "body", None),
        ({"body": 5}, "body", None),
        ({"body": "Hi", "sig": "retro"}, "sig", None),
    ],
    ids=["no body", "empty", "empty text", "blank", "over 500", "over the form", "number",
         "unknown field"],
)  # fmt: skip
def test_bad_input_to_a_page_is_a_clear_error_and_writes_nothing(
    client, world, body, field, message
) -> None:
    _on_duty(world)
    refused = refused_and_nothing_written(
        client, "POST", f"{API}/sigs/retro/care/pages", tok(world, "ken"), body
    )
    assert refused.status_code == 400
    error = error_of(refused)
    assert error["field"] == field, error
    if message:
        assert message in error["message"]


def test_pages_count_against_the_pages_hourly_limit(client, make_client, world) -> None:
    admin_services.update_settings(world["root"], {"care_pages_per_hour": "1"})
    _on_duty(world)
    page = make_client()
    page.login("ken")
    assert page.form("/s/retro/page", {"body": "From the page"}).status_code == 302
    assert len(db.session.scalars(select(SysopPage)).all()) == 1
    refused = refused_and_nothing_written(
        client, "POST", f"{API}/sigs/retro/care/pages", tok(world, "ken"), {"body": "Again"}
    )
    assert refused.status_code == 400
    assert "1 time an hour" in error_of(refused)["message"]


def test_pages_are_their_member_and_sysops_and_taking_is_the_sysops(client, world) -> None:
    page = _page(world)
    for who in ("ada", "other"):
        for pid in (page.id, MISSING_ID):
            answer = send(client, "GET", f"{API}/concerns/pages/{pid}", tok(world, who))
            assert answer.status_code == 404 and error_of(answer)["message"] == "No such page."
    other = refused_and_nothing_written(
        client, "POST", f"{API}/concerns/pages/{page.id}/take", tok(world, "other")
    )
    assert other.status_code == 404
    # The member's token holds no "moderate"; a sysop's token without it is refused first.
    for secret in (tok(world, "ken"), token_for(world["grace"], ("read", "write"))):
        refused = refused_and_nothing_written(
            client, "POST", f"{API}/concerns/pages/{page.id}/take", secret
        )
        assert refused.status_code == 403 and "moderate" in error_of(refused)["message"]
    assert send(client, "GET", f"{API}/concerns/pages", tok(world, "ken")).status_code == 404
    assert send(client, "GET", f"{API}/concerns/pages/{page.id}").status_code == 401
    # The global sysop handles every SIG: they see it waiting and may take it.
    root = tok(world, "root")
    waiting = send(client, "GET", f"{API}/concerns/pages", root).get_json()["items"]
    assert [p["id"] for p in waiting] == [page.id]
    assert send(client, "POST", f"{API}/concerns/pages/{page.id}/take", root).status_code == 201


def test_a_suspended_or_silenced_member_still_pages_the_sysops(client, world) -> None:
    """As on the pages: a member's standing never keeps them from the sysops (only a ban)."""
    _on_duty(world)
    ken = tok(world, "ken")
    for column in ("suspended_until", "silenced_until"):
        with transaction():
            member = db.session.get(type(world["ken"]), world["ken"].id)
            member.suspended_until = member.silenced_until = None
            setattr(member, column, utcnow() + timedelta(days=2))
        made = send(client, "POST", f"{API}/sigs/retro/care/pages", ken, {"body": column})
        assert made.status_code == 201, (column, made.get_json())
    with transaction():
        db.session.get(type(world["ken"]), world["ken"].id).banned_at = utcnow()
    banned = send(client, "POST", f"{API}/sigs/retro/care/pages", ken, {"body": "banned"})
    assert banned.status_code == 403
    assert len(db.session.scalars(select(SysopPage)).all()) == 2


def test_the_waiting_pages_take_the_same_queries_for_few_and_many(
    client, world, f, count_queries
) -> None:
    admin_services.update_settings(world["root"], {"care_pages_per_hour": "50"})
    _page(world)
    grace = tok(world, "grace")
    send(client, "GET", f"{API}/me", grace)  # (the token's first use is noted)

    def measure() -> int:
        db.session.expire_all()
        with count_queries() as counter:
            assert send(client, "GET", f"{API}/concerns/pages", grace).status_code == 200
        return int(counter.count)

    few = measure()
    for i in range(5):
        member = f.user(f"pager{i}")
        f.join(member, world["retro"])
        care.page_sysops(member, world["retro"].id, f"page {i}")
    many = measure()
    listed = send(client, "GET", f"{API}/concerns/pages", grace).get_json()["items"]
    assert len(listed) == 6 and listed[-1]["member"]["username"] == "pager4"
    assert few == many
