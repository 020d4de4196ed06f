"""Topics and posts: start, reply, quote, edit, delete, restore, permalinks, counters, unread."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from forum.accounts.models import User
from forum.errors import Forbidden
from forum.extensions import db
from forum.sigs.models import Sig
from forum.topics import services
from forum.topics.models import Post, PostRevision, Topic, TopicRead

from . import dbstate
from .dbstate import assert_counters_exact, counters

POST_RE = re.compile(r'<article class="post[^"]*" id="post-(\d+)"')


def _html(response: Any) -> str:
    return response.get_data(as_text=True)


def _numbers(html: str) -> list[int]:
    return [int(n) for n in POST_RE.findall(html)]


def _topic_id(response: Any) -> int:
    match = re.match(r"/t/(\d+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


@pytest.fixture
def ada(f):  # noqa: ANN001, ANN201
    return f.user("ada")


@pytest.fixture
def club(f, ada):  # noqa: ANN001, ANN201
    return f.sig("club", name="The Club", members=[ada, f.user("bob")], sysops=[f.user("boss")])


# --- start, reply, counters ----------------------------------------------------------------


def test_start_topic_and_reply_keep_every_counter(client, make_client, f, ada, club) -> None:
    client.login("ada")
    response = client.form("/s/club/new", {"title": "  Hello   there ", "body": "First!"})
    assert response.status_code == 302
    topic_id = _topic_id(response)
    topic = db.session.get(Topic, topic_id)
    assert topic.title == "Hello there" and topic.slug == "hello-there"
    assert (topic.post_count, topic.highest_post_number, topic.last_post_number) == (1, 1, 1)
    sig = db.session.get(Sig, club.id)
    assert (sig.topic_count, sig.post_count, sig.last_topic_id) == (1, 1, topic_id)
    assert (ada.post_count, ada.topic_count) == (1, 1)
    assert_counters_exact()

    bob = make_client()
    bob.login("bob")
    response = bob.form(f"/t/{topic_id}/reply", {"body": "Welcome, @ada."})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/t/{topic_id}/hello-there?page=1#post-2"
    topic = db.session.get(Topic, topic_id)
    assert (topic.post_count, topic.highest_post_number, topic.last_post_number) == (2, 2, 2)
    bob_user = db.session.scalar(select(User).where(User.username == "bob"))
    assert topic.last_post_user_id == bob_user.id
    assert (bob_user.post_count, bob_user.topic_count) == (1, 0)
    assert db.session.get(Sig, club.id).post_count == 2
    assert_counters_exact()

    page = _html(bob.get(response.headers["Location"]))
    assert _numbers(page) == [1, 2]
    assert '<a class="mention" href="/u/ada">@ada</a>' in page


def test_new_topic_form_comes_back_with_what_was_typed(client, ada, club) -> None:
    client.login("ada")
    response = client.form("/s/club/new", {"title": "no", "body": "my careful words"})
    assert response.status_code == 400
    html = _html(response)
    assert "at least 3 characters" in html and "my careful words" in html
    assert dbstate.count(Topic) == 0


# --- quoting -----------------------------------------------------------------------------


def test_quote_prefills_the_reply_form_and_links_back(client, f, ada, club) -> None:
    topic = f.topic(ada, club, "Quotable", "Line one\n\nLine two")
    first = f.first_post(topic)
    client.login("bob")
    form = _html(client.get(f"/t/{topic.id}/reply?quote={first.id}"))
    assert f"&gt; **@ada** [wrote](/p/{first.id}):" in form
    assert "&gt; Line one\n&gt;\n&gt; Line two" in form
    assert re.search(rf'name="reply_to"[^>]*value="{first.id}"', form)

    data = client.get(f"/p/{first.id}/quote").get_json()
    assert data["markdown"].startswith(f"> **@ada** [wrote](/p/{first.id}):")

    body = data["markdown"] + "I agree."
    response = client.form(f"/t/{topic.id}/reply", {"body": body, "reply_to": str(first.id)})
    assert response.status_code == 302
    reply = db.session.scalar(select(Post).where(Post.number == 2))
    assert reply.reply_to_post_id == first.id
    assert "<blockquote>" in reply.body_html and f'href="/p/{first.id}"' in reply.body_html


@pytest.mark.parametrize(("language", "wrote"), [("de", "schrieb"), ("es", "escribió")])
def test_a_quote_is_headed_in_the_quoting_members_language(
    client, f, ada, club, language, wrote
) -> None:
    from forum.accounts import services as accounts

    topic = f.topic(ada, club, "Quotable", "Line one")
    first = f.first_post(topic)
    accounts.set_language(db.session.scalar(select(User).filter_by(username="bob")), language)
    client.login("bob")
    data = client.get(f"/p/{first.id}/quote").get_json()
    assert data["markdown"].startswith(f"> **@ada** [{wrote}](/p/{first.id}):")
    # The composer's script words its own quotes from the same catalog.
    assert client.get(f"/i18n/{language}.json").get_json()["wrote"] == wrote


def test_reply_to_a_post_of_another_topic_is_not_recorded(f, ada, club) -> None:
    one = f.topic(ada, club, "One")
    two = f.topic(ada, club, "Two")
    reply = f.reply(ada, two, "hm", reply_to_post_id=one.first_post_id)
    assert reply.reply_to_post_id is None


def test_quoting_a_post_you_may_not_see_is_not_found(client, f, ada, club) -> None:
    mallory_sig = f.sig("secret", visibility="private", members=[f.user("mallory")])
    insider = db.session.scalar(select(User).where(User.username == "mallory"))
    secret = f.first_post(f.topic(insider, mallory_sig, "Secret", "the launch codes"))
    topic = f.topic(ada, club, "Open")
    client.login("ada")
    response = client.get(f"/t/{topic.id}/reply?quote={secret.id}")
    assert response.status_code == 404
    assert "launch codes" not in _html(response)
    assert client.get(f"/p/{secret.id}/quote").status_code == 404


# --- editing -----------------------------------------------------------------------------


def test_edit_keeps_revisions_marks_the_post_and_shows_history_to_sysops(
    make_client, f, ada, club
) -> None:
    topic = f.topic(ada, club, "Drafty", "first words")
    first = f.first_post(topic)
    author = make_client()
    author.login("ada")
    form = _html(author.get(f"/p/{first.id}/edit"))
    assert "first words" in form and 'value="Drafty"' in form

    for n, text in enumerate(["second words", "third words"], start=1):
        response = author.form(f"/p/{first.id}/edit", {"title": "Drafty", "body": text})
        assert response.status_code == 302
        assert db.session.get(Post, first.id).edit_count == n
    # Saving the same text again writes no revision.
    author.form(f"/p/{first.id}/edit", {"title": "Drafty", "body": "third words"})
    revisions = list(db.session.scalars(select(PostRevision).order_by(PostRevision.number)))
    assert [(r.number, r.body_raw) for r in revisions] == [(1, "first words"), (2, "second words")]

    page = _html(author.get(f"/t/{topic.id}?page=1"))
    assert 'class="edited"' in page and "third words" in page
    assert f"/p/{first.id}/history" not in page
    assert author.get(f"/p/{first.id}/history").status_code == 403

    sysop = make_client()
    sysop.login("boss")
    assert f"/p/{first.id}/history" in _html(sysop.get(f"/t/{topic.id}?page=1"))
    history = _html(sysop.get(f"/p/{first.id}/history"))
    assert history.index("third words") < history.index("second words")
    assert history.index("second words") < history.index("first words")


def test_the_edited_mark_says_when_as_each_language_writes_a_date(client, f, ada, club) -> None:
    # Its tooltip read "bearbeitet 07.12.2026, 20:47": a date takes "am … Uhr" in German.
    topic = f.topic(ada, club, "Drafty", "first words")
    client.login("ada")
    client.form(f"/p/{topic.first_post_id}/edit", {"title": "Drafty", "body": "new words"})

    def mark(language: str) -> str:
        page = _html(client.get(f"/t/{topic.id}?page=1", headers={"Accept-Language": language}))
        found = re.search(r'<span class="edited" title="([^"]+)">', page)
        assert found is not None
        return found.group(1)

    assert re.fullmatch(r"bearbeitet am \d\d\.\d\d\.\d{4}, \d\d:\d\d Uhr", mark("de"))
    assert re.fullmatch(r"editado el \d{1,2} \w+ \d{4}, \d{1,2}:\d\d", mark("es"))


def test_editing_the_first_post_can_rename_the_topic(client, f, ada, club) -> None:
    topic = f.topic(ada, club, "Old name")
    client.login("ada")
    response = client.form(
        f"/p/{topic.first_post_id}/edit", {"title": "Brand new name", "body": "The first post."}
    )
    assert response.status_code == 302
    topic = db.session.get(Topic, topic.id)
    assert (topic.title, topic.slug) == ("Brand new name", "brand-new-name")
    assert response.headers["Location"].startswith(f"/t/{topic.id}/brand-new-name")


def test_edit_form_with_an_error_keeps_the_text(client, f, ada, club) -> None:
    topic = f.topic(ada, club, "Keep me")
    reply = f.reply(ada, topic, "short")
    client.login("ada")
    response = client.form(f"/p/{reply.id}/edit", {"body": "x" * 30_001})
    assert response.status_code == 400
    assert "limited to 30,000 characters" in _html(response)
    assert "x" * 30_001 in _html(response)
    assert db.session.get(Post, reply.id).body_raw == "short"


# --- deleting and restoring ---------------------------------------------------------------


def test_member_deletes_own_reply_and_sysop_restores_it(make_client, f, ada, club) -> None:
    bob = db.session.scalar(select(User).where(User.username == "bob"))
    topic = f.topic(ada, club, "Deletions")
    reply = f.reply(bob, topic, "regrettable words")
    f.reply(ada, topic, "later words")
    assert_counters_exact()

    member = make_client()
    member.login("bob")
    response = member.form(f"/p/{reply.id}/delete")
    assert response.status_code == 302
    post = db.session.get(Post, reply.id)
    assert post.deleted_at is not None and post.body_raw == "regrettable words"  # soft
    assert db.session.get(Topic, topic.id).post_count == 2
    assert db.session.get(Sig, club.id).post_count == 2
    assert db.session.get(User, bob.id).post_count == 0
    assert_counters_exact()
    page = _html(member.get(f"/t/{topic.id}?page=1"))
    assert "regrettable words" not in page and _numbers(page) == [1, 3]
    assert member.get(f"/p/{reply.id}").status_code == 404
    # Deleting twice, or restoring, is not for members.
    assert member.form(f"/p/{reply.id}/delete").status_code == 404
    assert member.form(f"/p/{reply.id}/restore").status_code == 404

    sysop = make_client()
    sysop.login("boss")
    page = _html(sysop.get(f"/t/{topic.id}?page=1"))
    assert "regrettable words" in page and "Restore" in page
    assert sysop.form(f"/p/{reply.id}/restore").status_code == 302
    assert db.session.get(Post, reply.id).deleted_at is None
    assert db.session.get(Topic, topic.id).post_count == 3
    assert db.session.get(User, bob.id).post_count == 1
    assert_counters_exact()


def test_members_cannot_delete_others_posts(client, f, ada, club) -> None:
    topic = f.topic(ada, club, "Mine")
    client.login("bob")
    assert client.form(f"/p/{topic.first_post_id}/delete").status_code == 403
    assert db.session.get(Topic, topic.id).deleted_at is None


def test_author_deletes_a_topic_nobody_answered(client, make_client, f, ada, club) -> None:
    topic = f.topic(ada, club, "Oops")
    client.login("ada")
    response = client.form(f"/p/{topic.first_post_id}/delete")
    assert response.status_code == 302 and response.headers["Location"] == "/s/club/"
    assert db.session.get(Topic, topic.id).deleted_at is not None
    assert client.get(f"/t/{topic.id}").status_code == 404
    sig = db.session.get(Sig, club.id)
    assert (sig.topic_count, sig.post_count, sig.last_topic_id) == (0, 0, None)
    assert (ada.post_count, ada.topic_count) == (0, 0)
    assert_counters_exact()

    sysop = make_client()
    sysop.login("boss")
    assert sysop.get(f"/t/{topic.id}?page=1").status_code == 200
    assert sysop.form(f"/p/{topic.first_post_id}/restore").status_code == 302
    assert client.get(f"/t/{topic.id}?page=1").status_code == 200
    assert (ada.post_count, ada.topic_count) == (1, 1)
    assert_counters_exact()


def test_first_post_with_replies_is_deleted_by_sysops_only(client, make_client, f, ada, club):
    bob = db.session.scalar(select(User).where(User.username == "bob"))
    topic = f.topic(ada, club, "Busy")
    f.reply(bob, topic, "an answer")
    f.reply(bob, topic, "another answer")
    client.login("ada")
    response = client.form(f"/p/{topic.first_post_id}/delete")
    assert response.status_code == 403
    assert "only a sysop can delete this topic" in _html(response)
    assert db.session.get(Topic, topic.id).deleted_at is None

    sysop = make_client()
    sysop.login("boss")
    assert sysop.form(f"/p/{topic.first_post_id}/delete").status_code == 302
    assert client.get(f"/t/{topic.id}").status_code == 404
    # The whole topic left the counters, replies included.
    assert db.session.get(User, bob.id).post_count == 0
    assert (ada.post_count, ada.topic_count) == (0, 0)
    assert_counters_exact()
    assert sysop.form(f"/p/{topic.first_post_id}/restore").status_code == 302
    assert db.session.get(User, bob.id).post_count == 2
    assert_counters_exact()


def test_recount_command_agrees_with_the_services(app, f, ada, club) -> None:
    bob = db.session.scalar(select(User).where(User.username == "bob"))
    boss = db.session.scalar(select(User).where(User.username == "boss"))
    topics = [f.topic(ada, club, f"Topic {n}") for n in range(3)]
    posts = [f.reply(bob, t, "reply") for t in topics for _ in range(2)]
    services.delete_post(bob, posts[0].id)
    services.delete_post(boss, topics[1].first_post_id)
    services.edit_post(ada, topics[2].first_post_id, "edited")
    kept = counters()
    # Break every counter, then let the command rebuild them.
    db.session.execute(Topic.__table__.update().values(post_count=99, last_post_number=99))
    db.session.execute(Sig.__table__.update().values(topic_count=99, post_count=99))
    db.session.execute(User.__table__.update().values(post_count=99, topic_count=99))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["forum", "recount"])
    assert result.exit_code == 0, result.output
    assert "Counters rebuilt" in result.output
    assert counters() == kept


def test_service_refuses_a_stranger_deleting(f, ada, club) -> None:
    topic = f.topic(ada, club, "Stay")
    outsider = f.user("outsider")
    with pytest.raises(Forbidden):
        services.delete_post(outsider, topic.first_post_id)


# --- permalinks ----------------------------------------------------------------------------


@pytest.mark.config(POSTS_PER_PAGE=3)
def test_permalink_goes_to_the_right_page_and_anchor(client, f, ada, club) -> None:
    topic = f.topic(ada, club, "Long one")
    posts = [f.first_post(topic)] + [f.reply(ada, topic, f"reply {n}") for n in range(2, 9)]
    services.delete_post(ada, posts[3].id)  # numbers stay: #4 is gone, #5 stays on page 2
    expected = {1: 1, 3: 1, 5: 2, 6: 2, 7: 3, 8: 3}
    for number, page in expected.items():
        response = client.get(f"/p/{posts[number - 1].id}")
        assert response.status_code == 302
        assert response.headers["Location"] == f"/t/{topic.id}/long-one?page={page}#post-{number}"
    assert _numbers(_html(client.get(f"/t/{topic.id}/long-one?page=2"))) == [5, 6]
    assert _numbers(_html(client.get(f"/t/{topic.id}/long-one?page=3"))) == [7, 8]
    assert client.get(f"/t/{topic.id}/long-one?page=4").status_code == 404
    assert client.get(f"/p/{posts[3].id}").status_code == 404


@pytest.mark.config(POSTS_PER_PAGE=3)
def test_permalink_wins_over_the_first_unread_post(client, f, ada, club) -> None:
    topic = f.topic(ada, club, "Linked")
    posts = [f.reply(ada, topic, f"reply {n}") for n in range(2, 6)]
    client.login("bob")
    client.get(f"/t/{topic.id}?page=1")  # bob has read #1 to #3
    response = client.get(f"/p/{topic.first_post_id}", follow_redirects=True)
    assert response.request.path == f"/t/{topic.id}/linked"
    assert response.request.args["page"] == "1"
    assert len(response.history) == 1  # one hop, no loop
    assert posts


# --- unread: /new, landing on the first unread post, mark all read ---------------------------


@pytest.mark.config(POSTS_PER_PAGE=3)
def test_opening_a_topic_lands_on_the_first_unread_post(client, f, ada, club) -> None:
    topic = f.topic(ada, club, "Chatty")
    for n in range(2, 6):
        f.reply(ada, topic, f"reply {n}")
    client.login("bob")
    # Never opened: page 1, and reading it marks #1-#3 read.
    response = client.get(f"/t/{topic.id}")
    assert response.status_code == 200 and _numbers(_html(response)) == [1, 2, 3]
    bob = db.session.scalar(select(User).where(User.username == "bob"))
    read = db.session.get(TopicRead, (bob.id, topic.id))
    assert read.last_read_post_number == 3

    response = client.get(f"/t/{topic.id}/chatty")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/t/{topic.id}/chatty?page=2#post-4"
    page = _html(client.get(response.headers["Location"]))
    assert re.search(r'class="post unread[^"]*" id="post-4"', page)
    assert db.session.get(TopicRead, (bob.id, topic.id)).last_read_post_number == 5
    # Everything read: the topic opens on page 1 again.
    assert client.get(f"/t/{topic.id}").status_code == 200
    # Reading an old page never moves the mark back.
    client.get(f"/t/{topic.id}?page=1")
    assert db.session.get(TopicRead, (bob.id, topic.id)).last_read_post_number == 5


def test_new_lists_unread_topics_across_my_sigs(make_client, f, ada, club) -> None:
    bob = db.session.scalar(select(User).where(User.username == "bob"))
    other = f.sig("other", name="Other Place", members=[bob])
    elsewhere = f.sig("elsewhere", name="Not Mine", members=[f.user("carl")])
    carl = db.session.scalar(select(User).where(User.username == "carl"))
    f.topic(ada, club, "Club news")
    f.topic(bob, other, "Bob's own topic")
    f.topic(carl, elsewhere, "Carl's corner")
    answered = f.topic(bob, club, "Bob asks")
    f.reply(ada, answered, "ada answers")

    member = make_client()
    member.login("bob")
    html = _html(member.get("/new"))
    assert "Club news" in html and "Bob asks" in html
    assert "Bob&#39;s own topic" not in html  # written by him: read
    assert "Carl&#39;s corner" not in html  # not one of his SIGs
    assert re.search(r"Club news</a>\s*<span[^>]*>new<", html)
    assert re.search(r"Bob asks</a>\s*<span[^>]*>1 unread<", html)

    member.get(f"/t/{answered.id}", follow_redirects=True)
    html = _html(member.get("/new"))
    assert "Bob asks" not in html and "Club news" in html

    response = member.form("/new/read")
    assert response.status_code == 302
    assert "You are all caught up" in _html(member.get("/new"))
    f.reply(ada, answered, "one more thing")
    assert "Bob asks" in _html(member.get("/new"))

    assert make_client().get("/new").status_code == 302  # guests log in first


def test_mark_sig_read_only_touches_that_sig(client, f, ada, club) -> None:
    bob = db.session.scalar(select(User).where(User.username == "bob"))
    other = f.sig("other", members=[bob, ada])
    f.topic(ada, club, "In the club")
    f.topic(ada, other, "Elsewhere")
    client.login("bob")
    response = client.form("/s/club/read")
    assert response.status_code == 302
    html = _html(client.get("/new"))
    assert "In the club" not in html and "Elsewhere" in html


def test_sysop_deleting_inside_a_deleted_topic_keeps_counters_exact(f, ada, club) -> None:
    boss = db.session.scalar(select(User).where(User.username == "boss"))
    bob = db.session.scalar(select(User).where(User.username == "bob"))
    topic = f.topic(ada, club, "Doomed")
    reply = f.reply(bob, topic, "inside")
    services.delete_post(boss, topic.first_post_id)
    services.delete_post(boss, reply.id)
    assert_counters_exact()
    services.restore_post(boss, reply.id)
    assert_counters_exact()
    services.restore_post(boss, topic.first_post_id)
    db.session.expire_all()
    assert db.session.get(User, bob.id).post_count == 1
    assert_counters_exact()
