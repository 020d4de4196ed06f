"""The top of a result list, and how many matches there are, without scoring or sorting every
match (pure Python, so every posting a matcher steps through costs about a microsecond, and a
word in most of 100,000 posts must not be stepped through).

- Which documents match, and how many, comes from bitmaps (bitmaps.py): exact, in microseconds
  once a word's bitmap is read. A phrase's matches are checked by Whoosh's matcher among the
  posts that hold its words, newest first, up to CHECK_BUDGET of them beyond the page: past
  that the count is a floor ("at least"), never an estimate.
- Newest first takes the page from the matches' bitmaps, highest bits first: exact.
- Relevance is BM25 with its length normalisation applied when a post is indexed (`impact`):
  a stored weight is the posting's whole contribution, so the largest weight of a block of
  postings bounds the block's scores exactly and Whoosh's collector skips the blocks that cannot
  reach the page (`ImpactBM25`). That ranks a single word over all its matches fast however
  common it is.
- A query of several words or a phrase matches posts that block bounds cannot rule out (a
  block's bound adds up the best weight of each word in it, rarely in the same post). Its
  matches (all of them, or the RANKED_MATCHES newest when there are more, and then the results
  say so: `Found.ranked_among`) are scored from their postings' weights read a block at a time
  (`_bounds`), and Whoosh scores the few that can reach the page, which orders them exactly as
  scoring every match would (`_rank`).
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from math import inf, log
from typing import Any

from whoosh import collectors, query, scoring
from whoosh.reading import TermNotFound

from . import bitmaps, codec
from .matching import Phrase, Restrict, leaves

K1 = 1.2
B = 0.75
RANKED_MATCHES = 2000  # matches a query of several words ranks at most, the newest
CHECK_BUDGET = 500  # posts a phrase is checked in beyond the page, for the count
WIDE = 0.5  # a single word ranks by block bounds with filters that leave this share of posts
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(when: datetime) -> int:
    """A UTC datetime as the integer kept in the index's `created` column."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when.astimezone(UTC) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


# --- relevance ---------------------------------------------------------------------------------
def impact(words: int, typical: float) -> float:
    """What BM25 multiplies a term frequency by in a field of `words` words."""
    return 1.0 / (1.0 - B + B * words / typical)


class ImpactBM25(scoring.WeightingModel):
    """BM25 over weights that already include the length normalisation (see `impact`).

    score = idf * w * (K1 + 1) / (w + K1), where w = term frequency * impact * field boost:
    BM25's formula. It grows with w, so a block's largest weight bounds its scores exactly.
    A field of one language (`body_de`) counts its idf among that language's posts, so that a
    word as common in German posts as in English ones scores alike in both."""

    def idf(self, searcher: Any, fieldname: str, text: str) -> float:
        parent = searcher.get_parent()
        lang = fieldname.rpartition("_")[2]
        posts = parent.doc_frequency("lang", lang) if lang != fieldname else 0
        posts = posts or parent.doc_count_all()
        return log(posts / (parent.doc_frequency(fieldname, text) + 1)) + 1

    def scorer(self, searcher: Any, fieldname: str, text: str, qf: int = 1) -> Any:
        idf = searcher.get_parent().idf(fieldname, text)
        return _ImpactScorer(idf, searcher.term_info(fieldname, text).max_weight())


class _ImpactScorer(scoring.BaseScorer):
    def __init__(self, idf: float, max_weight: float) -> None:
        self._idf = idf
        self._max = self._score(max_weight)

    def _score(self, weight: float) -> float:
        return self._idf * weight * (K1 + 1) / (weight + K1)

    def supports_block_quality(self) -> bool:
        return True

    def score(self, matcher: Any) -> float:
        return self._score(matcher.weight())

    def max_quality(self) -> float:
        return self._max

    def block_quality(self, matcher: Any) -> float:
        return self._score(matcher.block_max_weight())


