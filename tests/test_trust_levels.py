"""Trust levels: new accounts' limits and what lifts them, the reading clock, the review that
raises members (and lowers a regular), the sysop's hand, and flags weighed by level."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from forum import permissions, trust
from forum.accounts.models import TL_BASIC, TL_MEMBER, TL_NEW, TL_REGULAR, User
from forum.admin import services as admin_services
from forum.db import transaction
from forum.errors import Forbidden, Invalid
from forum.extensions import db
from forum.messages import services as mail_services
from forum.moderation import services as mod
from forum.moderation.models import ModAction
from forum.pulse.models import MemberVisit
from forum.timeutil import utcnow
from forum.topics.models import Post, TopicRead
from forum.trust import services
from forum.trust.reading import READ_GAP_SECONDS, ReadingClock

from .mailbox import mails

FIVE_LINKS = (
    "Great deals: https://spam.example/a https://spam.example/b https://spam.example/c "
    "https://spam.example/d and [more](https://spam.example/e)"
)


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def reload(user: User) -> User:
    db.session.rollback()
    db.session.expire_all()
    found = db.session.get(User, user.id)
    assert found is not None
    return found


def newcomer(f: Any, name: str = "newbie") -> User:
    return f.user(name, trust_level=TL_NEW)


def settings(**values: int) -> None:
    root = db.session.scalar(select(User).where(User.role == "sysop")) or None
    assert root is not None
    admin_services.update_settings(root, {k: str(v) for k, v in values.items()})


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(app: Any) -> FakeClock:
    fake = FakeClock()
    trust.reading_clock(app).clock = fake
    return fake


# --- done when: a fresh account tries to post five links and is told why not -----------------
def finish_link(outbox: Path) -> str:
    (mail,) = mails(outbox)
    match = re.search(r"https?://[^/\s]+(/register/finish/\S+)", mail.get_content())
    assert match, mail.get_content()
    return match.group(1)


def test_a_fresh_account_posting_five_links_is_told_why_not_and_what_lifts_it(
    app, client, f, outbox
):
    f.sysop("root")
    ada = f.user("ada")
    sig = f.sig("lounge", members=[ada])
    topic = f.topic(ada, sig, "Say hello")
    assert (
        client.form("/register", {"username": "fresh", "email": "fresh@example.com"}).status_code
        == 302
    )
    assert (
        client.form(finish_link(outbox), {"password": "a-long-enough-password"}).status_code == 302
    )
    fresh = db.session.scalar(select(User).where(User.username == "fresh"))
    assert fresh is not None and fresh.trust_level == TL_NEW

    # The composer says it before the limit is met.
    assert "New accounts: up to 2 links a post." in html(client.get(f"/t/{topic.id}/reply"))
    before = db.session.scalar(select(func.count(Post.id)))
    response = client.form(f"/t/{topic.id}/reply", {"body": FIVE_LINKS})
    assert response.status_code == 400
    text = html(response)
    assert "New accounts can put 2 links in a post; this one has 5." in text
    assert (
        "It lifts once you have read 5 more topics, spent 10 more minutes reading and been "
        "registered for 24 more hours." in text
    )
    assert "https://spam.example/e" in text  # what they wrote is still in the box
    assert db.session.scalar(select(func.count(Post.id))) == before
    # A new topic, the same; two links go through.
    refused = client.form(f"/s/{sig.slug}/new", {"title": "Deals", "body": FIVE_LINKS})
    assert refused.status_code == 400 and "this one has 5" in html(refused)
    two = client.form(
        f"/t/{topic.id}/reply", {"body": "Hi! https://my.example and https://blog.example"}
    )
    assert two.status_code == 302


def test_the_refusal_is_in_the_members_language(app, make_client, f):
    f.sysop("root")
    new = newcomer(f)
    sig = f.sig("lounge", members=[new])
    topic = f.topic(f.user("ada"), sig, "Hallo zusammen")
    from forum.accounts import services as accounts

    accounts.set_language(new, "de")
    client = make_client()
    client.login(new.username)
    response = client.form(f"/t/{topic.id}/reply", {"body": FIVE_LINKS})
    assert response.status_code == 400
    text = html(response)
    assert "Neue Konten können 2 Links in einen Beitrag setzen; dieser hat 5." in text
    assert "5 weitere Themen gelesen" in text


def test_new_account_limits_follow_the_settings_and_spare_sig_sysops(app, f):
    f.sysop("root")
    new = newcomer(f)
    boss = newcomer(f, "boss")
    for name in ("bob", "cyd", "dee"):
        f.user(name)
    sig = f.sig("club", members=[new], sysops=[boss])
    topic = f.topic(f.user("ada"), sig)
    with pytest.raises(Invalid, match="can mention 2 members in a post; this one mentions 3"):
        f.reply(new, topic, "Hi @bob @cyd @dee")
    # The SIG's own sysop is not limited there, whatever their level.
    f.reply(
        boss, topic, "Hi @bob @cyd @dee, see https://a.example https://b.example https://c.example"
    )
    settings(new_max_links=0, new_max_mentions=0)
    with pytest.raises(Invalid, match="cannot post links yet; this post has 1"):
        f.reply(new, topic, "see www.example.com")
    with pytest.raises(Invalid, match="cannot mention members yet"):
        f.reply(new, topic, "Hi @bob")
    # Links within the forum are not links to other sites.
    f.reply(new, topic, f"As [said before](/p/{f.first_post(topic).id}) and [here](#post-1).")
    # Editing cannot add what posting could not.
    post = f.reply(new, topic, "plain words")
    from forum.topics import services as topic_services

    with pytest.raises(Invalid, match="cannot post links yet"):
        topic_services.edit_post(new, post.id, "now with https://spam.example")
    # Images: the uploads feature asks the policy.
    assert permissions.max_images_per_post(new, sig) == 0
    assert permissions.max_images_per_post(boss, sig) is None
    assert permissions.max_images_per_post(f.user("established")) is None
    assert "cannot post images yet" in permissions.new_account_content_problem(new, sig, images=1)
    settings(new_max_images=2)
    assert permissions.new_account_content_problem(new, sig, images=2) is None
    assert "can put 2 images in a post; this one has 3" in (
        permissions.new_account_content_problem(new, sig, images=3) or ""
    )


def test_new_accounts_write_a_few_posts_and_topics_a_day(app, client, f):
    f.sysop("root")
    new = newcomer(f)
    sig = f.sig("club", members=[new])
    settings(new_posts_per_day=4, new_topics_per_day=2)
    first = f.topic(new, sig, "One")
    f.topic(new, sig, "Two")
    with pytest.raises(Forbidden, match="can start 2 topics a day, and you have; you can still"):
        f.topic(new, sig, "Three")
    f.reply(new, first, "a reply")
    f.reply(new, first, "another")
    with pytest.raises(Forbidden, match="can write 4 posts a day, and you have"):
        f.reply(new, first, "one too many")
    client.login(new.username)
    response = client.form(f"/t/{first.id}/reply", {"body": "through the page"})
    assert response.status_code == 403
    assert "can write 4 posts a day" in html(response) and "It lifts once" in html(response)
    # A day later the count starts again.
    with transaction():
        db.session.execute(
            Post.__table__.update()
            .where(Post.user_id == new.id)
            .values(created_at=utcnow() - timedelta(days=1, minutes=1))
        )
    f.reply(new, first, "the next day")


def test_no_private_mail_until_basic(app, browser, f):
    f.sysop("root")
    new = newcomer(f)
    f.user("bob")
    with pytest.raises(Forbidden, match="New accounts cannot send private mail yet. It lifts"):
        mail_services.start_conversation(new, "bob", "Hi", "Hello there")
    page = browser(new).get("/mail/new?to=bob")
    assert "New accounts cannot send private mail yet" in html(page)
    with transaction():
        new.trust_level = TL_BASIC
    mail_services.start_conversation(reload(new), "bob", "Hi", "Hello there")


# --- the reading clock -----------------------------------------------------------------------
def test_the_clock_counts_time_between_pages_and_not_pauses():
    now = [0.0]
    clock = ReadingClock(lambda: now[0])
    clock.tick(1)
    now[0] += 40
    clock.tick(1)
    now[0] += READ_GAP_SECONDS + 1  # away: not counted
    clock.tick(1)
    now[0] += 20.5
    assert clock.take(1) == 60
    now[0] += 0.5  # the half second left over is kept
    assert clock.take(1) == 1
    assert clock.take(2) == 0


def test_reading_topics_makes_a_new_account_basic_at_once(app, make_client, f, clock):
    f.sysop("root")
    new = newcomer(f)
    author = f.user("ada")
    sig = f.sig("club", members=[author, new])
    topics = [f.topic(author, sig, f"Topic number {n}") for n in range(3)]
    settings(trust_basic_topics=3, trust_basic_minutes=2, trust_basic_days=0)
    client = make_client()
    client.login(new.username)
    client.get(f"/s/{sig.slug}/")
    for topic in topics:
        clock.advance(50)
        assert client.get(f"/t/{topic.id}?page=1").status_code == 200
    rows = db.session.scalars(select(TopicRead).where(TopicRead.user_id == new.id)).all()
    assert sorted(r.read_seconds for r in rows) == [50, 50, 50]
    # 3 topics and 150 s: the handler of the last TopicsRead made it basic.
    assert db.session.get(User, new.id).trust_level == TL_BASIC
    assert db.session.get(User, new.id).trust_changed_at is not None


def test_a_topic_page_adds_no_write_for_the_clock(app, make_client, f, clock, count_queries):
    f.sysop("root")
    reader = f.user("reader")
    author = f.user("ada")
    sig = f.sig("club", members=[author, reader])
    first, second = f.topic(author, sig, "First one"), f.topic(author, sig, "Second one")
    client = make_client()
    client.login(reader.username)
    client.get(f"/t/{first.id}?page=1")  # today's visit is recorded by now
    clock.advance(30)
    with count_queries() as q:
        assert client.get(f"/t/{second.id}?page=1").status_code == 200
    writes = [s for s in q.statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert len(writes) == 1 and "topic_reads" in writes[0], writes
    row = db.session.get(TopicRead, (reader.id, second.id))
    assert row.read_seconds == 30
    # A page with nothing new does not write; its time waits for the next read position.
    clock.advance(20)
    with count_queries() as q:
        client.get(f"/t/{second.id}?page=1")
    assert not [s for s in q.statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    f.reply(author, first, "something new")
    clock.advance(10)
    client.get(f"/t/{first.id}?page=1")
    assert db.session.get(TopicRead, (reader.id, first.id)).read_seconds == 1 + 30


def test_mark_all_read_and_own_posts_are_not_reading(app, client, f):
    f.sysop("root")
    new = newcomer(f)
    author = f.user("ada")
    sig = f.sig("club", members=[author, new])
    for n in range(3):
        f.topic(author, sig, f"Topic number {n}")
    f.topic(new, sig, "My own")
    client.login(new.username)
    client.form(f"/s/{sig.slug}/read")
    assert permissions.reading_progress(db.session.get(User, new.id)) == (0, 0)


# --- the review ------------------------------------------------------------------------------
def _visits(user: User, days: int, start: int = 0) -> None:
    today = utcnow().date()
    with transaction() as session:
        for n in range(start, start + days):
            session.add(MemberVisit(user_id=user.id, day=today - timedelta(days=n)))


def _read(user: User, topic_ids: list[int], seconds: int = 100) -> None:
    with transaction() as session:
        for topic_id in topic_ids:
            session.add(
                TopicRead(
                    user_id=user.id, topic_id=topic_id, last_read_post_number=1,
                    read_seconds=seconds,
                )
            )  # fmt: skip


def test_the_review_raises_levels_one_step_on_another(app, f):
    f.sysop("root")
    ada = f.user("ada")
    new = newcomer(f)
    sig = f.sig("club", members=[ada, new])
    topics = [f.topic(ada, sig, f"Topic number {n}") for n in range(5)]
    settings(trust_basic_days=0, trust_member_days_visited=3, trust_member_replied=2)
    assert services.review_members([new.id]) == {}
    _read(new, [t.id for t in topics], seconds=130)
    assert services.review_members([new.id]) == {new.id: TL_BASIC}
    # Member: two posts others answered, three days of visits.
    mine = f.topic(new, sig, "My question")
    f.reply(ada, mine, "An answer")
    post = f.reply(new, topics[0], "A thought")
    _visits(new, 3)
    assert services.review_members([new.id]) == {}
    f.reply(ada, topics[0], "Good thought", reply_to_post_id=post.id)
    assert services.review_members([new.id]) == {new.id: TL_MEMBER}
    # Regular, over the last 100 days.
    settings(trust_regular_days_visited=10, trust_regular_posts=3, trust_regular_topics=5)
    _visits(new, 7, start=3)
    f.reply(new, topics[1], "Third post")
    assert services.review_members([new.id]) == {new.id: TL_REGULAR}
    event_log = reload(new)
    assert event_log.trust_level == TL_REGULAR
    # Each step is in the moderation log as the forum's own doing, and on the member's history.
    entries = db.session.scalars(
        select(ModAction).where(ModAction.target_user_id == new.id).order_by(ModAction.id)
    ).all()
    assert [(e.action, e.actor_id, e.details) for e in entries] == [
        ("review_trust_level", None, "new → basic"),
        ("review_trust_level", None, "basic → member"),
        ("review_trust_level", None, "member → regular"),
    ]


def test_an_upheld_flag_holds_member_back(app, f):
    f.sysop("root")
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("club", members=[ada, bob])
    settings(trust_member_days_visited=0, trust_member_replied=1)
    topic = f.topic(bob, sig, "Bob's topic")
    f.reply(ada, topic, "Reply")
    rude = f.reply(bob, topic, "Something rude")
    mod.flag_post(ada, rude.id, "abuse")
    root = db.session.scalar(select(User).where(User.role == "sysop"))
    mod.resolve_flags(root, rude.id, "hidden", "Rude.")
    assert services.review_members([bob.id]) == {}
    settings(trust_member_flag_days=0)
    assert services.review_members([bob.id]) == {bob.id: TL_MEMBER}


def test_levels_are_never_lowered_but_a_regulars_after_two_weeks(app, f):
    f.sysop("root")
    member, regular, old_regular = f.user("mem"), f.user("reg"), f.user("oldreg")
    now = utcnow()
    with transaction():
        for user, level, days in ((member, TL_MEMBER, 400), (regular, TL_REGULAR, 3),
                                  (old_regular, TL_REGULAR, 15)):  # fmt: skip
            user.trust_level, user.trust_changed_at = level, now - timedelta(days=days)
    changed = services.review_members([member.id, regular.id, old_regular.id])
    assert changed == {old_regular.id: TL_MEMBER}


def test_a_locked_level_is_left_alone_and_the_job_reviews_active_members(app, f):
    root = f.sysop("root")
    ada = f.user("ada")
    sig = f.sig("club", members=[ada])
    topics = [f.topic(ada, sig, f"Topic number {n}") for n in range(5)]
    settings(trust_basic_days=0)
    locked, active, away = newcomer(f, "locked"), newcomer(f, "active"), newcomer(f, "away")
    for user in (locked, active, away):
        _read(user, [t.id for t in topics], seconds=130)
    services.set_trust_level(root, locked.id, TL_NEW, locked=True, reason="Watching them.")
    _visits(locked, 1)
    _visits(active, 1)
    services.review_active_members()
    assert (reload(locked).trust_level, reload(active).trust_level) == (TL_NEW, TL_BASIC)
    assert reload(away).trust_level == TL_NEW  # not seen since yesterday: not looked at


# --- the sysop's hand ------------------------------------------------------------------------
def test_the_sysop_sets_and_locks_a_level_from_the_member_page(app, browser, f):
    root = f.sysop("root")
    boss = f.user("boss")
    new = newcomer(f)
    f.sig("club", members=[new], sysops=[boss])
    page = html(browser(root).get(f"/mod/u/{new.username}"))
    assert "Trust level" in page and "Topics read" in page and "Set trust level" in page
    response = browser(root).form(
        f"/mod/u/{new.username}/trust", {"level": "2", "locked": "y", "reason": "Known to us."}
    )
    assert response.status_code == 302
    found = db.session.get(User, new.id)
    assert (found.trust_level, found.trust_locked) == (TL_MEMBER, True)
    entry = db.session.scalar(select(ModAction).order_by(ModAction.id.desc()))
    assert entry.action == "set_trust_level" and entry.target_user_id == new.id
    assert entry.details == "new → member (locked)" and entry.reason == "Known to us."
    assert "set trust level" in html(browser(root).get("/mod/log"))
    # The review's own changes read as automatic, in the log and on the member's page.
    settings(trust_basic_days=0)
    other = newcomer(f, "other")
    reading = f.sig("reading", members=[boss])
    _read(other, [f.topic(boss, reading, f"Topic {n}").id for n in range(5)], 130)
    assert services.review_members([other.id]) == {other.id: TL_BASIC}
    log = html(browser(root).get("/mod/log?action=review_trust_level"))
    assert "automatic" in log and "trust level earned or lost" in log and "new → basic" in log
    assert "automatic: trust level earned or lost" in html(browser(root).get("/mod/u/other"))
    # A SIG sysop sees the level (and its progress) but cannot set it.
    seen = html(browser(boss).get(f"/mod/u/{new.username}"))
    assert "trust-level" in seen and "Set trust level" not in seen
    refused = browser(boss).form(f"/mod/u/{new.username}/trust", {"level": "3"})
    assert refused.status_code == 403
    assert db.session.get(User, new.id).trust_level == TL_MEMBER
    with pytest.raises(Forbidden):
        services.set_trust_level(root, root.id, TL_NEW)
    with pytest.raises(Invalid):
        services.set_trust_level(root, new.id, 7)


def test_the_profile_shows_the_level_to_sysops_only(app, browser, f):
    root = f.sysop("root")
    boss = f.user("boss")
    new = newcomer(f)
    f.sig("club", members=[new], sysops=[boss])
    for viewer in (root, boss):
        assert "Trust level: new" in html(browser(viewer).get(f"/u/{new.username}"))
    for viewer in (new, f.user("bob"), None):
        assert "Trust level" not in html(browser(viewer).get(f"/u/{new.username}"))


# --- flags weigh by level --------------------------------------------------------------------
def test_flags_weigh_by_the_flaggers_trust_level(app, f):
    root = f.sysop("root")
    author = f.user("author")
    sig = f.sig("club", members=[author])
    topic = f.topic(author, sig)
    settings(auto_hide_threshold=2)

    def flag_with(levels: list[int]) -> bool:
        post = f.reply(author, topic, "A post that will be flagged")
        for n, level in enumerate(levels):
            flagger = f.user(f"flagger{post.id}x{n}", trust_level=level)
            f.join(flagger, sig)
            mod.flag_post(flagger, post.id, "spam")
        db.session.expire_all()
        return db.session.get(Post, post.id).is_hidden

    assert not flag_with([TL_NEW] * 5)  # fresh accounts cannot hide a post
    assert not flag_with([TL_BASIC])
    assert flag_with([TL_BASIC, TL_BASIC])
    assert flag_with([TL_REGULAR])
    assert not flag_with([TL_MEMBER])
    assert flag_with([TL_MEMBER, TL_BASIC])
    entry = db.session.scalar(
        select(ModAction).where(ModAction.action == "auto_hide_post").order_by(ModAction.id.desc())
    )
    assert entry.actor_id is None and root is not None


def test_the_consumer_reviews_every_ten_minutes(app, job_queue):
    from datetime import datetime

    def due(at: datetime) -> list[str]:
        return [t.name for t in job_queue.huey.read_periodic(at)]

    assert "review_active_members" in due(datetime(2026, 12, 5, 4, 20))
    assert "review_active_members" not in due(datetime(2026, 12, 5, 4, 25))


def test_the_sysops_card_costs_the_same_for_any_record(app, browser, f, count_queries):
    root = f.sysop("root")
    ada = f.user("ada")
    quiet, busy = newcomer(f, "quiet"), newcomer(f, "busy")
    sig = f.sig("club", members=[ada, quiet, busy])
    topics = [f.topic(ada, sig, f"Topic number {n}") for n in range(6)]
    f.reply(quiet, topics[0], "One word")
    _read(busy, [t.id for t in topics])
    _visits(busy, 4)
    for topic in topics[:4]:
        post = f.reply(busy, topic, "Many words")
        f.reply(ada, topic, "An answer", reply_to_post_id=post.id)
    sysop = browser(root)
    counts = []
    for member in (quiet, busy):
        sysop.get(f"/mod/u/{member.username}")
        with count_queries() as q:
            page = html(sysop.get(f"/mod/u/{member.username}"))
        assert "What the automatic review counts" in page
        counts.append(q.count)
    assert counts[0] == counts[1]
