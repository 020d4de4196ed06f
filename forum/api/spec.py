"""The OpenAPI 3.1 document, written from the code by spectree: each operation's route, its
pydantic models (forum.api.schemas), the scope it needs and the errors it may answer.

`operation(...)` is the one decorator an API view takes: it checks the credential's scope before
anything else, then lets spectree validate the query and the JSON body against the models (a
400 in the `{"error": …}` form when they do not fit) and serialize the answer.

pydantic, spectree and the models are loaded on the API's first request in a process (or its
document's): a page worker that serves no API request never holds them (about 10 MB at
start-up, measured: docs/benchmarks.md, "Memory per page worker"). So operations name their
models (`model="Post"`), and spectree is handed them all at once, then.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import current_app

from ..errors import Invalid
from ..i18n import gettext as _
from . import auth, problems

if TYPE_CHECKING:
    from pydantic import ValidationError
    from spectree import SpecTree

API_VERSION = "1"
DESCRIPTION = """The forum's JSON API: the same verbs and the same permission policy as its
pages. Authenticate with a personal access token (`Authorization: Bearer fpat_…`, made in
/settings/tokens), or from the forum's own pages with the session cookie and the CSRF token in an
`X-CSRFToken` header. Without either, you read what a guest reads.

Every error is `{"error": {"status", "title", "message", "field"?, "details"?}}`, its title and
messages in the reader's language (`Accept-Language`, or the member's choice). A query or body
that does not fit the operation's model is a 400 whose `details` list each problem: its `field`
(`items.0.emoji`), pydantic's error `type` (`missing`, `extra_forbidden`,
`string_pattern_mismatch`, …) for programs, and a `message` for people. Times are ISO 8601 in
UTC; ids are integers. Reads answer with an `ETag` and honour `If-None-Match`.
Each credential has a request budget: `RateLimit-Limit`, `RateLimit-Remaining` and
`RateLimit-Reset` (seconds) say where it stands; past it, 429 with `Retry-After`."""


class InputRejected(Invalid):
    """The request's query or JSON body does not fit the operation's model: each problem said
    in the reader's language (forum.api.problems), with its field and pydantic's type."""

    def __init__(self, error: ValidationError) -> None:
        self.details = [
            {
                "field": problems.field_of(problem),
                "type": problem["type"],
                "message": problems.said(problem),
            }
            for problem in error.errors(include_url=False, include_input=False)
        ]
        first = self.details[0] if self.details else None
        super().__init__(
            first["field"] if first else None,
            first["message"] if first else _("The request is not valid."),
        )


def _refuse_invalid(
    req: Any, resp: Any, error: Exception | None, instance: Any, model_adapter: Any
) -> None:
    """spectree's hook after validation: a request that does not fit is a 400 of ours."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        raise InputRejected(error)
    if error is not None:
        raise Invalid(None, _("The request is not valid."))


def _make_spec() -> SpecTree:
    from spectree import SecurityScheme, SpecTree
    from spectree.models import InType, SecureType, SecuritySchemeData

    from .schemas import ErrorBody

    return SpecTree(
        "flask",
        mode="strict",
        annotations=False,
        title="Forum API",
        version=API_VERSION,
        description=DESCRIPTION,
        validation_error_status=400,
        validation_error_model=ErrorBody,
        before=_refuse_invalid,
        # Components named as the models are (they are unique in forum.api.schemas).
        naming_strategy=lambda model: model.__name__,
        nested_naming_strategy=lambda _parent, child: child,
        security_schemes=[
            SecurityScheme(
                name="token",
                data=SecuritySchemeData(
                    type=SecureType.HTTP,
                    scheme="bearer",
                    description="A personal access token; the requirement lists the scope.",
                ),
            ),
            SecurityScheme(
                name="session",
                data=SecuritySchemeData(
                    type=SecureType.API_KEY,
                    field_in=InType.COOKIE,
                    name="session",
                    description="The forum's own pages: writes also need the X-CSRFToken header.",
                ),
            ),
        ],
    )


# Every operation may answer these (a path that is not text, a credential that is not valid, a
# spent budget); reads may answer 304 to If-None-Match.
COMMON_ERRORS = (400, 401, 403, 404, 429)
BODY_ERRORS = (409, 413, 415)


class _SchemasOnFirstUse:
    """forum.api.schemas for the views' answers, imported when one is first built (after the
    operation handed its models to spectree, which imported it)."""

    def __getattr__(self, name: str) -> Any:
        from . import schemas

        return getattr(schemas, name)


schemas = _SchemasOnFirstUse()


# What each operation hands spectree when it is first needed (see _spectree).
_hand_overs: list[Callable[[SpecTree], None]] = []
_spec: SpecTree | None = None
_spec_lock = threading.Lock()


