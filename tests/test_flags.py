"""Flags: members report posts; sysops see them grouped in /mod, claim, note and handle them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from forum import events
from forum.errors import Conflict, Forbidden, Invalid
from forum.extensions import db
from forum.moderation import services as mod
from forum.moderation.models import Flag, ModAction
from forum.topics.models import Post

from .mod_support import build_world


def test_a_member_flags_a_post_through_the_form(app, browser):
    w = build_world()
    page = browser(w.victim).text(f"/t/{w.topic.id}")
    assert f"/p/{w.post.id}/flag" in page
    form = browser(w.victim).get(f"/p/{w.post.id}/flag")
    assert form.status_code == 200 and "Spam" in form.get_data(as_text=True)
    response = browser(w.victim).form(f"/p/{w.post.id}/flag", {"reason": "abuse", "note": "rude"})
    assert response.status_code == 302
    flag = db.session.scalar(select(Flag).where(Flag.user_id == w.victim.id))
    assert (flag.post_id, flag.reason, flag.note) == (w.post.id, "abuse", "rude")


def test_flag_form_errors_keep_what_was_typed(app, browser):
    w = build_world()
    response = browser(w.victim).form(f"/p/{w.post.id}/flag", {"reason": "other", "note": ""})
    assert response.status_code == 400
    assert "Tell the sysops what is wrong" in response.get_data(as_text=True)


def test_flag_rules(app):
    w = build_world()
    with pytest.raises(Forbidden, match="your own post"):
        mod.flag_post(w.author, w.post.id, "spam")
    with pytest.raises(Conflict, match="already flagged"):
        mod.flag_post(w.member, w.post.id, "spam")
    with pytest.raises(Invalid):
        mod.flag_post(w.victim, w.post.id, "because")
    with pytest.raises(Forbidden):
        mod.flag_post(None, w.post.id, "spam")


def test_the_queue_groups_flags_and_shows_notes_and_claims(app, browser):
    w = build_world()
    mod.flag_post(w.victim, w.post.id, "spam")
    mod.flag_post(w.sig_sysop, w.post.id, "off_topic")
    mod.add_member_note(w.sig_sysop, w.author.id, "Posted spam before.", w.sig.id)
    mod.add_review_note(w.sig_sysop, w.post.id, "Looks like an ad.")
    mod.claim_flag(w.sig_sysop, w.post.id)
    page = browser(w.root).text("/mod")
    assert "3 flags" in page
    assert "Spam × 2" in page and "Off-topic × 1" in page
    assert "Posted spam before." in page and "Looks like an ad." in page
    assert "Being handled by <strong>sigsysop</strong>" in page
    assert "Waiting for approval." in page  # the pending post
    # A sysop of another SIG does not see this SIG's queue.
    other = browser(w.other_sysop).text("/mod")
    assert "A reply by the author." not in other and "No flagged posts" in other
    # Another sysop cannot take over a claim.
    with pytest.raises(Conflict, match="sigsysop is handling"):
        mod.claim_flag(w.root, w.post.id)


def test_handling_resolves_every_flag_and_tells_the_flaggers(app, browser):
    w = build_world()
    mod.flag_post(w.victim, w.post.id, "abuse")
    told: list[events.FlagsResolved] = []
    events.subscribe(app, events.FlagsResolved, told.append)
    hidden: list[events.PostVisibilityChanged] = []
    events.subscribe(app, events.PostVisibilityChanged, hidden.append)
    sysop = browser(w.sig_sysop)
    response = sysop.form(
        f"/mod/posts/{w.post.id}/resolve", {"outcome": "hidden", "reason": "rude"}
    )
    assert response.status_code == 302
    flags = db.session.scalars(select(Flag).where(Flag.post_id == w.post.id)).all()
    assert {f.outcome for f in flags} == {"hidden"} and all(f.resolved_by_id for f in flags)
    assert told == [
        events.FlagsResolved(
            post_id=w.post.id,
            sig_id=w.sig.id,
            flagger_ids=tuple(sorted([w.member.id, w.victim.id])),
            outcome="hidden",
            actor_id=w.sig_sysop.id,
        )
    ]
    assert [e.change for e in hidden] == ["hidden"]
    post = db.session.get(Post, w.post.id)
    assert post.is_hidden and post.hide_reason == "rude"
    actions = db.session.scalars(select(ModAction.action).order_by(ModAction.id)).all()
    assert actions[-2:] == ["hide_post", "resolve_flags"]
    assert "No flagged posts" in sysop.text("/mod")
    with pytest.raises(Conflict, match="no open flags"):
        mod.resolve_flags(w.sig_sysop, w.post.id, "dismissed")


def test_warning_from_the_queue_needs_a_reason(app, browser):
    w = build_world()
    sysop = browser(w.sig_sysop)
    response = sysop.form(f"/mod/posts/{w.post.id}/resolve", {"outcome": "warned", "reason": ""})
    assert response.status_code == 400
    assert "Give a reason" in response.get_data(as_text=True)
    assert db.session.scalar(select(Flag.resolved_at).where(Flag.post_id == w.post.id)) is None


@pytest.mark.parametrize(
    ("language", "error"),
    [("en", "Give a reason"), ("de", "Gib einen Grund an"), ("es", "Indica un motivo")],
)
def test_a_refused_handling_keeps_what_the_sysop_chose(app, browser, language, error):
    """A suspension of 30 days sent without a reason comes back with the suspension, the 30
    days and the error beside the reason, in the sysop's language: not the queue's defaults
    (dismissed, 7 days) under a flash."""
    w = build_world()
    w.sig_sysop.language = language
    db.session.commit()
    sysop = browser(w.sig_sysop)
    sent = {"outcome": "suspended", "reason": "", "days": "30"}
    response = sysop.form(f"/mod/posts/{w.post.id}/resolve", sent)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<option value="suspended" selected>' in page
    assert f'id="days-{w.post.id}" value="30"' in page
    assert f'id="reason-{w.post.id}" maxlength="500"' in page
    assert f'aria-describedby="reason-{w.post.id}-error"' in page
    assert f'<p class="error" id="reason-{w.post.id}-error">{error}' in page
    assert db.session.scalar(select(Flag.resolved_at).where(Flag.post_id == w.post.id)) is None
    # A reason typed with a refused number of days is kept too.
    response = sysop.form(
        f"/mod/posts/{w.post.id}/resolve", {"outcome": "silenced", "reason": "rude", "days": "0"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<option value="silenced" selected>' in page and 'value="rude"' in page
    assert f'aria-describedby="days-{w.post.id}-error"' in page


def test_a_refused_handling_of_a_post_gone_from_the_queue_is_said_over_the_queue(app, browser):
    """Another sysop handled the post meanwhile: no form to show it in, so the error is
    flashed over the queue, as before."""
    w = build_world()
    mod.resolve_flags(w.sig_sysop, w.post.id, "dismissed")
    sysop = browser(w.sig_sysop)
    response = sysop.form(f"/mod/posts/{w.post.id}/resolve", {"outcome": "dismissed"})
    assert response.status_code == 302
    assert "no open flags" in sysop.text("/mod")


def test_auto_hide_weighs_flags_by_trust_level(app, f):
    from forum.accounts.models import TL_NEW
    from forum.admin import services as admin_services

    w = build_world()  # the member (trust level basic: a flag weighs 1) has flagged the post
    admin_services.update_settings(w.root, {"auto_hide_threshold": "2"})
    for n in range(3):
        fresh = f.user(f"fresh{n}", trust_level=TL_NEW)
        f.join(fresh, w.sig)
        mod.flag_post(fresh, w.post.id, "spam")  # a new account's flag weighs nothing
    assert db.session.get(Post, w.post.id).is_public
    mod.flag_post(w.victim, w.post.id, "abuse")  # basic too: 1 + 1
    post = db.session.get(Post, w.post.id)
    db.session.refresh(post)
    assert post.is_hidden and post.hidden_by_id is None
    entry = db.session.scalar(select(ModAction).order_by(ModAction.id.desc()))
    assert entry.action == "auto_hide_post" and entry.actor_id is None
    # Dismissing the flags undoes the automatic hide.
    mod.resolve_flags(w.sig_sysop, w.post.id, "dismissed")
    db.session.refresh(post)
    assert post.is_public


def test_the_queue_loads_in_a_fixed_number_of_queries(app, f, browser, count_queries):
    w = build_world()
    client = browser(w.root)
    client.get("/mod")

    def measure() -> int:
        with count_queries() as q:
            assert client.get("/mod").status_code == 200
        return q.count

    few = measure()
    for i in range(4):
        author = f.user(f"extra{i}")
        f.join(author, w.sig)
        topic = f.topic(author, w.sig, f"Extra topic {i}", "Body")
        reply = f.reply(author, topic, "Flag me")
        mod.flag_post(w.member, reply.id, "spam")
        mod.flag_post(w.victim, reply.id, "abuse")
        mod.add_member_note(w.root, author.id, "note")
        mod.add_review_note(w.root, reply.id, "note")
        mod.claim_flag(w.root, reply.id)
    assert measure() == few


def test_the_queue_names_each_outcome_in_the_readers_words_only(app, browser):
    """The outcome menu said "dismissed — descartado: …": the stored value in English before
    the reader's words."""
    w = build_world()
    mod.flag_post(w.victim, w.post.id, "spam")
    w.sig_sysop.language = "es"
    db.session.commit()
    page = browser(w.sig_sysop).text("/mod")
    assert '<option value="dismissed">descartado' in page
    assert '<option value="banned">' in page
    assert "dismissed —" not in page and "banned —" not in page


