"""Uploads: storage (a directory, S3 through moto's server), images re-encoded, types sniffed,
names cleaned, files served under the permission of the post that uses them, quotas, the
reaper, hostile files, and files in posts (composer, sanitizer, attachments, search)."""

from __future__ import annotations

import gc
import hashlib
import io
import os
import re
import socket
import subprocess
import sys
import threading
import time
import warnings
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from forum import content
from forum.admin.services import update_settings
from forum.errors import Invalid
from forum.extensions import db
from forum.files import processing, services
from forum.files.models import Blob, Upload
from forum.files.storage import LocalStorage, S3Storage, key_for
from forum.moderation import services as moderation
from forum.search import indexer
from forum.search.backend import WhooshBackend
from forum.timeutil import utcnow
from forum.topics import services as topics
from forum.topics.models import Post

SHA = re.compile(r"/files/([0-9a-f]{64})/")


# --- helpers ----------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def store(app: Flask, tmp_path: Path) -> Iterator[LocalStorage]:
    """A store of its own for each test, so what it leaves can be looked at."""
    app.config["UPLOADS_URL"] = str(tmp_path / "uploads")
    services._STORAGE.pop(app)
    yield services.storage()  # type: ignore[misc]
    services._STORAGE.pop(app)


def png(width: int = 64, height: int = 48, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (1600, 1200), "blue")
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x0131] = "SecretSoftware"  # Software
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.5)
    gps[3] = "E"
    gps[4] = (13.0, 24.0, 1.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    data = out.getvalue()
    assert b"SpyCam" in data
    return data


def gif(frames: int = 1) -> bytes:
    """A 1×1 GIF with this many frames, written by hand (Pillow would take long to make 50,000)."""
    head = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
    loop = b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = b"!\xf9\x04\x00\x01\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00"
    return head + (loop if frames > 1 else b"") + frame * frames + b";"


def upload(client: Any, data: bytes, name: str, sig: Any = None) -> Any:
    fields = {"file": FileStorage(io.BytesIO(data), name), "csrf_token": client.csrf_token()}
    if sig is not None:
        fields["sig"] = str(sig.id)
    # Encoded here, in memory: Werkzeug's test client spools a large body to a temporary file
    # it never closes.
    boundary, body = encode_multipart(MultiDict(fields))
    return client.post(
        "/files/upload",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"Accept": "application/json"},
    )


def uploaded(client: Any, data: bytes, name: str, sig: Any = None) -> dict[str, Any]:
    response = upload(client, data, name, sig)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["upload"]  # type: ignore[no-any-return]


def refused(client: Any, data: bytes, name: str, sig: Any = None) -> str:
    response = upload(client, data, name, sig)
    assert response.status_code == 400, response.get_data(as_text=True)
    return response.get_json()["error"]["message"]  # type: ignore[no-any-return]


def leftovers(store: LocalStorage) -> list[str]:
    """Temporary files left in the store (a write that did not finish)."""
    return [k for k in store.keys() if k.rsplit("/", 1)[-1].startswith(".part-")]


def read(store: Any, key: str) -> bytes:
    with store.open(key) as fh:
        return fh.read()  # type: ignore[no-any-return]


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def world(f: Any, client: Any) -> dict[str, Any]:
    alice = f.user("alice")
    bob = f.user("bob")
    sig = f.sig("photos", members=[alice, bob])
    topic = f.topic(alice, sig, "Antennas", "Show your antennas.")
    client.login(alice)
    return {"alice": alice, "bob": bob, "sig": sig, "topic": topic}


