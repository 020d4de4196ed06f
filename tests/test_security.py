"""Security: sessions that really end, cookie flags, headers, CSRF on every POST, rate limits."""

from __future__ import annotations

import re
import socket
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from forum import config as config_module
from forum import create_app
from forum.accounts import services
from forum.db import transaction
from forum.extensions import db, limiter
from forum.timeutil import utcnow

from .dbstate import snapshot
from .factories import PASSWORD

NEW_PASSWORD = "a-much-better-passphrase"
REMEMBER = "remember_token"


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def logged_in(client: Any) -> bool:
    """Whether this browser is logged in, as the site sees it (not as its cookies claim)."""
    response = client.get("/settings")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def copy_cookie(source: Any, target: Any, name: str) -> None:
    cookie = source.get_cookie(name)
    assert cookie is not None, f"no {name} cookie"
    target.set_cookie(name, cookie.value)


# --- sessions that really end ---------------------------------------------------------------
@pytest.fixture
def ada_twice(client: Any, make_client: Any, f: Any) -> tuple[Any, Any, Any]:
    """Ada logged in with remember-me; a second browser holding a copy of her session cookie,
    a third holding only a copy of her remember-me cookie."""
    ada = f.user("ada")
    client.form("/login", {"login": "ada", "password": PASSWORD, "remember": "y"})
    session_copy = make_client()
    copy_cookie(client, session_copy, "session")
    remember_copy = make_client()
    copy_cookie(client, remember_copy, REMEMBER)
    assert logged_in(session_copy) and logged_in(remember_copy)
    return ada, session_copy, remember_copy


def test_copies_of_the_cookies_are_logged_in_as_the_member(ada_twice):
    _, session_copy, remember_copy = ada_twice
    assert 'data-user="ada"' in html(session_copy.get("/"))
    assert 'data-user="ada"' in html(remember_copy.get("/"))


def test_logout_ends_every_copy_of_the_session_and_remember_cookies(client, ada_twice):
    _, session_copy, remember_copy = ada_twice
    client.logout()
    assert not logged_in(client)
    assert not logged_in(session_copy)
    assert not logged_in(remember_copy)
    # Logging out also tells the browser to drop its remember-me cookie.
    assert client.get_cookie(REMEMBER) is None