# --- documents by date ---------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Segment:
    """One segment's documents in date order: `keys` ascending, `docs` (local numbers) alike,
    and where each document's bit is in a bitmap (bitmaps.Segment).

    Arrays of machine integers, not lists of int objects: 6 MB less per process at 100,000
    posts."""

    keys: Sequence[int]
    docs: Sequence[int]
    values: Sequence[int]  # local docnum -> created
    digit: Sequence[int]  # local docnum -> its digit in a bitmap's binary string


class PostDates:
    """The `created` column of every segment, sorted once per segment (segments never change
    but for deletions) and shared by all searchers."""

    def __init__(self) -> None:
        self._segments: dict[str, _Segment] = {}
        self._lock = threading.Lock()

    def view(self, searcher: Any) -> DatesView:
        """The searcher's segments by date (kept with the searcher: its deletions are fixed)."""
        kept = searcher.__dict__.get("_forum_dates")
        if kept is not None:
            return kept
        found = []
        ids = set()
        for sub, offset in leaves(searcher):
            reader = sub.reader()
            segid = reader.segment().segment_id()
            ids.add(segid)
            seg = self._segments.get(segid)
            if seg is None:
                values = array("q", reader.column_reader("created", translate=False))
                order = array("i", sorted(range(len(values)), key=values.__getitem__))
                keys = array("q", [values[d] for d in order])
                seg = _Segment(keys, order, values, bitmaps.digits_of(order))
                with self._lock:
                    self._segments[segid] = seg
            found.append(bitmaps.segment(sub, offset, seg.keys, seg.docs, seg.values, seg.digit))
        if len(self._segments) > len(ids) + 8:
            with self._lock:  # forget merged-away segments
                self._segments = {k: v for k, v in self._segments.items() if k in ids}
        view = searcher.__dict__["_forum_dates"] = DatesView(found)
        return view


class DatesView:
    """One searcher's segments, their documents numbered by date (bitmaps.Segment)."""

    def __init__(self, segments: list[bitmaps.Segment]) -> None:
        self.segments = segments
        self.total = sum(seg.size for seg in segments)

    def created(self, docnum: int) -> int:
        for seg in reversed(self.segments):
            if docnum >= seg.offset:
                return seg.values[docnum - seg.offset]
        raise IndexError(docnum)


# --- the two orders ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """What to look for: one query per language its words were analysed in, and where."""

    queries: Sequence[query.Query]
    simple: bool  # every query is one word (with exclusions): block bounds find its best fast
    keep: list[int]  # per segment: the documents the filters, scope and deletions leave
    filtered: bool  # whether filters or the scope leave documents out
    ranked_matches: int = RANKED_MATCHES  # 0: always rank every match
    check_budget: int | None = CHECK_BUDGET  # None: check a phrase in every post with its words


@dataclass
class Found:
    docnums: list[int]  # the page and those before it, in order
    total: int  # the number of matches, or (not `counted`) a number they reach
    counted: bool = True
    ranked_among: int | None = None  # best match ranked only this many newest matches


def newest(
    searcher: Any, dates: DatesView, plan: Plan, need: int, words: bitmaps.TermBits
) -> Found:
    """The `need` newest matches, exactly, and their count."""
    found = bitmaps.matches(
        dates.segments, plan.queries, plan.keep, words, every=plan.check_budget is None
    )
    walk = found.walk()
    page = [hit.docnum for hit in islice(walk, need)]
    _count(found, walk, plan)
    return Found(page, found.count, found.counted)


def _count(found: bitmaps.Matches, walk: Any, plan: Plan) -> None:
    """Check the rest of the posts a phrase may match, up to the budget, for the count."""
    if found.counted:
        return
    if found.stop_after is None and plan.check_budget is not None:
        found.stop_after = found.checked + plan.check_budget
    for _hit in walk:
        pass


