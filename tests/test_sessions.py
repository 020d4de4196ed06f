"""Sessions and devices: the list of signed-in browsers in settings, logging out one of them,
"log out everywhere", and the mail alert for a sign-in from a new device."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from forum.accounts import services
from forum.accounts.models import User, UserSession
from forum.extensions import db
from forum.timeutil import utcnow

from .factories import PASSWORD
from .mailbox import mails

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def browser(make_client: Any, agent: str, ip: str) -> Any:
    client = make_client()
    client.environ_base.update({"HTTP_USER_AGENT": agent, "REMOTE_ADDR": ip})
    return client


def rows(user: User) -> list[UserSession]:
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)))


def logged_in(client: Any) -> bool:
    return client.get("/settings").status_code == 200


def test_each_login_is_listed_with_its_device_and_this_one_marked(make_client, f) -> None:
    ada = f.user("ada")
    laptop = browser(make_client, FIREFOX, "192.0.2.10")
    phone = browser(make_client, IPHONE, "2001:db8::7")
    laptop.login("ada")
    phone.login("ada")
    found = {r.user_agent: r for r in rows(ada)}
    assert set(found) == {"Firefox / Linux", "Safari / iOS"}
    assert found["Safari / iOS"].ip == "2001:db8::7"
    page = html(laptop.get("/settings"))
    assert "Firefox / Linux" in page and "Safari / iOS" in page and "192.0.2.10" in page
    # This browser's own session is marked, and only it.
    assert page.count('class="current-session" aria-current="true"') == 1
    marked = page.split('class="current-session"')[1].split("</tr>")[0]
    assert "Firefox / Linux" in marked and "this device" in marked


def test_user_agents_are_summarized() -> None:
    assert services.summarize_user_agent(FIREFOX) == "Firefox / Linux"
    assert services.summarize_user_agent(IPHONE) == "Safari / iOS"
    chrome_windows = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    )
    assert services.summarize_user_agent(chrome_windows) == "Chrome / Windows"
    assert services.summarize_user_agent(chrome_windows + " Edg/131.0") == "Edge / Windows"
    assert services.summarize_user_agent("") == "?"


def test_logging_out_another_session_ends_it_and_its_remember_me_cookie(make_client, f) -> None:
    ada = f.user("ada")
    laptop = browser(make_client, FIREFOX, "192.0.2.10")
    phone = browser(make_client, IPHONE, "192.0.2.20")
    laptop.login("ada")
    phone.form("/login", {"login": "ada", "password": PASSWORD, "remember": "y"})
    assert logged_in(phone)
    phone_row = next(r for r in rows(ada) if r.user_agent == "Safari / iOS")
    response = laptop.form(f"/settings/sessions/{phone_row.id}/end")
    assert response.status_code == 302
    assert "That session is logged out" in html(laptop.get("/settings"))
    assert not logged_in(phone)
    # Not even its remember-me cookie brings it back (the session cookie lost, as on restart).
    with phone.session_transaction() as session:
        session.clear()
    assert phone.get_cookie("remember_token") is not None
    assert not logged_in(phone)
    assert logged_in(laptop)
    assert [r.user_agent for r in rows(ada)] == ["Firefox / Linux"]


def test_logging_out_this_session_from_the_list(make_client, f) -> None:
    ada = f.user("ada")
    laptop = browser(make_client, FIREFOX, "192.0.2.10")
    laptop.login("ada")
    (row,) = rows(ada)
    response = laptop.form(f"/settings/sessions/{row.id}/end")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert not logged_in(laptop)
    assert rows(ada) == []


def test_a_member_cannot_end_someone_elses_session(make_client, f) -> None:
    ada = f.user("ada")
    f.user("bob")
    ada_browser = browser(make_client, FIREFOX, "192.0.2.10")
    ada_browser.login("ada")
    bob_browser = browser(make_client, IPHONE, "192.0.2.20")
    bob_browser.login("bob")
    (ada_row,) = rows(ada)
    response = bob_browser.form(f"/settings/sessions/{ada_row.id}/end")
    assert response.status_code == 302
    assert "That session has ended already" in html(bob_browser.get("/settings"))
    assert logged_in(ada_browser) and len(rows(ada)) == 1
    # A guest is sent to log in.
    guest = make_client()
    assert "/login" in guest.form(f"/settings/sessions/{ada_row.id}/end").headers["Location"]


def test_log_out_everywhere_still_ends_every_session(make_client, f) -> None:
    ada = f.user("ada")
    laptop = browser(make_client, FIREFOX, "192.0.2.10")
    phone = browser(make_client, IPHONE, "192.0.2.20")
    laptop.login("ada")
    phone.login("ada")
    assert len(rows(ada)) == 2
    response = laptop.form("/settings", {"action": "everywhere"})
    assert response.status_code == 302
    assert not logged_in(laptop) and not logged_in(phone)
    assert rows(ada) == []


def test_a_password_change_keeps_this_session_and_ends_the_others(make_client, f) -> None:
    ada = f.user("ada")
    laptop = browser(make_client, FIREFOX, "192.0.2.10")
    phone = browser(make_client, IPHONE, "192.0.2.20")
    laptop.login("ada")
    phone.login("ada")
    response = laptop.form(
        "/settings",
        {
            "action": "password",
            "password-current_password": PASSWORD,
            "password-new_password": "a-new-long-passphrase",
        },
    )
    assert response.status_code == 302
    assert logged_in(laptop) and not logged_in(phone)
    assert [r.user_agent for r in rows(ada)] == ["Firefox / Linux"]
    # The list still marks this browser's session after the new sign-in.
    assert 'class="current-session"' in html(laptop.get("/settings"))


@pytest.mark.config(SESSION_TOUCH_SECONDS=300)
def test_last_seen_is_written_at_most_every_few_minutes(make_client, f, monkeypatch) -> None:
    ada = f.user("ada")
    laptop = browser(make_client, FIREFOX, "192.0.2.10")
    laptop.login("ada")
    (row,) = rows(ada)
    first_seen = row.last_seen_at
    start = utcnow()
    monkeypatch.setattr(services, "utcnow", lambda: start + timedelta(seconds=120))
    laptop.get("/settings")
    assert rows(ada)[0].last_seen_at == first_seen
    monkeypatch.setattr(services, "utcnow", lambda: start + timedelta(seconds=400))
    laptop.get("/settings")
    assert rows(ada)[0].last_seen_at == start + timedelta(seconds=400)


@pytest.mark.config(SESSION_TOUCH_SECONDS=300)
def test_a_page_is_served_when_the_volume_refuses_the_last_seen_note(
    make_client, f, monkeypatch, write_lock_refused
) -> None:
    """The "last seen" note is a convenience: a volume that refuses writes (shown first by
    SQLite's writers' lock file) must not cost the member the page."""
    ada = f.user("ada")
    laptop = browser(make_client, FIREFOX, "192.0.2.10")
    laptop.login("ada")
    first_seen = rows(ada)[0].last_seen_at
    start = utcnow()
    monkeypatch.setattr(services, "utcnow", lambda: start + timedelta(seconds=400))
    write_lock_refused.start()
    page = laptop.get("/settings")
    write_lock_refused.stop()
    assert page.status_code == 200
    assert rows(ada)[0].last_seen_at == first_seen


# --- login alerts ---------------------------------------------------------------------------
def test_a_sign_in_from_a_new_device_mails_an_alert_in_the_members_language(
    make_client, f, outbox
) -> None:
    ada = f.user("ada")
    services.set_language(ada, "de")
    ada.timezone = "Europe/Berlin"
    db.session.commit()
    laptop = browser(make_client, FIREFOX, "192.0.2.10")
    laptop.login("ada")
    assert mails(outbox) == []  # the very first sign-in of an account is no news
    laptop.logout()
    laptop.login("ada")
    assert mails(outbox) == []  # the same browser (its device cookie) again
    phone = browser(make_client, IPHONE, "198.51.100.3")
    phone.login("ada")
    (alert,) = mails(outbox)
    assert alert["To"] == "ada@example.com"
    assert "Neue Anmeldung" in alert["Subject"]
    body = alert.get_content()
    assert "Safari / iOS" in body and "198.51.100.3" in body and "Hallo ada" in body
    # The moment in her language and zone, as her pages say it, not "2026-12-07 08:37 UTC".
    session = db.session.scalars(
        select(UserSession).where(UserSession.user_id == ada.id).order_by(UserSession.id.desc())
    ).first()
    local = session.created_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"{local:%d.%m.%Y, %H:%M} (Europe/Berlin)" in body and " UTC" not in body


@pytest.mark.parametrize(
    ("language", "zone", "said", "greeting"),
    [
        ("de", "Europe/Berlin", "07.12.2026, 09:37 (Europe/Berlin)", "Hallo ada"),
        ("es", "Europe/Madrid", "7 dic 2026, 9:37 (Europe/Madrid)", "Hola, ada"),
        # 08:37 UTC is 03:37 in New York in December.
        ("en", "America/New_York", "Dec 7, 2026, 3:37\u202fAM (America/New_York)", "Hello ada"),
    ],
)
def test_an_alert_queued_before_the_moment_was_iso_still_says_it_localized(
    f, outbox, language, zone, said, greeting
) -> None:
    """A job queued before the moment was kept in ISO 8601 holds "2026-12-07 08:37" (UTC, no
    zone): the mail says that moment in the member's language and zone, as a new job's does."""
    ada = f.user("ada")
    services.set_language(ada, language)
    ada.timezone = zone
    db.session.commit()
    services.mail_login_alert(ada.id, "Firefox / Linux", "192.0.2.10", "2026-12-07 08:37")
    (alert,) = mails(outbox)
    body = alert.get_content()
    assert said in body and greeting in body
    assert "2026-12-07" not in body and " UTC" not in body


@pytest.mark.config(LOGIN_ALERTS=False)
def test_login_alerts_can_be_turned_off(make_client, f, outbox) -> None:
    f.user("ada")
    browser(make_client, FIREFOX, "192.0.2.10").login("ada")
    browser(make_client, IPHONE, "192.0.2.20").login("ada")
    assert mails(outbox) == []


def test_on_a_phone_each_session_cell_says_what_it_is(make_client, f) -> None:
    """The list's rows stack on a phone, where its column heads are gone: the address and the
    two times carry their names (data-label), or a phone shows two dates without saying which."""
    f.user("ada")
    laptop = browser(make_client, FIREFOX, "192.0.2.10")
    laptop.login("ada")
    row = html(laptop.get("/settings")).split('class="current-session"')[1].split("</tr>")[0]
    assert '<td data-label="Address">192.0.2.10</td>' in row
    assert 'data-label="Logged in"' in row and 'data-label="Last seen"' in row


def test_the_alert_speaks_the_members_language_not_the_new_browsers(make_client, f, outbox):
    """A member who follows their browser had their last language noted from the signing-in
    page before the alert was written: a German member's alert of a stranger's Spanish
    browser came in Spanish. It speaks the language they read the forum in before."""
    ada = f.user("ada")
    laptop = browser(make_client, FIREFOX, "192.0.2.10")
    laptop.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de-DE,de;q=0.9"
    laptop.login("ada")
    assert db.session.get(User, ada.id).last_locale == "de"
    stranger = browser(make_client, IPHONE, "198.51.100.3")
    stranger.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es-ES,es;q=0.9"
    stranger.login("ada")
    (alert,) = mails(outbox)
    assert "Neue Anmeldung" in alert["Subject"] and "Hallo ada" in alert.get_content()
    # The new browser's language is still noted as the one she last read the forum in.
    assert db.session.get(User, ada.id).last_locale == "es"
    # Her own setting comes first, whatever she read the forum in.
    services.set_language(db.session.get(User, ada.id), "en")
    db.session.commit()
    browser(make_client, FIREFOX, "203.0.113.9").login("ada")
    assert "New sign-in" in mails(outbox)[-1]["Subject"]
