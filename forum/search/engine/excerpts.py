"""A result's title or excerpt with the query's words marked, every other character escaped."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from markupsafe import Markup, escape
from whoosh import highlight

from ..documents import EXCERPT_CHARS, plain_excerpt
from .schema import ANALYZERS


def excerpt(text: str, words: set[str], language: str, *, title: bool = False) -> Markup:
    """`text` (a title whole, a body cut to a few fragments) with the analysed `words` marked."""
    if not text:
        return Markup("")
    if words:
        fragmenter = (
            highlight.WholeFragmenter(charlimit=0)  # (0: no limit)
            if title
            else highlight.ContextFragmenter(maxchars=EXCERPT_CHARS, surround=60, charlimit=50_000)
        )
        marked = highlight.highlight(
            text,
            frozenset(words),
            ANALYZERS.get(language, ANALYZERS["en"]),
            fragmenter,
            _MarkFormatter(),
            top=2,
            scorer=highlight.BasicFragmentScorer(),
            order=highlight.FIRST,
        )
        if marked:
            return Markup(marked)
    return plain_excerpt(text, title=title)


class _MarkFormatter(highlight.Formatter):
    """Escape every piece of the text; only our own <mark> tags are markup."""

    between = " … "

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        return f"<mark>{escape(highlight.get_text(text, token, replace))}</mark>"

    def format_fragment(self, fragment: Any, replace: bool = False) -> str:
        output = []
        index_ = fragment.startchar
        text = fragment.text
        for t in fragment.matches:
            if t.startchar is None:
                continue
            if t.startchar < index_:
                continue
            if t.startchar > index_:
                output.append(str(escape(text[index_ : t.startchar])))
            output.append(self.format_token(text, t, replace))
            index_ = t.endchar
        output.append(str(escape(text[index_ : fragment.endchar])))
        return "".join(output)

    def format(self, fragments: Iterable[Any], replace: bool = False) -> str:
        return self.between.join(self.format_fragment(f, replace=replace) for f in fragments)
