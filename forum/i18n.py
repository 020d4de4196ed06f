"""Languages: which one a reader gets, dates, numbers and plurals in it, and static/js's catalog.

Strings are marked with the functions below (gettext for text needed now, lazy_gettext for text
made at import time or in services, which the caller renders in the reader's language); Babel
extracts them (babel.cfg) into forum/translations/, and `make translations` compiles them.

A reader's language: a member's own choice (/settings), else the language cookie the menu at
the foot of every page sets, else the best match for the browser's Accept-Language, else
English. Outside a request (mail, digests, live notifications) a member is addressed in
`language_of`: their choice, else the language they last read the forum in. Their time zone: a
member's setting (found from the browser once), else a guest's time zone cookie, else UTC.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

from babel import Locale
from babel.dates import (
    TIMEDELTA_UNITS,
    DateTimePattern,
    format_skeleton,
    get_timezone_location,
    parse_pattern,
)
from babel.dates import format_timedelta as babel_timedelta
from babel.lists import format_list
from babel.support import Translations
from flask import Flask, Response, abort, current_app, g, has_request_context, request
from flask_babel import (
    force_locale,
    format_date,
    format_datetime,
    format_decimal,
    format_percent,
    get_locale,
    get_timezone,
    get_translations,
    lazy_ngettext,
    refresh,
)
from flask_babel import gettext as babel_gettext
from flask_babel import ngettext as babel_ngettext
from flask_babel import pgettext as babel_pgettext
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup, escape
from wtforms.i18n import messages_path as wtforms_messages_path
from wtforms.validators import DataRequired, Length

if TYPE_CHECKING:
    # Flask-Babel has no types. A LazyString is translated when used and stands in for a str
    # wherever one is taken (formatting, Jinja, comparisons), so the checks treat it as one.
    def lazy_gettext(string: str, /, **variables: Any) -> str: ...

else:
    from flask_babel import lazy_gettext

from .hooks import AppSlot
from .timeutil import in_zone, utcnow, zone_or_utc

# Each language's catalog for the scripts: (JSON body, version), made once per process.
_JS_CATALOGS: AppSlot[dict[str, tuple[bytes, str]]] = AppSlot("forum.js_catalogs")

# The interface's languages, each named in its own language (the menu shows them so).
LANGUAGES = {"en": "English", "de": "Deutsch", "es": "Español"}
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "forum_lang"
TIMEZONE_COOKIE = "forum_tz"
COOKIE_MAX_AGE = 365 * 24 * 3600

_l = lazy_gettext


# The reason the forum gives a spam cleanup when the sysop typed none (forum.moderation.cleanup):
# stored as this word, where a sysop's own reason goes, and said in the reader's language
# wherever a ban's or a log entry's reason is shown (`said_reason`, the template filter).
SPAM_REASON = "spam"


def said_reason(reason: str | None) -> str | None:
    """A reason as its sysop typed it; the forum's own (exactly SPAM_REASON: a sysop who typed
    that very word meant the same) in the reader's language."""
    if reason == SPAM_REASON:
        # Translators: the reason of a spam cleanup a sysop gave no reason for (a ban's).
        return _l("spam")
    return reason


def N_(text: str) -> str:  # noqa: N802  (gettext's name for "mark, do not translate yet")
    return text


def _n(singular: str, plural: str) -> tuple[str, str]:
    """Mark a plural pair for extraction (keyword _n:1,2), translated later."""
    return singular, plural


__all__ = [
    "LANGUAGES",
    "force_locale",
    "format_percent",
    "gettext",
    "language",
    "language_of",
    "lazy_gettext",
    "lazy_ngettext",
    "ngettext",
    "pgettext",
    "quoted",
    "refresh",
]


def known(code: str | None) -> str | None:
    """`code` if it is one of the interface's languages ("de-AT" counts as "de"), else None."""
    if not code:
        return None
    code = code.strip().lower().replace("_", "-").split("-", 1)[0]
    return code if code in LANGUAGES else None


