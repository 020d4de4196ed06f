"""A parsed search (parsing.ParsedQuery, backend-neutral) as Whoosh queries over the index.

The query is analysed once per language and searches that language's fields (schema.py): one
query per language that can match. A word no post of a language has drops that language's
query (it could match nothing); a clause made only of a language's stop words is left out of
that language's query. A prefix (`prog*`) stands for the indexed words that begin with it or
with its stem, the commonest MAX_PREFIX_TERMS of them; one that stands for more than
PREFIX_QUERY_WORDS words is a filter instead of a query (its posts, listed newest first or
ranked by the other words: scoring hundreds of words and merging them took 100 to 400 ms at
100,000 posts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from whoosh import query

from ..parsing import Clause, ParsedQuery
from . import matching
from .schema import ANALYZERS, LANGUAGES, analyse

MAX_PREFIX_TERMS = 200  # a prefix* matching more words than this uses only the most common
PREFIX_QUERY_WORDS = 12  # a prefix* standing for more words (in all fields) is a filter


@dataclass(frozen=True)
class Compiled:
    """A ParsedQuery for Whoosh: one query per language that can match (filters apart)."""

    queries: list[query.Query]
    simple: bool  # each is one word (with exclusions)
    terms: dict[str, set[str]]  # field -> the analysed words, to mark them in excerpts
    having: list[list[tuple[str, str]]]  # prefixes kept as filters: a post has one of the words
    lacking: list[list[tuple[str, str]]]  # excluded prefixes: a post has none of the words
    ranked: bool  # whether words rank the matches (else: newest first)


def compile_query(parsed: ParsedQuery, searcher: Any, common: list[str] | None = None) -> Compiled:
    """One query per language that can match (filters apart), and what goes with it; the
    query words that are stop words in some language are added to `common`."""
    kinds = ("title",) if parsed.in_title else ("title", "body")
    reader = searcher.reader()
    terms: dict[str, set[str]] = {}
    groups: list[list[Clause]] = []
    for clause in parsed.clauses:
        if clause.or_with_previous and groups:
            groups[-1].append(clause)
        else:
            groups.append([clause])
    having: list[list[tuple[str, str]]] = []
    lacking: list[list[tuple[str, str]]] = []
    as_filter: set[int] = set()
    for n, group in enumerate(groups):
        if len(group) == 1 and group[0].prefix:
            pairs = [
                (f"{kind}_{lang}", word)
                for lang in LANGUAGES
                for kind in kinds
                for word in prefix_words(group[0], f"{kind}_{lang}", reader)
            ]
            if len(pairs) > PREFIX_QUERY_WORDS:
                as_filter.add(n)
                (lacking if group[0].negated else having).append(pairs)
                for name, word in pairs if not group[0].negated else ():
                    terms.setdefault(name, set()).add(word)
    ranked = any(
        n not in as_filter and any(not c.negated for c in group) for n, group in enumerate(groups)
    )
    out: list[query.Query] = []
    excluded: list[query.Query] = []
    simple = True
    for lang in LANGUAGES:
        must: list[query.Query] = []
        must_not: list[query.Query] = []
        for n, group in enumerate(groups):
            if n in as_filter:
                continue
            options = []
            for clause in group:
                marked = terms if not clause.negated else None
                q = _clause(clause, lang, kinds, reader, marked, common)
                if q is not None:  # None: only stop words in this language, left out
                    options.append((clause.negated, q))
            positives = [q for neg, q in options if not neg]
            if positives:
                group_q = positives[0] if len(positives) == 1 else query.Or(positives)
                must.append(group_q.normalize())
            must_not.extend(q for neg, q in options if neg)
        excluded.extend(must_not)
        # (Whoosh's And.normalize() drops a NullQuery instead of matching nothing.)
        if not must or any(q is query.NullQuery for q in must):
            continue  # no words, or a word that no post of this language has
        q = (query.And(must) if len(must) > 1 else must[0]).normalize()
        simple = simple and _one_word(q)
        if must_not:
            q = matching.Exclude(q, query.Or(must_not)).normalize()
        out.append(q)
    if not ranked and (having or (not parsed.has_text and parsed.has_filters)):
        # Only filters (author:ana, sig:x, after:..., ma*): every post that matches them.
        every = matching.Exclude(query.Every(), query.Or(excluded)).normalize()
        out, simple = [every], False
    return Compiled(out, simple, terms, having, lacking, ranked)


def prefix_words(clause: Clause, name: str, reader: Any) -> list[str]:
    """The indexed words of field `name` that start with the prefix or with its stem
    ("running*"), the commonest MAX_PREFIX_TERMS of them."""
    word = clause.text.lower()
    starts = {word, *analyse(name.rsplit("_", 1)[1], word)}
    found = {
        t.decode("utf-8") if isinstance(t, bytes) else t
        for start in starts
        for t in reader.expand_prefix(name, start)
    }
    chosen = sorted(found)
    if len(chosen) > MAX_PREFIX_TERMS:
        chosen.sort(key=lambda t: -reader.doc_frequency(name, t))
        chosen = chosen[:MAX_PREFIX_TERMS]
    return chosen


def _clause(
    clause: Clause,
    lang: str,
    kinds: tuple[str, ...],
    reader: Any,
    terms: dict[str, set[str]] | None,
    common: list[str] | None = None,
) -> query.Query | None:
    """The clause as analysed in `lang`: None if it is only stop words there, NullQuery if
    no post of that language has its words."""
    parts: list[query.Query] = []
    if clause.prefix:
        for kind in kinds:
            name = f"{kind}_{lang}"
            chosen = prefix_words(clause, name, reader)
            if not chosen:
                continue
            parts.append(query.Or([query.Term(name, t) for t in chosen]))
            if terms is not None:
                terms.setdefault(name, set()).update(chosen)
        return query.Or(parts) if parts else query.NullQuery
    # The analyser reuses one Token object: copy what we need as we go.
    tokens = [(t.text, t.pos) for t in ANALYZERS[lang](clause.text, mode="query", positions=True)]
    words = [text for text, _pos in tokens]
    if not words:
        if common is not None and clause.text.lower() not in common:
            common.append(clause.text.lower())
        return None
    for kind in kinds:
        name = f"{kind}_{lang}"
        if terms is not None:
            terms.setdefault(name, set()).update(words)
        if not all(reader.doc_frequency(name, w) for w in words):
            continue  # a word this field never had: nothing to match, skip the matcher
        if len(words) == 1:
            parts.append(query.Term(name, words[0]))
        elif clause.kind == "phrase":
            # Stop words leave gaps: allow as many as the phrase had.
            span = tokens[-1][1] - tokens[0][1]
            slop = max(1, span - len(words) + 2)
            parts.append(matching.Phrase(name, words, slop=slop))
        else:
            parts.append(query.And([query.Term(name, w) for w in words]))
    if not parts:
        return query.NullQuery
    return parts[0] if len(parts) == 1 else query.Or(parts)


def _one_word(q: query.Query) -> bool:
    """A term, or the same word in several fields: block bounds find its best posts fast."""
    if isinstance(q, query.Term):
        return True
    return (
        isinstance(q, query.Or)
        and all(isinstance(sub, query.Term) for sub in q.subqueries)
        and len({sub.text for sub in q.subqueries if isinstance(sub, query.Term)}) == 1
    )
