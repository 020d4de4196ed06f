"""Two-factor sign-in with TOTP: setting it up (QR code drawn here, confirmed with a code),
recovery codes, the code step of a login, replayed codes, the slow-down, remembered devices,
turning it off, and the "sysops must use two-factor" site setting."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from forum.accounts import two_factor
from forum.accounts.models import RecoveryCode, User
from forum.admin.services import update_settings
from forum.extensions import db

from .factories import PASSWORD

NOW = 1_800_000_015.0  # a fixed moment, in the middle of a 30-second step
NEW_PASSWORD = "another-long-passphrase"


def html(response: Any) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def clock(monkeypatch) -> dict[str, float]:
    """The time codes are checked against, moved by the test."""
    now = {"t": NOW}
    monkeypatch.setattr(two_factor, "clock", lambda: now["t"])
    return now


def code_at(secret: str, t: float) -> str:
    return pyotp.TOTP(secret).at(t)


def reload(user: User) -> User:
    db.session.expire_all()
    found = db.session.get(User, user.id)
    assert found is not None
    return found


def turn_on(client: Any, user: User, clock: dict[str, float]) -> tuple[str, list[str]]:
    """Set two-factor up through the settings page; the secret and the recovery codes."""
    page = html(client.get("/settings/two-factor"))
    secret = re.search(r'<code class="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    # Confirmed with the code of the step before now, so the current one is still fresh.
    response = client.form(
        "/settings/two-factor",
        {"action": "enable", "enable-code": code_at(secret, clock["t"] - 30)},
    )
    assert response.status_code == 200, html(response)
    codes = re.findall(r"<li><code>([a-z0-9-]{14})</code></li>", html(response))
    assert len(codes) == 10
    return secret, codes


def password_step(client: Any, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.form("/login", {"login": username, "password": password, **extra})


def logged_in(client: Any) -> bool:
    return client.get("/settings").status_code == 200


# --- setting it up --------------------------------------------------------------------------
def test_setup_shows_an_inline_qr_code_and_the_key(client, f, clock) -> None:
    ada = f.user("ada")
    client.login("ada")
    response = client.get("/settings/two-factor")
    page = html(response)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    # Drawn on the server as SVG, inline: no image from another site.
    figure = re.search(
        r'<figure class="qr" role="img" aria-label="[^"]+">(.*?)</figure>', page, re.S
    )
    assert figure and figure.group(1).startswith("<svg") and "<path" in figure.group(1)
    assert "http" not in figure.group(1).replace("http://www.w3.org/2000/svg", "")
    secret = re.search(r'<code class="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    # The same key on reload (it waits in the session until confirmed), nothing saved yet.
    assert secret in html(client.get("/settings/two-factor"))
    assert db.session.get(User, ada.id).totp_secret is None
    uri = two_factor.provisioning_uri(ada, secret)
    assert uri.startswith("otpauth://totp/") and "ada" in uri and f"secret={secret}" in uri


def test_a_wrong_confirmation_code_turns_nothing_on(client, f, clock) -> None:
    ada = f.user("ada")
    client.login("ada")
    client.get("/settings/two-factor")
    response = client.form("/settings/two-factor", {"action": "enable", "enable-code": "000000"})
    assert response.status_code == 400
    assert "That code does not match" in html(response)
    assert not db.session.get(User, ada.id).has_two_factor


def test_turning_it_on_shows_ten_recovery_codes_once_and_keeps_only_hashes(
    client, f, clock
) -> None:
    ada = f.user("ada")
    client.login("ada")
    secret, codes = turn_on(client, ada, clock)
    ada = db.session.get(User, ada.id)
    assert ada.has_two_factor and ada.totp_secret == secret
    hashes = db.session.scalars(
        select(RecoveryCode.code_hash).where(RecoveryCode.user_id == ada.id)
    ).all()
    assert len(hashes) == 10 and len(set(codes)) == 10
    assert not set(codes) & set(hashes)
    assert all(code.replace("-", "") not in h for code in codes for h in hashes)
    page = html(client.get("/settings/two-factor"))
    assert "10 recovery codes are left" in page
    assert not any(code in page for code in codes)  # shown once only
    assert "On: logging in asks for a code" in html(client.get("/settings"))


# --- the code step of a login ---------------------------------------------------------------
def test_login_asks_for_the_code_after_the_password(client, make_client, f, clock) -> None:
    ada = f.user("ada")
    client.login("ada")
    secret, _ = turn_on(client, ada, clock)
    browser = make_client()
    response = password_step(browser, "ada", next="/settings")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login/code")
    # Not logged in until the code passes.
    assert not logged_in(browser)
    with browser.session_transaction() as session:
        assert "_user_id" not in session and session["pending_2fa"]["u"] == ada.id
    page = browser.get("/login/code")
    assert page.status_code == 200 and "Remember this device for 30 days" in html(page)
    wrong = browser.form("/login/code", {"code": "123456"})
    assert wrong.status_code == 400 and "That code is not right" in html(wrong)
    assert not logged_in(browser)
    done = browser.form("/login/code", {"code": code_at(secret, clock["t"])})
    assert done.status_code == 302 and done.headers["Location"].endswith("/settings")
    assert logged_in(browser)


def test_a_code_is_never_accepted_twice(client, make_client, f, clock) -> None:
    ada = f.user("ada")
    client.login("ada")
    secret, _ = turn_on(client, ada, clock)
    first = make_client()
    password_step(first, "ada")
    code = code_at(secret, clock["t"])
    assert first.form("/login/code", {"code": code}).status_code == 302
    # The same code, seen over a shoulder, within the same 30 s step: refused.
    thief = make_client()
    password_step(thief, "ada")
    replay = thief.form("/login/code", {"code": code})
    assert replay.status_code == 400 and "That code was used already" in html(replay)
    # An older step's code is refused too; the next step's is taken.
    assert thief.form("/login/code", {"code": code_at(secret, clock["t"] - 30)}).status_code == 400
    clock["t"] += 30
    assert thief.form("/login/code", {"code": code_at(secret, clock["t"])}).status_code == 302
    assert db.session.get(User, ada.id).totp_last_step == int(clock["t"] // 30)


def test_a_recovery_code_works_once(client, make_client, f, clock) -> None:
    ada = f.user("ada")
    client.login("ada")
    _, codes = turn_on(client, ada, clock)
    browser = make_client()
    password_step(browser, "ada")
    done = browser.form("/login/code", {"code": codes[3].upper().replace("-", " ")})
    assert done.status_code == 302
    assert "You used a recovery code" in html(browser.get("/"))
    again = make_client()
    password_step(again, "ada")
    assert again.form("/login/code", {"code": codes[3]}).status_code == 400
    assert two_factor.recovery_codes_left(db.session.get(User, ada.id)) == 9


def test_code_entry_slows_down_after_repeated_failures(
    make_client, client, f, clock, monkeypatch
) -> None:
    # The first hold after the free failures is one second of the throttle's clock: stopped
    # here, so that a slow machine cannot let it pass between two requests (seen on CI's
    # PostgreSQL pass).
    from forum.accounts import services as account_services

    stopped = account_services.utcnow()
    monkeypatch.setattr(account_services, "utcnow", lambda: stopped)
    ada = f.user("ada")
    client.login("ada")
    secret, _ = turn_on(client, ada, clock)
    browser = make_client()
    password_step(browser, "ada")
    free = client.application.config["LOGIN_FREE_FAILURES"]
    for _ in range(free):
        assert browser.form("/login/code", {"code": "000000"}).status_code == 400
    held = browser.form("/login/code", {"code": code_at(secret, clock["t"])})
    assert held.status_code == 429 and int(held.headers["Retry-After"]) >= 1
    assert not logged_in(browser)


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="4 per minute")
def test_code_entry_is_rate_limited(make_client, client, f, clock) -> None:
    ada = f.user("ada")
    client.login("ada")
    turn_on(client, ada, clock)
    browser = make_client()
    password_step(browser, "ada")
    statuses = [browser.form("/login/code", {"code": "000000"}).status_code for _ in range(6)]
    assert 429 in statuses


def test_a_pending_sign_in_ends_with_a_password_change_or_after_ten_minutes(
    client, make_client, f, clock, monkeypatch
) -> None:
    ada = f.user("ada")
    client.login("ada")
    secret, _ = turn_on(client, ada, clock)
    browser = make_client()
    password_step(browser, "ada")
    with browser.session_transaction() as session:
        session["pending_2fa"] = {**session["pending_2fa"], "at": 0}
    response = browser.form("/login/code", {"code": code_at(secret, clock["t"])})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert not logged_in(browser)
    # A forged pending sign-in (the session is signed) cannot be made by hand either.
    other = make_client()
    other.set_cookie("session", "eyJwZW5kaW5nXzJmYSI6eyJ1IjoxfX0.forged.sig")
    assert other.get("/login/code").status_code == 302


# --- remembering a device -------------------------------------------------------------------
def test_a_remembered_device_skips_the_code_until_the_password_changes(
    client, make_client, f, clock
) -> None:
    ada = f.user("ada")
    client.login("ada")
    secret, _ = turn_on(client, ada, clock)
    browser = make_client()
    password_step(browser, "ada")
    done = browser.form(
        "/login/code", {"code": code_at(secret, clock["t"]), "remember_device": "y"}
    )
    assert done.status_code == 302
    cookie = browser.get_cookie("forum_2fa_device")
    assert cookie is not None and cookie.http_only
    browser.logout()
    # Back within 30 days: the password alone.
    again = password_step(browser, "ada")
    assert not again.headers["Location"].endswith("/login/code")
    assert logged_in(browser)
    # Another member on this browser is still asked for their own code.
    bob = f.user("bob")
    bob_browser = make_client()
    bob_browser.login("bob")
    turn_on(bob_browser, bob, clock)
    browser.logout()
    assert password_step(browser, "bob").headers["Location"].endswith("/login/code")
    # A password change ends the remembered device.
    ada_browser = make_client()
    password_step(ada_browser, "ada")
    clock["t"] += 30
    ada_browser.form("/login/code", {"code": code_at(secret, clock["t"]), "remember_device": "y"})
    assert logged_in(ada_browser)
    ada_browser.form(
        "/settings",
        {
            "action": "password",
            "password-current_password": PASSWORD,
            "password-new_password": NEW_PASSWORD,
        },
    )
    ada_browser.logout()
    asked = password_step(ada_browser, "ada", NEW_PASSWORD)
    assert asked.headers["Location"].endswith("/login/code")


def test_turning_two_factor_off_and_on_again_ends_remembered_devices(f, clock, app) -> None:
    ada = f.user("ada")
    secret = two_factor.new_secret()
    two_factor.enable(ada, secret, code_at(secret, clock["t"]))
    token = two_factor.remember_token(ada)
    assert two_factor.remembered(ada, token)
    clock["t"] += 30
    two_factor.disable(ada, PASSWORD, code_at(secret, clock["t"]))
    fresh = two_factor.new_secret()
    two_factor.enable(ada, fresh, code_at(fresh, clock["t"]))
    assert not two_factor.remembered(reload(ada), token)
    assert not two_factor.remembered(ada, token[:-3] + "abc")


def test_the_page_says_since_when_as_each_language_writes_a_date(client, f, clock) -> None:
    # "Desde 7 dic 2026, 21:25, al iniciar sesión…", "Seit 07.12.2026, 21:25 wird…": a date
    # takes its article in Spanish and German ("desde el", "seit dem") and "Uhr" in German.
    ada = f.user("ada")
    client.login("ada")
    turn_on(client, ada, clock)
    spanish = html(client.get("/settings/two-factor", headers={"Accept-Language": "es"}))
    assert re.search(r"Desde el \d{1,2} \w+ \d{4}, \d{1,2}:\d\d, al iniciar sesión", spanish)
    german = html(client.get("/settings/two-factor", headers={"Accept-Language": "de"}))
    assert re.search(r"Seit dem \d\d\.\d\d\.\d{4}, \d\d:\d\d Uhr wird beim Anmelden", german)


# --- turning it off, new recovery codes -----------------------------------------------------
def test_turning_it_off_takes_the_password_and_a_code(client, f, clock) -> None:
    ada = f.user("ada")
    client.login("ada")
    secret, _ = turn_on(client, ada, clock)
    no_code = client.form(
        "/settings/two-factor",
        {"action": "disable", "disable-password": PASSWORD, "disable-code": "000000"},
    )
    assert no_code.status_code == 400 and db.session.get(User, ada.id).has_two_factor
    wrong_password = client.form(
        "/settings/two-factor",
        {
            "action": "disable",
            "disable-password": "not-my-password",
            "disable-code": code_at(secret, clock["t"]),
        },
    )
    assert wrong_password.status_code == 400
    assert "not your current password" in html(wrong_password)
    assert db.session.get(User, ada.id).has_two_factor
    done = client.form(
        "/settings/two-factor",
        {
            "action": "disable",
            "disable-password": PASSWORD,
            "disable-code": code_at(secret, clock["t"]),
        },
    )
    assert done.status_code == 302
    ada = db.session.get(User, ada.id)
    assert not ada.has_two_factor and ada.totp_secret is None
    assert (
        db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == ada.id)).all() == []
    )


def test_new_recovery_codes_replace_the_old_ones(client, make_client, f, clock) -> None:
    ada = f.user("ada")
    client.login("ada")
    secret, old = turn_on(client, ada, clock)
    response = client.form(
        "/settings/two-factor", {"action": "codes", "codes-code": code_at(secret, clock["t"])}
    )
    new = re.findall(r"<li><code>([a-z0-9-]{14})</code></li>", html(response))
    assert len(new) == 10 and not set(new) & set(old)
    browser = make_client()
    password_step(browser, "ada")
    assert browser.form("/login/code", {"code": old[0]}).status_code == 400
    assert browser.form("/login/code", {"code": new[0]}).status_code == 302


# --- sysops must use two-factor -------------------------------------------------------------
def test_sysops_without_two_factor_are_sent_to_set_it_up(make_client, f, clock) -> None:
    root = f.sysop("root")
    sig_sysop = f.user("sigsysop")
    member = f.user("member")
    f.sig("lounge", sysops=[sig_sysop], members=[member])
    update_settings(root, {"sysops_require_2fa": "1"})
    for who, pages in ((root, ["/admin/", "/mod"]), (sig_sysop, ["/mod", "/mod/log"])):
        browser = make_client()
        browser.login(who.username)
        for page in pages:
            response = browser.get(page)
            assert response.status_code == 302, (who.username, page)
            assert response.headers["Location"].endswith("/settings/two-factor")
        setup = html(browser.get("/settings/two-factor"))
        assert "As a sysop on this forum you must use two-factor sign-in" in setup
        turn_on(browser, who, clock)
        assert browser.get(pages[0]).status_code == 200
    # Members are not asked (and /mod stays a 403 for them).
    browser = make_client()
    browser.login(member.username)
    assert browser.get("/mod").status_code == 403
    assert "must use two-factor" not in html(browser.get("/settings/two-factor"))
    # Off: sysops are not sent anywhere.
    update_settings(root, {"sysops_require_2fa": "0"})
    other = f.sysop("other")
    browser = make_client()
    browser.login(other.username)
    assert browser.get("/admin/").status_code == 200
