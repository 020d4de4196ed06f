"""Search backends behind one small interface: Whoosh on disk, and a Null twin.

Views and queries talk to `SearchBackend` only, so a PostgreSQL full-text backend can replace
Whoosh without touching them. A backend stores `PostDocument`s (made by the indexer from the
database) and answers a `ParsedQuery` restricted to a `SigScope`; it never decides who may read
what: the caller passes the SIGs and re-checks every hit against the database.

Several writers. Whoosh allows one writer per index, guarded by a lock file. Every index change
goes through `writer()`, which waits for that lock (briefly, with a timeout) and hands out a
writer; the indexer reads the database *while holding it* and drains the whole search queue
(see indexer.py). So the lock holder always writes the newest committed state, two processes
never write stale copies over each other, and a process that cannot get the lock in time just
leaves its queue rows for the holder or the next drain: no lock error reaches a member, no update
is lost. (Whoosh's AsyncWriter was rejected: it buffers in a thread of one process, so its work
dies with the process and can replay older text over newer text.)

Ranking and speed: see ranking.py (relevance is BM25 with the length normalisation applied when
a post is indexed; newest first reads posts in date order from the `created` column) and
matching.py. On disk: Whoosh's format, written and read by codec.py.

Languages. Each SIG has a language (en, de, es). Text goes into the fields of its SIG's language
(`body_en`, `body_de`, ... each with that language's stop words and Snowball stemmer via
PyStemmer, in one pass: analysis.py); a query is analysed once per language and searches each
language's fields with that analysis, so one search finds "running" in English SIGs and "laufen"
in German ones, and a stop word of one language ("the") is left out of that language's search
only.
"""

from __future__ import annotations

import fcntl
import functools
import gc
import logging
import math
import os
import re
import shutil
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from markupsafe import Markup, escape
from whoosh import highlight, index, query
from whoosh.analysis.analyzers import Analyzer
from whoosh.columns import NumericColumn
from whoosh.fields import COLUMN, ID, TEXT, Schema
from whoosh.index import LockError
from whoosh.writing import CLEAR

from . import matching, ranking
from .analysis import WORD_RE, LanguageAnalyzer
from .codec import ForumCodec
from .parsing import Clause, ParsedQuery
from .storage import IndexStorage

log = logging.getLogger(__name__)
T = TypeVar("T")

LANGUAGES = ("en", "de", "es")
# Bump when the schema or the analysis changes: start-up then rebuilds the index.
SCHEMA_VERSION = "4"
VERSION_FILE = "forum-schema-version"
MAX_PREFIX_TERMS = 200  # a prefix* matching more words than this uses only the most common
PREFIX_QUERY_WORDS = 12  # a prefix* standing for more words (in all fields) is a filter
TYPICAL_WORDS = {"title": 6.0, "body": 60.0}  # field lengths BM25 counts as average
TITLE_BOOST = 2.0
INDEX_MEMORY_MB = 512  # per process building the index: enough for 50,000 posts in memory
WORD_FINDER = re.compile(WORD_RE)


class IndexBusy(Exception):
    """Another process holds the index lock longer than we were willing to wait."""


@dataclass
class DrainClock:
    """When the last drain of the search queue began (seconds since the epoch: processes on
    several servers compare them) and how long it took. A drain that applied something sets
    both; they are kept beside the index for the next drain, in whichever process."""

    began: float = 0.0
    took: float = 0.0


@dataclass(frozen=True)
class PostDocument:
    """What the index knows about one readable post (title only on a topic's first post)."""

    post_id: int
    topic_id: int
    sig_id: int
    sig_slug: str
    author: str
    language: str
    created_at: datetime
    is_first: bool
    title: str
    body: str


@dataclass(frozen=True)
class SigScope:
    """The SIGs a search may return: `allowed` (None = every SIG) minus `excluded`."""

    allowed: frozenset[int] | None
    excluded: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Compiled:
    """A ParsedQuery for Whoosh: one query per language that can match (filters apart)."""

    queries: list[query.Query]
    simple: bool  # each is one word (with exclusions)
    terms: dict[str, set[str]]  # field -> the analysed words, to mark them in excerpts
    having: list[list[tuple[str, str]]]  # prefixes kept as filters: a post has one of the words
    lacking: list[list[tuple[str, str]]]  # excluded prefixes: a post has none of the words
    ranked: bool  # whether words rank the matches (else: newest first)


