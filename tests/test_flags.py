"""Flags: members report posts; sysops see them grouped in /mod, claim, note and handle them."""

from __future__ import annotations

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
    assert response.status_code == 302
    assert "Give a reason" in sysop.text("/mod")
    assert db.session.scalar(select(Flag.resolved_at).where(Flag.post_id == w.post.id)) is None


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
