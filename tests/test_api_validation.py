"""A request that does not fit an API operation's model: the message says what is wrong with
which field in the reader's language (never pydantic's English), and the details keep each
problem's field and pydantic's error type for programs."""

from __future__ import annotations

from typing import Any

import pytest

from forum.api import problems
from forum.db import transaction
from forum.i18n import force_locale

from .test_api import API, bearer, error_of, send, token_for


@pytest.fixture
def german(f: Any) -> tuple[Any, Any, str]:
    ada = f.user("ada")
    with transaction():
        ada.language = "de"
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "Amiga repairs", "Recap the board first.")
    return sig, topic, token_for(ada)


def test_a_german_member_reads_validation_problems_in_german(client: Any, german: Any) -> None:
    sig, topic, secret = german
    cases = [
        (
            f"{API}/sigs/{sig.slug}/topics?cursor=garbage",
            "cursor",
            "string_pattern_mismatch",
            "„cursor“ hat nicht die erwartete Form.",
        ),
        (
            f"{API}/notifications?cursor=x",
            "cursor",
            "extra_forbidden",
            "„cursor“ gibt es bei dieser Anfrage nicht.",
        ),
        (
            f"{API}/topics/{topic.id}/posts?limit=500",
            "limit",
            "less_than_equal",
            "„limit“ darf höchstens 100 sein.",
        ),
        (
            f"{API}/topics/{topic.id}/posts?limit=many",
            "limit",
            "int_parsing",
            "„limit“ muss eine ganze Zahl sein.",
        ),
    ]
    for url, field, kind, message in cases:
        response = client.get(url, headers=bearer(secret))
        assert response.status_code == 400, url
        error = error_of(response)
        assert error["title"] == "Ungültige Anfrage"
        assert error["message"] == message, url
        assert error["field"] == field
        assert error["details"] == [{"field": field, "type": kind, "message": message}]


def test_a_body_that_does_not_fit_names_each_field(client: Any, f: Any, german: Any) -> None:
    sig, topic, secret = german
    refused = send(client, "POST", f"{API}/topics/{topic.id}/posts", secret, {"bogus": 1})
    assert refused.status_code == 400
    details = error_of(refused)["details"]
    assert {"field": "body", "type": "missing", "message": "„body“ fehlt."} in details
    assert {
        "field": "bogus",
        "type": "extra_forbidden",
        "message": "„bogus“ gibt es bei dieser Anfrage nicht.",
    } in details
    # English and Spanish readers, by Accept-Language, with no token.
    for language, message in (("en", "“limit” must be 100 or less."),
                              ("es", "«limit» debe ser como mucho 100.")):  # fmt: skip
        answer = client.get(
            f"{API}/topics/{topic.id}/posts?limit=500", headers={"Accept-Language": language}
        )
        assert error_of(answer)["message"] == message


@pytest.mark.parametrize(
    ("problem", "english"),
    [
        ({"type": "string_too_long", "loc": ("title",), "ctx": {"max_length": 1}},
         "“title” may be at most 1 character long."),
        ({"type": "string_too_short", "loc": ("q",), "ctx": {"min_length": 2}},
         "“q” must be at least 2 characters long."),
        ({"type": "too_long", "loc": ("ids",), "ctx": {"max_length": 1000}},
         "“ids” takes at most 1,000 items."),
        ({"type": "greater_than_equal", "loc": ("limit",), "ctx": {"ge": 1}},
         "“limit” must be 1 or more."),
        ({"type": "greater_than", "loc": ("days",), "ctx": {"gt": 0}},
         "“days” must be greater than 0."),
        ({"type": "less_than", "loc": ("days",), "ctx": {"lt": 7}},
         "“days” must be less than 7."),
        ({"type": "literal_error", "loc": ("state",), "ctx": {"expected": "'open' or 'closed'"}},
         "“state” must be one of: 'open', 'closed'."),
        ({"type": "enum", "loc": ("folder",), "ctx": {"expected": "'inbox' or 'archive'"}},
         "“folder” must be one of: 'inbox', 'archive'."),
        ({"type": "timezone_aware", "loc": ("until",)},
         "“until” must say its time zone (Z or an offset such as +01:00)."),
        ({"type": "a_type_pydantic_adds_later", "loc": ("x",)},
         "“x”: This value is not valid."),
        ({"type": "json_invalid", "loc": ()}, "The request's body is not valid JSON."),
        ({"type": "something_else", "loc": ()}, "The request is not valid."),
    ],
)  # fmt: skip
def test_each_common_problem_has_a_sentence(app: Any, problem: Any, english: str) -> None:
    with app.test_request_context(), force_locale("en"):
        assert problems.said(problem) == english
    with app.test_request_context(), force_locale("de"):
        german = problems.said(problem)
        assert german and german != english
