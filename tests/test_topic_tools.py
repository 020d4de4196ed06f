"""Topic tools: lock, pin, move, split, merge, hide, delete and restore keep counters, unread
state and permalinks right."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forum import events
from forum.accounts.models import User
from forum.errors import Forbidden, Invalid, NotFound
from forum.extensions import db
from forum.moderation import services as mod
from forum.sigs.models import Sig
from forum.topics import queries as topic_queries
from forum.topics.models import Post, Topic

from .mod_support import build_world


def _get(model, id_):
    db.session.expire_all()
    return db.session.get(model, id_)


def test_a_locked_topic_takes_no_replies_from_members(app, browser):
    w = build_world()
    sysop = browser(w.sig_sysop)
    assert sysop.form(f"/mod/topics/{w.topic.id}/lock", {"reason": "heated"}).status_code == 302
    page = browser(w.member).text(f"/t/{w.topic.id}?page=1")
    assert "This topic is locked" in page
    response = browser(w.member).form(f"/t/{w.topic.id}/reply", {"body": "Let me in"})
    assert response.status_code in (400, 403)
    assert "This topic is locked: no new replies." in response.get_data(as_text=True)
    assert db.session.scalar(select(Post.id).where(Post.body_raw == "Let me in")) is None
    assert sysop.form(f"/t/{w.topic.id}/reply", {"body": "Sysop note"}).status_code == 302
    sysop.form(f"/mod/topics/{w.topic.id}/unlock")
    assert browser(w.member).form(f"/t/{w.topic.id}/reply", {"body": "Now ok"}).status_code == 302


def test_a_pinned_topic_comes_first(app, f, browser):
    w = build_world()
    f.reply(w.member, w.topic2, "bump topic2 to the top")
    page = browser(w.member).text(f"/s/{w.sig.slug}/")
    assert page.index("Another topic here") < page.index("A topic about things")
    browser(w.sig_sysop).form(f"/mod/topics/{w.topic.id}/pin")
    page = browser(w.member).text(f"/s/{w.sig.slug}/")
    assert page.index("A topic about things") < page.index("Another topic here")


def test_moving_a_topic_moves_its_counters_and_keeps_permalinks(app, browser):
    w = build_world()
    seen: list[events.TopicChanged] = []
    events.subscribe(app, events.TopicChanged, seen.append)
    before = _get(Sig, w.sig.id).post_count
    response = browser(w.sig_sysop).form(
        f"/mod/topics/{w.topic.id}/move", {"sig": str(w.sig_b.id), "reason": "wrong place"}
    )
    assert response.status_code == 302
    topic = db.session.get(Topic, w.topic.id)
    assert topic.sig_id == w.sig_b.id
    sig, sig_b = db.session.get(Sig, w.sig.id), db.session.get(Sig, w.sig_b.id)
    assert sig.post_count == before - topic.post_count
    assert (sig_b.topic_count, sig_b.post_count, sig_b.last_topic_id) == (1, 3, topic.id)
    (event,) = seen
    assert (event.change, event.old_sig_id, event.sig_id) == ("moved", w.sig.id, w.sig_b.id)
    assert set(event.post_ids) == set(
        db.session.scalars(select(Post.id).where(Post.topic_id == topic.id))
    )
    permalink = browser(w.member).get(f"/p/{w.post.id}")
    assert permalink.status_code == 302 and f"/t/{topic.id}" in permalink.headers["Location"]


def test_moving_needs_a_sig_the_sysop_moderates(app, browser):
    w = build_world()
    with pytest.raises(Forbidden, match="You do not moderate Other"):
        mod.move_topic(w.sig_sysop, w.topic.id, w.other_sig.id)
    response = browser(w.sig_sysop).form(
        f"/mod/topics/{w.topic.id}/move", {"sig": str(w.other_sig.id)}
    )
    assert response.status_code == 403
    assert "You do not moderate Other" in response.get_data(as_text=True)
    with pytest.raises(Invalid, match="already in that SIG"):
        mod.move_topic(w.root, w.topic.id, w.sig.id)
    with pytest.raises(NotFound):
        mod.move_topic(w.root, w.topic.id, 9999)
    with pytest.raises(NotFound):
        mod.move_topic(w.root, 9999, w.sig_b.id)
    assert _get(Topic, w.topic.id).sig_id == w.sig.id


def test_splitting_renumbers_the_moved_posts_and_keeps_read_state(app, f, browser):
    w = build_world()
    third = f.reply(w.member, w.topic, "Third reply")
    # The member has read everything (replying marks read); the author has read up to #2.
    response = browser(w.sig_sysop).form(
        f"/mod/topics/{w.topic.id}/split",
        {
            "posts": [str(w.post.id), str(third.id)],
            "title": "Split off topic",
            "sig": str(w.sig.id),
        },
    )
    assert response.status_code == 302
    new = db.session.scalar(select(Topic).where(Topic.title == "Split off topic"))
    moved = db.session.scalars(
        select(Post.number).where(Post.topic_id == new.id).order_by(Post.number)
    ).all()
    assert moved == [1, 2]
    assert (new.post_count, new.last_post_number, new.first_post_id) == (2, 2, w.post.id)
    old = db.session.get(Topic, w.topic.id)
    assert (old.post_count, old.last_post_number, old.highest_post_number) == (2, 3, 4)
    assert db.session.get(Sig, w.sig.id).topic_count == 3
    # The split topic counts for its first author.
    assert db.session.get(User, w.author.id).topic_count == 2
    # Permalinks follow the post; the member who had read it all has nothing unread there.
    assert f"/t/{new.id}" in browser(w.member).get(f"/p/{third.id}").headers["Location"]
    unread = [row.topic.id for row in topic_queries.new_topics(w.member)[0]]
    assert new.id not in unread
    assert new.id in [row.topic.id for row in topic_queries.new_topics(w.author)[0]]


def test_the_split_page_lists_replies_a_page_at_a_time_and_keeps_the_choice(
    app, f, browser, monkeypatch
):
    """A long topic's replies come SPLIT_PAGE at a time; what was ticked and typed goes along
    from page to page, and the split takes the posts ticked on every page."""
    monkeypatch.setattr("forum.moderation.queries.SPLIT_PAGE", 2)
    w = build_world()  # the topic's replies: #2 by the author, #3 by a member
    more = [f.reply(w.member, w.topic, f"Reply number {n}") for n in range(4, 8)]  # #4 to #7
    numbered = {2: w.post, **{n: post for n, post in zip(range(4, 8), more, strict=True)}}
    sysop = browser(w.sig_sysop)
    url = f"/mod/topics/{w.topic.id}/split"

    first = sysop.text(url)
    assert "A reply by the author." in first and "Reply number 4" not in first
    assert "page 1 of 3" in first
    # The form's first button splits (Enter in a field), not the pager's.
    form = first[first.index(f'action="{url}"') :]
    default = form[form.index("<button") : form.index("</button>")]
    assert 'name="goto"' not in default and "Split into a new topic" in default
    # From a post's menu: its page, the post ticked.
    sixth = sysop.text(f"{url}?post={numbered[6].id}")
    assert "Reply number 6" in sixth and "Reply number 7" in sixth and "page 3 of 3" in sixth
    assert f'value="{numbered[6].id}" checked' in sixth

    # To page 2 with #2 and #6 ticked and a title typed: nothing split, all of it kept.
    response = sysop.form(
        url,
        {
            "posts": [str(numbered[2].id), str(numbered[6].id)],
            "title": "Kept title",
            "sig": str(w.sig.id),
            "goto": "2",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Reply number 4" in page and "Reply number 5" in page and "Reply number 6" not in page
    assert 'value="Kept title"' in page
    for post in (numbered[2], numbered[6]):
        assert f'<input type="hidden" name="posts" value="{post.id}">' in page
    assert "2 posts chosen on other pages stay chosen." in page
    assert db.session.scalar(select(Topic).where(Topic.title == "Kept title")) is None

    # Splitting from page 2 takes what was ticked there and on the other pages.
    response = sysop.form(
        url,
        {
            "posts": [str(numbered[2].id), str(numbered[6].id), str(numbered[4].id)],
            "title": "Kept title",
            "sig": str(w.sig.id),
            "page": "2",
        },
    )
    assert response.status_code == 302
    new = db.session.scalar(select(Topic).where(Topic.title == "Kept title"))
    bodies = db.session.scalars(
        select(Post.body_raw).where(Post.topic_id == new.id).order_by(Post.number)
    ).all()
    assert bodies == ["A reply by the author.", "Reply number 4", "Reply number 6"]


def test_splitting_off_a_reply_and_every_later_one(app, f, browser):
    """One tick, "and every reply after the first one chosen", splits a topic's tail off."""
    w = build_world()  # the topic's replies: #2 by the author, #3 by a member
    tail = [f.reply(w.member, w.topic, f"Tail reply {n}") for n in range(4, 7)]  # #4 to #6
    sysop = browser(w.sig_sysop)
    response = sysop.form(
        f"/mod/topics/{w.topic.id}/split",
        {"posts": [str(tail[0].id)], "later": "y", "title": "The tail", "sig": str(w.sig.id)},
    )
    assert response.status_code == 302
    new = db.session.scalar(select(Topic).where(Topic.title == "The tail"))
    moved = db.session.scalars(
        select(Post.body_raw).where(Post.topic_id == new.id).order_by(Post.number)
    ).all()
    assert moved == ["Tail reply 4", "Tail reply 5", "Tail reply 6"]
    assert "Split 3 posts into a new topic." in sysop.text(f"/t/{new.id}")
    old = db.session.get(Topic, w.topic.id)
    assert (old.post_count, old.last_post_number) == (3, 3)


