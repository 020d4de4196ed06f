"""Every page in German and Spanish: walk each GET route as a German guest, a German member and a
Spanish sysop, and fail on English words the interface says (a known list)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from forum.accounts import services as accounts
from forum.i18n import LANGUAGES
from forum.moderation import services as moderation
from forum.sigs import services as sigs

# Words and phrases of the English interface that no German or Spanish page may show. (The
# content below is written in German and Spanish, so none of these can come from it.)
ENGLISH = [
    "Reply",
    "Log in",
    "Log out",
    "Register",
    "Search",
    "Notifications",
    "Settings",
    "members only",
    "Members",
    "Topics",
    "Posts",
    "New topic",
    "Mark all read",
    "Mark read",
    "Save",
    "Delete",
    "Edit",
    "Quote",
    "Flag",
    "Previous",
    "Next",
    "someone",
    "Skip to content",
    "Special interest groups",
    "started by",
    "ago",
    "just now",
    "Cancel",
    "Approve",
    "Reject",
    "Console",
    "Pulse",
    "Language:",
    "Last post",
    "Unread",
    "Join this SIG",
    "Leave SIG",
    "Tracked",
    "Announcements",
    "Moderation",
    "Password",
    "Username",
    "Email",
    "Profile",
    "Sessions",
    "Time zone",
    "awaiting approval",
    "Who's online",
    "Online now",
    "Nothing found",
    "mentioned you",
    "replied to you",
    "Not found",
    "You may not",
    "Page",
    "No such",
    "Site-wide",
    "For the sysops of",
]
ENGLISH_RE = re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in ENGLISH) + r")(?![\w-])")
# Text people read in attributes.
TEXT_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "data-confirm", "data-label"}


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        # The language menu names each language in its own language, on purpose.
        if dict(attrs).get("lang") in LANGUAGES and tag == "button":
            return
        for name, value in attrs:
            if name in TEXT_ATTRIBUTES and value:
                self.text.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip() not in LANGUAGES.values():
            self.text.append(data)


def english_in(page: str) -> list[str]:
    parser = _Visible()
    parser.feed(page)
    found = []
    for piece in parser.text:
        for match in ENGLISH_RE.finditer(piece):
            found.append(f"{match.group(1)!r} in {' '.join(piece.split())[:120]!r}")
    return found


@pytest.fixture
def forum_world(app, f) -> dict[str, Any]:
    """A small forum written in German and Spanish, with something on every page."""
    root = f.sysop("wurzel")
    greta = f.user("greta")
    pilar = f.user("pilar")
    accounts.set_language(root, "es")
    accounts.set_language(greta, "de")
    stammtisch = f.sig("stammtisch", language="de", name="Stammtisch", members=[greta, pilar])
    tertulia = f.sig("tertulia", language="es", name="Tertulia", members=[greta, pilar])
    geheim = f.sig("geheim", language="de", name="Geheimbund", visibility="private")
    f.join(root, stammtisch)
    topic = f.topic(greta, stammtisch, "Grüße aus Köln", "Hallo zusammen, wie geht’s?")
    f.reply(pilar, topic, "Hola @greta, ¡saludos desde Sevilla!")
    reply = f.reply(greta, topic, "Danke dir, Pilar.")
    f.topic(pilar, tertulia, "Café y tertulia", "¿Quién viene el jueves?")
    sigs.request_to_join(pilar, geheim.slug, "Hola, ¿puedo entrar?")
    moderation.flag_post(pilar, reply.id, "spam")
    from forum.admin import services as admin

    admin.create_invite(root, "für Hans")
    from forum.messages import services as mail

    conversation = mail.start_conversation(pilar, "greta, wurzel", "Kaffee?", "¿Un café el jueves?")
    mail.reply_to_conversation(greta, conversation.id, "Gern, bis Donnerstag!")
    first = conversation.last_message_id - 1
    mail.report_message(greta, first, "spam")
    mail.ignore_member(greta, "pilar")
    # A webhook with a delivery in its log (written here: nothing is sent from a test).
    from forum.db import transaction
    from forum.webhooks import services as webhooks
    from forum.webhooks.models import WebhookAttempt, WebhookDelivery

    hook = webhooks.create_webhook(
        root, stammtisch.id, "https://93.184.216.34/hook", ["post.created", "member.joined"]
    )
    with transaction() as session:
        delivery = WebhookDelivery(
            webhook_id=hook.id, event="post.created", event_id="e1", payload="{}", attempts=1
        )
        session.add(delivery)
        session.flush()
        session.add(WebhookAttempt(delivery_id=delivery.id, status_code=500, duration_ms=12))

    import io

    from forum.files import library

    # A library with a section, a file and greta's upload that waits for a librarian.
    section = library.create_section(root, stammtisch.id, "Rezepte", "Aus der Küche")
    shelved = library.upload_to_library(
        root,
        stammtisch.id,
        section.id,
        "Apfelkuchen",
        "Mit *Zimt*.",
        "kuchen",
        io.BytesIO(b"Mehl\n"),
        "kuchen.txt",
    )
    library.upload_to_library(
        greta, stammtisch.id, None, "Brezeln", "", "", io.BytesIO(b"Lauge\n"), "brezel.txt"
    )
    from forum.care import services as care

    concern = care.write_to_sysops(greta, stammtisch.id, "Hilfe", "Mein Beitrag ist weg.")
    care.reply(root, concern.id, "Schau in deine Entwürfe.")
    care.add_note(root, concern.id, "Sie hat schon einmal gefragt.")
    care.set_duty(root, stammtisch.id, True)
    page = care.page_sysops(pilar, stammtisch.id, "¿Hay alguien?")
    return {
        "webhook": hook,
        "concern": concern,
        "page": page,
        "topic": topic,
        "post": reply,
        "geheim": geheim,
        "stammtisch": stammtisch,
        "conversation": conversation,
        "message_id": first,
        "file_id": shelved.id,
    }


def _routes(app, world: dict[str, Any]) -> list[str]:
    topic, post = world["topic"], world["post"]
    values = {
        "slug": "stammtisch",
        "topic_id": topic.id,
        "post_id": post.id,
        "username": "greta",
        "sig_id": world["stammtisch"].id,
        "token": "kein-gueltiger-link",
        "conversation_id": world["conversation"].id,
        "message_id": world["message_id"],
        "key": f"reply:{topic.id}",
        "webhook_id": world["webhook"].id,
        "page": 1,
        # Opening a notification: the greeting's own, or another member's (a 404).
        "notification_id": 1,
        "file_id": world["file_id"],
        "number": 1,
        "sha256": "0" * 64,
        "name": "bild.png",
        "size": 64,
        "concern_id": world["concern"].id,
        "page_id": world["page"].id,
        "announcement_id": 1,  # (none: the API's 404, in the reader's language)
    }
    # The API reference shows the OpenAPI document's own English (marked lang="en"); its
    # page's words are checked in tests/test_api_tokens.py.
    skip = {"static", "ops.healthz", "ops.readyz", "js_catalog", "topics.quote", "api.docs"}
    urls = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint in skip or rule.rule.endswith(".csv"):
            continue
        url = rule.rule
        for name in rule.arguments:
            url = re.sub(r"<(?:\w+:)?" + name + ">", str(values[name]), url)
        urls.append(url)
    return urls + ["/s/geheim/requests", "/search?q=gruesse", "/search?q=saludoss", "/t/999999"]


def _walk(client, urls: list[str]) -> list[str]:
    problems = []
    for url in urls:
        response = client.get(url, follow_redirects=True)
        if response.mimetype != "text/html":
            continue
        page = response.get_data(as_text=True)
        lang = re.search(r'<html lang="(\w+)"', page)
        if not lang or lang.group(1) == "en":
            problems.append(f"{url}: the page is in English ({response.status_code})")
            continue
        problems += [f"{url} ({response.status_code}): {hit}" for hit in english_in(page)]
    return problems


@pytest.mark.search  # (the search page is among them)
def test_every_page_in_german_for_a_guest(app, client, forum_world):
    urls = _routes(app, forum_world)
    # A guest's browser asks for German; the pages follow.
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de-DE,de;q=0.9"
    problems = _walk(client, urls)
    assert not problems, "\n".join(problems)


@pytest.mark.search  # (the search page is among them)
def test_every_page_in_german_for_a_member(app, client, forum_world):
    client.login("greta")
    # The member's own setting, whatever the browser asks for.
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-US,en;q=0.9"
    problems = _walk(client, _routes(app, forum_world))
    assert not problems, "\n".join(problems)


@pytest.mark.search  # (the search page is among them)
def test_every_page_in_spanish_for_a_sysop(app, client, forum_world):
    client.login("wurzel")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-US,en;q=0.9"
    problems = _walk(client, _routes(app, forum_world))
    assert not problems, "\n".join(problems)


def test_the_english_list_catches_english(app, client, forum_world):
    """The walk would notice: the same pages in English show the words it looks for."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = client.get(f"/t/{forum_world['topic'].id}").get_data(as_text=True)
    assert english_in(page)


