"""What a member wrote in a reply by mail: the text of the message, without the quoted mail it
answers and without the signature.

Where the quoted original begins is found by mail-parser-reply's patterns for mail clients'
headers ("On … wrote:", "Am … schrieb …:", Outlook's "From:/Sent:/To:" block in many
languages), and by rules of our own for what it misses (its Spanish "El … escribió:" needs two
spaces; a mutt attribution is free text): a line ending in ":" followed by quoted (">") lines, a
trailing block of quoted lines, Outlook's separators. A signature starts at the "-- " line
(RFC 3676) or a mobile client's "Sent from my …" line. Indentation is kept (Markdown code
blocks, nested lists); mail-parser-reply's own cleaning, which strips every line, is not used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.message import EmailMessage, Message
from functools import lru_cache
from html.parser import HTMLParser

from mailparser_reply.parser import EmailMessage as ReplyParserMessage

LANGUAGES = ("en", "de", "es")

# Outlook and others draw these before the quoted original.
SEPARATOR_RE = re.compile(
    r"^\s*(?:-{3,}\s*(?:Original Message|Ursprüngliche Nachricht|Mensaje original|"
    r"Forwarded message|Weitergeleitete Nachricht|Mensaje reenviado)\s*-{3,}|[_-]{20,})\s*$",
    re.IGNORECASE,
)
# A header block of a quoted original, in the three languages (Outlook, Apple Mail forwards).
HEADER_LINE_RE = re.compile(r"^\s*\*?(?:From|Von|De|Sent|Gesendet|Enviado|Date|Datum|Fecha):\*?\s")
# The signature delimiter (RFC 3676: "-- ", which clients often send as "--").
SIGNATURE_RE = re.compile(r"^--\s?$")
# What mobile and webmail clients add under the text.
SENT_FROM_RE = re.compile(
    r"^\s*(?:Sent from my |Sent from Outlook|Get Outlook for |Von meinem .+ gesendet|"
    r"Gesendet von meinem |Gesendet von Outlook|Holen Sie sich Outlook|Enviado desde mi |"
    r"Enviado desde Outlook|Obtener Outlook para )",
    re.IGNORECASE,
)

# A closing on a line of its own, followed by no more than a name or two at the very end.
CLOSING_RE = re.compile(
    r"^\s*(?:(?:best|kind|warm|many)\s+regards|regards|best wishes|cheers|all the best|"
    r"mit freundlichen grüßen|mit freundlichen gruessen|(?:viele|beste|liebe|herzliche)\s+grüße|"
    r"viele grüsse|beste grüsse|liebe grüsse|gruß|grüße|lg|mfg|"
    r"saludos(?:\s+cordiales)?|un saludo|atentamente|cordialmente|un abrazo)\s*[,.!]?\s*$",
    re.IGNORECASE,
)
CLOSING_TAIL = 2


@lru_cache(maxsize=16)
def _header_regex(languages: tuple[str, ...]) -> re.Pattern[str]:
    """mail-parser-reply's pattern for the headers that start a quoted original."""
    pattern: re.Pattern[str] = ReplyParserMessage(text="", languages=list(languages)).HEADER_REGEX
    return pattern


def _languages(preferred: Iterable[str | None]) -> tuple[str, ...]:
    chosen = [lang for lang in preferred if lang in LANGUAGES]
    return tuple(dict.fromkeys([*chosen, *LANGUAGES]))


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _library_cut(lines: list[str], languages: tuple[str, ...]) -> int | None:
    """The first line of a client's header that mail-parser-reply knows, if any."""
    stripped = "\n".join(line.strip() for line in lines)
    found = _header_regex(languages).search(stripped)
    if found is None:
        return None
    position = found.start()
    while position < len(stripped) and stripped[position] == "\n":
        position += 1
    return stripped[:position].count("\n")


def _trailing_quote_cut(lines: list[str]) -> int | None:
    """Where the quoted original at the end begins: a block of quoted (">") and blank lines
    that runs to the end, with the attribution line before it ("… wrote:", which Gmail may wrap
    onto two lines). Quoted lines with the member's words after them stay: they answer point by
    point, and ">" is a Markdown quote."""
    cut = None
    for index in range(len(lines) - 1, -1, -1):
        if _is_quoted(lines[index]):
            cut = index
        elif lines[index].strip():
            break
    if cut is None:
        return None
    before = cut - 1
    while before >= 0 and not lines[before].strip():
        before -= 1
    if before < 0 or not lines[before].rstrip().endswith(":"):
        return cut
    # Gmail wraps a long attribution: "On … Forum <" / "reply+…@…> wrote:".
    previous = lines[before - 1].strip() if before > 0 else ""
    if (
        previous
        and not previous.endswith((".", "!", "?", ":"))
        and len(lines[before].strip()) < 60
        and re.search(r"@|\d{1,2}:\d{2}|\d{4}", f"{previous} {lines[before]}")
    ):
        return before - 1
    return before


