"""Per-member rate limits: each budget once, by name, with its amount and why. The pages and the
API decorate their views with the same object, so a page and a token spend one budget:

    @bp.route("/p/<int:post_id>/react", methods=["POST"])
    @ratelimits.reactions
    def react(post_id): ...

A budget is counted per member (`member_key`: the member behind a browser session or a personal
access token, else the address) and spent only by a write (POST, PUT, PATCH, DELETE): showing a
GET/POST form spends nothing. On the API it applies beside the token's own budget
(forum.api.plumbing), which it does not replace. Outside a request (a reply by mail) `spend`
takes from the same budget.

Not here: the limits per address before anyone signs in (login, registration, a password asked
again: accounts.views) and the API's budget per token (forum.api.plumbing)."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, request
from flask_limiter import RouteLimit
from limits import parse

from . import hooks, settings
from .extensions import limiter
from .web import viewer

# The methods that spend a budget: every write, the pages' POST and the API's PUT/PATCH/DELETE.
WRITES = ["POST", "PUT", "PATCH", "DELETE"]


def member_key() -> str:
    """`user:<id>` for the member behind this request (a blueprint's own way of saying who, such
    as the API's token, else the browser's session: hooks.request_member), else `ip:<address>`."""
    resolve = hooks.request_member.get().get(request.blueprint or "")
    user = resolve() if resolve is not None else viewer()
    return f"user:{user.id}" if user is not None else f"ip:{request.remote_addr}"


def _site_setting(name: str) -> Callable[[], str]:
    return lambda: str(settings.get(name))


def _config(name: str) -> Callable[[], str]:
    return lambda: str(current_app.config[name])


def _budget(scope: str, amount: Callable[[], str]) -> RouteLimit:
    # override_defaults=False: on the API the token's budget (the blueprint's) still applies.
    return limiter.shared_limit(
        amount, scope=scope, key_func=member_key, methods=WRITES, override_defaults=False
    )


# --- the budgets ----------------------------------------------------------------------------
# Every way of posting (a new topic, a reply, an edit; by a page, the API or mail): the flood.
posting = _budget("posting", _site_setting("post_rate_limit"))
# Private mail (new, reply, add a member) and writing to the sysops: each lands in an inbox.
mail = _budget("mail", _site_setting("mail_rate_limit"))
# Reacting: each reaction notifies the post's author.
reactions = _budget("reactions", _config("RATELIMIT_REACTIONS"))
# Joining, leaving, asking to join a SIG: each a member.joined on its webhooks or a sysop's news.
membership = _budget("membership", _config("RATELIMIT_REACTIONS"))
# Bookmarking (and its reminder): a button press, written to the database each time.
bookmarks = _budget("bookmarks", _config("RATELIMIT_REACTIONS"))
# Flags on posts and reports of private messages: each lands in front of the sysops.
reports = _budget("reports", _config("RATELIMIT_REPORTS"))
# A webhook's pings and redeliveries by hand: each an HTTP request to the receiver, retried.
webhook_tests = _budget("webhook-tests", _config("RATELIMIT_WEBHOOK_TESTS"))
# Uploads (posts' files, library files, pictures): each stored, hashed and maybe thumbnailed.
uploads = _budget("uploads", _config("RATELIMIT_UPLOAD"))
# The composer's draft saves: its script sends one a few seconds after typing stops.
drafts = _budget("drafts", _config("RATELIMIT_DRAFTS"))
# The composer's live preview: the text cooked as a post would be, as the member types.
preview = _budget("preview", _config("RATELIMIT_PREVIEW"))
# "Download my data": a ZIP of every row the forum keeps of the member, built on the spot.
export = _budget("export", _config("RATELIMIT_EXPORT"))

BUDGETS: dict[str, RouteLimit] = {
    str(budget.scope): budget
    for budget in (
        posting,
        mail,
        reactions,
        membership,
        bookmarks,
        reports,
        webhook_tests,
        uploads,
        drafts,
        preview,
        export,
    )
}


def spend(budget: RouteLimit, user_id: int) -> bool:
    """Take one from a member's budget outside a view (a reply by mail spends `posting`); False
    when it is spent. Flask-Limiter checks limits only around a view: outside one its
    maintainer's way is to hit the `limits` strategy with the same key parts (the key prefix,
    `member_key`'s `user:<id>`, the scope; alisaifee/flask-limiter#277)."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return True
    provider = budget.limit_provider
    item = parse(provider() if callable(provider) else provider)
    prefix = str(current_app.config.get("RATELIMIT_KEY_PREFIX") or "")
    args = [prefix] if prefix else []
    return bool(limiter.limiter.hit(item, *args, f"user:{user_id}", str(budget.scope)))