def negotiate(member_choice: str | None, cookie: str | None, accept: Any) -> str:
    """The reader's language: the member's setting, the menu's cookie, the browser's
    Accept-Language (a werkzeug LanguageAccept, or None), or the default — in that order."""
    for choice in (member_choice, cookie):
        found = known(choice)
        if found:
            return found
    if accept is not None:
        # best_match treats "de" as matching "de-AT" and the other way round.
        best = accept.best_match(list(LANGUAGES))
        if best:
            return best
    return DEFAULT_LANGUAGE


def _member() -> Any:
    """The logged-in member of this request, or None (never loads anyone after a database
    failure: forum.web sets an anonymous user on g then)."""
    from flask_login import current_user

    user = current_user._get_current_object() if current_user else None
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def select_locale() -> str:
    if not has_request_context():
        return DEFAULT_LANGUAGE
    return page_language(_member())


def page_language(member: Any) -> str:
    """The language this request's pages are in for `member` (None: a guest), from their
    setting, the menu's cookie and the browser's Accept-Language (`negotiate`)."""
    return negotiate(
        getattr(member, "language", None),
        request.cookies.get(LANGUAGE_COOKIE),
        request.accept_languages,
    )


def language_of(member: Any, fallback: str = DEFAULT_LANGUAGE) -> str:
    """The language to address a member in outside their own request (mail, digests, live
    notifications, jobs): their setting; else the language they last read the forum in
    (`users.last_locale`, noted at sign-in and when a page's language changed); else
    `fallback` (the asking page's, or the default: a member not seen since that was noted)."""
    return (
        known(getattr(member, "language", None))
        or known(getattr(member, "last_locale", None))
        or known(fallback)
        or DEFAULT_LANGUAGE
    )


def select_timezone() -> str:
    if not has_request_context():
        return "UTC"
    member = _member()
    if member is not None:
        return zone_or_utc(getattr(member, "timezone", "") or "UTC")
    # The page's script writes the zone URL-encoded ("Europe%2FBerlin", static/js/forum.js),
    # as a cookie's value should be; read raw, every zone with a slash was unknown: UTC.
    return zone_or_utc(unquote(request.cookies.get(TIMEZONE_COOKIE, "")[:100])[:64])


def language() -> str:
    """The language this request is rendered in ("en", "de", "es")."""
    found = reader()
    return found.locale.language if found is not None else DEFAULT_LANGUAGE


def timezone_name() -> str:
    return select_timezone()


# --- the request's language, looked up once ---------------------------------------------------
class Reader:
    """Whom this request renders for: Flask-Babel's locale, time zone and catalog of the request
    (or of a `force_locale` block), looked up once. Flask-Babel's own look-ups walk its context
    chain (several `g` proxies) on every call, and a topic page translates, dates and ages
    hundreds of things: that chain was a tenth of the page's CPU (docs/benchmarks.md)."""

    __slots__ = ("locale", "code", "tzinfo", "translations")

    def __init__(self, locale: Locale, tzinfo: Any, translations: Any) -> None:
        self.locale = locale
        self.code = str(locale)  # the caches' key: a Locale compares slowly ("de", "es")
        self.tzinfo = tzinfo
        self.translations = translations


def reader() -> Reader | None:
    """This context's Reader; None outside an app context or without a locale.

    Kept beside Flask-Babel's state (g._flask_babel) and valid while that names the same
    locale and zone objects: `force_locale` and `refresh()` change them, and the next call
    then looks everything up again."""
    # Through the `g` proxy, Flask's public way. Reading Flask's private context variable
    # instead saved 0.5 µs a call (~0.1 ms of a SIG page's 190 calls, 2 %): not worth code that
    # a Flask upgrade may break.
    try:
        state = g._flask_babel
    except (AttributeError, RuntimeError):  # no look-up yet, or no app context
        state = None
    if state is not None:
        found: Reader | None = getattr(state, "forum_reader", None)
        if (
            found is not None
            and found.locale is getattr(state, "babel_locale", None)
            and found.tzinfo is getattr(state, "babel_tzinfo", None)
        ):
            return found
    try:
        locale = get_locale()
    except RuntimeError:
        return None
    if locale is None:
        return None
    made = Reader(locale, get_timezone(), get_translations())
    g._flask_babel.forum_reader = made
    return made


