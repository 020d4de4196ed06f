"""PostgreSQL full-text search (issue 26): what only this backend does. Every search test of
tests/test_search.py also runs on it (parametrized); these cover the vectors written in the
post's transaction, permissions inside the SQL, hostile queries, switching backends, reindex."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, func, select, text

from forum import create_app
from forum.db import transaction
from forum.extensions import db
from forum.moderation import services as moderation
from forum.search import indexer, postgres, queries
from forum.search.backend import WhooshBackend
from forum.search.models import PostVector
from forum.search.parsing import parse
from forum.search.postgres import PostgresBackend
from forum.topics import services as topic_services
from forum.topics.models import Post

pytestmark = pytest.mark.search  # (tests/conftest.py: a real index)

RESULT_RE = re.compile(r'class="search-result-title"><a href="([^"]+)">', re.S)


def found(client: Any, q: str, **params: Any) -> list[str]:
    response = client.get("/search", query_string={"q": q, **params})
    assert response.status_code == 200
    return [m.replace("?page=1#", "#") for m in RESULT_RE.findall(response.get_data(as_text=True))]


@pytest.fixture
def pg(app: Flask, tmp_path: Path) -> Any:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL full-text search needs PostgreSQL (FORUM_TEST_DATABASE_URL)")
    app.config["INDEX_DIR"] = str(tmp_path / "index")
    backend = PostgresBackend()
    indexer.replace_backend(app, backend)
    return backend


# --- choosing the backend ---------------------------------------------------------------------
def test_postgres_is_the_default_on_postgresql_and_whoosh_on_sqlite(base_config, tmp_path):
    sqlite = {**base_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}"}
    other = create_app({**sqlite, "SEARCH_BACKEND": None})
    assert indexer.backend_name(other) == "whoosh"
    indexer.get_backend(other).close()
    with pytest.raises(RuntimeError, match="needs a PostgreSQL database"):
        create_app({**sqlite, "SEARCH_BACKEND": "postgres"})
    if base_config["DATABASE_URL"].startswith("postgresql"):
        made = create_app({**base_config, "SEARCH_BACKEND": None})
        assert indexer.backend_name(made) == "postgres"
        assert isinstance(indexer.get_backend(made), PostgresBackend)
        with made.app_context():
            db.engine.dispose()


# --- written in the post's transaction --------------------------------------------------------
def test_a_post_is_searchable_when_it_commits_and_not_before(pg, client, f, monkeypatch):
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("retro", members=[ada]), "Hello", "First words.")
    # No queue and no drain play a part.
    monkeypatch.setattr(indexer, "drain", lambda **kwargs: pytest.fail("drained"))
    monkeypatch.setattr(indexer, "enqueue", lambda *args: pytest.fail("queued"))
    with pytest.raises(RuntimeError), transaction():
        topic_services.reply_to_topic(ada, topic.id, "A reply about axolotls.")
        db.session.flush()
        assert db.session.scalar(select(func.count()).select_from(PostVector)) == 2
        raise RuntimeError("rolled back")
    assert db.session.scalar(select(func.count()).select_from(PostVector)) == 1
    assert found(client, "axolotls") == []
    reply = topic_services.reply_to_topic(ada, topic.id, "A reply about axolotls.")
    assert found(client, "axolotls") == [f"/t/{topic.id}/hello#post-{reply.number}"]
    topic_services.edit_post(ada, reply.id, "A reply about newts.")
    assert found(client, "axolotls") == [] and len(found(client, "newts")) == 1


def test_titles_weigh_more_than_bodies(pg, client, f):
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    body = f.topic(ada, sig, "Pets", "I keep a quokka at home, and some fish.")
    title = f.topic(ada, sig, "Quokka care", "Some words on keeping one, and some fish.")
    later = f.reply(ada, body, "Another quokka story, with some fish.")
    links = found(client, "quokka")
    assert links[0] == f"/t/{title.id}/quokka-care#post-1"
    assert set(links[1:]) == {f"/t/{body.id}/pets#post-1", f"/t/{body.id}/pets#post-{later.number}"}


# --- counts and ranking past the newest matches (issue 26: p99 < 100 ms at 100,000 posts) -----
def test_a_count_past_the_cap_says_at_least_and_rank_all_counts_exactly(pg, app, client, f):
    """A common word's matches are counted up to `counted_matches` (the newest, walked by
    date): beyond, the page says "At least N" (as Whoosh's), never an estimate; ranking every
    match (the reader's link) visits them all and counts exactly."""
    indexer.replace_backend(app, PostgresBackend(ranked_matches=3, counted_matches=4))
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("retro", members=[ada]), "Counting", "zebra quokka zebra quokka")
    for n in range(1, 7):
        f.reply(ada, topic, f"zebra quokka {n}")
    for sort in ("newest", "relevance"):
        response = client.get("/search", query_string={"q": "zebra", "sort": sort})
        html = response.get_data(as_text=True)
        # (newest first lists 7 on its page: the page says at least those)
        assert f"At least {7 if sort == 'newest' else 4} posts found." in html, sort
        links = [m.replace("?page=1#", "#") for m in RESULT_RE.findall(html)]
        if sort == "newest":
            assert [link.rsplit("-", 1)[1] for link in links] == ["7", "6", "5", "4", "3", "2", "1"]
        else:  # the 3 newest ranked, and said so
            assert sorted(link.rsplit("-", 1)[1] for link in links) == ["5", "6", "7"]
            assert "Best match among the 3 newest of them:" in html and "rank every match" in html
    html = client.get("/search", query_string={"q": "zebra", "rank": "all"}).get_data(as_text=True)
    assert "7 posts found." in html and "At least" not in html
    result = indexer.get_backend().search(
        parse("zebra"), queries.sig_scope(None), newest=True, offset=0, limit=2
    )
    assert (result.total, result.total_exact, len(result.hits)) == (4, False, 2)


def test_a_capped_count_is_a_floor_of_the_readable_posts_among_the_newest_candidates(
    pg, app, f, monkeypatch
):
    """Capped, the window of the newest candidates is read from the vectors (narrowed to the
    reader's SIGs) and the policy's clauses asked of those only: hidden posts among them lower
    the "At least" floor, never raise it, and are never returned; a private SIG's newer posts
    take no place in a guest's window. Past POLICY_SLACK turned away, the search is read again
    with the clauses first, as before."""
    indexer.replace_backend(app, PostgresBackend(ranked_matches=3, counted_matches=4))
    root, ada = f.sysop("root"), f.user("ada")
    topic = f.topic(ada, f.sig("retro", members=[ada]), "Counting", "zebra first")
    replies = [f.reply(ada, topic, f"zebra {n}") for n in range(1, 7)]
    cabal = f.sig("cabal", visibility="private", members=[ada])
    f.topic(ada, cabal, "Secret", "zebra secret")
    for reply in replies[-2:]:  # the two newest public matches
        moderation.hide_post(root, reply.id, "no")

    def ask(newest: bool = True) -> tuple[int, bool, list[str]]:
        result = indexer.get_backend().search(
            parse("zebra"), queries.sig_scope(None), newest=newest, offset=0, limit=2
        )
        bodies = [db.session.get(Post, hit.post_id).body_raw for hit in result.hits]
        return result.total, result.total_exact, bodies

    # 5 readable matches; the window (5 candidates) held 2 hidden ones: at least 3, true.
    assert ask() == (3, False, ["zebra 4", "zebra 3"])
    assert ask(newest=False)[:2] == (3, False)
    monkeypatch.setattr(postgres, "POLICY_SLACK", 1)
    assert ask() == (4, False, ["zebra 4", "zebra 3"])


def test_a_phrase_is_counted_among_the_newest_posts_with_its_words(pg, app, client, f):
    """A phrase is checked in the newest posts holding its words (`counted_matches` of them):
    what it finds there is a floor when there are more, and best match ranks those."""
    indexer.replace_backend(app, PostgresBackend(ranked_matches=4, counted_matches=4))
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("retro", members=[ada]), "Animals", "zebra quokka 0")
    for n in range(1, 9):
        f.reply(ada, topic, f"zebra quokka {n}" if n % 2 else f"quokka and a zebra {n}")
    # Side by side in posts 1, 2, 4, 6, 8 (numbers); the newest 5 with both words: 9 to 5.
    for sort in ("newest", "relevance"):
        html = client.get("/search", query_string={"q": '"zebra quokka"', "sort": sort})
        html = html.get_data(as_text=True)
        links = [m.replace("?page=1#", "#") for m in RESULT_RE.findall(html)]
        said = int(re.search(r"At least (\d+) posts? found\.", html)[1])
        assert said == (5 if sort == "newest" else 2), sort  # (newest: the 5 on its page)
        if sort == "newest":  # the page itself is every match, newest first
            assert [link.rsplit("-", 1)[1] for link in links] == ["8", "6", "4", "2", "1"]
        else:
            assert {link.rsplit("-", 1)[1] for link in links} == {"8", "6"}
            assert "Best match among the 2 newest of them:" in html
    html = client.get("/search", query_string={"q": '"zebra quokka"', "rank": "all"})
    assert "5 posts found." in html.get_data(as_text=True)


