"""The moderation log: every action, filterable, scoped to the SIGs a sysop moderates."""

from __future__ import annotations

import re

import pytest

from forum.moderation import services as mod

from . import factories
from .mod_support import build_world


def _rows(page: str) -> str:
    return page[page.index("<tbody>") : page.index("</tbody>")]


def test_the_log_lists_actions_with_actor_target_reason_and_time(app, browser):
    w = build_world()
    mod.lock_topic(w.sig_sysop, w.topic.id, "Too heated")
    mod.hide_post(w.root, w.post.id, "Advert")
    mod.lock_topic(w.other_sysop, mod.move_topic(w.root, w.topic2.id, w.other_sig.id).id)
    rows = _rows(browser(w.root).text("/mod/log"))
    assert "lock topic" in rows and "Too heated" in rows and "sigsysop" in rows
    assert "hide post" in rows and "Advert" in rows and ">author<" in rows
    assert "move topic" in rows and "from Main to Other" in rows
    # A SIG sysop sees only the entries of the SIGs it moderates.
    mine = _rows(browser(w.sig_sysop).text("/mod/log"))
    assert "Too heated" in mine and "othersysop" not in mine
    theirs = _rows(browser(w.other_sysop).text("/mod/log"))
    assert "Too heated" not in theirs and "othersysop" in theirs


def test_the_log_filters_by_sig_actor_member_and_action(app, browser):
    w = build_world()
    mod.lock_topic(w.sig_sysop, w.topic.id, "reason-one")
    mod.hide_post(w.root, w.post.id, "reason-two")
    mod.pin_topic(w.root, w.topic2.id)
    mod.lock_topic(w.root, mod.move_topic(w.root, w.topic2.id, w.sig_b.id).id, "reason-three")
    log = browser(w.root)
    by_actor = _rows(log.text("/mod/log?actor=sigsysop"))
    assert "reason-one" in by_actor and "reason-two" not in by_actor
    by_action = _rows(log.text("/mod/log?action=lock_topic"))
    assert (
        "reason-one" in by_action and "reason-three" in by_action and "reason-two" not in by_action
    )
    by_sig = _rows(log.text("/mod/log?sig=side"))
    assert "reason-three" in by_sig and "reason-one" not in by_sig
    by_member = _rows(log.text("/mod/log?member=author"))
    assert "reason-two" in by_member and "reason-three" not in by_member
    unknown = log.text("/mod/log?member=nobody")
    assert "Unknown member “nobody”" in unknown and "No entries." in unknown
    from forum.extensions import db

    w.root.language = "de"
    db.session.commit()
    unknown = log.text("/mod/log?member=nobody&sig=nowhere")
    assert "Unbekannt: SIG „nowhere“, Mitglied „nobody“" in unknown  # (it said "SIG “nowhere”")
    # A SIG sysop cannot filter its way into another SIG's entries.
    assert "No entries." in browser(w.other_sysop).text("/mod/log?sig=main")


def test_the_log_cannot_be_edited_from_the_web(app, browser):
    w = build_world()
    client = browser(w.root)
    for method in ("post", "put", "delete"):
        response = getattr(client.client, method)("/mod/log")
        assert response.status_code in (400, 405)


def test_the_log_loads_in_a_fixed_number_of_queries(app, f, browser, count_queries):
    w = build_world()
    client = browser(w.sig_sysop)
    client.get("/mod/log")

    def measure() -> int:
        with count_queries() as q:
            assert client.get("/mod/log").status_code == 200
        return q.count

    few = measure()
    for i in range(5):
        topic = f.topic(w.member, w.sig, f"Topic number {i}", "Body")
        mod.lock_topic(w.sig_sysop, topic.id, f"r{i}")
        mod.warn_member(w.sig_sysop, w.author.id, f"w{i}", sig_id=w.sig.id)
    assert measure() == few


@pytest.mark.parametrize(
    ("language", "infinitive"),
    [
        # German says what was done (past participle: "Mitglied gesperrt"), never what to do.
        (
            "de",
            re.compile(
                r"(sperren|suspendieren|schließen|ausblenden|löschen|entfernen|machen|aufheben|"
                r"erstellen|festlegen|bearbeiten)$"
            ),
        ),
        # Spanish too ("miembro bloqueado"), never an infinitive ("quitar del SIG").
        (
            "es",
            re.compile(
                r"^(bloquear|prohibir|eliminar|quitar|deshacer|levantar|tramitar|fijar|crear|"
                r"revocar) "
            ),
        ),
    ],
)
def test_the_log_names_each_action_as_done(app, language, infinitive):
    from forum.i18n import force_locale
    from forum.moderation.models import ACTION_LABELS

    with app.test_request_context(), force_locale(language):
        labels = {key: str(label) for key, label in ACTION_LABELS.items()}
    assert [label for label in labels.values() if infinitive.search(label)] == []
    # "unpin topic" once read "Thema gelöst" (solved) in German.
    assert labels["unpin_topic"] != labels["lock_topic"]
    if language == "de":
        assert labels["unpin_topic"] == "Thema nicht mehr angeheftet"