def best(searcher: Any, dates: DatesView, plan: Plan, need: int, words: bitmaps.TermBits) -> Found:
    """The `need` best matches by BM25, over every match or (when there are more than
    `plan.ranked_matches`) over the newest that many, and the count."""
    found = bitmaps.matches(
        dates.segments, plan.queries, plan.keep, words, every=plan.check_budget is None
    )
    total = dates.total
    kept = sum(bits.bit_count() for bits in plan.keep)
    if plan.simple and found.counted and (not plan.filtered or kept >= WIDE * total):
        keep = bitmaps.Keep(dates.segments, plan.keep) if plan.filtered else None
        scored = _best_of(searcher, list(plan.queries), need, keep)
        return Found([docnum for _score, docnum in scored], found.count)
    limit = plan.ranked_matches
    walk = found.walk()
    if limit and found.counted and found.count > limit:
        ranked = list(islice(walk, limit))
    else:  # every match, or (a phrase) as many as the budget checks
        ranked = []
        for hit in walk:
            ranked.append(hit)
            if len(ranked) == limit:
                break
            if len(ranked) == need and not found.counted and plan.check_budget is not None:
                found.stop_after = found.checked + plan.check_budget
    _count(found, walk, plan)
    among = len(ranked) if len(ranked) < found.count or not found.counted else None
    return Found(_rank(searcher, ranked, need), found.count, found.counted, among)


# --- relevance over a set of matches -------------------------------------------------------------
def _rank(searcher: Any, hits: list[bitmaps.Hit], need: int) -> list[int]:
    """The `need` best of these matches, in Whoosh's order (a higher score, then a lower
    document number): bounds of their scores from their postings' weights, then Whoosh's
    scores of those whose bound can reach the page, best bound first."""
    groups: dict[int, tuple[bitmaps.Part, list[int]]] = {}
    for hit in hits:
        groups.setdefault(id(hit.part), (hit.part, []))[1].append(hit.docnum - hit.part.seg.offset)
    bound: dict[int, float] = {}
    part_of: dict[int, bitmaps.Part] = {}
    for part, docs in groups.values():
        docs.sort()
        offset = part.seg.offset
        found = _bounds(part.q, part.seg.sub, docs)
        for doc in docs:
            bound[offset + doc] = found.get(doc, inf)
            part_of[offset + doc] = part
    order = sorted(bound, key=lambda d: (-bound[d], d))
    scored: list[tuple[float, int]] = []
    start, batch = 0, need + 8
    while start < len(order):
        # (Sums in another order than Whoosh's differ in the last bits: hence the margin.)
        if len(scored) >= need and bound[order[start]] * (1 + 1e-9) < scored[need - 1][0]:
            break
        chunk = order[start : start + batch]
        start, batch = start + batch, batch * 2
        scored = sorted(scored + _scores(searcher, chunk, part_of), key=_by_score)[:need]
    return [docnum for _score, docnum in scored]


def _scores(
    searcher: Any, docnums: list[int], part_of: dict[int, bitmaps.Part]
) -> list[tuple[float, int]]:
    """Whoosh's scores of these matches."""
    groups: dict[int, tuple[bitmaps.Part, list[int]]] = {}
    for docnum in docnums:
        part = part_of[docnum]
        groups.setdefault(id(part), (part, []))[1].append(docnum - part.seg.offset)
    out: list[tuple[float, int]] = []
    for part, docs in groups.values():
        restricted = Restrict(part.q, {part.seg.offset: sorted(docs)})
        out.extend(_top(searcher, restricted, len(docs), 0.0))
    return out


