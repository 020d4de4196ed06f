"""Every moderation and console action, as every role: refused ones answer 403 or 404 and change
nothing; allowed ones change something and write the moderation log."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from forum.extensions import db
from forum.moderation import services as mod
from forum.moderation.models import ModAction

from . import worlds
from .conftest import _clear
from .dbstate import snapshot
from .mod_support import World, build_world

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
        lambda w: {"note-body": "Watch this one.", "note-sig": str(w.sig.id)},
        in_sig={"other_sysop"},
    ),
    Action(
        "member_note_site",
        P("/mod/u/victim/note"),
        lambda w: {"note-body": "Watch this one.", "note-sig": "0"},
        allowed=GLOBAL,
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
            "mention_limit": "10",
            "mention_limit_sysop": "50",
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


def _run(client: Any, w: World, action: Action, ctx: dict[str, Any]) -> Any:
    return client.form(action.url(w, ctx), action.data(w))


def _reset(app: Any) -> None:
    db.session.rollback()
    db.session.expunge_all()
    _clear(app)


def _refused(browser: Any, w: World, action: Action, ctx: dict[str, Any], visibility: str) -> None:
    for role in ROLES:
        if role in action.allowed:
            continue
        # Logged in first: signing in writes its own rows (the session's), not the action's.
        client = browser(_user(w, role))
        before = snapshot()
        response = _run(client, w, action, ctx)
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
    client = browser(_user(w, role))
    before = snapshot()
    response = _run(client, w, action, ctx)
    assert response.status_code == 302, (action.name, role, response.get_data(as_text=True)[:800])
    page = browser(_user(w, role)).get(response.headers["Location"]).get_data(as_text=True)
    assert "flash-error" not in page, (action.name, role, page[page.find("flash-error") :][:300])
    assert snapshot() != before, f"{action.name} as {role} changed nothing"
    if action.logs:
        assert _log_count() > logged, f"{action.name} wrote no moderation log entry"


def _world(visibility: str) -> World:
    """build_world's, built once per test process and put back for each case (tests/worlds.py)."""
    return worlds.once(("mod_scope", visibility), lambda: build_world(visibility))


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_every_action_as_every_role(app, browser, action):
    # A public SIG: everyone refused gets 403 (or 404) and changes nothing; the first role
    # allowed succeeds.
    w = _world("public")
    ctx = action.prepare(w)
    _refused(browser, w, action, ctx, "public")
    allowed = [r for r in ROLES if r in action.allowed]
    _allowed(browser, w, action, ctx, allowed[0])
    # Each further allowed role (the global sysop) on a fresh world.
    for role in allowed[1:]:
        _reset(app)
        w = _world("public")
        _allowed(browser, w, action, action.prepare(w), role)
    # A private SIG does not exist for outsiders: 404, not 403.
    if action.in_sig:
        _reset(app)
        w = _world("private")
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


def test_pages_are_refused(app, browser):
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


def test_pages_are_shown(app, browser):
    w = build_world()
    for path, role in SHOWN_PAGES:
        status = browser(_user(w, role)).get(path.format(w=w)).status_code
        assert status == 200, (path, role, status)


# --- a SIG sysop reads nothing of the SIGs they do not moderate -----------------------------
# Every record below carries the name of its SIG ("Alpha …", "Bravo …", "Charlie …"); Bravo
# Hideout is a private SIG that the sysop of Alpha is not in, Charlie a public one they only
# read; "Site …" records are site-wide, the global sysop's.


@dataclass
class Scope:
    root: Any
    sysops: dict[str, Any]  # "Alpha" -> its SIG sysop, …
    sigs: dict[str, Any]
    suspect: Any
    topics: dict[str, Any]


def _scope_world() -> Scope:
    from datetime import timedelta

    from forum.db import transaction
    from forum.timeutil import utcnow
    from forum.topics import services as topics

    from . import factories as f
    from .mod_support import make_pending

    with transaction():
        root = f.sysop("root")
        suspect = f.user("suspect")
        witness = f.user("witness")
        sysops, sigs, topics_by_sig = {}, {}, {}
        for name, visibility in (("Bravo", "private"), ("Charlie", "public"), ("Alpha", "public")):
            sysop = f.user(f"{name.lower()}sysop")
            sig = f.sig(
                name.lower(),
                name=f"{name} Hideout" if name == "Bravo" else name,
                visibility=visibility,
                members=[suspect, witness],
                sysops=[sysop],
            )
            sysops[name], sigs[name] = sysop, sig
            topic = f.topic(suspect, sig, f"{name} topic title", f"{name} first post.")
            topics_by_sig[name] = topic
            hidden = f.reply(suspect, topic, f"{name} hidden reply.")
            mod.hide_post(sysop, hidden.id, f"{name} hide reason")
            deleted = f.reply(suspect, topic, f"{name} deleted reply.")
            topics.delete_post(sysop, deleted.id)
            make_pending(f.reply(suspect, topic, f"{name} pending reply."))
            flagged = f.reply(suspect, topic, f"{name} flagged reply.")
            mod.flag_post(witness, flagged.id, "abuse", f"{name} flag note")
            gone = f.topic(suspect, sig, f"{name} deleted topic title", f"{name} gone post.")
            mod.delete_topic(sysop, gone.id, f"{name} delete reason")
            mod.warn_member(sysop, suspect.id, f"{name} warning reason", sig.id)
            until = utcnow() + timedelta(days=3)
            mod.suspend_member(sysop, suspect.id, until, f"{name} suspension reason", sig.id)
            mod.add_member_note(sysop, suspect.id, f"{name} note body", sig.id)
        mod.warn_member(root, suspect.id, "Site warning reason")
        mod.add_member_note(root, suspect.id, "Site note body")
        mod.silence_member(root, suspect.id, utcnow() + timedelta(days=2), "Site silence reason")
    return Scope(root, sysops, sigs, suspect, topics_by_sig)