def test_the_newest_posts_are_searched_first_and_wider_when_they_lack_the_words(
    pg, app, f, monkeypatch
):
    """A ranked or newest-first search reads a slice of the newest posts first (as many as
    PostgreSQL's statistics say hold the matches it counts; with `sig:`, that SIG's newest),
    wider when that slice holds too few, and at last every post: what it finds, counts and ranks
    is what reading every post gives."""
    backend = PostgresBackend(ranked_matches=3, counted_matches=4)
    indexer.replace_backend(app, backend)
    root = f.sysop("root")
    ada = f.user("ada")
    retro, radio = f.sig("retro", members=[ada]), f.sig("radio", members=[ada])
    topics = [
        f.topic(ada, retro, "Animals", "zebra quokka 0"),
        f.topic(ada, radio, "Radio", "zebra"),
    ]
    posts = [db.session.get(Post, t.first_post_id) for t in topics]
    for n in range(1, 40):  # quokka in the older posts only
        posts.append(f.reply(ada, topics[n % 2], f"zebra {'quokka ' if n < 25 else ''}{n}"))
    db.session.execute(text("ANALYZE post_vectors"))  # (the statistics the first slice is from)
    sizes: list[int] = []
    cut = PostgresBackend._cut

    def counting_cut(self: PostgresBackend, parsed: Any, size: int, sig: int | None) -> Any:
        sizes.append(size)
        return cut(self, parsed, size, sig)

    monkeypatch.setattr(PostgresBackend, "_cut", counting_cut)

    def newest(ids: list[int], where: Any = lambda post: True) -> list[int]:
        found = [p for p in posts if p.id in ids or where(p)]
        return [p.id for p in sorted(found, key=lambda p: (p.created_at, p.id), reverse=True)]

    def ask(q: str, **kwargs: Any) -> Any:
        sizes.clear()
        parsed = parse(q)
        kwargs = {"newest": True, "offset": 0, "limit": 3, **kwargs}
        return backend.search(parsed, queries.sig_scope(ada, parsed.sig), **kwargs)

    zebra = ask("zebra")  # every post has it: the newest few are enough
    assert [h.post_id for h in zebra.hits] == newest([])[:3]
    assert (zebra.total, zebra.total_exact) == (4, False)
    assert sizes and sizes[0] < len(posts)
    quokka_posts = newest([], lambda p: "quokka" in p.body_raw)
    quokka = ask("quokka")  # none among the newest 15: read wider
    assert [h.post_id for h in quokka.hits] == quokka_posts[:3]
    assert (quokka.total, quokka.total_exact) == (4, False)
    assert sizes and sizes[0] < 15
    ranked = ask("quokka", newest=False, limit=10)
    assert {h.post_id for h in ranked.hits} == set(quokka_posts[:3])
    assert ranked.ranked_among == 3
    page = ask("quokka", offset=3, limit=20)  # past the window: the rest, newest first
    assert [h.post_id for h in page.hits] == quokka_posts[3:23]
    in_radio = newest([], lambda p: p.topic_id == topics[1].id and "quokka" in p.body_raw)
    radio_only = ask("quokka sig:radio", limit=20)
    assert [h.post_id for h in radio_only.hits] == in_radio[:20]
    assert (radio_only.total, radio_only.total_exact) == (4, False)
    # Words whose frequency PostgreSQL's statistics cannot tell (a prefix, an exclusion, an OR):
    # every post at once, newest first, with the same answers.
    for q, where in (
        ("quok*", lambda p: "quokka" in p.body_raw),
        ("zebra -quokka", lambda p: "quokka" not in p.body_raw),
        ("quokka OR walrus", lambda p: "quokka" in p.body_raw),
    ):
        found = ask(q, limit=20)
        assert sizes == [], q
        assert [h.post_id for h in found.hits] == newest([], where)[:20], q

    # The vectors hold their post's date and SIG, and a moved topic's posts follow it.
    def vector_sigs(topic_id: int) -> set[int]:
        rows = db.session.execute(
            select(PostVector.sig_id, PostVector.created_at, Post.created_at)
            .join(Post, Post.id == PostVector.post_id)
            .where(Post.topic_id == topic_id)
        ).all()
        assert all(mine == theirs for _sig, mine, theirs in rows)
        return {sig_id for sig_id, _mine, _theirs in rows}

    assert vector_sigs(topics[1].id) == {radio.id}
    moderation.move_topic(root, topics[1].id, retro.id)
    assert vector_sigs(topics[1].id) == {retro.id}
    assert ask("quokka sig:radio").hits == []