class WTFormsWords:
    """WTForms' own words (default labels, validation messages) in the reader's language.

    Flask-WTF loads WTForms' catalog from disk once per request, on the first field made without
    a label (most forms have a hidden one): 0.2–0.6 ms of CPU, some 5 % of a member's topic or
    SIG page (issue 17, sixth session). The catalogs never change, so each language's is loaded
    once per process; Flask-WTF uses this object when it finds it on the request."""

    def ugettext(self, string: str) -> str:
        return _wtforms_catalog(language()).ugettext(string)  # type: ignore[no-any-return]

    def ungettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_catalog(language()).ungettext(singular, plural, n)  # type: ignore[no-any-return]


WTFORMS_WORDS = WTFormsWords()


@functools.lru_cache(maxsize=len(LANGUAGES))
def _wtforms_catalog(code: str) -> Any:
    return Translations.load(wtforms_messages_path(), [code], domain="wtforms")


def gettext(string: str, /, **variables: Any) -> str:
    """Flask-Babel's gettext, through the request's Reader."""
    found = reader()
    if found is None:
        return babel_gettext(string, **variables)  # type: ignore[no-any-return]
    text: str = found.translations.ugettext(string)
    return text % variables if variables else text


def quoted(text: str) -> str:
    """Quoted text in the reader's language's quotation marks: “…” in English, „…“ in German,
    «…» in Spanish (a flag's note, a member's words; the `quoted` filter in templates)."""
    return gettext("“%(text)s”", text=text)


# English lists as the forum writes its English (British: no comma before the "and").
_LIST_LOCALES = {"en": "en_GB"}


def listed(items: Iterable[Any]) -> Markup:
    """Names as a list in the reader's language: "ada, bob and cy", "ada, bob und cy", "ada,
    bob y cy" (the `listed` filter; each item escaped unless it is already markup, a link)."""
    code = language()
    words = [escape(item) for item in items]
    return Markup(format_list(words, locale=_LIST_LOCALES.get(code, code)))


def ngettext(singular: str, plural: str, /, num: int, **variables: Any) -> str:
    found = reader()
    if found is None:
        return babel_ngettext(singular, plural, num, **variables)  # type: ignore[no-any-return]
    variables.setdefault("num", num)
    text: str = found.translations.ungettext(singular, plural, num)
    return text % variables


def pgettext(context: str, string: str, /, **variables: Any) -> str:
    found = reader()
    if found is None:
        return babel_pgettext(context, string, **variables)  # type: ignore[no-any-return]
    text: str = found.translations.upgettext(context, string)
    return text % variables if variables else text


_ = gettext


# Jinja's i18n extension, newstyle (what Flask-Babel installs: `_()`, `gettext`, `ngettext` and
# `{% trans %}` take their values as keywords, and escape them in HTML), called directly: the
# extension's own wrappers resolve `gettext` again and make two more calls per string.
def _translations() -> Any:
    found = reader()
    return found.translations if found is not None else get_translations()


@pass_eval_context
def _template_gettext(eval_ctx: EvalContext, string: str, /, **variables: Any) -> str:
    text = _translations().ugettext(string)
    if eval_ctx.autoescape:
        text = Markup(text)
    return text % variables  # type: ignore[no-any-return]


@pass_eval_context
def _template_ngettext(
    eval_ctx: EvalContext, singular: str, plural: str, num: int, /, **variables: Any
) -> str:
    variables.setdefault("num", num)
    text = _translations().ungettext(singular, plural, num)
    if eval_ctx.autoescape:
        text = Markup(text)
    return text % variables  # type: ignore[no-any-return]