# --- processing: sniffing, names, images ------------------------------------------------------
@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (png(), "image/png"),
        (b"%PDF-1.7\n...", "application/pdf"),
        (b"PK\x03\x04rest", "application/zip"),
        (b"plain words\nand more", "text/plain"),
        (b"<!DOCTYPE html><html><script>alert(1)</script>", "text/html"),
        (b"hello <script>alert(1)</script>", "text/html"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">', "text/html"),
        (b'<svg onload="alert(1)">', "image/svg+xml"),
        (b"MZ\x90\x00binary", "application/x-msdownload"),
        (b"\x00\x01\x02binary", "application/octet-stream"),
    ],
)
def test_types_come_from_the_bytes(head: bytes, expected: str) -> None:
    assert processing.sniff(head) == expected


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("photo.png", "image/png", "photo.png"),
        ("../../etc/passwd", "text/plain", "passwd"),
        ("..\\..\\boot.ini", "text/plain", "boot.ini"),
        ("a\x00b.txt", "text/plain", "ab.txt"),
        ("invoice\u202egpj.exe", "application/x-msdownload", "invoicegpj.exe"),
        ("report\u202etxt.html", "text/plain", "reporttxt_html.txt"),
        ("page.html", "text/plain", "page_html.txt"),
        ("photo.html", "image/png", "photo_html.png"),
        ("...hidden", "text/plain", "hidden"),
        ("", "image/png", "file.png"),
        ("x.jpeg", "image/jpeg", "x.jpeg"),
    ],
)
def test_names_are_cleaned(name: str, content_type: str, expected: str) -> None:
    assert processing.clean_name(name, content_type) == expected


def test_a_very_long_name_keeps_its_extension() -> None:
    cleaned = processing.clean_name("a" * 10_000 + ".png", "image/png")
    assert len(cleaned) == processing.MAX_NAME and cleaned.endswith(".png")


def test_images_are_reencoded_without_exif_or_gps(app: Flask) -> None:
    done = processing.process_image(jpeg_with_gps(), processing.Limits())
    assert done.content_type == "image/jpeg" and (done.width, done.height) == (1600, 1200)
    assert b"SpyCam" not in done.data and b"SecretSoftware" not in done.data
    again = Image.open(io.BytesIO(done.data))
    assert not again.getexif() and not again.getexif().get_ifd(0x8825)
    assert set(done.thumbs) == {"s", "m"}
    small = Image.open(io.BytesIO(done.thumbs["s"]))
    assert small.format == "WEBP" and max(small.size) == 320


# --- storage ----------------------------------------------------------------------------------
class Breaks(io.RawIOBase):
    """A stream that gives some bytes, then fails, like a connection cut off half-way."""

    def __init__(self, before: int) -> None:
        self.left = before

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.left <= 0:
            raise ConnectionResetError("cut off")
        n = min(len(buffer), self.left, 4096)
        buffer[:n] = b"x" * n
        self.left -= n
        return n


def test_a_write_cut_off_half_way_leaves_nothing(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "store")
    with pytest.raises(ConnectionResetError):
        store.put(key_for("ab" * 32), io.BufferedReader(Breaks(100_000)), "text/plain")
    assert list(store.keys()) == []
    store.put(key_for("ab" * 32), b"whole", "text/plain")
    assert read(store, key_for("ab" * 32)) == b"whole"
    # The same key again changes nothing (content addresses: the same bytes).
    store.put(key_for("ab" * 32), b"other", "text/plain")
    assert read(store, key_for("ab" * 32)) == b"whole"


def test_the_reaper_sweeps_what_a_killed_writer_left(world: Any, store: LocalStorage) -> None:
    """A process killed in the middle of a write leaves its temporary file (its clean-up never
    ran); it is never served, and the reaper removes it a day later."""
    stale = store.root / "ab" / "cd" / ".part-killed"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half")
    fresh = store.root / "ab" / "cd" / ".part-writing"
    fresh.write_bytes(b"still being written")
    day_ago = time.time() - 25 * 3600
    os.utime(stale, (day_ago, day_ago))
    services.reap()
    assert not stale.exists() and fresh.exists()


def test_keys_cannot_leave_the_store(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "store")
    with pytest.raises(ValueError):
        store.put("../outside", b"x", "text/plain")


def test_an_upload_cut_off_half_way_is_refused_and_writes_nothing(
    world: Any, client: Any, store: LocalStorage
) -> None:
    token = client.csrf_token()
    boundary = "XyZ"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode() + png()[:40]
    with warnings.catch_warnings():
        # Werkzeug leaves the half-read part's temporary file to the garbage collector.
        warnings.simplefilter("ignore", ResourceWarning)
        response = client.post(
            "/files/upload",
            data=body,
            content_type=f"multipart/form-data; boundary={boundary}",
            headers={"Accept": "application/json", "Content-Length": str(len(body) + 5000)},
        )
        gc.collect()
    assert response.status_code == 400
    assert count(Upload) == 0 and count(Blob) == 0
    assert list(store.keys()) == []


