"""Markdown in, safe HTML out: the ONLY module that imports bleach or the Markdown library.

Posts keep the raw Markdown and the cooked HTML made here at write time; pages show the stored
HTML and never render Markdown. Bump RENDER_VERSION when the output changes and run
`flask forum rebake` to re-cook older posts. To swap the sanitizer, change this module only.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import partial
from html.parser import HTMLParser

import bleach
from bleach.linkifier import LinkifyFilter
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

from . import shortcodes

RENDER_VERSION = 3  # 3: `:name:` emoji shortcodes

# The forum's own uploaded files (forum.files): the only images a post may show. An address
# as the composer writes it, and as the cooked HTML shows it (the medium thumbnail, `?s=m`).
OWN_FILE_RE = re.compile(r"^/files/([0-9a-f]{64})/[^/?#\s\"'<>]{1,400}$")
OWN_IMAGE_SRC_RE = re.compile(r"^/files/[0-9a-f]{64}/[^/?#\s\"'<>]{1,400}(?:\?s=m)?$")
# Images are shown at most this wide or tall in a post (the medium thumbnail's side).
IMAGE_SIDE = 1024

# The sanitizer's cost grows with the number of tags. A post whose Markdown makes more tags than
# any real post needs (a 5,000-row table, thousands of empty code blocks) is shown as escaped
# plain text instead, so no input makes cooking slow.
MAX_TAGS = 10_000

MENTION_RE = re.compile(r"@([A-Za-z0-9_-]{3,32})")
USERNAME_CHARS = re.compile(r"[A-Za-z0-9_-]")
QUOTE_HREF_RE = re.compile(r"^/p/(\d+)$")

ALLOWED_TAGS = frozenset(
    {
        "a", "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
        "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
        "table", "thead", "tbody", "tr", "th", "td", "span", "img",
    }
)  # fmt: skip


def _img_attribute(tag: str, name: str, value: str) -> bool:
    """An <img> keeps only an address of this forum's own files, its size and lazy loading."""
    if name == "src":
        return bool(OWN_IMAGE_SRC_RE.match(value))
    if name in ("width", "height"):
        return value.isdecimal() and len(value) <= 5
    if name == "loading":
        return value == "lazy"
    return name in ("alt", "decoding")


ALLOWED_ATTRIBUTES = {
    "img": _img_attribute,
    "a": ["href", "title", "rel", "class"],
    "code": ["class"],
    "span": ["class"],
    "ol": ["start"],
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})


@dataclass(frozen=True)
class Rendered:
    html: str
    mentions: tuple[str, ...] = ()  # canonical usernames that exist, in order of appearance
    quoted_post_ids: tuple[int, ...] = ()
    version: int = RENDER_VERSION
    # Links to other sites (and mail addresses), pictures included (they show as links): the
    # limit for new accounts counts them. Links within the forum (/p/1, mentions) do not count.
    links: int = 0
    files: tuple[str, ...] = ()  # the SHA-256 of each of the forum's own files it shows


# A resolver maps lower-cased names to canonical usernames for the members who exist.
MentionResolver = Callable[[set[str]], dict[str, str]]
# An image resolver maps the SHA-256 of the forum's own files to (width, height, has a medium
# thumbnail) for the ones that are images (forum.files.services.image_sizes).
ImageResolver = Callable[[set[str]], dict[str, tuple[int, int, bool]]]


def _mention_rule(state: StateInline, silent: bool) -> bool:
    pos = state.pos
    if state.src[pos] != "@":
        return False
    if pos > 0 and (USERNAME_CHARS.match(state.src[pos - 1]) or state.src[pos - 1] in "./"):
        return False
    match = MENTION_RE.match(state.src, pos)
    if not match:
        return False
    if not silent:
        token = state.push("mention", "", 0)
        token.content = match.group(1)
    state.pos = match.end()
    return True


SHORTCODE_RE = re.compile(r":([A-Za-z0-9_+\-]{2,60}):")


