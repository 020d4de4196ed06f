"""The suite's search index rule (tests/conftest.py): a test not marked `search` has no index,
and searching there fails the test instead of finding nothing; a marked one has a real index."""

from __future__ import annotations

import pytest

from forum.search import indexer
from forum.search.backend import WhooshBackend

from .conftest import SearchesWithoutIndex


def _world(f):
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    f.topic(ada, sig, "Capybaras", "Posts about capybaras.")


def test_a_test_not_marked_search_fails_when_it_searches(app, client, f) -> None:
    _world(f)
    with pytest.raises(SearchesWithoutIndex, match="mark it"):
        client.get("/search", query_string={"q": "capybaras"})
    with pytest.raises(SearchesWithoutIndex):
        client.get("/api/v1/search", query_string={"q": "capybaras"})
    with pytest.raises(SearchesWithoutIndex):
        indexer.get_backend(app).indexed_post_ids()
    # Its posts still went through the search queue, drained with nothing written.
    assert indexer.backlog() == 0


@pytest.mark.search
def test_a_test_marked_search_searches_a_real_index(app, client, f) -> None:
    _world(f)
    assert isinstance(indexer.get_backend(app), WhooshBackend)
    # (The worker's index may still hold an earlier test's posts: this one's are in it too.)
    assert indexer.readable_post_ids() <= indexer.get_backend(app).indexed_post_ids()
    assert "Capybaras" in client.get("/search", query_string={"q": "capybaras"}).text