# --- uploading through the composer's endpoint -------------------------------------------------
def test_a_photo_is_kept_reencoded_and_served_without_its_gps(
    world: Any, client: Any, store: LocalStorage
) -> None:
    made = uploaded(client, jpeg_with_gps(), "antenna.jpg", world["sig"])
    assert made["is_image"] and made["name"] == "antenna.jpg"
    assert made["markdown"] == f"![antenna.jpg]({made['url']})"
    sha = SHA.search(made["url"]).group(1)  # type: ignore[union-attr]
    kept = read(store, key_for(sha))
    assert hashlib.sha256(kept).hexdigest() == sha
    assert b"SpyCam" not in kept
    response = client.get(made["url"])
    assert response.status_code == 200 and response.data == kept
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("inline")
    thumb = client.get(made["url"] + "?s=m")
    assert thumb.headers["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb.data)).size == (1024, 768)
    # Content addresses: an ETag, and a 304 for a reader who has it.
    again = client.get(made["url"], headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert not leftovers(store)


def test_other_files_are_served_as_inert_attachments(world: Any, client: Any) -> None:
    made = uploaded(client, b"antenna = yagi\nelements = 5\n", "config.html", world["sig"])
    assert not made["is_image"] and made["name"] == "config_html.txt"
    assert made["markdown"].startswith("[config\\_html.txt](/files/")
    response = client.get(made["url"])
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # Whatever name the address is given, the file is saved as text.
    renamed = client.get(made["url"].replace("config_html.txt", "page.html"))
    assert 'filename="page_html.txt"' in renamed.headers["Content-Disposition"]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"<html><body><script>alert(1)</script></body></html>", "notes.txt", "HTML and SVG"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "logo.svg",
            "HTML and SVG",
        ),
        (b"GIF89a<script>alert(document.cookie)</script>", "cat.gif", "could not be read"),
        (png(1, 100_000), "tall.png", "too wide or too tall"),
        (gif(50_000), "forever.gif", "too many frames"),
        (b"MZ\x90\x00" + b"\x00" * 100, "setup.exe", "not accepted"),
        (b"", "empty.txt", "empty"),
    ],
    ids=[
        "html",
        "svg-with-script",
        "gif-header-then-script",
        "1x100000",
        "50000-frames",
        "exe",
        "empty",
    ],
)
def test_hostile_files_are_refused_with_a_clear_error(
    world: Any, client: Any, store: LocalStorage, data: bytes, name: str, message: str
) -> None:
    started = time.monotonic()
    assert message in refused(client, data, name, world["sig"])
    assert time.monotonic() - started < 5
    assert count(Upload) == 0 and count(Blob) == 0 and list(store.keys()) == []


def test_a_polyglot_gif_keeps_only_its_pixels(world: Any, client: Any, store: LocalStorage) -> None:
    payload = b"<html><script>alert(document.cookie)</script></html>"
    made = uploaded(client, gif(1) + payload, "polyglot.gif", world["sig"])
    response = client.get(made["url"])
    assert response.headers["Content-Type"] == "image/gif"
    assert b"<script" not in response.data and b"<html" not in response.data
    assert Image.open(io.BytesIO(response.data)).size == (1, 1)


def test_a_decompression_bomb_image_is_refused(world: Any, client: Any) -> None:
    big = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(big, "PNG")  # 100 million pixels in a few KB
    assert len(big.getvalue()) < 100_000
    message = refused(client, big.getvalue(), "bomb.png", world["sig"])
    assert "too many pixels" in message


def test_a_zip_bomb_is_kept_as_it_is_and_never_opened(world: Any, client: Any) -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("zeros.bin", b"\x00" * 50_000_000)
    data = bomb.getvalue()
    assert len(data) < 200_000
    started = time.monotonic()
    made = uploaded(client, data, "bomb.zip", world["sig"])
    assert time.monotonic() - started < 5
    response = client.get(made["url"])
    assert response.data == data
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"].startswith("attachment;")


def test_the_allow_list_is_a_site_setting(world: Any, client: Any, f: Any) -> None:
    update_settings(f.sysop("boss"), {"upload_types": "image/png"})
    assert "not accepted" in refused(client, b"%PDF-1.4 tiny", "a.pdf", world["sig"])
    uploaded(client, png(), "ok.png", world["sig"])


