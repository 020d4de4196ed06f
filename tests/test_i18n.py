"""Languages: negotiation, the language menu and setting, dates, relative times, numbers and
plurals in English, German and Spanish, the scripts' catalog, content's own language."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale, refresh
from flask_wtf import FlaskForm
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header
from wtforms import StringField
from wtforms.validators import DataRequired

from forum import i18n
from forum.accounts.models import User
from forum.extensions import db

ORIGIN = {"Origin": "http://localhost"}


def accept(header: str) -> LanguageAccept:
    return parse_accept_header(header, LanguageAccept)


def html_lang(page: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', page)
    assert match, page[:200]
    return match.group(1)


# --- negotiation: member setting > cookie > Accept-Language > default ----------------------
@pytest.mark.parametrize(
    ("member", "cookie", "header", "expected"),
    [
        ("es", "de", "de-DE,de;q=0.9", "es"),  # the member's setting wins
        (None, "de", "es-ES,es;q=0.9", "de"),  # then the menu's cookie
        (None, None, "es-MX,es;q=0.9,en;q=0.5", "es"),  # then the browser
        (None, None, "fr-FR,de;q=0.7,en;q=0.3", "de"),  # its best language the forum has
        (None, None, "fr-FR,it;q=0.5", "en"),  # none of them: the default
        (None, None, "", "en"),
        (None, "xx", "de", "de"),  # a cookie naming no language is ignored
        ("de-AT", None, "es", "de"),  # a region counts as its language
    ],
)
def test_negotiation_order(member, cookie, header, expected):
    assert i18n.negotiate(member, cookie, accept(header)) == expected


def test_a_guest_gets_the_browsers_language(client):
    page = client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert html_lang(page.get_data(as_text=True)) == "de"
    page = client.get("/", headers={"Accept-Language": "es-419,es;q=0.9"})
    assert html_lang(page.get_data(as_text=True)) == "es"
    page = client.get("/", headers={"Accept-Language": "fr"})
    assert html_lang(page.get_data(as_text=True)) == "en"


def test_the_language_menu_switches_a_guest_with_one_post_and_a_cookie(client):
    response = client.post("/language", data={"language": "es", "next": "/search"}, headers=ORIGIN)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/search")
    cookie = response.headers["Set-Cookie"]
    assert "forum_lang=es" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # Remembered: the cookie beats the browser's Accept-Language on later pages.
    page = client.get("/", headers={"Accept-Language": "de"})
    assert html_lang(page.get_data(as_text=True)) == "es"


def test_the_language_menu_is_a_form_on_every_page_without_javascript(client):
    page = client.get("/").get_data(as_text=True)
    menu = re.search(r'<form method="post" action="/language".*?</form>', page, re.S)
    assert menu, "no language menu"
    for code, name in i18n.LANGUAGES.items():
        assert f'name="language" value="{code}" lang="{code}"' in menu.group(0)
        assert name in menu.group(0)


def test_a_cross_site_language_switch_is_refused(client):
    response = client.post(
        "/language", data={"language": "de"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 400
    assert "forum_lang" not in response.headers.get("Set-Cookie", "")
    # No Origin, Referer or Sec-Fetch-Site at all: refused too.
    assert client.post("/language", data={"language": "de"}).status_code == 400


@pytest.mark.parametrize(
    ("reader", "said"),
    [
        ("de", "Diese Sprache gibt es hier nicht. Wähle eine dieser Sprachen: "),
        ("es", "Ese idioma no está disponible. Elige uno de estos idiomas: "),
    ],
)
def test_an_unknown_language_goes_back_with_a_flash_in_the_readers_language(client, reader, said):
    """A value the menu does not offer (a stale page, a hand-made request) is no bare 400: back
    to the page, told in the language the reader reads, and nothing changed."""
    client.set_cookie(i18n.LANGUAGE_COOKIE, reader)
    response = client.post("/language", data={"language": "fr", "next": "/search"}, headers=ORIGIN)
    assert response.status_code == 302 and response.headers["Location"].endswith("/search")
    assert "forum_lang" not in response.headers.get("Set-Cookie", "")
    page = client.get("/search").get_data(as_text=True)
    assert said + "English, Deutsch, Español." in page and html_lang(page) == reader
    assert client.get_cookie(i18n.LANGUAGE_COOKIE).value == reader
    # The Origin rule stands: a cross-site unknown value is refused as before, no flash.
    refused = client.post("/language", data={"language": "fr"}, headers={"Origin": "https://x.io"})
    assert refused.status_code == 400


OUTSIDE = ["//evil.example", "https://evil.example/", "/\\evil.example", "/%2F/evil.example"]


@pytest.mark.parametrize("outside", OUTSIDE)
@pytest.mark.parametrize("value", ["fr", "de"])
def test_the_language_switch_goes_back_only_within_the_forum(client, outside, value):
    """Whether the language is one the menu offers or not, a `next` outside the forum (a
    scheme-relative or absolute address, a backslash or an encoded slash) goes to the front
    page, never there; an unknown value is still told on it."""
    response = client.post("/language", data={"language": value, "next": outside}, headers=ORIGIN)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "evil" not in response.headers["Location"]
    page = client.get("/").get_data(as_text=True)
    if value == "fr":
        assert "That language is not offered here." in page
        assert "forum_lang" not in response.headers.get("Set-Cookie", "")
    else:
        assert html_lang(page) == "de"


def test_a_members_unknown_language_goes_back_and_keeps_their_choice(client, f):
    member = f.user("olga")
    member.language = "es"
    db.session.commit()
    client.login("olga")
    response = client.form("/language", {"language": "klingon", "next": "/settings"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/settings")
    page = client.get("/settings").get_data(as_text=True)
    assert "Ese idioma no está disponible." in page
    assert db.session.get(User, member.id).language == "es"


def test_a_member_switch_needs_the_form_token_and_is_kept_on_the_account(client, f):
    member = f.user("greta")
    client.login("greta")
    refused = client.post("/language", data={"language": "de"}, headers=ORIGIN)
    assert refused.status_code == 400
    response = client.form("/language", {"language": "de", "next": "/settings"})
    assert response.status_code == 302
    assert db.session.get(User, member.id).language == "de"
    # The setting beats the browser, in any browser the member logs in with.
    other = client.application.test_client()
    other.login("greta")
    page = other.get("/", headers={"Accept-Language": "es"})
    assert html_lang(page.get_data(as_text=True)) == "de"


def test_wtforms_messages_in_the_readers_language_from_catalogs_read_once(client, f, monkeypatch):
    """A form's messages follow the reader's language (the forum's "Fill in this field."), and
    WTForms' catalogs (its words for what the forum does not say itself) are read from disk once
    per language and process, not on each request with a form."""
    from babel.support import Translations

    ada = f.user("ada")
    topic = f.topic(ada, f.sig("club", members=[ada]), "A topic")
    client.login("ada")
    i18n._wtforms_catalog.cache_clear()
    loaded: list[str] = []
    load = Translations.load.__func__  # type: ignore[attr-defined]

    def counted(cls: Any, dirname: Any = None, locales: Any = None, domain: Any = None) -> Any:
        if domain == "wtforms":
            loaded.append(str(locales[0]))
        return load(cls, dirname, locales, domain)

    monkeypatch.setattr(Translations, "load", classmethod(counted))
    for lang, message in [
        ("de", "Bitte fülle dieses Feld aus."),
        ("es", "Rellena este campo."),
        ("de", "Bitte fülle dieses Feld aus."),
        ("es", "Rellena este campo."),
    ]:
        response = client.form(
            f"/t/{topic.id}/reply", {"body": ""}, headers={"Accept-Language": lang}
        )
        assert response.status_code == 400
        assert message in response.get_data(as_text=True), lang
    assert sorted(loaded) == ["de", "es"]


def test_a_member_picks_the_language_in_settings(client, f):
    member = f.user("pilar")
    client.login("pilar")
    response = client.form(
        "/settings",
        {
            "action": "profile",
            "profile-signature": "",
            "profile-bio": "",
            "profile-timezone": "Europe/Madrid",
            "profile-language": "es",
        },
    )
    assert response.status_code == 302
    assert db.session.get(User, member.id).language == "es"
    page = client.get("/settings", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert html_lang(page) == "es"
    assert re.search(r'<option selected value="es">|<option value="es" selected>', page)
    # Back to "as my browser asks".
    client.form(
        "/settings",
        {
            "action": "profile",
            "profile-timezone": "Europe/Madrid",
            "profile-language": "",
        },
    )
    assert db.session.get(User, member.id).language is None
    page = client.get("/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert html_lang(page) == "de"


def test_switching_the_language_in_settings_says_it_is_saved_in_the_new_language(client, f):
    # A Spanish page sent with "Deutsch" chosen came back German with "Tu perfil se ha
    # guardado." on it: the flash was translated before the switch.
    f.user("pilar")
    client.login("pilar")
    response = client.form(
        "/settings",
        {"action": "profile", "profile-timezone": "Europe/Berlin", "profile-language": "de"},
        headers={"Accept-Language": "es"},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert html_lang(page) == "de"
    assert "Dein Profil ist gespeichert." in page
    assert "Tu perfil se ha guardado." not in page


def test_settings_refuse_a_language_the_forum_does_not_have(client, f):
    f.user("pilar")
    client.login("pilar")
    response = client.form(
        "/settings", {"action": "profile", "profile-timezone": "UTC", "profile-language": "fr"}
    )
    assert response.status_code == 400


# --- time zones ---------------------------------------------------------------------------
def test_a_members_time_zone_is_taken_from_the_browser_once(client, f):
    member = f.user("greta")
    client.login("greta")
    page = client.get("/").get_data(as_text=True)
    assert 'data-detect-timezone="/settings/timezone"' in page
    token = client.csrf_token()
    answer = client.post(
        "/settings/timezone", data={"timezone": "Europe/Berlin"}, headers={"X-CSRFToken": token}
    )
    assert answer.status_code == 200 and answer.get_json()["taken"] is True
    # Once only: a second browser in another zone changes nothing; settings still can.
    again = client.post(
        "/settings/timezone", data={"timezone": "America/Lima"}, headers={"X-CSRFToken": token}
    )
    assert again.get_json() == {"timezone": "Europe/Berlin", "taken": False}
    assert db.session.get(User, member.id).timezone == "Europe/Berlin"
    assert "data-detect-timezone" not in client.get("/").get_data(as_text=True)


def test_an_unknown_browser_time_zone_is_refused(client, f):
    f.user("greta")
    client.login("greta")
    token = client.csrf_token()
    answer = client.post(
        "/settings/timezone", data={"timezone": "Mars/Olympus"}, headers={"X-CSRFToken": token}
    )
    assert answer.status_code == 400


def test_a_guests_time_zone_cookie_sets_the_zone(app):
    with app.test_request_context("/", headers={"Cookie": "forum_tz=America/Mexico_City"}):
        assert i18n.select_timezone() == "America/Mexico_City"
    with app.test_request_context("/", headers={"Cookie": "forum_tz=Nowhere/Else"}):
        assert i18n.select_timezone() == "UTC"
    with app.test_request_context("/"):
        assert i18n.select_timezone() == "UTC"
    # As the page's script writes it, URL-encoded: every guest read UTC times.
    with app.test_request_context("/", headers={"Cookie": "forum_tz=Europe%2FBerlin"}):
        assert i18n.select_timezone() == "Europe/Berlin"
    with app.test_request_context("/", headers={"Cookie": "forum_tz=America%2FArgentina%2FSalta"}):
        assert i18n.select_timezone() == "America/Argentina/Salta"


# --- dates, relative times, numbers -------------------------------------------------------
MOMENT = datetime(2026, 3, 12, 13, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lang", "zone", "expected"),
    [
        ("en", "UTC", "Mar 12, 2026, 1:05\u202fPM"),
        ("de", "Europe/Berlin", "12.03.2026, 14:05"),
        ("es", "America/Mexico_City", "12 mar 2026, 7:05"),
    ],
)
def test_dates_in_the_readers_zone_and_language(app, lang, zone, expected):
    with app.test_request_context("/", headers={"Cookie": f"forum_lang={lang}; forum_tz={zone}"}):
        assert i18n.localtime(MOMENT) == expected


@pytest.mark.parametrize("lang", ["en", "de", "es"])
def test_dates_read_as_babel_writes_them(app, lang):
    """i18n.localtime formats the medium date and the short time (minutes, no seconds) with one
    pattern, not Babel's two: the same text, in every zone, across a change to summer time and
    for a naive moment."""
    from zoneinfo import ZoneInfo

    from babel.dates import format_date, format_time, get_datetime_format

    def babel_format(moment, tzinfo, locale):
        # Babel's format_datetime, with the short time in place of the medium one.
        shape = str(get_datetime_format("medium", locale=locale)).replace("'", "")
        time = format_time(moment, "short", tzinfo=tzinfo, locale=locale)
        day = format_date(moment.astimezone(tzinfo), "medium", locale=locale)
        return shape.replace("{0}", time).replace("{1}", day)

    moments = [MOMENT + timedelta(days=d, hours=h) for d in range(0, 400, 37) for h in (0, 11)]
    moments += [datetime(2026, 3, 29, 0, 59, tzinfo=UTC), datetime(2026, 3, 29, 1, 1, tzinfo=UTC)]
    for zone in ("UTC", "Europe/Berlin", "America/Mexico_City", "Asia/Kolkata"):
        cookie = f"forum_lang={lang}; forum_tz={zone}"
        with app.test_request_context("/", headers={"Cookie": cookie}):
            refresh()  # the zone and language are kept on `g`, which the app context shares
            for moment in moments:
                expected = babel_format(moment, ZoneInfo(zone), lang)
                assert i18n.localtime(moment) == expected
            naive = MOMENT.replace(tzinfo=None)
            assert i18n.localtime(naive) == i18n.localtime(MOMENT)


@pytest.mark.parametrize("lang", ["en", "de", "es"])
def test_small_numbers_read_as_babel_writes_them(app, lang):
    from babel.numbers import format_decimal

    with app.test_request_context("/"), force_locale(lang):
        for value in (*range(0, 1001, 7), 999, 1000, 1234, -5, 2.5, None):
            assert i18n.number(value) == format_decimal(value or 0, locale=lang)


@pytest.mark.parametrize(
    ("lang", "delta", "expected"),
    [
        ("en", timedelta(hours=2), "2 hours ago"),
        ("de", timedelta(hours=2), "vor 2 Stunden"),
        ("es", timedelta(hours=2), "hace 2 horas"),
        ("en", timedelta(minutes=1), "1 minute ago"),
        ("de", timedelta(minutes=1), "vor 1 Minute"),
        ("es", timedelta(days=3), "hace 3 días"),
        ("de", timedelta(days=1), "vor 1 Tag"),
    ],
)
def test_relative_times(app, lang, delta, expected):
    with app.test_request_context("/"), force_locale(lang):
        assert i18n.ago(MOMENT - delta, now=MOMENT) == expected


def _ago_spread() -> list[timedelta]:
    """Deltas around every unit's switch (0.85 of it), half-way roundings, both directions."""
    units = [60, 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400]
    seconds = {44, 45, 46, 50, 59, 60, 89, 90, 91, 150, 151}
    for unit in units:
        for factor in (0.8499, 0.85, 0.8501, 0.99, 1, 1.49, 1.5, 1.51, 2.5, 3.5, 7, 11.5, 29, 59):
            seconds.add(int(unit * factor))
    seconds |= {int(1.37**n) for n in range(12, 60)}
    spread = [timedelta(seconds=s) for s in sorted(seconds)]
    spread += [timedelta(seconds=s, microseconds=500_000) for s in (45, 89, 5399, 5400)]
    return spread + [-delta for delta in spread]


@pytest.mark.parametrize("lang", ["en", "de", "es"])
def test_relative_times_read_as_babel_writes_them(app, lang):
    """i18n.ago picks the unit and count itself and keeps the words per count: the same text
    as Babel's format_timedelta, past and future, at every unit's edges."""
    from babel.dates import format_timedelta as babel_timedelta

    with app.test_request_context("/"), force_locale(lang):
        for delta in _ago_spread():
            if abs(delta.total_seconds()) < 45:
                continue
            expected = babel_timedelta(
                -delta, granularity="minute", threshold=0.85, add_direction=True, locale=lang
            )
            assert i18n.ago(MOMENT - delta, now=MOMENT) == expected, delta


def test_templates_translate_in_the_locale_of_the_moment(app):
    """Templates look the catalog up once per request, yet follow force_locale; values are
    escaped in HTML, plurals and {% trans %} as Flask-Babel's newstyle gettext does them."""
    from flask import render_template_string

    source = (
        "{{ _('Announcements') }}|{{ _('Draft not saved: %(error)s', error='<b>') }}|"
        "{% trans num=3 %}{{ num }} new reply{% pluralize %}{{ num }} new replies{% endtrans %}|"
        "{{ ngettext('%(num)d new reply', '%(num)d new replies', 1) }}"
    )
    with app.test_request_context("/"):
        assert render_template_string(source) == (
            "Announcements|Draft not saved: &lt;b&gt;|3 new replies|1 new reply"
        )
        with force_locale("de"):
            assert render_template_string(source).startswith("Ankündigungen|")
            assert i18n.gettext("Announcements") == "Ankündigungen"
        with force_locale("es"):
            assert render_template_string(source).startswith("Anuncios|")
        assert render_template_string(source).startswith("Announcements|")
        assert i18n.language() == "en"


def test_a_moment_ago_is_just_now_in_each_language(app):
    expected = {"en": "just now", "de": "gerade eben", "es": "justo ahora"}
    with app.test_request_context("/"):
        for lang, text in expected.items():
            with force_locale(lang):
                assert i18n.ago(MOMENT - timedelta(seconds=10), now=MOMENT) == text
                assert i18n.ago(None) == {"en": "never", "de": "nie", "es": "nunca"}[lang]


@pytest.mark.parametrize(
    ("lang", "expected"), [("en", "12,345"), ("de", "12.345"), ("es", "12.345")]
)
def test_numbers(app, lang, expected):
    with app.test_request_context("/"), force_locale(lang):
        assert i18n.number(12345) == expected


@pytest.mark.parametrize(
    ("lang", "bio", "hours"),
    [
        ("de", "Der Text über dich darf höchstens 5.000 Zeichen lang sein.", "bis 8.760 ein."),
        ("es", "Tu presentación puede tener como máximo 5.000 caracteres.", "entre 1 y 8.760."),
    ],
)
def test_a_limit_in_a_refusal_is_written_as_the_readers_language_writes_numbers(
    client, f, lang, bio, hours
):
    """A German or Spanish reader is told a limit in their own digits, not in "5,000"."""
    member = f.user("pilar")
    member.language = lang
    sig = f.sig("retro", sysops=[member])
    db.session.commit()
    client.login("pilar")
    response = client.form(
        "/settings",
        {
            "action": "profile",
            "profile-bio": "x" * 5001,
            "profile-timezone": "UTC",
            "profile-language": lang,
        },
    )
    assert response.status_code == 400 and bio in response.get_data(as_text=True)
    response = client.form(
        f"/s/{sig.slug}/care/deadlines",
        {"response_hours": "9000", "escalate_hours": "9000"},
        follow_redirects=True,
    )
    assert hours in response.get_data(as_text=True)


def test_the_time_element_shows_the_relative_time_with_the_absolute_one_in_its_title(client, f):
    sysop = f.sysop()
    sig = f.sig("stammtisch", language="de", name="Stammtisch")
    f.join(sysop, sig)
    f.topic(sysop, sig, "Hallo zusammen")
    client.set_cookie("forum_lang", "de")
    client.set_cookie("forum_tz", "Europe/Berlin")
    page = client.get("/s/stammtisch/").get_data(as_text=True)
    match = re.search(r'<time datetime="[^"]+" title="([^"]+)">([^<]+)</time>', page)
    assert match, "no time element"
    title, text = match.groups()
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4}, \d\d:\d\d", title), title  # minutes, no seconds
    assert text == "gerade eben"