def test_the_queue_counts_join_requests_in_the_readers_grammar(app, browser):
    """The queue said "Sysop Lounge: 1 pendientes": one count in a plural form."""
    from forum.sigs import services as sigs

    from . import factories

    w = build_world("private")
    sigs.request_to_join(factories.user("newcomer"), w.sig.slug, "Let me in")
    w.sig_sysop.language = "es"
    db.session.commit()
    page = browser(w.sig_sysop).text("/mod")
    assert "Main: 1 pendiente</a>" in page
    sigs.request_to_join(factories.user("another"), w.sig.slug, "Me too")
    assert "Main: 2 pendientes</a>" in browser(w.sig_sysop).text("/mod")


@pytest.mark.parametrize(
    ("language", "quoted"), [("en", "“rude”"), ("de", "„rude“"), ("es", "«rude»")]
)
def test_a_flags_note_is_quoted_in_the_readers_quotation_marks(app, browser, language, quoted):
    """The queue quotes a flagger's note with the reader's language's marks: it wrote English
    “…” around it in German and Spanish too."""
    w = build_world()
    mod.flag_post(w.victim, w.post.id, "abuse", "rude")
    w.root.language = language
    db.session.commit()
    page = browser(w.root).text("/mod")
    assert f"— {quoted}" in page


