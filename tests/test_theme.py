"""Colours: light, dark or as the system is set; a member's setting, a guest's cookie, the switch
at the foot of every page (without JavaScript), what the page says, and the guest page cache."""

from __future__ import annotations

import re
from typing import Any

import pytest

from forum import theme
from forum.accounts import services
from forum.accounts.models import User
from forum.errors import Invalid
from forum.extensions import db

ORIGIN = {"Origin": "http://localhost"}


def drawn_in(page: str) -> tuple[str, str]:
    """(<html data-theme>, <meta name="color-scheme">) of a page."""
    html = re.search(r'<html [^>]*data-theme="([^"]+)"', page)
    meta = re.search(r'<meta name="color-scheme" content="([^"]+)">', page)
    assert html and meta, page[:300]
    return html.group(1), meta.group(1)


def menu(page: str) -> str:
    found = re.search(r'<form method="post" action="/theme".*?</form>', page, re.S)
    assert found, "no colour switch"
    return found.group(0)


def stored(user: User) -> str | None:
    db.session.expire_all()
    return db.session.get(User, user.id).theme


def test_a_page_follows_the_system_until_the_reader_chooses(client):
    page = client.get("/").get_data(as_text=True)
    assert drawn_in(page) == ("system", "light dark")
    switch = menu(page)
    for code in theme.THEMES:
        assert f'name="theme" value="{code}"' in switch
    assert re.search(r'value="system"[^>]*aria-current="true"', switch)
    assert "csrf_token" not in switch  # a guest's page has no token (the page cache)


def test_a_guest_switches_with_one_post_and_a_cookie(client):
    response = client.post("/theme", data={"theme": "dark", "next": "/search"}, headers=ORIGIN)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/search")
    cookie = response.headers["Set-Cookie"]
    assert "forum_theme=dark" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/").get_data(as_text=True)
    assert drawn_in(page) == ("dark", "dark")
    assert re.search(r'value="dark"[^>]*aria-current="true"', menu(page))
    client.post("/theme", data={"theme": "light"}, headers=ORIGIN)
    assert drawn_in(client.get("/").get_data(as_text=True)) == ("light", "light")


def test_a_cookie_naming_no_scheme_is_ignored(client):
    client.set_cookie(theme.THEME_COOKIE, "purple")
    assert drawn_in(client.get("/").get_data(as_text=True)) == ("system", "light dark")


