"""A worker that stopped searching lets its searcher's maps of the index go (before the trim of
forum.ops.memory): they held every page its searches read in its resident set."""

from __future__ import annotations

from pathlib import Path

import pytest

from forum.ops import memory
from forum.search import indexer
from forum.search.backend import WhooshBackend
from forum.search.documents import SigScope
from forum.search.parsing import parse

from .test_search_processes import post_document

pytestmark = pytest.mark.search


def _search(backend: WhooshBackend) -> list[int]:
    found = backend.search(parse("modem"), SigScope(None), newest=True, offset=0, limit=3)
    return [hit.post_id for hit in found.hits]


def _mapped(path: Path) -> set[str]:
    """The files of the index folder this process has mapped."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("no /proc/self/maps to read this process's maps from")
    return {line.split()[-1] for line in maps.read_text().splitlines() if str(path) in line}


def test_a_searcher_unused_for_a_whole_turn_lets_its_maps_go(tmp_path: Path):
    path = tmp_path / "index"
    backend = WhooshBackend(path)
    backend.rebuild(post_document(n, f"modem cable number {n}") for n in range(1, 200))
    assert _search(backend) == [199, 198, 197]
    assert _mapped(path)
    assert backend.let_go_if_idle() is True  # searched since the last turn: kept, ask again
    assert _mapped(path)
    assert backend.let_go_if_idle() is False  # a whole turn without a search: let go
    assert _mapped(path) == set()
    assert backend.index._shared is None
    assert backend.let_go_if_idle() is False  # nothing held, nothing to ask again for
    assert _search(backend) == [199, 198, 197]  # the next search opens a new searcher
    assert _mapped(path)
    backend.close()


def test_an_apps_whoosh_backend_is_asked_before_each_trim(tmp_path: Path, make_app):
    app = make_app(INDEX_DIR=str(tmp_path / "index"), SEARCH_BACKEND="whoosh")
    backend = indexer.make_backend_named(app, "whoosh")
    assert isinstance(backend, WhooshBackend)
    backend.rebuild(post_document(n, f"modem cable number {n}") for n in range(1, 20))
    assert _search(backend) == [19, 18, 17]
    assert memory.release() is True  # used since the last turn
    assert backend.index._shared is not None
    memory.release()
    assert backend.index._shared is None
    backend.close()
