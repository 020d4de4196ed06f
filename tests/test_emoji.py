"""Emoji shortcodes: the composer's list (GET /emoji.json: small, versioned, cached, gzipped,
from the `emoji` package), named by the composer but never loaded by a page, and `:name:` in a
post cooked into its emoji (forum/content.py), outside code and addresses."""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

import emoji
import pytest

from forum import content, shortcodes


@pytest.fixture
def world(f: Any) -> Any:
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "Favourite machines", "The C64.")
    return ada, topic


def test_the_list_comes_from_the_emoji_package_and_stays_small() -> None:
    offered = shortcodes.offered()
    assert offered["smile"] == "😄" and offered["smiling_face_with_halo"] == "😇"
    assert offered["+1"] == offered["thumbs_up"] == "👍" and offered["tada"] == "🎉"
    # Skin tones and hyphen twins are left to the full table (the server still cooks them).
    assert not [name for name in offered if "skin_tone" in name]
    assert "smiling_face_with_heart-eyes" not in offered
    assert shortcodes.lookup("thumbs_up_medium_skin_tone") == "👍🏽"
    assert shortcodes.lookup("Smiling_Face_With_Heart-Eyes") == "😍"
    assert all(re.fullmatch(r"[a-z0-9_+\-]{2,60}", name) for name in offered)
    body, packed, version = shortcodes.payload()
    assert version.startswith(emoji.__version__ + "-")
    assert json.loads(body) == {"version": emoji.__version__, "emoji": offered}
    # Small on the wire: well under 30 KB gzipped (under 100 KB even unzipped).
    assert len(packed) < 30_000 and len(body) < 100_000
    assert gzip.decompress(packed) == body


def test_the_endpoint_is_cached_for_good_at_its_versioned_address(client) -> None:
    body, packed, version = shortcodes.payload()
    plain = client.get(f"/emoji.json?v={version}", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and plain.mimetype == "application/json"
    assert plain.get_data() == body and "Content-Encoding" not in plain.headers
    assert plain.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Accept-Encoding" in plain.headers["Vary"]
    zipped = client.get(f"/emoji.json?v={version}", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.get_data() == packed and gzip.decompress(zipped.get_data()) == body
    # An old or missing version is answered, but kept for an hour only.
    stale = client.get("/emoji.json?v=1.0.0-old", headers={"Accept-Encoding": "identity"})
    assert stale.get_data() == body
    assert stale.headers["Cache-Control"] == "public, max-age=3600"
    again = client.get(
        f"/emoji.json?v={version}",
        headers={"Accept-Encoding": "identity", "If-None-Match": f'"{version}"'},
    )
    assert again.status_code == 304 and again.get_data() == b""


def test_members_get_it_cached_too(client, world) -> None:
    """Signed-in answers are `private, no-store` by default (forum/web.py); not this one."""
    client.login("ada")
    response = client.get(f"/emoji.json?v={shortcodes.version()}")
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_the_composer_names_the_list_but_no_page_loads_it(client, world) -> None:
    _ada, topic = world
    client.login("ada")
    page = client.get(f"/t/{topic.id}/reply").get_data(as_text=True)
    assert f'data-emoji-url="/emoji.json?v={shortcodes.version()}"' in page
    # Fetched by static/js/composer.js when `:` and two letters are typed, never by the page.
    assert not re.search(r"<(?:script|link)[^>]+emoji\.json", page)


@pytest.mark.parametrize(
    ("raw", "cooked"),
    [
        ("Hi :smile: there", "<p>Hi 😄 there</p>"),
        (":TADA: :+1: :thumbs_up:", "<p>🎉 👍 👍</p>"),
        ("**:heart:** (:tada:)", "<p><strong>❤️</strong> (🎉)</p>"),
        (":no_such_emoji: stays", "<p>:no_such_emoji: stays</p>"),
        ("at 12:30:45 sharp", "<p>at 12:30:45 sharp</p>"),
        ("word:smile: stays", "<p>word:smile: stays</p>"),
        ("`:smile:` in code", "<p><code>:smile:</code> in code</p>"),
        ("```\n:smile:\n```", "<pre><code>:smile:\n</code></pre>"),
    ],
)
def test_shortcodes_are_cooked_outside_code(raw: str, cooked: str) -> None:
    assert content.render(raw).html.strip() == cooked


def test_a_shortcode_in_an_address_is_left_alone() -> None:
    html = content.render("see https://example.com/:smile:/page").html
    assert 'href="https://example.com/:smile:/page"' in html and "😄" not in html
    html = content.render("[a link](https://example.com/:tada:)").html
    assert 'href="https://example.com/:tada:"' in html and "🎉" not in html


def test_a_posted_shortcode_is_kept_as_typed_and_shown_as_emoji(client, world) -> None:
    from sqlalchemy import select

    from forum.extensions import db
    from forum.topics.models import Post

    _ada, topic = world
    client.login("ada")
    preview = client.form("/preview", {"body": "Well done :tada:"}).get_json()["html"]
    assert preview.strip() == "<p>Well done 🎉</p>"
    assert client.form(f"/t/{topic.id}/reply", {"body": "Well done :tada:"}).status_code == 302
    post = db.session.scalar(select(Post).order_by(Post.id.desc()).limit(1))
    assert post.body_raw == "Well done :tada:" and post.body_html == preview
    assert post.render_version == content.RENDER_VERSION


def test_the_completion_speaks_german_and_spanish(client) -> None:
    german = client.get("/i18n/de.json").get_json()
    assert german["emoji_suggestions"] == "Emojis zum Einfügen"
    assert german["emoji_offered"] == {
        "one": "%(num)d Emoji vorgeschlagen",
        "other": "%(num)d Emojis vorgeschlagen",
    }
    spanish = client.get("/i18n/es.json").get_json()
    assert spanish["emoji_suggestions"] == "Emojis para insertar"
    assert spanish["emoji_offered"]["other"] == "%(num)d emojis sugeridos"
