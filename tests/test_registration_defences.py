"""Registration defences without third-party services: a honeypot field, a minimum fill time,
blocked email domains and address ranges (registration, login, posting), disposable addresses,
and the sysop's approval of new accounts."""

from __future__ import annotations

import email
import logging
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from forum import blocklist, settings
from forum.accounts import services
from forum.accounts.models import APPROVED, PENDING, REFUSED, User
from forum.admin.services import update_settings
from forum.errors import Invalid
from forum.extensions import db
from forum.notifications.models import Notification
from forum.settings import SiteSetting
from forum.timeutil import utcnow
from forum.topics.models import Topic

from .factories import PASSWORD
from .mailbox import mails

STAMP_RE = re.compile(r'name="started" type="hidden" value="([^"]+)"')


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0


def stamp_of(page: str) -> str:
    match = STAMP_RE.search(page)
    assert match, page
    return match.group(1)


def later(monkeypatch: Any, seconds: float) -> None:
    """Move the clock the registration services read forward."""
    now = utcnow()
    monkeypatch.setattr(services, "utcnow", lambda: now + timedelta(seconds=seconds))


def set_sites(f: Any, **values: Any) -> Any:
    root = db.session.scalar(select(User).where(User.role == "sysop")) or f.sysop("root")
    update_settings(root, values)
    return root


def finish_link(message: email.message.EmailMessage) -> str:
    match = re.search(r"https?://[^/]+(/register/finish/\S+)", message.get_content())
    assert match, message.get_content()
    return match.group(1)


# --- the honeypot and the minimum fill time -------------------------------------------------
@pytest.mark.config(REGISTER_MIN_SECONDS=3)
def test_the_form_carries_a_hidden_honeypot_and_a_signed_timestamp(client) -> None:
    page = html(client.get("/register"))
    field = re.search(r'<div class="honeypot" aria-hidden="true">(.*?)</div>', page, re.S)
    assert field, page
    assert "Leave this empty" in field.group(1)
    assert 'tabindex="-1"' in field.group(1) and 'autocomplete="off"' in field.group(1)
    assert 'name="website"' in field.group(1)
    assert ".honeypot {" in (Path(client.application.static_folder) / "css/forum.css").read_text()
    # Signed: the stamp cannot be made up or moved back by a program.
    stamp = stamp_of(page)
    assert services.form_stamp_valid(stamp)
    assert not services.form_stamp_valid(stamp[:-2] + "xx")


@pytest.mark.config(REGISTER_MIN_SECONDS=3)
def test_a_filled_honeypot_is_refused_honestly_and_keeps_what_was_typed(
    client, outbox, monkeypatch, caplog
) -> None:
    stamp = stamp_of(html(client.get("/register")))
    later(monkeypatch, 10)
    with caplog.at_level(logging.WARNING, logger="forum.accounts.services"):
        response = client.form(
            "/register",
            {
                "username": "botty",
                "email": "botty@example.com",
                "website": "http://spam.example",
                "started": stamp,
            },
            environ_base={"REMOTE_ADDR": "203.0.113.9"},
        )
    page = html(response)
    assert response.status_code == 400
    assert "hidden field “Leave this empty” filled in" in page
    assert 'value="botty"' in page and 'value="botty@example.com"' in page
    assert "http://spam.example" not in page  # emptied, so a person's next try goes through
    assert mails(outbox) == []
    (line,) = [r.getMessage() for r in caplog.records if "registration refused" in r.getMessage()]
    assert "honeypot" in line and "203.0.113.9" in line
    # The same person sends it again (after the minimum time): it goes through.
    stamp = stamp_of(page)
    later(monkeypatch, 20)
    again = client.form(
        "/register",
        {"username": "botty", "email": "botty@example.com", "website": "", "started": stamp},
    )
    assert again.status_code == 302, html(again)
    assert len(mails(outbox)) == 1


