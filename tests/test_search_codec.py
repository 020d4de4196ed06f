"""The index's writer and matcher (forum/search/engine/codec.py) keep Whoosh's format."""

from __future__ import annotations

import importlib.metadata
import random
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from whoosh.codec.whoosh3 import W3LeafMatcher

from forum.search.backend import WhooshBackend
from forum.search.documents import PostDocument
from forum.search.engine import codec

pytestmark = pytest.mark.search  # (tests/conftest.py: a real index)

WORDS = ["modem", "amiga", "atari", "cable"] + [f"w{n}" for n in range(300)]


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Any:
    rng = random.Random(3)
    backend = WhooshBackend(Path(tmp_path_factory.mktemp("codec")) / "index")
    backend.rebuild(
        PostDocument(
            post_id=n,
            topic_id=n,
            sig_id=1,
            sig_slug="retro",
            author="ada",
            language="en",
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            is_first=False,
            title="",
            body=" ".join(rng.choices(WORDS, weights=[60, 30, 20, 5] + [1] * 300, k=40)),
        )
        for n in range(1, 3001)
    )
    yield backend
    backend.close()


def _matchers(backend: WhooshBackend, word: str) -> tuple[Any, Any]:
    reader = backend.index._searcher().reader()
    ours = reader.postings("body_en", word)
    info = reader.term_info("body_en", word)
    offset, length = info.extent()
    fmt = reader.schema["body_en"].format
    return ours, W3LeafMatcher(ours._postfile, offset, length, fmt)


@pytest.mark.parametrize("word", ["modem", "amiga", "cabl"])
def test_the_postings_read_back_as_whoosh_reads_them(backend, word):
    ours, whooshs = _matchers(backend, word)
    assert isinstance(ours, codec._LeafMatcher)
    read = []
    while whooshs.is_active():
        read.append((whooshs.id(), whooshs.weight(), whooshs.value_as("positions")))
        whooshs.next()
    mine = []
    while ours.is_active():
        mine.append((ours.id(), ours.weight(), ours.value_as("positions")))
        ours.next()
    assert mine == read
    assert len(read) > 3 * 128  # several blocks


@pytest.mark.parametrize("seed", range(5))
def test_skipping_lands_where_whooshs_matcher_lands(backend, seed):
    rng = random.Random(seed)
    ours, whooshs = _matchers(backend, "amiga")
    target = 0
    while whooshs.is_active():
        target += rng.choice([1, 2, 5, 40, 300])
        whooshs.skip_to(target)
        ours.skip_to(target)
        assert ours.is_active() == whooshs.is_active()
        if whooshs.is_active():
            assert (ours.id(), ours.weight()) == (whooshs.id(), whooshs.weight())
            assert ours.block_max_weight() == whooshs.block_max_weight()


def test_blocks_are_pickled_with_a_current_protocol(backend):
    ours, _whooshs = _matchers(backend, "modem")
    postfile = ours._postfile
    data = postfile.get(ours._dataoffset, ours._nextoffset - ours._dataoffset)
    raw = zlib.decompress(data) if ours._compression else data
    assert raw[:2] == b"\x80\x05"  # protocol 5


def test_the_installed_whoosh3_is_the_one_the_codec_patches():
    installed = importlib.metadata.version("whoosh3")
    assert installed == codec.WHOOSH3_VERSION, (
        f"whoosh3 {installed} is installed, but forum/search/engine/codec.py patches whoosh3 "
        f"{codec.WHOOSH3_VERSION}. Before moving the pin: compare _PostingsWriter._write_block "
        "with the new W3PostingsWriter._write_block (the copy must differ only in the pickle "
        "protocol of the block's data), check that W3LeafMatcher still has _maxid, _goto, "
        "_read_ids, _ids, _i, _postfile, _startoffset and _baseoffset, and go through the list "
        "in forum/search/engine/README.md (Exclude, the searcher refresh, the compound "
        "storage): each says what to try on a new version. Then set WHOOSH3_VERSION."
    )