def test_the_logs_details_read_in_the_readers_language_and_zone(app, browser):
    """A suspension's entry said "until 2026-12-10 05:24 UTC" and handled flags "2 flag(s):
    hidden" in every language: English, and a time in UTC."""
    from datetime import UTC, datetime

    from forum.extensions import db
    from forum.moderation.models import ModAction

    w = build_world()
    mod.flag_post(w.victim, w.post.id, "spam")
    mod.resolve_flags(w.sig_sysop, w.post.id, "hidden", "ad")
    until = datetime(2030, 7, 1, 22, 30, tzinfo=UTC)
    mod.suspend_member(w.sig_sysop, w.member.id, until, "Rude", w.sig.id)
    assert db.session.query(ModAction).filter_by(details="until 2030-07-01 22:30 UTC").count() == 1
    w.sig_sysop.language, w.sig_sysop.timezone = "de", "Europe/Berlin"
    db.session.commit()
    for url in ("/mod/log", f"/mod/u/{w.member.username}"):
        page = browser(w.sig_sysop).text(url)
        assert "bis zum 02.07.2030, 00:30 Uhr" in page, url
        assert "until 2030" not in page and " UTC" not in page
    log = browser(w.sig_sysop).text("/mod/log")
    assert "2 Meldungen: der Beitrag wurde ausgeblendet" in log and "flag(s)" not in log


@pytest.mark.parametrize("language", ["en", "de", "es"])
def test_the_logs_action_filter_is_in_the_readers_alphabetical_order(app, browser, language):
    """The action menu was sorted by the English identifiers, so German and Spanish read it in
    no order ("nota sobre un miembro", "filtro de palabras añadido", "sysop de SIG nombrado" …)."""
    import unicodedata

    from forum.extensions import db

    w = build_world()
    w.root.language = language
    db.session.commit()
    page = browser(w.root).text("/mod/log")
    menu = page[page.index('<select name="action">') :]
    menu = menu[: menu.index("</select>")]
    labels = re.findall(r'<option value="[a-z_]+"[^>]*>([^<]+)</option>', menu)
    assert len(labels) > 30

    def key(label):
        text = unicodedata.normalize("NFKD", label.casefold())
        return "".join(c for c in text if c.isalnum() or c == " ")

    assert labels == sorted(labels, key=key)


# What each kind of entry says, in English and in the reader's language: the details of a move,
# a merge, a split, a spam cleanup and its undoing, a word filter, an approval threshold, a
# trust level, a site setting, a role, a SIG's visibility and an invite link were written in
# English and shown so in every language.
DETAILS = {
    "en": [
        "from Main to Other",
        "1 post from “A topic about things” into “Split off”",
        "“Split off” into “A topic about things”",
        "1 post and 0 topics hidden; 1 flag resolved",
        "1 post and 0 topics restored",
        "viagra (refused, whole words)",
        "site default",
        "basic → member (locked)",
        "Site name: Forum → Retro BBS",
        "<td>global sysop<",
        "Main (private)",
        "…, 0 of 5 uses",
    ],
    "de": [
        "von Main nach Other",
        "1 Beitrag aus „A topic about things“ in „Split off“",
        "„Split off“ in „A topic about things“",
        "1 Beitrag und 0 Themen ausgeblendet; 1 Meldung erledigt",
        "1 Beitrag und 0 Themen wiederhergestellt",
        "viagra (abgelehnt, ganze Wörter)",
        "Vorgabe des Forums",
        "Basis → Mitglied (festgeschrieben)",
        "Name des Forums: Forum → Retro BBS",
        "<td>globaler Sysop<",
        "Main (privat)",
        "…, 0 von 5 Nutzungen",
    ],
    "es": [
        "de Main a Other",
        "1 mensaje de «A topic about things» a «Split off»",
        "«Split off» en «A topic about things»",
        "1 mensaje y 0 temas ocultos; 1 denuncia resuelta",
        "1 mensaje y 0 temas restaurados",
        "viagra (rechazado, palabras completas)",
        "valor predeterminado del sitio",
        "básico → miembro (fijado)",
        "Nombre del sitio: Forum → Retro BBS",
        "<td>sysop global<",
        "Main (privado)",
        "…, 0 de 5 usos",
    ],
}