def test_words_english_uses_twice_are_translated_for_each_meaning(app, client, forum_world):
    """English says "To" for a mail's recipients and once said it for the end of a date range,
    and "Archive" for the button and the folder; German and Spanish need a word for each."""
    client.login("greta")
    compose = client.get("/mail/new").get_data(as_text=True)
    assert '<label for="to">An</label>' in compose
    assert ">Archiv</a>" in client.get("/mail").get_data(as_text=True)
    conversation = client.get(f"/mail/c/{forum_world['conversation'].id}").get_data(as_text=True)
    assert ">Archivieren</button>" in conversation
    # What greta wrote to the sysops, and to whom.
    assert '<th scope="col">An</th>' in client.get("/care").get_data(as_text=True)
    client.logout()
    client.login("wurzel")  # Spanish
    assert '<label for="to">Para</label>' in client.get("/mail/new").get_data(as_text=True)
    assert ">Archivados</a>" in client.get("/mail").get_data(as_text=True)
    pulse = client.get("/pulse").get_data(as_text=True)
    assert ">Desde</label>" in pulse and ">Hasta</label>" in pulse


@pytest.mark.parametrize("language", ["de", "es"])
def test_words_with_different_meanings_stay_apart(app, language):
    """A sysop who gives back a flag they took on reads that they released it, in words that
    cannot be read as having approved the post (German said "Freigegeben." for both); the
    pulse's "Response" (how soon topics are answered) is not the emoji "Reaction"; "Unpin" is
    not "solve" (German said "Lösen")."""
    from forum.i18n import force_locale, gettext

    with app.test_request_context(), force_locale(language):
        said = {
            word: gettext(word)
            for word in ("Released.", "Approved.", "Release", "unclaim flag")
            + ("Response", "Reaction", "Unpin")
        }
    assert said["Released."] != said["Approved."] and said["Released."] != "Released."
    assert "frei" not in (said["Release"] + said["unclaim flag"]).lower()
    assert said["Response"] != said["Reaction"]
    assert said["Unpin"] != "Lösen"


