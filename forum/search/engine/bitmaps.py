"""Which documents match a search, as bitmaps in date order: exact counts, and the newest
matches, without stepping a matcher through them.

Stepping a Whoosh matcher costs a microsecond or more per posting in Python, and a word in most
of 100,000 posts has most of 100,000 postings: counting the posts that hold two common words that
way took hundreds of milliseconds. Here the documents of a segment are numbered by date (0 the
oldest, `Segment.places`) and a set of them is one Python int with a bit per document. And, Or
and "but not" are `&`, `|` and `& ~` on ints, a count is `int.bit_count()`, and the newest members
are the highest bits, found by `str.find` on the int's binary digits (`Segment.newest`): all of it
runs in C, microseconds for 100,000 posts.

A word's bitmap comes from its posting list read whole, a block at a time (`codec.doc_ids`), and
packed into an int through a string of binary digits (`Segment.pack`): about 0.3 µs a posting,
most of it Whoosh's inflating and unpickling of the blocks. A segment never changes but for its
deletions (taken out at the end, `Segment.live`), so the bitmaps of words with a block or more
of postings are kept per segment (`TermBits`, up to CACHE_BYTES, the least recently used going
first) for every searcher that reads the segment, and a segment's commonest words are read when
a process first meets it (`TermBits.warm`), as its dates are.

A phrase needs its words next to each other, which a bitmap cannot tell: `bounds` gives the
documents that surely match a query and those that may, and `Matches.walk` has Whoosh's own
matcher check the ones that may, newest first, as the caller needs them.
"""

from __future__ import annotations

import heapq
import threading
from array import array
from bisect import bisect_left
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from whoosh import query
from whoosh.reading import TermNotFound

from . import codec, matching

CACHE_BYTES = 24 * 2**20  # word bitmaps kept per process (12.5 KB a word at 100,000 posts)
CACHE_MIN_POSTINGS = 128  # a word with fewer postings (one block) is read again when needed
WARM_SHARE = 0.05  # a new segment's words in at least this share of its posts are read at once
WARM_MIN_DOCS = 5000  # ... in a segment of at least this many posts
CHECK_CHUNK = 32  # posts a walk checks at once at first (then twice as many, up to 512)
_ONE = ord("1")


@dataclass(eq=False)
class Segment:
    """One segment of a searcher, its documents numbered by date.

    `keys` are the dates in ascending order and `docs` the segment's document numbers in that
    order (ranking.PostDates reads them); bit `p` of a bitmap is the document `docs[p]`."""

    sub: Any  # the segment's searcher
    offset: int  # its first document number in the whole searcher
    segid: str
    keys: Sequence[int]
    docs: Sequence[int]
    values: Sequence[int]  # document -> its date
    digit: Sequence[int]  # document -> the index of its digit in `format(bits, "0{n}b")`
    live: int  # the documents not deleted

    @property
    def size(self) -> int:
        return len(self.docs)

    @property
    def every(self) -> int:
        return (1 << len(self.docs)) - 1

    def pack(self, docnums: Iterable[int]) -> int:
        """The bitmap of these document numbers (of this segment)."""
        n = len(self.docs)
        digits = bytearray(b"0") * n
        deque(map(digits.__setitem__, map(self.digit.__getitem__, docnums), repeat(_ONE)), 0)
        return int(digits, 2) if n else 0

    def since(self, start: int | None, end: int | None) -> int:
        """The documents created at or after `start` and before `end` (microseconds)."""
        lo = bisect_left(self.keys, start) if start is not None else 0
        hi = bisect_left(self.keys, end) if end is not None else len(self.keys)
        return ((1 << hi) - 1) ^ ((1 << lo) - 1) if hi > lo else 0

    def newest(self, bits: int) -> Iterator[int]:
        """The date ranks of the bitmap's documents, newest first."""
        n = len(self.docs)
        if not bits:
            return
        digits = format(bits, f"0{n}b")
        find = digits.find
        i = find("1")
        while i >= 0:
            yield n - 1 - i
            i = find("1", i + 1)


def digits_of(docs: Sequence[int]) -> array[int]:
    """Document -> the index of its digit in a bitmap's binary string, given the documents in
    date order."""
    n = len(docs)
    digit = array("i", bytes(4 * n))
    deque(map(digit.__setitem__, docs, range(n - 1, -1, -1)), 0)
    return digit


def segment(
    sub: Any,
    offset: int,
    keys: Sequence[int],
    docs: Sequence[int],
    values: Sequence[int],
    digit: Sequence[int],
) -> Segment:
    """The Segment of a leaf searcher, given its documents in date order."""
    reader = sub.reader()
    seg = Segment(sub, offset, reader.segment().segment_id(), keys, docs, values, digit, 0)
    deleted = reader.deleted_docs_set if reader.has_deletions() else ()
    seg.live = seg.every & ~seg.pack(deleted) if deleted else seg.every
    return seg


