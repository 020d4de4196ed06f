"""Spam cleanup in two actions: one confirmation page and one POST hide every post and topic
of a spammer (site-wide, or within one SIG), ban them, resolve their flags and log it once;
undo restores exactly what it hid."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from forum import permissions
from forum.accounts.models import User
from forum.db import transaction
from forum.errors import Forbidden
from forum.extensions import db
from forum.moderation import services as mod
from forum.moderation.models import Flag, ModAction, SpamCleanup
from forum.search import indexer
from forum.search.backend import WhooshBackend
from forum.sigs.models import Membership, SigDiscipline
from forum.topics import services as topics
from forum.topics.models import Post, Topic

from . import dbstate, factories

RESULT_RE = re.compile(r'class="search-result-title"><a href="([^"]+)">')
WORD = "cheapwatches"


@pytest.fixture(autouse=True)
def index(app: Flask, tmp_path: Path) -> Any:
    app.config["INDEX_DIR"] = str(tmp_path / "index")
    indexer.replace_backend(app, WhooshBackend(app.config["INDEX_DIR"]))
    yield indexer.get_backend(app)
    indexer.get_backend(app).close()


class Spam:
    def __init__(self) -> None:
        f = factories
        with transaction():
            self.root = f.sysop("root")
            self.spammer = f.user("spammer")
            self.member = f.user("member")
            self.sig_sysop = f.user("sigsysop")
            people = [self.spammer, self.member]
            self.sigs = [
                f.sig("alpha", members=people, sysops=[self.sig_sysop]),
                f.sig("beta", members=people),
                f.sig("gamma", members=people),
            ]
            self.good = [
                f.topic(self.member, s, f"Honest talk {s.slug}", "Real.") for s in self.sigs
            ]
            self.spam_topics = [
                f.topic(self.spammer, s, f"Buy now {s.slug}", f"{WORD} topic {s.slug}")
                for s in self.sigs
            ]
            # 3 first posts + 27 replies = 30 posts, ten in each SIG.
            self.earlier = f.reply(self.spammer, self.good[0], "Hidden earlier, for other reasons.")
            for i in range(27):
                f.reply(self.spammer, self.good[i % 3], f"{WORD} offer number{i}")
            self.flagged = f.reply(self.member, self.good[1], "A member's honest reply.")
        mod.hide_post(self.root, self.earlier.id, "Off-topic.")
        self.spam_post = db.session.scalar(
            select(Post).where(Post.body_raw == f"{WORD} offer number1")
        )
        mod.flag_post(self.member, self.spam_post.id, "spam")
        self.ids = set(
            db.session.scalars(
                select(Post.id).where(Post.user_id == self.spammer.id, Post.hidden_at.is_(None))
            )
        )
        assert len(self.ids) == 30


def _forget() -> None:
    db.session.expire_all()
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, User):
            permissions.forget_memberships(obj)


def _hidden(ids: set[int]) -> set[int]:
    return set(
        db.session.scalars(select(Post.id).where(Post.id.in_(ids), Post.hidden_at.is_not(None)))
    )


def _results(b: Any, q: str = WORD) -> list[str]:
    return RESULT_RE.findall(b.text(f"/search?q={q}"))


def test_delete_spammer_hides_thirty_posts_in_three_sigs_in_one_confirm_and_one_post(app, browser):
    s = Spam()
    reader = browser(s.member)
    spammer = browser(s.spammer)
    assert len(_results(reader)) == 20  # a full first page of results
    root = browser(s.root)
    confirm = root.get("/mod/u/spammer/spam")
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert "30 posts" in page and "3 topics" in page and "Alpha, Beta, Gamma" in page
    assert 'name="csrf_token"' in page  # a plain form: no JavaScript needed
    before = db.session.scalar(select(func.count(ModAction.id)))
    response = root.form("/mod/u/spammer/spam", {"reason": "Watch spam."})
    assert response.status_code == 302
    assert _hidden(s.ids) == s.ids
    # One log entry, with the count.
    entries = list(db.session.scalars(select(ModAction).where(ModAction.id > before)))
    assert [e.action for e in entries] == ["delete_spammer"]
    assert entries[0].details.startswith("30 posts, 3 topics hidden")
    assert entries[0].target_user_id == s.spammer.id
    # Banned site-wide, sessions ended, flags resolved.
    spammer_row = db.session.get(User, s.spammer.id)
    assert spammer_row.is_banned
    assert spammer.get("/settings").status_code in (302, 401)
    flag = db.session.scalar(select(Flag).where(Flag.post_id == s.spam_post.id))
    assert flag.resolved_at is not None and flag.outcome == "spam"
    # Gone from search and from every page.
    assert _results(reader) == []
    for topic in s.good:
        assert WORD not in reader.text(f"/t/{topic.id}?page=1")
    for topic in s.spam_topics:
        assert reader.get(f"/t/{topic.id}").status_code == 404
    for sig in s.sigs:
        assert "Buy now" not in reader.text(f"/s/{sig.slug}/")
    # Undo from the log entry: exactly those 30 come back; the one hidden earlier stays hidden.
    log = root.text("/mod/log")
    cleanup = db.session.scalar(select(SpamCleanup))
    assert f"/mod/cleanups/{cleanup.id}/undo" in log
    assert root.form(f"/mod/cleanups/{cleanup.id}/undo").status_code == 302
    assert _hidden(s.ids) == set()
    assert _hidden({s.earlier.id}) == {s.earlier.id}
    assert not db.session.get(User, s.spammer.id).is_banned
    assert db.session.scalar(select(func.count(Topic.id)).where(Topic.deleted_at.is_not(None))) == 0
    assert len(_results(reader)) == 20
    assert f"/mod/cleanups/{cleanup.id}/undo" not in root.text("/mod/log")
    assert root.form(f"/mod/cleanups/{cleanup.id}/undo").status_code in (302, 409)
    actions = list(db.session.scalars(select(ModAction.action).where(ModAction.id > before)))
    assert actions == ["delete_spammer", "undo_spam_cleanup"]


def test_a_sig_sysop_cleans_up_only_within_their_sig(app, browser):
    s = Spam()
    sysop = browser(s.sig_sysop)
    alpha = s.sigs[0]
    page = sysop.text(f"/mod/u/spammer/spam?sig={alpha.id}")
    assert "10 posts" in page and "1 topic" in page
    response = sysop.form("/mod/u/spammer/spam", {"sig": str(alpha.id), "reason": ""})
    assert response.status_code == 302
    in_alpha = set(
        db.session.scalars(
            select(Post.id)
            .join(Topic, Topic.id == Post.topic_id)
            .where(Post.id.in_(s.ids), Topic.sig_id == alpha.id)
        )
    )
    assert len(in_alpha) == 10 and _hidden(s.ids) == in_alpha
    assert not db.session.get(User, s.spammer.id).is_banned  # site-wide: untouched
    assert (
        db.session.scalar(
            select(Membership.id).where(
                Membership.user_id == s.spammer.id, Membership.sig_id == alpha.id
            )
        )
        is None
    )
    ban = db.session.scalar(select(SigDiscipline))
    assert (ban.sig_id, ban.kind) == (alpha.id, "ban")
    entry = db.session.scalar(select(ModAction).where(ModAction.action == "remove_spammer"))
    assert entry.sig_id == alpha.id and entry.details.startswith("10 posts, 1 topics hidden")
    # The spammer's flag was in beta: not theirs to resolve.
    assert db.session.scalar(select(Flag.resolved_at)) is None
    # They undo it too, from their own log.
    cleanup = db.session.scalar(select(SpamCleanup))
    assert sysop.form(f"/mod/cleanups/{cleanup.id}/undo").status_code == 302
    assert _hidden(s.ids) == set()
    assert db.session.get(SigDiscipline, ban.id).lifted_at is not None


def test_who_may_not_delete_a_spammer(app, browser):
    s = Spam()
    # A member: neither the page nor the action.
    member = browser(s.member)
    assert member.get("/mod/u/spammer/spam").status_code == 403
    assert member.form("/mod/u/spammer/spam", {"reason": "x"}).status_code == 403
    # A SIG sysop: not the site-wide action, and not in a SIG they do not moderate.
    sysop = browser(s.sig_sysop)
    assert sysop.get("/mod/u/spammer/spam").status_code == 403
    assert sysop.form("/mod/u/spammer/spam", {"reason": "x"}).status_code == 403
    beta = s.sigs[1]
    assert sysop.form("/mod/u/spammer/spam", {"sig": str(beta.id)}).status_code == 403
    with pytest.raises(Forbidden):
        mod.delete_spammer(s.sig_sysop, s.spammer.id)
    _forget()
    assert _hidden(s.ids) == set()
    assert db.session.scalar(select(SpamCleanup.id)) is None
    # Nor can a SIG sysop undo the sysop's cleanup.
    cleanup = mod.delete_spammer(s.root, s.spammer.id)
    assert sysop.form(f"/mod/cleanups/{cleanup.id}/undo").status_code == 404
    # The sysop menu of a post offers each what they may do.
    page = sysop.text(f"/t/{s.good[0].id}?page=1")
    assert "Delete spammer" not in page


def test_a_spammer_posting_while_the_cleanup_runs_is_refused(app, monkeypatch):
    s = Spam()
    original = topics.screen_post

    def cleanup_meanwhile(author: Any, sig: Any, text: str) -> Any:
        # The request has checked the spammer's standing; the cleanup commits now.
        mod.delete_spammer(s.root, s.spammer.id, "Spam wave.")
        return original(author, sig, text)

    monkeypatch.setattr(topics, "screen_post", cleanup_meanwhile)
    with pytest.raises(Forbidden, match="banned"):
        topics.reply_to_topic(s.spammer, s.good[2].id, f"{WORD} one more")
    monkeypatch.setattr(topics, "screen_post", original)
    db.session.rollback()
    _forget()
    assert db.session.scalar(select(Post.id).where(Post.body_raw == f"{WORD} one more")) is None
    assert _hidden(s.ids) == s.ids


def test_the_posts_keep_only_what_the_sysop_typed(app, f, browser):
    """A cleanup with no reason typed stored the English "spam" as each post's hide_reason: a
    German page read "von einem Sysop ausgeblendet: spam". A post that members' flags had hidden
    is the sysop's after the cleanup (its flags are resolved), and stays so on an undo."""
    from forum.accounts.models import TL_MEMBER
    from forum.admin import services as admin_services

    from .mod_support import build_world

    w = build_world()
    admin_services.update_settings(w.root, {"auto_hide_threshold": "2"})
    trusted = f.user("trusted", trust_level=TL_MEMBER)
    f.join(trusted, w.sig)
    mod.flag_post(trusted, w.post.id, "abuse")  # 1 + 1.5: hidden by the flags
    first = f.first_post(w.topic)
    cleanup = mod.delete_spammer(w.root, w.author.id)
    _forget()
    auto, own = db.session.get(Post, w.post.id), db.session.get(Post, first.id)
    assert (own.hidden_by, own.hide_reason, own.hidden_by_id) == ("sysop", None, w.root.id)
    assert (auto.hidden_by, auto.hide_reason, auto.hidden_by_id) == ("sysop", None, w.root.id)
    entry = db.session.get(ModAction, cleanup.mod_action_id)
    assert entry.reason == "spam"  # the log keeps it, as the ban does
    w.sig_sysop.language = "de"
    db.session.commit()
    page = browser(w.sig_sysop).text(f"/t/{w.topic.id}")
    assert "von einem Sysop ausgeblendet</span>" in page
    assert "ausgeblendet: spam" not in page and "Meldungen von Mitgliedern" not in page
    mod.undo_spam_cleanup(w.root, cleanup.id)
    _forget()
    assert db.session.get(Post, first.id).is_public
    auto = db.session.get(Post, w.post.id)
    assert auto.is_hidden and auto.hidden_by == "sysop"  # not restored: the flags hid it