def test_larger_than_the_limit_is_refused(world: Any, client: Any, f: Any) -> None:
    update_settings(f.sysop("boss"), {"upload_max_mb": "1"})
    message = refused(client, b"a" * (1024 * 1024 + 10), "big.txt", world["sig"])
    assert "larger than 1 MB" in message


def test_quotas_per_member_and_per_sig(world: Any, client: Any, f: Any, make_client: Any) -> None:
    update_settings(f.sysop("boss"), {"upload_quota_member_mb": "1", "upload_quota_sig_mb": "2"})
    uploaded(client, b"a" * 700_000, "one.txt", world["sig"])
    assert "your 1 MB" in refused(client, b"b" * 700_000, "two.txt", world["sig"])
    bob = make_client()
    bob.login(world["bob"])
    uploaded(bob, b"c" * 700_000, "three.txt", world["sig"])
    carol = f.user("carol")
    f.join(carol, world["sig"])
    other = make_client()
    other.login(carol)
    uploaded(other, b"d" * 600_000, "four.txt", world["sig"])
    assert "the SIG past its 2 MB" in refused(other, b"e" * 200_000, "five.txt", world["sig"])


def test_new_accounts_wait_to_upload_when_the_site_says_so(
    world: Any, client: Any, app: Flask
) -> None:
    app.config["UPLOAD_MIN_ACCOUNT_AGE_HOURS"] = 24
    response = upload(client, png(), "early.png", world["sig"])
    assert response.status_code == 403
    assert "after 24 hours" in response.get_json()["error"]["message"]


def test_new_accounts_show_no_images_while_the_trust_levels_say_so(
    world: Any, f: Any, make_client: Any
) -> None:
    from forum.accounts.models import TL_NEW

    newcomer = f.user("newcomer", trust_level=TL_NEW)
    f.join(newcomer, world["sig"])
    client = make_client()
    client.login(newcomer)
    response = upload(client, png(), "first.png", world["sig"])
    assert response.status_code == 403
    message = response.get_json()["error"]["message"]
    # Said of images at all, when one is picked, not of a post's count of them.
    assert (
        message.startswith("New accounts cannot post images yet. ") and "this post" not in message
    )
    assert "It lifts once you have" in message or "becomes basic" in message
    assert count(Upload) == 0
    # Other files are no images: they are attached.
    made = uploaded(client, b"my first config\n", "first.cfg", world["sig"])
    assert (
        client.form(
            f"/t/{world['topic'].id}/reply", {"body": f"Here: {made['markdown']}"}
        ).status_code
        == 302
    )
    # Nor does an image uploaded by someone else show in a new account's post.
    image = uploaded(
        make_client_logged(make_client, world["alice"]), png(9, 9), "a.png", world["sig"]
    )
    response = client.form(f"/t/{world['topic'].id}/reply", {"body": image["markdown"]})
    assert response.status_code == 400
    assert "New accounts cannot post images yet" in response.get_data(as_text=True)


def make_client_logged(make_client: Any, user: Any) -> Any:
    client = make_client()
    client.login(user)
    return client


def test_guests_and_outsiders_of_a_private_sig_cannot_upload(f: Any, make_client: Any) -> None:
    guest = make_client()
    response = guest.post("/files/upload", data={"csrf_token": guest.csrf_token()})
    assert response.status_code in (302, 401)
    lair = f.sig("lair", visibility="private")
    outsider = make_client()
    outsider.login(f.user("eve"))
    assert upload(outsider, png(), "x.png", lair).status_code == 404


def test_two_uploads_of_the_same_bytes_at_once(app: Flask, f: Any, store: LocalStorage) -> None:
    alice, bob = f.user("alice"), f.user("bob")
    sig = f.sig("photos", members=[alice, bob])
    ids = [alice.id, bob.id]
    data = png(300, 200, "green")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        with app.app_context():
            try:
                from forum.accounts.models import User

                member = db.session.get(User, ids[i])
                barrier.wait(timeout=10)
                services.upload_file(member, sig.id, io.BytesIO(data), f"same-{i}.png")
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    db.session.expire_all()
    assert count(Upload) == 2 and count(Blob) == 1
    sha = db.session.scalar(select(Blob.sha256))
    assert sorted(store.keys()) == [key_for(sha)]  # no thumbnail: 300 px is small already