@pytest.mark.config(REGISTER_MIN_SECONDS=3)
def test_a_form_sent_too_fast_is_refused_then_accepted_after_the_minimum(
    client, outbox, monkeypatch, caplog
) -> None:
    stamp = stamp_of(html(client.get("/register")))
    data = {"username": "quick", "email": "quick@example.com", "started": stamp}
    with caplog.at_level(logging.WARNING, logger="forum.accounts.services"):
        response = client.form("/register", data, environ_base={"REMOTE_ADDR": "198.51.100.4"})
    page = html(response)
    assert response.status_code == 400
    assert "faster than a person fills in this form" in page
    assert 'value="quick"' in page and 'value="quick@example.com"' in page
    # The stamp is kept: waiting is all it takes.
    assert stamp_of(page) == stamp
    assert mails(outbox) == []
    assert any(
        "sent 0." in r.getMessage() and "198.51.100.4" in r.getMessage() for r in caplog.records
    )
    later(monkeypatch, 3.5)
    assert client.form("/register", data).status_code == 302
    assert len(mails(outbox)) == 1


@pytest.mark.config(REGISTER_MIN_SECONDS=3)
@pytest.mark.parametrize("stamp", ["", "made-up", "MTIz.forged.sig"])
def test_a_missing_or_forged_timestamp_is_refused(client, outbox, stamp) -> None:
    response = client.form(
        "/register", {"username": "forger", "email": "f@example.com", "started": stamp}
    )
    assert response.status_code == 400
    assert "could not be checked" in html(response)
    assert 'value="forger"' in html(response)
    assert services.form_stamp_valid(stamp_of(html(response)))  # a fresh one to go on with
    assert mails(outbox) == []


@pytest.mark.config(REGISTER_MIN_SECONDS=3, REGISTER_FORM_MAX_AGE=60)
def test_a_form_left_open_too_long_is_refused(client, outbox, monkeypatch) -> None:
    stamp = stamp_of(html(client.get("/register")))
    later(monkeypatch, 120)
    import itsdangerous.timed

    real = time.time()
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real + 120)
    response = client.form(
        "/register", {"username": "slow", "email": "slow@example.com", "started": stamp}
    )
    assert response.status_code == 400
    assert "open for too long" in html(response)


# --- blocked email domains ------------------------------------------------------------------
def test_blocked_domains_match_subdomains_case_and_unicode_look_alikes() -> None:
    matcher = blocklist.compile_lists("spam.example\n# a comment\nраураl.com\nBÜCHER.example", "")
    assert matcher.blocks_domain("a@spam.example")
    assert matcher.blocks_domain("a@Mail.SPAM.Example")
    assert not matcher.blocks_domain("a@notspam.example")
    assert not matcher.blocks_domain("a@example")
    # Cyrillic look-alike of "paypal.com": compared in punycode, so only the look-alike matches.
    assert matcher.blocks_domain("x@xn--l-7sba6dbr.com")
    assert matcher.blocks_domain("x@раураl.com")
    assert not matcher.blocks_domain("x@paypal.com")
    assert matcher.blocks_domain("x@bücher.example") and matcher.blocks_domain(
        "x@xn--bcher-kva.example"
    )
    # Full-width letters fold to the same domain.
    assert matcher.blocks_domain("x@ｓｐａｍ.example")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("example.com\nexa mple.com", "Line 2, “exa mple.com”, is not a domain name"),
        ("<script>alert(1)</script>", "is not a domain name"),
        ("good.example\n-bad.example", "Line 2"),
        ("a..b", "is not a domain name"),
    ],
)
def test_hostile_domains_are_refused_on_save(f, text, problem) -> None:
    with pytest.raises(Invalid) as refused:
        set_sites(f, blocked_email_domains=text)
    assert refused.value.field == "blocked_email_domains"
    assert problem in str(refused.value.message)
    assert db.session.get(SiteSetting, "blocked_email_domains") is None


def test_registration_login_and_posting_ask_the_domain_list(client, make_client, f, outbox):
    ada = f.user("ada", email="ada@mail.Spam.example")
    sig = f.sig("lounge", members=[ada])
    set_sites(f, blocked_email_domains="SPAM.example\nxn--l-7sba6dbr.com")
    assert settings.get("blocked_email_domains") == "spam.example\nxn--l-7sba6dbr.com"
    # Registration: refused on the address field, what was typed kept, no mail.
    response = client.form("/register", {"username": "newbie", "email": "n@spam.example"})
    assert response.status_code == 400
    assert "Addresses at this domain cannot be used" in html(response)
    assert 'value="n@spam.example"' in html(response)
    response = client.form("/register", {"username": "newbie", "email": "n@раураl.com"})
    assert response.status_code == 400
    assert mails(outbox) == []
    # Login: refused after the password (and only with the right one).
    wrong = client.form("/login", {"login": "ada", "password": "not-the-password"})
    assert "Wrong username or password" in html(wrong)
    refused = client.form("/login", {"login": "ada", "password": PASSWORD})
    assert refused.status_code == 400
    assert "domain is blocked on this forum, so you cannot log in" in html(refused)
    # Posting: refused by the policy itself, whatever the way in.
    from forum import permissions

    assert "domain is blocked" in str(permissions.write_problem(ada, sig))
    # The sysop is never locked out.
    root = db.session.scalar(select(User).where(User.role == "sysop"))
    assert root is not None and permissions.standing_problem(root) is None