@pass_eval_context
def _template_pgettext(
    eval_ctx: EvalContext, context: str, string: str, /, **variables: Any
) -> str:
    variables.setdefault("context", context)
    text = _translations().upgettext(context, string)
    if eval_ctx.autoescape:
        text = Markup(text)
    return text % variables  # type: ignore[no-any-return]


@pass_eval_context
def _template_npgettext(
    eval_ctx: EvalContext,
    context: str,
    singular: str,
    plural: str,
    num: int,
    /,
    **variables: Any,
) -> str:
    variables.setdefault("context", context)
    variables.setdefault("num", num)
    text = _translations().unpgettext(context, singular, plural, num)
    if eval_ctx.autoescape:
        text = Markup(text)
    return text % variables  # type: ignore[no-any-return]


# --- dates, times and numbers ---------------------------------------------------------------
def localtime(value: datetime | None, format: str = "medium") -> str:  # noqa: A002
    """A moment in the reader's time zone and language, to the minute ("12.03.2026, 14:05")."""
    if value is None:
        return ""
    found = reader()
    if format != "medium" or found is None:
        return format_datetime(value, format)  # type: ignore[no-any-return]
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return _medium_text(value, found.code, found.tzinfo)


@functools.lru_cache(maxsize=4096)
def _medium_text(value: datetime, code: str, tzinfo: Any) -> str:
    """A moment's medium date and time (to the minute), by moment, language and zone. A
    listing or topic page titles each `<time>` with one, and pages are read again and again: a
    hit is a tenth of the cost of formatting (docs/benchmarks.md, 2026-12-06). Bounded: a few
    hundred KB."""
    locale = _locale(code)
    return _medium_moment(locale).apply(value.astimezone(tzinfo), locale)


@functools.lru_cache(maxsize=16)
def _locale(code: str) -> Locale:
    return Locale.parse(code)


@functools.lru_cache(maxsize=16)
def _medium_moment(locale: Locale) -> DateTimePattern:
    """A language's medium date with its short time, to the minute, as one pattern
    ("dd.MM.y, HH:mm"): a forum's moments are minutes, and seconds only made listings harder to
    read. Babel's format_datetime formats the date and the time apart and splices them into
    this shape, which takes twice as long; a listing shows dozens (the `<time>` titles,
    forum.web.time_tag)."""
    shape = str(locale.datetime_formats["medium"]).replace("'", "")
    time, date = locale.time_formats["short"].pattern, locale.date_formats["medium"].pattern
    return parse_pattern(shape.replace("{0}", time).replace("{1}", date))


def moment_for(value: datetime, language: str, zone: str) -> str:
    """A moment as a mail to one member says it, outside their requests: in their language and
    time zone, to the minute, with the zone's name ("07.12.2026, 09:37 (Europe/Berlin)")."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    name = zone_or_utc(zone)
    locale = _locale(language or DEFAULT_LANGUAGE)
    return f"{_medium_moment(locale).apply(in_zone(value, name), locale)} ({name})"


def localdate(value: datetime | None, format: str = "medium") -> str:  # noqa: A002
    if value is None:
        return ""
    return format_date(value, format)  # type: ignore[no-any-return]


def calendar_day(value: date, skeleton: str = "yMMMd") -> str:
    """A calendar day (or month) with no time and no zone, in the reader's language: `skeleton`
    is CLDR's ("yMMMd": "7. Dez. 2026", "7 dic 2026"; "MMMd": "7. Dez."; "yMMM": "Dez. 2026")."""
    return format_skeleton(skeleton, value, locale=_locale(language()))  # type: ignore[no-any-return]


def zone_city(zone: str | None) -> str:
    """A time zone as people read it: its city in the reader's language ("Berlin", "Berlín",
    "Kalkutta" for Europe/Berlin and Asia/Kolkata, CLDR's exemplar city), not the IANA name; "UTC"
    for UTC and unknown zones."""
    name = zone_or_utc(zone or "")
    if name in ("UTC", "Etc/UTC"):
        return "UTC"
    return get_timezone_location(name, locale=_locale(language()), return_city=True)  # type: ignore[no-any-return]


