"""Whoosh queries the search needs that Whoosh lacks or makes slow.

- `Restrict` limits a query to a set of documents (the newest posts, or the few a filter leaves)
  by skipping its matcher from one of them to the next; block bounds keep working inside it.
- `Phrase` checks word positions itself: Whoosh's phrase matcher builds span objects for every
  position of every post that has all the words, about four times the work.
- `Exclude` is Whoosh's AndNot with a fix: whoosh3 3.54's AndNotMatcher checks a segment's first
  match against the excluded word only if that word's first posting is the same document, so
  "amiga -atari" found the first post of a segment that has both when an earlier post had
  "atari". (Relevance searches hid it by skipping; newest first and counts did not.)
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from whoosh import query
from whoosh.matching import AndNotMatcher, IntersectionMatcher, NullMatcher
from whoosh.matching.wrappers import WrappingMatcher
from whoosh.util import make_binary_tree

# whoosh3 annotates Matcher.next() and skip_to() as returning None, but its matchers return
# whether the tree moved (and may be replaced), which these wrappers pass on: the matchers here
# subclass WrappingMatcher as Any, and their own methods carry the types.
_WrappingMatcher: Any = WrappingMatcher


def leaves(searcher: Any) -> list[tuple[Any, int]]:
    """(segment searcher, offset of its document numbers) pairs."""
    return searcher.leaf_searchers()


def per_leaf(searcher: Any, docnums: Iterable[int]) -> dict[int, list[int]]:
    """Global document numbers as sorted local ones by segment offset."""
    offsets = [offset for _sub, offset in leaves(searcher)]
    out: dict[int, list[int]] = {offset: [] for offset in offsets}
    for docnum in sorted(docnums):
        offset = offsets[bisect_left(offsets, docnum + 1) - 1]
        out[offset].append(docnum - offset)
    return out


class Restrict(query.Query):
    """`child`, matching only the given documents (local numbers by segment offset)."""

    def __init__(self, child: query.Query, docs: dict[int, list[int]]) -> None:
        self.child = child
        self.ids_by_offset = docs  # (not `docs`: whoosh's Query.docs() is a method)

    def is_leaf(self) -> bool:
        return False

    def children(self) -> Iterator[query.Query]:
        return iter([self.child])

    def estimate_size(self, ixreader: Any) -> int:
        size = sum(len(ids) for ids in self.ids_by_offset.values())
        return min(size, self.child.estimate_size(ixreader))

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        offset = _offset_of(searcher)
        ids = self.ids_by_offset.get(offset) if offset is not None else None
        if not ids:
            return NullMatcher()
        m = _restricted_phrases(self.child, ids).matcher(searcher, context)
        if not m.is_active():
            return NullMatcher()
        return _RestrictMatcher(m, ids)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Restrict):
            return False
        return (other.child, other.ids_by_offset) == (self.child, self.ids_by_offset)

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        documents = sum(len(i) for i in self.ids_by_offset.values())
        return f"Restrict({self.child!r}, {documents} documents)"


class _RestrictMatcher(_WrappingMatcher):
    """The child's matches that are in `ids` (sorted): it skips the child to each of them, and
    passes block bounds through, so the collector still skips blocks that cannot score."""

    def __init__(self, child: Any, ids: list[int], i: int = 0) -> None:
        super().__init__(child)
        self._ids = ids
        self._i = i
        self._done = False
        self._sync()

    def _sync(self) -> bool:
        """Move the child to the next document that is in `ids`; True if it moved."""
        child, ids = self.child, self._ids
        moved = False
        while child.is_active():
            docnum = child.id()
            self._i = i = bisect_left(ids, docnum, self._i)
            if i == len(ids):
                break
            if ids[i] == docnum:
                return moved
            child.skip_to(ids[i])
            moved = True
        self._done = True
        return moved

    def is_active(self) -> bool:
        return not self._done and self.child.is_active()

    def next(self) -> bool:
        moved = self.child.next()
        return self._sync() or bool(moved)

    def skip_to(self, id: int) -> bool:
        if not self.is_active() or id <= self.child.id():
            return False
        self.child.skip_to(id)
        return self._sync() or True

    def skip_to_quality(self, minquality: float) -> int:
        skipped = self.child.skip_to_quality(minquality)
        self._sync()
        return skipped

    def replace(self, minquality: float = 0) -> Any:
        if not self.is_active():
            return NullMatcher()
        child = self.child.replace(minquality)
        if not child.is_active():
            return NullMatcher()
        if child is self.child:
            return self
        return _RestrictMatcher(child, self._ids, self._i)

    def copy(self) -> Any:
        return _RestrictMatcher(self.child.copy(), self._ids, self._i)

    def all_ids(self) -> Iterator[int]:
        while self.is_active():
            yield self.id()
            self.next()


def _restricted_phrases(q: query.Query, ids: list[int]) -> query.Query:
    """`q` with its phrases checking positions only at `ids` (a phrase matcher looks for its
    first match when it is made, which could read far outside them)."""
    if isinstance(q, Phrase):
        return Phrase(q.fieldname, q.words, q.slop, only=ids)
    if q.is_leaf():
        return q
    return q.apply(lambda sub: _restricted_phrases(sub, ids))


def _offset_of(sub: Any) -> int | None:
    parent = sub.get_parent()
    for leaf, offset in leaves(parent):
        if leaf is sub:
            return offset
    return None


class Phrase(query.Query):
    """The words in this order, each within `slop` positions after the one before (as Whoosh's
    Phrase: slop 1 means next to each other)."""

    boost = 1.0  # (Or.normalize reads it when it flattens an Or holding a phrase)

    def __init__(
        self, fieldname: str, words: Sequence[str], slop: int = 1, only: list[int] | None = None
    ) -> None:
        self.fieldname = fieldname
        self.words = list(words)
        self.slop = slop
        self.only = only  # check only these documents (sorted local numbers), if given

    def is_leaf(self) -> bool:
        return False

    def _and(self) -> query.Query:
        return query.And([query.Term(self.fieldname, w) for w in self.words])

    def children(self) -> Iterator[query.Query]:
        return iter([query.Term(self.fieldname, w) for w in self.words])

    def estimate_size(self, ixreader: Any) -> int:
        # (At most the posts with all the words; ranking.py sizes its windows by these.)
        return self._and().estimate_size(ixreader)

    def iter_all_terms(self, phrases: bool = True) -> Iterator[tuple[str, str]]:
        for word in self.words:
            yield self.fieldname, word

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        reader = searcher.reader()
        field = searcher.schema[self.fieldname]
        if any((self.fieldname, field.to_bytes(w)) not in reader for w in self.words):
            return NullMatcher()
        terms = [searcher.postings(self.fieldname, w) for w in self.words]
        both = make_binary_tree(IntersectionMatcher, terms)
        return _PhraseMatcher(both, terms, self.slop, self.only)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Phrase) and (
            other.fieldname,
            other.words,
            other.slop,
            other.only,
        ) == (self.fieldname, self.words, self.slop, self.only)

    def __hash__(self) -> int:
        return hash((self.fieldname, tuple(self.words), self.slop))

    def __repr__(self) -> str:
        return f"Phrase({self.fieldname!r}, {self.words!r}, slop={self.slop})"


class _PhraseMatcher(_WrappingMatcher):
    """The intersection of the words' postings, at documents where the positions line up.
    Scores and block bounds are the intersection's: a bound on the words bounds the phrase."""

    def __init__(self, child: Any, terms: list[Any], slop: int, only: list[int] | None) -> None:
        super().__init__(child)
        self._terms = terms
        self._slop = slop
        self._only = only
        self._i = 0
        self._done = False
        self._find()

    def _lined_up(self) -> bool:
        slop = self._slop
        ends = set(self._terms[0].value_as("positions"))
        for term in self._terms[1:]:
            ends = {
                p
                for p in term.value_as("positions")
                if any(p - d in ends for d in range(1, slop + 1))
            }
            if not ends:
                return False
        return True

    def _find(self) -> bool:
        child, only = self.child, self._only
        moved = False
        while child.is_active():
            if only is not None:  # go to the next document of `only`
                docnum = child.id()
                self._i = i = bisect_left(only, docnum, self._i)
                if i == len(only):
                    self._done = True
                    return moved
                if only[i] != docnum:
                    child.skip_to(only[i])
                    moved = True
                    continue
            if self._lined_up():
                return moved
            moved = child.next() or moved
        return moved

    def is_active(self) -> bool:
        return not self._done and self.child.is_active()

    def next(self) -> bool:
        moved = self.child.next()
        return self._find() or bool(moved)

    def skip_to(self, id: int) -> bool:
        if not self.is_active() or id <= self.child.id():
            return False
        self.child.skip_to(id)
        return self._find() or True

    def skip_to_quality(self, minquality: float) -> int:
        skipped = self.child.skip_to_quality(minquality)
        self._find()
        return skipped

    def replace(self, minquality: float = 0) -> Any:
        if not self.is_active():
            return NullMatcher()
        return self  # (the terms must stay the intersection's, to read their positions)

    def copy(self) -> Any:
        raise NotImplementedError("a phrase matcher is not copied")

    def all_ids(self) -> Iterator[int]:
        while self.is_active():
            yield self.id()
            self.next()


class Exclude(query.AndNot):
    """Matches of `a` that are not matches of `b` (see the module's docstring)."""

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        excluded = self.b.matcher(searcher, searcher.boolean_context())
        return _ExcludeMatcher(self.a.matcher(searcher, context), excluded)


class _ExcludeMatcher(AndNotMatcher):
    def _find_first(self) -> None:
        if self.a.is_active() and self.b.is_active():
            self._find_next()  # (moves b up to a's first match, and a past b's)
