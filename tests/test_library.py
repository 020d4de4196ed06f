"""SIG libraries: sections by the SIG's sysops, librarians they appoint, uploads that wait for
a librarian, the discussion topic started on approval, versions that keep history and counts,
browsing, `in:library` search, the pulse's figures, and the SIG's visibility everywhere."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from forum.db import transaction
from forum.errors import Forbidden, NotFound
from forum.extensions import db
from forum.files import library, services
from forum.files.models import APPROVED, PENDING, LibraryFile, LibraryVersion
from forum.topics.models import Topic

from .serverkit import run_forum_script


@pytest.fixture(autouse=True)
def store(app: Flask, tmp_path: Path) -> Any:
    app.config["UPLOADS_URL"] = str(tmp_path / "uploads")
    services._STORAGE.pop(app)
    yield services.storage()
    services._STORAGE.pop(app)


ROM = b'10 PRINT "HELLO"\n20 GOTO 10\n'


@pytest.fixture
def retro(f: Any) -> dict[str, Any]:
    sysop = f.user("sysop")
    ana = f.user("ana")  # uploads
    lib = f.user("libby")  # the librarian
    reader = f.user("reader")
    sig = f.sig("retro", name="Retro Computing", members=[ana, lib, reader], sysops=[sysop])
    games = library.create_section(sysop, sig.id, "Games", "Playable things")
    tools = library.create_section(sysop, sig.id, "Tools")
    library.appoint_librarian(sysop, sig.id, "libby")
    return {
        "sysop": sysop, "ana": ana, "lib": lib, "reader": reader, "sig": sig,
        "games": games, "tools": tools,
    }  # fmt: skip


def _upload(
    client: Any, sig: Any, section: Any, title: str, data: bytes = ROM, **extra: str
) -> Any:
    return client.post(
        f"/s/{sig.slug}/library/upload",
        data={
            "file": (io.BytesIO(data), extra.pop("name", "hello.bas")),
            "title": title,
            "section": str(section.id) if section else "0",
            "description": extra.pop("description", "A **classic** loop."),
            "keywords": extra.pop("keywords", "basic, loop, c64"),
            "csrf_token": client.csrf_token(),
        },
        content_type="multipart/form-data",
    )


def _newest() -> LibraryFile:
    entry = db.session.scalars(select(LibraryFile).order_by(LibraryFile.id.desc())).first()
    assert entry is not None
    return entry


def test_a_file_waits_for_a_librarian_is_found_by_keyword_and_downloaded(
    retro: dict[str, Any], make_client: Any
) -> None:
    sig = retro["sig"]
    ana = make_client()
    ana.login(retro["ana"])
    response = _upload(ana, sig, retro["games"], "Hello loop")
    assert response.status_code == 302
    entry = _newest()
    assert entry.status == PENDING and entry.topic_id is None
    page = f"/s/{sig.slug}/library/{entry.id}"
    # Waiting: its uploader and the librarians see it; other members do not.
    assert "waits for a librarian" in ana.get(page).get_data(as_text=True)
    reader = make_client()
    reader.login(retro["reader"])
    assert reader.get(page).status_code == 404
    assert reader.get(page + "/download").status_code == 404
    assert "Hello loop" not in reader.get(f"/s/{sig.slug}/library").get_data(as_text=True)
    # A member who is no librarian cannot approve it.
    assert reader.form(page + "/approve").status_code == 404
    lib = make_client()
    lib.login(retro["lib"])
    listing = lib.get(f"/s/{sig.slug}/library").get_data(as_text=True)
    assert "Waiting for a librarian" in listing and "Hello loop" in listing
    assert lib.form(page + "/approve").status_code == 302
    entry = db.session.get(LibraryFile, entry.id)
    assert entry.status == APPROVED and entry.approved_by_id == retro["lib"].id
    topic = db.session.get(Topic, entry.topic_id)
    assert topic is not None and topic.title == "Hello loop" and topic.user_id == retro["ana"].id
    # Another member finds it by keyword, and downloads it.
    found = reader.get("/search?q=in:library+c64").get_data(as_text=True)
    assert "Hello loop" in found and "Retro Computing" in found
    assert "Hello loop" not in reader.get("/search?q=in:library+amiga").get_data(as_text=True)
    download = reader.get(page + "/download")
    assert download.status_code == 200 and download.data == ROM
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in download.headers["Content-Security-Policy"]
    assert db.session.get(LibraryFile, entry.id).download_count == 1
    shown = reader.get(page).get_data(as_text=True)
    assert "<strong>classic</strong>" in shown and "Talk about this file" in shown


def _approved_file(retro: dict[str, Any]) -> LibraryFile:
    return library.upload_to_library(
        retro["lib"], retro["sig"].id, None, "Disk copier", "", "copy", io.BytesIO(ROM), "c.bas"
    )


def _counts(entry: LibraryFile) -> tuple[int, int]:
    """The file's download count and its current version's (read in a new transaction: the
    writer thread and the other process write in their own)."""
    db.session.rollback()
    file = db.session.get(LibraryFile, entry.id)
    assert file is not None
    version = db.session.scalar(
        select(LibraryVersion.download_count).where(LibraryVersion.file_id == entry.id)
    )
    return file.download_count, version


def test_downloads_are_written_by_the_process_writer_not_by_the_download(
    app: Flask, retro: dict[str, Any], make_client: Any
) -> None:
    app.config["DOWNLOAD_FLUSH_SECONDS"] = 0.2
    entry = _approved_file(retro)
    reader = make_client()
    reader.login(retro["reader"])
    assert reader.get(f"/s/retro/library/{entry.id}/download").status_code == 200
    # No later download is needed: the process's writer writes it on its own.
    deadline = time.monotonic() + 15
    while _counts(entry) != (1, 1):
        if time.monotonic() > deadline:
            pytest.fail(f"the downloads were not written: {_counts(entry)}")
        time.sleep(0.05)
    assert not services._DOWNLOADS.require(app).pending


def test_a_download_count_that_cannot_be_written_is_kept_for_the_next_write(
    app: Flask, retro: dict[str, Any], make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = _approved_file(retro)
    reader = make_client()
    reader.login(retro["reader"])
    write = services._write_downloads
    failures = iter([OperationalError("UPDATE", {}, Exception("database is locked"))])

    def flaky(counts: dict[tuple[int, int], int]) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        write(counts)

    monkeypatch.setattr(services, "_write_downloads", flaky)
    # The download is served though its count could not be written ...
    assert reader.get(f"/s/retro/library/{entry.id}/download").data == ROM
    assert _counts(entry) == (0, 0)
    # ... and that count goes with the next one.
    assert reader.get(f"/s/retro/library/{entry.id}/download").data == ROM
    assert _counts(entry) == (2, 2)


def test_a_process_writes_the_downloads_it_holds_when_it_exits(
    app: Flask, retro: dict[str, Any], base_config: dict[str, Any], tmp_path: Path
) -> None:
    entry = _approved_file(retro)
    version_id = db.session.scalar(
        select(LibraryVersion.id).where(LibraryVersion.file_id == entry.id)
    )
    script = f"""