def _catalog(language: str) -> dict[str, str]:
    """msgid -> every msgstr form of it, joined, as the catalog says it."""
    from babel.messages.pofile import read_po

    path = Path(__file__).parent.parent / "forum" / "translations" / language / "LC_MESSAGES"
    with (path / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale=language)
    said = {}
    for message in catalog:
        if message.id:
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            said[" ".join(ids)] = " ".join(strings)
    return said


def test_spanish_says_denunciar_for_every_report_and_flag():
    """Reporting a post or a private message is "denunciar" / "una denuncia" in every string
    (it was "avisar de" for posts and "denunciar" for messages); "avisar" is left to telling
    someone something ("se avisará a quienes lo denunciaron")."""
    reporting = re.compile(r"\b(flag|report)", re.IGNORECASE)
    notice = re.compile(r"\b(avisos?|avisar de|avisas|avisaste|avisados?)\b", re.IGNORECASE)
    catalog = _catalog("es")
    about = {msgid: text for msgid, text in catalog.items() if reporting.search(msgid)}
    assert len(about) > 40  # the pattern finds the strings it is meant to
    assert {m: t for m, t in about.items() if "denunci" not in t.lower() or notice.search(t)} == {}


def test_german_says_one_word_for_hiding_banning_and_suspending():
    """A post is "ausgeblendet" (it was "verborgen" too); a member is "gesperrt" when banned
    ("Sperre"; it was "verbannt" too) and "suspendiert" when suspended (it was "gesperrt"), so
    that a suspension never reads as a ban."""
    catalog = _catalog("de")
    assert {m: t for m, t in catalog.items() if re.search(r"verb[oe]rg|verbann", t, re.I)} == {}
    words = [
        # English, unless it also says -> German its translation must not say.
        (r"suspen", r"\bban", "sperr"),
        (r"\bban", r"suspen", "suspend"),
    ]
    for english, unless, german in words:
        wrong = {
            msgid: text
            for msgid, text in catalog.items()
            if re.search(english, msgid, re.I)
            and not (unless and re.search(unless, msgid, re.I))
            and german in text.lower()
        }
        assert wrong == {}, english