def test_a_typed_reason_is_each_posts_reason(app, f):
    from .mod_support import build_world

    w = build_world()
    mod.delete_spammer(w.root, w.author.id, "Watch adverts.")
    _forget()
    assert db.session.get(Post, w.post.id).hide_reason == "Watch adverts."


def test_a_cleanup_without_a_reason_says_spam_in_each_reader_s_language(app, browser):
    """The reason a cleanup gives when the sysop typed none is kept as the word "spam" (as a
    typed reason is kept) and said in the reader's language wherever a ban's reason is shown:
    the banned member's login and join refusals, their settings, the member panel, the log."""
    from forum.accounts import services as accounts

    s = Spam()
    accounts.set_language(s.root, "de")
    accounts.set_language(s.sig_sysop, "es")
    accounts.set_language(s.spammer, "de")
    mod.remove_spammer_from_sig(s.sig_sysop, s.spammer.id, s.sigs[0].id)
    ban = db.session.scalar(select(SigDiscipline).where(SigDiscipline.user_id == s.spammer.id))
    assert ban.reason == "spam"
    # The spammer reads German: their settings and the join refusal say "Spam".
    spammer = browser(s.spammer)
    standing = spammer.text("/settings")
    assert "Du bist für Alpha gesperrt: Spam." in standing and ": spam" not in standing
    refused = spammer.form("/s/alpha/join", follow_redirects=True).get_data(as_text=True)
    assert "Du bist für Alpha gesperrt und kannst nicht beitreten: Spam" in refused
    # The SIG's sysop reads Spanish ("spam" is Spanish too); root reads German.
    assert "Bloqueado en Alpha desde el" in browser(s.sig_sysop).text("/mod/u/spammer")
    mod.delete_spammer(s.root, s.spammer.id)
    assert db.session.get(User, s.spammer.id).ban_reason == "spam"
    root = browser(s.root)
    panel = root.text("/mod/u/spammer")
    assert re.search(r"Gesperrt seit dem [^<]*Uhr: Spam<", panel)
    assert "Uhr: spam<" not in panel and "Uhr: Spam</li>" in panel
    log = root.text("/mod/log")
    assert "<td>Spam" in log and "<td>spam" not in log
    # The banned spammer's login, in German and in Spanish.
    for language, said in (
        ("de", "Dieses Konto ist gesperrt: Spam."),
        ("es", "Esta cuenta está bloqueada: spam."),
    ):
        guest = browser(None)
        page = guest.form(
            "/login",
            {"login": "spammer", "password": factories.PASSWORD},
            headers={"Accept-Language": language},
        ).get_data(as_text=True)
        assert said in page, language
    # A reason a sysop typed stays as typed.
    accounts.set_language(s.root, "es")
    with transaction():
        db.session.get(User, s.spammer.id).ban_reason = "Relojes baratos"
    assert "Relojes baratos" in browser(s.root).text("/mod/u/spammer")