from forum import create_app
from forum.files import services
app = create_app({{"DATABASE_URL": {base_config["DATABASE_URL"]!r}, "SECRET_KEY": "x" * 32,
    "INDEX_DIR": {str(tmp_path / "index")!r}, "SEARCH_SYNC_ON_START": False, "REDIS_URL": None,
    "DOWNLOAD_FLUSH_SECONDS": 3600}})
with app.test_request_context():
    for _ in range(2):
        services.count_download({entry.id}, {version_id})
print("counted", flush=True)
"""
    run_forum_script(script, printed="counted")
    assert _counts(entry) == (2, 2)


def test_a_stopped_writer_ends_after_its_write_holding_no_connection(
    app: Flask, retro: dict[str, Any], make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app fixture stops the writer before it closes the app's connection pool: a
    connection the thread held then would go back to the closed pool and be left to the
    garbage collector, unclosed (psycopg's ResourceWarning, which fails whichever test runs
    next). Stopped in the middle of a write, made slow to widen the moment, the thread ends that
    write and closes its session first."""
    app.config["DOWNLOAD_FLUSH_SECONDS"] = 0.05
    entry = _approved_file(retro)
    write, writing = services._write_downloads, threading.Event()

    def slow_write(counts: dict[tuple[int, int], int]) -> None:
        with transaction():
            write(counts)
            writing.set()
            time.sleep(0.5)  # the thread's transaction, and its connection, still open

    monkeypatch.setattr(services, "_write_downloads", slow_write)
    reader = make_client()
    reader.login(retro["reader"])
    assert reader.get(f"/s/retro/library/{entry.id}/download").status_code == 200
    assert writing.wait(timeout=20), "the writer did not write"
    thread = services._DOWNLOADS.require(app)._thread
    assert thread is not None and thread.is_alive()
    assert services.stop_download_writer(app)
    assert not thread.is_alive()
    assert _counts(entry) == (1, 1)
    db.session.remove()  # (the test's own connection)
    assert db.engine.pool.checkedout() == 0