@dataclass(frozen=True)
class BackendHit:
    post_id: int
    topic_id: int
    language: str
    created_at: datetime


@dataclass
class BackendResults:
    hits: list[BackendHit]
    total: int
    # field name -> the analysed query words, to mark them in excerpts
    terms: dict[str, set[str]] = field(default_factory=dict)
    common: list[str] = field(default_factory=list)  # query words left out as stop words


class IndexWriterLike(Protocol):
    def upsert(self, doc: PostDocument) -> None: ...
    def remove_post(self, post_id: int) -> None: ...
    def remove_topic(self, topic_id: int) -> None: ...
    def remove_sig(self, sig_id: int) -> None: ...


class SearchBackend(Protocol):
    def writer(self, timeout: float = ...) -> Any:
        """Context manager: the single writer, committed on a clean exit. Raises IndexBusy."""

    def rebuild(
        self,
        docs: Iterable[PostDocument],
        progress: Callable[[int], None] | None = None,
        procs: int = 1,
    ) -> int: ...

    def search(
        self, parsed: ParsedQuery, scope: SigScope, *, newest: bool, offset: int, limit: int
    ) -> BackendResults: ...

    def excerpt(
        self, results: BackendResults, hit: BackendHit, text: str, *, title: bool = False
    ) -> Markup: ...

    def suggest(self, parsed: ParsedQuery) -> ParsedQuery | None: ...

    def word_for(self, stem: str, texts: Iterable[str]) -> str | None: ...

    def check(self) -> str:
        """One of "ok", "missing", "corrupt" or "outdated" (built by an older schema)."""

    def reset(self) -> None: ...

    def indexed_post_ids(self) -> set[int]: ...

    def has_other_language(self, sig_id: int, language: str) -> bool: ...

    def maintenance(self) -> Any:
        """Context manager: one process at a time checks, resets or rebuilds the index."""

    def draining(self, timeout: float = ...) -> Any:
        """Context manager: one drain at a time, across processes, from reading the queue
        until the rows it applied are deleted, yielding the DrainClock. Raises IndexBusy."""

    def close(self) -> None: ...


# --- analysis -------------------------------------------------------------------------------
def language_analyzer(lang: str) -> Analyzer:
    return LanguageAnalyzer(lang)


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
        analyzer = language_analyzer(lang)
        fields[f"title_{lang}"] = TEXT(analyzer=analyzer, phrase=True, field_boost=TITLE_BOOST)
        fields[f"body_{lang}"] = TEXT(analyzer=analyzer, phrase=True)
    for name, field_ in fields.items():
        if name.startswith(("title_", "body_")):
            # The weights carry the length normalisation (see `_impact`): no length column.
            field_.scorable = False
    return Schema(**fields)


def _impact(kind: str, text: str) -> float:
    return ranking.impact(len(WORD_FINDER.findall(text)), TYPICAL_WORDS[kind])


ANALYZERS = {lang: language_analyzer(lang) for lang in LANGUAGES}


def analyse(lang: str, text: str) -> list[str]:
    return [t.text for t in ANALYZERS[lang](text, mode="query")]


# --- Whoosh ---------------------------------------------------------------------------------
class _WhooshWriter:
    def __init__(self, writer: Any) -> None:
        self._w = writer

    def upsert(self, doc: PostDocument) -> None:
        self._w.update_document(**_fields(doc))

    def add(self, doc: PostDocument) -> None:
        self._w.add_document(**_fields(doc))

    def remove_post(self, post_id: int) -> None:
        self._w.delete_by_term("post_id", str(post_id))

    def remove_topic(self, topic_id: int) -> None:
        self._w.delete_by_term("topic_id", str(topic_id))

    def remove_sig(self, sig_id: int) -> None:
        self._w.delete_by_term("sig_id", str(sig_id))


def _fields(doc: PostDocument) -> dict[str, Any]:
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

    def format(self, fragments: list[Any], replace: bool = False) -> str:
        return self.between.join(self.format_fragment(f, replace=replace) for f in fragments)


def _one_at_a_time(method: Callable[..., T]) -> Callable[..., T]:
    """Run a WhooshBackend method holding the lock on the process's shared searcher."""

    @functools.wraps(method)
    def wrapper(self: WhooshBackend, *args: Any, **kwargs: Any) -> T:
        with self._use:
            return method(self, *args, **kwargs)

    return wrapper


