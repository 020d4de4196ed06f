"""German and Spanish as a native speaker writes them, where one English string meant two
things or one thing was said two ways: a join date against a join time ago, "in the last N
days", a post's number ("Nr. 2", "n.º 2"), and the forms' one message for a field left empty."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .test_i18n_pages import _catalog


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def test_a_join_date_and_a_join_time_ago_are_two_strings(app, client, f) -> None:
    """ "joined %(when)s" said both "joined 3 days ago" (the queue, a SIG's members) and the
    sysop's "joined 07.12.2026, 20:47": German read "beigetreten 07.12.2026, 20:47" there. The
    date has its own string, with "am … Uhr" (Spanish "el …"); the time ago keeps "vor …"."""
    from forum.i18n import force_locale, gettext

    f.sysop("root")
    f.user("ada")
    client.login("root")

    def joined(language: str) -> str:
        page = html(client.get("/mod/u/ada", headers={"Accept-Language": language}))
        found = re.search(r"(beigetreten|se unió)[^·<]*", page)
        assert found is not None
        return found.group(0).strip()

    assert re.fullmatch(r"beigetreten am \d\d\.\d\d\.\d{4}, \d\d:\d\d Uhr", joined("de"))
    assert re.fullmatch(r"se unió el \d{1,2} \w+ \d{4}, \d{1,2}:\d\d", joined("es"))
    with app.test_request_context(), force_locale("de"):
        assert gettext("joined %(when)s", when="vor 3 Tagen") == "beigetreten vor 3 Tagen"


def test_flags_upheld_in_the_last_days_read_as_a_window(app, client, f) -> None:
    """ "Bestätigte Meldungen seit 30 Tagen" said "for 30 days": the trust card counts flags
    in the last 30 days ("in den letzten 30 Tagen", as Spanish "en los últimos 30 días")."""
    f.sysop("root")
    f.user("ada")
    client.login("root")
    german = html(client.get("/mod/u/ada", headers={"Accept-Language": "de"}))
    assert re.search(r"Bestätigte Meldungen in den letzten \d+ Tagen<", german)
    assert re.search(r'<span class="muted">in den letzten \d+ Tagen</span>', german)
    spanish = html(client.get("/mod/u/ada", headers={"Accept-Language": "es"}))
    assert re.search(r"Denuncias confirmadas en los últimos \d+ días<", spanish)
    catalog = _catalog("de")
    assert {m: t for m, t in catalog.items() if re.search(r"\bseit %\(num\)s", t)} == {}


@pytest.mark.parametrize(("language", "number"), [("de", "Nr. %("), ("es", "n.º %(")])
def test_every_post_number_reads_one_way(language, number) -> None:
    """German said "Beitrag #2 melden" and "Beitrag Nr. 2", Spanish "mensaje #2" and "mensaje
    n.º 2": a post's (or reply's) number is "Nr. 2" / "n.º 2" in every string."""
    numbering = re.compile(r"\b(post|reply|replies|answer) \(?#%\(", re.IGNORECASE)
    about = {m: t for m, t in _catalog(language).items() if numbering.search(m)}
    assert len(about) >= 10  # the pattern finds the strings it is meant to
    assert {m: t for m, t in about.items() if "#" in t or number not in t} == {}


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "Fill in this field."),
        ("de", "Bitte fülle dieses Feld aus."),
        ("es", "Rellena este campo."),
    ],
)
def test_a_field_left_empty_says_the_forums_words(client, f, language, said) -> None:
    """WTForms' own message read stiffly in German ("Dieses Feld wird benötigt."): a field left
    empty says the forum's "Fill in this field." in the reader's language."""
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("club", members=[ada]), "A topic")
    client.login("ada")
    response = client.form(
        f"/t/{topic.id}/reply", {"body": " "}, headers={"Accept-Language": language}
    )
    assert response.status_code == 400
    assert said in html(response)


def test_every_forms_required_check_is_the_forums(app) -> None:
    """One way to make a field required: forum.i18n.required, with the forum's words or the
    field's own ("Choose a reason."), never WTForms' default message; and no form writes
    DataRequired or InputRequired itself."""
    from pathlib import Path

    from wtforms.validators import DataRequired, InputRequired

    from .test_field_limits import _every_form

    default, checks = [], 0
    with app.test_request_context():
        for package, name, form in _every_form():
            for field in form:
                for check in field.validators:
                    if isinstance(check, (DataRequired, InputRequired)):
                        checks += 1
                        if check.message is None:
                            default.append(f"{package}.{name}.{field.name}")
    assert checks > 50  # the walk finds the forms' checks
    assert not default, f"use forum.i18n.required for: {default}"
    forum = Path(__file__).parent.parent / "forum"
    written = [
        str(path.relative_to(forum))
        for path in forum.rglob("*.py")
        if path.name != "i18n.py"
        and re.search(r"\b(DataRequired|InputRequired)\b", path.read_text())
    ]
    assert written == []


@pytest.mark.parametrize(
    ("language", "said"),
    [("de", "Mit %(emoji)s reagiert: %(names)s"), ("es", "Reacciones con %(emoji)s: %(names)s")],
)
def test_who_reacted_reads_right_for_one_name_or_many(client, language, said) -> None:
    """The reactions' tooltip lists up to ten names ("ada, bob und 3 weitere"): German said
    "… hat mit 👍 reagiert" and Spanish "… reaccionó con 👍", a verb for one name only."""
    catalog = client.get(f"/i18n/{language}.json").get_json()
    assert catalog["who_reacted_with"] == said


def test_german_dates_and_times_take_am_bis_zum_and_uhr() -> None:
    """A date and time (`localtime`) in running text: "am … Uhr", "bis zum … Uhr". A ban's
    appeal said "Dein Konto wurde am 07.12.2026, 20:47 gesperrt", a concern "Antwort fällig
    bis: 07.12.2026, 20:47" (Spanish "Responder antes de: …")."""
    german, spanish = _catalog("de"), _catalog("es")
    assert (
        "am %(date)s Uhr gesperrt"
        in german["Your account was banned on %(date)s, until a sysop lifts the ban."]
    )
    assert german["Answer within: %(when)s"] == "Antwort fällig bis zum %(when)s Uhr"
    assert spanish["Answer within: %(when)s"] == "Responder antes del %(when)s"
