"""Members' pictures: uploaded, cropped square about the centre, kept in three sizes (WebP)
by content address; a member without one shows the letter of their name (the default).
A member changes or drops their own; the global sysop resets anyone's."""

from __future__ import annotations

import hashlib
from typing import IO

from sqlalchemy import bindparam, lambda_stmt, select

from .. import events, permissions
from ..accounts.models import User
from ..db import on_commit, transaction, upsert
from ..errors import Invalid, NotFound
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..permissions import Actor
from ..timeutil import utcnow
from . import processing
from .models import Avatar
from .storage import key_for

SIZES = processing.AVATAR_SIZES


def set_avatar(actor: Actor, stream: IO[bytes], filename: str) -> str:
    """Make this picture the member's own; the SHA-256 of its largest size names all three."""
    from . import services

    permissions.require_change_avatar(actor)
    assert actor is not None
    data = services.read_limited(stream, services.max_bytes())
    if not data:
        raise Invalid("file", _l("The file is empty."))
    if processing.sniff(data[:4096]) not in services.IMAGE_TYPES:
        raise Invalid("file", _l("Only PNG, JPEG, GIF and WebP images are accepted."))
    try:
        images = processing.avatar_images(data, services.limits())
    except processing.Refused as exc:
        raise services._refusal(exc) from exc
    sha = hashlib.sha256(images[max(SIZES)]).hexdigest()
    store = services.storage()
    for size, image in images.items():
        store.put(key_for(sha, f"a{size}.webp"), image, "image/webp")
    old = db.session.get(Avatar, actor.id)
    old_sha = old.sha256 if old is not None else None
    with transaction():
        upsert(
            Avatar,
            {"user_id": actor.id, "sha256": sha, "updated_at": utcnow()},
            index_elements=["user_id"],
            set_={"sha256": sha, "updated_at": utcnow()},
        )
        events.publish(events.AvatarChanged(user_id=actor.id, actor_id=actor.id))
        if old_sha and old_sha != sha:
            on_commit(lambda: services._forget_bytes([old_sha]))
    db.session.expire_all()
    return sha


def reset_avatar(actor: Actor, user_id: int) -> None:
    """Back to the letter: the member's own choice, or the global sysop's for anyone."""
    from . import services

    target = db.session.get(User, user_id) if user_id else None
    if target is None:
        raise NotFound(_l("No such member."))
    permissions.require_reset_avatar(actor, target)
    assert actor is not None
    row = db.session.get(Avatar, target.id)
    if row is None:
        return
    sha = row.sha256
    with transaction() as session:
        session.delete(row)
        events.publish(events.AvatarChanged(user_id=target.id, actor_id=actor.id))
        on_commit(lambda: services._forget_bytes([sha]))


def avatar_of(user_id: int | None) -> str | None:
    """The SHA-256 naming the member's picture, or None (their letter)."""
    if user_id is None:
        return None
    row = db.session.get(Avatar, user_id)
    return row.sha256 if row is not None else None


def avatars_of(user_ids: list[int]) -> dict[int, str]:
    """Many members' pictures in one query (a topic page's authors)."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    # A lambda_stmt, built once per process: every topic page runs it, and building the
    # statement and its cache key was two fifths of its CPU (0.26 → 0.16 ms of a guest's
    # topic page, bench/page_cpu.py topic_first_nocache).
    rows = db.session.execute(
        lambda_stmt(
            lambda: select(Avatar.user_id, Avatar.sha256).where(
                Avatar.user_id.in_(bindparam("ids", expanding=True))
            ),
            enable_tracking=False,
        ),
        {"ids": ids},
    ).all()
    return {user_id: sha for user_id, sha in rows}


def open_avatar(sha256: str, size: int) -> str:
    """The storage key of a picture that is some member's now (else NotFound)."""
    from . import services

    if size not in SIZES or not services.SHA_RE.match(sha256 or ""):
        raise NotFound(permissions.NO_SUCH_FILE)
    if not permissions.can_read_avatar(sha256):
        raise NotFound(permissions.NO_SUCH_FILE)
    return key_for(sha256, f"a{size}.webp")