def test_password_change_ends_every_other_copy_but_keeps_this_browser(client, ada_twice):
    _, session_copy, remember_copy = ada_twice
    response = client.form(
        "/settings",
        {
            "action": "password",
            "password-current_password": PASSWORD,
            "password-new_password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert logged_in(client)
    assert not logged_in(session_copy)
    assert not logged_in(remember_copy)
    # This browser's remember-me cookie was reissued with the new token and still works.
    fresh = client.application.test_client()
    copy_cookie(client, fresh, REMEMBER)
    assert logged_in(fresh)


def test_logout_everywhere(client, ada_twice):
    _, session_copy, remember_copy = ada_twice
    response = client.form("/settings", {"action": "everywhere"})
    assert response.status_code == 302
    assert not logged_in(client)
    assert not logged_in(session_copy)
    assert not logged_in(remember_copy)


def test_a_ban_ends_every_session(client, ada_twice):
    ada, session_copy, remember_copy = ada_twice
    with transaction():
        ada.banned_at = utcnow()
    assert not logged_in(client)
    assert not logged_in(session_copy)
    assert not logged_in(remember_copy)


def test_a_ban_by_the_sysop_ends_every_session_for_good(client, ada_twice, f):
    from forum.moderation import services as moderation

    ada, session_copy, remember_copy = ada_twice
    boss = f.sysop("boss")
    moderation.ban_member(boss, ada.id, "spam")
    assert not logged_in(client)
    assert not logged_in(session_copy)
    assert not logged_in(remember_copy)
    # Lifting the ban does not bring the old cookies back: the token they carry was rotated.
    moderation.lift_ban(boss, ada.id)
    assert not logged_in(client)
    assert not logged_in(session_copy)
    assert not logged_in(remember_copy)
    client.application.test_client().login("ada")  # a fresh login works again


def test_revoking_sessions_rotates_the_token_in_the_session_id(app, f):
    ada = f.user("ada")
    before = ada.get_id()
    assert before == f"{ada.id}:{ada.session_token}"
    assert services.load_session_user(before) == ada
    services.revoke_sessions(ada)
    assert ada.get_id() != before
    assert services.load_session_user(before) is None
    assert services.load_session_user(ada.get_id()) == ada
    for bad in ("", str(ada.id), f"{ada.id}:", "x:y", f"{ada.id + 1}:{ada.session_token}"):
        assert services.load_session_user(bad) is None


def test_logging_in_again_after_logout_works(client, ada_twice):
    _, session_copy, _ = ada_twice
    client.logout()
    client.login("ada")
    # The new session is a new token: the copy of the old one stays dead.
    assert logged_in(client)
    assert not logged_in(session_copy)


# --- cookies --------------------------------------------------------------------------------
def test_session_and_remember_cookies_are_httponly_and_samesite(client, f):
    f.user("ada")
    response = client.form("/login", {"login": "ada", "password": PASSWORD, "remember": "y"})
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    for name in ("session", REMEMBER):
        attrs = cookies[name].lower()
        assert "; httponly" in attrs, cookies[name]
        assert "; samesite=lax" in attrs, cookies[name]


@pytest.mark.config(BASE_URL="https://forum.example.org")
def test_cookies_are_secure_when_the_site_is_served_over_https(client, f):
    f.user("ada")
    data = {"login": "ada", "password": PASSWORD, "remember": "y"}
    # Over HTTPS, CSRF also wants a same-site Referer, which the referrer policy lets through.
    assert client.form("/login", data).status_code == 400
    response = client.form("/login", data, headers={"Referer": "https://localhost/login"})
    assert response.status_code == 302
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert "; secure" in cookies["session"].lower()
    assert "; secure" in cookies[REMEMBER].lower()


def test_remember_me_lasts_thirty_days_not_a_year(client, f):
    f.user("ada")
    response = client.form("/login", {"login": "ada", "password": PASSWORD, "remember": "y"})
    (remember,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(REMEMBER)]
    assert "max-age=2592000" in remember.lower() or "expires=" in remember.lower()
    cookie = client.get_cookie(REMEMBER)
    assert cookie is not None and cookie.expires is not None
    days = (cookie.expires - utcnow()).days
    assert 28 <= days <= 30


# --- headers --------------------------------------------------------------------------------
@pytest.fixture
def boom(app: Flask) -> None:
    def explode() -> str:
        raise RuntimeError("kaboom")

    app.add_url_rule("/_test/boom", "test_boom", explode)


@pytest.mark.parametrize(
    "method,url,status",
    [
        ("get", "/", 200),
        ("get", "/login", 200),
        ("get", "/static/css/forum.css", 200),
        ("get", "/settings", 302),
        ("get", "/no/such/page", 404),
        ("get", "/logout", 405),
        ("post", "/login", 400),
        ("get", "/_test/boom", 500),
    ],
)
def test_security_headers_on_every_response(client, boom, method, url, status):
    response = getattr(client, method)(url)
    response.close()
    assert response.status_code == status
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in (
        "no-referrer",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
    )
    assert response.headers["X-Frame-Options"] == "DENY"


def test_member_pages_are_not_cached_by_shared_caches(client, f):
    f.user("ada")
    client.login("ada")
    assert "no-store" in client.get("/").headers["Cache-Control"]


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    secure = client.get("/", base_url="https://localhost")
    assert "max-age=" in secure.headers["Strict-Transport-Security"]


class InlineCode(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block: inline scripts, event-handler
    attributes, style attributes and javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self._in_inline_script = True
            self.problems.append("inline <script>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}=")
            if name == "style":
                self.problems.append(f"{tag} style=")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"{tag} {name}=javascript:")


def test_pages_need_no_inline_script_or_style(client, make_client, f):
    ada = f.user("ada")
    boss = f.sysop("boss")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, body="Hello **world** <img src=x onerror=alert(1)>")
    post = f.reply(ada, topic, body="[x](javascript:alert(1)) and <b style='color:red'>hi</b>")
    services.update_profile(ada, signature="sig", bio="<script>alert(1)</script> *bio*")
    pages = [
        "/",
        "/login",
        "/register",
        "/password/forgot",
        "/s/retro/",
        f"/t/{topic.id}",
        "/u/ada",
        "/no/such/page",
    ]
    member_pages = [
        "/",
        "/settings",
        "/new",
        f"/t/{topic.id}",
        f"/t/{topic.id}/reply",
        f"/p/{post.id}/edit",
        "/s/retro/new",
        "/u/ada",
        "/sigs/request",
    ]
    guest = make_client()
    member = make_client()
    member.login("ada")
    sysop = make_client()
    sysop.login(boss.username)
    checked = 0
    for browser, urls in (
        (guest, pages),
        (member, member_pages),
        (sysop, [f"/p/{post.id}/history"]),
    ):
        for url in urls:
            response = browser.get(url)
            assert response.status_code in (200, 404), (url, response.status_code)
            parser = InlineCode()
            parser.feed(html(response))
            assert parser.problems == [], url
            checked += 1
    assert checked == len(pages) + len(member_pages) + 1


# --- CSRF on every state-changing route -----------------------------------------------------
def _post_urls(app: Flask, values: dict[str, Any]) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or ()):
            continue
        # Ids and names of things that exist; 1 for arguments of routes added later.
        args = {name: values.get(name, 1) for name in rule.arguments}
        built = rule.build(args, append_unknown=False)
        assert built is not None, rule
        urls.append(built[1])
    return urls


