"""Invite links to a SIG: its sysops (and the global sysop) make them with an expiry and a most
number of uses, see them with their uses, creators and expiry, and revoke them, each logged;
whoever opens one that holds joins at once (a private SIG too), through the SIG's join service;
an expired, used-up or revoked link, a ban, or a membership already there changes nothing; a
wrong token is the 404 of a SIG that does not exist; a guest keeps the link through logging in
or registering; the migration goes up and down."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from forum import create_app, events
from forum.accounts.models import User
from forum.errors import Forbidden
from forum.extensions import db
from forum.moderation import services as mod
from forum.moderation.models import ModAction
from forum.sigs import services
from forum.sigs.models import REQUEST_APPROVED, JoinRequest, SigInvite
from forum.timeutil import utcnow

from .mailbox import mails
from .test_accessibility import check_page
from .test_joining import _member as _is_member
from .test_joining import _member_count
from .test_redirects import HOSTILE, assert_stays_on_the_site

LINK_RE = re.compile(r'id="new-link" readonly value="([^"]+)"')
PATH_RE = re.compile(r"https?://[^/]+(/s/[^\"]+)")


def _html(response: Any) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def w(f: Any, make_client: Any) -> Any:
    """A private SIG "Hidden Lair" with its sysop and a member; a sysop of another SIG; an
    outsider; the global sysop; and a browser for each, logged in."""

    class World:
        pass

    world = World()
    world.root = f.sysop("root")
    world.sysop = f.user("keeper")
    world.member = f.user("insider")
    world.other_sysop = f.user("neighbour")
    world.outsider = f.user("newcomer")
    world.second = f.user("second")
    world.third = f.user("third")
    world.sig = f.sig(
        "lair", name="Hidden Lair", visibility="private", members=[world.member],
        sysops=[world.sysop],
    )  # fmt: skip
    world.other = f.sig("garden", name="Garden", visibility="private", sysops=[world.other_sysop])

    def browser(user: Any) -> Any:
        client = make_client()
        client.login(user)
        return client

    world.browser = browser
    world.guest = make_client()
    return world


def make_link(browser: Any, slug: str = "lair", **data: Any) -> str:
    """Make a link on the SIG's invites page, as a sysop does: its path, from the answer."""
    form = {"expires": "never", "max_uses": ""}
    form.update({k: str(v) for k, v in data.items()})
    response = browser.form(f"/s/{slug}/invites", form)
    assert response.status_code == 200, _html(response)[:2000]
    found = LINK_RE.search(_html(response))
    assert found, _html(response)[:3000]
    url = unescape(found.group(1))
    path = PATH_RE.match(url)
    assert path, url
    return path.group(1)


def _invites() -> list[SigInvite]:
    db.session.expire_all()
    return list(db.session.scalars(select(SigInvite).order_by(SigInvite.id)))


def _logged(action: str) -> list[ModAction]:
    return list(
        db.session.scalars(
            select(ModAction).where(ModAction.action == action).order_by(ModAction.id)
        )
    )


CSRF_RE = re.compile(r'((?:name="csrf-token" content|name="csrf_token" value)=")[^"]*"')


def _page(response: Any, address: str) -> str:
    """The page, but for the address it names and the CSRF tokens it carries."""
    return CSRF_RE.sub(r'\1"', _html(response).replace(address, "ADDRESS"))


