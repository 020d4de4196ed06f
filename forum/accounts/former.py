"""A deleted account's name: the one rule that tells it (`is_former`) and says it (`display`).

Deleting an account (accounts.deletion) renames it `former-<id>`, a prefix no new account may
take (accounts.services._check_username). Every place that shows a member's name asks here:
pages through web.user_link_tag (the `user_link` macro) or the `is_former` and `former_label`
template globals, mail, feeds, notifications, the API and the sockets through `display` or
`is_former`. A string check on the name already loaded: no query, cheap enough for every post
of a topic page.
"""

from __future__ import annotations

from typing import Any

from ..i18n import gettext

FORMER_PREFIX = "former-"
_SKIP = len(FORMER_PREFIX)


def former_username(user_id: int) -> str:
    return f"{FORMER_PREFIX}{user_id}"


def is_former(name: str | None) -> bool:
    """Whether a username is a deleted account's placeholder."""
    # Any case: a name typed into an address is looked up without it (services.find_by_username).
    return name is not None and name[:_SKIP].lower() == FORMER_PREFIX and name[_SKIP:].isdigit()


def former_label() -> str:
    """What a deleted account is called, in the reader's language (or the forced locale)."""
    return gettext("Former member")


def display(name: str | None) -> str | None:
    """The name to show: the member's own, "Former member" for a deleted account, None for
    an account that is gone altogether (the caller says "someone")."""
    return former_label() if is_former(name) else name


def public(name: str | None) -> str | None:
    """The name where an absent member is None (the JSON API, socket payloads): a deleted
    account's placeholder is not shown, as no name."""
    return None if is_former(name) else name


def not_former_clause(column: Any) -> Any:
    """SQL: the username column is no deleted account's (lists that offer names to pick)."""
    return ~column.startswith(FORMER_PREFIX, autoescape=True)