# --- who may read what, inside the SQL -------------------------------------------------------
def test_the_backend_itself_never_returns_or_counts_what_the_reader_may_not_read(pg, app, f):
    """Asked directly (no re-check after it), with the reader's scope: the SQL leaves out
    private SIGs, hidden, pending and deleted posts and deleted topics, in hits and count."""
    from forum import hooks
    from forum.hooks import Screening

    root = f.sysop("root")
    ada, eve = f.user("ada"), f.user("eve")
    public = f.sig("retro", members=[ada, eve])
    cabal = f.sig("cabal", visibility="private", members=[ada])
    club = f.sig("club", visibility="members", members=[ada])
    t = f.topic(ada, public, "Zebras", "zebra one")
    hidden = f.reply(ada, t, "zebra hidden")
    deleted = f.reply(ada, t, "zebra deleted")
    f.reply(ada, t, "zebra two")
    f.topic(ada, cabal, "Secret zebras", "zebra secret")
    f.topic(ada, club, "Club zebras", "zebra club")
    gone = f.topic(ada, public, "Deleted topic", "zebra in a deleted topic")
    moderation.hide_post(root, hidden.id, "no")
    topic_services.delete_post(ada, deleted.id)
    topic_services.delete_post(root, gone.first_post_id)
    hooks.screen_post.provide(app, lambda author, sig, text: Screening(status="pending"))
    f.reply(eve, t, "zebra waiting for approval")

    def ask(user: Any, q: str = "zebra") -> tuple[int, set[str]]:
        result = pg.search(
            parse(q), queries.sig_scope(user, parse(q).sig), newest=True, offset=0, limit=50
        )
        bodies = {
            db.session.get(Post, hit.post_id).body_raw.split(" ", 1)[1] for hit in result.hits
        }
        assert result.total == len(result.hits) and result.total_exact
        return result.total, bodies

    assert ask(None) == (2, {"one", "two"})
    assert ask(eve) == (2, {"one", "two"})
    assert ask(ada) == (4, {"one", "two", "secret", "club"})
    assert ask(root) == (4, {"one", "two", "secret", "club"})
    assert ask(eve, "zebra sig:cabal") == (0, set())
    # Nor are the words of what they may not read offered as a correction.
    assert pg.suggest(parse("secrets"), scope=queries.sig_scope(eve)) is None
    assert pg.suggest(parse("secrat"), scope=queries.sig_scope(eve)) is None
    better = pg.suggest(parse("secrat"), scope=queries.sig_scope(ada))
    assert better is not None and better.to_string() == "secret"


