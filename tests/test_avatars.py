"""Members' pictures: uploaded, cropped square server-side, three sizes, the letter by default,
reset by the member or the sysop; hostile images refused."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import func, select

from forum.errors import Forbidden
from forum.extensions import db
from forum.files import avatars, services
from forum.files.models import Avatar
from forum.files.storage import LocalStorage, key_for


@pytest.fixture(autouse=True)
def store(app: Flask, tmp_path: Path) -> Any:
    app.config["UPLOADS_URL"] = str(tmp_path / "uploads")
    services._STORAGE.pop(app)
    yield services.storage()
    services._STORAGE.pop(app)


def photo(width: int = 400, height: int = 200) -> bytes:
    """Left half red, right half blue, and a green square in the middle; with EXIF."""
    image = Image.new("RGB", (width, height), "red")
    image.paste(Image.new("RGB", (width // 2, height), "blue"), (width // 2, 0))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=95)
    return out.getvalue()


def _set(client: Any, data: bytes, name: str = "me.jpg") -> Any:
    return client.post(
        "/settings/avatar",
        data={"file": (io.BytesIO(data), name), "csrf_token": client.csrf_token()},
        content_type="multipart/form-data",
    )


def test_a_picture_is_cropped_square_in_three_sizes(
    f: Any, client: Any, store: LocalStorage
) -> None:
    ada = f.user("ada")
    client.login(ada)
    page = client.get("/settings").get_data(as_text=True)
    assert 'class="avatar avatar-64 avatar-c' in page and "/avatars/" not in page  # the letter
    assert _set(client, photo()).status_code == 302
    sha = avatars.avatar_of(ada.id)
    assert sha is not None
    for size in (32, 64, 128):
        response = client.get(f"/avatars/{sha}/{size}.webp")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "image/webp"
        assert "immutable" in response.headers["Cache-Control"]
        image = Image.open(io.BytesIO(response.data))
        assert image.size == (size, size)
        assert b"SpyCam" not in response.data
    # Cropped about the middle: the left edge is red, the right edge blue.
    with store.open(key_for(sha, "a128.webp")) as fh:
        big = Image.open(fh).convert("RGB")
        left, right = big.getpixel((2, 64)), big.getpixel((125, 64))
    assert left[0] > 200 and left[2] < 60 and right[2] > 200 and right[0] < 60
    assert f"/avatars/{sha}/64.webp" in client.get("/settings").get_data(as_text=True)


def test_the_picture_shows_beside_posts_and_on_the_profile(f: Any, make_client: Any) -> None:
    ada = f.user("ada")
    sig = f.sig("talk", members=[ada])
    topic = f.topic(ada, sig, "Hello there", "First.")
    avatars.set_avatar(ada, io.BytesIO(photo()), "me.jpg")
    sha = avatars.avatar_of(ada.id)
    guest = make_client()
    shown = guest.get(f"/t/{topic.id}/{topic.slug}").get_data(as_text=True)
    assert f'<img class="avatar avatar-32" src="/avatars/{sha}/64.webp"' in shown
    assert f"/avatars/{sha}/128.webp" in guest.get("/u/ada").get_data(as_text=True)
    assert guest.get(f"/avatars/{sha}/32.webp").status_code == 200


def test_a_new_picture_replaces_the_old_and_its_bytes_go(f: Any, store: LocalStorage) -> None:
    ada = f.user("ada")
    first = avatars.set_avatar(ada, io.BytesIO(photo()), "a.jpg")
    second = avatars.set_avatar(ada, io.BytesIO(photo(300, 500)), "b.jpg")
    assert first != second
    assert not store.exists(key_for(first, "a32.webp"))
    assert store.exists(key_for(second, "a32.webp"))
    assert db.session.scalar(select(func.count()).select_from(Avatar)) == 1


def test_the_sysop_resets_a_picture_and_members_cannot(
    f: Any, make_client: Any, store: LocalStorage
) -> None:
    ada = f.user("ada")
    bob = f.user("bob")
    root = f.sysop("boss")
    sha = avatars.set_avatar(ada, io.BytesIO(photo()), "a.jpg")
    with pytest.raises(Forbidden):
        avatars.reset_avatar(bob, ada.id)
    other = make_client()
    other.login(bob)
    assert other.form(f"/u/{ada.id}/avatar/reset").status_code == 403
    assert "Reset picture" not in other.get("/u/ada").get_data(as_text=True)
    sysop = make_client()
    sysop.login(root)
    assert "Reset picture" in sysop.get("/u/ada").get_data(as_text=True)
    assert sysop.form(f"/u/{ada.id}/avatar/reset").status_code == 302
    assert avatars.avatar_of(ada.id) is None
    assert not store.exists(key_for(sha, "a64.webp"))
    # The old address is a 404 now: it is nobody's picture.
    assert make_client().get(f"/avatars/{sha}/64.webp").status_code == 404
    profile = make_client().get("/u/ada").get_data(as_text=True)
    assert "/avatars/" not in profile and 'class="avatar avatar-64 avatar-c' in profile


def test_a_member_drops_their_own_picture(f: Any, client: Any) -> None:
    ada = f.user("ada")
    avatars.set_avatar(ada, io.BytesIO(photo()), "a.jpg")
    client.login(ada)
    assert client.form(f"/u/{ada.id}/avatar/reset").status_code == 302
    assert avatars.avatar_of(ada.id) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "Only PNG"),
        (b"%PDF-1.4 not a picture", "Only PNG"),
        (b"GIF89a<script>alert(1)</script>", "could not be read"),
    ],
)
def test_hostile_pictures_are_refused(
    f: Any, client: Any, store: LocalStorage, data: bytes, message: str
) -> None:
    ada = f.user("ada")
    client.login(ada)
    response = _set(client, data, "evil.png")
    assert response.status_code == 302
    assert message in client.get("/settings").get_data(as_text=True)
    assert avatars.avatar_of(ada.id) is None and list(store.keys()) == []


def test_a_very_tall_picture_is_refused(f: Any) -> None:
    out = io.BytesIO()
    Image.new("RGB", (1, 100_000)).save(out, "PNG")
    with pytest.raises(Exception, match="too wide or too tall"):
        avatars.set_avatar(f.user("ada"), io.BytesIO(out.getvalue()), "tall.png")


def test_unknown_pictures_and_sizes_are_404(client: Any) -> None:
    assert client.get("/avatars/" + "0" * 64 + "/64.webp").status_code == 404
    assert client.get("/avatars/" + "0" * 64 + "/65.webp").status_code == 404
    assert client.get("/avatars/nothex/64.webp").status_code == 404


def test_guests_cannot_set_a_picture(client: Any) -> None:
    response = client.post("/settings/avatar", data={"csrf_token": client.csrf_token()})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