# What the SIG's sysops (and the global sysop) see of the suspect, SIG by SIG.
PRIVATE_MARKS = [
    "{} hidden reply",
    "{} deleted reply",
    "{} pending reply",
    "{} hide reason",
    "{} deleted topic title",
    "{} gone post",
    "{} warning reason",
    "{} suspension reason",
    "{} note body",
]
SITE_MARKS = ["Site warning reason", "Site note body", "Site silence reason"]


def _marks(name: str) -> list[str]:
    return [mark.format(name) for mark in PRIVATE_MARKS]


def test_member_panel_shows_a_sig_sysop_only_their_own_sigs(app, browser):
    w = _scope_world()
    page = browser(w.sysops["Alpha"]).text("/mod/u/suspect")
    assert "sysop tools" in page
    for mark in _marks("Alpha"):
        assert mark in page, mark
    # A private SIG they are not in: not even its name.
    assert "Bravo" not in page
    # A public SIG they read but do not moderate: what any reader sees, nothing more.
    assert "Charlie first post" in page and "Charlie flagged reply" in page
    for mark in [*_marks("Charlie"), *SITE_MARKS]:
        assert mark not in page, mark
    # The member is silenced site-wide: every sysop sees that it holds, not the sysop's reason.
    assert "Silenced until" in page
    # Counters over every SIG are the global sysop's (the public post count is on the profile).
    assert f"{w.suspect.topic_count} topics" not in page

    page = browser(w.sysops["Bravo"]).text("/mod/u/suspect")
    for mark in _marks("Bravo"):
        assert mark in page, mark
    for mark in [*_marks("Alpha"), *_marks("Charlie"), *SITE_MARKS]:
        assert mark not in page, mark

    page = browser(w.root).text("/mod/u/suspect")
    for mark in [*_marks("Alpha"), *_marks("Bravo"), *_marks("Charlie"), *SITE_MARKS]:
        assert mark in page, mark
    assert f"{w.suspect.topic_count} topics" in page


def test_queue_and_log_show_a_sig_sysop_only_their_own_sigs(app, browser):
    w = _scope_world()
    alpha = browser(w.sysops["Alpha"])
    queue = alpha.text("/mod")
    # The suspect's flagged and pending posts in Alpha, with the notes on them from Alpha only.
    assert "Alpha flag note" in queue and "Alpha pending reply" in queue
    assert "Alpha note body" in queue
    for mark in ["Bravo", "Charlie flag note", "Charlie pending", "Charlie note", "Site note"]:
        assert mark not in queue, mark

    for query in ("", "?member=suspect", "?actor=bravosysop", "?action=warn_member"):
        log = alpha.text(f"/mod/log{query}")
        assert "Bravo" not in log and "Charlie" not in log and "Site " not in log, query
    assert "Alpha warning reason" in alpha.text("/mod/log?member=suspect")

    # Naming a SIG they do not moderate answers as a SIG that does not exist.
    # (The CSRF tokens carry a timestamp, so they differ when a second passes between the pages.)
    def page(slug: str) -> str:
        text = alpha.text(f"/mod/log?sig={slug}").replace(slug, "SLUG")
        return re.sub(r'(csrf_token" value|csrf-token" content)="[^"]*"', r"\1=TOKEN", text)

    assert page("bravo") == page("nosuch")

    root = browser(w.root)
    assert "Bravo note body" in root.text("/mod") and "Charlie note body" in root.text("/mod")
    assert "Bravo warning reason" in root.text("/mod/log?sig=bravo")


def test_a_topic_moved_away_leaves_nothing_of_its_new_sig(app, browser):
    # The global sysop moves Alpha's topic into the private Bravo Hideout: Alpha's sysop keeps
    # the log entry of their SIG but learns neither the topic's new home nor its title.
    w = _scope_world()
    mod.move_topic(w.root, w.topics["Alpha"].id, w.sigs["Bravo"].id, "belongs there")
    alpha = browser(w.sysops["Alpha"])
    for url in ("/mod/log", "/mod/log?action=move_topic", "/mod/u/suspect"):
        page = alpha.text(url)
        assert "Bravo" not in page and "Alpha topic title" not in page, url
    assert "move topic" in alpha.text("/mod/log?action=move_topic")
    root = browser(w.root).text("/mod/log?action=move_topic")
    assert "from Alpha to Bravo Hideout" in root and "Alpha topic title" in root


@pytest.mark.parametrize(
    ("language", "label"), [("en", "Member of"), ("de", "Mitglied in"), ("es", "Miembro de")]
)
def test_member_panel_labels_the_members_sigs(app, browser, language, label):
    """The panel's status lists the member's SIGs under a label: they stood there unnamed,
    after the bans and suspensions, read as more of them."""
    w = build_world()
    w.root.language = language
    db.session.commit()
    page = browser(w.root).text(f"/mod/u/{w.member.username}")
    found = re.search(
        r'<span id="memberships-label">([^<]+)</span>\s*<ul aria-labelledby="memberships-label">'
        r"<li>([^<]+)</li>",
        page,
    )
    assert found and found.groups() == (label, w.sig.name), found