# --- the scripts' catalog -----------------------------------------------------------------
def test_the_scripts_get_a_json_catalog_per_language(client):
    page = client.get("/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    source = re.search(r'data-i18n="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert source.startswith("/i18n/de.json?v=")
    answer = client.get(source)
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    catalog = json.loads(answer.get_data(as_text=True))
    english = client.get("/i18n/en.json").get_json()
    assert set(catalog) == set(english)
    assert english["new_replies"] == {
        "one": "%(num)d new reply",
        "other": "%(num)d new replies",
    }
    assert client.get("/i18n/xx.json").status_code == 404


def test_no_inline_script_on_any_page(client):
    page = client.get("/").get_data(as_text=True)
    for tag in re.findall(r"<script[^>]*>", page):
        assert "src=" in tag, tag


# --- content keeps its language -----------------------------------------------------------
def test_content_lang_marks_only_other_languages(app):
    with app.test_request_context("/"):
        with force_locale("en"):
            assert i18n.content_lang("de") == ' lang="de"'
            assert i18n.content_lang("en") == ""
            assert i18n.content_lang(None) == ""
        with force_locale("de"):
            assert i18n.content_lang("de") == ""
            assert i18n.content_lang("es") == ' lang="es"'


def test_the_guest_page_cache_keeps_a_copy_per_language(client, f, app):
    app.config["PAGE_CACHE_SECONDS"] = 30
    from forum import pagecache

    pagecache.CACHE.set(app, pagecache.PageCache(30, 64, 2**20))
    f.sig("retro")
    english = client.get("/", headers={"Accept-Language": "en"})
    german = client.get("/", headers={"Accept-Language": "de"})
    assert html_lang(english.get_data(as_text=True)) == "en"
    assert html_lang(german.get_data(as_text=True)) == "de"
    again = client.get("/", headers={"Accept-Language": "de"})
    assert again.headers["X-Page-Cache"] == "hit"
    assert html_lang(again.get_data(as_text=True)) == "de"
    assert "Accept-Language" in again.headers["Vary"]


# --- search: "did you mean" in the reader's language ---------------------------------------
@pytest.fixture
def search_index(app, tmp_path):
    from forum.search import indexer
    from forum.search.backend import WhooshBackend

    app.config["INDEX_DIR"] = str(tmp_path / "index")
    indexer.replace_backend(app, WhooshBackend(app.config["INDEX_DIR"]))
    yield indexer.get_backend(app)
    indexer.get_backend(app).close()


@pytest.mark.parametrize(
    ("lang", "expected", "word"),
    [("en", "house", "Did you mean"), ("de", "hosen", "Meintest du"), ("es", "house", "Quisiste")],
)
def test_did_you_mean_prefers_the_readers_language(client, f, search_index, lang, expected, word):
    """A typo near a word of each language: the English one is in more posts, but a German
    reader most likely meant the German word."""
    ada = f.user("ada")
    retro = f.sig("retro", members=[ada])
    stammtisch = f.sig("stammtisch", language="de", members=[ada])
    for n in range(3):
        f.topic(ada, retro, f"Topic {n}", "My house has a modem in every room.")
    f.topic(ada, stammtisch, "Kleidung", "Meine Hosen sind aus Cord.")
    client.set_cookie("forum_lang", lang)
    html = client.get("/search?q=hosue").get_data(as_text=True)
    assert word in html
    assert f"/search?q={expected}&amp;" in html, html[html.find("did-you-mean") - 50 :][:400]


# --- checks from the review of the sixth session's performance work ---------------------
# WTForms' messages (i18n.WTFormsWords) follow force_locale in a request, and work outside one.
class _Form(FlaskForm):
    class Meta:
        csrf = False

    name = StringField("Name", validators=[DataRequired()])


def _message(form: _Form) -> str:
    assert not form.validate()
    return form.name.errors[0]


def test_wtforms_messages_follow_force_locale_in_a_request_and_work_outside_one(
    app: Flask,
) -> None:
    with app.test_request_context("/", headers={"Accept-Language": "de"}, method="POST"):
        app.preprocess_request()  # the before_request hooks (i18n's WTFormsWords)
        assert _message(_Form()) == "Dieses Feld wird benötigt."
        with force_locale("es"):
            assert _message(_Form()) == "Este campo es obligatorio."
        assert _message(_Form()) == "Dieses Feld wird benötigt."
    with app.app_context():
        assert _message(_Form(formdata=None, data={})) == "This field is required."