def _read_clock(text: str) -> DrainClock:
    """The clock a drain left in its lock file ("began took"); a fresh one for anything else."""
    try:
        began, took = (float(part) for part in text.split())
    except ValueError:
        return DrainClock()
    if not (math.isfinite(began) and math.isfinite(took)):
        return DrainClock()
    return DrainClock(began, took)


class WhooshBackend:
    """The on-disk Whoosh index in INDEX_DIR."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        ranked_matches: int = ranking.RANKED_MATCHES,
        index_memory_mb: int = INDEX_MEMORY_MB,
    ) -> None:
        self.path = Path(path)
        self.ranked_matches = ranked_matches
        # Whoosh sorts a rebuild's postings in memory up to this size, then in files on disk,
        # which made a rebuild of 100,000 posts take 60 % longer with 256 MB.
        self.index_memory_mb = index_memory_mb
        self.schema = build_schema()
        self._ix: Any = None
        self._ix_lock = threading.Lock()
        self._shared: Any = None
        self._use = threading.RLock()
        self._searchers: list[Any] = []
        self._dates = ranking.PostDates()
        self._segment_docs = ranking.SegmentDocs()

    # -- opening ----------------------------------------------------------------------------
    def _index(self) -> Any:
        with self._ix_lock:
            if self._ix is None:
                if index.exists_in(str(self.path)):
                    self._ix = _retrying(lambda: IndexStorage(str(self.path)).open_index())
                else:
                    self._ix = self._create()
            return self._ix

    def _create(self) -> Any:
        self.path.mkdir(parents=True, exist_ok=True)
        ix = IndexStorage(str(self.path)).create_index(self.schema)
        (self.path / VERSION_FILE).write_text(SCHEMA_VERSION)
        return ix

    def check(self) -> str:
        if not self.path.is_dir() or not any(self.path.glob("*.toc")):
            return "missing"
        version = self.path / VERSION_FILE
        if not version.exists() or version.read_text().strip() != SCHEMA_VERSION:
            return "outdated"
        # Whoosh leaves the file it failed to parse open; collect it here, quietly.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                return self._probe()
            except Exception as exc:
                # Not log.exception: a kept traceback would keep whoosh's open file alive.
                log.warning("search index at %s cannot be read: %r", self.path, str(exc))
                return "corrupt"
            finally:
                gc.collect()

    def _probe(self) -> str:
        ix = IndexStorage(str(self.path)).open_index()
        try:
            if set(ix.schema.names()) != set(self.schema.names()):
                return "outdated"
            with ix.searcher(weighting=ranking.ImpactBM25()) as searcher:
                searcher.doc_count()
                for _ in zip(range(10), searcher.reader().all_stored_fields(), strict=False):
                    pass
        finally:
            ix.close()
        return "ok"

    @contextmanager
    def maintenance(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{self.path}.maintenance.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def draining(self, timeout: float = 5.0) -> Iterator[DrainClock]:
        # Held past the index commit, until the applied rows are deleted: a drain that took the
        # index's own lock in between would find those rows still queued and apply them again.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{self.path}.drain.lock", "a+") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise IndexBusy(str(self.path)) from None
                    time.sleep(0.01)
            try:
                handle.seek(0)
                clock = _read_clock(handle.read())
                before = (clock.began, clock.took)
                yield clock
                if (clock.began, clock.took) != before:
                    handle.seek(0)
                    handle.truncate()
                    handle.write(f"{clock.began!r} {clock.took!r}\n")
                    handle.flush()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def reset(self) -> None:
        """Throw the index away and start an empty one (the caller then rebuilds it)."""
        self.close()
        with self._ix_lock:
            if self.path.exists():
                shutil.rmtree(self.path)
            self._ix = self._create()

    def close(self) -> None:
        with self._ix_lock:
            for searcher in self._searchers:
                searcher.close()
            self._searchers.clear()
            self._shared = None
            if self._ix is not None:
                self._ix.close()
                self._ix = None

    # -- writing ----------------------------------------------------------------------------
    @contextmanager
    def writer(self, timeout: float = 5.0) -> Iterator[_WhooshWriter]:
        ix = self._index()
        try:
            w = ix.writer(timeout=timeout, delay=0.02, codec=ForumCodec())
        except LockError as exc:
            raise IndexBusy(str(self.path)) from exc
        try:
            yield _WhooshWriter(w)
        except BaseException:
            w.cancel()
            raise
        w.commit()

    def rebuild(
        self,
        docs: Iterable[PostDocument],
        progress: Callable[[int], None] | None = None,
        procs: int = 1,
    ) -> int:
        """Replace the index's content with `docs` in one commit (readers see old or new).

        With procs > 1, analysis and posting sorting run in that many worker processes and
        their segments are kept as they are (no final merge)."""
        ix = self._index()
        extra = {"procs": procs, "multisegment": True, "batchsize": 200} if procs > 1 else {}
        extra.update(limitmb=self.index_memory_mb, codec=ForumCodec())
        try:
            w = ix.writer(timeout=60.0, delay=0.1, **extra)
        except LockError as exc:
            raise IndexBusy(str(self.path)) from exc
        count = 0
        try:
            ww = _WhooshWriter(w)
            for doc in docs:
                ww.add(doc)
                count += 1
                if progress and count % 500 == 0:
                    progress(500)
            if progress and count % 500:
                progress(count % 500)
        except BaseException:
            w.cancel()
            raise
        w.commit(mergetype=CLEAR)
        return count

    # -- reading ----------------------------------------------------------------------------
    def _searcher(self) -> Any:
        """The process's one searcher, reopened when the index has changed. Callers hold
        `self._use` (the `_one_at_a_time` methods): a searcher serves one thread at a time, and
        one per thread would keep a copy of its caches in each of a server's many threads (GBs
        at 100,000 posts) for no gain, since the GIL runs one search at a time anyway."""
        searcher = self._shared
        if searcher is None:
            ix = self._index()
            searcher = _retrying(lambda: ix.searcher(weighting=ranking.ImpactBM25()))
            with self._ix_lock:
                self._searchers.append(searcher)
        else:
            fresh = self._refreshed(searcher)
            if fresh is not searcher:
                with self._ix_lock:
                    self._searchers.remove(searcher)
                    self._searchers.append(fresh)
                searcher = fresh
        self._shared = searcher
        return searcher

    def _refreshed(self, searcher: Any) -> Any:
        ix = self._index()
        if ix.latest_generation() == searcher.reader().generation():
            return searcher
        # Not searcher.refresh(): whoosh3 3.54 reuses a segment's reader even when the segment
        # gained deletions (deleted posts stay findable) and fails on an empty index.
        searcher.close()
        return _retrying(lambda: ix.searcher(weighting=ranking.ImpactBM25()))

    @_one_at_a_time
    def indexed_post_ids(self) -> set[int]:
        searcher = self._searcher()
        return {int(f["post_id"]) for f in searcher.reader().all_stored_fields()}

    @_one_at_a_time
    def has_other_language(self, sig_id: int, language: str) -> bool:
        """Whether posts of this SIG were analysed as another language than `language`."""
        searcher = self._searcher()
        q = query.And([query.Term("sig_id", str(sig_id)), query.Not(query.Term("lang", language))])
        return bool(searcher.search(q, limit=1).scored_length())

    @_one_at_a_time
    def search(
        self, parsed: ParsedQuery, scope: SigScope, *, newest: bool, offset: int, limit: int
    ) -> BackendResults:
        """The page of hits from `offset`; the SIG filter (`sig:`) must already be in `scope`."""
        searcher = self._searcher()
        common: list[str] = []
        compiled = self._compile(parsed, searcher, common)
        queries, simple, terms = compiled.queries, compiled.simple, compiled.terms
        if not queries:
            return BackendResults(hits=[], total=0, terms=terms, common=common)
        dates = self._dates.view(searcher)
        allowed, mask = self._scope_docs(searcher, scope)
        for narrowed in self._filter_docs(searcher, dates, parsed):
            allowed = narrowed if allowed is None else _intersection(allowed, narrowed)
        for pairs in compiled.having:
            docs = _docs_with(searcher, pairs)
            allowed = docs if allowed is None else _intersection(allowed, docs)
        for pairs in compiled.lacking:
            mask = (mask or set()) | _docs_with(searcher, pairs)
        if allowed is not None and not allowed:  # (Whoosh reads an empty filter as no filter)
            return BackendResults(hits=[], total=0, terms=terms, common=common)
        # Matches, if the words are spread evenly over the posts the filters leave.
        reader = searcher.reader()
        estimate = min(sum(q.estimate_size(reader) for q in queries), searcher.doc_count())
        if allowed is not None:
            estimate = estimate * len(allowed) // max(1, dates.total)
        elif mask:
            estimate -= estimate * len(mask) // max(1, dates.total)
        plan = ranking.Plan(
            queries=queries,
            simple=simple,
            allowed=allowed,
            mask=mask,
            ranked_matches=self.ranked_matches,
        )
        need = offset + limit
        if newest or not compiled.ranked:  # only filters: every match scores alike
            found = ranking.newest(searcher, dates, plan, need, estimate)
        else:
            found = ranking.best(searcher, dates, plan, need, estimate)
        hits = []
        for docnum in found.docnums[offset:need]:
            stored = searcher.stored_fields(docnum)
            hits.append(
                BackendHit(
                    post_id=int(stored["post_id"]),
                    topic_id=int(stored["topic_id"]),
                    language=stored["lang"],
                    created_at=ranking.from_micros(dates.created(docnum)),
                )
            )
        # Counting every match of a common word would cost more than the search: the total is
        # exact when the search saw every match, else an estimate (at least what was found).
        count = len(found.docnums)
        total = count if found.exact and count < need else max(count, estimate)
        return BackendResults(hits=hits, total=total, terms=terms, common=common)

    def _scope_docs(
        self, searcher: Any, scope: SigScope
    ) -> tuple[set[int] | None, set[int] | None]:
        """(allowed, mask): the readable SIGs' documents, or the unreadable ones to leave out,
        whichever is the shorter list of SIGs."""
        if scope.allowed is None:
            excluded = self._sig_docs(searcher, scope.excluded) if scope.excluded else None
            return None, excluded
        if len(scope.excluded) < len(scope.allowed):
            return None, self._sig_docs(searcher, scope.excluded) or None
        return self._sig_docs(searcher, scope.allowed), None

    def _filter_docs(
        self, searcher: Any, dates: ranking.DatesView, parsed: ParsedQuery
    ) -> Iterator[set[int]]:
        if parsed.author:
            yield set(searcher.docs_for_query(query.Term("author", parsed.author.lower())))
        if parsed.after or parsed.before:
            start = ranking.to_micros(parsed.after) if parsed.after else None
            end = ranking.to_micros(parsed.before) if parsed.before else None
            yield dates.between(start, end)

    def _sig_docs(self, searcher: Any, sig_ids: frozenset[int]) -> set[int]:
        return self._term_docs(searcher, "sig_id", {str(i) for i in sig_ids})

    def _term_docs(self, searcher: Any, name: str, values: Iterable[str]) -> set[int]:
        """The documents with any of these values in field `name`, kept with the searcher
        (and per segment by `ranking.SegmentDocs`, so a new searcher rebuilds it quickly)."""
        key = (name, frozenset(values))
        cache = searcher.__dict__.setdefault("_forum_docs", {})
        docs = cache.get(key)
        if docs is None:
            if len(cache) > 64:
                cache.clear()
            docs = cache[key] = self._segment_docs.docs(searcher, name, key[1])
        return docs  # type: ignore[no-any-return]  (shared: never changed)

    def excerpt(
        self, results: BackendResults, hit: BackendHit, text: str, *, title: bool = False
    ) -> Markup:
        name = f"{'title' if title else 'body'}_{hit.language}"
        words = results.terms.get(name, set())
        if not text:
            return Markup("")
        if words:
            fragmenter = (
                highlight.WholeFragmenter(charlimit=None)
                if title
                else highlight.ContextFragmenter(maxchars=240, surround=60, charlimit=50_000)
            )
            marked = highlight.highlight(
                text,
                frozenset(words),
                ANALYZERS.get(hit.language, ANALYZERS["en"]),
                fragmenter,
                _MarkFormatter(),
                top=2,
                scorer=highlight.BasicFragmentScorer(),
                order=highlight.FIRST,
            )
            if marked:
                return Markup(marked)
        if title:
            return Markup(escape(text))
        return Markup(escape(text if len(text) <= 240 else text[:239].rsplit(" ", 1)[0] + " …"))

    @_one_at_a_time
    def suggest(self, parsed: ParsedQuery) -> ParsedQuery | None:
        """The query with each unknown word replaced by the closest indexed stem, if any.

        The index holds stems only ("keyboard" -> "keyboard", "mechanical" -> "mechan"), so the
        caller turns them back into words found in the results (`word_for`)."""
        searcher = self._searcher()
        reader = searcher.reader()
        names = [f"body_{lang}" for lang in LANGUAGES]
        changed = False
        clauses = []
        for clause in parsed.clauses:
            if clause.kind == "word" and not clause.negated and not clause.prefix:
                stems = {lang: analyse(lang, clause.text) for lang in LANGUAGES}
                known = any(
                    reader.doc_frequency(f"{kind}_{lang}", stem)
                    for lang, found in stems.items()
                    for stem in found
                    for kind in ("body", "title")
                )
                if len(clause.text) >= 3 and not known:
                    best = self._closest(searcher, names, clause.text.lower(), stems)
                    if best is not None:
                        clauses.append(clause.replace(text=best))
                        changed = True
                        continue
            clauses.append(clause)
        if not changed:
            return None
        return parsed.replace(clauses=tuple(clauses))

    def _closest(
        self, searcher: Any, names: list[str], word: str, stems: dict[str, list[str]]
    ) -> str | None:
        """The most frequent indexed stem within two edits of the word's stem, or within one
        edit of the word cut short (stems drop suffixes: "mechanicla" -> "mechan")."""
        reader = searcher.reader()
        candidates: dict[str, int] = {}
        cuts = [word[:-cut] for cut in range(1, 5) if len(word) - cut >= max(4, 0.6 * len(word))]
        for name in names:
            lang = name.rsplit("_", 1)[1]
            corrector = searcher.corrector(name)
            tries = [(stem, 2) for stem in stems.get(lang, [])] + [(c, 1) for c in cuts]
            for text, maxdist in tries:
                for found in corrector.suggest(text, limit=3, maxdist=maxdist, prefix=2):
                    candidates[found] = candidates.get(found, 0) + reader.doc_frequency(name, found)
        if not candidates:
            return None
        return max(candidates, key=lambda c: candidates[c])

    def word_for(self, stem: str, texts: Iterable[str]) -> str | None:
        """A word from `texts` that some language's analyser turns into `stem`."""
        for text in texts:
            for lang in LANGUAGES:
                for token in ANALYZERS[lang](text, chars=True, mode="index"):
                    if token.text == stem:
                        return text[token.startchar : token.endchar].lower()
        return None

    # -- query building ---------------------------------------------------------------------
    def _compile(
        self, parsed: ParsedQuery, searcher: Any, common: list[str] | None = None
    ) -> Compiled:
        """One query per language that can match (filters apart), and what goes with it."""
        kinds = ("title",) if parsed.in_title else ("title", "body")
        reader = searcher.reader()
        terms: dict[str, set[str]] = {}
        groups: list[list[Clause]] = []
        for clause in parsed.clauses:
            if clause.or_with_previous and groups:
                groups[-1].append(clause)
            else:
                groups.append([clause])
        # A prefix that stands for many words ("ma*") is a filter: its posts, listed newest
        # first or ranked by the other words. (As a query its hundreds of words would each be
        # scored and merged, 100 to 400 ms at 100,000 posts.)
        having: list[list[tuple[str, str]]] = []
        lacking: list[list[tuple[str, str]]] = []
        as_filter: set[int] = set()
        for n, group in enumerate(groups):
            if len(group) == 1 and group[0].prefix:
                pairs = [
                    (f"{kind}_{lang}", word)
                    for lang in LANGUAGES
                    for kind in kinds
                    for word in self._prefix_words(group[0], f"{kind}_{lang}", reader)
                ]
                if len(pairs) > PREFIX_QUERY_WORDS:
                    as_filter.add(n)
                    (lacking if group[0].negated else having).append(pairs)
                    for name, word in pairs if not group[0].negated else ():
                        terms.setdefault(name, set()).add(word)
        ranked = any(
            n not in as_filter and any(not c.negated for c in group)
            for n, group in enumerate(groups)
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
                    q = self._clause(
                        clause, lang, kinds, searcher, terms if not clause.negated else None, common
                    )
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

    def _prefix_words(self, clause: Clause, name: str, reader: Any) -> list[str]:
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
        self,
        clause: Clause,
        lang: str,
        kinds: tuple[str, ...],
        searcher: Any,
        terms: dict[str, set[str]] | None,
        common: list[str] | None = None,
    ) -> query.Query | None:
        """The clause as analysed in `lang`: None if it is only stop words there, NullQuery if
        no post of that language has its words."""
        reader = searcher.reader()
        parts: list[query.Query] = []
        if clause.prefix:
            for kind in kinds:
                name = f"{kind}_{lang}"
                chosen = self._prefix_words(clause, name, reader)
                if not chosen:
                    continue
                parts.append(query.Or([query.Term(name, t) for t in chosen]))
                if terms is not None:
                    terms.setdefault(name, set()).update(chosen)
            return query.Or(parts) if parts else query.NullQuery
        # The analyser reuses one Token object: copy what we need as we go.
        tokens = [
            (t.text, t.pos) for t in ANALYZERS[lang](clause.text, mode="query", positions=True)
        ]
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


