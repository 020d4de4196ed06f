"""The forum's Whoosh index on disk: opening it, one shared searcher per process, the single
writer, rebuilds, and answering a search within a set of SIGs.

Several processes (a server's workers, the command line) open the same folder. Whoosh lets one
of them write at a time (its lock file), and a commit deletes the files of the segments it
merged away, whatever other processes still read. So a process opens the index and its searcher
again when a commit it did not see removed a file it was opening (`_retrying`); a segment a
searcher has opened stays readable to the end (storage.py maps its parts from the descriptor it
was opened with); and should a read still find a file gone, the method reopens the searcher and
runs once more (`_one_at_a_time`): a member never sees "not available" for a race.

Ranking and speed: ranking.py (relevance is BM25 with the length normalisation applied when a
post is indexed; newest first reads posts in date order from the `created` column) and
matching.py. On disk: Whoosh's format, written and read by codec.py and storage.py.
"""

from __future__ import annotations

import functools
import gc
import logging
import shutil
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from markupsafe import Markup
from whoosh import index, query
from whoosh.writing import CLEAR

from ..documents import BackendHit, BackendResults, PostDocument, SigScope
from ..parsing import ParsedQuery
from . import bitmaps, excerpts, ranking, schema
from .codec import ForumCodec
from .compiling import compile_query
from .storage import IndexStorage

log = logging.getLogger(__name__)
T = TypeVar("T")

VERSION_FILE = "forum-schema-version"
INDEX_MEMORY_MB = 512  # per process building the index: enough for 50,000 posts in memory


class IndexWriter:
    """Changes to the index, as a `with` block: committed together when it ends, cancelled
    when it raises."""

    def __init__(self, writer: Any) -> None:
        self._w = writer

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_exc: object) -> None:
        if kind is None:
            self._w.commit()
        else:
            self._w.cancel()

    def upsert(self, doc: PostDocument) -> None:
        self._w.update_document(**schema.fields(doc))

    def add(self, doc: PostDocument) -> None:
        self._w.add_document(**schema.fields(doc))

    def remove_post(self, post_id: int) -> None:
        self._w.delete_by_term("post_id", str(post_id))

    def remove_topic(self, topic_id: int) -> None:
        self._w.delete_by_term("topic_id", str(topic_id))

    def remove_sig(self, sig_id: int) -> None:
        self._w.delete_by_term("sig_id", str(sig_id))


def _one_at_a_time(method: Callable[..., T]) -> Callable[..., T]:
    """Run a SearchIndex method holding the lock on the process's shared searcher; once more
    on a new searcher if a file of the index went away under it (see the module's docstring)."""

    @functools.wraps(method)
    def wrapper(self: SearchIndex, *args: Any, **kwargs: Any) -> T:
        with self._use:
            try:
                return method(self, *args, **kwargs)
            except FileNotFoundError as exc:
                log.info("search index file gone (%s): reopening the searcher", exc.filename)
                self._drop_searcher()
                return method(self, *args, **kwargs)

    return wrapper