# --- making, listing, revoking ---------------------------------------------------------------
@pytest.mark.parametrize("who", ["sysop", "root"])
def test_the_sigs_sysops_make_see_and_revoke_links_each_logged(w: Any, who: str) -> None:
    actor = getattr(w, who)
    b = w.browser(actor)
    # The SIG's page leads its sysops to the links.
    assert 'href="/s/lair/invites"' in _html(b.get("/s/lair/"))
    page = b.get("/s/lair/invites")
    assert page.status_code == 200 and "No invite links yet." in _html(page)

    path = make_link(b, expires="week", max_uses=3)
    token = path.rsplit("/", 1)[1]
    assert path.startswith("/s/lair/invite/") and len(token) >= 32
    (invite,) = _invites()
    # Kept as a hash, as the API's tokens are: the row holds no token, only its fingerprint.
    assert invite.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr([getattr(invite, c.key) for c in inspect(SigInvite).columns])
    assert invite.prefix == token[:6] and invite.created_by_id == actor.id
    assert invite.max_uses == 3 and invite.uses == 0
    assert invite.expires_at is not None
    assert abs(invite.expires_at - (utcnow() + timedelta(days=7))) < timedelta(minutes=1)

    listing = _html(b.get("/s/lair/invites"))
    assert token not in listing  # shown once, on the answer to the form
    assert f"{token[:6]}…" in listing and actor.username in listing and "0 of 3" in listing
    (made,) = _logged("create_sig_invite")
    assert made.actor_id == actor.id and made.sig_id == w.sig.id and token[:6] in made.details

    revoke = b.form(f"/s/lair/invites/{invite.id}/revoke")
    assert revoke.status_code == 302
    (revoked,) = _invites()
    assert revoked.revoked_at is not None and revoked.revoked_by_id == actor.id
    assert "revoked" in _html(b.get("/s/lair/invites"))
    (logged,) = _logged("revoke_sig_invite")
    assert logged.actor_id == actor.id and logged.sig_id == w.sig.id
    # The log names the actions in the reader's language, filed under the SIG.
    assert "make SIG invite link" in _html(b.get("/mod/log"))


def test_a_link_that_never_expires_and_has_no_limit(w: Any) -> None:
    b = w.browser(w.sysop)
    make_link(b, expires="never")
    (invite,) = _invites()
    assert invite.expires_at is None and invite.max_uses is None
    assert "never" in _html(b.get("/s/lair/invites"))


def test_a_bad_expiry_or_number_of_uses_is_refused(w: Any) -> None:
    b = w.browser(w.sysop)
    assert b.form("/s/lair/invites", {"expires": "year"}).status_code == 400
    assert b.form("/s/lair/invites", {"expires": "day", "max_uses": "0"}).status_code == 400
    assert _invites() == []


@pytest.mark.parametrize(
    ("who", "status"), [("member", 403), ("other_sysop", 404), ("outsider", 404), ("guest", 302)]
)
def test_nobody_else_makes_sees_or_revokes_links(w: Any, who: str, status: int) -> None:
    path = make_link(w.browser(w.sysop))
    (invite,) = _invites()
    b = w.guest if who == "guest" else w.browser(getattr(w, who))
    listing = b.get("/s/lair/invites")
    assert listing.status_code == status
    assert path.rsplit("/", 1)[1][:6] not in _html(listing)
    assert b.form("/s/lair/invites", {"expires": "never"}).status_code == status
    assert b.form(f"/s/lair/invites/{invite.id}/revoke").status_code == status
    assert len(_invites()) == 1 and _invites()[0].revoked_at is None
    assert len(_logged("create_sig_invite")) == 1 and _logged("revoke_sig_invite") == []
    if who == "member":
        assert 'href="/s/lair/invites"' not in _html(b.get("/s/lair/"))


def test_a_sysop_of_another_sig_cannot_revoke_this_sigs_link_through_their_own(w: Any) -> None:
    make_link(w.browser(w.sysop))
    (invite,) = _invites()
    neighbour = w.browser(w.other_sysop)
    assert neighbour.form(f"/s/garden/invites/{invite.id}/revoke").status_code == 404
    assert _invites()[0].revoked_at is None


