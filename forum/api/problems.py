"""What a request that does not fit an operation's model is told, in the reader's language.

pydantic says each problem in English ("String should match pattern '^[01]-…'"); a member's
client shows the message under a title in their language, so the problems pydantic finds most
often get a sentence of ours naming the field, from the problem's `type` and `ctx`, and any
other the generic "This value is not valid.". The machine-readable parts (the field, pydantic's
type) go into the answer as they are (`ErrorDetail.field`, `ErrorDetail.type`).

Reads the problems as pydantic's plain dicts: nothing here imports pydantic (forum.api.spec
loads it on the API's first request).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ..i18n import gettext as _
from ..i18n import ngettext, number, quoted

Problem = Mapping[str, Any]


def _count(ctx: Mapping[str, Any], key: str) -> int:
    value = ctx.get(key)
    return int(value) if isinstance(value, int | float) else 0


def _limit(ctx: Mapping[str, Any], key: str) -> str:
    value = ctx.get(key)
    return number(value) if isinstance(value, int | float) else str(value)


def _too_short(field: str, ctx: Mapping[str, Any], text: bool) -> str:
    num = _count(ctx, "min_length")
    if text:
        return ngettext(
            "%(field)s must be at least %(count)s character long.",
            "%(field)s must be at least %(count)s characters long.",
            num,
            field=field,
            count=number(num),
        )
    return ngettext(
        "%(field)s needs at least %(count)s item.",
        "%(field)s needs at least %(count)s items.",
        num,
        field=field,
        count=number(num),
    )


def _too_long(field: str, ctx: Mapping[str, Any], text: bool) -> str:
    num = _count(ctx, "max_length")
    if text:
        return ngettext(
            "%(field)s may be at most %(count)s character long.",
            "%(field)s may be at most %(count)s characters long.",
            num,
            field=field,
            count=number(num),
        )
    return ngettext(
        "%(field)s takes at most %(count)s item.",
        "%(field)s takes at most %(count)s items.",
        num,
        field=field,
        count=number(num),
    )


def _choices(ctx: Mapping[str, Any]) -> str:
    """pydantic's "'a', 'b' or 'c'" without its English "or": "'a', 'b', 'c'"."""
    return re.sub(r"(?<=') or (?=')", ", ", str(ctx.get("expected", "")))


# pydantic's error type -> the sentence, from the field's name (quoted) and the problem's ctx.
SAID: dict[str, Callable[[str, Mapping[str, Any]], str]] = {
    "missing": lambda f, c: _("%(field)s is required.", field=f),
    "extra_forbidden": lambda f, c: _("This request takes no %(field)s.", field=f),
    "string_pattern_mismatch": lambda f, c: _("%(field)s is not in the expected form.", field=f),
    "string_too_short": lambda f, c: _too_short(f, c, text=True),
    "string_too_long": lambda f, c: _too_long(f, c, text=True),
    "too_short": lambda f, c: _too_short(f, c, text=False),
    "too_long": lambda f, c: _too_long(f, c, text=False),
    "string_type": lambda f, c: _("%(field)s must be text.", field=f),
    "int_parsing": lambda f, c: _("%(field)s must be a whole number.", field=f),
    "int_type": lambda f, c: _("%(field)s must be a whole number.", field=f),
    "int_from_float": lambda f, c: _("%(field)s must be a whole number.", field=f),
    "float_parsing": lambda f, c: _("%(field)s must be a number.", field=f),
    "float_type": lambda f, c: _("%(field)s must be a number.", field=f),
    "bool_parsing": lambda f, c: _("%(field)s must be true or false.", field=f),
    "bool_type": lambda f, c: _("%(field)s must be true or false.", field=f),
    "greater_than": lambda f, c: _(
        "%(field)s must be greater than %(limit)s.", field=f, limit=_limit(c, "gt")
    ),
    "greater_than_equal": lambda f, c: _(
        "%(field)s must be %(limit)s or more.", field=f, limit=_limit(c, "ge")
    ),
    "less_than": lambda f, c: _(
        "%(field)s must be less than %(limit)s.", field=f, limit=_limit(c, "lt")
    ),
    "less_than_equal": lambda f, c: _(
        "%(field)s must be %(limit)s or less.", field=f, limit=_limit(c, "le")
    ),
    "literal_error": lambda f, c: _(
        "%(field)s must be one of: %(choices)s.", field=f, choices=_choices(c)
    ),
    "enum": lambda f, c: _("%(field)s must be one of: %(choices)s.", field=f, choices=_choices(c)),
    "datetime_parsing": lambda f, c: _("%(field)s must be a date and time (ISO 8601).", field=f),
    "datetime_from_date_parsing": lambda f, c: _(
        "%(field)s must be a date and time (ISO 8601).", field=f
    ),
    "datetime_type": lambda f, c: _("%(field)s must be a date and time (ISO 8601).", field=f),
    "timezone_aware": lambda f, c: _(
        "%(field)s must say its time zone (Z or an offset such as +01:00).", field=f
    ),
    "list_type": lambda f, c: _("%(field)s must be a list.", field=f),
    "dict_type": lambda f, c: _("%(field)s must be an object.", field=f),
    "model_type": lambda f, c: _("%(field)s must be an object.", field=f),
    "model_attributes_type": lambda f, c: _("%(field)s must be an object.", field=f),
}

# Problems with the request as a whole (no field): its body.
WHOLE: dict[str, Callable[[], str]] = {
    "json_invalid": lambda: _("The request's body is not valid JSON."),
    "model_type": lambda: _("The request's body must be a JSON object."),
    "model_attributes_type": lambda: _("The request's body must be a JSON object."),
    "dict_type": lambda: _("The request's body must be a JSON object."),
}


def field_of(problem: Problem) -> str | None:
    """The field at fault as clients name it ("cursor", "items.0.emoji"), or None."""
    return ".".join(str(part) for part in problem.get("loc", ())) or None


def said(problem: Problem) -> str:
    """One problem as a sentence in the reader's language."""
    kind = str(problem.get("type", ""))
    ctx = problem.get("ctx") or {}
    field = field_of(problem)
    if field is None:
        whole = WHOLE.get(kind)
        return whole() if whole else _("The request is not valid.")
    sentence = SAID.get(kind)
    if sentence is None:
        return _(
            "%(field)s: %(problem)s", field=quoted(field), problem=_("This value is not valid.")
        )
    return sentence(quoted(field), ctx)
