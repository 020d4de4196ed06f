"""Draft verbs: save, read, discard. A draft is its author's alone: every verb works on the
actor's own rows, so no key reaches another member's text."""

from __future__ import annotations

import re

from flask import current_app
from sqlalchemy import bindparam, delete, func, lambda_stmt, select

from .. import content, permissions
from ..db import transaction, upsert
from ..errors import Invalid, require_at_most
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..i18n import lazy_number
from ..permissions import Actor
from ..timeutil import utcnow
from .models import Draft

KEY_RE = re.compile(r"^(topic|reply|edit):([1-9][0-9]{0,11})$")


def topic_key(sig_id: int) -> str:
    return f"topic:{sig_id}"


def reply_key(topic_id: int) -> str:
    return f"reply:{topic_id}"


def edit_key(post_id: int) -> str:
    return f"edit:{post_id}"


def parse_key(key: str) -> tuple[str, int]:
    match = KEY_RE.match(key or "")
    if match is None:
        raise Invalid("key", _l("There is no such place to write."))
    return match.group(1), int(match.group(2))


def _check_place(actor: Actor, kind: str, target_id: int) -> None:
    """The member may write there: read the SIG, the topic, or edit the post (NotFound for
    what they may not know, Forbidden for what they may not touch)."""
    if kind == "topic":
        sig = permissions.get_sig_by_id_for(actor, target_id)
        permissions.require_read_sig(actor, sig)
    elif kind == "reply":
        permissions.get_topic_for(actor, target_id)
    else:
        post, topic, sig = permissions.get_post_topic_and_sig_for(actor, target_id)
        permissions.require_edit_post(actor, post, topic, sig)


def _limits() -> tuple[int, int, int]:
    config = current_app.config
    return (
        int(config["MAX_POST_LENGTH"]),
        int(config["MAX_TITLE_LENGTH"]),
        int(config["DRAFTS_PER_MEMBER"]),
    )


def save_draft(actor: Actor, key: str, body: str, title: str = "") -> Draft | None:
    """Keep what the member is writing at this place (one row per member and place, replaced
    on each save). Text emptied to nothing deletes the draft; returns None then."""
    if actor is None:
        raise Invalid(None, _l("Log in to keep drafts."))
    kind, target_id = parse_key(key)
    if not isinstance(body, str) or not isinstance(title, str):
        raise Invalid("body", _l("A draft is text."))
    body = content.clean_text(body)
    title = content.clean_text(title).replace("\n", " ")
    max_body, max_title, max_drafts = _limits()
    if len(body) > max_body:
        raise Invalid(
            "body",
            _l(
                "Posts are limited to %(limit)s characters; this one has %(length)s.",
                limit=lazy_number(max_body),
                length=lazy_number(len(body)),
            ),
        )
    require_at_most("title", title, max_title, "title")
    _check_place(actor, kind, target_id)
    if not body.strip() and not title.strip():
        delete_draft(actor, key)
        return None
    with transaction() as session:
        exists = session.scalar(select(Draft.id).where(Draft.user_id == actor.id, Draft.key == key))
        if exists is None:
            count = session.scalar(
                select(func.count()).select_from(Draft).where(Draft.user_id == actor.id)
            )
            if (count or 0) >= max_drafts:
                raise Invalid(
                    None,
                    _l(
                        "You have %(limit)s drafts already: post or delete some of them "
                        "(under Drafts) to keep another.",
                        limit=lazy_number(max_drafts),
                    ),
                )
        now = utcnow()
        upsert(
            Draft,
            {"user_id": actor.id, "key": key, "title": title, "body": body, "updated_at": now},
            index_elements=["user_id", "key"],
            set_={"title": title, "body": body, "updated_at": now},
        )
    return get_draft(actor, key)


def get_draft(actor: Actor, key: str) -> Draft | None:
    """This member's draft at this place, if any."""
    if actor is None or KEY_RE.match(key or "") is None:
        return None
    # A lambda_stmt, built once per process: every member's topic page runs it, and building
    # it cost more CPU than running it (a hot site measured for issue 17, sixth session).
    statement = lambda_stmt(
        lambda: select(Draft).where(
            Draft.user_id == bindparam("user_id"), Draft.key == bindparam("key")
        ),
        enable_tracking=False,
    )
    draft: Draft | None = db.session.scalar(
        statement,
        {"user_id": actor.id, "key": key},
        execution_options={"populate_existing": True},
    )
    return draft


def delete_draft(actor: Actor, key: str) -> bool:
    """Throw this member's draft away; True when there was one."""
    if actor is None:
        raise Invalid(None, _l("Log in to keep drafts."))
    parse_key(key)
    with transaction() as session:
        result = session.execute(delete(Draft).where(Draft.user_id == actor.id, Draft.key == key))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def discard_in_tx(user_id: int, key: str) -> None:
    """The draft became a post: delete it in the post's transaction."""
    db.session.execute(delete(Draft).where(Draft.user_id == user_id, Draft.key == key))


def drafts_of(actor: Actor) -> list[Draft]:
    """This member's drafts, the latest first."""
    if actor is None:
        return []
    return list(
        db.session.scalars(
            select(Draft).where(Draft.user_id == actor.id).order_by(Draft.updated_at.desc())
        )
    )


def forget_member_in_tx(user_id: int) -> None:
    """The member deleted their account: their drafts go, in that transaction."""
    db.session.execute(delete(Draft).where(Draft.user_id == user_id))
