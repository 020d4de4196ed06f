"""A server's threads share the process's one searcher: memory does not grow with threads."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from forum.search import indexer
from forum.search.backend import WhooshBackend

pytestmark = pytest.mark.search  # (tests/conftest.py: a real index)


def test_many_threads_searching_share_one_searcher(app: Flask, tmp_path: Path, f: Any) -> None:
    app.config["INDEX_DIR"] = str(tmp_path / "index")
    indexer.replace_backend(app, WhooshBackend(app.config["INDEX_DIR"]))
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("lounge", members=[ada]), "Threads", "Shared words: walrus.")
    results: list[bool] = []
    errors: list[BaseException] = []

    def search() -> None:
        try:
            client = app.test_client()
            for _ in range(5):
                page = client.get("/search", query_string={"q": "walrus"})
                results.append(page.status_code == 200 and f"/t/{topic.id}" in page.text)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert results == [True] * 40
    backend = indexer.get_backend(app)
    assert len(backend.index._searchers) == 1
    indexer.get_backend(app).close()