def _separator_cut(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        if SEPARATOR_RE.match(line):
            following = [entry for entry in lines[index + 1 : index + 4] if entry.strip()]
            if "Original" in line or "Nachricht" in line or "Mensaje" in line or "message" in line:
                return index
            if following and HEADER_LINE_RE.match(following[0]):
                return index
    return None


def _signature_cut(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        if SIGNATURE_RE.match(line) or SENT_FROM_RE.match(line):
            return index
        if CLOSING_RE.match(line):
            rest = [entry for entry in lines[index + 1 :] if entry.strip()]
            if len(rest) <= CLOSING_TAIL and all(len(entry.strip()) <= 40 for entry in rest):
                return index
    return None


def strip_reply(text: str, languages: Iterable[str | None] = ()) -> str:
    """The member's own words of a reply by mail (may be empty)."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    cuts = [
        _library_cut(lines, _languages(languages)),
        _trailing_quote_cut(lines),
        _separator_cut(lines),
    ]
    quoted = min((cut for cut in cuts if cut is not None), default=len(lines))
    lines = lines[:quoted]
    signature = _signature_cut(lines)
    if signature is not None:
        lines = lines[:signature]
    # What was left of a separator line above the cut, and blank lines at either end.
    while lines and (not lines[-1].strip() or SEPARATOR_RE.match(lines[-1])):
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines)


# --- the text of a message -----------------------------------------------------------------
def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed: join the soft line breaks, undo space-stuffing."""
    out: list[str] = []
    joining = False
    for raw in text.split("\n"):
        line = raw[1:] if raw.startswith(" ") else raw
        if joining and out:
            out[-1] += line
        else:
            out.append(line)
        soft = line.endswith(" ") and not SIGNATURE_RE.match(line) and not _is_quoted(line)
        if soft and delsp:
            out[-1] = out[-1][:-1]
        joining = soft
    return "\n".join(out)


class _HTMLText(HTMLParser):
    """Text of an HTML-only reply, without the clients' quoted parts (Gmail's gmail_quote,
    Thunderbird's and Apple Mail's blockquote type=cite, Outlook's divRplyFwdMsg)."""

    SKIP = {"blockquote", "style", "script", "head", "title"}
    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "pre", "ul", "ol", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: list[str] = []
        self.stopped = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.stopped:
            return
        values = " ".join(f"{k}={v}" for k, v in attrs if v)
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.append(tag)
            return
        quoted = any(
            marker in values
            for marker in ("gmail_quote", "moz-cite-prefix", "divRplyFwdMsg", "yahoo_quoted")
        )
        if "appendonsend" in values or "divRplyFwdMsg" in values:
            self.stopped = True  # Outlook: everything after this is the quoted original
            return
        if tag in self.SKIP or quoted:
            self.skipping.append(tag)
            return
        if tag in self.BLOCKS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if self.stopped:
            return
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.pop()
            return
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.stopped and not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        joined = "".join(self.parts)
        lines = [line.strip() for line in joined.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    return parser.text()


def message_text(message: EmailMessage | Message) -> str:
    """The message's text: its plain part (unflowed), else its HTML part as text."""
    if not isinstance(message, EmailMessage):
        return ""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None or not isinstance(part, EmailMessage):
        return ""
    try:
        content = str(part.get_content())
    except (LookupError, UnicodeError, ValueError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    content = content.replace("\r\n", "\n")
    if part.get_content_subtype() == "html":
        return html_to_text(content)
    if str(part.get_param("format") or "").lower() == "flowed":
        content = _unflow(content, (str(part.get_param("delsp") or "")).lower() == "yes")
    return content


def reply_text(message: EmailMessage | Message, languages: Iterable[str | None] = ()) -> str:
    """What the member wrote, ready to post (Markdown as they typed it)."""
    return strip_reply(message_text(message), languages)