def test_split_bad_input_gets_a_clear_error(app, browser):
    w = build_world()
    sysop = browser(w.sig_sysop)
    response = sysop.form(f"/mod/topics/{w.topic.id}/split", {"title": "Nothing chosen"})
    assert response.status_code == 400
    assert "Choose at least one post to split off." in response.get_data(as_text=True)
    assert 'value="Nothing chosen"' in response.get_data(as_text=True)
    first = db.session.get(Topic, w.topic.id).first_post_id
    with pytest.raises(Invalid, match="first post stays"):
        mod.split_topic(w.sig_sysop, w.topic.id, [first], "Take the first")
    with pytest.raises(Invalid, match="not in this topic"):
        mod.split_topic(w.sig_sysop, w.topic.id, [w.pending.id], "Wrong topic")
    with pytest.raises(Forbidden):
        mod.split_topic(w.sig_sysop, w.topic.id, [w.post.id], "Elsewhere", w.other_sig.id)


def test_merging_appends_posts_and_deletes_the_source(app, browser):
    w = build_world()
    seen: list[events.TopicChanged] = []
    events.subscribe(app, events.TopicChanged, seen.append)
    target_before = _get(Topic, w.topic.id)
    highest = target_before.highest_post_number
    response = browser(w.sig_sysop).form(
        f"/mod/topics/{w.topic2.id}/merge", {"target": f"http://localhost/t/{w.topic.id}/slug"}
    )
    assert response.status_code == 302
    target, source = db.session.get(Topic, w.topic.id), db.session.get(Topic, w.topic2.id)
    assert source.is_deleted and source.post_count == 0
    numbers = db.session.scalars(
        select(Post.number).where(Post.topic_id == target.id).order_by(Post.number)
    ).all()
    assert numbers == [1, 2, 3, highest + 1, highest + 2]
    assert target.post_count == 4  # the pending post moved too but is not counted
    assert db.session.get(Sig, w.sig.id).topic_count == 1
    assert [e.change for e in seen] == ["merged", "deleted"]
    assert w.pending.id in seen[0].post_ids
    assert (
        f"/t/{target.id}" in browser(w.member).get(f"/p/{source.first_post_id}").headers["Location"]
    )


