"""A form that could not be sent keeps what was typed in it: the page shown instead.

Three refusals drop a form's text otherwise: a CSRF token that no longer matches the session
(the member signed out in another tab, the session cookie ended, the site's secret changed),
a member's session that ended elsewhere ("log out everywhere" on another device, a password
change, a ban) before a form of a page for members was sent, which Flask-Login would answer
with a redirect to the sign-in page, and a per-member budget spent (forum.ratelimits: 429,
forum.web's http_error). All get this page instead: it never performs the action,
shows the text fields of the form back so they can be copied, and, when the request came from
one of the forum's own pages (its Origin, else its Referer) and nothing had to be cut, a form
with a fresh token that posts the same fields to the same address again.

What is shown, carried or dropped goes by the field's name, as the forum's WTForms forms
declare it (a prefix such as `password-` is set aside): a password field's value, and any
name that reads like a secret, never comes back into the page; text fields (and text areas)
are shown; the rest (hidden fields, choices, check boxes) travels only as hidden inputs of the
"send again" form. Files are never kept (the browser must attach them again).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.routing import BuildError
from wtforms.fields.core import UnboundField

from . import hooks
from .config import origin_of
from .i18n import lazy_gettext as _l
from .web import FORM_TYPES, origin_checker, viewer, wants_json

# What a form may bring back: at most this many fields, each at most this many characters
# beyond the longest post (the request's size limit, MAX_CONTENT_LENGTH, applies first).
MAX_FIELDS = 40
SLACK_CHARS = 1_000

TEXT_TYPES = frozenset(
    {"StringField", "TextAreaField", "EmailField", "SearchField", "URLField", "TelField"}
)
SECRET_TYPES = frozenset({"PasswordField", "FileField", "MultipleFileField"})
# A name that reads like a secret is never echoed, whatever form it came from.
# The "send again" form says it is one (a hidden field): sent by a member who is signed out,
# it gets this page again, not the sign-in page's redirect a guest's form gets (forum.web).
KEPT_FIELD = "kept-form"
SECRET_NAME = re.compile(r"pass|secret|token|csrf|otp|recovery|^code$", re.IGNORECASE)


@dataclass(frozen=True)
class KeptField:
    name: str
    value: str
    label: str
    multiline: bool


@dataclass
class KeptForm:
    shown: list[KeptField] = field(default_factory=list)
    carried: list[tuple[str, str]] = field(default_factory=list)
    cut: bool = False
    files_dropped: bool = False


@functools.cache
def _field_kinds() -> dict[str, tuple[frozenset[str], Any]]:
    """Every field name the forum's forms declare: the field types it has, and its label when
    every form that has the name gives it the same one (else None: a neutral label is shown)."""
    found: dict[str, tuple[set[str], set[str], Any]] = {}
    pending = list(FlaskForm.__subclasses__())
    seen: set[type] = set()
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        pending.extend(cls.__subclasses__())
        for name in dir(cls):
            unbound = getattr(cls, name, None)
            if not isinstance(unbound, UnboundField):
                continue
            types, texts, label = found.setdefault(name, (set(), set(), None))
            types.add(unbound.field_class.__name__)
            given = unbound.kwargs.get("label") or (unbound.args[0] if unbound.args else None)
            texts.add(getattr(given, "_args", (None,))[0] or str(given))
            found[name] = (types, texts, given)
    return {
        name: (frozenset(types), label if len(texts) == 1 else None)
        for name, (types, texts, label) in found.items()
    }


def _kind(name: str) -> tuple[str, Any]:
    """("secret" | "text" | "multiline" | "other", label) of a posted field's name."""
    short = name.rsplit("-", 1)[-1]
    types, label = _field_kinds().get(short, (frozenset(), None))
    if SECRET_NAME.search(short) or types & SECRET_TYPES:
        return "secret", label
    if "TextAreaField" in types:
        return "multiline", label
    if types & TEXT_TYPES:
        return "text", label
    return "other", label


def kept_form() -> KeptForm:
    """What this request's form carried, sorted into shown, carried and dropped."""
    # A file input left empty is still sent (no name, no bytes): only a chosen file is dropped.
    chosen = any(item.filename for _, item in request.files.items(multi=True))
    kept = KeptForm(files_dropped=chosen)
    limit = int(current_app.config["MAX_POST_LENGTH"]) + SLACK_CHARS
    token_name = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    count = 0
    for name, values in request.form.lists():
        kind, label = _kind(name)
        if kind == "secret" or name == token_name:
            continue
        for value in values:
            count += 1
            if count > MAX_FIELDS:
                kept.cut = True
                return kept
            if len(value) > limit:
                value = value[:limit]
                kept.cut = True
            if kind == "other":
                kept.carried.append((name, value))
            elif value.strip():
                kept.shown.append(
                    KeptField(
                        name=name,
                        value=value,
                        label=str(label) if label else str(_l("Text")),
                        multiline=kind == "multiline" or "\n" in value,
                    )
                )
            else:
                kept.carried.append((name, value))
    return kept


def from_this_site() -> bool:
    """Whether the browser says the form was one of the forum's own pages: its Origin, or when
    it sends none, its Referer. Neither (or Origin "null") is not enough: a cross-site POST
    must never get a filled-in form one click away from being sent."""
    check = origin_checker(current_app.config)
    origin = request.headers.get("Origin")
    if origin is None:
        origin = origin_of(request.headers.get("Referer"))
    return bool(origin) and check(origin, request.environ)


def _same_address() -> str | None:
    """The address the form was sent to, built again from its route (never the raw path, which
    could read as another host's, `//host/…`)."""
    if not request.endpoint or request.view_args is None:
        return None
    try:
        address = url_for(request.endpoint, **request.view_args)
    except BuildError:
        return None
    if request.query_string:
        address += "?" + request.query_string.decode("latin-1")
    return address


def sent_again() -> bool:
    """Whether this form was sent from this page's "send again" form."""
    return request.form.get(KEPT_FIELD) == "1"


def is_page_form() -> bool:
    """A browser's form (not JSON, not the API), which this page answers."""
    return (
        request.method in ("POST", "PUT", "PATCH")
        and request.mimetype in FORM_TYPES
        and not wants_json()
    )


def kept_page(status: int, title: str, message: str, kept: KeptForm | None = None) -> Any:
    kept = kept if kept is not None else kept_form()
    actor = viewer()
    same_site = from_this_site()
    address = _same_address() if same_site and not kept.cut else None
    draft = hooks.kept_draft.get()(actor, request.endpoint or "", dict(request.view_args or {}))
    if draft is not None and draft.saved_at is not None:
        body = next((f.value for f in kept.shown if f.name.rsplit("-", 1)[-1] == "body"), None)
        draft = hooks.KeptDraft(draft.saved_at, same_text=draft.body == body)
    page = render_template(
        "errors/form_kept.html",
        status=status,
        title=title,
        message=message,
        kept=kept,
        signed_in=actor is not None,
        same_site=same_site,
        resend_url=address,
        kept_field=KEPT_FIELD,
        kept_marked=KEPT_FIELD in request.form,
        draft=draft,
    )
    return page, status, {"Cache-Control": "no-store"}