class SearchIndex:
    """The index in the folder `path`. Raises whoosh.index.LockError when the writer's lock
    stays taken past the timeout."""

    def __init__(
        self,
        path: str | Path,
        ranked_matches: int = ranking.RANKED_MATCHES,
        memory_mb: int = INDEX_MEMORY_MB,
    ) -> None:
        self.path = Path(path)
        self.ranked_matches = ranked_matches
        # Whoosh sorts a rebuild's postings in memory up to this size, then in files on disk,
        # which made a rebuild of 100,000 posts take 60 % longer with 256 MB.
        self.memory_mb = memory_mb
        self.schema = schema.build_schema()
        self._ix: Any = None
        self._ix_lock = threading.Lock()
        self._shared: Any = None
        self._searched = False  # since the last `let_go_if_idle`
        self._use = threading.RLock()
        self._searchers: list[Any] = []
        self._dates = ranking.PostDates()
        self._words = bitmaps.TermBits()

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
        (self.path / VERSION_FILE).write_text(schema.SCHEMA_VERSION)
        return ix

    def check(self) -> str:
        """One of "ok", "missing", "corrupt" or "outdated" (built by an older schema)."""
        if not self.path.is_dir() or not any(self.path.glob("*.toc")):
            return "missing"
        version = self.path / VERSION_FILE
        if not version.exists() or version.read_text().strip() != schema.SCHEMA_VERSION:
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
    def writer(self, timeout: float = 5.0) -> IndexWriter:
        """The single writer, once its lock is free (`with index.writer() as w: ...`)."""
        return IndexWriter(self._index().writer(timeout=timeout, delay=0.02, codec=ForumCodec()))

    def rebuild(
        self,
        docs: Iterable[PostDocument],
        progress: Callable[[int], None] | None = None,
        procs: int = 1,
    ) -> int:
        """Replace the index's content with `docs` in one commit (readers see old or new).

        With procs > 1, analysis and posting sorting run in that many worker processes and
        their segments are kept as they are (no final merge)."""
        extra: dict[str, Any] = (
            {"procs": procs, "multisegment": True, "batchsize": 200} if procs > 1 else {}
        )
        extra.update(limitmb=self.memory_mb, codec=ForumCodec())
        w = self._index().writer(timeout=60.0, delay=0.1, **extra)
        count = 0
        try:
            writer = IndexWriter(w)
            for doc in docs:
                writer.add(doc)
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
        self._searched = True
        return searcher

    def let_go_if_idle(self) -> bool:
        """Close the shared searcher if nothing used it since the last call; whether it is
        still held (so this is worth asking again later). Never waits for a search.

        A searcher's maps of the segment files keep every page its searches read in the
        process's resident set, counted there as long as the searcher lives: 24 MB of a page
        worker at 100,000 posts after the bench's searches (31 MB for its 8 queries in one
        process), until the next search, however far away. Closed, they go at once (0.8 ms),
        and the pages stay in the kernel's page cache, shared: the next search opens a new
        searcher and finds them there. Measured on the bench's searches in one process: 18.2
        CPU ms a search after the searcher was let go against 17.9 warm (docs/benchmarks.md,
        "Memory per page worker, sixth session"). What the searches built apart from the
        searcher (the dates and word bitmaps, ranking.py and bitmaps.py) is kept."""
        if not self._use.acquire(blocking=False):
            return True  # a search is running right now
        try:
            used, self._searched = self._searched, False
            if self._shared is None:
                return False
            if used:
                return True
            self._drop_searcher()
            return False
        finally:
            self._use.release()

    def _drop_searcher(self) -> None:
        """Forget the shared searcher: the next `_searcher()` opens the newest generation."""
        with self._ix_lock:
            searcher, self._shared = self._shared, None
            if searcher is not None:
                self._searchers.remove(searcher)
        if searcher is not None:
            searcher.close()

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
        self,
        parsed: ParsedQuery,
        scope: SigScope,
        *,
        newest: bool,
        offset: int,
        limit: int,
        rank_all: bool = False,
    ) -> BackendResults:
        """The page of hits from `offset`; the SIG filter (`sig:`) must already be in `scope`.
        With `rank_all`, best match ranks every match, however many (see ranking.py)."""
        searcher = self._searcher()
        common: list[str] = []
        compiled = compile_query(parsed, searcher, common)
        queries, simple, terms = compiled.queries, compiled.simple, compiled.terms
        if not queries:
            return BackendResults(hits=[], total=0, terms=terms, common=common)
        dates = self._dates.view(searcher)
        segments = dates.segments
        self._words.forget({seg.segid for seg in segments})
        for seg in segments:
            self._words.warm(seg)
        keep, filtered = self._keep(segments, scope, parsed, compiled.having, compiled.lacking)
        if not any(keep):
            return BackendResults(hits=[], total=0, terms=terms, common=common)
        plan = ranking.Plan(
            queries=queries,
            simple=simple,
            keep=keep,
            filtered=filtered,
            ranked_matches=0 if rank_all else self.ranked_matches,
            # (Ranking every match checks a phrase in every post that holds its words.)
            check_budget=None if rank_all or not self.ranked_matches else ranking.CHECK_BUDGET,
        )
        need = offset + limit
        if newest or not compiled.ranked:  # only filters: every match scores alike
            found = ranking.newest(searcher, dates, plan, need, self._words)
        else:
            found = ranking.best(searcher, dates, plan, need, self._words)
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
        return BackendResults(
            hits=hits,
            total=found.total,
            total_exact=found.counted,
            ranked_among=found.ranked_among,
            terms=terms,
            common=common,
        )

    def _keep(
        self,
        segments: list[bitmaps.Segment],
        scope: SigScope,
        parsed: ParsedQuery,
        having: list[list[tuple[str, str]]],
        lacking: list[list[tuple[str, str]]],
    ) -> tuple[list[int], bool]:
        """Per segment, the documents the scope and the filters leave (deleted ones out), and
        whether they leave any out."""
        words = self._words
        # The readable SIGs, or the unreadable ones left out: whichever is the shorter list.
        wanted: list[list[tuple[str, str]]] = []
        unwanted = [pairs for pairs in lacking]
        if scope.allowed is not None and len(scope.allowed) <= len(scope.excluded):
            wanted.append([("sig_id", str(i)) for i in sorted(scope.allowed)])
        elif scope.excluded:
            unwanted.append([("sig_id", str(i)) for i in sorted(scope.excluded)])
        if parsed.author:
            wanted.append([("author", parsed.author.lower())])
        wanted.extend(having)
        start = ranking.to_micros(parsed.after) if parsed.after else None
        end = ranking.to_micros(parsed.before) if parsed.before else None
        keep = []
        for seg in segments:
            bits = seg.live
            if start is not None or end is not None:
                bits &= seg.since(start, end)
            for pairs in wanted:
                bits &= _any_of(seg, pairs, words)
            for pairs in unwanted:
                bits &= ~_any_of(seg, pairs, words)
            keep.append(bits)
        filtered = bool(wanted or unwanted or start is not None or end is not None)
        return keep, filtered

    def excerpt(
        self, results: BackendResults, hit: BackendHit, text: str, *, title: bool = False
    ) -> Markup:
        name = f"{'title' if title else 'body'}_{hit.language}"
        return excerpts.excerpt(text, results.terms.get(name, set()), hit.language, title=title)

    @_one_at_a_time
    def suggest(self, parsed: ParsedQuery, prefer: str | None = None) -> ParsedQuery | None:
        """The query with each unknown word replaced by the closest indexed stem, if any.

        The index holds stems only ("keyboard" -> "keyboard", "mechanical" -> "mechan"), so the
        caller turns them back into words found in the results (`word_for`). `prefer`: the
        reader's language; a near word of theirs counts four times as much as another
        language's ("hosue": "house" for an English reader, "Hose" for a German one)."""
        searcher = self._searcher()
        reader = searcher.reader()
        names = [f"body_{lang}" for lang in schema.LANGUAGES]
        changed = False
        clauses = []
        for clause in parsed.clauses:
            if clause.kind == "word" and not clause.negated and not clause.prefix:
                stems = {lang: schema.analyse(lang, clause.text) for lang in schema.LANGUAGES}
                known = any(
                    reader.doc_frequency(f"{kind}_{lang}", stem)
                    for lang, found in stems.items()
                    for stem in found
                    for kind in ("body", "title")
                )
                if len(clause.text) >= 3 and not known:
                    best = _closest(searcher, names, clause.text.lower(), stems, prefer)
                    if best is not None:
                        clauses.append(clause.replace(text=best))
                        changed = True
                        continue
            clauses.append(clause)
        if not changed:
            return None
        return parsed.replace(clauses=tuple(clauses))

    def word_for(self, stem: str, texts: Iterable[str], prefer: str | None = None) -> str | None:
        """A word from `texts` that some language's analyser (`prefer`'s first) turns into
        `stem`."""
        langs = sorted(schema.LANGUAGES, key=lambda lang: lang != prefer)
        for text in texts:
            for lang in langs:
                for token in schema.ANALYZERS[lang](text, chars=True, mode="index"):
                    if token.text == stem:
                        return text[token.startchar : token.endchar].lower()
        return None