class TermBits:
    """Bitmaps of words, per segment, shared by every searcher of a process."""

    def __init__(self, limit: int = CACHE_BYTES) -> None:
        self.limit = limit
        self._bits: OrderedDict[tuple[str, str, str], tuple[int, int]] = OrderedDict()
        self._size = 0
        self._warmed: set[str] = set()
        self._segids: set[str] = set()
        self._lock = threading.Lock()

    def term(self, seg: Segment, fieldname: str, text: str) -> int:
        """The documents (deleted ones too) of `seg` whose field has the word."""
        key = (seg.segid, fieldname, text)
        with self._lock:
            kept = self._bits.get(key)
            if kept is not None:
                self._bits.move_to_end(key)
                return kept[0]
        ids = doc_ids(seg.sub.reader(), fieldname, text)
        bits = seg.pack(ids)
        if len(ids) >= CACHE_MIN_POSTINGS:
            self._keep(key, bits, seg.size)
        return bits

    def _keep(self, key: tuple[str, str, str], bits: int, size: int) -> None:
        cost = size // 8 + 64
        with self._lock:
            if key not in self._bits:
                self._bits[key] = (bits, cost)
                self._size += cost
            while self._size > self.limit and self._bits:
                _key, (_bits, old) = self._bits.popitem(last=False)
                self._size -= old

    def warm(self, seg: Segment) -> None:
        """Read the bitmaps of the segment's commonest words now, once per process: the first
        search for one of them would otherwise read all its postings (a few tens of ms)."""
        if seg.segid in self._warmed or seg.size < WARM_MIN_DOCS:
            return
        self._warmed.add(seg.segid)
        reader = seg.sub.reader()
        least = max(CACHE_MIN_POSTINGS, int(seg.size * WARM_SHARE))
        common = [
            (info.doc_frequency(), name, text)
            for name in reader.indexed_field_names()
            if name.startswith(("title_", "body_"))
            for text, info in reader.iter_field(name)
            if info.doc_frequency() >= least
        ]
        # At most half the cache: the rest is for the words searches bring.
        room = max(0, self.limit // 2 - self._size) // (seg.size // 8 + 64)
        for _df, name, text in sorted(common, reverse=True)[:room]:
            self.term(seg, name, text if isinstance(text, str) else text.decode("utf-8"))

    def forget(self, segids: set[str]) -> None:
        """Drop the bitmaps of segments no searcher reads any more."""
        if segids == self._segids:
            return
        self._segids = segids
        with self._lock:
            for key in [key for key in self._bits if key[0] not in segids]:
                self._size -= self._bits.pop(key)[1]
            self._warmed &= segids


def doc_ids(reader: Any, fieldname: str, text: str) -> Sequence[int]:
    """Every document of the segment with the word in the field, deleted ones too."""
    try:
        m = reader.postings(fieldname, text)
    except TermNotFound:
        return ()
    m = getattr(m, "child", m)  # (the reader wraps it to leave deleted documents out)
    if isinstance(m, codec._LeafMatcher):
        return codec.doc_ids(m)
    return list(m.all_ids())  # (a posting inlined in the term index)


# --- a query as bitmaps -------------------------------------------------------------------------
def bounds(q: query.Query, seg: Segment, words: TermBits) -> tuple[int, int]:
    """(sure, maybe): the documents of `seg` that match `q`, and those that may (a superset).
    They differ only where a phrase's words are all in a post: the positions decide."""
    if isinstance(q, query.Term):
        bits = words.term(seg, q.fieldname, q.text)
        return bits, bits
    if isinstance(q, matching.Phrase):
        both = seg.every
        for word in q.words:
            both &= words.term(seg, q.fieldname, word)
        return 0, both
    if isinstance(q, query.And):
        sure = maybe = seg.every
        for sub in q.subqueries:
            s, m = bounds(sub, seg, words)
            sure &= s
            maybe &= m
        return sure, maybe
    if isinstance(q, query.Or):
        sure = maybe = 0
        for sub in q.subqueries:
            s, m = bounds(sub, seg, words)
            sure |= s
            maybe |= m
        return sure, maybe
    if isinstance(q, query.AndNot):
        a_sure, a_maybe = bounds(q.a, seg, words)
        b_sure, b_maybe = bounds(q.b, seg, words)
        return a_sure & ~b_maybe, a_maybe & ~b_sure
    if isinstance(q, query.Every):
        return seg.every, seg.every
    if q is query.NullQuery:
        return 0, 0
    # Anything else: Whoosh's matcher, stepped through (compiling.py makes none of these).
    matcher = q.matcher(seg.sub, seg.sub.boolean_context())
    bits = seg.pack(matcher.all_ids()) if matcher.is_active() else 0
    return bits, bits


@dataclass(eq=False)
class Part:
    """One language's query over one segment: the documents that match it and the ones that
    may (the filters applied)."""

    seg: Segment
    q: query.Query
    sure: int
    maybe: int  # beside `sure`: to be checked


@dataclass
class Hit:
    created: int
    docnum: int  # in the whole searcher
    part: Part = field(compare=False, repr=False)


class Matches:
    """A search's matches: one part per segment and language query."""

    def __init__(self, parts: list[Part]) -> None:
        self.parts = parts
        self.sure = sum(p.sure.bit_count() for p in parts)
        self.unsure = sum(p.maybe.bit_count() for p in parts)  # documents to check
        self.checked = 0  # of those, checked so far by `walk`
        self.confirmed = 0  # of those, found to match
        self.stop_after: int | None = None  # `walk` checks no more than this many

    @property
    def counted(self) -> bool:
        """Whether `count` is the number of matches (else: at least that many)."""
        return self.checked == self.unsure

    @property
    def count(self) -> int:
        return self.sure + self.confirmed

    def walk(self) -> Iterator[Hit]:
        """The matches, newest first (by date, then document number), checking the documents
        that may match a chunk at a time as the walk reaches them."""
        streams = [self._stream(p) for p in self.parts if p.sure | p.maybe]
        merged: Iterable[tuple[int, int, Part, bool]]
        merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, reverse=True)
        pending: list[tuple[int, int, Part, bool]] = []
        unsure, chunk = 0, CHECK_CHUNK
        for item in merged:
            if item[3] and not unsure:  # a sure match, none waiting to be checked before it
                yield Hit(item[0], item[1], item[2])
                continue
            if not item[3] and self.stop_after is not None:
                if self.checked + unsure >= self.stop_after:
                    break
            pending.append(item)
            unsure += not item[3]
            if unsure >= chunk:
                yield from self._checked(pending)
                pending, unsure = [], 0
                chunk = min(chunk * 2, 512)
        yield from self._checked(pending)

    def _stream(self, part: Part) -> Iterator[tuple[int, int, Part, bool]]:
        seg = part.seg
        keys, docs, offset = seg.keys, seg.docs, seg.offset
        sure = part.sure
        digits = format(sure, f"0{seg.size}b") if sure and part.maybe else ""
        n = seg.size
        for rank in seg.newest(sure | part.maybe):
            is_sure = bool(sure) and (not part.maybe or digits[n - 1 - rank] == "1")
            yield keys[rank], offset + docs[rank], part, is_sure

    def _checked(self, items: list[tuple[int, int, Part, bool]]) -> Iterator[Hit]:
        to_check: dict[int, list[int]] = {}
        for _created, docnum, part, is_sure in items:
            if not is_sure:
                to_check.setdefault(id(part), []).append(docnum)
        good: set[int] = set()
        parts = {id(part): part for _c, _d, part, _s in items}
        for key, docnums in to_check.items():
            part = parts[key]
            good.update(_matching(part, docnums))
            self.checked += len(docnums)
        self.confirmed += len(good)
        for created, docnum, part, is_sure in items:
            if is_sure or docnum in good:
                yield Hit(created, docnum, part)