# --- hostile queries --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("q", "finds"),
    [
        ("modem|cable", {"both"}),  # not tsquery's OR: two words
        ("modem & !cable", {"both"}),  # not AND NOT: the words modem and cable
        ("!cable", {"both"}),
        ("modem:*", {"both", "modem"}),
        ("'modem' <-> 'cable'", {"both"}),
        ("'); DROP TABLE posts; --", set()),
        ("modem\\ cable\\", {"both"}),
        ("modem:A", {"both", "modem"}),
        ('"cable \' modem"', set()),  # the phrase "cable modem" is not in either post
    ],
)
def test_query_syntax_of_postgresql_is_only_words(pg, client, f, q, finds):
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    posts = {
        "modem": f.topic(ada, sig, "Modem only", "The modem hums.").id,
        "both": f.topic(ada, sig, "Both", "A modem and a cable drop table.").id,
    }
    links = found(client, q)
    assert {name for name, tid in posts.items() if any(f"/t/{tid}/" in x for x in links)} == finds
    assert db.session.scalar(select(func.count()).select_from(Post)) == 2


def test_a_search_that_runs_too_long_gets_a_clear_message(pg, client, f, monkeypatch):
    ada = f.user("ada")
    f.topic(ada, f.sig("retro", members=[ada]), "Modems", "The modem hums.")
    monkeypatch.setattr(postgres, "STATEMENT_TIMEOUT_MS", 50)
    real = postgres._scope_clause
    slow = text("(SELECT true FROM pg_sleep(0.2))")
    monkeypatch.setattr(postgres, "_scope_clause", lambda scope: real(scope) & slow)
    response = client.get("/search", query_string={"q": "modem"})
    assert response.status_code == 200
    assert "This search took too long" in response.get_data(as_text=True)
    monkeypatch.undo()
    assert len(found(client, "modem")) == 1  # and the next search runs as usual


