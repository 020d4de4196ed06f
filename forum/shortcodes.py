"""Emoji shortcodes (`:smile:` → 😄), from the maintained `emoji` package (PyPI): the one list
the composer's completion offers (GET /emoji.json, loaded by static/js/composer.js only once a
member types `:` and two letters) and forum/content.py turns into the emoji as a post is cooked.

No Flask, no database: a table built once per process from the package's data, the first time
it is needed (the package is imported then, not when the forum starts).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import json
import re
from functools import cache
from pathlib import Path

# Names one can type after a colon: the package's CLDR names (`smiling_face_with_halo`) and its
# GitHub/Slack aliases (`innocent`); names with other characters (`piñata`, `o’clock`) are left
# out, the emoji stay reachable by their other names.
NAME_RE = re.compile(r"[A-Za-z0-9_+\-]{2,60}")


@cache
def table() -> dict[str, str]:
    """Every shortcode (lowercase, without its colons) → its emoji, skin tones included."""
    import emoji

    found: dict[str, str] = {}
    for char, data in emoji.EMOJI_DATA.items():
        if data.get("status") != emoji.STATUS["fully_qualified"]:
            continue
        for name in (data["en"], *data.get("alias", ())):
            name = name.strip(":")
            if NAME_RE.fullmatch(name):
                found.setdefault(name.lower(), char)
    return found


def lookup(name: str) -> str | None:
    """The emoji a shortcode (without its colons, any case) names, or None."""
    return table().get(name.lower())


@cache
def offered() -> dict[str, str]:
    """The completion's list, kept small: no skin-tone variants (the plain emoji is there) and
    no `heart-eyes` where `heart_eyes` names the same emoji."""
    names = table()
    return {
        name: char
        for name, char in names.items()
        if "skin_tone" not in name and not ("-" in name and name.replace("-", "_") in names)
    }


@cache
def payload() -> tuple[bytes, bytes, str]:
    """GET /emoji.json's body as JSON, the same gzipped, and its version (for the address and the
    ETag, see version())."""
    import emoji

    body = json.dumps(
        {"version": emoji.__version__, "emoji": offered()},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    return body, gzip.compress(body, 9, mtime=0), version()


@cache
def version() -> str:
    """The list's version: the package's version and a hash of this module, which makes the list
    from the package's data (so a change to either gives a new address). Read without loading
    the list: every composer names it, and the package's data costs about 4 MB of memory in each
    worker, which only the emoji.json request and a post with a shortcode need."""
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    return f"{importlib.metadata.version('emoji')}-{digest}"