def _retrying(open_: Callable[[], Any], attempts: int = 6) -> Any:
    """Open the index or a searcher, again if another process's commit just removed the files
    of the generation we were reading (Whoosh deletes them as soon as nobody needs them)."""
    for attempt in range(attempts):
        try:
            return open_()
        except FileNotFoundError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.005 * 2**attempt)
    raise AssertionError("unreachable")


def _docs_with(searcher: Any, pairs: list[tuple[str, str]]) -> set[int]:
    """Documents with any of these (field, word) terms."""
    out: set[int] = set()
    for name, word in pairs:
        out.update(searcher.docs_for_query(query.Term(name, word)))
    return out


def _one_word(q: query.Query) -> bool:
    """A term, or the same word in several fields: block bounds find its best posts fast."""
    if isinstance(q, query.Term):
        return True
    return (
        isinstance(q, query.Or)
        and all(isinstance(sub, query.Term) for sub in q.subqueries)
        and len({sub.text for sub in q.subqueries}) == 1
    )


def _intersection(a: set[int], b: set[int]) -> set[int]:
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return {d for d in small if d in large}


def _any_of(name: str, values: Iterable[int]) -> query.Query:
    terms = [query.Term(name, str(v)) for v in sorted(values)]
    if not terms:
        return query.NullQuery
    return query.Or(terms)