# --- switching backends, reindex ------------------------------------------------------------
def test_switching_backends_back_and_forth_loses_nothing(app, client, f, tmp_path):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL full-text search needs PostgreSQL (FORUM_TEST_DATABASE_URL)")
    root = f.sysop("root")
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    whoosh = WhooshBackend(tmp_path / "index")
    indexer.replace_backend(app, whoosh)
    topic = f.topic(ada, sig, "Whoosh days", "Written under whoosh: marmots.")
    edited = f.reply(ada, topic, "Soon edited: beavers.")
    topic_services.edit_post(ada, edited.id, "Edited under whoosh: otters.")
    assert len(found(client, "marmots")) == 1 and len(found(client, "otters")) == 1

    # To PostgreSQL: every post already has its vector, edits included.
    indexer.replace_backend(app, PostgresBackend())
    assert indexer.get_backend().check() == "ok"
    assert len(found(client, "marmots")) == 1 and len(found(client, "otters")) == 1
    assert found(client, "beavers") == []
    fresh = f.reply(ada, topic, "Written under postgres: wombats.")
    topic_services.edit_post(ada, edited.id, "Edited under postgres: badgers.")
    moderation.hide_post(root, fresh.id, "spam")
    f.reply(ada, topic, "Also under postgres: lemmings.")
    assert found(client, "wombats") == [] and len(found(client, "lemmings")) == 1

    # Back to Whoosh: its index missed all that, knows it, and start-up rebuilds it.
    indexer.replace_backend(app, WhooshBackend(tmp_path / "index"))
    assert indexer.status(indexer.get_backend()) == "outdated"
    assert indexer.startup(app) == "outdated"
    assert indexer.status(indexer.get_backend()) == "ok"
    assert len(found(client, "lemmings")) == 1 and len(found(client, "badgers")) == 1
    assert found(client, "otters") == [] and found(client, "wombats") == []
    assert len(found(client, "marmots")) == 1


