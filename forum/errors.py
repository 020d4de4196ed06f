"""Domain errors raised by services and the permission policy; callers translate them.

A message is marked for translation where it is raised (`lazy_gettext`, so a service needs no
request): it becomes text in the reader's language when a caller reads `message`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l

from .i18n import LimitWords, limit_words

NOT_FOUND = _l("Not found.")
NOT_ALLOWED = _l("You may not do that.")
ALREADY_SENT = _l("You had already sent this; here it is.")


class ForumError(Exception):
    """Base class: a request that cannot be carried out, with a message fit for the user."""

    status_code = 400

    def __init__(self, message: Any = "") -> None:
        super().__init__(message)
        self._message = message

    @property
    def message(self) -> str:
        """The message in the language of the request being answered (English elsewhere)."""
        return str(self._message)

    @property
    def lazy_message(self) -> Any:
        """The message as raised: text in whatever language is current when it is read (a
        mail written in its reader's language, outside any request)."""
        return self._message

    def __str__(self) -> str:
        return self.message


class NotFound(ForumError):
    """The thing does not exist, or the actor may not know that it does."""

    status_code = 404

    def __init__(self, message: Any = NOT_FOUND) -> None:
        super().__init__(message)


class NotAuthenticated(ForumError):
    """The request carries no credential where one is needed, or one that is not (or no longer)
    valid: a revoked or expired API token. Pages send guests to the login form instead."""

    status_code = 401

    def __init__(self, message: Any = "") -> None:
        super().__init__(message)


class Forbidden(ForumError):
    """The actor may see the thing but may not do this to it."""

    status_code = 403

    def __init__(self, message: Any = NOT_ALLOWED) -> None:
        super().__init__(message)


class Invalid(ForumError):
    """Input that breaks a rule; `field` names the form field when there is one. A form of
    many independent fields (the site settings) says every field that broke one at once:
    the first is this error, the others are `more` (forum.web.form_error places each)."""

    status_code = 400

    def __init__(self, field: str | None, message: Any, *, more: Sequence[Invalid] = ()) -> None:
        super().__init__(message)
        self.field = field
        self.more = tuple(more)


def require_at_most(field: str | None, text: str, limit: int, what: LimitWords = "it") -> str:
    """`text` when it has at most `limit` characters, else Invalid(field, …) in the words the
    forms say too (i18n.limit_words: "Keep the title to 200 characters or fewer.", the number in
    the reader's digits). Every service's plain length check is this, after it cleans the text."""
    if len(text) > limit:
        raise Invalid(field, limit_words(what, limit))
    return text


class Conflict(ForumError):
    """The request clashes with the current state (a taken name, a repeated action); `field`
    names the form field when there is one."""

    status_code = 409

    def __init__(self, message: Any = "", field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Duplicate(Conflict):
    """The same author sent the same text to the same place within DUPLICATE_SECONDS (a double
    click without JavaScript, a browser's resend of a POST): nothing new was written, and
    `item` is what the first submission made (a topic, a post, a conversation, a private
    message, a concern), so a caller can answer by going to it (forum.duplicates)."""

    def __init__(self, item: Any, message: Any = ALREADY_SENT) -> None:
        super().__init__(message)
        self.item = item


class SlowDown(ForumError):
    """Too many attempts in a short time: try again after `retry_after` seconds."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