def test_a_process_that_exits_while_its_writer_writes_waits_for_that_write(
    app: Flask, retro: dict[str, Any], base_config: dict[str, Any], tmp_path: Path
) -> None:
    """A page worker that ends (gunicorn's worker exit) while the writer thread is in the middle
    of its write: the counts the thread took are no longer held, so the exit's own write finds
    none; the process waits for the thread's write before it ends, instead of cutting it off
    (those counts lost, the connection never closed). The write is made slow to widen the
    moment."""
    entry = _approved_file(retro)
    version_id = db.session.scalar(
        select(LibraryVersion.id).where(LibraryVersion.file_id == entry.id)
    )
    script = f"""
import threading, time
from forum import create_app
from forum.db import transaction
from forum.files import services
app = create_app({{"DATABASE_URL": {base_config["DATABASE_URL"]!r}, "SECRET_KEY": "x" * 32,
    "INDEX_DIR": {str(tmp_path / "index")!r}, "SEARCH_SYNC_ON_START": False, "REDIS_URL": None,
    "DOWNLOAD_FLUSH_SECONDS": 0.05}})
write, writing = services._write_downloads, threading.Event()
def slow_write(counts):
    with transaction():
        write(counts)
        writing.set()
        time.sleep(1)  # the thread's transaction still open
services._write_downloads = slow_write
with app.test_request_context():
    for _ in range(2):
        services.count_download({entry.id}, {version_id})
assert writing.wait(30)
print("exiting mid-write", flush=True)
"""
    run_forum_script(script, printed="exiting mid-write")
    assert _counts(entry) == (2, 2)


def test_a_librarians_own_upload_goes_in_at_once(retro: dict[str, Any], make_client: Any) -> None:
    lib = make_client()
    lib.login(retro["lib"])
    assert _upload(lib, retro["sig"], retro["tools"], "Disk copier").status_code == 302
    entry = _newest()
    assert entry.status == APPROVED and entry.topic_id is not None


def test_a_private_sigs_library_is_invisible_to_outsiders(f: Any, make_client: Any) -> None:
    owner = f.user("owner")
    lair = f.sig("lair", visibility="private", sysops=[owner])
    entry = library.upload_to_library(
        owner, lair.id, None, "Secret tool", "", "secret", io.BytesIO(ROM), "tool.bas"
    )
    assert entry.status == APPROVED
    version = db.session.get(LibraryVersion, entry.current_version_id)
    urls = [
        "/s/lair/library",
        f"/s/lair/library/{entry.id}",
        f"/s/lair/library/{entry.id}/download",
        f"/s/lair/library/{entry.id}/v/1/download",
        services.file_url(version.sha256, version.name),
    ]
    outsider = make_client()
    outsider.login(f.user("eve"))
    for client in (make_client(), outsider):
        for url in urls:
            assert client.get(url).status_code == 404, url
        assert "Secret tool" not in client.get("/search?q=in:library+secret").get_data(as_text=True)
    insider = make_client()
    insider.login(owner)
    for url in urls:
        assert insider.get(url).status_code == 200, url


def test_a_members_only_library_asks_outsiders_to_join(f: Any, make_client: Any) -> None:
    owner = f.user("owner")
    club = f.sig("club", visibility="members", sysops=[owner])
    entry = library.upload_to_library(
        owner, club.id, None, "Club tool", "", "", io.BytesIO(ROM), "tool.bas"
    )
    outsider = make_client()
    outsider.login(f.user("eve"))
    assert outsider.get("/s/club/library").status_code == 403
    assert outsider.get(f"/s/club/library/{entry.id}/download").status_code == 404


