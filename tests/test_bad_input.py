"""Bad input: each gets a clear error page, writes nothing, and a form keeps what was typed."""

from __future__ import annotations

import re
from typing import Any

import pytest

from forum.extensions import db
from forum.sigs.models import JoinRequest
from forum.topics.models import Post, Topic

from . import dbstate


def _html(response: Any) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def world(f, client):  # noqa: ANN001, ANN201
    ada = f.user("ada")
    sig = f.sig("club", members=[ada])
    topic = f.topic(ada, sig, "Hello there", "first words")
    reply = f.reply(ada, topic, "second words")
    client.login("ada")
    return {"sig": sig, "topic": topic, "reply": reply}


class Unchanged:
    """`with Unchanged(): ...` fails if any row anywhere changed."""

    def __enter__(self) -> Unchanged:
        db.session.expire_all()
        self.before = dbstate.snapshot()
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            assert dbstate.diff(self.before, dbstate.snapshot()) == []


def assert_error_page(response: Any, status: int, *words: str) -> str:
    assert response.status_code == status, (response.status_code, _html(response)[:300])
    html = _html(response)
    assert "Traceback" not in html
    for word in words:
        assert word in html, (word, html[:2000])
    return html


# --- empty and oversized fields -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message", "kept"),
    [
        ({"title": "", "body": "a body I typed"}, "Fill in this field", "a body I typed"),
        ({"title": "A fine title", "body": ""}, "Fill in this field", "A fine title"),
        ({"title": "A fine title", "body": "  \n\t "}, "Fill in this field", "A fine title"),
        ({"title": "A fine title", "body": "\x01\x02\x7f"}, "Write something first", "fine"),
        ({"title": "ab", "body": "a body I typed"}, "at least 3 characters", "a body I typed"),
        ({"title": "T" * 201, "body": "a body I typed"}, "200 characters or fewer", "T" * 201),
        ({"title": "A title", "body": "b" * 100_000}, "limited to 30,000", "b" * 100_000),
    ],
    ids=["no title", "no body", "blank body", "control chars only", "short title", "long title",
         "100 kB body"],
)  # fmt: skip
def test_new_topic_with_bad_fields(client, world, data, message, kept) -> None:
    with Unchanged():
        response = client.form("/s/club/new", data)
    html = assert_error_page(response, 400, message)
    assert kept in html
    assert 'aria-invalid="true"' in html


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "Fill in this field"),
        (" \n ", "Fill in this field"),
        ("x" * 30_001, "limited to 30,000 characters; this one has 30,001"),
        ("y" * 100_000, "limited to 30,000 characters; this one has 100,000"),
    ],
    ids=["empty", "blank", "one too many", "100 kB"],
)
def test_reply_with_bad_body_comes_back_with_the_text(client, world, body, message) -> None:
    with Unchanged():
        response = client.form(f"/t/{world['topic'].id}/reply", {"body": body})
    html = assert_error_page(response, 400, message)
    assert body.strip() in html
    assert "first words" in html  # the topic is shown around the form


def test_quotes_nested_past_what_renders_are_refused_with_the_text_kept(client, world) -> None:
    body = "> " * 20 + "the deepest words"
    with Unchanged():
        response = client.form(f"/t/{world['topic'].id}/reply", {"body": body})
    html = assert_error_page(response, 400, "Quotes can nest 19 deep")
    assert body.replace(">", "&gt;") in html


def test_quotes_19_deep_keep_every_word(client, world) -> None:
    response = client.form(f"/t/{world['topic'].id}/reply", {"body": "> " * 19 + "still shown"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert "still shown" in page.get_data(as_text=True)


def test_edit_with_bad_body_keeps_the_post(client, world) -> None:
    reply = world["reply"]
    for body in ("", "z" * 100_000):
        with Unchanged():
            response = client.form(f"/p/{reply.id}/edit", {"body": body})
        assert_error_page(response, 400)
        assert body in _html(response)


def test_bodies_over_the_request_limit_get_413(client, world) -> None:
    with Unchanged():
        response = client.form(f"/t/{world['topic'].id}/reply", {"body": "x" * 1_100_000})
    assert_error_page(response, 413, "larger than the forum accepts")


# --- NUL bytes and malformed UTF-8 -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/s/club/new", {"title": "Hel\x00lo", "body": "body"}),
        ("/s/club/new", {"title": "Hello", "body": "bo\x00dy"}),
        ("/t/{topic}/reply", {"body": "\x00"}),
        ("/p/{reply}/edit", {"body": "a\x00b"}),
        ("/sigs/request", {"slug": "club\x00", "message": "hi"}),
        ("/sigs/request", {"slug": "club", "message": "h\x00i"}),
    ],
)
def test_nul_bytes_in_forms_are_refused(client, world, url, data) -> None:
    url = url.format(topic=world["topic"].id, reply=world["reply"].id)
    with Unchanged():
        response = client.form(url, data)
    assert_error_page(response, 400, "NUL character")