# --- who may read a file -------------------------------------------------------------------------
def _post_with(client: Any, topic: Any, made: dict[str, Any]) -> Post:
    response = client.form(f"/t/{topic.id}/reply", {"body": f"Look:\n\n{made['markdown']}"})
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    return db.session.scalars(select(Post).order_by(Post.id.desc())).first()  # type: ignore[return-value]


def test_a_private_sigs_file_is_a_404_to_outsiders(f: Any, make_client: Any) -> None:
    alice = f.user("alice")
    lair = f.sig("lair", visibility="private", members=[alice])
    topic = f.topic(alice, lair, "Secret plans", "Plans.")
    author = make_client()
    author.login(alice)
    made = uploaded(author, png(), "plan.png", lair)
    _post_with(author, topic, made)
    assert author.get(made["url"]).status_code == 200
    guest = make_client()
    outsider = make_client()
    outsider.login(f.user("eve"))
    never = "/files/" + "0" * 64 + "/plan.png"
    for reader in (guest, outsider):
        response = reader.get(made["url"], headers={"Accept": "application/json"})
        assert response.status_code == 404
        # The same answer as for bytes never uploaded.
        assert (
            response.get_json()
            == reader.get(never, headers={"Accept": "application/json"}).get_json()
        )
        assert b"Secret plans" not in response.data
    root = make_client()
    root.login(f.sysop("boss"))
    assert root.get(made["url"]).status_code == 200


def test_a_hidden_or_moved_posts_file_follows_the_post(f: Any, make_client: Any) -> None:
    alice, bob = f.user("alice"), f.user("bob")
    public = f.sig("open", members=[alice, bob])
    lair = f.sig("lair", visibility="private")
    root = f.sysop("boss")
    topic = f.topic(alice, public, "Antennas", "Antennas.")
    author = make_client()
    author.login(alice)
    made = uploaded(author, png(), "yagi.png", public)
    post = _post_with(author, topic, made)
    reader = make_client()
    reader.login(bob)
    assert reader.get(made["url"]).status_code == 200
    moderation.hide_post(root, post.id, "spam")
    assert reader.get(made["url"]).status_code == 404
    assert author.get(made["url"]).status_code == 200  # authors see their hidden posts
    moderation.unhide_post(root, post.id)
    assert reader.get(made["url"]).status_code == 200
    moderation.move_topic(root, topic.id, lair.id, "private now")
    assert reader.get(made["url"]).status_code == 404


def test_an_unclaimed_upload_is_its_uploaders_alone(
    world: Any, client: Any, make_client: Any
) -> None:
    made = uploaded(client, png(), "draft.png", world["sig"])
    assert client.get(made["url"]).status_code == 200
    other = make_client()
    other.login(world["bob"])
    assert other.get(made["url"]).status_code == 404


def test_nginx_sends_the_bytes_when_told_to(world: Any, client: Any, app: Flask) -> None:
    made = uploaded(client, png(), "n.png", world["sig"])
    _post_with(client, world["topic"], made)
    app.config["UPLOADS_ACCEL_PREFIX"] = "/_uploads/"
    response = client.get(made["url"])
    sha = SHA.search(made["url"]).group(1)  # type: ignore[union-attr]
    assert response.headers["X-Accel-Redirect"] == "/_uploads/" + key_for(sha)
    assert response.data == b""
    assert response.headers["Content-Type"] == "image/png"


# --- the reaper ---------------------------------------------------------------------------------
def test_orphans_go_after_a_day_and_claimed_files_stay(
    world: Any, client: Any, store: LocalStorage
) -> None:
    kept = uploaded(client, png(10, 10, "red"), "kept.png", world["sig"])
    _post_with(client, world["topic"], kept)
    uploaded(client, png(10, 10, "blue"), "orphan.png", world["sig"])
    assert services.reap() == {"orphans": 0, "deleted_posts": 0, "files": 0}
    later = utcnow() + timedelta(hours=25)
    assert services.reap(later) == {"orphans": 1, "deleted_posts": 0, "files": 1}
    kept_sha = SHA.search(kept["url"]).group(1)  # type: ignore[union-attr]
    assert list(store.keys()) == [key_for(kept_sha)]
    assert client.get(kept["url"]).status_code == 200