def test_new_versions_keep_history_and_counts(retro: dict[str, Any], make_client: Any) -> None:
    entry = library.upload_to_library(
        retro["lib"],
        retro["sig"].id,
        retro["tools"].id,
        "Copier",
        "",
        "",
        io.BytesIO(ROM),
        "c1.bas",
    )
    reader = make_client()
    reader.login(retro["reader"])
    url = f"/s/retro/library/{entry.id}"
    for _ in range(3):
        assert reader.get(url + "/download").status_code == 200
    library.add_version(retro["lib"], entry.id, io.BytesIO(ROM + b"30 END\n"), "c2.bas", "Ends now")
    assert reader.get(url + "/download").data.endswith(b"30 END\n")
    assert reader.get(url + "/v/1/download").data == ROM  # the old one is still there
    versions = list(
        db.session.scalars(
            select(LibraryVersion)
            .where(LibraryVersion.file_id == entry.id)
            .order_by(LibraryVersion.number)
        )
    )
    assert [(v.number, v.download_count, v.retired_at is not None) for v in versions] == [
        (1, 4, True),
        (2, 1, False),
    ]
    assert db.session.get(LibraryFile, entry.id).download_count == 5
    page = reader.get(url).get_data(as_text=True)
    assert "c2.bas" in page and "c1.bas" in page and "Ends now" in page and "replaced" in page
    # Only librarians add versions.
    with pytest.raises(Forbidden):
        library.add_version(retro["reader"], entry.id, io.BytesIO(b"x"), "x.bas")


def test_librarians_edit_move_and_retire(retro: dict[str, Any], make_client: Any) -> None:
    entry = library.upload_to_library(
        retro["lib"],
        retro["sig"].id,
        retro["games"].id,
        "Pong",
        "",
        "",
        io.BytesIO(ROM),
        "pong.bas",
    )
    lib = make_client()
    lib.login(retro["lib"])
    response = lib.form(
        f"/s/retro/library/{entry.id}/edit",
        {
            "title": "Pong (1972)",
            "section": str(retro["tools"].id),
            "keywords": "paddle Ball",
            "description": "Two paddles.",
        },
    )
    assert response.status_code == 302
    entry = db.session.get(LibraryFile, entry.id)
    assert (entry.title, entry.section_id, entry.keywords) == (
        "Pong (1972)",
        retro["tools"].id,
        "paddle ball",
    )
    games = lib.get(f"/s/retro/library?section={retro['games'].id}").get_data(as_text=True)
    tools = lib.get(f"/s/retro/library?section={retro['tools'].id}").get_data(as_text=True)
    assert "Pong (1972)" not in games.split("<h2>Games</h2>")[-1] and "Pong (1972)" in tools
    assert lib.form(f"/s/retro/library/{entry.id}/retire", {"value": "retire"}).status_code == 302
    assert (
        "Pong (1972)"
        not in lib.get("/s/retro/library").get_data(as_text=True).split("All files</h2>")[-1]
    )
    assert lib.form(f"/s/retro/library/{entry.id}/retire", {"value": "restore"}).status_code == 302
    assert db.session.get(LibraryFile, entry.id).status == APPROVED
    # A member who is no librarian may not edit.
    reader = make_client()
    reader.login(retro["reader"])
    assert (
        reader.form(f"/s/retro/library/{entry.id}/edit", {"title": "Mine now"}).status_code == 403
    )


def test_sorting_by_newest_and_most_downloaded(retro: dict[str, Any], make_client: Any) -> None:
    older = library.upload_to_library(
        retro["lib"], retro["sig"].id, None, "Older popular", "", "", io.BytesIO(b"a\n"), "a.txt"
    )
    library.upload_to_library(
        retro["lib"], retro["sig"].id, None, "Newer quiet", "", "", io.BytesIO(b"b\n"), "b.txt"
    )
    reader = make_client()
    reader.login(retro["reader"])
    reader.get(f"/s/retro/library/{older.id}/download")
    newest = reader.get("/s/retro/library").get_data(as_text=True)
    popular = reader.get("/s/retro/library?sort=downloads").get_data(as_text=True)
    assert newest.index("Newer quiet") < newest.index("Older popular")
    assert popular.index("Older popular") < popular.index("Newer quiet")