def _shortcode_rule(state: StateInline, silent: bool) -> bool:
    # `:smile:` → 😄 (forum/shortcodes.py), outside code; not inside a word or an address
    # (`12:30:45`, `https://host/:x:`). An unknown name stays as it was typed.
    pos = state.pos
    if state.src[pos] != ":":
        return False
    if pos > 0 and (state.src[pos - 1].isalnum() or state.src[pos - 1] in "_/"):
        return False
    match = SHORTCODE_RE.match(state.src, pos)
    char = shortcodes.lookup(match.group(1)) if match else None
    if match is None or char is None:
        return False
    if not silent:
        token = state.push("text", "", 0)
        token.content = char
    state.pos = match.end()
    return True


def _render_mention(self, tokens: list[Token], idx: int, options, env) -> str:  # noqa: ANN001
    token = tokens[idx]
    name = token.meta.get("username")
    if not name:
        return html.escape("@" + token.content)
    return f'<a class="mention" href="/u/{html.escape(name)}">@{html.escape(name)}</a>'


def _render_image(self, tokens: list[Token], idx: int, options, env) -> str:  # noqa: ANN001
    # No remote images (tracking pixels, mixed content): show them as links to the picture.
    # The forum's own uploaded images show, at their size (no layout shift), loaded lazily,
    # inside a link to the full picture (the lightbox's, static/js/forum.js).
    token = tokens[idx]
    src = html.escape(str(token.attrGet("src") or ""))
    alt = html.escape(self.renderInlineAsText(token.children or [], options, env) or "image")
    known = token.meta.get("image")
    if not known:
        return f'<a href="{src}">{alt}</a>'
    width, height, medium = known
    shown_w, shown_h = _scaled(width, height, IMAGE_SIDE)
    shown = f"{src}?s=m" if medium else src
    return (
        f'<a href="{src}" class="lightbox">'
        f'<img src="{shown}" alt="{alt}" width="{shown_w}" height="{shown_h}" loading="lazy">'
        "</a>"
    )


def _scaled(width: int, height: int, side: int) -> tuple[int, int]:
    longest = max(width, height, 1)
    if longest <= side:
        return max(width, 1), max(height, 1)
    return max(1, round(width * side / longest)), max(1, round(height * side / longest))


# markdown-it stops at this nesting and drops what lies deeper; quotes count one level each, and
# the paragraph inside the innermost quote one more.
MAX_NESTING = 20
MAX_QUOTE_DEPTH = MAX_NESTING - 1
_QUOTE_PREFIX = re.compile(r"(?: {0,3}>)+")


def quote_depth(text: str) -> int:
    """How deep the text's quotes nest (`> > > …`): past MAX_QUOTE_DEPTH the words would vanish."""
    depth = 0
    for line in text.splitlines():
        found = _QUOTE_PREFIX.match(line)
        if found:
            depth = max(depth, found.group(0).count(">"))
    return depth


def _build_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "maxNesting": MAX_NESTING})
    md.enable(["table", "strikethrough", "linkify"])
    md.inline.ruler.before("emphasis", "mention", _mention_rule)
    md.inline.ruler.before("emphasis", "shortcode", _shortcode_rule)
    md.add_render_rule("mention", _render_mention)
    md.add_render_rule("image", _render_image)
    md.validateLink = _validate_link  # type: ignore[method-assign]
    return md


def _validate_link(url: str) -> bool:
    lowered = url.strip().lower()
    return not lowered.startswith(("javascript:", "vbscript:", "data:", "file:"))


_MD = _build_markdown()


def _set_rel(attrs: dict, new: bool = False) -> dict:  # noqa: ARG001
    href = attrs.get((None, "href"), "")
    if href.startswith(("http:", "https:", "//")):
        attrs[(None, "rel")] = "nofollow ugc noopener"
    else:
        attrs.pop((None, "rel"), None)
    return attrs