def test_an_older_cleanups_spam_reason_on_a_post_reads_in_the_readers_language(
    app, f, browser, inbox
):
    """Before the cleanups stored no reason on the posts, one with none typed stored "spam" as
    each post's hide_reason and {"reason": "spam"} in the author's notification: a German page
    read "von einem Sysop ausgeblendet: spam", the notification and its mail "…: spam"."""
    from forum.notifications.models import Notification

    from .mailbox import text_of
    from .mod_support import build_world
    from .test_notification_mail import deliver

    w = build_world()
    with transaction():
        w.author.preferences = {"mail": {"moderation": "now", "reply": "off"}}
        w.author.language = "de"
    # The rows such a cleanup left (a sysop who types the very word means the same).
    mod.hide_post(w.root, w.post.id, "spam")
    _forget()
    assert db.session.get(Post, w.post.id).hide_reason == "spam"
    note = db.session.scalar(
        select(Notification).where(
            Notification.user_id == w.author.id, Notification.kind == "post_hidden"
        )
    )
    assert note.data == {"reason": "spam"}
    said = "Ein Sysop hat deinen Beitrag in „A topic about things“ ausgeblendet: Spam"
    deliver(app)  # before the browser signs in, which mails the author too
    (message,) = inbox.messages
    text = " ".join(text_of(message).split())
    assert said in text and "ausgeblendet: spam" not in text
    page = browser(w.author).text(f"/t/{w.topic.id}")
    assert "von einem Sysop ausgeblendet: Spam</span>" in page
    assert "ausgeblendet: spam" not in page
    notifications = browser(w.author).text("/notifications")
    assert said in notifications and "ausgeblendet: spam" not in notifications
    # A reason a sysop typed is shown as typed.
    other = f.reply(w.author, w.topic, "Another reply by the author.")
    mod.hide_post(w.root, other.id, "Spam-Welle")
    assert "von einem Sysop ausgeblendet: Spam-Welle" in browser(w.author).text(f"/t/{w.topic.id}")