def test_a_turned_away_file_goes(retro: dict[str, Any]) -> None:
    entry = library.upload_to_library(
        retro["ana"], retro["sig"].id, None, "Junk", "", "", io.BytesIO(b"junk\n"), "junk.txt"
    )
    library.reject_file(retro["lib"], entry.id)
    assert db.session.scalar(select(func.count()).select_from(LibraryFile)) == 0
    assert services.reap(services.utcnow() + services.timedelta(hours=25))["files"] == 1


def test_sections_and_librarians_are_the_sig_sysops(
    retro: dict[str, Any], make_client: Any
) -> None:
    lib = make_client()
    lib.login(retro["lib"])
    assert lib.get("/s/retro/library/manage").status_code == 403
    with pytest.raises(Forbidden):
        library.create_section(retro["lib"], retro["sig"].id, "Mine")
    sysop = make_client()
    sysop.login(retro["sysop"])
    page = sysop.get("/s/retro/library/manage").get_data(as_text=True)
    assert "libby" in page and "Games" in page
    response = sysop.form("/s/retro/library/manage", {"what": "section", "section-name": "Demos"})
    assert response.status_code == 302
    assert "Demos" in sysop.get("/s/retro/library").get_data(as_text=True)
    response = sysop.form(
        "/s/retro/library/manage", {"what": "librarian", "librarian-username": "nobody-here"}
    )
    assert response.status_code == 400 and "is not a member" in response.get_data(as_text=True)
    assert sysop.form(f"/s/retro/library/librarians/{retro['lib'].id}/dismiss").status_code == 302
    entry = library.upload_to_library(
        retro["ana"], retro["sig"].id, None, "After", "", "", io.BytesIO(b"x\n"), "x.txt"
    )
    # A waiting file is not there for members who do not curate the library: a former
    # librarian now included.
    for member in (retro["reader"], retro["lib"]):
        db.session.expire_all()
        with pytest.raises(NotFound):
            library.approve_file(db.session.get(type(member), member.id), entry.id)


def test_uploading_needs_membership_and_refuses_hostile_files(
    retro: dict[str, Any], f: Any, make_client: Any
) -> None:
    outsider = make_client()
    outsider.login(f.user("eve"))
    assert _upload(outsider, retro["sig"], None, "Drive-by").status_code == 403
    ana = make_client()
    ana.login(retro["ana"])
    response = _upload(
        ana, retro["sig"], None, "Evil", b"<svg onload=alert(1)></svg>", name="x.svg"
    )
    assert response.status_code == 400 and "HTML and SVG" in response.get_data(as_text=True)
    response = _upload(ana, retro["sig"], None, "x")
    assert response.status_code == 400 and "at least 3 characters" in response.get_data(
        as_text=True
    )
    assert db.session.scalar(select(func.count()).select_from(LibraryFile)) == 0


def test_the_pulse_counts_the_library(retro: dict[str, Any], make_client: Any) -> None:
    entry = library.upload_to_library(
        retro["lib"], retro["sig"].id, None, "Counted", "", "", io.BytesIO(ROM), "c.bas"
    )
    reader = make_client()
    reader.login(retro["reader"])
    reader.get(f"/s/retro/library/{entry.id}/download")
    sysop = make_client()
    sysop.login(retro["sysop"])
    page = sysop.get("/s/retro/pulse").get_data(as_text=True)
    assert "1 file uploaded in this range" in page and "1 download in all" in page
    assert "Counted" in page


def test_library_pages_take_a_fixed_number_of_queries(
    retro: dict[str, Any], make_client: Any, count_queries: Any
) -> None:
    reader = make_client()
    reader.login(retro["reader"])
    # A first page: the process's first also asks for the newest announcement (kept 10 s).
    reader.get("/")

    def measure() -> int:
        with count_queries() as counter:
            assert reader.get("/s/retro/library").status_code == 200
        return counter.count

    library.upload_to_library(
        retro["lib"], retro["sig"].id, None, "One", "", "", io.BytesIO(b"1\n"), "1.txt"
    )
    few = measure()
    for n in range(2, 8):
        library.upload_to_library(
            retro["lib"],
            retro["sig"].id,
            retro["games"].id,
            f"File {n}",
            "",
            "",
            io.BytesIO(f"{n}\n".encode()),
            f"{n}.txt",
        )
    assert measure() == few