def test_a_deleted_posts_files_go_unless_another_post_uses_them(
    world: Any, client: Any, store: LocalStorage
) -> None:
    shared = uploaded(client, png(10, 10, "red"), "shared.png", world["sig"])
    alone = uploaded(client, png(10, 10, "blue"), "alone.png", world["sig"])
    first = _post_with(client, world["topic"], shared)
    second = client.form(
        f"/t/{world['topic'].id}/reply",
        {"body": f"{shared['markdown']}\n\n{alone['markdown']}"},
    )
    assert second.status_code == 302
    doomed = db.session.scalars(select(Post).order_by(Post.id.desc())).first()
    assert doomed is not None and doomed.id != first.id
    topics.delete_post(world["alice"], doomed.id)
    assert services.reap(utcnow() + timedelta(hours=25))["files"] == 1
    shared_sha = SHA.search(shared["url"]).group(1)  # type: ignore[union-attr]
    assert list(store.keys()) == [key_for(shared_sha)]
    assert client.get(shared["url"]).status_code == 200


def test_an_edit_lets_go_of_a_file_and_the_reaper_takes_it(world: Any, client: Any) -> None:
    made = uploaded(client, png(), "gone.png", world["sig"])
    post = _post_with(client, world["topic"], made)
    topics.edit_post(world["alice"], post.id, "No picture after all.")
    assert db.session.scalar(select(Upload.post_id)) is None
    assert services.reap(utcnow() + timedelta(hours=25))["files"] == 1


# --- S3, against moto's standalone server on loopback --------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_s3_storage_against_a_real_endpoint(s3_endpoint: str) -> None:
    store = S3Storage("forum-test", "uploads", s3_endpoint)
    store.client.create_bucket(Bucket="forum-test")
    key = key_for("cd" * 32)
    assert not store.exists(key)
    store.put(key, b"bytes", "text/plain")
    assert store.exists(key) and read(store, key) == b"bytes"
    store.put(key, b"other", "text/plain")  # the same address: kept as it was
    assert read(store, key) == b"bytes"
    listed = store.client.list_objects_v2(Bucket="forum-test")["Contents"]
    assert [o["Key"] for o in listed] == ["uploads/" + key]
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(FileNotFoundError):
        store.open(key)


def test_uploads_and_downloads_through_s3(
    s3_endpoint: str, app: Flask, world: Any, client: Any
) -> None:
    app.config["UPLOADS_URL"] = "s3://forum-files/site"
    app.config["UPLOADS_S3_ENDPOINT"] = s3_endpoint
    services._STORAGE.pop(app)
    store = services.storage()
    assert isinstance(store, S3Storage)
    store.client.create_bucket(Bucket="forum-files")
    made = uploaded(client, jpeg_with_gps(), "s3.jpg", world["sig"])
    _post_with(client, world["topic"], made)
    response = client.get(made["url"])
    assert response.status_code == 200 and b"SpyCam" not in response.data
    assert Image.open(io.BytesIO(response.data)).size == (1600, 1200)
    assert client.get(made["url"] + "?s=s").headers["Content-Type"] == "image/webp"
    sha = SHA.search(made["url"]).group(1)  # type: ignore[union-attr]
    assert store.exists(key_for(sha, "m.webp"))


# --- in posts: the sanitizer, the composer, attachments, search ---------------------------------
def test_the_sanitizer_shows_only_the_forums_own_images(world: Any, client: Any) -> None:
    made = uploaded(client, png(2048, 1024), "wide.png", world["sig"])
    sha = SHA.search(made["url"]).group(1)  # type: ignore[union-attr]
    cooked = content.render(
        f"![wide]({made['url']})\n\n![remote](https://evil.example/x.png)\n\n"
        f"![unknown](/files/{'1' * 64}/x.png)\n\n<img src=x onerror=alert(1)>",
        None,
        services.image_sizes,
    ).html
    assert (
        f'<a href="{made["url"]}" class="lightbox"><img src="{made["url"]}?s=m" alt="wide"'
        ' width="1024" height="512" loading="lazy"></a>'
    ) in cooked
    assert '<a href="https://evil.example/x.png" rel="nofollow ugc noopener">remote</a>' in cooked
    assert f'<a href="/files/{"1" * 64}/x.png">unknown</a>' in cooked
    assert "onerror" not in cooked.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert cooked.count("<img") == 1
    assert sha in cooked