def test_reindex_fills_the_vectors_in_batches_while_the_forum_serves(
    pg, app, client, f, make_app, monkeypatch
):
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("retro", members=[ada]), "Many", "capybara 0")
    for n in range(1, 7):
        f.reply(ada, topic, f"capybara {n}")
    with transaction() as tx:  # as after the migration: no post has a vector yet
        tx.execute(delete(PostVector))
    assert pg.check() == "missing"
    monkeypatch.setattr(postgres, "REBUILD_BATCH", 3)
    other = make_app(SEARCH_BACKEND="postgres")  # another server, searching meanwhile
    seen: list[int] = []
    real = postgres.write_vectors

    def batch_then_search(*args: Any, **kwargs: Any) -> None:
        with other.app_context():
            seen.append(len(found(other.test_client(), "capybara")))
        real(*args, **kwargs)

    monkeypatch.setattr(postgres, "write_vectors", batch_then_search)
    result = app.test_cli_runner().invoke(args=["forum", "reindex"])
    assert result.exit_code == 0, result.output
    assert "Indexing posts" in result.output and "Indexed 7 posts." in result.output
    assert seen == [0, 3, 6]  # each batch committed on its own, and found at once elsewhere
    assert pg.check() == "ok"
    assert len(found(client, "capybara")) == 7


def test_reindex_can_fill_the_vectors_before_switching(app, f, tmp_path, monkeypatch):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL full-text search needs PostgreSQL (FORUM_TEST_DATABASE_URL)")
    indexer.replace_backend(app, WhooshBackend(tmp_path / "index"))
    ada = f.user("ada")
    f.topic(ada, f.sig("retro", members=[ada]), "Before", "Words from before: tapirs.")
    with transaction() as tx:
        tx.execute(delete(PostVector))
    result = app.test_cli_runner().invoke(args=["forum", "reindex", "--backend", "postgres"])
    assert result.exit_code == 0, result.output
    assert "Indexed 1 posts." in result.output
    assert PostgresBackend().check() == "ok"
    assert isinstance(indexer.get_backend(), WhooshBackend)  # still the one in use


def test_start_up_says_when_posts_lack_their_vectors_and_serves_on(pg, app, client, f, caplog):
    ada = f.user("ada")
    f.topic(ada, f.sig("retro", members=[ada]), "Old", "From before the migration: okapis.")
    assert indexer.startup(app) == "ok"
    with transaction() as tx:
        tx.execute(delete(PostVector))
    assert indexer.startup(app) == "missing"
    assert "flask forum reindex" in caplog.text
    assert found(client, "okapis") == []  # (not found until then; nothing else is held up)


def test_vectors_can_be_left_to_the_postgres_backend_alone(app, f, tmp_path):
    """SEARCH_POSTGRES_VECTORS off: a Whoosh forum on PostgreSQL writes none (as before issue 26);
    the PostgreSQL backend always does."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL full-text search needs PostgreSQL (FORUM_TEST_DATABASE_URL)")
    app.config["SEARCH_POSTGRES_VECTORS"] = False
    indexer.replace_backend(app, WhooshBackend(tmp_path / "index"))
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("retro", members=[ada]), "Quiet", "No vector for this one.")
    assert db.session.scalar(select(func.count()).select_from(PostVector)) == 0
    indexer.replace_backend(app, PostgresBackend())
    assert indexer.get_backend().check() == "missing"
    f.reply(ada, topic, "This one has its vector.")
    assert db.session.scalar(select(func.count()).select_from(PostVector)) == 1