@pytest.mark.parametrize(
    "url",
    [
        "/s/cl%00ub/",
        "/s/club/new%00",
        "/t/1/hello%00there",
        "/u/ada%00",
        "/s/club/?page=1%00",
        "/t/1?page=%00",
        "/?q=%00",
    ],
)
def test_nul_bytes_in_addresses_are_refused(client, world, url) -> None:
    with Unchanged():
        response = client.get(url)
    assert_error_page(response, 400, "NUL character")


@pytest.mark.parametrize(
    "path", [b"/s/\xff\xfe/", b"/t/1/\xc3\x28", b"/u/\x80abc", b"/s/club/\xed\xa0\x80"]
)
def test_malformed_utf8_in_paths_is_refused(client, world, path) -> None:
    # A server hands the path's raw bytes to the app as latin-1 (PEP 3333); the test client
    # would clean them up first, so set them the way a server does.
    with Unchanged():
        response = client.get("/", environ_overrides={"PATH_INFO": path.decode("latin-1")})
    assert_error_page(response, 400, "not valid UTF-8")


@pytest.mark.parametrize("query", ["filter=%ff", "page=%e2%82", "q=caf%E9", "%ff=1"])
def test_malformed_utf8_in_query_strings_is_refused(client, world, query) -> None:
    with Unchanged():
        response = client.get(f"/s/club/?{query}")
    assert_error_page(response, 400, "not valid UTF-8")


def _raw_post(client, url: str, body: bytes):  # noqa: ANN001, ANN202
    token = client.csrf_token().encode()
    return client.post(
        url,
        data=b"csrf_token=" + token + b"&" + body,
        content_type="application/x-www-form-urlencoded",
    )


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/t/{topic}/reply", b"body=caf%C3%A9+%FF%FE+bad"),
        ("/t/{topic}/reply", b"body=" + "café".encode("latin-1")),
        ("/s/club/new", b"title=Caf%E9+time&body=hello"),
        ("/p/{reply}/edit", b"body=%C0%AF"),
        ("/sigs/request", b"slug=%ED%A0%80&message=x"),
        ("/t/{topic}/reply", b"bo%FFdy=hello"),
    ],
)
def test_malformed_utf8_in_form_data_is_refused(client, world, url, body) -> None:
    url = url.format(topic=world["topic"].id, reply=world["reply"].id)
    with Unchanged():
        response = _raw_post(client, url, body)
    assert_error_page(response, 400, "not valid UTF-8")


def test_well_formed_utf8_and_plus_signs_still_work(client, world) -> None:
    response = _raw_post(
        client, f"/t/{world['topic'].id}/reply", b"body=caf%C3%A9+%E2%9C%93+1%2B1%3D2+%F0%9F%99%82"
    )
    assert response.status_code == 302
    post = db.session.scalar(db.select(Post).order_by(Post.id.desc()).limit(1))
    assert post.body_raw == "café ✓ 1+1=2 🙂"


# --- ids that name nothing ------------------------------------------------------------------

HUGE = "99999999999999999999999"


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/t/0"),
        ("GET", "/t/-1"),
        ("GET", "/t/999999"),
        ("GET", f"/t/{HUGE}"),
        ("GET", "/t/2147483648/slug"),
        ("GET", "/t/1x"),
        ("GET", "/p/0"),
        ("GET", "/p/-5"),
        ("GET", f"/p/{HUGE}"),
        ("GET", f"/p/{HUGE}/quote"),
        ("GET", f"/p/{HUGE}/edit"),
        ("GET", f"/p/{HUGE}/history"),
        ("GET", f"/t/{HUGE}/reply"),
        ("GET", f"/t/1/reply?quote={HUGE}"),
        ("GET", "/t/1/reply?quote=999999"),
        ("GET", "/t/1?page=0"),
        ("GET", "/t/1?page=-1"),
        ("GET", f"/t/1?page={HUGE}"),
        ("GET", "/t/1?page=x"),
        ("GET", "/s/club/?page=0"),
        ("GET", f"/s/club/?page={HUGE}"),
        ("GET", "/s/no-such-sig/"),
        ("GET", "/s/no-such-sig/new"),
        ("GET", "/s/no-such-sig/members"),
        ("GET", "/u/nobody-here"),
        ("POST", f"/t/{HUGE}/reply"),
        ("POST", "/t/999999/reply"),
        ("POST", f"/p/{HUGE}/edit"),
        ("POST", f"/p/{HUGE}/delete"),
        ("POST", f"/p/{HUGE}/restore"),
        ("POST", "/p/999999/delete"),
        ("POST", "/p/999999/restore"),
        ("POST", "/s/no-such-sig/join"),
        ("POST", "/s/no-such-sig/leave"),
        ("POST", "/s/no-such-sig/new"),
        ("POST", f"/s/club/requests/{HUGE}"),
    ],
)
def test_unknown_negative_and_huge_ids_are_not_found(client, world, method, url) -> None:
    with Unchanged():
        if method == "GET":
            response = client.get(url)
        else:
            response = client.form(url, {"body": "text", "title": "A title", "value": "approve"})
    assert_error_page(response, 404)


