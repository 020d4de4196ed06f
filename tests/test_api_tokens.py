"""Personal access tokens: made in /settings/tokens with scopes and an expiry, shown once and
kept hashed, revocable; sent as a Bearer token, needing no CSRF; refused when revoked, expired
or their member banned; rate-limited per token. A browser's session keeps its CSRF check."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest

from forum.api import services as api_services
from forum.api.models import ApiToken
from forum.db import transaction
from forum.extensions import db
from forum.moderation import services as mod
from forum.timeutil import utcnow

from . import dbstate

API = "/api/v1"
SECRET_RE = re.compile(r"fpat_[A-Za-z0-9_-]{43}")


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _make(client, **data):
    payload = {"name": "my script", "scopes": ["read", "write"], "expires": "30", **data}
    return client.form("/settings/tokens", payload)


def test_a_token_is_made_in_settings_shown_once_and_kept_hashed(client, f) -> None:
    f.user("ada")
    client.login("ada")
    settings = client.get("/settings").get_data(as_text=True)
    assert "/settings/tokens" in settings and "API tokens" in settings

    page = _make(client)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    secrets = set(SECRET_RE.findall(text))
    assert len(secrets) == 1
    secret = secrets.pop()
    token = db.session.scalar(db.select(ApiToken))
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {token.token_hash, token.prefix, token.name}
    assert secret.startswith(token.prefix) and len(token.prefix) == 12
    assert token.scopes == "read write"
    assert timedelta(days=29) < token.expires_at - utcnow() <= timedelta(days=30)

    again = client.get("/settings/tokens").get_data(as_text=True)
    assert secret not in again and token.prefix in again and "my script" in again

    me = client.get(f"{API}/me", headers=bearer(secret))
    assert me.status_code == 200 and me.get_json()["scopes"] == ["read", "write"]
    assert db.session.get(ApiToken, token.id).last_used_at is not None


def test_members_are_offered_only_the_scopes_they_may_give(make_client, f) -> None:
    f.user("ada")
    boss = f.user("boss")
    f.sig("retro", sysops=[boss])
    f.sysop("root")
    scopes = {}
    for name in ("ada", "boss", "root"):
        client = make_client()
        client.login(name)
        page = client.get("/settings/tokens").get_data(as_text=True)
        scopes[name] = re.findall(r'name="scopes"[^>]*value="(\w+)"', page)
    assert scopes == {
        "ada": ["read", "write"],
        "boss": ["read", "write", "moderate"],
        "root": ["read", "write", "moderate", "admin"],
    }
    client = make_client()
    client.login("ada")
    before = dbstate.count(ApiToken)
    refused = _make(client, scopes=["read", "admin"])
    assert refused.status_code == 400
    assert _make(client, scopes=[]).status_code == 400
    assert _make(client, name="").status_code == 400
    assert _make(client, expires="12").status_code == 400
    assert dbstate.count(ApiToken) == before


def test_revoking_a_token_refuses_it_at_once(make_client, f) -> None:
    ada = f.user("ada")
    bob = f.user("bob")
    made = api_services.create_token(ada, "cron", ["read"], 7)
    assert make_client().get(f"{API}/me", headers=bearer(made.secret)).status_code == 200

    other = make_client()
    other.login("bob")
    assert other.form(f"/settings/tokens/{made.token.id}/revoke").status_code == 404
    assert bob.id != ada.id

    owner = make_client()
    owner.login("ada")
    done = owner.form(f"/settings/tokens/{made.token.id}/revoke")
    assert done.status_code == 302
    refused = make_client().get(f"{API}/me", headers=bearer(made.secret))
    assert refused.status_code == 401
    assert refused.get_json()["error"]["status"] == 401
    assert "revoked" in owner.get("/settings/tokens").get_data(as_text=True)


def test_expired_unknown_and_malformed_credentials_are_401(client, f) -> None:
    ada = f.user("ada")
    made = api_services.create_token(ada, "old", ["read"], 7)
    with transaction():
        made.token.expires_at = utcnow() - timedelta(seconds=1)
    expired = client.get(f"{API}/me", headers=bearer(made.secret))
    assert expired.status_code == 401 and "expired" in expired.get_json()["error"]["message"]
    for header in (
        "Bearer fpat_" + "A" * 43,
        "Bearer nonsense",
        "Bearer ",
        "Basic YWRhOnBhc3N3b3Jk",
        "fpat_" + "A" * 43,
    ):
        response = client.get(f"{API}/sigs", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="forum"'


def test_a_banned_members_token_is_refused_and_a_silenced_one_only_reads(client, f) -> None:
    root = f.sysop("root")
    ada = f.user("ada")
    cyd = f.user("cyd")
    sig = f.sig("retro", members=[ada, cyd])
    topic = f.topic(ada, sig, "Hello there")
    ada_token = api_services.create_token(ada, "bot", ["read", "write"], 30).secret
    cyd_token = api_services.create_token(cyd, "bot", ["read", "write"], 30).secret

    mod.silence_member(root, cyd.id, utcnow() + timedelta(days=1), "Too loud.")
    assert client.get(f"{API}/topics/{topic.id}", headers=bearer(cyd_token)).status_code == 200
    before = dbstate.count(ApiToken), dbstate.snapshot()["posts"]
    quiet = client.post(
        f"{API}/topics/{topic.id}/posts", json={"body": "hello?"}, headers=bearer(cyd_token)
    )
    assert quiet.status_code == 403 and "silenced" in quiet.get_json()["error"]["message"]
    assert client.get(f"{API}/me", headers=bearer(cyd_token)).get_json()["standing"]["problem"]

    mod.ban_member(root, ada.id, "Spam.")
    banned = client.get(f"{API}/topics/{topic.id}", headers=bearer(ada_token))
    assert banned.status_code == 403 and "banned" in banned.get_json()["error"]["message"]
    assert (
        client.post(
            f"{API}/topics/{topic.id}/posts", json={"body": "still me"}, headers=bearer(ada_token)
        ).status_code
        == 403
    )
    assert dbstate.snapshot()["posts"] == before[1]


def test_a_read_token_does_not_write(client, f) -> None:
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "Read only")
    reader = api_services.create_token(ada, "reader", ["read"], 30).secret
    writer = api_services.create_token(ada, "writer", ["write"], 30).secret
    refused = client.post(
        f"{API}/topics/{topic.id}/posts", json={"body": "no"}, headers=bearer(reader)
    )
    assert refused.status_code == 403 and "write" in refused.get_json()["error"]["message"]
    assert client.get(f"{API}/topics/{topic.id}", headers=bearer(writer)).status_code == 403
    done = client.post(
        f"{API}/topics/{topic.id}/posts", json={"body": "yes"}, headers=bearer(writer)
    )
    assert done.status_code == 201


def test_a_browser_session_needs_the_csrf_token_to_write(client, f) -> None:
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "From the page")
    # Without a token a write is a browser's, a guest's too: it needs the page's CSRF token.
    guest = client.post(f"{API}/topics/{topic.id}/posts", json={"body": "guest"})
    assert guest.status_code == 400 and "Bearer" in guest.get_json()["error"]["message"]
    client.login("ada")
    me = client.get(f"{API}/me").get_json()
    assert me["username"] == "ada" and me["scopes"] == ["read", "write"]
    before = dbstate.count(ApiToken), len(dbstate.snapshot()["posts"])
    forged = client.post(f"{API}/topics/{topic.id}/posts", json={"body": "forged"})
    assert forged.status_code == 400 and "CSRF" in forged.get_json()["error"]["message"]
    assert len(dbstate.snapshot()["posts"]) == before[1]
    token = client.csrf_token()
    done = client.post(
        f"{API}/topics/{topic.id}/posts",
        json={"body": "from the page"},
        headers={"X-CSRFToken": token},
    )
    assert done.status_code == 201


@pytest.mark.config(RATELIMIT_ENABLED=True, API_RATE_LIMIT="3 per minute")
def test_each_token_has_its_own_budget_with_ratelimit_headers(client, f) -> None:
    ada = f.user("ada")
    one = api_services.create_token(ada, "one", ["read"], 30).secret
    two = api_services.create_token(ada, "two", ["read"], 30).secret
    answers = [client.get(f"{API}/sigs", headers=bearer(one)) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    first = answers[0].headers
    assert first["RateLimit-Limit"] == "3" and first["RateLimit-Remaining"] == "2"
    assert 0 < int(first["RateLimit-Reset"]) <= 60
    assert first["RateLimit-Policy"] == "3;w=60"
    spent = answers[3]
    assert spent.get_json()["error"]["status"] == 429
    assert spent.headers["RateLimit-Remaining"] == "0" and int(spent.headers["Retry-After"]) > 0
    assert client.get(f"{API}/sigs", headers=bearer(two)).status_code == 200
    # Posting spends the token's budget as well as the posting one.
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "Budget")
    writer = api_services.create_token(ada, "writer", ["write"], 30).secret
    url = f"{API}/topics/{topic.id}/posts"
    posted = [client.post(url, json={"body": f"n{n}"}, headers=bearer(writer)) for n in range(4)]
    assert [p.status_code for p in posted] == [201, 201, 201, 429]
    assert posted[0].headers["RateLimit-Limit"] == "3"


@pytest.mark.config(RATELIMIT_ENABLED=True)
def test_posting_has_one_budget_for_the_pages_and_every_token(make_client, f) -> None:
    from forum.admin import services as admin_services

    root = f.sysop("root")
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "Busy")
    admin_services.update_settings(root, {"post_rate_limit": "2 per minute"})
    one = api_services.create_token(ada, "one", ["write"], 30).secret
    two = api_services.create_token(ada, "two", ["write"], 30).secret
    url = f"{API}/topics/{topic.id}/posts"
    client = make_client()
    assert client.post(url, json={"body": "first"}, headers=bearer(one)).status_code == 201
    assert client.post(url, json={"body": "second"}, headers=bearer(two)).status_code == 201
    spent = client.post(url, json={"body": "third"}, headers=bearer(one))
    assert spent.status_code == 429 and spent.get_json()["error"]["status"] == 429
    page = make_client()
    page.login("ada")
    assert page.form(f"/t/{topic.id}/reply", {"body": "from the page"}).status_code == 429


def test_the_token_pages_are_labelled(client, f) -> None:
    from .test_accessibility import check_page

    f.user("ada")
    client.login("ada")
    check_page(client.get("/settings/tokens").get_data(as_text=True), "/settings/tokens")
    made = _make(client).get_data(as_text=True)
    check_page(made, "/settings/tokens (made)")
    refused = _make(client, name="")
    assert refused.status_code == 400
    check_page(refused.get_data(as_text=True), "/settings/tokens (refused)")
    check_page(client.get(f"{API}/docs").get_data(as_text=True), "/api/v1/docs")


@pytest.mark.parametrize(
    ("language", "heading", "error"),
    [
        ("de", "API-Tokens", "Melde dich zuerst an"),
        ("es", "Tokens de API", "Primero inicia sesión"),
    ],
)
def test_the_token_page_and_api_errors_speak_the_readers_language(
    make_client, f, language: str, heading: str, error: str
) -> None:
    f.user("ada")
    guest = make_client()
    answer = guest.get(f"{API}/me", headers={"Accept-Language": language})
    assert error in answer.get_json()["error"]["message"]
    member = make_client()
    member.login("ada")
    member.form(
        "/settings", {"action": "profile", "profile-language": language, "profile-timezone": "UTC"}
    )
    assert heading in member.get("/settings/tokens").get_data(as_text=True)
    assert heading in member.get("/settings").get_data(as_text=True)
    reference = member.get(f"{API}/docs").get_data(as_text=True)
    assert f'<html lang="{language}"' in reference
    assert {"de": "API-Referenz", "es": "Referencia de la API"}[language] in reference
    # The operations are the OpenAPI document's English, and say so.
    assert '<section aria-labelledby="tag-1" lang="en">' in reference


def test_a_token_reads_when_the_volume_refuses_the_last_used_note(
    make_client, f, write_lock_refused
) -> None:
    """The "last used" note is a convenience: a volume that refuses writes (shown first by
    SQLite's writers' lock file) must not cost the script its read."""
    ada = f.user("ada")
    made = api_services.create_token(ada, "cron", ["read"], 7)  # never used: due a note
    write_lock_refused.start()
    response = make_client().get(f"{API}/me", headers=bearer(made.secret))
    write_lock_refused.stop()
    assert response.status_code == 200
    assert db.session.get(ApiToken, made.token.id).last_used_at is None