def _matching(part: Part, docnums: list[int]) -> list[int]:
    """Which of these documents (of the part's segment) match the part's query: Whoosh's
    matcher, skipped from one to the next."""
    seg = part.seg
    local = sorted(d - seg.offset for d in docnums)
    m = matching.Restrict(part.q, {seg.offset: local}).matcher(seg.sub, seg.sub.boolean_context())
    out = []
    while m.is_active():
        out.append(seg.offset + m.id())
        m.next()
    return out


def matches(
    segments: list[Segment],
    queries: Sequence[query.Query],
    keep: list[int],
    words: TermBits,
    every: bool = False,
) -> Matches:
    """The matches of the queries (one per language) among the documents `keep` has, per
    segment (the filters; deleted documents already out). With `every`, a phrase is matched
    at once in every post that may hold it, by Whoosh's matcher over the whole segment (for
    many posts, cheaper than checking them one at a time)."""
    parts = []
    for seg, allowed in zip(segments, keep, strict=True):
        if not allowed:
            continue
        for q in queries:
            sure, maybe = bounds(q, seg, words)
            sure &= allowed
            maybe &= allowed & ~sure
            if maybe and every:
                m = q.matcher(seg.sub, seg.sub.boolean_context())
                sure = (seg.pack(m.all_ids()) if m.is_active() else 0) & allowed
                maybe = 0
            if sure or maybe:
                parts.append(Part(seg, q, sure, maybe))
    return Matches(parts)


class Keep:
    """Membership of a global document number in per-segment bitmaps (for a collector)."""

    def __init__(self, segments: list[Segment], bits: list[int]) -> None:
        self._offsets = [seg.offset for seg in segments]
        self._segments = segments
        self._bytes = [
            b.to_bytes((seg.size + 7) // 8, "little") for seg, b in zip(segments, bits, strict=True)
        ]

    def __call__(self, docnum: int) -> bool:
        i = bisect_left(self._offsets, docnum + 1) - 1
        seg = self._segments[i]
        local = docnum - seg.offset
        rank = seg.size - 1 - seg.digit[local]
        return bool(self._bytes[i][rank >> 3] >> (rank & 7) & 1)