def test_a_link_mailed_before_the_domain_was_blocked_no_longer_finishes(client, f, outbox):
    response = client.form("/register", {"username": "later", "email": "later@spam.example"})
    assert response.status_code == 302
    link = finish_link(mails(outbox)[-1])
    set_sites(f, blocked_email_domains="spam.example")
    done = client.form(link, {"password": PASSWORD})
    assert done.status_code == 400
    assert "Addresses at this domain cannot be used" in html(done)
    assert services.find_by_username("later") is None


def test_a_ten_thousand_entry_domain_list_is_parsed_once_and_matches(f) -> None:
    domains = "\n".join(f"spam{n}.example" for n in range(10_000))
    set_sites(f, blocked_email_domains=domains)
    blocklist.compile_lists.cache_clear()
    started = time.perf_counter()
    first = settings.blocklist_now()
    parsed = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(1000):
        assert first.blocks_domain("x@deep.sub.spam9999.example")
        assert not first.blocks_domain("x@ham.example")
    matched = (time.perf_counter() - started) / 2000
    assert settings.blocklist_now() is first  # cached: not parsed again
    assert blocklist.compile_lists.cache_info().misses == 1
    print(f"10,000 domains: parsed in {parsed * 1000:.1f} ms, one match {matched * 1e6:.1f} µs")


# --- blocked address ranges -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("10.0.0.0/8\n10.0.0.0/8; DROP TABLE users", "Line 2, “10.0.0.0/8; DROP TABLE users”"),
        ("999.1.1.1", "is not an address or range"),
        ("10.0.0.0/33", "is not an address or range"),
        ("2001:db8::/200", "is not an address or range"),
        ("$(reboot)", "is not an address or range"),
        ("0.0.0.0/0", "would block every address"),
        ("::/0", "would block every address"),
    ],
)
def test_hostile_ranges_are_refused_on_save(f, text, problem) -> None:
    with pytest.raises(Invalid) as refused:
        set_sites(f, blocked_ip_ranges=text)
    assert refused.value.field == "blocked_ip_ranges"
    assert problem in str(refused.value.message)


def test_ranges_are_kept_canonical() -> None:
    assert blocklist.parse_networks("10.1.2.3/8\n2001:DB8:0::/32\n192.0.2.7\n10.0.0.0/8") == (
        "10.0.0.0/8",
        "2001:db8::/32",
        "192.0.2.7/32",
    )


def test_ipv4_and_ipv6_ranges_match() -> None:
    matcher = blocklist.compile_lists("", "10.0.0.0/8\n192.0.2.7\n2001:db8::/32\n2001:db8:1::/48")
    assert matcher.blocks_address("10.255.0.1")
    assert matcher.blocks_address("::ffff:10.0.0.1")  # IPv4-mapped
    assert matcher.blocks_address("192.0.2.7") and not matcher.blocks_address("192.0.2.8")
    assert matcher.blocks_address("2001:db8:ffff::1")
    assert not matcher.blocks_address("2001:db9::1")
    assert not matcher.blocks_address("11.0.0.1")
    assert not matcher.blocks_address("not an address")


def test_a_ten_thousand_entry_range_list_works(f) -> None:
    ranges = "\n".join(
        f"10.{n // 256}.{n % 256}.0/24" if n % 2 else f"2001:db8:{n:x}::/48" for n in range(10_000)
    )
    set_sites(f, blocked_ip_ranges=ranges)
    started = time.perf_counter()
    matcher = settings.blocklist_now()
    parsed = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(1000):
        assert matcher.blocks_address("10.39.15.200")  # 10.39.15.0/24 is n = 9999
        assert matcher.blocks_address("2001:db8:2::7")
        assert not matcher.blocks_address("10.39.16.1")
        assert not matcher.blocks_address("192.0.2.1")
    matched = (time.perf_counter() - started) / 4000
    print(f"10,000 ranges: parsed in {parsed * 1000:.1f} ms, one match {matched * 1e6:.1f} µs")