# Babel's format_timedelta as ago() calls it: the largest unit of which there are at least 0.85,
# down to minutes.
_AGO_THRESHOLD = 0.85
_AGO_UNITS = TIMEDELTA_UNITS[: [unit for unit, _secs in TIMEDELTA_UNITS].index("minute") + 1]


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in words: "2 hours ago", "vor 2 Stunden", "hace 2 horas"."""
    if value is None:
        return gettext("never")
    return _ago(reader(), value - (now or utcnow()))


def waited(value: datetime | None, now: datetime | None = None) -> str:
    """How long since, as a duration with no direction: "8 minutes", "8 Minuten", "8 minutos"
    (a queue's "Waiting for" column; "ago" there read "waiting since 8 minutes ago")."""
    if value is None:
        return ""
    delta = (now or utcnow()) - value
    found = reader()
    code = found.code if found is not None else str(get_locale() or DEFAULT_LANGUAGE)
    return babel_timedelta(  # type: ignore[no-any-return]
        max(delta, timedelta(minutes=1)),
        granularity="minute",
        threshold=_AGO_THRESHOLD,
        locale=_locale(code),
    )


def moment(value: datetime) -> tuple[str, str]:
    """localtime(value) and ago(value), the two texts of a `<time>` tag, with one look-up of
    the reader instead of two (forum.web.time_tag: a SIG page writes sixty)."""
    found = reader()
    if found is None:
        return localtime(value), ago(value)
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return _medium_text(aware, found.code, found.tzinfo), _ago(found, value - utcnow())


def _ago(found: Reader | None, delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if abs(seconds) < 45:
        return gettext("just now")
    if found is None:
        return babel_timedelta(delta, granularity="minute", add_direction=True, locale=get_locale())
    # The unit and count as Babel picks them (babel.dates.format_timedelta), then the words
    # for that count of that unit from a small cache: Babel's pattern look-up was most of the
    # cost, and a page says "3 hours ago" many times.
    size = abs(seconds)
    for unit, unit_seconds in _AGO_UNITS:
        count = size / unit_seconds
        if count >= _AGO_THRESHOLD or unit == "minute":
            return _ago_words(found.code, unit, int(round(max(1, count))), seconds >= 0)
    raise AssertionError("unreachable: minutes always match")


@functools.lru_cache(maxsize=1024)
def _ago_words(code: str, unit: str, count: int, future: bool) -> str:
    """Babel's words for `count` `unit`s ago (or ahead): asked with that unit as the
    granularity and no threshold, Babel picks exactly that unit and count."""
    seconds = count * dict(TIMEDELTA_UNITS)[unit]
    return babel_timedelta(
        seconds if future else -seconds,
        granularity=unit,  # type: ignore[arg-type]
        threshold=float("inf"),
        add_direction=True,
        locale=_locale(code),
    )


def number(value: float | None) -> str:
    # Counts under a thousand read the same in every language the forum speaks (no grouping,
    # Latin digits): a listing shows dozens, and Babel's formatting costs 10 µs each.
    if type(value) is int and 0 <= value < 1000:
        return str(value)
    return format_decimal(value or 0)


class lazy_number:  # noqa: N801  (used like a function)
    """A number written in the language of whoever reads the message it goes into (services
    build messages before any reader is known)."""

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = value

    def __str__(self) -> str:
        return number(self.value)


# --- length limits: the services' words, for the forms too ---------------------------------
LimitWords = Literal[
    "it", "title", "subject", "name", "description", "note", "notes", "reason", "message",
    "address", "keywords", "signature", "bio",
]  # fmt: skip


def limit_words(what: LimitWords, limit: int) -> str:
    """ "Keep the title to 200 characters or fewer.", in the reader's language and digits (the
    words the services say on Invalid): `what` names the thing, "it" when no noun fits."""
    n = lazy_number(limit)
    match what:
        case "title":
            return lazy_gettext("Keep the title to %(limit)s characters or fewer.", limit=n)
        case "subject":
            return lazy_gettext("Keep the subject to %(limit)s characters or fewer.", limit=n)
        case "name":
            return lazy_gettext("Keep the name to %(limit)s characters or fewer.", limit=n)
        case "description":
            return lazy_gettext("Keep the description to %(limit)s characters or fewer.", limit=n)
        case "note":
            return lazy_gettext("Keep the note to %(limit)s characters or fewer.", limit=n)
        case "notes":
            return lazy_gettext("Keep notes to %(limit)s characters or fewer.", limit=n)
        case "reason":
            return lazy_gettext("Keep the reason to %(limit)s characters or fewer.", limit=n)
        case "message":
            return lazy_gettext("Keep the message to %(limit)s characters or fewer.", limit=n)
        case "address":
            return lazy_gettext("Keep the address to %(limit)s characters or fewer.", limit=n)
        case "keywords":
            return lazy_gettext("Keep the keywords to %(limit)s characters or fewer.", limit=n)
        case "signature":
            return lazy_gettext("Keep the signature to %(limit)s characters or fewer.", limit=n)
        case "bio":
            return lazy_gettext("Keep the bio to %(limit)s characters or fewer.", limit=n)
        case _:
            return lazy_gettext("Keep it to %(limit)s characters or fewer.", limit=n)


def at_most(limit: int, what: LimitWords = "it") -> Length:
    """A form field's Length(max=limit) that says the service's words with the number in the
    reader's digits (WTForms' own message writes "5000" and words of its own). Every form's
    length check is one of these (tests/test_field_limits.py walks them)."""
    return Length(max=limit, message=limit_words(what, limit))


def required(message: str | None = None) -> DataRequired:
    """A form field's DataRequired in the forum's words: the field's own `message` ("Choose a
    reason."), or "Fill in this field." (WTForms' own, "This field is required.", reads stiffly
    in German: "Dieses Feld wird benötigt."). Every form's required check is one of these
    (tests/test_i18n_wording.py walks them)."""
    return DataRequired(message=message or lazy_gettext("Fill in this field."))


def content_lang(code: str | None) -> Markup:
    """` lang="de"` for a container of content written in another language than the page's
    (WCAG 3.1.2: screen readers then pronounce it right); nothing when they agree."""
    found = known(code)
    if not found or found == language():
        return Markup("")
    return Markup(' lang="%s"') % found


# --- static/js's strings ----------------------------------------------------------------------
# What the scripts say, by key. Extracted like any other string; served per language as a small
# JSON catalog (GET /i18n/<lang>.json), which forum.js loads (no inline script: the CSP forbids
# it). Plurals are {"one": …, "other": …} with %(num)s for the number: English, German and
# Spanish have those two forms.
def js_messages() -> dict[str, Any]:
    # Unformatted: the script fills in %(num)d itself.
    translations = get_translations()

    def plural(pair: tuple[str, str]) -> dict[str, str]:
        singular, plural_ = pair
        return {
            "one": translations.ungettext(singular, plural_, 1),
            "other": translations.ungettext(singular, plural_, 2),
        }

    return {
        "new_replies": plural(_n("%(num)d new reply", "%(num)d new replies")),
        "show": gettext("show"),
        "replies_shown": plural(_n("%(num)d new reply shown", "%(num)d new replies shown")),
        "no_members": gettext("No members"),
        "and_guests": plural(_n("and %(num)d guest", "and %(num)d guests")),
        "new_notification": translations.ugettext(N_("New notification: %(text)s")),
        "notification": gettext("notification"),
        # The composer (static/js/composer.js).
        "draft_saved": gettext("Draft saved"),
        "draft_failed": translations.ugettext(N_("Draft not saved: %(error)s")),
        "preview_failed": translations.ugettext(N_("No preview: %(error)s")),
        "nothing_to_preview": gettext("Nothing to preview yet."),
        "mention_suggestions": gettext("Members to mention"),
        "mentions_offered": plural(_n("%(num)d member suggested", "%(num)d members suggested")),
        "emoji_suggestions": gettext("Emoji to insert"),
        "emoji_offered": plural(_n("%(num)d emoji suggested", "%(num)d emoji suggested")),
        "someone": gettext("someone"),
        "wrote": gettext("wrote"),
        # Reactions and bookmarks (static/js/reactions.js) and the member card (forum.js).
        "reacted_with": translations.ugettext(N_("You reacted with %(emoji)s.")),
        "reaction_taken_back": gettext("Your reaction was taken back."),
        "reaction_failed": translations.ugettext(N_("Not saved: %(error)s")),
        "who_reacted_with": translations.ugettext(N_("%(names)s reacted with %(emoji)s")),
        "and_more": plural(_n("and %(num)d more", "and %(num)d more")),
        "who_reacted": gettext("Who reacted"),
        "bookmarked": gettext("Bookmarked"),
        # Uploads and pictures (static/js/files.js).
        "uploading": translations.ugettext(N_("Uploading %(name)s…")),
        "uploaded": translations.ugettext(N_("%(name)s added")),
        "upload_failed": translations.ugettext(N_("%(name)s not added: %(error)s")),
        "lightbox": gettext("Picture"),
        "close": gettext("Close"),
        "previous": gettext("Previous picture"),
        "next": gettext("Next picture"),
    }


def _catalog(code: str) -> tuple[bytes, str]:
    cache = _JS_CATALOGS.setdefault(current_app._get_current_object(), dict)  # type: ignore[attr-defined]
    if code not in cache:
        with force_locale(code):
            body = json.dumps(js_messages(), ensure_ascii=False, sort_keys=True).encode()
        cache[code] = (body, hashlib.sha256(body).hexdigest()[:16])
    return cache[code]


def catalog_version(code: str) -> str:
    return _catalog(code)[1]


def init_app(app: Flask) -> None:
    from .extensions import babel

    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    # In place of what Flask-Babel installed (the same newstyle semantics, see above).
    app.jinja_env.newstyle_gettext = True  # type: ignore[attr-defined]
    app.jinja_env.globals.update(
        _=_template_gettext,
        gettext=_template_gettext,
        ngettext=_template_ngettext,
        pgettext=_template_pgettext,
        npgettext=_template_npgettext,
    )

    @app.get("/i18n/<code>.json")
    def js_catalog(code: str) -> Response:
        if code not in LANGUAGES:
            abort(404)
        body, version = _catalog(code)
        response = Response(body, mimetype="application/json")
        response.headers["Cache-Control"] = "public, max-age=86400"
        response.set_etag(version)
        response.make_conditional(request)
        return response

    @app.before_request
    def wtforms_words() -> None:
        # Flask-WTF takes WTForms' translations from here when it finds them (see WTFormsWords).
        request.wtforms_translations = WTFORMS_WORDS  # type: ignore[attr-defined]

    @app.after_request
    def vary_on_language(response: Response) -> Response:
        # The same address reads differently in each language: caches must keep them apart.
        response.vary.update(("Accept-Language", "Cookie"))
        return response

    app.jinja_env.globals.update(
        languages=LANGUAGES,
        current_language=language,
        content_lang=content_lang,
        js_catalog_version=catalog_version,
    )
    app.jinja_env.filters.update(
        localtime=localtime,
        localdate=localdate,
        calendar_day=calendar_day,
        zone_city=zone_city,
        ago=ago,
        waited=waited,
        number=number,
        quoted=quoted,
        listed=listed,
        said_reason=said_reason,
    )


def names(codes: Iterable[str]) -> list[tuple[str, str]]:
    return [(code, LANGUAGES[code]) for code in codes]