def _bounds(q: query.Query, sub: Any, docs: list[int]) -> dict[int, float]:
    """For documents of one segment that match `q` (sorted local numbers), a bound on each
    one's score, from the weights of its postings: the score itself but for the order of the
    sums (or where a phrase or an exclusion inside an Or decides). A document missing from
    the answer has no bound (an unknown query: Whoosh scores it)."""
    if isinstance(q, query.Term):
        return _term_scores(sub, q.fieldname, q.text, docs)
    if isinstance(q, (query.And, Phrase)):
        subs = q.children() if isinstance(q, Phrase) else q.subqueries
        parts = [_bounds(s, sub, docs) for s in subs]
        first, *others = sorted(parts, key=len)
        return {d: sum(p[d] for p in parts) for d in first if all(d in other for other in others)}
    if isinstance(q, query.Or):
        out: dict[int, float] = {}
        for part in (_bounds(s, sub, docs) for s in q.subqueries):
            for d, score in part.items():
                out[d] = out.get(d, 0.0) + score
        return out
    if isinstance(q, query.AndNot):
        return _bounds(q.a, sub, docs)
    return {}


def _term_scores(sub: Any, fieldname: str, text: str, docs: list[int]) -> dict[int, float]:
    try:
        m = sub.reader().postings(fieldname, text)
    except TermNotFound:
        return {}
    m = getattr(m, "child", m)  # (without the wrapper that leaves deleted documents out)
    if isinstance(m, codec._LeafMatcher):
        weights = codec.weights_at(m, docs)
    else:  # (a single posting, inlined in the term index)
        wanted = set(docs)
        weights = {}
        while m.is_active():
            if m.id() in wanted:
                weights[m.id()] = m.weight()
            m.next()
    score = sub.weighting.scorer(sub, fieldname, text)._score
    return {d: score(w) for d, w in weights.items()}


def _best_of(
    searcher: Any, queries: list[query.Query], need: int, keep: Callable[[int], bool] | None
) -> list[tuple[float, int]]:
    """The best (score, docnum) pairs of the queries, by block bounds."""
    # A post is in one language, so the best of each language's query, merged by score, are
    # the best of their Or (whose block bounds would add up the languages' and skip nothing).
    # The biggest goes first; each search skips what cannot beat the page found so far.
    scored: list[tuple[float, int]] = []
    reader = searcher.reader()
    for q in sorted(queries, key=lambda q: -q.estimate_size(reader)):
        found = _top(searcher, q, need, _floor(scored, need), keep)
        scored = sorted(scored + found, key=_by_score)[:need]
    return scored


def _floor(scored: list[tuple[float, int]], need: int) -> float:
    """The score a document must beat to enter a full page."""
    return scored[need - 1][0] if len(scored) >= need else 0.0


def _top(
    searcher: Any,
    q: query.Query,
    need: int,
    floor: float,
    keep: Callable[[int], bool] | None = None,
) -> list[tuple[float, int]]:
    """The best `need` matches scoring above `floor` (of those `keep` keeps)."""
    top = _TopAbove(need, floor, keep)
    searcher.search_with_collector(q, top)
    return [(score, docnum) for score, docnum in top.results().top_n if score > floor]


# whoosh3 annotates a collector's minscore as an int; scores are floats. Subclassed as Any.
_TopCollector: Any = collectors.TopCollector


class _TopAbove(_TopCollector):
    """Whoosh's top-N collector, told a score the N-th must beat from the start, so that it
    skips blocks below it at once instead of after filling its heap; and the documents it may
    collect, if not all."""

    def __init__(self, limit: int, floor: float, keep: Callable[[int], bool] | None) -> None:
        super().__init__(limit=limit)
        self._floor = floor
        self._keep = keep

    def prepare(self, top_searcher: Any, q: Any, context: Any) -> None:
        super().prepare(top_searcher, q, context)
        self.minscore = self._floor

    def collect(self, sub_docnum: int) -> Any:
        if self._keep is not None and not self._keep(self.offset + sub_docnum):
            return None
        return super().collect(sub_docnum)

    def _collect(self, global_docnum: int, score: float) -> Any:
        result = super()._collect(global_docnum, score)
        if self.minscore < self._floor:
            self.minscore = self._floor
        return result


def _by_score(pair: tuple[float, int]) -> tuple[float, int]:
    return -pair[0], pair[1]  # (Whoosh's order: a higher score, then a lower document number)