def test_huge_reply_to_is_ignored_not_an_error(client, world) -> None:
    response = client.form(f"/t/{world['topic'].id}/reply", {"body": "hi", "reply_to": HUGE})
    assert response.status_code == 302
    post = db.session.scalar(db.select(Post).order_by(Post.id.desc()).limit(1))
    assert post.body_raw == "hi" and post.reply_to_post_id is None


def test_services_refuse_huge_ids(f) -> None:
    from forum.errors import NotFound
    from forum.sigs import services as sig_services
    from forum.topics import services as topic_services

    root = f.sysop("root")
    huge = 10**30
    for call in (
        lambda: topic_services.reply_to_topic(root, huge, "x"),
        lambda: topic_services.restore_post(root, huge),
        lambda: topic_services.delete_post(root, huge),
        lambda: sig_services.join_sig(root, huge),
        lambda: sig_services.decide_join_request(root, huge, True),
        lambda: sig_services.set_sig_sysop(root, 1, huge, True),
    ):
        with pytest.raises(NotFound):
            call()


# --- CSRF and methods ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/s/club/new", {"title": "No token", "body": "body"}),
        ("/t/{topic}/reply", {"body": "no token"}),
        ("/p/{reply}/edit", {"body": "no token"}),
        ("/p/{reply}/delete", {}),
        ("/s/club/leave", {}),
        ("/s/club/read", {}),
        ("/new/read", {}),
        ("/sigs/request", {"slug": "club"}),
    ],
)
@pytest.mark.parametrize("token", [None, "forged-token"])
def test_missing_or_forged_csrf_token_is_a_400_page(client, world, url, data, token) -> None:
    url = url.format(topic=world["topic"].id, reply=world["reply"].id)
    if token:
        data = {**data, "csrf_token": token}
    with Unchanged():
        response = client.post(url, data=data)
    assert_error_page(response, 400, "Form expired", "reload the page")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/p/{reply}/delete"),
        ("GET", "/p/{reply}/restore"),
        ("GET", "/s/club/join"),
        ("GET", "/s/club/leave"),
        ("GET", "/s/club/read"),
        ("GET", "/new/read"),
        ("POST", "/t/{topic}"),
        ("POST", "/p/{reply}"),
        ("POST", "/s/club/"),
        ("PUT", "/t/{topic}/reply"),
        ("DELETE", "/p/{reply}"),
        ("PATCH", "/p/{reply}/edit"),
    ],
)
def test_wrong_methods_are_405_pages(client, world, method, url) -> None:
    url = url.format(topic=world["topic"].id, reply=world["reply"].id)
    with Unchanged():
        response = client.open(url, method=method)
    html = assert_error_page(response, 405, "does not take this kind of request")
    assert response.headers.get("Allow")
    assert re.search(r"<title>Method not allowed", html)


def test_nothing_written_by_any_refusal(client, world) -> None:
    """One more time, all together: the counts of topics, posts and requests are unchanged."""
    before = (dbstate.count(Topic), dbstate.count(Post), dbstate.count(JoinRequest))
    client.form("/s/club/new", {"title": "", "body": ""})
    client.form(f"/t/{world['topic'].id}/reply", {"body": "q" * 100_000})
    client.post(f"/t/{world['topic'].id}/reply", data={"body": "no csrf"})
    client.form("/sigs/request", {"slug": "cl\x00ub"})
    _raw_post(client, f"/t/{world['topic'].id}/reply", b"body=%FF")
    assert (dbstate.count(Topic), dbstate.count(Post), dbstate.count(JoinRequest)) == before


@pytest.mark.search  # (the search page is among the pages)
@pytest.mark.parametrize("number", ["%C2%B2", "%E2%91%A0", "%C2%B9%C2%B2"])  # ², ①, ¹²
def test_numbers_written_in_other_digits_are_not_page_numbers(client, world, number) -> None:
    """`"²".isdigit()` is true but `int("²")` fails: a query string of such "digits" is a page
    that does not exist (404) or no page at all, never an error page (500)."""
    topic, sig = world["topic"], world["sig"]
    for url in (
        f"/t/{topic.id}?page={number}",
        f"/s/{sig.slug}/?page={number}",
        f"/search?q=modem&page={number}",
        f"/t/{topic.id}/reply?quote={number}",
    ):
        assert client.get(url).status_code in (200, 404), url