def test_merge_bad_input_gets_a_clear_error(app, browser):
    w = build_world()
    sysop = browser(w.sig_sysop)
    response = sysop.form(f"/mod/topics/{w.topic.id}/merge", {"target": str(w.topic.id)})
    assert response.status_code == 400
    assert "A topic cannot be merged with itself." in response.get_data(as_text=True)
    response = sysop.form(f"/mod/topics/{w.topic.id}/merge", {"target": "99999"})
    assert response.status_code == 400 and "No such topic." in response.get_data(as_text=True)
    response = sysop.form(f"/mod/topics/{w.topic.id}/merge", {"target": "nonsense"})
    assert response.status_code == 400 and "number or paste its address" in response.get_data(
        as_text=True
    )
    other = mod.move_topic(w.root, w.topic2.id, w.other_sig.id)
    response = sysop.form(f"/mod/topics/{w.topic.id}/merge", {"target": str(other.id)})
    assert response.status_code == 403


def test_hiding_a_post_fixes_counters_and_shows_the_author_why(app, f, browser):
    w = build_world()
    last = f.reply(w.author, w.topic, "The last reply")
    author_posts = _get(User, w.author.id).post_count
    seen: list[events.PostVisibilityChanged] = []
    events.subscribe(app, events.PostVisibilityChanged, seen.append)
    browser(w.sig_sysop).form(f"/mod/posts/{last.id}/hide", {"reason": "off topic"})
    topic = db.session.get(Topic, w.topic.id)
    assert (topic.post_count, topic.last_post_number) == (3, 3)
    assert db.session.get(User, w.author.id).post_count == author_posts - 1
    assert [e.change for e in seen] == ["hidden"]
    assert "The last reply" not in browser(w.member).text(f"/t/{w.topic.id}?page=1")
    page = browser(w.author).text(f"/t/{w.topic.id}?page=1")
    assert "The last reply" in page and "hidden by a sysop: off topic" in page
    browser(w.sig_sysop).form(f"/mod/posts/{last.id}/unhide")
    topic = db.session.get(Topic, w.topic.id)
    assert (topic.post_count, topic.last_post_number) == (4, 4)
    assert db.session.get(User, w.author.id).post_count == author_posts
    assert [e.change for e in seen] == ["hidden", "unhidden"]


