"""The index's fields, and a post as the fields it is stored in.

Each SIG has a language (en, de, es). Text goes into the fields of its SIG's language
(`body_en`, `body_de`, ... each with that language's stop words and Snowball stemmer, in one
pass: analysis.py); a query is analysed once per language and searches each language's fields
with that analysis (compiling.py), so one search finds "running" in English SIGs and "laufen" in
German ones, and a stop word of one language ("the") is left out of that language's search only.

A text field's weights carry BM25's length normalisation (ranking.impact), given as the field's
boost when a post is indexed: the fields keep no lengths.
"""

from __future__ import annotations

import re
from typing import Any, cast

from whoosh.analysis import Analyzer
from whoosh.columns import NumericColumn
from whoosh.fields import COLUMN, ID, TEXT, Schema

from ..documents import PostDocument
from . import ranking
from .analysis import WORD_RE, LanguageAnalyzer

LANGUAGES = ("en", "de", "es")
# Bump when the schema, the analysis or the module of a pickled class (the analyser, which
# the index's table of contents names) changes: start-up then rebuilds the index.
SCHEMA_VERSION = "5"
TYPICAL_WORDS = {"title": 6.0, "body": 60.0}  # field lengths BM25 counts as average
TITLE_BOOST = 2.0
WORD_FINDER = re.compile(WORD_RE)
ANALYZERS = {lang: LanguageAnalyzer(lang) for lang in LANGUAGES}


def build_schema() -> Schema:
    fields: dict[str, Any] = {
        "post_id": ID(stored=True, unique=True),
        "topic_id": ID(stored=True),
        "sig_id": ID(stored=True),
        "author": ID(),
        "lang": ID(stored=True),
        # Microseconds since 1970 (UTC), kept in a column: ranking.PostDates reads it whole.
        "created": COLUMN(NumericColumn("q")),
    }
    for lang in LANGUAGES:
        # (whoosh3 annotates an analyzer as its Analyzer class; any Composable does.)
        analyzer = cast(Analyzer, LanguageAnalyzer(lang))
        fields[f"title_{lang}"] = TEXT(analyzer=analyzer, phrase=True, field_boost=TITLE_BOOST)
        fields[f"body_{lang}"] = TEXT(analyzer=analyzer, phrase=True)
    for name, field_ in fields.items():
        if name.startswith(("title_", "body_")):
            # The weights carry the length normalisation (see `fields`): no length column.
            field_.scorable = False
    return Schema(**fields)


def fields(doc: PostDocument) -> dict[str, Any]:
    """The post as Whoosh's add_document/update_document take it."""
    lang = doc.language if doc.language in LANGUAGES else "en"
    out: dict[str, Any] = {
        "post_id": str(doc.post_id),
        "topic_id": str(doc.topic_id),
        "sig_id": str(doc.sig_id),
        "author": doc.author.lower(),
        "lang": lang,
        "created": ranking.to_micros(doc.created_at),
        f"body_{lang}": doc.body,
        f"_body_{lang}_boost": _impact("body", doc.body),
    }
    if doc.title:
        out[f"title_{lang}"] = doc.title
        out[f"_title_{lang}_boost"] = _impact("title", doc.title)
    return out


def _impact(kind: str, text: str) -> float:
    return ranking.impact(len(WORD_FINDER.findall(text)), TYPICAL_WORDS[kind])


def analyse(lang: str, text: str) -> list[str]:
    return [t.text for t in ANALYZERS[lang](text, mode="query")]
