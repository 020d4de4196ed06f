"""The per-member budgets (forum/ratelimits.py): each declared once, and a page and the API
spending the same one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask_limiter.util import get_qualified_name
from limits import parse

from forum import ratelimits
from forum.extensions import limiter

from .test_api import send, token_for

API = "/api/v1"


class World:
    """A member (ada) in a SIG with a topic by bob, and ada's token."""

    def __init__(self, f: Any) -> None:
        self.ada, self.bob = f.user("ada"), f.user("bob")
        f.user("cyd")
        self.sig = f.sig("retro", members=[self.ada, self.bob])
        f.sig("other")
        self.topic = f.topic(self.bob, self.sig, "Say hello")
        self.posts = [f.first_post(self.topic)] + [
            f.reply(self.bob, self.topic, f"Reply {n}") for n in range(3)
        ]
        self.secret = token_for(self.ada)


Page = Callable[[Any, World, int], Any]  # (browser, world, the n-th try) -> response
Call = Callable[[World, int], tuple[str, str, Any]]  # -> (method, url, body)

# scope: the page's write and its success, the API's and its success; each tried twice.
SHARED: list[tuple[str, Page, int, Call, int]] = [
    (
        "posting",
        lambda b, w, n: b.form(f"/t/{w.topic.id}/reply", {"body": f"From the page {n}"}),
        302,
        lambda w, n: ("POST", f"/topics/{w.topic.id}/posts", {"body": f"From the API {n}"}),
        201,
    ),
    (
        "mail",
        lambda b, w, n: b.form("/mail/new", {"to": "bob", "subject": f"P{n}", "body": "Hi"}),
        302,
        lambda w, n: ("POST", "/conversations", {"to": ["cyd"], "subject": f"A{n}", "body": "Hi"}),
        201,
    ),
    (
        "reactions",
        lambda b, w, n: b.form(f"/p/{w.posts[n].id}/react", {"emoji": "👍"}),
        302,
        lambda w, n: ("PUT", f"/posts/{w.posts[n + 2].id}/reaction", {"emoji": "👍"}),
        200,
    ),
    (
        "membership",
        lambda b, w, n: b.form("/s/other/join" if n == 0 else "/s/other/leave"),
        302,
        lambda w, n: ("DELETE" if n == 0 else "PUT", "/sigs/retro/membership", None),
        200,
    ),
    (
        "reports",
        lambda b, w, n: b.form(f"/p/{w.posts[n].id}/flag", {"reason": "spam"}),
        302,
        lambda w, n: ("POST", f"/posts/{w.posts[n + 2].id}/flags", {"reason": "spam"}),
        201,
    ),
]


@pytest.mark.parametrize("scope, page, page_ok, call, api_ok", SHARED, ids=[s[0] for s in SHARED])
@pytest.mark.config(
    RATELIMIT_ENABLED=True,
    RATELIMIT_POST="2 per minute",
    RATELIMIT_MAIL="2 per minute",
    RATELIMIT_REACTIONS="2 per minute",
    RATELIMIT_REPORTS="2 per minute",
)
def test_a_page_and_the_api_spend_one_budget(
    app, make_client, f, scope: str, page: Page, page_ok: int, call: Call, api_ok: int
) -> None:
    """Two a minute: one by the page and one by a token spend it, whichever is tried next."""
    world = World(f)
    browser, api = make_client(), make_client()
    browser.login(world.ada)

    def by_api(n: int) -> Any:
        method, url, body = call(world, n)
        return send(api, method, f"{API}{url}", world.secret, body)

    assert page(browser, world, 0).status_code == page_ok
    first = by_api(0)
    assert first.status_code == api_ok, first.get_data(as_text=True)
    # The token's own budget is still counted beside the shared one (RateLimit-* headers).
    token_budget = parse(app.config["API_RATE_LIMIT"]).amount
    assert first.headers["RateLimit-Limit"] == str(token_budget)
    spent = by_api(1)
    assert spent.status_code == 429, spent.get_data(as_text=True)
    assert page(browser, world, 1).status_code == 429


def test_every_shared_limit_on_a_route_is_one_of_the_budgets(app) -> None:
    """One home: each route's per-member limit is one of forum.ratelimits' objects, counted by
    its member key and spent by writes only, never a copy declared beside a view."""
    budgets = {scope: list(budget) for scope, budget in ratelimits.BUDGETS.items()}
    seen: dict[str, set[str]] = {}
    with app.test_request_context():
        for endpoint, view in app.view_functions.items():
            decorated = limiter.limit_manager.decorated_limits(get_qualified_name(view))
            for limit in decorated:
                if not limit.shared:
                    continue
                assert limit.scope in budgets, f"{endpoint}: {limit.scope} is not in ratelimits"
                assert limit.key_func is ratelimits.member_key, endpoint
                assert set(limit.methods or ()) == {"post", "put", "patch", "delete"}, endpoint
                assert not limit.override_defaults, endpoint
                seen.setdefault(str(limit.scope), set()).add(endpoint)
    # Every budget is used; the five shared with the API by both.
    assert set(seen) == set(budgets)
    for scope, *_rest in SHARED:
        assert any(e.startswith("api.") for e in seen[scope]), scope
        assert any(not e.startswith("api.") for e in seen[scope]), scope


def test_the_member_key_is_a_tokens_member_on_the_api_only(app, f) -> None:
    ada = f.user("ada")
    secret = token_for(ada)
    address = {"REMOTE_ADDR": "192.0.2.7"}

    def key(url: str, token: str) -> str:
        headers = {"Authorization": f"Bearer {token}"}
        # (Its own app context: `g`, where a request keeps its credential, is the app context's.)
        with (
            app.app_context(),
            app.test_request_context(url, headers=headers, environ_base=address),
        ):
            return ratelimits.member_key()

    assert key(f"{API}/me", secret) == f"user:{ada.id}"
    # A credential that is not valid is a guest's (refused right after): the address.
    assert key(f"{API}/me", "nonsense") == "ip:192.0.2.7"
    # A page never reads a token: its member is the browser's, here nobody's.
    assert key("/mail", secret) == "ip:192.0.2.7"