@pytest.mark.parametrize(("language", "ban"), [("de", "sperr"), ("es", "bloque")])
def test_a_locked_topic_or_trust_level_never_reads_as_a_ban(language, ban):
    """A topic is locked "geschlossen" / "cerrado" and a trust level "festgeschrieben" /
    "fijado": German said "gesperrt" for both, Spanish "bloqueado" for the level, the words
    for a banned member."""
    wrong = {
        msgid: text
        for msgid, text in _catalog(language).items()
        if re.search(r"\b(un)?lock", msgid, re.I) and ban in text.lower()
    }
    assert wrong == {}


def test_spanish_says_bloquear_for_every_ban_and_mensaje_for_every_post():
    """The glossary's words: a ban (site-wide or from a SIG) is "bloquear" / "el bloqueo" and a
    post "el mensaje". A SIG ban said "prohibido en el SIG", the queue's outcome "se expulsó al
    autor", the spam cleanup "expulsa la cuenta", and a dozen strings "publicación" for a post,
    so a sysop read three words for one action and two for one thing."""
    catalog = _catalog("es")
    bans = {m: t for m, t in catalog.items() if re.search(r"\bban(?!ner)", m, re.I)}
    assert len(bans) > 20  # the pattern finds the strings it is meant to
    assert {m: t for m, t in bans.items() if "bloque" not in t.lower()} == {}
    wrong = {m: t for m, t in catalog.items() if re.search(r"xpuls|prohib|publicaci", t, re.I)}
    assert wrong == {}


def test_spanish_pulse_counts_new_topics_and_concerns_apart_from_open_ones():
    """The pulse counted "Temas abiertos" and "Consultas abiertas" for topics started and
    concerns opened: read as topics not locked ("abierto" is the opposite of "cerrado") and
    concerns in the state "abierta", which are other figures."""
    catalog = _catalog("es")
    counts = {
        m: t for m, t in catalog.items() if re.search(r"topics started|concerns opened", m, re.I)
    }
    assert len(counts) >= 4
    assert {m: t for m, t in counts.items() if "abiert" in t} == {}


def test_german_says_im_ganzen_forum_for_site_wide():
    """German said "site-wide" as "im ganzen Forum" in the queue and the spam cleanup but "auf
    der ganzen Seite" on the member's page and in the console, where "Seite" reads as the page
    in front of the sysop: "linus auf der ganzen Seite stummschalten?"."""
    catalog = _catalog("de")
    site_wide = {m: t for m, t in catalog.items() if re.search(r"site-wide|whole site", m, re.I)}
    assert len(site_wide) > 10
    assert {m: t for m, t in site_wide.items() if "forum" not in t.lower() or "Seite" in t} == {}


