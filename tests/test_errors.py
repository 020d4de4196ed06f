"""Friendly error pages (HTML and JSON) for 400 to 503; no traceback ever reaches a user."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask, abort
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from forum.accounts.models import User
from forum.errors import Forbidden, Invalid
from forum.extensions import db

from .factories import PASSWORD

SECRET = "internal-detail-7f3a"
JSON = {"Accept": "application/json"}
LEAKS = ("Traceback", 'File "', "werkzeug", "sqlalchemy", "RuntimeError", SECRET)


def html(response: Any) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def test_routes(app: Flask) -> None:
    """Routes that fail on purpose, added to this test's app only."""

    def boom() -> str:
        raise RuntimeError(f"kaboom {SECRET}")

    def write_then_boom() -> str:
        db.session.add(User(username="ghost", email="ghost@example.com", password_hash="x"))
        db.session.flush()
        raise RuntimeError(SECRET)

    def database_down() -> str:
        raise OperationalError(f"SELECT {SECRET}", {}, Exception("connection refused"))

    def forbidden() -> str:
        raise Forbidden()

    def invalid() -> str:
        raise Invalid("body", "That body is not acceptable.")

    def bad_request() -> str:
        abort(400)

    for rule, view in (
        ("/_test/boom", boom),
        ("/_test/write-then-boom", write_then_boom),
        ("/_test/database-down", database_down),
        ("/_test/forbidden", forbidden),
        ("/_test/invalid", invalid),
        ("/_test/bad-request", bad_request),
    ):
        app.add_url_rule(rule, view.__name__, view)


def assert_friendly(response: Any, status: int, title: str) -> str:
    page = html(response)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert f"<h1>{title}" in page
    assert "<main" in page
    # A way on: back to the index (the 503 page, which needs no database, offers a retry).
    assert "Back to the SIG index" in page or (status == 503 and "Try again" in page)
    for leak in LEAKS:
        assert leak not in page, leak
    return page


def assert_json(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == status and error["title"] and error["message"]
    for leak in LEAKS:
        assert leak not in response.get_data(as_text=True), leak
    return error  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "url,status,title",
    [
        ("/_test/bad-request", 400, "Bad request"),
        ("/_test/invalid", 400, "Bad request"),
        ("/_test/forbidden", 403, "Not allowed"),
        ("/no/such/page", 404, "Not found"),
        ("/t/999999", 404, "Not found"),
        ("/t/-1", 404, "Not found"),
        ("/u/nobody", 404, "Not found"),
        ("/s/no-such-sig/", 404, "Not found"),
        ("/logout", 405, "Method not allowed"),
        ("/_test/boom", 500, "Something went wrong"),
        ("/_test/database-down", 503, "Unavailable"),
    ],
)
def test_error_pages_are_friendly_in_html_and_json(client, test_routes, url, status, title):
    assert_friendly(client.get(url), status, title)
    assert_json(client.get(url, headers=JSON), status)


def test_domain_error_message_is_shown(client, test_routes):
    assert "That body is not acceptable." in html(client.get("/_test/invalid"))


def test_405_names_the_allowed_methods(client):
    response = client.get("/logout")
    assert "POST" in response.headers["Allow"]


def test_missing_csrf_is_a_friendly_400(client):
    page = assert_friendly(client.post("/login", data={"login": "x"}), 400, "Form expired")
    assert "reload the page" in page
    assert_json(client.post("/login", data={}, headers=JSON), 400)


@pytest.mark.config(MAX_CONTENT_LENGTH=2048)
def test_too_large_a_request_is_a_friendly_413(client, f):
    f.user("ada")
    client.login("ada")
    token = client.csrf_token()
    big = {"csrf_token": token, "action": "profile", "profile-bio": "x" * 10_000}
    assert_friendly(client.post("/settings", data=big), 413, "Too large")
    assert_json(client.post("/settings", data=big, headers=JSON), 413)
    assert db.session.scalar(select(User.bio_raw).where(User.username == "ada")) == ""


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="1 per minute")
def test_too_many_requests_is_a_friendly_429(client):
    client.form("/login", {})
    assert_friendly(client.form("/login", {}), 429, "Slow down")
    assert_json(client.form("/login", {}, headers=JSON), 429)


def test_500_is_logged_with_its_traceback_but_never_shown(client, test_routes, caplog):
    with caplog.at_level("ERROR"):
        response = client.get("/_test/boom")
    assert_friendly(response, 500, "Something went wrong")
    assert "Traceback" in caplog.text and SECRET in caplog.text


def test_500_rolls_back_what_the_request_wrote(client, test_routes):
    assert_friendly(client.get("/_test/write-then-boom"), 500, "Something went wrong")
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_error_page_for_a_logged_in_member_keeps_the_layout(client, test_routes, f):
    f.user("ada")
    client.login("ada")
    page = assert_friendly(client.get("/_test/boom"), 500, "Something went wrong")
    assert 'data-user="ada"' in page


# --- forms with errors come back with what the member typed --------------------------------
def values(page: str) -> list[str]:
    """What the inputs and textareas of a page hold."""
    found = re.findall(r'<input[^>]*\bvalue="([^"]*)"', page)
    found += re.findall(r"<textarea[^>]*>\s*([^<]*)</textarea>", page)
    return [v.strip() for v in found]


def test_new_topic_form_with_an_error_keeps_title_and_body(client, f):
    ada = f.user("ada")
    f.sig("retro", members=[ada])
    client.login("ada")
    typed_title = "A typed title"
    too_long = "y" * (client.application.config["MAX_POST_LENGTH"] + 1)
    response = client.form("/s/retro/new", {"title": typed_title, "body": too_long})
    assert response.status_code == 400
    assert typed_title in values(html(response))
    assert too_long in values(html(response))
    empty_body = client.form("/s/retro/new", {"title": typed_title, "body": ""})
    assert empty_body.status_code == 400
    assert typed_title in values(html(empty_body))


def test_reply_form_with_an_error_keeps_the_body(client, f):
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig)
    client.login("ada")
    too_long = "z" * (client.application.config["MAX_POST_LENGTH"] + 1)
    response = client.form(f"/t/{topic.id}/reply", {"body": too_long})
    assert response.status_code == 400
    assert too_long in values(html(response))


@pytest.mark.parametrize(
    "url,data,kept",
    [
        ("/login", {"login": "typed-login", "password": "typed-password-1"}, ["typed-login"]),
        (
            "/register",
            {"username": "x", "email": "typed@example.com", "password": "typed-password-1"},
            ["x", "typed@example.com"],
        ),
    ],
)
def test_account_forms_with_errors_keep_what_was_typed_except_passwords(client, url, data, kept):
    response = client.form(url, data)
    page = html(response)
    assert response.status_code == 400
    for value in kept:
        assert value in values(page)
    assert "typed-password-1" not in page


def test_login_with_a_wrong_password_keeps_remember_me(client, f):
    f.user("ada")
    response = client.form(
        "/login", {"login": "ada", "password": "wrong" + PASSWORD, "remember": "y"}
    )
    assert response.status_code == 400
    assert re.search(
        r'<input[^>]*checked[^>]*name="remember"|name="remember"[^>]*checked', html(response)
    )