# --- joining by a link -----------------------------------------------------------------------
def test_joining_by_a_link_makes_a_member_at_once(app: Any, w: Any) -> None:
    path = make_link(w.browser(w.sysop), max_uses=5)
    newcomer = w.browser(w.outsider)
    # A join request that waited is answered by the link.
    services.request_to_join(w.outsider, "lair", "Let me in?")
    joined: list[events.MemberJoinedSig] = []
    events.subscribe(app, events.MemberJoinedSig, joined.append)
    before = _member_count(w.sig.id)

    page = newcomer.get(path)
    assert page.status_code == 200
    assert "Hidden Lair" in _html(page) and "Join Hidden Lair" in _html(page)
    response = newcomer.form(path)
    assert response.status_code == 302 and response.headers["Location"].endswith("/s/lair/")
    assert "You joined Hidden Lair." in _html(newcomer.get("/s/lair/"))

    assert _is_member(w.outsider.id, w.sig.id)
    assert _member_count(w.sig.id) == before + 1
    assert _invites()[0].uses == 1
    assert [(e.sig_id, e.user_id) for e in joined] == [(w.sig.id, w.outsider.id)]
    request = db.session.scalar(select(JoinRequest).where(JoinRequest.user_id == w.outsider.id))
    assert request is not None and request.status == REQUEST_APPROVED
    assert "1 of 5" in _html(w.browser(w.sysop).get("/s/lair/invites"))


def test_an_expired_link_changes_nothing(w: Any) -> None:
    path = make_link(w.browser(w.sysop), expires="day")
    (invite,) = _invites()
    invite.expires_at = utcnow() - timedelta(seconds=1)  # a day and a second later
    db.session.commit()
    newcomer = w.browser(w.outsider)
    page = newcomer.get(path)
    assert "This invite link has expired." in _html(page)
    assert "Join Hidden Lair" not in _html(page)
    response = newcomer.form(path)
    assert response.status_code == 409 and "has expired" in _html(response)
    assert not _is_member(w.outsider.id, w.sig.id) and _invites()[0].uses == 0
    assert "expired" in _html(w.browser(w.sysop).get("/s/lair/invites"))


def test_a_link_lets_in_its_most_members_and_then_nobody(w: Any) -> None:
    path = make_link(w.browser(w.sysop), max_uses=2)
    assert w.browser(w.outsider).form(path).status_code == 302
    # The last use.
    assert w.browser(w.second).form(path).status_code == 302
    assert _is_member(w.second.id, w.sig.id) and _invites()[0].uses == 2
    before = _member_count(w.sig.id)
    late = w.browser(w.third)
    assert "used as often as it may be" in _html(late.get(path))
    response = late.form(path)
    assert response.status_code == 409
    assert not _is_member(w.third.id, w.sig.id)
    assert _invites()[0].uses == 2 and _member_count(w.sig.id) == before
    assert "used up" in _html(w.browser(w.sysop).get("/s/lair/invites"))


def test_a_revoked_link_changes_nothing(w: Any) -> None:
    sysop = w.browser(w.sysop)
    path = make_link(sysop)
    (invite,) = _invites()
    assert sysop.form(f"/s/lair/invites/{invite.id}/revoke").status_code == 302
    newcomer = w.browser(w.outsider)
    assert "revoked" in _html(newcomer.get(path))
    response = newcomer.form(path)
    assert response.status_code == 409 and "revoked" in _html(response)
    assert not _is_member(w.outsider.id, w.sig.id) and _invites()[0].uses == 0


def test_a_member_banned_from_the_sig_cannot_join_by_a_link(w: Any) -> None:
    path = make_link(w.browser(w.sysop))
    mod.remove_from_sig(w.sysop, w.member.id, w.sig.id, "Spoilers, again.", ban=True)
    before = _member_count(w.sig.id)
    banned = w.browser(w.member)
    page = _html(banned.get(path))
    assert "You are banned from Hidden Lair" in page and "Spoilers, again." in page
    assert "Join Hidden Lair" not in page
    response = banned.form(path)
    assert response.status_code == 403 and "Spoilers, again." in _html(response)
    assert not _is_member(w.member.id, w.sig.id)
    assert _invites()[0].uses == 0 and _member_count(w.sig.id) == before


def test_a_member_banned_from_the_site_cannot_join_by_a_link(w: Any) -> None:
    path = make_link(w.browser(w.sysop))
    token = path.rsplit("/", 1)[1]
    mod.ban_member(w.root, w.outsider.id, "Spam.")
    # A ban ends their sessions and their logins: only the service is left to try.
    with pytest.raises(Forbidden, match="banned"):
        services.join_by_invite(w.outsider, "lair", token)
    assert not _is_member(w.outsider.id, w.sig.id) and _invites()[0].uses == 0