def test_registration_login_and_posting_from_a_blocked_range(client, make_client, f, outbox):
    ada = f.user("ada")
    sig = f.sig("lounge", members=[ada])
    root = set_sites(f, blocked_ip_ranges="203.0.113.0/24\n2001:db8::/32")
    blocked = {"REMOTE_ADDR": "203.0.113.50"}
    response = client.form(
        "/register", {"username": "newbie", "email": "n@example.com"}, environ_base=blocked
    )
    assert response.status_code == 400
    assert "Registration from your network is not possible" in html(response)
    assert 'value="newbie"' in html(response)
    assert mails(outbox) == []
    response = client.form(
        "/login",
        {"login": "ada", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "2001:db8::5"},
    )
    assert response.status_code == 400
    assert "Logging in from your network is not possible" in html(response)
    # Signed in elsewhere, then posting from the blocked range: refused, nothing written.
    client.login("ada")
    response = client.form(
        f"/s/{sig.slug}/new", {"title": "From the range", "body": "Hello."}, environ_base=blocked
    )
    assert response.status_code == 403
    assert "Posting from your network is not possible" in html(response)
    assert db.session.scalar(select(func.count()).select_from(Topic)) == 0
    ok = client.form(f"/s/{sig.slug}/new", {"title": "From elsewhere", "body": "Hello."})
    assert ok.status_code == 302
    # The sysop is never blocked (a list cannot lock the console out).
    sysop = make_client()
    sysop.form("/login", {"login": root.username, "password": PASSWORD}, environ_base=blocked)
    assert sysop.get("/admin/settings", environ_base=blocked).status_code == 200


def test_the_admin_page_saves_the_lists_and_shows_errors_with_what_was_typed(client, f) -> None:
    root = f.sysop("root")
    client.login(root.username)
    page = html(client.get("/admin/settings"))
    assert 'name="blocked_email_domains"' in page and 'name="blocked_ip_ranges"' in page
    data = {
        "site_name": "Forum",
        "site_description": "d",
        "registration": "open",
        "approval_threshold": "0",
        "auto_hide_threshold": "3",
        "trust_min_posts": "10",
        "mention_limit": "10",
        "mention_limit_sysop": "50",
        "post_rate_limit": "20 per minute",
        "register_rate_limit": "5 per hour",
        "account_approval": "0",
        "block_disposable": "0",
        "blocked_email_domains": "spam.example\r\nBücher.example",
        "blocked_ip_ranges": "192.0.2.0/24\r\nDROP TABLE",
    }
    response = client.form("/admin/settings", data)
    assert response.status_code == 400
    assert "Line 2, “DROP TABLE”, is not an address or range" in html(response)
    assert "Bücher.example" in html(response)  # kept as typed
    data["blocked_ip_ranges"] = "192.0.2.0/24"
    assert client.form("/admin/settings", data).status_code == 302
    assert settings.get("blocked_email_domains") == "spam.example\nxn--bcher-kva.example"
    assert settings.get("blocked_ip_ranges") == "192.0.2.0/24"


# --- disposable addresses -------------------------------------------------------------------
def test_disposable_addresses_are_refused_when_the_setting_is_on(client, f, outbox) -> None:
    assert services.is_disposable("someone@mailinator.com")
    assert services.is_disposable("someone@MAILINATOR.COM")
    assert not services.is_disposable("someone@example.com")
    data = {"username": "throwaway", "email": "t@mailinator.com"}
    assert client.form("/register", data).status_code == 302  # off by default
    set_sites(f, block_disposable="1")
    response = client.form("/register", data)
    assert response.status_code == 400
    assert "Throwaway addresses are not accepted here" in html(response)
    assert len(mails(outbox)) == 1