def _log_every_kind_of_details(w):
    """One entry of each kind whose details are said from its params."""
    from forum.admin import services as admin_services
    from forum.permissions import TL_MEMBER
    from forum.sigs import services as sig_services
    from forum.trust import services as trust

    mod.move_topic(w.root, w.topic.id, w.other_sig.id)
    split = mod.split_topic(w.root, w.topic.id, [w.post.id], "Split off")
    mod.merge_topics(w.root, split.id, w.topic.id)
    spam = factories.reply(w.victim, w.topic2, "Buy now")
    mod.flag_post(w.member, spam.id, "spam")
    cleanup = mod.delete_spammer(w.root, w.victim.id, "Spam")
    mod.undo_spam_cleanup(w.root, cleanup.id)
    mod.add_word_filter(w.root, "viagra", "block", True)
    mod.set_sig_approval_threshold(w.root, w.sig.id, None)
    trust.set_trust_level(w.root, w.member.id, TL_MEMBER, locked=True)
    admin_services.update_settings(w.root, {"site_name": "Retro BBS"})
    admin_services.set_role(w.root, w.author.id, "sysop")
    sig = w.sig
    admin_services.update_sig(
        w.root,
        sig.id,
        name=sig.name,
        description=sig.description,
        visibility="private",
        language=sig.language,
    )
    sig_services.create_sig_invite(w.sig_sysop, w.sig.id, max_uses=5)


@pytest.mark.parametrize("language", ["de", "es"])
def test_the_logs_details_are_said_in_the_readers_language(app, browser, language):
    """The English reader reads the English details; the German and Spanish reader their own,
    on the log and on a member's history, and no English shape of them."""
    from forum.extensions import db

    w = build_world()
    _log_every_kind_of_details(w)
    english = browser(w.root).text("/mod/log")
    for said in DETAILS["en"]:
        assert said in english, said
    w.root.language = language
    db.session.commit()
    page = browser(w.root).text("/mod/log")
    for said, shown in zip(DETAILS["en"], DETAILS[language], strict=True):
        assert shown in page, shown
        assert said not in page, said
    history = browser(w.root).text(f"/mod/u/{w.member.username}")
    assert DETAILS[language][7] in history and DETAILS["en"][7] not in history


def test_an_entry_written_before_its_params_reads_as_stored(app, browser):
    """Rows from before the details were kept as data have only their English text: shown as
    it was written, in every language."""
    from forum.extensions import db
    from forum.moderation.models import ModAction

    w = build_world()
    mod.move_topic(w.root, w.topic.id, w.other_sig.id)
    db.session.add(
        ModAction(actor_id=w.root.id, action="move_topic", sig_id=w.sig.id, details="from X to Y")
    )
    w.root.language = "de"
    db.session.commit()
    page = browser(w.root).text("/mod/log")
    assert "from X to Y" in page and "von Main nach Other" in page


def test_a_sig_sysops_action_menu_offers_only_what_their_log_can_show(app, browser):
    """A SIG sysop reads no site-wide entry, so the menu does not offer a setting changed, a role
    set, a site-wide ban or a trust level; the global sysop's menu offers them."""
    w = build_world()

    def menu(user):
        page = browser(user).text("/mod/log")
        select = page[page.index('<select name="action">') :]
        return set(re.findall(r'<option value="([a-z_]+)"', select[: select.index("</select>")]))

    site_only = {"change_setting", "set_role", "ban_member", "delete_spammer", "silence_member"}
    assert site_only <= menu(w.root)
    mine = menu(w.sig_sysop)
    assert not site_only & mine
    assert {"lock_topic", "ban_from_sig", "move_topic", "add_word_filter"} <= mine


def test_the_global_sysops_menu_offers_every_action_the_forum_logs(app, browser):
    """Accounts approved or refused, trust levels set or earned, private-mail reports resolved:
    each is logged, named in the reader's words, and offered by the filter."""
    from forum.moderation.models import ACTION_LABELS

    w = build_world()
    page = browser(w.root).text("/mod/log")
    select = page[page.index('<select name="action">') :]
    offered = set(re.findall(r'<option value="([a-z_]+)"', select[: select.index("</select>")]))
    logged = {
        "approve_account",
        "refuse_account",
        "set_trust_level",
        "review_trust_level",
        "resolve_message_report",
    }
    assert logged <= offered and logged <= set(ACTION_LABELS)
    assert offered == set(ACTION_LABELS)


