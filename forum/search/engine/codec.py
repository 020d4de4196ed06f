"""Whoosh's on-disk format, written and read faster: a patch of whoosh3 3.54.0 exactly.

`_PostingsWriter._write_block` is a copy of whoosh3's private W3PostingsWriter._write_block,
and `_LeafMatcher` reads W3LeafMatcher's private state (`_maxid`, `_goto`, `_read_ids`, ...).
WHOOSH3_VERSION is the version they were written against; tests/test_search_codec.py fails when
another one is installed, saying what to compare (see also README.md beside this file).

Writing: whoosh3 3.54 pickles each block of up to 128 postings with pickle protocol 2, which has
no opcode for bytes: every posting's positions (a bytes value) is rebuilt on loading through a
call to `_codecs.encode`, so reading one block costs about 80 µs, 70 of them in those calls.
Protocol 5 loads the same block in about 9 µs and stores it in 40 % of the bytes. A search for a
word that most posts contain reads hundreds of blocks, so this was most of its time; indexing
writes them faster too. Unpickling reads any protocol, so the files stay Whoosh's format.

Reading: a posting list has no skip list, so Whoosh's matcher skips to a later document by
reading the header of every block in between (about 5 µs each; a word in most of 100,000 posts
has 500 blocks). Searching the newest posts skips to the end of every word's list, so the
matcher here reads the block headers of a list once, keeps where each block starts and ends
(segment files never change once written, and their names are unique), and finds the block of
a document, and the document in its block, by bisection.
"""

from __future__ import annotations

import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate
from pickle import dumps, load
from typing import Any

from whoosh.codec.whoosh3 import (
    COMPRESSION_MIN_SIZE,
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3LeafMatcher,
    W3PostingsWriter,
)
from whoosh.matching import Matcher, ReadTooFar
from whoosh.system import _INT_SIZE
from whoosh.util.numeric import length_to_byte

WHOOSH3_VERSION = "3.54.0"  # the whoosh3 this patch copies and reads the internals of
PROTOCOL = 5


class ForumCodec(W3Codec):
    def postings_writer(self, dbfile: Any, byteids: bool = False) -> W3PostingsWriter:
        return _PostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
        )

    def postings_reader(
        self, dbfile: Any, terminfo: Any, format_: Any, term: Any = None, scorer: Any = None
    ) -> Any:
        if terminfo.is_inlined():
            return super().postings_reader(dbfile, terminfo, format_, term=term, scorer=scorer)
        offset, length = terminfo.extent()
        return _LeafMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)


class _LeafMatcher(W3LeafMatcher):
    def skip_to(self, targetid: int) -> None:
        if not self.is_active():
            raise ReadTooFar
        if targetid <= self.id():
            return
        if targetid > self._maxid:  # in a later block: find it by its last document
            maxids, offsets = _blocks(self._postfile, self._startoffset, self._baseoffset)
            i = bisect_left(maxids, targetid)
            if i == len(maxids):
                self._atend = True
                return
            self._goto(offsets[i])
        if self._ids is None:
            self._read_ids()
        # The block's last document is at least the target: bisect within the block.
        self._i = bisect_left(self._ids, targetid, self._i)

    def copy(self) -> Matcher:
        raise NotImplementedError  # (as whoosh3's W3LeafMatcher: it has no copy either)


_BLOCKS: dict[tuple[str, int], tuple[list[int], list[int]]] = {}
MAX_LISTS = 50_000  # posting lists whose blocks are remembered (about 5 MB for long lists)


def _blocks(postfile: Any, start: int, position: int) -> tuple[list[int], list[int]]:
    """(last document, offset) of each block of the posting list at `start`."""
    name = getattr(postfile, "_name", None)
    if name is None:  # (not a segment's file: keep the blocks with the open file)
        cache = postfile.__dict__.setdefault("_forum_blocks", {})
        key: Any = start
    else:
        cache, key = _BLOCKS, (name, start)
    found = cache.get(key)
    if found is None:
        maxids: list[int] = []
        offsets: list[int] = []
        while True:
            postfile.seek(position)
            length = postfile.read_int()
            offsets.append(position)
            maxids.append(load(postfile.file)[1])  # the header: (count, last id, ...)
            position += _INT_SIZE + abs(length)
            if length < 0:  # the last block says so
                break
        if len(cache) >= MAX_LISTS:
            cache.clear()
        found = cache[key] = (maxids, offsets)
    return found


class _PostingsWriter(W3PostingsWriter):
    def _write_block(self, last: bool = False) -> None:
        # W3PostingsWriter._write_block of whoosh3 WHOOSH3_VERSION (BSD licence, Matt Chaput
        # and contributors), with PROTOCOL instead of 2 for the block's data.
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        data = (self._mini_ids(), self._mini_weights(), self._mini_values())
        databytes = dumps(data, PROTOCOL)
        comp = self._compression
        if len(databytes) < COMPRESSION_MIN_SIZE:
            comp = 0
        if comp:
            databytes = zlib.compress(databytes, comp)
        ids = self._ids
        infobytes = dumps(
            (
                len(ids),
                ids[-1],
                self._maxweight,
                comp,
                length_to_byte(self._minlength),
                length_to_byte(self._maxlength),
            ),
            2,
        )
        postfile = self._postfile
        blocklength = len(infobytes) + len(databytes)
        if last:
            blocklength *= -1  # the last block of a term says so with a negative length
        postfile.write_int(blocklength)
        postfile.write(infobytes)
        postfile.write(databytes)
        self._blockcount += 1
        self._new_block()


# --- whole posting lists ------------------------------------------------------------------------
# Reading a list a block at a time, without a matcher's step per posting (bitmaps.py): the
# block's data tuple (ids as deltas, weights, values) as W3LeafMatcher._read_data loads it.
def doc_ids(m: _LeafMatcher) -> array[int]:
    """Every document number of the posting list (deleted documents too)."""
    maxids, offsets = _blocks(m._postfile, m._startoffset, m._baseoffset)
    out = array("i")
    for position in offsets:
        m._goto(position)
        m._read_data()
        out.extend(accumulate(m._data[0]))
    return out


def weights_at(m: _LeafMatcher, docs: Sequence[int]) -> dict[int, float]:
    """The posting's weight in each of `docs` (ascending document numbers) that has one,
    reading only the blocks that may hold them."""
    maxids, offsets = _blocks(m._postfile, m._startoffset, m._baseoffset)
    out: dict[int, float] = {}
    i, n, block = 0, len(docs), 0
    while i < n:
        block = bisect_left(maxids, docs[i], block)
        if block == len(maxids):
            break
        j = bisect_right(docs, maxids[block], i)
        m._goto(offsets[block])
        m._read_data()
        m._read_weights()
        found = dict(zip(accumulate(m._data[0]), m._weights, strict=True))
        for doc in docs[i:j]:
            weight = found.get(doc)
            if weight is not None:
                out[doc] = weight
        i = j
        block += 1
    return out