def test_the_sanitizer_drops_an_img_that_does_not_point_home() -> None:
    cleaned = content._cleaner().clean(
        '<img src="https://evil.example/t.png" width="1" height="1">'
        f'<img src="/files/{"a" * 64}/ok.png" width="10" height="10" loading="lazy" onerror="x">'
    )
    assert "evil" not in cleaned and "onerror" not in cleaned
    assert f'src="/files/{"a" * 64}/ok.png"' in cleaned


def test_a_reply_shows_its_image_and_lists_its_attachments(world: Any, client: Any) -> None:
    image = uploaded(client, jpeg_with_gps(), "antenna.jpg", world["sig"])
    config = uploaded(client, b"[radio]\nband = 2m\n", "radio.cfg", world["sig"])
    response = client.form(
        f"/t/{world['topic'].id}/reply",
        {"body": f"My antenna:\n\n{image['markdown']}\n\nand {config['markdown']}"},
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert (
        f'<img src="{image["url"]}?s=m" alt="antenna.jpg" width="1024" height="768" loading="lazy">'
        in page
    )
    assert 'class="attachments"' in page
    assert "radio.cfg" in page and "text/plain" in page and "18 bytes" in page


def test_the_composer_takes_files_without_javascript(world: Any, client: Any) -> None:
    topic = world["topic"]
    page = client.get(f"/t/{topic.id}/reply").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'type="file"' in page
    # Dropping or pasting files needs the script: the page says so only once it runs.
    assert '<span class="drop-hint" hidden>You can also drag files' in page
    response = client.post(
        f"/t/{topic.id}/reply",
        data={
            "body": "Here it is.",
            "files": [(io.BytesIO(png(40, 30)), "plain.png"), (io.BytesIO(b"notes\n"), "n.txt")],
            "csrf_token": client.csrf_token(),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    post = db.session.scalars(select(Post).order_by(Post.id.desc())).first()
    assert post is not None and "![plain.png](/files/" in post.body_raw
    assert "[n.txt](/files/" in post.body_raw and "<img" in post.body_html
    assert count(Upload) == 2
    assert db.session.scalar(select(func.count()).where(Upload.post_id == post.id)) == 2


def test_the_attach_button_puts_the_files_in_the_text_first(world: Any, client: Any) -> None:
    response = client.post(
        f"/t/{world['topic'].id}/reply",
        data={
            "body": "Before.",
            "attach": "1",
            "files": [(io.BytesIO(png()), "later.png")],
            "csrf_token": client.csrf_token(),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Before.\n\n![later.png](/files/" in page
    assert db.session.scalar(select(func.count()).select_from(Post)) == 1


def test_a_refused_file_in_the_form_says_why(world: Any, client: Any) -> None:
    response = client.post(
        f"/t/{world['topic'].id}/reply",
        data={
            "body": "See the page.",
            "files": [(io.BytesIO(b"<html><script>x</script></html>"), "page.html")],
            "csrf_token": client.csrf_token(),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "HTML and SVG files are not accepted" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Post)) == 1


def test_search_finds_a_post_by_an_attachments_name(
    world: Any, client: Any, app: Flask, tmp_path: Path
) -> None:
    app.config["INDEX_DIR"] = str(tmp_path / "index")
    indexer.replace_backend(app, WhooshBackend(app.config["INDEX_DIR"]))
    try:
        image = uploaded(client, png(), "quagi_antenna.png", world["sig"])
        config = uploaded(client, b"band = 70cm\n", "duplexer_notes.txt", world["sig"])
        _post_with(client, world["topic"], image)
        client.form(f"/t/{world['topic'].id}/reply", {"body": f"Notes: {config['markdown']}"})
        for name in ("quagi_antenna.png", "duplexer_notes.txt"):
            results = client.get(f"/search?q={name}").get_data(as_text=True)
            assert 'class="search-result' in results and "Antennas" in results, name
    finally:
        indexer.get_backend(app).close()


def test_another_members_file_address_grants_nothing(
    world: Any, client: Any, make_client: Any, f: Any
) -> None:
    """An address copied from a private SIG's post into a public one still answers 404 to the
    public: a file is readable where its own post is."""
    lair = f.sig("lair", visibility="private", members=[world["alice"]])
    secret_topic = f.topic(world["alice"], lair, "Secret", "Secret.")
    made = uploaded(client, png(), "secret.png", lair)
    _post_with(client, secret_topic, made)
    bob = make_client()
    bob.login(world["bob"])
    response = bob.form(f"/t/{world['topic'].id}/reply", {"body": f"Stolen: {made['markdown']}"})
    assert response.status_code == 302
    assert bob.get(made["url"]).status_code == 404
    assert make_client().get(made["url"]).status_code == 404


def test_invalid_addresses_are_404(client: Any) -> None:
    for url in (
        "/files/nothex/x.png",
        "/files/" + "A" * 64 + "/x.png",
        "/files/" + "0" * 64 + "/x",
    ):
        assert client.get(url).status_code == 404


def test_upload_limits_raise_invalid_in_the_service(world: Any) -> None:
    with pytest.raises(Invalid):
        services.upload_file(world["alice"], world["sig"].id, io.BytesIO(b""), "nothing.txt")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../../etc/passwd.txt", "passwd.txt"),
        ("evil\u202egnp.txt", "evilgnp.txt"),
        ("a" * 10_000 + ".txt", "a" * 116 + ".txt"),
        ("nul\x00byte.txt", "nulbyte.txt"),
    ],
    ids=["dot-dot", "rtl-override", "10000-chars", "nul"],
)
def test_hostile_names_through_the_composer(world: Any, client: Any, name: str, shown: str) -> None:
    response = upload(client, b"plain words\n", name, world["sig"])
    made = response.get_json()["upload"]
    assert made["name"] == shown
    served = client.get(made["url"])
    disposition = served.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "/" not in disposition.split("filename*")[0]
    assert "\u202e" not in disposition and ".." not in disposition


def test_the_reaper_is_an_hourly_job(app: Flask) -> None:
    from forum import jobs

    spec = jobs.SPECS["forum.files.services.reap_files"]
    assert spec.schedule is not None
    assert services.reap_files() == {"orphans": 0, "deleted_posts": 0, "files": 0}


def test_a_topic_pages_files_take_a_fixed_number_of_queries(
    world: Any, client: Any, make_client: Any, count_queries: Any
) -> None:
    topic = world["topic"]

    def add_posts(n: int) -> None:
        for i in range(n):
            made = uploaded(
                client, f"notes {i} {time.monotonic()}\n".encode(), f"n{i}.txt", world["sig"]
            )
            _post_with(client, topic, made)

    reader = make_client()
    reader.login(world["bob"])

    def measure() -> int:
        reader.get(f"/t/{topic.id}/{topic.slug}?page=1")  # the read position, written once
        with count_queries() as counter:
            page = reader.get(f"/t/{topic.id}/{topic.slug}?page=1").get_data(as_text=True)
        assert page.count('class="attachments"') >= 1
        return counter.count

    add_posts(2)
    few = measure()
    add_posts(8)
    assert measure() == few


def test_the_composer_says_why_before_a_file_is_picked(
    world: Any, f: Any, make_client: Any, app: Flask
) -> None:
    from forum.accounts.models import TL_NEW

    newcomer = f.user("newcomer", trust_level=TL_NEW)
    f.join(newcomer, world["sig"])
    client = make_client()
    client.login(newcomer)
    page = client.get(f"/t/{world['topic'].id}/reply").get_data(as_text=True)
    # The picker stays (other files are attached), and images are refused before one is picked.
    assert 'type="file"' in page
    assert "New accounts cannot post images yet." in page
    assert "Images show in the post" not in page
    # An account too new to upload at all is told why instead of being offered a picker.
    app.config["UPLOAD_MIN_ACCOUNT_AGE_HOURS"] = 24
    page = client.get(f"/t/{world['topic'].id}/reply").get_data(as_text=True)
    assert 'type="file"' not in page and "Attach files" not in page
    assert "New accounts may upload files after 24 hours" in page