def _entries(page: str) -> list[tuple[str, str]]:
    """The log's rows as (action, reason and details), as the reader sees them."""
    import html

    found = []
    for row in re.findall(r"<tr>(.*?)</tr>", _rows(page), re.S):
        action = re.search(r'<td class="action">(.*?)</td>', row, re.S)
        cells = re.findall(r"<td>(.*?)</td>", row, re.S)
        if action and cells:
            said = re.sub(r"<[^>]+>", "", cells[-1])
            found.append((html.unescape(action[1]), " ".join(html.unescape(said).split())))
    return found


# A flag's and a private-mail report's resolution, a discipline's end and a choice setting were
# written in English ("2 flag(s): hidden", "until 2030-07-01 22:30 UTC", "open → invite") and
# shown so to every reader, in UTC; each is said in the reader's language and zone now. A choice
# reads by its short name ("open → invite-only"), not the settings page's long explanations.
RESOLVED = {
    "en": {
        "reader": ("en", "UTC"),
        "resolve flags": "ad — 2 flags: the post was hidden",
        "suspend member": "Rude — until Jul 1, 2030, 10:30 PM",
        "silence member": "Loud — until Aug 15, 2030, 10:05 AM",
        "ban from SIG": "Spam — until Sep 30, 2030, 11:59 PM",
        "resolve private message report": "Be nice — 1 report: the author was warned",
        "change setting": "Registration: open → invite-only",
    },
    "de": {
        "reader": ("de", "Europe/Berlin"),
        "Meldungen erledigt": "ad — 2 Meldungen: der Beitrag wurde ausgeblendet",
        "Mitglied suspendiert": "Rude — bis zum 02.07.2030, 00:30 Uhr",
        "Mitglied stummgeschaltet": "Loud — bis zum 15.08.2030, 12:05 Uhr",
        "für SIG gesperrt": "Spam — bis zum 01.10.2030, 01:59 Uhr",
        "Meldung einer privaten Nachricht erledigt": (
            "Be nice — 1 Meldung: der Autor wurde verwarnt"
        ),
        "Einstellung geändert": "Registrierung: offen → nur mit Einladung",
    },
    "es": {
        "reader": ("es", "America/Mexico_City"),
        "denuncias resueltas": "ad — 2 denuncias: el mensaje se ocultó",
        "miembro suspendido": "Rude — hasta el 1 jul 2030, 16:30",
        "miembro silenciado": "Loud — hasta el 15 ago 2030, 4:05",
        "bloqueado en el SIG": "Spam — hasta el 30 sept 2030, 17:59",
        "denuncia de mensaje privado tramitada": "Be nice — 1 denuncia: se advirtió al autor",
        "ajuste cambiado": "Registro: abierto → solo con invitación",
    },
}


def _resolve_and_discipline(w):
    """Two flags handled, a SIG suspension, a silence and a SIG ban with their ends, a reported
    private message handled and the registration changed: the verbs that wrote English only."""
    from datetime import UTC, datetime

    from forum.admin import services as admin_services
    from forum.messages import services as mail

    mod.flag_post(w.victim, w.post.id, "spam")  # the world's member flagged it already
    mod.resolve_flags(w.sig_sysop, w.post.id, "hidden", "ad")
    until = datetime(2030, 7, 1, 22, 30, tzinfo=UTC)
    mod.suspend_member(w.sig_sysop, w.member.id, until, "Rude", w.sig.id)
    mod.silence_member(w.root, w.author.id, datetime(2030, 8, 15, 10, 5, tzinfo=UTC), "Loud")
    mod.remove_from_sig(
        w.sig_sysop,
        w.victim.id,
        w.sig.id,
        "Spam",
        ban=True,
        until=datetime(2030, 9, 30, 23, 59, tzinfo=UTC),
    )
    conversation = mail.start_conversation(w.other_sysop, [w.sig_sysop.username], "Hi", "Rude")
    report = mail.report_message(w.sig_sysop, conversation.last_message_id, "abuse")
    mod.resolve_message_report(w.root, report.id, "warned", "Be nice")
    admin_services.update_settings(w.root, {"registration": "invite"})


