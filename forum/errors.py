"""Domain errors raised by services and the permission policy; callers translate them."""

from __future__ import annotations


class ForumError(Exception):
    """Base class: a request that cannot be carried out, with a message fit for the user."""

    status_code = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class NotFound(ForumError):
    """The thing does not exist, or the actor may not know that it does."""

    status_code = 404

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message)


class Forbidden(ForumError):
    """The actor may see the thing but may not do this to it."""

    status_code = 403

    def __init__(self, message: str = "You may not do that.") -> None:
        super().__init__(message)


class Invalid(ForumError):
    """Input that breaks a rule; `field` names the form field when there is one."""

    status_code = 400

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field


class Conflict(ForumError):
    """The request clashes with the current state (a taken name, a repeated action); `field`
    names the form field when there is one."""

    status_code = 409

    def __init__(self, message: str = "", field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SlowDown(ForumError):
    """Too many attempts in a short time: try again after `retry_after` seconds."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