def _build_cleaner() -> bleach.sanitizer.Cleaner:
    return bleach.sanitizer.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        strip=True,
        strip_comments=True,
        filters=[
            partial(
                LinkifyFilter, callbacks=[_set_rel], skip_tags={"pre", "code"}, parse_email=False
            )
        ],
    )


# A bleach Cleaner is not thread-safe: its html5lib parser keeps the document being parsed on
# the instance, so two threads cleaning at once (replies in a threaded server) mix their
# documents, or fail with "IndexError: pop from empty list". One Cleaner per thread.
_cleaners = threading.local()
# The references of the text this thread rendered last: a new post is cooked, then its
# notifications ask who it mentions and quotes, inside the write transaction.
_last_references = threading.local()


def _cleaner() -> bleach.sanitizer.Cleaner:
    cleaner = getattr(_cleaners, "cleaner", None)
    if cleaner is None:
        cleaner = _cleaners.cleaner = _build_cleaner()
    return cleaner


def render(
    raw: str,
    resolve_mentions: MentionResolver | None = None,
    resolve_images: ImageResolver | None = None,
) -> Rendered:
    """Cook Markdown into sanitized HTML; also report mentions and quoted posts. With
    `resolve_images`, the forum's own uploaded images show as images (else as links)."""
    raw = clean_text(raw)
    env: dict = {}
    tokens, mentions, quoted, links = _parse(raw, env, resolve_mentions)
    files = _resolve_images(tokens, resolve_images)
    rendered = _MD.renderer.render(tokens, _MD.options, env)
    # Raw HTML is off, so every "<" left in the output starts a tag.
    if rendered.count("<") > MAX_TAGS:
        cooked = plain_html(raw)
    else:
        cooked = _cleaner().clean(rendered)
    result = Rendered(
        html=cooked,
        mentions=tuple(mentions),
        quoted_post_ids=tuple(quoted),
        links=links,
        files=files,
    )
    _last_references.value = (raw, resolve_mentions, replace(result, html=""))
    return result


def references(raw: str, resolve_mentions: MentionResolver | None = None) -> Rendered:
    """The mentions and quoted posts that render() reports, without making the HTML (which is
    most of its cost): for who must hear about a post already cooked. `html` is empty. The
    text this thread has just rendered is not parsed again."""
    raw = clean_text(raw)
    last = getattr(_last_references, "value", None)
    if last is not None and last[0] == raw and last[1] is resolve_mentions:
        return last[2]  # type: ignore[no-any-return]
    _, mentions, quoted, links = _parse(raw, {}, resolve_mentions)
    return Rendered(html="", mentions=tuple(mentions), quoted_post_ids=tuple(quoted), links=links)


def _is_outside_link(href: str) -> bool:
    """A link that leaves the forum: not a path on this site (/p/1) nor an anchor (#post-3)."""
    href = href.strip()
    return (
        bool(href)
        and not href.startswith(("#", "?"))
        and not (href.startswith("/") and not href.startswith("//"))
    )


def _parse(
    raw: str, env: dict, resolve_mentions: MentionResolver | None
) -> tuple[list[Token], list[str], list[int], int]:
    tokens = _MD.parse(raw, env)
    names: list[str] = []
    quoted: list[int] = []
    for token in _walk(tokens):
        if token.type == "mention":
            names.append(token.content)
    known = resolve_mentions({n.lower() for n in names}) if (resolve_mentions and names) else {}
    mentions: list[str] = []
    depth = 0
    links = 0
    for token in _walk(tokens):
        if token.type in ("link_open", "image"):
            key = "href" if token.type == "link_open" else "src"
            links += _is_outside_link(str(token.attrGet(key) or ""))
        if token.type == "blockquote_open":
            depth += 1
        elif token.type == "blockquote_close":
            depth -= 1
        elif token.type == "mention":
            canonical = known.get(token.content.lower())
            token.meta["username"] = canonical
            if canonical and canonical not in mentions:
                mentions.append(canonical)
        elif token.type == "link_open" and depth > 0:
            match = QUOTE_HREF_RE.match(str(token.attrGet("href") or ""))
            if match and int(match.group(1)) not in quoted:
                quoted.append(int(match.group(1)))
    return tokens, mentions, quoted, links