@pytest.mark.parametrize("language", ["en", "de", "es"])
def test_handled_flags_a_disciplines_end_and_a_choice_are_said_in_the_readers_words(
    app, browser, language
):
    """Each entry reads in the reader's language and zone on the log, and on the member's
    history; no English shape of it is left."""
    from forum.extensions import db

    w = build_world()
    _resolve_and_discipline(w)
    w.root.language, w.root.timezone = RESOLVED[language]["reader"]
    db.session.commit()
    entries = _entries(browser(w.root).text("/mod/log"))
    for action, said in RESOLVED[language].items():
        if action != "reader":
            assert (action, said) in entries, (action, said, entries)
    shown = " ".join(details for _action, details in entries)
    for english in ("flag(s)", "report(s)", " UTC", "2030-"):
        assert english not in shown, english
    if language != "en":
        assert "open →" not in shown and "→ invite" not in shown
    # A choice by its short name, not the settings page's explanation of it, nor as stored.
    for long in ("anyone may register", "Alle dürfen", "cualquiera puede", "invite code"):
        assert long not in shown, long
    history = " ".join(browser(w.root).text(f"/mod/u/{w.member.username}").split())
    reason, end = list(RESOLVED[language].values())[2].split(" — ")
    assert f"{reason} ({end})" in history  # the SIG suspension, as its history says it


def test_the_verbs_keep_their_details_as_data(app):
    """What the log says is kept as data: the count and the outcome, the end in ISO 8601 (UTC),
    the setting's stored value; `details` keeps the English text as before."""
    from sqlalchemy import select

    from forum.extensions import db
    from forum.moderation.models import ModAction

    w = build_world()
    _resolve_and_discipline(w)
    kept = {
        a.action: (a.details, a.params)
        for a in db.session.scalars(select(ModAction).order_by(ModAction.id))
    }
    assert kept["resolve_flags"] == ("2 flag(s): hidden", {"count": 2, "outcome": "hidden"})
    assert kept["suspend_member"] == (
        "until 2030-07-01 22:30 UTC",
        {"until": "2030-07-01T22:30:00+00:00"},
    )
    assert kept["silence_member"][1] == {"until": "2030-08-15T10:05:00+00:00"}
    assert kept["ban_from_sig"][1] == {"until": "2030-09-30T23:59:00+00:00"}
    assert kept["resolve_message_report"] == (
        "1 report(s): warned",
        {"count": 1, "outcome": "warned"},
    )
    assert kept["warn_member"] == ("", None)  # a warning has a reason and no details
    assert kept["change_setting"][1] == {"key": "registration", "before": "open", "after": "invite"}


@pytest.mark.parametrize(
    ("language", "zone", "said"),
    [
        (
            "de",
            "Europe/Berlin",
            [
                "bis zum 02.07.2030, 00:30 Uhr",
                "2 Meldungen: der Beitrag wurde ausgeblendet",
                "1 Meldung: der Autor wurde verwarnt",
                "from X to Y",
            ],
        ),
        (
            "es",
            "Europe/Madrid",
            [
                "hasta el 2 jul 2030, 0:30",
                "2 denuncias: el mensaje se ocultó",
                "1 denuncia: se advirtió al autor",
                "from X to Y",
            ],
        ),
    ],
)
def test_entries_written_before_their_params_still_read(app, browser, language, zone, said):
    """Rows written before the verbs kept params (null) have the English shapes only: the ones
    the log knows are said in the reader's words, any other as stored."""
    from forum.extensions import db
    from forum.moderation.models import ModAction

    w = build_world()
    for action, details in (
        ("suspend_member", "until 2030-07-01 22:30 UTC"),
        ("resolve_flags", "2 flag(s): hidden"),
        ("resolve_message_report", "1 report(s): warned"),
        ("move_topic", "from X to Y"),
    ):
        db.session.add(
            ModAction(actor_id=w.root.id, action=action, sig_id=w.sig.id, details=details)
        )
    w.root.language, w.root.timezone = language, zone
    db.session.commit()
    shown = [details for _action, details in _entries(browser(w.root).text("/mod/log"))]
    assert shown == said[::-1]


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "2 posts and 1 topic hidden"),
        ("de", "2 Beiträge und 1 Thema ausgeblendet"),
        ("es", "2 mensajes y 1 tema ocultos"),
    ],
)
def test_a_spam_cleanup_that_resolved_no_flags_does_not_count_them(app, language, said):
    """The log said "…; 0 Meldungen erledigt" of every spammer no one had flagged."""
    from forum.i18n import force_locale
    from forum.moderation.models import params_label

    params = {"posts": 2, "topics": 1, "flags": 0}
    with app.test_request_context(), force_locale(language):
        assert params_label("delete_spammer", params) == said
        assert params_label("remove_spammer", params) == said
        flagged = params_label("delete_spammer", {**params, "flags": 1})
    assert flagged.startswith(said + "; 1 ")