def _spectree() -> SpecTree:
    """spectree, with every operation handed over (once per process)."""
    global _spec
    if _spec is None:
        with _spec_lock:
            if _spec is None:
                made = _make_spec()
                for hand_over in _hand_overs:
                    hand_over(made)
                _spec = made
    return _spec


def operation(
    scope: str,
    *,
    ok: int = 200,
    model: str | None = None,
    query: str | None = None,
    json: str | None = None,
    tags: tuple[str, ...] = (),
    guests: bool = False,
    errors: tuple[int, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an API operation: the `scope` a token needs for it (a guest is let in when
    `guests`), its answer (`ok` with `model`), its query and body models (their names in
    forum.api.schemas), its tags."""
    codes = set(COMMON_ERRORS) | set(errors)
    if json is not None:
        codes |= set(BODY_ERRORS)
    responses: dict[str, str | None] = {f"HTTP_{code}": "ErrorBody" for code in sorted(codes)}
    responses[f"HTTP_{ok}"] = model
    extra = ("HTTP_304",) if scope == "read" else ()
    security: list[dict[str, list[str]]] = [{"token": [scope]}, {"session": []}]
    if guests:
        security.append({})

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        validated: list[Callable[..., Any]] = []

        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            auth.require(scope, guests=guests)
            if not validated:
                _spectree()
            return validated[0](*args, **kwargs)

        def hand_over(spec: SpecTree) -> None:
            from spectree import Response

            from . import schemas as shapes

            def named(name: str | None) -> Any:
                return getattr(shapes, name) if name else None

            validated.append(
                spec.validate(
                    query=named(query),
                    json=named(json),
                    resp=Response(*extra, **{code: named(m) for code, m in responses.items()}),
                    tags=tags,
                    security=security,
                    operation_id=view.__name__,
                )(view)
            )
            # spectree finds an operation through the view Flask holds: this wrapper.
            checked.__wrapped__ = validated[0]  # type: ignore[attr-defined]

        _hand_overs.append(hand_over)
        return checked

    return decorate


def document() -> dict[str, Any]:
    """The OpenAPI document (spectree writes it once per process: the routes do not change),
    with the forum's address as its server."""
    made = copy.deepcopy(_spectree().spec)
    made["servers"] = [{"url": current_app.config.get("BASE_URL") or "/"}]
    return made


# --- the reference page ---------------------------------------------------------------------
def _type_of(schema: dict[str, Any]) -> str:
    """A short human name of a JSON schema's type: `integer`, `string | null`, `Topic[]`."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1].split(".")[-1]
    if "anyOf" in schema:
        return " | ".join(_type_of(s) for s in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(f'"{v}"' for v in schema["enum"])
    if "const" in schema:
        return f'"{schema["const"]}"'
    kind = schema.get("type", "object")
    if kind == "array":
        return _type_of(schema.get("items", {})) + "[]"
    if schema.get("format") == "date-time":
        return "date-time"
    return str(kind)


def _fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "type": _type_of(prop),
            "required": name in required,
            "description": prop.get("description", ""),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def reference(doc: dict[str, Any]) -> dict[str, Any]:
    """The document rearranged for templates/api/docs.html: operations by tag, and every
    model's fields."""
    schemas = doc.get("components", {}).get("schemas", {})
    tags: dict[str, list[dict[str, Any]]] = {}
    for path, methods in doc.get("paths", {}).items():
        for method, op in methods.items():
            body = (
                op.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            scopes = [s.get("token") for s in op.get("security", []) if "token" in s]
            responses = []
            for code, answer in sorted(op.get("responses", {}).items()):
                shape = answer.get("content", {}).get("application/json", {}).get("schema")
                responses.append(
                    {
                        "code": code,
                        "description": answer.get("description", ""),
                        "model": _type_of(shape) if shape else None,
                    }
                )
            tags.setdefault((op.get("tags") or ["Other"])[0], []).append(
                {
                    "id": op.get("operationId", ""),
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "scope": scopes[0][0] if scopes and scopes[0] else None,
                    "guests": {} in op.get("security", []),
                    "parameters": [
                        {
                            "name": p["name"],
                            "in": p["in"],
                            "type": _type_of(p.get("schema", {})),
                            "required": p.get("required", False),
                            "description": p.get("description")
                            or p.get("schema", {}).get("description", ""),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "body": _type_of(body) if body else None,
                    "responses": responses,
                }
            )
    order = [
        "SIGs",
        "Topics",
        "Posts",
        "Members",
        "Notifications",
        "Search",
        "Announcements",
        "Moderation",
        "Member care",
        "Private mail",
    ]
    return {
        "tags": sorted(tags.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99),
        "models": sorted(
            (
                {
                    "name": name.split(".")[-1],
                    "description": schema.get("description", ""),
                    "fields": _fields(schema),
                }
                for name, schema in schemas.items()
                if schema.get("properties")
            ),
            key=lambda m: m["name"],
        ),
    }