# The one POST without a CSRF token: RFC 8058's one-click unsubscribe, which a mail client
# sends without a page; it acts only on a valid signed token (here "x": refused, nothing changes).
CSRF_EXEMPT = ("/mail/unsubscribe/",)


@pytest.mark.parametrize("who", ["guest", "member", "sysop"])
def test_every_post_route_refuses_a_request_without_a_csrf_token(app, make_client, f, who):
    ada = f.user("ada")
    f.sysop("boss")
    sig = f.sig("retro", members=[ada], sysops=[ada])
    hidden = f.sig("hidden", visibility="private")
    grace = f.user("grace")
    request = services_request(grace, hidden)
    topic = f.topic(ada, sig)
    post = f.reply(ada, topic)
    browser = make_client()
    if who != "guest":
        browser.login("ada" if who == "member" else "boss")

    values = {
        "slug": sig.slug,
        "topic_id": topic.id,
        "post_id": post.id,
        "request_id": request,
        "username": "ada",
        "token": "x",
        "user_id": ada.id,
        "sig_id": sig.id,
        "key": f"reply:{topic.id}",
        "id": 1,
        "filename": "x",
        "path": "x",
    }
    urls = _post_urls(app, values)
    assert "/login" in urls and "/logout" in urls and f"/t/{topic.id}/reply" in urls
    form = {
        "body": "text",
        "title": "a title",
        "login": "ada",
        "password": PASSWORD,
        "username": "eve",
        "email": "eve@example.com",
        "action": "profile",
        "value": "approve",
        "slug": "hidden",
    }
    before = snapshot(statistics=True)
    for url in urls:
        for kwargs in ({"data": form}, {"json": form}, {"data": {**form, "csrf_token": "forged"}}):
            response = browser.post(url, **kwargs)
            assert response.status_code == 400, (url, kwargs, response.status_code)
            if not url.startswith("/api/") and not url.startswith(CSRF_EXEMPT):
                assert "Form expired" in html(response), url
    assert snapshot(statistics=True) == before
    # The browser is still who it was: no logout happened either.
    assert logged_in(browser) == (who != "guest")


def services_request(member: Any, sig: Any) -> int:
    from forum.sigs import services as sigs

    request = sigs.request_to_join(member, sig.slug)
    assert request is not None
    return int(request.id)


PAGE_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
META_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def test_a_pages_own_tokens_are_what_its_posts_need(client, f):
    """Tests make the token as Flask-WTF does (conftest's Client.csrf_token); here, the one a
    browser uses: the form's hidden field, and the page's meta tag read by the scripts."""
    f.user("ada")
    login_page = client.get("/login").get_data(as_text=True)
    field = PAGE_TOKEN.search(login_page)
    assert field, "the login form carries no token"
    response = client.post(
        "/login", data={"login": "ada", "password": PASSWORD, "csrf_token": field.group(1)}
    )
    assert response.status_code == 302 and logged_in(client)
    meta = META_TOKEN.search(client.get("/settings").get_data(as_text=True))
    assert meta, "the page carries no token for its scripts"
    assert client.post("/logout", data={"csrf_token": meta.group(1)}).status_code == 302
    assert not logged_in(client)