def test_a_cross_site_switch_is_refused(client):
    response = client.post(
        "/theme", data={"theme": "dark"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 400
    assert "forum_theme" not in response.headers.get("Set-Cookie", "")
    # No Origin, Referer or Sec-Fetch-Site at all: refused too.
    response = client.post("/theme", data={"theme": "dark"})
    assert response.status_code == 400
    assert "forum_theme" not in response.headers.get("Set-Cookie", "")


@pytest.mark.parametrize("value", ["purple", "", "DARKER", "x" * 500])
def test_an_unknown_scheme_goes_back_with_a_flash_and_sets_nothing(client, value):
    """A value the menu does not offer is no bare 400: back to the page, told why."""
    response = client.post("/theme", data={"theme": value, "next": "/search"}, headers=ORIGIN)
    assert response.status_code == 302 and response.headers["Location"].endswith("/search")
    assert "forum_theme" not in response.headers.get("Set-Cookie", "")
    page = client.get("/search").get_data(as_text=True)
    assert "Choose Light, Dark or System." in page and "Bad request" not in page
    assert drawn_in(page) == ("system", "light dark")


@pytest.mark.parametrize(
    "outside", ["//evil.example", "https://evil.example/", "/\\evil.example", "/%2F/evil.example"]
)
@pytest.mark.parametrize("value", ["sepia", "dark"])
def test_the_colour_switch_goes_back_only_within_the_forum(client, outside, value):
    """Whether the scheme is one the switch offers or not, a `next` outside the forum (a
    scheme-relative or absolute address, a backslash or an encoded slash) goes to the front
    page, never there; an unknown value is still told on it."""
    response = client.post("/theme", data={"theme": value, "next": outside}, headers=ORIGIN)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "evil" not in response.headers["Location"]
    page = client.get("/").get_data(as_text=True)
    if value == "sepia":
        assert "Choose Light, Dark or System." in page
        assert drawn_in(page) == ("system", "light dark")
    else:
        assert drawn_in(page) == ("dark", "dark")


@pytest.mark.parametrize(
    ("reader", "said"),
    [("de", "Wähle Hell, Dunkel oder System."), ("es", "Elige Claro, Oscuro o Sistema.")],
)
def test_an_unknown_scheme_is_told_in_the_readers_language(client, reader, said):
    from forum import i18n

    client.set_cookie(i18n.LANGUAGE_COOKIE, reader)
    response = client.post("/theme", data={"theme": "sepia"}, headers=ORIGIN, follow_redirects=True)
    assert response.status_code == 200 and said in response.get_data(as_text=True)


def test_a_member_switch_needs_the_form_token_and_is_kept_on_the_account(client, f):
    member = f.user("greta")
    client.login("greta")
    refused = client.post("/theme", data={"theme": "dark"}, headers=ORIGIN)
    assert refused.status_code == 400
    assert stored(member) is None
    response = client.form("/theme", {"theme": "dark", "next": "/settings"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/settings")
    assert stored(member) == "dark"
    page = client.get("/").get_data(as_text=True)
    assert drawn_in(page) == ("dark", "dark")
    assert 'name="csrf_token"' in menu(page)
    # The setting beats another browser's cookie.
    other = client.application.test_client()
    other.set_cookie(theme.THEME_COOKIE, "light")
    other.login("greta")
    assert drawn_in(other.get("/").get_data(as_text=True)) == ("dark", "dark")


def test_a_members_bad_value_stores_nothing(client, f):
    member = f.user("hugo")
    services.set_theme(member, "light")
    client.login("hugo")
    response = client.form("/theme", {"theme": "neon", "next": "/settings"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/settings")
    assert "Choose Light, Dark or System." in client.get("/settings").get_data(as_text=True)
    assert stored(member) == "light"


def test_a_member_without_a_choice_keeps_the_guest_cookie(client, f):
    f.user("ines")
    client.set_cookie(theme.THEME_COOKIE, "dark")
    client.login("ines")
    assert drawn_in(client.get("/").get_data(as_text=True)) == ("dark", "dark")


def _profile(theme_value: str, signature: str = "") -> dict[str, str]:
    return {
        "action": "profile",
        "profile-signature": signature,
        "profile-bio": "",
        "profile-timezone": "UTC",
        "profile-language": "",
        "profile-theme": theme_value,
    }


def test_a_member_picks_the_colours_in_settings(client, f):
    member = f.user("pilar")
    client.login("pilar")
    page = client.get("/settings").get_data(as_text=True)
    assert re.search(r'<select[^>]*name="profile-theme"', page)
    assert re.search(r'<option selected value="system">|<option value="system" selected>', page)
    response = client.form("/settings", _profile("dark"))
    assert response.status_code == 302
    assert stored(member) == "dark"
    page = client.get("/settings").get_data(as_text=True)
    assert drawn_in(page) == ("dark", "dark")
    assert re.search(r'<option selected value="dark">|<option value="dark" selected>', page)


def test_colours_and_language_chosen_in_settings_stay_after_logging_out(client, f):
    from forum import i18n

    f.user("rosa")
    client.login("rosa")
    response = client.form("/settings", {**_profile("dark"), "profile-language": "es"})
    assert response.status_code == 302
    client.logout()
    page = client.get("/").get_data(as_text=True)
    assert drawn_in(page) == ("dark", "dark")
    assert '<html lang="es"' in page
    # "Automatic" again: the language cookie goes, and the browser's language decides.
    client.login("rosa")
    client.form("/settings", _profile("light"))
    client.logout()
    assert client.get_cookie(i18n.LANGUAGE_COOKIE) is None
    page = client.get("/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert drawn_in(page) == ("light", "light") and '<html lang="de"' in page


def test_a_bad_value_in_settings_keeps_the_form_and_stores_nothing(client, f):
    member = f.user("quim")
    client.login("quim")
    response = client.form("/settings", _profile("sepia", signature="A new line"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "A new line" in page  # the form keeps what was typed
    assert "Not a valid choice" in page
    again = db.session.get(User, member.id)
    assert again.theme is None and again.signature == ""


def test_the_service_refuses_an_unknown_scheme(f):
    member = f.user("rosa")
    with pytest.raises(Invalid) as refused:
        services.set_theme(member, "sepia")
    assert refused.value.field == "theme"
    assert stored(member) is None
    with pytest.raises(Invalid):
        services.update_profile(member, signature="changed", bio="", theme="sepia")
    db.session.expire_all()
    assert db.session.get(User, member.id).signature == ""
    services.set_theme(member, " Dark ")
    assert stored(member) == "dark"


def test_the_switch_is_translated(client):
    client.set_cookie("forum_lang", "de")
    switch = menu(client.get("/").get_data(as_text=True))
    assert "Farben:" in switch and "Dunkel" in switch
    client.set_cookie("forum_lang", "es")
    switch = menu(client.get("/").get_data(as_text=True))
    assert "Colores:" in switch and "Oscuro" in switch


# --- the guest page cache ---------------------------------------------------------------------
@pytest.mark.config(PAGE_CACHE_SECONDS=30)
def test_the_page_cache_keeps_each_guests_colours_apart(app, f):
    ada = f.user("ada")
    sig = f.sig("lounge", name="The Lounge", members=[ada])
    topic = f.topic(ada, sig, "Cached topic", "The very first words.")
    plain, dark, light = app.test_client(), app.test_client(), app.test_client()
    dark.set_cookie(theme.THEME_COOKIE, "dark")
    light.set_cookie(theme.THEME_COOKIE, "light")
    for path in ("/", "/s/lounge/", f"/t/{topic.id}"):
        first = plain.get(path)
        assert first.headers["X-Page-Cache"] == "miss"
        assert drawn_in(first.get_data(as_text=True))[0] == "system"
        # Another guest's choice is never served the plain page, nor the plain guest theirs.
        for client, code in ((dark, "dark"), (light, "light")):
            response = client.get(path)
            assert response.headers["X-Page-Cache"] == "miss", (path, code)
            assert drawn_in(response.get_data(as_text=True))[0] == code
        # And each choice is cached in turn: a guest with a cookie keeps the cache.
        for client, code in ((plain, "system"), (dark, "dark"), (light, "light")):
            response = client.get(path)
            assert response.headers["X-Page-Cache"] == "hit", (path, code)
            assert drawn_in(response.get_data(as_text=True))[0] == code


def test_a_page_says_it_varies_by_cookie(client: Any):
    # Caches between the forum and the reader keep the schemes apart (the cookie carries it).
    assert "Cookie" in client.get("/").headers["Vary"]