def test_deleting_and_restoring_a_topic(app, browser):
    w = build_world()
    posts_before = _get(User, w.author.id).post_count
    sysop = browser(w.sig_sysop)
    sysop.form(f"/mod/topics/{w.topic.id}/delete", {"reason": "duplicate"})
    assert db.session.get(Topic, w.topic.id).is_deleted
    assert db.session.get(Sig, w.sig.id).topic_count == 1
    assert db.session.get(User, w.author.id).post_count == posts_before - 2
    assert browser(w.member).get(f"/t/{w.topic.id}").status_code == 404
    assert "This topic is deleted" in sysop.text(f"/t/{w.topic.id}?page=1")
    sysop.form(f"/mod/topics/{w.topic.id}/restore")
    assert not db.session.get(Topic, w.topic.id).is_deleted
    assert db.session.get(Sig, w.sig.id).topic_count == 2
    assert db.session.get(User, w.author.id).post_count == posts_before


def test_unknown_ids_are_not_found(app, browser):
    w = build_world()
    sysop = browser(w.root)
    for url in [
        "/mod/posts/9999/hide",
        "/mod/posts/9999/resolve",
        "/mod/topics/9999/lock",
        "/mod/topics/9999/merge",
        "/mod/u/nobody/warn",
        "/mod/filters/9999/delete",
        "/admin/sigs/9999/archive",
        "/admin/members/9999/role",
    ]:
        assert sysop.form(url, {"outcome": "dismissed", "role": "sysop"}).status_code == 404, url


def test_topic_tools_show_only_to_sysops(app, browser):
    w = build_world()
    assert "Sysop tools" in browser(w.sig_sysop).text(f"/t/{w.topic.id}?page=1")
    member_page = browser(w.member).text(f"/t/{w.topic.id}?page=1")
    assert "Sysop tools" not in member_page and f"/mod/posts/{w.post.id}/hide" not in member_page
    assert f"/p/{w.post.id}/flag" in member_page


def test_restoring_a_topic_deleted_through_its_first_post(app, f):
    from forum.topics import services as topic_services

    w = build_world()
    lonely = f.topic(w.member, w.sig, "Short lived", "Only post")
    posts_before = _get(User, w.member.id).post_count
    topic_services.delete_post(w.member, _get(Topic, lonely.id).first_post_id)
    assert _get(Topic, lonely.id).is_deleted
    assert _get(User, w.member.id).post_count == posts_before - 1
    mod.restore_topic(w.sig_sysop, lonely.id)
    topic = _get(Topic, lonely.id)
    assert not topic.is_deleted and topic.post_count == 1
    assert not _get(Post, topic.first_post_id).is_deleted
    assert _get(User, w.member.id).post_count == posts_before


def test_deleting_and_restoring_a_topic_keep_its_authors_counters_true(app, f):
    """The author's topic counter follows the topic out of sight and back, as a recount from
    the rows (`flask forum recount`) would have it, and so do the repliers' post counters."""
    from forum.counters import recount_all

    w = build_world()
    topic = f.topic(w.member, w.sig, "Soon gone", "First")
    f.reply(w.author, topic, "A reply")

    def counts() -> list[tuple[int, int]]:
        return [(u.post_count, u.topic_count) for u in (_get(User, w.member.id), w.author)]

    before = counts()
    mod.delete_topic(w.sig_sysop, topic.id)
    deleted = counts()
    assert deleted[0] == (before[0][0] - 1, before[0][1] - 1)
    assert deleted[1] == (before[1][0] - 1, before[1][1])
    recount_all()
    assert counts() == deleted
    mod.restore_topic(w.sig_sysop, topic.id)
    assert counts() == before
    recount_all()
    assert counts() == before