# --- the members' counters ------------------------------------------------------------------
class Replies:
    """Members whose posts are mostly replies in topics others started (the cleanup then moves
    their counters itself: no topic of theirs is deleted and recounted). ada: a topic of her own
    in alpha, two replies in ken's topic there and two in ken's topic in beta."""

    def __init__(self) -> None:
        f = factories
        with transaction():
            self.root = f.sysop("root")
            self.ken = f.user("ken")
            self.ada = f.user("ada")
            self.spambot = f.user("spambot")
            people = [self.ken, self.ada, self.spambot]
            self.alpha = f.sig("alpha", members=people)
            self.beta = f.sig("beta", members=people)
            self.kens = f.topic(self.ken, self.alpha, "Ken asks", "A question.")
            self.kens_beta = f.topic(self.ken, self.beta, "Ken asks again", "Another one.")
            f.topic(self.ada, self.alpha, "Ada's own", "Her first post.")
            for topic in (self.kens, self.kens_beta):
                f.reply(self.ada, topic, f"Ada answers in {topic.title}.")
                f.reply(self.ada, topic, f"Ada adds more in {topic.title}.")
            f.reply(self.spambot, self.kens, f"{WORD} here")
            f.reply(self.spambot, self.kens, f"{WORD} again")


def _member_counts(user: User) -> tuple[int, int]:
    """The member's stored post and topic counters, read from the row."""
    row = db.session.execute(
        select(User.post_count, User.topic_count).where(User.id == user.id)
    ).one()
    return (row.post_count, row.topic_count)