# --- Null -----------------------------------------------------------------------------------
class _NullWriter:
    def upsert(self, doc: PostDocument) -> None:
        pass

    def remove_post(self, post_id: int) -> None:
        pass

    def remove_topic(self, topic_id: int) -> None:
        pass

    def remove_sig(self, sig_id: int) -> None:
        pass


class NullBackend:
    """Indexes nothing and finds nothing (SEARCH_BACKEND = "null")."""

    @contextmanager
    def maintenance(self) -> Iterator[None]:
        yield

    @contextmanager
    def draining(self, timeout: float = 5.0) -> Iterator[DrainClock]:
        yield DrainClock()

    @contextmanager
    def writer(self, timeout: float = 5.0) -> Iterator[_NullWriter]:
        yield _NullWriter()

    def rebuild(
        self,
        docs: Iterable[PostDocument],
        progress: Callable[[int], None] | None = None,
        procs: int = 1,
    ) -> int:
        count = 0
        for _ in docs:
            count += 1
        if progress:
            progress(count)
        return count

    def search(
        self, parsed: ParsedQuery, scope: SigScope, *, newest: bool, offset: int, limit: int
    ) -> BackendResults:
        return BackendResults(hits=[], total=0)

    def excerpt(
        self, results: BackendResults, hit: BackendHit, text: str, *, title: bool = False
    ) -> Markup:
        return Markup(escape(text[:240]))

    def suggest(self, parsed: ParsedQuery) -> ParsedQuery | None:
        return None

    def word_for(self, stem: str, texts: Iterable[str]) -> str | None:
        return None

    def check(self) -> str:
        return "ok"

    def reset(self) -> None:
        pass

    def indexed_post_ids(self) -> set[int]:
        return set()

    def has_other_language(self, sig_id: int, language: str) -> bool:
        return False

    def close(self) -> None:
        pass