def _resolve_images(tokens: list[Token], resolve: ImageResolver | None) -> tuple[str, ...]:
    """Mark the image tokens that show one of the forum's own images, with its size."""
    found: dict[str, list[Token]] = {}
    for token in _walk(tokens):
        if token.type == "image":
            match = OWN_FILE_RE.match(str(token.attrGet("src") or ""))
            if match:
                found.setdefault(match.group(1), []).append(token)
    if not found or resolve is None:
        return tuple(found)
    sizes = resolve(set(found))
    for sha, images in found.items():
        if sha in sizes:
            for token in images:
                token.meta["image"] = sizes[sha]
    return tuple(found)


def plain_html(raw: str) -> str:
    """Text as paragraphs and line breaks, every character escaped: nothing in it is markup,
    so it needs no sanitizer."""
    paragraphs = [p for p in re.split(r"\n\s*\n", raw.strip()) if p.strip()]
    return "\n".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def _walk(tokens: Iterable[Token]) -> Iterable[Token]:
    for token in tokens:
        if token.children:
            # Block tokens wrap inline ones: yield the block first to keep quote depth right.
            yield token
            yield from _walk(token.children)
        else:
            yield token


# Control characters but tab and newline (carriage returns become newlines first).
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Normalise user text: no NUL or other control characters, Unix newlines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_RE.sub("", text)


def quote_markdown(who: str, post_id: int, raw: str, wrote: str) -> str:
    """The Markdown a reply starts with when it quotes a post: `> **who** [wrote](/p/id):`, then
    the post. `who` is "@name", or words that mention no one (a deleted account's "Former
    member"); `wrote` comes in the quoting member's language. Only the link's address makes it a
    quote (QUOTE_HREF_RE), never its words."""
    body = "\n".join("> " + line if line else ">" for line in raw.strip().splitlines())
    return f"> **{who}** [{wrote}](/p/{post_id}):\n>\n{body}\n\n"


class _TextExtractor(HTMLParser):
    def __init__(self, *, quotes: bool = True) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.quotes = quotes
        self.quoted = 0  # how deep inside <blockquote> the parser is

    def handle_data(self, data: str) -> None:
        if self.quotes or not self.quoted:
            self.parts.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "blockquote" and self.quoted:
            self.quoted -= 1

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "blockquote":
            self.quoted += 1
        if not self.quotes and self.quoted:
            return
        if tag in {"p", "br", "li", "blockquote", "pre", "tr", "h1", "h2", "h3", "h4"}:
            self.parts.append(" ")
        elif tag == "img":
            # An image's words are its alt text (an uploaded image's file name): search finds
            # the post by it.
            alt = dict(attrs).get("alt") or ""
            self.parts.append(f" {alt} ")


def plain_text(cooked: str, *, quotes: bool = True) -> str:
    """The words of cooked HTML, tags stripped (search index, excerpts, notifications); with
    quotes=False, without the words of quoted posts (<blockquote>)."""
    parser = _TextExtractor(quotes=quotes)
    parser.feed(cooked)
    parser.close()
    return " ".join("".join(parser.parts).split())


def excerpt(cooked: str, length: int = 160) -> str:
    """The start of a post's own words, for a notification, a mail, a feed or a list: a reply
    that quotes begins with its own words, not the quoted post's (which the reader often wrote:
    "ada mentioned you" over an excerpt of your own post says nothing). A post that is all
    quote keeps the quote."""
    text = plain_text(cooked, quotes=False) or plain_text(cooked)
    if len(text) <= length:
        return text
    return text[: length - 1].rsplit(" ", 1)[0] + "…"


def sanitize_inline(text: str) -> str:
    """Escape text for a place where HTML is not expected (titles in events, etc.)."""
    return bleach.clean(text, tags=set(), strip=True)