def test_a_member_already_in_the_sig_is_told_so(w: Any) -> None:
    path = make_link(w.browser(w.sysop))
    before = _member_count(w.sig.id)
    insider = w.browser(w.member)
    page = _html(insider.get(path))
    assert "You are already a member of Hidden Lair." in page
    assert "Join Hidden Lair" not in page
    response = insider.form(path)
    assert response.status_code == 409
    assert "You are already a member of Hidden Lair." in _html(response)
    assert _invites()[0].uses == 0 and _member_count(w.sig.id) == before


def test_a_wrong_token_is_the_404_of_a_sig_that_does_not_exist(w: Any) -> None:
    path = make_link(w.browser(w.sysop))
    token = path.rsplit("/", 1)[1]
    other_path = make_link(w.browser(w.other_sysop), slug="garden")
    member = w.browser(w.outsider)
    member.get("/")  # (the welcome after logging in is shown once, here)
    for b in (w.guest, member):
        nowhere = f"/s/no-such-sig/invite/{token[::-1]}"
        missing = b.get(nowhere)
        assert missing.status_code == 404
        for wrong in (
            f"/s/lair/invite/{token[::-1]}",  # a wrong token
            f"/s/lair/invite/{token[:-1]}",  # nearly right
            f"/s/lair/invite/{other_path.rsplit('/', 1)[1]}",  # another SIG's link
            f"/s/garden/invite/{token}",  # this link under another SIG's address
            f"/s/no-such-sig/invite/{token}",
        ):
            response = b.get(wrong)
            assert response.status_code == 404, wrong
            # The same page, but for the address it names (the log-in link's `next`) and the
            # member's CSRF token (signed with the time).
            assert _page(response, wrong) == _page(missing, nowhere), wrong
            assert "Hidden Lair" not in _html(response) and "Garden" not in _html(response)
            assert b.form(wrong).status_code == 404
    assert not _is_member(w.outsider.id, w.sig.id)
    assert [i.uses for i in _invites()] == [0, 0]


# --- a guest ---------------------------------------------------------------------------------
def test_a_guest_logs_in_and_comes_back_to_the_link(w: Any) -> None:
    path = make_link(w.browser(w.sysop))
    guest = w.guest
    page = _html(guest.get(path))
    assert "Hidden Lair" in page and "Join Hidden Lair" not in page
    login = f"/login?next={path}"
    assert f'href="{login}"' in page
    assert 'name="next"' in _html(guest.get(login))
    # A guest's POST (a stale page) goes to the login page, and joins nothing.
    assert guest.form(path).headers["Location"].startswith("/login?next=")
    response = guest.form(
        "/login", {"login": "newcomer", "password": "correct-horse-battery", "next": path}
    )
    assert response.status_code == 302 and response.headers["Location"] == path
    assert "Join Hidden Lair" in _html(guest.get(path))
    assert guest.form(path).status_code == 302
    assert _is_member(w.outsider.id, w.sig.id)


def test_a_guest_registers_and_comes_back_to_the_link(w: Any, outbox: Path) -> None:
    path = make_link(w.browser(w.sysop))
    guest = w.guest
    page = _html(guest.get(path))
    register = f"/register?next={path}"
    assert f'href="{register}"' in page
    form = _html(guest.get(register))
    assert f'id="next" name="next" type="hidden" value="{path}"' in form
    sent = guest.form(
        "/register", {"username": "fresh", "email": "fresh@example.com", "next": path}
    )
    assert sent.status_code == 302
    message = mails(outbox)[-1]
    link = re.search(r"https?://[^/\s]+(/register/finish/\S+)", message.get_content())
    assert link, message.get_content()
    done = guest.form(link.group(1), {"password": "a-long-new-password"})
    assert done.status_code == 302 and done.headers["Location"] == path
    assert guest.form(path).status_code == 302
    fresh = db.session.scalar(select(User).where(User.username == "fresh"))
    assert fresh is not None and _is_member(fresh.id, w.sig.id) and _invites()[0].uses == 1