def test_a_cleanup_counts_every_reply_it_hides_and_its_undo_every_one_it_restores(app, browser):
    """A cleanup of a member with several replies in topics others started lowered their post
    counter by one (2 to 1: "1 post" on their profile, next to "No posts you can see")."""
    r = Replies()
    assert _member_counts(r.spambot) == (2, 0)
    root = browser(r.root)
    assert root.form("/mod/u/spambot/spam", {"reason": ""}).status_code == 302
    assert _member_counts(r.spambot) == (0, 0)
    profile = browser(r.ada).text("/u/spambot")
    assert "0 posts" in profile and "No posts you can see." in profile
    assert "1 post" not in profile
    dbstate.assert_counters_exact()
    cleanup = db.session.scalar(select(SpamCleanup))
    assert root.form(f"/mod/cleanups/{cleanup.id}/undo").status_code == 302
    assert _member_counts(r.spambot) == (2, 0)
    assert "2 posts" in browser(r.ada).text("/u/spambot")
    dbstate.assert_counters_exact()


def test_a_cleanup_in_one_sig_counts_every_reply_it_hides_there(app, browser):
    """ada's two replies in beta, hidden by a cleanup in beta only: 5 posts to 3 (not 4); the
    undo brings back 5. Site-wide, her topic goes too: no post and no topic left."""
    r = Replies()
    assert _member_counts(r.ada) == (5, 1)
    root = browser(r.root)
    assert root.get(f"/mod/u/ada/spam?sig={r.beta.id}").status_code == 200
    response = root.form("/mod/u/ada/spam", {"sig": str(r.beta.id), "reason": ""})
    assert response.status_code == 302
    assert _member_counts(r.ada) == (3, 1)
    dbstate.assert_counters_exact()
    in_beta = db.session.scalar(select(SpamCleanup))
    assert root.form(f"/mod/cleanups/{in_beta.id}/undo").status_code == 302
    assert _member_counts(r.ada) == (5, 1)
    dbstate.assert_counters_exact()
    assert root.form("/mod/u/ada/spam", {"reason": ""}).status_code == 302
    assert _member_counts(r.ada) == (0, 0)
    dbstate.assert_counters_exact()
    site_wide = db.session.scalar(select(SpamCleanup).order_by(SpamCleanup.id.desc()))
    assert root.form(f"/mod/cleanups/{site_wide.id}/undo").status_code == 302
    assert _member_counts(r.ada) == (5, 1)
    dbstate.assert_counters_exact()


