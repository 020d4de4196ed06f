"""Read what a member typed into the search box; never fail, explain what was not understood.

Syntax: words (all must match), "exact phrases", -exclusion, a OR b, prefix*, and the filters
author:NAME, sig:SLUG, in:title, in:library (SIG libraries' files instead of posts),
before:YYYY-MM-DD (earlier than that day) and after:YYYY-MM-DD (that day or later), days in
the reader's time zone (`zone`, an IANA name; the page passes i18n.select_timezone()).
Anything else is searched as words; what could not be used is reported in `notices` for the
page to show. The result is backend-neutral.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

MAX_QUERY_CHARS = 500
MAX_CLAUSES = 20
MIN_PREFIX = 2
FILTERS = ("author", "sig", "in", "before", "after")
FIELD_RE = re.compile(r"^([A-Za-z]+):(.*)$", re.S)
DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
WORDISH = re.compile(r"\w", re.U)


def N_(msgid: str) -> str:  # noqa: N802  (gettext's name for "mark, do not translate yet")
    """Mark a notice for extraction: this module stays free of the web (the engine room reads
    it), so the page translates the notice (`Notice.msgid` with its `values`)."""
    return msgid


class Notice(str):
    """A notice in English, as before, that keeps its message and values for translation."""

    msgid: str
    values: dict[str, object]

    def __new__(cls, msgid: str, **values: object) -> Notice:
        notice = super().__new__(cls, msgid % values if values else msgid)
        notice.msgid = msgid
        notice.values = values
        return notice


@dataclass(frozen=True)
class Clause:
    kind: str  # "word" (one token; the analyser may split it further) or "phrase"
    text: str
    negated: bool = False
    prefix: bool = False
    or_with_previous: bool = False

    def replace(self, **changes: object) -> Clause:
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_string(self) -> str:
        if self.kind == "phrase":
            body = f'"{self.text}"'
        else:
            body = self.text + ("*" if self.prefix else "")
        return ("-" if self.negated else "") + body


@dataclass(frozen=True)
class ParsedQuery:
    clauses: tuple[Clause, ...] = ()
    author: str | None = None
    sig: str | None = None
    in_title: bool = False
    in_library: bool = False  # SIG libraries' files instead of posts (forum.files.queries)
    before: datetime | None = None
    after: datetime | None = None
    notices: tuple[str, ...] = ()

    @property
    def has_text(self) -> bool:
        """Whether there is anything to look for (not only exclusions)."""
        return any(not c.negated for c in self.clauses)

    @property
    def has_filters(self) -> bool:
        return bool(self.author or self.sig or self.before or self.after)

    @property
    def is_empty(self) -> bool:
        return not self.clauses and not self.has_filters

    def replace(self, **changes: object) -> ParsedQuery:
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_string(self) -> str:
        """The query in the search box's syntax (for "did you mean" links)."""
        parts: list[str] = []
        for clause in self.clauses:
            if clause.or_with_previous and parts:
                parts.append("OR")
            parts.append(clause.to_string())
        if self.author:
            parts.append(f"author:{self.author}")
        if self.sig:
            parts.append(f"sig:{self.sig}")
        if self.in_title:
            parts.append("in:title")
        if self.in_library:
            parts.append("in:library")
        if self.before:
            parts.append(f"before:{self.before:%Y-%m-%d}")
        if self.after:
            parts.append(f"after:{self.after:%Y-%m-%d}")
        return " ".join(parts)


def normalise(text: str) -> str:
    """NFKC (full-width letters become ASCII), no control characters, at most 500 characters."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(
        ch if unicodedata.category(ch)[0] != "C" else " " for ch in text if ch != "\x00"
    ).strip()


def parse(raw: str, zone: str = "UTC") -> ParsedQuery:
    """`zone`: where the reader's days begin, for before: and after: (a known zone name)."""
    notices: list[Notice] = []
    text = normalise(raw or "")
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS].rsplit(" ", 1)[0]
        notices.append(
            Notice(N_("Your search was cut to its first %(num)s characters."), num=MAX_QUERY_CHARS)
        )
    clauses: list[Clause] = []
    found: dict[str, object] = {}
    pending_or = False
    for negated, token, quoted in _tokens(text, notices):
        if not quoted and token == "OR":
            pending_or = bool(clauses)
            continue
        clause: Clause | None
        if quoted:
            clause = Clause("phrase", token, negated=negated) if WORDISH.search(token) else None
        else:
            clause = _word_or_filter(token, negated, found, notices)
        if clause is None:
            continue
        if len(clauses) >= MAX_CLAUSES:
            notices.append(
                Notice(N_("Only the first %(num)s words and phrases were used."), num=MAX_CLAUSES)
            )
            break
        clauses.append(clause.replace(or_with_previous=pending_or))
        pending_or = False
    if clauses and not any(not c.negated for c in clauses) and not found:
        notices.append(Notice(N_("Add a word to look for: exclusions alone match nothing.")))
    return ParsedQuery(
        clauses=tuple(clauses),
        author=found.get("author"),  # type: ignore[arg-type]
        sig=found.get("sig"),  # type: ignore[arg-type]
        in_title=found.get("in") == "title",
        in_library=found.get("in") == "library",
        before=_at_midnight(found.get("before"), zone),  # type: ignore[arg-type]
        after=_at_midnight(found.get("after"), zone),  # type: ignore[arg-type]
        notices=tuple(dict.fromkeys(notices)),
    )