# --- an automatic hide, said as such -------------------------------------------------------
def _auto_hide(w, f):
    """Flag the world's post past the threshold (2) with trusted members: the member's flag
    (basic: 1) and a member's at level member (1.5), 2.5 in all."""
    from forum.accounts.models import TL_MEMBER
    from forum.admin import services as admin_services

    admin_services.update_settings(w.root, {"auto_hide_threshold": "2"})
    trusted = f.user("trusted", trust_level=TL_MEMBER)
    f.join(trusted, w.sig)
    mod.flag_post(trusted, w.post.id, "abuse")
    post = db.session.get(Post, w.post.id)
    db.session.refresh(post)
    assert post.is_hidden
    return post


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "hidden after members’ flags; a sysop will look at it"),
        ("de", "nach Meldungen von Mitgliedern ausgeblendet, bis ein Sysop ihn prüft"),
        ("es", "ocultado tras las denuncias de los miembros; un sysop lo revisará"),
    ],
)
def test_an_automatic_hide_reads_in_the_readers_language(app, f, browser, language, said):
    """The topic page said "hidden by a sysop: Hidden after 2 flags weighing 2; waiting for a
    sysop." in every language: English stored as the reason, and no sysop had hidden it."""
    w = build_world()
    _auto_hide(w, f)
    for reader in (w.author, w.sig_sysop):
        reader.language = language
    db.session.commit()
    for reader in (w.author, w.sig_sysop):
        page = browser(reader).text(f"/t/{w.topic.id}")
        assert said in page
        assert "Hidden after" not in page and "flags weighing" not in page


def test_an_automatic_hide_is_kept_as_data_not_as_english(app, f):
    w = build_world()
    post = _auto_hide(w, f)
    assert post.hidden_by_flags and post.hidden_by_id is None and post.hide_reason is None
    assert post.hidden_by == "flags"
    entry = db.session.scalar(
        select(ModAction).where(ModAction.action == "auto_hide_post").order_by(ModAction.id)
    )
    assert entry.actor_id is None and entry.reason == ""
    assert entry.params == {"flags": 2, "weight": 2.5}
    assert entry.details == "2 flags weighing 2.5"


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "2 flags weighing 2.5"),
        ("de", "2 Meldungen mit einem Gewicht von 2,5"),
        ("es", "2 denuncias con un peso de 2,5"),
    ],
)
def test_the_logs_automatic_hide_says_count_and_weight_in_the_readers_language(
    app, f, browser, language, said
):
    w = build_world()
    _auto_hide(w, f)
    w.root.language = language
    db.session.commit()
    page = browser(w.root).text("/mod/log")
    rows = page[page.index("<tbody>") : page.index("</tbody>")]
    assert said in rows
    assert "waiting for a sysop" not in rows


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "Members’ flags hid your post in “A topic about things” until a sysop looks at it."),
        (
            "de",
            "Nach Meldungen von Mitgliedern wurde dein Beitrag in „A topic about things“ "
            "ausgeblendet, bis ein Sysop ihn prüft.",
        ),
        (
            "es",
            "Las denuncias de los miembros ocultaron tu mensaje en «A topic about things» "
            "hasta que un sysop lo revise.",
        ),
    ],
)
def test_the_author_hears_that_members_flags_hid_the_post(app, f, browser, language, said):
    """The author's notification said "A sysop hid your post …: Hidden after 2 flags …", in
    English whatever their language, and named the last flagger as the one who hid it."""
    from forum.notifications.models import Notification

    w = build_world()
    _auto_hide(w, f)
    note = db.session.scalar(
        select(Notification).where(
            Notification.user_id == w.author.id, Notification.kind == "post_hidden"
        )
    )
    assert note.data == {"by": "flags"} and note.actor_id is None
    w.author.language = language
    db.session.commit()
    page = browser(w.author).text("/notifications")
    assert said in page
    assert "Hidden after" not in page and "A sysop hid" not in page


