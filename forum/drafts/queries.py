"""Read model of /drafts: each draft with where it belongs, in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from .. import hooks, permissions
from ..accounts.models import User
from ..accounts.queries import iso
from ..extensions import db
from ..permissions import Actor
from ..sigs.models import Sig
from ..topics.models import Post, Topic
from . import services
from .models import Draft


@dataclass
class DraftRow:
    draft: Draft
    kind: str
    # Where the member picks it up again, and what it is about; None when the place is gone or
    # no longer theirs to write in (the draft can still be read here and deleted).
    url_args: tuple[str, dict[str, object]] | None
    place: str | None
    number: int | None = None


def drafts_page(actor: Actor) -> list[DraftRow]:
    """At most four queries: the drafts, then the posts, topics and SIGs they belong to."""
    drafts = services.drafts_of(actor)
    ids: dict[str, set[int]] = {"topic": set(), "reply": set(), "edit": set()}
    for d in drafts:
        ids[d.kind].add(d.target_id)
    posts = (
        {p.id: p for p in db.session.scalars(select(Post).where(Post.id.in_(ids["edit"])))}
        if ids["edit"]
        else {}
    )
    topic_ids = ids["reply"] | {p.topic_id for p in posts.values()}
    topics = (
        {t.id: t for t in db.session.scalars(select(Topic).where(Topic.id.in_(topic_ids)))}
        if topic_ids
        else {}
    )
    sig_ids = ids["topic"] | {t.sig_id for t in topics.values()}
    sigs = (
        {s.id: s for s in db.session.scalars(select(Sig).where(Sig.id.in_(sig_ids)))}
        if sig_ids
        else {}
    )
    rows = []
    for d in drafts:
        row = DraftRow(draft=d, kind=d.kind, url_args=None, place=None)
        if d.kind == "topic":
            sig = sigs.get(d.target_id)
            if (
                sig is not None
                and permissions.can_see_sig(actor, sig)
                and permissions.can_read_sig(actor, sig)
            ):
                row.url_args = ("topics.new_topic", {"slug": sig.slug})
                row.place = sig.name
        elif d.kind == "reply":
            topic = topics.get(d.target_id)
            sig = sigs.get(topic.sig_id) if topic else None
            if topic and sig and permissions.can_view_topic(actor, topic, sig):
                row.url_args = ("topics.reply", {"topic_id": topic.id})
                row.place = topic.title
        else:
            post = posts.get(d.target_id)
            topic = topics.get(post.topic_id) if post else None
            sig = sigs.get(topic.sig_id) if topic else None
            if post and topic and sig and permissions.can_view_post(actor, post, topic, sig):
                row.url_args = ("topics.edit", {"post_id": post.id})
                row.place = topic.title
                row.number = post.number
        rows.append(row)
    return rows


def account_drafts(user: User) -> list[dict[str, Any]]:
    """The member's drafts, for their data export (hooks.account_data)."""
    return [
        {"place": d.key, "title": d.title, "body": d.body, "updated_at": iso(d.updated_at)}
        for d in db.session.scalars(
            select(Draft).where(Draft.user_id == user.id).order_by(Draft.id)
        )
    ]


def kept_draft(actor: Actor, endpoint: str, view_args: Mapping[str, Any]) -> hooks.KeptDraft | None:
    """The member's draft at the place a form that could not be sent wrote to (the page of
    forum.keptform says whether the composer saved it): None when drafts are not kept there.
    The member's own row only, so nothing is told of a place they may not see."""
    key: str | None = None
    if endpoint == "topics.reply" and "topic_id" in view_args:
        key = services.reply_key(int(view_args["topic_id"]))
    elif endpoint == "topics.edit" and "post_id" in view_args:
        key = services.edit_key(int(view_args["post_id"]))
    elif endpoint == "topics.new_topic" and "slug" in view_args:
        if actor is not None:
            sig_id = db.session.scalar(select(Sig.id).where(Sig.slug == str(view_args["slug"])))
            key = services.topic_key(sig_id) if sig_id is not None else None
        else:
            return hooks.KeptDraft(None)
    else:
        return None
    draft = services.get_draft(actor, key) if key else None
    if draft is None:
        return hooks.KeptDraft(None)
    return hooks.KeptDraft(draft.updated_at, draft.body)
