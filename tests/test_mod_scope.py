"""Every moderation and console action, as every role: refused ones answer 403 or 404 and change
nothing; allowed ones change something and write the moderation log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from forum.extensions import db
from forum.moderation import services as mod
from forum.moderation.models import ModAction

from .conftest import _clear
from .mod_support import World, build_world, snapshot

ROLES = ["guest", "member", "author", "other_sysop", "sig_sysop", "global"]
SIG = {"sig_sysop", "global"}
GLOBAL = {"global"}
ANY_SYSOP = {"other_sysop", "sig_sysop", "global"}


@dataclass
class Action:
    name: str
    url: Callable[[World, dict[str, Any]], str]
    data: Callable[[World], dict[str, Any]] = lambda w: {}
    allowed: set[str] = field(default_factory=lambda: set(SIG))
    prepare: Callable[[World], dict[str, Any]] = lambda w: {}
    # Who must get 404, not 403, when the SIG is private: it does not exist for them.
    in_sig: set[str] = field(default_factory=lambda: {"guest", "other_sysop"})
    logs: bool = True


def _user(w: World, role: str) -> Any:
    return {
        "guest": None,
        "member": w.member,
        "author": w.author,
        "other_sysop": w.other_sysop,
        "sig_sysop": w.sig_sysop,
        "global": w.root,
    }[role]


def P(path: str) -> Callable[[World, dict[str, Any]], str]:  # noqa: N802
    return lambda w, ctx: path.format(w=w, **ctx)


ACTIONS = [
    Action("hide_post", P("/mod/posts/{w.post.id}/hide"), lambda w: {"reason": "spam"}),
    Action(
        "unhide_post",
        P("/mod/posts/{w.post.id}/unhide"),
        prepare=lambda w: {"_": mod.hide_post(w.root, w.post.id, "x")},
    ),
    Action("approve_post", P("/mod/posts/{w.pending.id}/approve")),
    Action("reject_post", P("/mod/posts/{w.pending.id}/reject"), lambda w: {"reason": "no"}),
    Action(
        "resolve_dismiss", P("/mod/posts/{w.post.id}/resolve"), lambda w: {"outcome": "dismissed"}
    ),
    Action(
        "resolve_warn",
        P("/mod/posts/{w.post.id}/resolve"),
        lambda w: {"outcome": "warned", "reason": "Keep it civil."},
    ),
    Action(
        "resolve_suspend",
        P("/mod/posts/{w.post.id}/resolve"),
        lambda w: {"outcome": "suspended", "reason": "Spam again.", "days": "3"},
    ),
    Action("claim_flag", P("/mod/posts/{w.post.id}/claim")),
    Action(
        "unclaim_flag",
        P("/mod/posts/{w.post.id}/unclaim"),
        prepare=lambda w: {"_": mod.claim_flag(w.sig_sysop, w.post.id)},
    ),
    Action(
        "review_note", P("/mod/posts/{w.post.id}/note"), lambda w: {"body": "Seen it."}, logs=False
    ),
    Action("lock_topic", P("/mod/topics/{w.topic.id}/lock"), lambda w: {"reason": "heated"}),
    Action(
        "unlock_topic",
        P("/mod/topics/{w.topic.id}/unlock"),
        prepare=lambda w: {"_": mod.lock_topic(w.root, w.topic.id)},
    ),
    Action("pin_topic", P("/mod/topics/{w.topic.id}/pin")),
    Action(
        "unpin_topic",
        P("/mod/topics/{w.topic.id}/unpin"),
        prepare=lambda w: {"_": mod.pin_topic(w.root, w.topic.id)},
    ),
    Action("delete_topic", P("/mod/topics/{w.topic.id}/delete"), lambda w: {"reason": "dup"}),
    Action(
        "restore_topic",
        P("/mod/topics/{w.topic.id}/restore"),
        prepare=lambda w: {"_": mod.delete_topic(w.root, w.topic.id)},
    ),
    Action("move_topic", P("/mod/topics/{w.topic.id}/move"), lambda w: {"sig": str(w.sig_b.id)}),
    Action(
        "split_topic",
        P("/mod/topics/{w.topic.id}/split"),
        lambda w: {"posts": [str(w.post.id)], "title": "Split off", "sig": str(w.sig.id)},
    ),
    Action(
        "merge_topics", P("/mod/topics/{w.topic.id}/merge"), lambda w: {"target": str(w.topic2.id)}
    ),
    Action(
        "warn_in_sig",
        P("/mod/u/victim/warn"),
        lambda w: {"warn-reason": "Please stop.", "warn-sig": str(w.sig.id)},
        in_sig={"other_sysop"},
    ),
    Action(
        "warn_site",
        P("/mod/u/victim/warn"),
        lambda w: {"warn-reason": "Please stop.", "warn-sig": "0"},
        allowed=GLOBAL,
        in_sig=set(),
    ),
    Action(
        "suspend_in_sig",
        P("/mod/u/victim/suspend"),
        lambda w: {
            "suspend-days": "3",
            "suspend-reason": "Cool off.",
            "suspend-sig": str(w.sig.id),
        },
        in_sig={"other_sysop"},
    ),
    Action(
        "suspend_site",
        P("/mod/u/victim/suspend"),
        lambda w: {"suspend-days": "3", "suspend-reason": "Cool off.", "suspend-sig": "0"},
        allowed=GLOBAL,
        in_sig=set(),
    ),
    Action(
        "silence",
        P("/mod/u/victim/silence"),
        lambda w: {"silence-days": "2", "silence-reason": "Too loud."},
        allowed=GLOBAL,
        in_sig=set(),
    ),
    Action(
        "ban",
        P("/mod/u/victim/ban"),
        lambda w: {"ban-reason": "Spammer."},
        allowed=GLOBAL,
        in_sig=set(),
    ),
    Action(
        "lift_ban",
        P("/mod/u/victim/lift"),
        lambda w: {"lift-kind": "ban"},
        allowed=GLOBAL,
        prepare=lambda w: {"_": mod.ban_member(w.root, w.victim.id, "x")},
        in_sig=set(),
    ),
    Action(
        "lift_silence",
        P("/mod/u/victim/lift"),
        lambda w: {"lift-kind": "silence"},
        allowed=GLOBAL,
        prepare=lambda w: {"_": _silence(w)},
        in_sig=set(),
    ),
    Action(
        "lift_suspension_in_sig",
        P("/mod/u/victim/lift"),
        lambda w: {"lift-kind": "suspension", "lift-sig": str(w.sig.id)},
        prepare=lambda w: {"_": _suspend(w)},
        in_sig={"other_sysop"},
    ),
    Action(
        "member_note",
        P("/mod/u/victim/note"),
        lambda w: {"note-body": "Watch this one."},
        allowed=ANY_SYSOP,
        in_sig=set(),
    ),
    Action(
        "add_word_filter",
        P("/mod/filters"),
        lambda w: {"word": "spam", "action": "block", "whole_word": "y", "sig": str(w.sig.id)},
        in_sig={"other_sysop"},
    ),
    Action(
        "add_site_word_filter",
        P("/mod/filters"),
        lambda w: {"word": "spam", "action": "queue", "sig": "0"},
        allowed=GLOBAL,
        in_sig=set(),
    ),
    Action(
        "remove_word_filter",
        P("/mod/filters/{filter_id}/delete"),
        prepare=lambda w: {
            "filter_id": mod.add_word_filter(w.root, "spam", "block", True, w.sig.id).id
        },
    ),
    Action(
        "sig_approval_threshold",
        P("/mod/sigs/{w.sig.id}/approval"),
        lambda w: {"threshold": "2"},
    ),
    Action(
        "admin_create_sig",
        P("/admin/sigs"),
        lambda w: {"name": "New SIG", "slug": "new-sig", "visibility": "public", "language": "en"},
        allowed=GLOBAL,
        in_sig=set(),
    ),
    Action(
        "admin_update_sig",
        P("/admin/sigs/{w.sig.id}"),
        lambda w: {"sig-name": "Renamed", "sig-visibility": "public", "sig-language": "de"},
        allowed=GLOBAL,
        in_sig=set(),
    ),
    Action(
        "admin_archive_sig",
        P("/admin/sigs/{w.sig.id}/archive"),
        lambda w: {"value": "archive"},
        allowed=GLOBAL,
        in_sig=set(),
    ),
    Action(
        "admin_appoint_sysop",
        P("/admin/sigs/{w.sig.id}/sysops"),
        lambda w: {"sysop-username": "member", "sysop-value": "appoint"},
        allowed=GLOBAL,
        in_sig=set(),
    ),
    Action(
        "admin_sig_threshold",
        P("/admin/sigs/{w.sig.id}/threshold"),
        lambda w: {"threshold-threshold": "2"},
        allowed=GLOBAL,
        in_sig=set(),
    ),
    Action(
        "admin_settings",
        P("/admin/settings"),
        lambda w: {
            "site_name": "Renamed BBS",
            "site_description": "Still here.",
            "registration": "invite",
            "approval_threshold": "2",
            "auto_hide_threshold": "3",
            "trust_min_posts": "10",
            "post_rate_limit": "20 per minute",
            "register_rate_limit": "5 per hour",
        },
        allowed=GLOBAL,
        in_sig=set(),
    ),
    Action(
        "admin_invite",
        P("/admin/invites"),
        lambda w: {"note": "for a friend"},
        allowed=GLOBAL,
        in_sig=set(),
    ),
    Action(
        "admin_set_role",
        P("/admin/members/{w.member.id}/role"),
        lambda w: {"role": "sysop"},
        allowed=GLOBAL,
        in_sig=set(),
    ),
]


def _silence(w: World) -> Any:
    from datetime import timedelta

    from forum.timeutil import utcnow

    return mod.silence_member(w.root, w.victim.id, utcnow() + timedelta(days=1), "x")


def _suspend(w: World) -> Any:
    from datetime import timedelta

    from forum.timeutil import utcnow

    return mod.suspend_member(w.root, w.victim.id, utcnow() + timedelta(days=1), "x", w.sig.id)


def _log_count() -> int:
    return db.session.scalar(select(func.count(ModAction.id))) or 0


def _run(browser: Any, w: World, action: Action, role: str, ctx: dict[str, Any]) -> Any:
    return browser(_user(w, role)).form(action.url(w, ctx), action.data(w))


def _reset(app: Any) -> None:
    db.session.rollback()
    db.session.expunge_all()
    _clear(app)


def _refused(browser: Any, w: World, action: Action, ctx: dict[str, Any], visibility: str) -> None:
    for role in ROLES:
        if role in action.allowed:
            continue
        before = snapshot()
        response = _run(browser, w, action, role, ctx)
        hidden = visibility == "private" and role in action.in_sig
        expected = {404} if hidden else {403, 404}
        assert response.status_code in expected, (
            action.name,
            visibility,
            role,
            response.status_code,
        )
        assert snapshot() == before, f"{action.name} as {role} changed rows"


def _allowed(browser: Any, w: World, action: Action, ctx: dict[str, Any], role: str) -> None:
    logged = _log_count()
    before = snapshot()
    response = _run(browser, w, action, role, ctx)
    assert response.status_code == 302, (action.name, role, response.get_data(as_text=True)[:800])
    page = browser(_user(w, role)).get(response.headers["Location"]).get_data(as_text=True)
    assert "flash-error" not in page, (action.name, role, page[page.find("flash-error") :][:300])
    assert snapshot() != before, f"{action.name} as {role} changed nothing"
    if action.logs:
        assert _log_count() > logged, f"{action.name} wrote no moderation log entry"


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_every_action_as_every_role(app, browser, fast_members, action):
    # A public SIG: everyone refused gets 403 (or 404) and changes nothing; the first role
    # allowed succeeds.
    w = build_world("public")
    ctx = action.prepare(w)
    _refused(browser, w, action, ctx, "public")
    allowed = [r for r in ROLES if r in action.allowed]
    _allowed(browser, w, action, ctx, allowed[0])
    # Each further allowed role (the global sysop) on a fresh world.
    for role in allowed[1:]:
        _reset(app)
        w = build_world("public")
        _allowed(browser, w, action, action.prepare(w), role)
    # A private SIG does not exist for outsiders: 404, not 403.
    if action.in_sig:
        _reset(app)
        w = build_world("private")
        _refused(browser, w, action, action.prepare(w), "private")


REFUSED_PAGES = [
    ("/mod", "guest"),
    ("/mod", "member"),
    ("/mod/log", "member"),
    ("/mod/u/victim", "author"),
    ("/mod/filters", "member"),
    ("/admin/", "sig_sysop"),
    ("/admin/members", "other_sysop"),
    ("/admin/sigs", "member"),
    ("/admin/settings", "guest"),
    ("/admin/invites", "sig_sysop"),
    ("/mod/topics/{w.topic.id}/move", "other_sysop"),
    ("/mod/topics/{w.topic.id}/split", "member"),
    ("/mod/topics/{w.topic.id}/merge", "author"),
]


def test_pages_are_refused(app, browser, fast_members):
    w = build_world()
    for path, role in REFUSED_PAGES:
        status = browser(_user(w, role)).get(path.format(w=w)).status_code
        assert status == 403, (path, role, status)


SHOWN_PAGES = [
    ("/mod", "other_sysop"),
    ("/mod/log", "sig_sysop"),
    ("/mod/u/victim", "other_sysop"),
    ("/mod/filters", "sig_sysop"),
    ("/admin/", "global"),
    ("/admin/members?q=vic", "global"),
    ("/admin/sigs", "global"),
    ("/admin/sigs/{w.sig.id}", "global"),
    ("/admin/settings", "global"),
    ("/admin/invites", "global"),
    ("/mod/topics/{w.topic.id}/move", "sig_sysop"),
    ("/mod/topics/{w.topic.id}/split", "sig_sysop"),
    ("/mod/topics/{w.topic.id}/merge", "global"),
]


def test_pages_are_shown(app, browser, fast_members):
    w = build_world()
    for path, role in SHOWN_PAGES:
        status = browser(_user(w, role)).get(path.format(w=w)).status_code
        assert status == 200, (path, role, status)