def test_the_api_says_who_hid_a_post(app, f, client):
    from .test_api import API, bearer, token_for

    w = build_world()
    _auto_hide(w, f)
    secret = token_for(w.author)
    body = client.get(f"{API}/posts/{w.post.id}", headers=bearer(secret)).get_json()
    assert (body["status"], body["hidden_by"], body["hide_reason"]) == ("hidden", "flags", None)
    # The sysop keeps it hidden from the queue, with a reason: theirs from now on.
    mod.resolve_flags(w.sig_sysop, w.post.id, "hidden", "Rude")
    body = client.get(f"{API}/posts/{w.post.id}", headers=bearer(secret)).get_json()
    assert (body["status"], body["hidden_by"], body["hide_reason"]) == ("hidden", "sysop", "Rude")
    visible = client.get(f"{API}/posts/{w.topic.first_post_id}", headers=bearer(secret))
    assert visible.get_json()["hidden_by"] is None


def test_a_sysop_who_keeps_the_automatic_hide_takes_it_over(app, f, browser):
    """Hiding from the queue a post the flags hid changed nothing: the page went on saying a
    sysop would look at it, after one had."""
    from forum.notifications.models import Notification

    w = build_world()
    _auto_hide(w, f)
    mod.resolve_flags(w.sig_sysop, w.post.id, "hidden", "Rude")
    post = db.session.get(Post, w.post.id)
    db.session.refresh(post)
    assert post.is_hidden and not post.hidden_by_flags
    assert (post.hidden_by_id, post.hide_reason) == (w.sig_sysop.id, "Rude")
    page = browser(w.author).text(f"/t/{w.topic.id}")
    assert "hidden by a sysop: Rude" in page and "members’ flags" not in page
    told = db.session.scalars(
        select(Notification.data)
        .where(Notification.user_id == w.author.id, Notification.kind == "post_hidden")
        .order_by(Notification.id)
    ).all()
    assert told == [{"by": "flags"}, {"reason": "Rude"}]


def test_dismissing_undoes_only_an_automatic_hide(app, f):
    w = build_world()
    _auto_hide(w, f)
    mod.resolve_flags(w.sig_sysop, w.post.id, "dismissed")
    post = db.session.get(Post, w.post.id)
    db.session.refresh(post)
    assert post.is_public and not post.hidden_by_flags
    # A sysop's own hide stays when the flags on the post are dismissed.
    other = build_world_post(w, f)
    mod.hide_post(w.sig_sysop, other.id, "Advert")
    mod.resolve_flags(w.sig_sysop, other.id, "dismissed")
    db.session.refresh(other)
    assert other.is_hidden and other.hide_reason == "Advert" and other.hidden_by == "sysop"


@pytest.mark.parametrize(
    ("outcome", "reason", "by_root"),
    [
        ("hidden", "", False),
        ("deleted", "Link farm", False),
        ("warned", "Be civil", False),
        ("suspended", "Cool off", False),
        ("silenced", "Cool off site-wide", True),  # site-wide: the global sysop's
        ("banned", "Gone from the SIG", False),  # a SIG sysop bans from the SIG
        ("banned", "Gone from the site", True),
    ],
)
def test_every_outcome_but_dismissing_makes_an_automatic_hide_the_sysops(
    app, f, browser, outcome, reason, by_root
):
    """Warning, suspending, silencing or banning the author of a post the flags hid (or
    deleting it) left it "hidden after members' flags; a sysop will look at it" with every
    flag resolved, and the API and the export said hidden_by "flags"."""
    from datetime import timedelta

    from forum.moderation.models import OUTCOMES
    from forum.notifications.models import Notification
    from forum.timeutil import utcnow

    assert set(OUTCOMES) - {"dismissed", "spam"} == {
        "hidden",
        "deleted",
        "warned",
        "suspended",
        "silenced",
        "banned",
    }  # "spam" is the cleanup's, tested in test_spam_cleanup
    w = build_world()
    _auto_hide(w, f)
    actor = w.root if by_root else w.sig_sysop
    until = utcnow() + timedelta(days=3) if outcome in ("suspended", "silenced") else None
    mod.resolve_flags(actor, w.post.id, outcome, reason, until=until)
    post = db.session.get(Post, w.post.id)
    db.session.refresh(post)
    assert post.is_hidden and not post.hidden_by_flags and post.hidden_by == "sysop"
    assert (post.hidden_by_id, post.hide_reason) == (actor.id, reason or None)
    assert post.is_deleted == (outcome == "deleted")
    assert db.session.scalar(select(Flag.id).where(Flag.resolved_at.is_(None))) is None
    told = db.session.scalars(
        select(Notification.data)
        .where(Notification.user_id == w.author.id, Notification.kind == "post_hidden")
        .order_by(Notification.id)
    ).all()
    if outcome == "deleted":
        # The deletion is what the author hears of, not a hide of a post that is gone.
        assert told == [{"by": "flags"}]
        assert db.session.scalar(
            select(Notification.id).where(
                Notification.user_id == w.author.id, Notification.kind == "post_deleted"
            )
        )
    else:
        # As on "hidden": the sysop's hide, from the sysop.
        assert told == [{"by": "flags"}, {"reason": reason} if reason else {}]
        page = browser(w.root).text(f"/t/{w.topic.id}")
        assert "members’ flags" not in page and "a sysop will look" not in page
        assert ("hidden by a sysop: " + reason if reason else "hidden by a sysop") in page