def test_csrf_token_from_another_session_is_refused(client, make_client, f):
    f.user("ada")
    other = make_client()
    token = other.csrf_token()
    response = client.post(
        "/login", data={"login": "ada", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 400
    assert not logged_in(client)


# --- rate limits ----------------------------------------------------------------------------
@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3 per minute")
def test_login_is_rate_limited_with_a_friendly_page(client, make_client, f):
    f.user("ada")
    for _ in range(3):
        assert (
            client.form("/login", {"login": "ada", "password": "wrong-password"}).status_code == 400
        )
    response = client.form("/login", {"login": "ada", "password": PASSWORD})
    assert response.status_code == 429
    page = html(response)
    assert "Slow down" in page and "<main" in page
    assert "Traceback" not in page
    assert int(response.headers["Retry-After"]) > 0
    assert not logged_in(client)
    # Reading the login page is not limited; another address is not limited either.
    assert client.get("/login").status_code == 200
    elsewhere = make_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert elsewhere.form("/login", {"login": "ada", "password": PASSWORD}).status_code == 302


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="2 per minute")
def test_rate_limit_answer_in_json(client):
    for _ in range(2):
        client.form("/login", {})
    response = client.form("/login", {}, headers={"Accept": "application/json"})
    assert response.status_code == 429
    assert response.get_json()["error"]["status"] == 429


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_REGISTER="2 per hour")
def test_registration_is_rate_limited(client):
    for n in range(2):
        response = client.form(
            "/register",
            {"username": f"user{n}", "email": f"u{n}@example.com", "password": PASSWORD},
        )
        assert response.status_code == 302
        client.logout()
    response = client.form(
        "/register", {"username": "user9", "email": "u9@example.com", "password": PASSWORD}
    )
    assert response.status_code == 429
    assert services.find_by_username("user9") is None


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_POST="2 per minute")
def test_posting_is_rate_limited_per_member(client, make_client, f):
    ada = f.user("ada")
    grace = f.user("grace")
    sig = f.sig("retro", members=[ada, grace])
    topic = f.topic(ada, sig)
    client.login("ada")
    assert client.form(f"/t/{topic.id}/reply", {"body": "one"}).status_code == 302
    assert client.form("/s/retro/new", {"title": "Two", "body": "two"}).status_code == 302
    response = client.form(f"/t/{topic.id}/reply", {"body": "three"})
    assert response.status_code == 429
    assert "Slow down" in html(response)
    from forum.topics.models import Post

    assert db.session.scalar(select(func.count()).select_from(Post)) == 3  # 2 topics, 1 reply
    # Another member from the same address still may post.
    other = make_client()
    other.login("grace")
    assert other.form(f"/t/{topic.id}/reply", {"body": "grace"}).status_code == 302


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="1 per minute")
def test_each_app_starts_with_fresh_limiter_storage(client, base_config):
    client.form("/login", {})
    assert client.form("/login", {}).status_code == 429
    second = create_app(
        {**base_config, "RATELIMIT_ENABLED": True, "RATELIMIT_LOGIN": "1 per minute"}
    )
    second.test_client_class = type(client)
    with second.app_context():
        try:
            assert second.test_client().form("/login", {}).status_code == 400
        finally:
            db.session.remove()
            db.engine.dispose()


def test_limiter_storage_is_memory_by_default_and_redis_with_forum_redis_url(monkeypatch):
    plain = Flask("plain")
    config_module.load(plain, {})
    assert plain.config["RATELIMIT_STORAGE_URI"] == "memory://"
    monkeypatch.setenv("FORUM_REDIS_URL", "redis://127.0.0.1:6379/3")
    with_redis = Flask("with_redis")
    config_module.load(with_redis, {})
    assert with_redis.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.2).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _redis_up(), reason="no Redis server on 127.0.0.1:6379")
@pytest.mark.config(
    RATELIMIT_ENABLED=True,
    RATELIMIT_LOGIN="1 per minute",
    RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/14",
)
def test_rate_limits_work_on_redis_storage(client):
    assert type(limiter.storage).__name__ == "RedisStorage"
    limiter.storage.reset()
    try:
        client.form("/login", {})
        assert client.form("/login", {}).status_code == 429
    finally:
        limiter.storage.reset()


def test_password_forms_never_echo_the_password(client, f):
    f.user("ada")
    secret = "typed-secret-123"
    for url, data in (
        ("/login", {"login": "ada", "password": secret}),
        ("/register", {"username": "x", "email": "bad", "password": secret}),
    ):
        response = client.form(url, data)
        assert response.status_code == 400
        assert secret not in html(response)
    client.login("ada")
    response = client.form(
        "/settings",
        {"action": "password", "password-current_password": secret, "password-new_password": "x"},
    )
    assert response.status_code == 400
    assert secret not in html(response)
    assert re.search(r'type="password"[^>]*value="[^"]', html(response)) is None


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="2 per minute")
def test_password_change_is_rate_limited_per_address_and_per_account(client, f, make_client):
    """A session left open must not become a way to guess the current password."""
    f.user("ada")
    client.login("ada")
    wrong = {"action": "password", "password-current_password": "guess",
             "password-new_password": "a brand new password"}  # fmt: skip
    assert client.form("/settings", wrong).status_code == 400
    assert client.form("/settings", wrong).status_code == 400
    response = client.form("/settings", wrong)
    assert response.status_code == 429
    assert "Slow down" in html(response)
    # Other settings are not held up by it.
    saved = client.form("/settings", {"action": "profile", "profile-timezone": "UTC"})
    assert saved.status_code == 302
    # A browser of the same account elsewhere shares the account's count.
    other = make_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    other.login("ada")
    assert other.form("/settings", wrong).status_code == 429