def _closest(
    searcher: Any,
    names: list[str],
    word: str,
    stems: dict[str, list[str]],
    prefer: str | None = None,
) -> str | None:
    """The most frequent indexed stem within two edits of the word's stem, or within one edit
    of the word cut short (stems drop suffixes: "mechanicla" -> "mechan")."""
    reader = searcher.reader()
    candidates: dict[str, int] = {}
    cuts = [word[:-cut] for cut in range(1, 5) if len(word) - cut >= max(4, 0.6 * len(word))]
    for name in names:
        lang = name.rsplit("_", 1)[1]
        weight = 4 if lang == prefer else 1
        corrector = searcher.corrector(name)
        tries = [(stem, 2) for stem in stems.get(lang, [])] + [(c, 1) for c in cuts]
        for text, maxdist in tries:
            for found in corrector.suggest(text, limit=3, maxdist=maxdist, prefix=2):
                found_in = reader.doc_frequency(name, found) * weight
                candidates[found] = candidates.get(found, 0) + found_in
    if not candidates:
        return None
    return max(candidates, key=lambda c: candidates[c])


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


def _any_of(seg: bitmaps.Segment, pairs: list[tuple[str, str]], words: bitmaps.TermBits) -> int:
    """The documents of the segment with any of these (field, word) terms."""
    bits = 0
    for name, word in pairs:
        bits |= words.term(seg, name, word)
    return bits