def build_world_post(w, f):
    """Another reply by the author, flagged by the member."""
    reply = f.reply(w.author, w.topic, "One more reply by the author.")
    mod.flag_post(w.member, reply.id, "spam")
    return reply


# --- the migration ------------------------------------------------------------------------------
BEFORE_FLAGS_COLUMN = "0037_mod_action_params"
OLD_REASON = "Hidden after 2 flags weighing 2.5; waiting for a sysop."


def test_the_migration_converts_the_english_of_automatic_hides_and_back(
    base_config, empty_database
):
    """Rows an automatic hide wrote before (the English sentence as the post's reason, the log
    entry's reason and the notification's) become the column, params and {"by": "flags"} while
    a flag on the post is open; a post whose flags a sysop handled becomes that sysop's hide
    (it said "waiting for a sysop" after one had); a sysop's reason stays; the downgrade writes
    the sentences back, into the notifications too."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect, text

    from forum import create_app
    from forum.timeutil import utcnow

    from . import factories as fx

    migrated = create_app({**base_config, "DATABASE_URL": empty_database})
    with migrated.app_context():
        upgrade()
        root = fx.sysop("root")
        author, flagger = fx.user("author"), fx.user("flagger")
        sig = fx.sig("main", members=[author, flagger])
        topic = fx.topic(author, sig, "A topic about things", "First post.")
        names = ("auto", "old", "sysop", "handled", "warned", "flagless")
        ids = {name: fx.reply(author, topic, f"Reply {name}").id for name in names}
        author_id, flagger_id, root_id = author.id, flagger.id, root.id
        db.session.commit()
        db.session.remove()
        downgrade(revision=BEFORE_FLAGS_COLUMN)
        assert "hidden_by_flags" not in {c["name"] for c in inspect(db.engine).get_columns("posts")}
        now = utcnow()
        with db.engine.begin() as conn:
            hide = text(
                "UPDATE posts SET hidden_at = :now, hidden_by_id = :by, hide_reason = :reason"
                " WHERE id = :id"
            )
            for name in ("auto", "handled", "warned", "flagless"):
                conn.execute(hide, {"now": now, "by": None, "reason": OLD_REASON, "id": ids[name]})
            conn.execute(
                hide,
                {
                    "now": now,
                    "by": None,
                    "reason": "Hidden after 3 flags; waiting for a sysop.",
                    "id": ids["old"],
                },
            )
            conn.execute(hide, {"now": now, "by": root_id, "reason": "Advert", "id": ids["sysop"]})
            flag = text(
                "INSERT INTO flags (post_id, user_id, reason, note, created_at, resolved_at,"
                " resolved_by_id, outcome) VALUES (:post, :user, 'abuse', '', :now, :resolved,"
                " :by, :outcome)"
            )
            # Open flags on the two that still wait for a sysop; the others were handled: kept
            # hidden from the queue (which did nothing to the post), or the author warned.
            for name in ("auto", "old"):
                conn.execute(
                    flag,
                    {
                        "post": ids[name],
                        "user": flagger_id,
                        "now": now,
                        "resolved": None,
                        "by": None,
                        "outcome": None,
                    },
                )
            for name, outcome in (
                ("handled", "dismissed"),
                ("handled", "hidden"),
                ("warned", "warned"),
            ):
                conn.execute(
                    flag,
                    {
                        "post": ids[name],
                        "user": flagger_id,
                        "now": now,
                        "resolved": now,
                        "by": root_id,
                        "outcome": outcome,
                    },
                )
            log = text(
                "INSERT INTO mod_actions (action, post_id, reason, details, params, created_at)"
                " VALUES (:action, :post, :reason, :details, :params, :now)"
            )
            entries = [
                ("auto_hide_post", "auto", OLD_REASON, "", None),
                ("auto_hide_post", "handled", OLD_REASON, "", None),
                ("auto_hide_post", "warned", OLD_REASON, "", None),
                ("hide_post", "sysop", "Advert", "", None),
                # An earlier round of flags, dismissed; then the one that kept it hidden, written
                # before the log's params (0037), and so only in its details.
                ("resolve_flags", "handled", "", "1 flag(s): dismissed", None),
                ("resolve_flags", "handled", "Rude", "1 flag(s): hidden", None),
                (
                    "resolve_flags",
                    "warned",
                    "Be civil",
                    "1 flag(s): warned",
                    '{"count": 1, "outcome": "warned"}',
                ),
            ]
            for action, name, reason, details, params in entries:
                conn.execute(
                    log,
                    {
                        "action": action,
                        "post": ids[name],
                        "reason": reason,
                        "details": details,
                        "params": params,
                        "now": now,
                    },
                )
            note = text(
                "INSERT INTO notifications (user_id, kind, actor_id, post_id, data, created_at)"
                " VALUES (:user, 'post_hidden', :actor, :post, :data, :now)"
            )
            for name, actor, data in (
                ("auto", flagger_id, f'{{"reason": "{OLD_REASON}"}}'),
                ("handled", flagger_id, f'{{"reason": "{OLD_REASON}"}}'),
                ("sysop", root_id, '{"reason": "Advert"}'),
            ):
                conn.execute(
                    note,
                    {
                        "user": author_id,
                        "actor": actor,
                        "post": ids[name],
                        "data": data,
                        "now": now,
                    },
                )
        upgrade()
        posts = {
            row.id: (row.hidden_by_flags, row.hidden_by_id, row.hide_reason)
            for row in db.session.execute(
                select(Post.id, Post.hidden_by_flags, Post.hidden_by_id, Post.hide_reason)
            )
        }
        assert posts[ids["auto"]] == (True, None, None)
        assert posts[ids["old"]] == (True, None, None)
        assert posts[ids["sysop"]] == (False, root_id, "Advert")
        # Handled: the hide of the sysop who resolved the flags, with the reason they gave when
        # they chose to keep it hidden, and none when they warned the author instead.
        assert posts[ids["handled"]] == (False, root_id, "Rude")
        assert posts[ids["warned"]] == (False, root_id, None)
        # No flag left (its flaggers' accounts deleted): in no queue, so not waiting either.
        assert posts[ids["flagless"]] == (False, None, None)
        auto_entry = db.session.scalar(
            select(ModAction).where(
                ModAction.action == "auto_hide_post", ModAction.post_id == ids["auto"]
            )
        )
        assert (auto_entry.reason, auto_entry.params) == ("", {"flags": 2, "weight": 2.5})
        assert auto_entry.details == "2 flags weighing 2.5"
        sysop_entry = db.session.scalar(select(ModAction).where(ModAction.action == "hide_post"))
        assert (sysop_entry.reason, sysop_entry.params) == ("Advert", None)
        from forum.notifications.models import Notification

        told = {n.post_id: n for n in db.session.scalars(select(Notification))}
        assert (told[ids["auto"]].data, told[ids["auto"]].actor_id) == ({"by": "flags"}, None)
        assert (told[ids["handled"]].data, told[ids["handled"]].actor_id) == (
            {"by": "flags"},
            None,
        )
        assert (told[ids["sysop"]].data, told[ids["sysop"]].actor_id) == (
            {"reason": "Advert"},
            root_id,
        )
        db.session.remove()
        downgrade(revision=BEFORE_FLAGS_COLUMN)
        with db.engine.connect() as conn:
            reasons = dict(
                conn.execute(
                    text("SELECT id, hide_reason FROM posts WHERE hidden_at IS NOT NULL")
                ).all()
            )
            logged = set(
                conn.execute(
                    text(
                        "SELECT action, post_id, reason FROM mod_actions"
                        " WHERE action IN ('auto_hide_post', 'hide_post')"
                    )
                ).all()
            )
            notes = {
                post_id: (json.loads(data) if isinstance(data, str) else data, actor)
                for post_id, data, actor in conn.execute(
                    text("SELECT post_id, data, actor_id FROM notifications")
                ).all()
            }
        # The old entry had no log row of its own to read the count from: no reason comes back.
        # A handled post stays the sysop's hide.
        assert reasons == {
            ids["auto"]: OLD_REASON,
            ids["old"]: None,
            ids["sysop"]: "Advert",
            ids["handled"]: "Rude",
            ids["warned"]: None,
            ids["flagless"]: None,
        }
        assert logged == {
            ("auto_hide_post", ids["auto"], OLD_REASON),
            ("auto_hide_post", ids["handled"], OLD_REASON),
            ("auto_hide_post", ids["warned"], OLD_REASON),
            ("hide_post", ids["sysop"], "Advert"),
        }
        # The notifications say the sentence again; the flagger they named is not restored.
        assert notes == {
            ids["auto"]: ({"reason": OLD_REASON}, None),
            ids["handled"]: ({"reason": OLD_REASON}, None),
            ids["sysop"]: ({"reason": "Advert"}, root_id),
        }
        upgrade()
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize(
    ("language", "lead"),
    [
        ("en", "members’ flags hid one of your posts on Forum until a sysop looks at it:"),
        (
            "de",
            "nach Meldungen von Mitgliedern wurde einer deiner Beiträge im Forum „Forum“ "
            "ausgeblendet, bis ein Sysop ihn prüft:",
        ),
        (
            "es",
            "las denuncias de los miembros ocultaron uno de tus mensajes en el foro «Forum» "
            "hasta que un sysop lo revise:",
        ),
    ],
)
def test_the_authors_mail_says_members_flags_hid_the_post(app, f, inbox, language, lead):
    from forum.db import transaction

    from .mailbox import text_of
    from .test_notification_mail import deliver

    w = build_world()
    with transaction():
        w.author.preferences = {"mail": {"moderation": "now", "reply": "off"}}
        w.author.language = language
    _auto_hide(w, f)
    deliver(app)
    (message,) = inbox.messages
    text = " ".join(text_of(message).split())
    assert lead in text
    assert "a sysop hid" not in text.lower() and "Hidden after" not in text
    assert "Sysop hat" not in text and "un sysop ocultó" not in text


def test_the_flag_that_hides_the_post_sends_its_flagger_to_the_topic(app, f, browser, monkeypatch):
    """The flagger whose flag hid the post no longer sees it: her thanks came on a 404 (the
    post's address). She goes back to the topic page the post was on, told that the post is
    hidden for now; to the SIG's page when it was the topic's only post (the usual spam topic:
    the topic is not there for her any more, and its address was a 404 too)."""
    from forum.accounts.models import TL_MEMBER
    from forum.admin import services as admin_services

    w = build_world()  # the member's flag (basic: 1) is on the post
    admin_services.update_settings(w.root, {"auto_hide_threshold": "2"})
    trusted = f.user("trusted", trust_level=TL_MEMBER)
    f.join(trusted, w.sig)
    spam = f.topic(w.victim, w.sig, "Cheap watches", "Buy cheap watches here.")
    mod.flag_post(w.member, spam.first_post_id, "spam")
    monkeypatch.setitem(app.config, "POSTS_PER_PAGE", 1)  # the post (number 2) is on page 2
    client = browser(trusted)
    response = client.form(f"/p/{w.post.id}/flag", {"reason": "abuse"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/t/{w.topic.id}/{w.topic.slug}?page=2"
    page = client.text(response.headers["Location"])
    assert "The post is hidden until a sysop has looked at it." in page
    assert "The sysops will look at this post." not in page
    assert client.get(f"/p/{w.post.id}").status_code == 404
    # The topic's only post: the SIG's page, with the same thanks.
    response = client.form(f"/p/{spam.first_post_id}/flag", {"reason": "spam"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/s/{w.sig.slug}/"
    page = client.text(response.headers["Location"])
    assert "The post is hidden until a sysop has looked at it." in page
    assert "Cheap watches" not in page
    assert client.get(f"/t/{spam.id}").status_code == 404
    # A flag that hides nothing goes back to the post, as before.
    admin_services.update_settings(w.root, {"auto_hide_threshold": "5"})
    other = build_world_post(w, f)
    response = browser(w.victim).form(f"/p/{other.id}/flag", {"reason": "spam"})
    assert response.headers["Location"] == f"/p/{other.id}"


@pytest.mark.parametrize(
    ("language", "lead", "quote"),
    [
        ("en", "members’ flags hid 2 of your posts on Forum until a sysop looks at them:", "“"),
        (
            "de",
            "nach Meldungen von Mitgliedern wurden 2 deiner Beiträge im Forum „Forum“ "
            "ausgeblendet, bis ein Sysop sie prüft:",
            "„",
        ),
        (
            "es",
            "las denuncias de los miembros ocultaron 2 de tus mensajes en el foro «Forum» "
            "hasta que un sysop los revise:",
            "«",
        ),
    ],
)
def test_one_mail_of_two_hidden_posts_counts_them(app, f, inbox, language, lead, quote):
    """A topic's notifications come in one mail: two posts the flags hid were "one of your
    posts", and their excerpts were quoted in English marks in every language."""
    from forum.db import transaction

    from .mailbox import text_of
    from .test_notification_mail import deliver

    w = build_world()
    second = build_world_post(w, f)  # the member has flagged both
    with transaction():
        w.author.preferences = {"mail": {"moderation": "now", "reply": "off"}}
        w.author.language = language
    _auto_hide(w, f)
    trusted = db.session.scalar(select(type(w.author)).where(type(w.author).username == "trusted"))
    mod.flag_post(trusted, second.id, "abuse")
    deliver(app)
    (message,) = inbox.messages
    text = " ".join(text_of(message).split())
    assert lead in text
    assert "one of your posts" not in text and "einer deiner" not in text
    assert f"{quote}One more reply by the author." in text


def test_a_post_the_flags_hid_and_a_sysop_then_hid_is_one_post_in_the_mail(app, f, inbox):
    """Members' flags hid the post, then a sysop handled the flags with "hidden" within
    NOTIFY_MAIL_DELAY: the one mail said "2 of your posts on Forum were hidden" and listed the
    same post twice, once as the flags' hide no sysop had looked at."""
    from forum.db import transaction

    from .mailbox import html_of, text_of
    from .test_notification_mail import deliver

    w = build_world()
    with transaction():
        w.author.preferences = {"mail": {"moderation": "now", "reply": "off"}}
    _auto_hide(w, f)
    mod.resolve_flags(w.sig_sysop, w.post.id, "hidden", "rude")
    deliver(app)
    (message,) = inbox.messages
    text = " ".join(text_of(message).split())
    assert "Hello author, a sysop hid one of your posts on Forum:" in text
    assert "A sysop hid your post in “A topic about things”: rude" in text
    assert "of your posts on Forum were hidden" not in text
    assert "members’ flags" not in text.lower()
    assert text.count(f"/p/{w.post.id}") == 1
    assert html_of(message).count(f'/p/{w.post.id}"') == 1


def test_the_mail_counts_posts_not_hides(app, f, inbox):
    """Two posts in one mail, one of them hidden by the flags and then by a sysop: two posts,
    not three."""
    from forum.db import transaction

    from .mailbox import text_of
    from .test_notification_mail import deliver

    w = build_world()
    with transaction():
        w.author.preferences = {"mail": {"moderation": "now", "reply": "off"}}
    other = f.reply(w.author, w.topic, "One more reply by the author.")
    _auto_hide(w, f)
    mod.resolve_flags(w.sig_sysop, w.post.id, "hidden", "rude")
    mod.hide_post(w.sig_sysop, other.id, "Advert")
    deliver(app)
    (message,) = inbox.messages
    text = " ".join(text_of(message).split())
    assert "Hello author, 2 of your posts on Forum were hidden:" in text
    assert "A sysop hid your post in “A topic about things”: rude" in text
    assert "A sysop hid your post in “A topic about things”: Advert" in text
    assert "Members’ flags hid your post" not in text


def test_one_mail_of_two_deleted_posts_counts_them(app, f, inbox):
    """Two of a member's posts in one topic deleted by a sysop within NOTIFY_MAIL_DELAY: the one
    mail said "a sysop deleted one of your posts"."""
    from forum.db import transaction
    from forum.topics import services as topics

    from .mailbox import text_of
    from .test_notification_mail import deliver

    w = build_world()
    with transaction():
        w.author.preferences = {"mail": {"moderation": "now", "reply": "off"}}
        w.author.language = "de"
    other = f.reply(w.author, w.topic, "One more reply by the author.")
    topics.delete_post(w.sig_sysop, w.post.id)
    topics.delete_post(w.sig_sysop, other.id)
    deliver(app)
    (message,) = inbox.messages
    text = " ".join(text_of(message).split())
    assert "Hallo author, ein Sysop hat 2 deiner Beiträge im Forum „Forum“ gelöscht:" in text
    assert "einen deiner Beiträge" not in text


def test_the_hidden_posts_mail_counts_in_plurals():
    """The counted leads are plurals (docs/translating.md): `_()` with a %(num)s said the
    number in one form, whatever the reader's language's plural rules."""
    from pathlib import Path

    from babel.messages.extract import extract_from_file

    template = Path(__file__).parents[1] / "templates/mail/notification/post_hidden.jinja"
    messages = [
        message
        for _line, message, _comments, _context in extract_from_file(
            "jinja2", str(template), keywords={"_": None, "gettext": None, "ngettext": (1, 2)}
        )
    ]
    counted = [m for m in messages if "%(num)s" in (m[0] if isinstance(m, tuple) else m)]
    assert len(counted) == 2
    assert all(isinstance(m, tuple) and len(m) == 2 for m in counted)