# --- sysop approval of new accounts ---------------------------------------------------------
def _register(client: Any, outbox: Path, name: str) -> Any:
    assert (
        client.form("/register", {"username": name, "email": f"{name}@example.com"}).status_code
        == 302
    )
    message = [m for m in mails(outbox) if m["To"] == f"{name}@example.com"][-1]
    return client.form(finish_link(message), {"password": PASSWORD})


def test_new_accounts_wait_for_approval_can_read_but_not_post(client, make_client, f, outbox):
    root = set_sites(f, account_approval="1")
    sig = f.sig("lounge")
    assert _register(client, outbox, "newbie").status_code == 302
    newbie = services.find_by_username("newbie")
    assert newbie is not None and newbie.approval == PENDING
    # Logged in: reads, joins, but may not post, and is told why.
    assert client.get(f"/s/{sig.slug}/").status_code == 200
    client.form(f"/s/{sig.slug}/join")
    form = html(client.get(f"/s/{sig.slug}/new"))
    assert "waits for a sysop&#39;s approval" in form or "waits for a sysop's approval" in form
    refused = client.form(f"/s/{sig.slug}/new", {"title": "Hello all", "body": "First!"})
    assert refused.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Topic)) == 0
    # The sysop sees the list in the console and approves.
    sysop = make_client()
    sysop.login(root.username)
    assert "1 new account waits for approval" in html(sysop.get("/admin/"))
    listing = html(sysop.get("/admin/approvals"))
    assert "newbie" in listing and "newbie@example.com" in listing
    response = sysop.form(f"/admin/approvals/{newbie.id}", {"value": "approve"})
    assert response.status_code == 302
    assert db.session.get(User, newbie.id).approval == APPROVED
    assert "Nobody is waiting" in html(sysop.get("/admin/approvals"))
    note = db.session.scalar(select(Notification).where(Notification.user_id == newbie.id))
    assert note is not None and note.kind == "account_decided" and note.data["approved"]
    assert "approved your account" in html(client.get("/notifications"))
    (mail,) = [m for m in mails(outbox) if "is approved" in m["Subject"]]
    assert mail["To"] == "newbie@example.com" and "you can post now" in mail.get_content()
    assert (
        client.form(f"/s/{sig.slug}/new", {"title": "Hello all", "body": "First!"}).status_code
        == 302
    )
    # Deciding twice is refused, and changes nothing.
    again = sysop.form(f"/admin/approvals/{newbie.id}", {"value": "refuse"})
    assert again.status_code == 302
    assert db.session.get(User, newbie.id).approval == APPROVED


def test_a_refused_account_is_told_in_its_language_and_cannot_post(client, make_client, f, outbox):
    root = set_sites(f, account_approval="1")
    sig = f.sig("lounge")
    _register(client, outbox, "hans")
    hans = services.find_by_username("hans")
    services.set_language(hans, "de")
    sysop = make_client()
    sysop.login(root.username)
    sysop.form(f"/admin/approvals/{hans.id}", {"value": "refuse"})
    assert db.session.get(User, hans.id).approval == REFUSED
    (mail,) = [
        m for m in mails(outbox) if m["To"] == "hans@example.com" and "Hallo" in m.get_content()
    ]
    assert "nicht freigegeben" in mail["Subject"]
    client.form(f"/s/{sig.slug}/join")
    assert client.form(f"/s/{sig.slug}/new", {"title": "Hallo", "body": "Hi"}).status_code == 403


def test_approval_off_lets_new_accounts_post_at_once_and_sysops_are_never_pending(f) -> None:
    ada = f.user("ada")
    assert ada.approval == APPROVED
    set_sites(f, account_approval="1")
    assert f.user("bob").approval == PENDING
    assert f.sysop("boss").approval == APPROVED


def test_only_the_global_sysop_decides_accounts(client, make_client, f, outbox) -> None:
    set_sites(f, account_approval="1")
    waiting = f.user("waiting")
    sig_sysop = f.user("sigsysop")
    f.sig("lounge", sysops=[sig_sysop])
    for who in (None, f.user("member"), sig_sysop):
        browser = make_client()
        if who is not None:
            browser.login(who.username)
        listing = browser.get("/admin/approvals")
        decide = browser.form(f"/admin/approvals/{waiting.id}", {"value": "approve"})
        assert listing.status_code == 403 and decide.status_code == 403
    assert db.session.get(User, waiting.id).approval == PENDING