def _tokens(text: str, notices: list[Notice]) -> list[tuple[bool, str, bool]]:
    """(negated, text, quoted) triples; an unclosed quote runs to the end."""
    out = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        negated = False
        if text[i] == "-" and i + 1 < n and not text[i + 1].isspace():
            negated = True
            i += 1
        if text[i] == '"':
            end = text.find('"', i + 1)
            if end == -1:
                notices.append(
                    Notice(N_("A quote was not closed: the rest was searched as a phrase."))
                )
                out.append((negated, " ".join(text[i + 1 :].split()), True))
                break
            out.append((negated, " ".join(text[i + 1 : end].split()), True))
            i = end + 1
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] != '"':
            i += 1
        out.append((negated, text[start:i], False))
    return out


def _word_or_filter(
    token: str, negated: bool, found: dict[str, object], notices: list[Notice]
) -> Clause | None:
    match = FIELD_RE.match(token)
    if match and match.group(1).lower() in FILTERS:
        name, value = match.group(1).lower(), match.group(2).strip()
        _filter(name, value, negated, found, notices)
        return None
    if match and match.group(1).lower() not in {"http", "https", "mailto"} and match.group(2):
        notices.append(
            Notice(
                N_(
                    "There is no filter called “%(name)s:”, so it was searched as words. "
                    "Filters: author:, sig:, in:title, before:, after:."
                ),
                name=match.group(1),
            )
        )
    prefix = token.endswith("*")
    word = token.strip("*")
    if not WORDISH.search(word):
        return None
    if prefix and len(word) < MIN_PREFIX:
        notices.append(
            Notice(
                N_("A prefix search needs at least %(num)s letters before the *."), num=MIN_PREFIX
            )
        )
        prefix = False
    if prefix and not re.fullmatch(r"\w+", word):
        prefix = False
    return Clause("word", word, negated=negated, prefix=prefix)


def _filter(
    name: str, value: str, negated: bool, found: dict[str, object], notices: list[Notice]
) -> None:
    if negated:
        notices.append(
            Notice(N_("Filters cannot be excluded: “-%(name)s:” was ignored."), name=name)
        )
        return
    if name == "in":
        if value.lower() in ("title", "library"):
            found["in"] = value.lower()
        else:
            notices.append(
                Notice(N_("“in:” only takes “title” (in:title) or “library” (in:library)."))
            )
        return
    if not value:
        example = {"author": "author:ana", "sig": "sig:retro", "before": "before:2026-01-31"}
        notices.append(
            Notice(
                N_("“%(name)s:” needs a value, as in %(example)s: ignored."),
                name=name,
                example=example.get(name, "after:2026-01-31"),
            )
        )
        return
    if name in ("author", "sig"):
        if not re.fullmatch(r"[\w.-]{1,64}", value):
            notices.append(
                Notice(
                    N_("“%(name)s:%(value)s” is not a valid %(name)s name: ignored."),
                    name=name,
                    value=value[:40],
                )
            )
            return
        found[name] = value
        return
    day = _date(value)
    if day is None:
        notices.append(
            Notice(
                N_("“%(name)s:” takes a date like 2026-01-31: “%(value)s” was ignored."),
                name=name,
                value=value[:40],
            )
        )
        return
    found[name] = day


def _at_midnight(day: datetime | None, zone: str) -> datetime | None:
    """The day's start where the reader is (the backends compare it as an instant)."""
    return day.replace(tzinfo=ZoneInfo(zone)) if day is not None and zone != "UTC" else day


def _date(value: str) -> datetime | None:
    match = DATE_RE.match(value)
    if not match:
        return None
    try:
        return datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC)
    except ValueError:
        return None