@pytest.mark.parametrize("language", ["de", "es"])
def test_quoted_text_takes_each_languages_quotation_marks(language):
    """Quotation marks come from the catalog (a msgid with “…”, or the pattern `quoted`
    translates): German „…“, Spanish «…», never the English “…” (the queue wrapped a flag's
    note in English marks in every language)."""
    catalog = _catalog(language)
    quoting = {m: t for m, t in catalog.items() if "“" in m}
    assert len(quoting) > 30  # the pattern finds the strings it is meant to
    assert catalog["“%(text)s”"] == {"de": "„%(text)s“", "es": "«%(text)s»"}[language]

    def english_marks(text: str) -> bool:
        if language == "es":
            return "“" in text or "”" in text
        return "”" in text or text.count("“") != text.count("„")

    assert {m: t for m, t in quoting.items() if english_marks(t)} == {}


def test_german_calls_the_site_das_forum():
    """The site is "das Forum" in German (the glossary): "Name der Seite", "Einstellungen der
    Seite", "Rolle auf der Seite" and "die Sysops der Website" read as a page of it, or as a
    second word for one thing. "Seite" stays for a page ("Seite 2 von 5", "lade die Seite neu")."""
    catalog = _catalog("de")
    about = {
        m: t
        for m, t in catalog.items()
        if re.search(r"\bsite\b(?!['’]s pages)", m, re.I) and "%(site)s" not in m
    }
    assert len(about) > 20  # the pattern finds the strings it is meant to
    wrong = {
        m: t
        for m, t in about.items()
        if re.search(r"\bWebsite\b|der Seite\b|dieser Seite\b|^Seite\b", t)
    }
    assert wrong == {}
    assert {m: t for m, t in catalog.items() if re.search(r"Website|auf der Seite\b", t)} == {}


def test_spanish_says_los_sig_and_el_sig():
    """A SIG is "el SIG", plural "los SIG" (an acronym does not take a plural -s in Spanish):
    the API's scopes said "tus SIGs", the member page "SIGs en común" and three mails "una SIG"."""
    catalog = _catalog("es")
    assert {
        m: t for m, t in catalog.items() if re.search(r"\bSIGs\b|\b(una|la|las|esa|esta) SIG\b", t)
    } == {}


def test_spanish_says_el_before_a_date():
    """ "hasta el 12 mar 2026", "desde el …": a date after "hasta" or "desde" takes "el" (the
    moderation log said "hasta 12 mar 2026, 7:05"). A count does not ("hasta 5 niveles")."""
    catalog = _catalog("es")
    dated = re.compile(r"\b(hasta|desde|antes de) %\((when|until|since|date|day)\)s")
    assert {m: t for m, t in catalog.items() if dated.search(t)} == {}
    assert catalog["until %(when)s"] == "hasta el %(when)s"


# The msgids whose moment is a date and time (`localtime`: "10.12.2026, 06:24") after "until",
# "since", "by" or a reminder's "at".
MOMENTS = re.compile(
    r"\b(until|since|by|be reminded|reminder|reminder comes) %\((when|until)\)s", re.IGNORECASE
)


def test_german_says_bis_zum_and_uhr_around_a_moment():
    """A date and time after "bis", "seit" or "am" reads "bis zum 10.12.2026, 06:24 Uhr",
    "seit dem …", "am … Uhr", as German writes it in running text; it said "bis 10.12.2026,
    06:24" in the moderation log and on a member's status, "Gesperrt seit 10.12.2026, 06:24"."""
    catalog = _catalog("de")
    moments = {m: t for m, t in catalog.items() if MOMENTS.search(m) and "%(who)s" not in m}
    assert len(moments) >= 15
    said = re.compile(r"\b(bis zum|seit dem|am) %\((when|until)\)s Uhr\b", re.IGNORECASE)
    assert {m: t for m, t in moments.items() if not said.search(t)} == {}
    bare = re.compile(r"\b(bis|seit) %\((when|until)\)s", re.IGNORECASE)
    assert {m: t for m, t in catalog.items() if bare.search(t)} == {}
    assert catalog["until %(when)s"] == "bis zum %(when)s Uhr"