@pytest.mark.parametrize("target", HOSTILE)
def test_registration_with_a_hostile_next_lands_on_the_site(
    client: Any, outbox: Path, target: str
) -> None:
    """Registration reads `next` (from the link to it, then the mailed link) only through
    forum.web.safe_next, as logging in does (tests/test_redirects.py)."""
    page = client.get("/register", query_string={"next": target})
    assert page.status_code == 200
    assert 'id="next" name="next" type="hidden" value=""' in _html(page)
    sent = client.form("/register", {"username": "fresh", "email": "f@example.com", "next": target})
    assert_stays_on_the_site(sent, target)
    link = re.search(r"https?://[^/\s]+(/register/finish/\S+)", mails(outbox)[-1].get_content())
    assert link and "?" not in link.group(1), link
    # A hostile `next` added to the mailed link by hand is refused there too.
    done = client.post(
        link.group(1),
        query_string={"next": target},
        data={"password": "a-long-new-password", "csrf_token": client.csrf_token()},
    )
    assert done.status_code == 302, target
    assert_stays_on_the_site(done, target)
    assert done.headers["Location"] == "/"


# --- CSRF ------------------------------------------------------------------------------------
def test_every_post_needs_the_csrf_token(w: Any) -> None:
    sysop = w.browser(w.sysop)
    path = make_link(sysop)
    (invite,) = _invites()
    no_token = {"csrf_token": ""}
    assert sysop.post("/s/lair/invites", data={"expires": "never"}).status_code == 400
    assert sysop.form("/s/lair/invites", {**no_token, "expires": "never"}).status_code == 400
    assert len(_invites()) == 1
    assert sysop.post(f"/s/lair/invites/{invite.id}/revoke").status_code == 400
    assert sysop.form(f"/s/lair/invites/{invite.id}/revoke", no_token).status_code == 400
    assert _invites()[0].revoked_at is None
    newcomer = w.browser(w.outsider)
    assert newcomer.post(path).status_code == 400
    assert newcomer.form(path, no_token).status_code == 400
    assert not _is_member(w.outsider.id, w.sig.id) and _invites()[0].uses == 0


# --- the migration ---------------------------------------------------------------------------
BEFORE = "0033_sealed_webhook_secrets"


def test_the_migration_adds_the_table_and_its_downgrade_drops_it(
    base_config: dict[str, Any], empty_database: str
) -> None:
    migrated = create_app({**base_config, "DATABASE_URL": empty_database})
    with migrated.app_context():
        upgrade(revision=BEFORE)
        assert "sig_invites" not in inspect(db.engine).get_table_names()
        upgrade(revision="0034_sig_invites")
        found = inspect(db.engine)
        assert "sig_invites" in found.get_table_names()
        indexes = {i["name"] for i in found.get_indexes("sig_invites")}
        assert "ix_sig_invites_sig_created" in indexes
        downgrade(revision=BEFORE)
        assert "sig_invites" not in inspect(db.engine).get_table_names()
        upgrade(revision="0034_sig_invites")
        assert "sig_invites" in inspect(db.engine).get_table_names()
        db.session.remove()
        db.engine.dispose()


# --- the pages, as every page is checked ------------------------------------------------------
def test_the_invite_pages_have_landmarks_and_labelled_fields(w: Any) -> None:
    sysop = w.browser(w.sysop)
    path = make_link(sysop, max_uses=2)
    made = sysop.form("/s/lair/invites", {"expires": "day"})
    check_page(_html(made), "the new link")
    check_page(_html(sysop.get("/s/lair/invites")), "/s/lair/invites")
    check_page(_html(sysop.form("/s/lair/invites", {"expires": "x"})), "a refused form")
    check_page(_html(w.guest.get(path)), "a guest's invite")
    check_page(_html(w.browser(w.outsider).get(path)), "a member's invite")
    check_page(_html(w.browser(w.member).get(path)), "a member already in")
