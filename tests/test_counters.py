"""The counters' owner (forum/counters.py): a counter moved several times in one transaction
moves by the sum of the moves, and the object the session holds reads what was written."""

from __future__ import annotations

from sqlalchemy import select

from forum import counters
from forum.accounts.models import User
from forum.db import lock_for_write, transaction
from forum.extensions import db
from forum.sigs.models import Sig
from forum.timeutil import utcnow
from forum.topics.models import Post, Topic

from . import dbstate


def _row(model: type, obj_id: int, *columns: str) -> tuple[int, ...]:
    """The stored values, read from the row (not from the object the session holds)."""
    table = model.__table__  # type: ignore[attr-defined]
    stmt = select(*(table.c[c] for c in columns)).where(table.c.id == obj_id)
    return tuple(db.session.execute(stmt).one())


def test_a_members_counters_moved_several_times_in_one_transaction_add_up(app, f) -> None:
    """A verb that hides several of one member's posts in a loop (the spam cleanup did) counted
    one: each move replaced the one before it, unflushed."""
    ada = f.user("ada")
    club = f.sig("club", members=[ada])
    for n in range(3):
        f.topic(ada, club, f"Topic {n}")
    ada = db.session.get(User, ada.id)
    assert (ada.post_count, ada.topic_count) == (3, 3)
    with transaction():
        for _ in range(3):
            counters.count_member_posts(ada.id, -1)
        counters.count_member_topics(ada.id, -1)
        counters.count_member_topics(ada.id, -1)
        counters.count_member_topics(ada.id, +1)
    assert _row(User, ada.id, "post_count", "topic_count") == (0, 2)
    # The object the session holds (a page renders from it) reads the same.
    assert (ada.post_count, ada.topic_count) == (0, 2)


def test_a_sigs_member_counter_moved_several_times_in_one_transaction_adds_up(app, f) -> None:
    club = f.sig("club", members=[f.user("ada")])
    club = db.session.get(Sig, club.id)
    assert club.member_count == 1
    with transaction():
        for _ in range(3):
            counters.count_sig_members(club, +1)
        counters.count_sig_members(club, -1)
    assert _row(Sig, club.id, "member_count") == (3,)
    assert club.member_count == 3


def test_new_posts_counted_in_one_transaction_add_up(app, f) -> None:
    """Two posts counted (count_new_post) before anything flushes: the SIG and the author count
    both, as a recount from the rows does."""
    ada = f.user("ada")
    club = f.sig("club", members=[ada])
    topic = f.topic(ada, club, "Busy")
    dbstate.assert_counters_exact()
    ada = db.session.get(User, ada.id)
    club = db.session.get(Sig, club.id)
    with transaction() as session:
        lock_for_write(Topic, topic.id)
        lock_for_write(Sig, club.id)
        for n in (1, 2):
            post = Post(
                topic_id=topic.id,
                user_id=ada.id,
                number=topic.highest_post_number + 1,
                body_raw=f"Reply {n}",
                body_html=f"<p>Reply {n}</p>",
                created_at=utcnow(),
            )
            session.add(post)
            counters.count_new_post(post, topic, club, ada)
    assert (ada.post_count, ada.topic_count) == (3, 1)
    assert (club.post_count, club.topic_count) == (3, 1)
    assert topic.post_count == 3
    dbstate.assert_counters_exact()


# --- a starter's topic counter: a live topic with a post readers see ------------------------
def _counts(user: User) -> tuple[int, ...]:
    return _row(User, user.id, "post_count", "topic_count")


def test_a_topic_counts_for_its_starter_while_readers_see_a_post_of_it(app, f) -> None:
    """Hiding a topic's only post took it out of sight but not out of its starter's topics
    ("1 topic" that nobody could open); unhiding it counted it twice."""
    from forum.moderation import services as mod

    root = f.sysop("root")
    ken = f.user("ken")
    club = f.sig("club", members=[ken])
    topic = f.topic(ken, club, "Alone")
    assert _counts(ken) == (1, 1)
    mod.hide_post(root, topic.first_post_id, "")
    assert _counts(ken) == (0, 0)
    dbstate.assert_counters_exact()
    mod.unhide_post(root, topic.first_post_id)
    assert _counts(ken) == (1, 1)
    dbstate.assert_counters_exact()


def test_the_replies_keep_a_topic_counted_for_its_starter(app, f) -> None:
    """With its first post hidden, a topic counts for its starter while a reply is seen: the
    last one deleted, hidden, split off or moved away takes it out; one restored, approved or
    merged in brings it back."""
    from forum.moderation import services as mod
    from forum.topics import services as topics

    from .mod_support import make_pending

    root = f.sysop("root")
    ken, ada = f.user("ken"), f.user("ada")
    club = f.sig("club", members=[ken, ada])
    topic = f.topic(ken, club, "Asked")
    reply = f.reply(ada, topic, "Answered.")
    mod.hide_post(root, topic.first_post_id, "")
    assert _counts(ken) == (0, 1)
    steps = [
        (lambda: topics.delete_post(ada, reply.id), (0, 0)),
        (lambda: topics.restore_post(root, reply.id), (0, 1)),
        (lambda: mod.hide_post(root, reply.id, ""), (0, 0)),
        (lambda: mod.unhide_post(root, reply.id), (0, 1)),
        (lambda: make_pending(reply), (0, 0)),
        (lambda: mod.approve_post(root, reply.id), (0, 1)),
    ]
    for step, counts in steps:
        step()
        assert _counts(ken) == counts
        dbstate.assert_counters_exact()
    f.topic(ken, club, "Elsewhere")
    assert _counts(ken) == (1, 2)
    split = mod.split_topic(root, topic.id, [reply.id], "Ada's answer")
    assert _counts(ken) == (1, 1) and _counts(ada) == (1, 1)
    dbstate.assert_counters_exact()
    mod.merge_topics(root, split.id, topic.id)
    assert _counts(ken) == (1, 2) and _counts(ada) == (1, 0)
    dbstate.assert_counters_exact()