def test_the_cleaned_up_member_reads_their_counts_afresh_in_the_same_request(app):
    """The verbs run in the request that renders the page after them: the member's object the
    session holds reads the counters the cleanup and its undo wrote, not what it loaded."""
    r = Replies()
    spambot = db.session.get(User, r.spambot.id)
    assert spambot.post_count == 2
    cleanup = mod.delete_spammer(r.root, spambot.id)
    assert (spambot.post_count, spambot.topic_count) == (0, 0)
    mod.undo_spam_cleanup(r.root, cleanup.id)
    assert (spambot.post_count, spambot.topic_count) == (2, 0)


def test_a_cleanup_leaves_uncounted_the_replies_in_a_topic_deleted_before(app, browser):
    """A reply in a deleted topic counts for nobody: hiding it (ada's two in ken's deleted
    topic in beta), and restoring it on the undo while its topic stays deleted, moves no
    counter."""
    r = Replies()
    mod.delete_topic(r.root, r.kens_beta.id)
    assert _member_counts(r.ada) == (3, 1)
    root = browser(r.root)
    response = root.form("/mod/u/ada/spam", {"sig": str(r.beta.id), "reason": ""})
    assert response.status_code == 302
    assert _member_counts(r.ada) == (3, 1)
    dbstate.assert_counters_exact()
    cleanup = db.session.scalar(select(SpamCleanup))
    assert root.form(f"/mod/cleanups/{cleanup.id}/undo").status_code == 302
    assert _member_counts(r.ada) == (3, 1)
    dbstate.assert_counters_exact()


def test_a_cleanup_that_hides_the_last_replies_readers_see_uncounts_the_topic(app, browser):
    """ken's topic, its first post hidden, is seen for spambot's replies alone: the cleanup
    takes it out of ken's topics, and the undo puts it back."""
    r = Replies()
    mod.hide_post(r.root, r.kens.first_post_id, "")
    for post in db.session.scalars(
        select(Post).where(Post.topic_id == r.kens.id, Post.user_id == r.ada.id)
    ):
        mod.hide_post(r.root, post.id, "")
    assert _member_counts(r.ken) == (1, 2)
    root = browser(r.root)
    assert root.form("/mod/u/spambot/spam", {"reason": ""}).status_code == 302
    assert _member_counts(r.ken) == (1, 1)
    dbstate.assert_counters_exact()
    cleanup = db.session.scalar(select(SpamCleanup))
    assert root.form(f"/mod/cleanups/{cleanup.id}/undo").status_code == 302
    assert _member_counts(r.ken) == (1, 2)
    dbstate.assert_counters_exact()


def test_the_sysop_is_told_of_the_ban_as_well_as_the_hidden_posts(app, browser):
    """It said "30 posts of spammer were hidden." and not a word of the ban it had laid."""
    s = Spam()
    sysop = browser(s.sig_sysop)
    alpha = s.sigs[0]
    response = sysop.form("/mod/u/spammer/spam", {"sig": str(alpha.id), "reason": ""})
    assert "spammer is removed from Alpha and banned from it; 10 posts were hidden." in (
        sysop.text(response.headers["Location"])
    )
    root = browser(s.root)
    response = root.form("/mod/u/spammer/spam", {"reason": ""})
    assert "spammer is banned site-wide and signed out; 20 posts were hidden." in (
        root.text(response.headers["Location"])
    )
    # Banned already: the cleanup laid no ban, and says only what it hid.
    spammer = db.session.get(User, s.spammer.id)
    banned_at, spammer.banned_at = spammer.banned_at, None
    db.session.commit()
    factories.reply(s.spammer, s.good[2], f"{WORD} once more")
    db.session.get(User, s.spammer.id).banned_at = banned_at
    db.session.commit()
    response = root.form("/mod/u/spammer/spam", {"reason": ""})
    page = root.text(response.headers["Location"])
    assert "1 post of spammer was hidden." in page and "banned site-wide" not in page
