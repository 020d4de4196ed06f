"""/api/v1: thin JSON views over the same services, read models and permission policy as the
pages. Each takes its credential's scope (forum.api.spec.operation), calls one service or read
model, and answers with a model of forum.api.schemas; errors become `{"error": {…}}`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Response, render_template, request

from .. import i18n, permissions, ratelimits
from ..accounts import services as account_services
from ..accounts.former import is_former
from ..accounts.former import public as public_name
from ..extensions import db
from ..moderation import services as moderation
from ..notifications import queries as notification_queries
from ..notifications import services as notification_services
from ..reactions import queries as reaction_queries
from ..reactions import services as reaction_services
from ..search import queries as search_queries
from ..sigs import services as sig_services
from ..sigs.models import Sig
from ..topics import services as topic_services
from ..web import absolute_url_for
from . import bp, queries
from .auth import credential
from .spec import document, operation, reference

if TYPE_CHECKING:
    from . import schemas
else:  # pydantic's models, loaded on the API's first request (forum.api.spec)
    from .spec import schemas

READ, WRITE, MODERATE, ADMIN = permissions.TOKEN_SCOPES


def _viewer() -> permissions.Actor:
    return credential().user


def _context() -> Any:
    return request.context  # type: ignore[attr-defined]


# --- shapes ---------------------------------------------------------------------------------
def _member_ref(pair: tuple[int, str] | None) -> schemas.MemberRef | None:
    """A member, or null: an account gone, or deleted (a former member, accounts.former)."""
    if pair is None or is_former(pair[1]):
        return None
    return schemas.MemberRef(id=pair[0], username=pair[1])


def _sig_ref(sig: Sig) -> schemas.SigRef:
    return schemas.SigRef(id=sig.id, slug=sig.slug, name=sig.name)


def _sig(info: queries.SigInfo) -> dict[str, Any]:
    sig, membership = info.sig, info.membership
    return {
        "id": sig.id,
        "slug": sig.slug,
        "name": sig.name,
        "description": sig.description,
        "visibility": sig.visibility,
        "language": sig.language,
        "archived": sig.is_archived,
        "is_support": sig.is_support,
        "topic_count": sig.topic_count,
        "post_count": sig.post_count,
        "member_count": sig.member_count,
        "last_posted_at": sig.last_posted_at,
        "url": absolute_url_for("sigs.show", slug=sig.slug),
        "membership": schemas.Membership(role=membership.role, joined_at=membership.joined_at)  # type: ignore[arg-type]
        if membership is not None
        else None,
        "can_read": info.can_read,
    }


def _topic(info: queries.TopicInfo) -> dict[str, Any]:
    topic = info.topic
    return {
        "id": topic.id,
        "sig": _sig_ref(info.sig),
        "title": topic.title,
        "slug": topic.slug,
        "author": _member_ref(info.author),
        "created_at": topic.created_at,
        "last_posted_at": topic.last_posted_at,
        "last_poster": _member_ref(info.last_poster),
        "post_count": topic.post_count,
        "pinned": topic.is_pinned,
        "locked": topic.is_locked,
        "deleted": topic.is_deleted,
        "url": absolute_url_for("topics.show", topic_id=topic.id, slug=topic.slug),
    }


def _topic_detail(info: queries.TopicInfo) -> schemas.TopicDetail:
    return schemas.TopicDetail(
        **_topic(info),
        first_post_id=info.topic.first_post_id,
        can_reply=info.can_reply,
        reply_problem=info.reply_problem,
    )


def _status(post: Any) -> str:
    if post.is_deleted:
        return "deleted"
    if post.is_hidden:
        return "hidden"
    return "pending" if post.is_pending else "visible"


def _post(info: queries.PostInfo) -> schemas.Post:
    viewer = _viewer()
    post, topic, sig = info.post, info.topic, info.sig
    return schemas.Post(
        id=post.id,
        topic_id=post.topic_id,
        number=post.number,
        author=_member_ref(info.author),
        reply_to_post_id=post.reply_to_post_id,
        body_raw=post.body_raw,
        body_html=post.body_html,
        status=_status(post),  # type: ignore[arg-type]
        hidden_by=post.hidden_by,  # type: ignore[arg-type]
        hide_reason=post.hide_reason,
        created_at=post.created_at,
        edited_at=post.edited_at,
        edit_count=post.edit_count,
        url=absolute_url_for("topics.permalink", post_id=post.id),
        permissions=schemas.PostPermissions(
            edit=permissions.can_edit_post(viewer, post, topic, sig),
            delete=permissions.can_delete_post(viewer, post, topic, sig),
            flag=viewer is not None and permissions.can_flag_post(viewer, post, topic, sig),
            moderate=permissions.is_sig_sysop(viewer, sig),
        ),
    )


def _post_by_id(post_id: int) -> schemas.Post:
    db.session.expire_all()
    return _post(queries.post_detail(_viewer(), post_id))


# --- the document ---------------------------------------------------------------------------
@bp.route("/openapi.json")
def openapi() -> Any:
    """The OpenAPI 3.1 document of this API."""
    return document()


@bp.route("/docs")
def docs() -> Any:
    """The API's reference, as a page (written from the same document, no script needed)."""
    doc = document()
    me = absolute_url_for("api.get_me")
    reply = absolute_url_for("api.create_post", topic_id=1)
    examples = [
        f'curl -H "Authorization: Bearer fpat_…" {me}',
        'curl -X POST -H "Authorization: Bearer fpat_…" -H "Content-Type: application/json" \\',
        f'     -d \'{{"body": "Hello from a script"}}\' {reply}',
    ]
    return render_template("api/docs.html", spec=doc, ref=reference(doc), examples=examples)


# --- SIGs -----------------------------------------------------------------------------------
@bp.route("/sigs")
@operation(READ, model="SigList", tags=("SIGs",), guests=True)
def list_sigs() -> Any:
    """List the SIGs

    Every SIG the reader may see, in the index's order. A private SIG is listed only to its
    members (and the sysop)."""
    return schemas.SigList(
        items=[schemas.Sig(**_sig(info)) for info in queries.sig_list(_viewer())]
    )


@bp.route("/sigs/<slug>")
@operation(READ, model="SigDetail", tags=("SIGs",), guests=True)
def get_sig(slug: str) -> Any:
    """Show a SIG

    With what the reader may do there. A private SIG is a 404 to everyone outside it."""
    info = queries.sig_detail(_viewer(), slug)
    return schemas.SigDetail(
        **_sig(info),
        can_start_topic=info.can_start_topic,
        write_problem=info.write_problem,
        join=info.join,  # type: ignore[arg-type]
    )


@bp.route("/sigs/<slug>/membership", methods=["PUT"])
@ratelimits.membership
@operation(WRITE, model="MembershipResult", tags=("SIGs",), errors=(409,))
def join_sig(slug: str) -> Any:
    """Join a SIG

    Public and members-only SIGs are joined at once; a private SIG takes a request, made from
    its page."""
    sig = permissions.get_sig_for(_viewer(), slug)
    sig_services.join_sig(_viewer(), sig.id)
    return schemas.MembershipResult(status="joined", sig=_sig_ref(sig))


@bp.route("/sigs/<slug>/membership", methods=["DELETE"])
@ratelimits.membership
@operation(WRITE, model="MembershipResult", tags=("SIGs",), errors=(409,))
def leave_sig(slug: str) -> Any:
    """Leave a SIG"""
    sig = permissions.get_sig_for(_viewer(), slug)
    sig_services.leave_sig(_viewer(), sig.id)
    return schemas.MembershipResult(status="left", sig=_sig_ref(sig))


# --- topics ---------------------------------------------------------------------------------
@bp.route("/sigs/<slug>/topics")
@operation(READ, model="TopicList", query="TopicsQuery", tags=("Topics",), guests=True)
def list_topics(slug: str) -> Any:
    """List a SIG's topics

    Pinned topics first, then by last activity, `limit` at a time: pass the answer's
    `next_cursor` as `cursor` for the next ones. The cursor stays valid as topics move."""
    args = _context().query
    items, next_cursor = queries.topic_list(_viewer(), slug, args.cursor, args.limit)
    return schemas.TopicList(
        items=[schemas.Topic(**_topic(info)) for info in items], next_cursor=next_cursor
    )


@bp.route("/sigs/<slug>/topics", methods=["POST"])
@ratelimits.posting
@operation(WRITE, ok=201, model="TopicDetail", json="NewTopic", tags=("Topics",))
def create_topic(slug: str) -> Any:
    """Start a topic

    In a public SIG, starting a topic joins it (as on its page). The first post may wait for a
    sysop's approval (`posts` of the topic show its status).

    Sent again with the same text within a couple of minutes, it writes nothing and answers
    409 with the first one in `error.existing`."""
    body = _context().json
    sig = permissions.get_sig_for(_viewer(), slug)
    topic = topic_services.start_topic(_viewer(), sig.id, body.title, body.body)
    db.session.expire_all()
    return _topic_detail(queries.topic_detail(_viewer(), topic.id)), 201


@bp.route("/topics/<int:topic_id>")
@operation(READ, model="TopicDetail", tags=("Topics",), guests=True)
def get_topic(topic_id: int) -> Any:
    """Show a topic"""
    return _topic_detail(queries.topic_detail(_viewer(), topic_id))


# --- posts ----------------------------------------------------------------------------------
@bp.route("/topics/<int:topic_id>/posts")
@operation(READ, model="PostList", query="PostsQuery", tags=("Posts",), guests=True)
def list_posts(topic_id: int) -> Any:
    """List a topic's posts

    By post number, `limit` at a time: pass `next_cursor` as `cursor` for the next ones. Each
    post comes raw (Markdown) and cooked (sanitized HTML). Hidden, pending and deleted posts
    are listed only to those who may see them (their author, the SIG's sysops)."""
    args = _context().query
    items, next_cursor = queries.topic_posts(_viewer(), topic_id, args.cursor, args.limit)
    return schemas.PostList(items=[_post(info) for info in items], next_cursor=next_cursor)


@bp.route("/topics/<int:topic_id>/posts", methods=["POST"])
@ratelimits.posting
@operation(WRITE, ok=201, model="Post", json="NewPost", tags=("Posts",))
def create_post(topic_id: int) -> Any:
    """Reply to a topic

    In a public SIG, replying joins it. Readers of the topic's page see the reply at once.

    Sent again with the same text within a couple of minutes, it writes nothing and answers
    409 with the first one in `error.existing`."""
    body = _context().json
    post = topic_services.reply_to_topic(_viewer(), topic_id, body.body, body.reply_to_post_id)
    return _post_by_id(post.id), 201


@bp.route("/posts/<int:post_id>")
@operation(READ, model="Post", tags=("Posts",), guests=True)
def get_post(post_id: int) -> Any:
    """Show a post, raw and cooked"""
    return _post(queries.post_detail(_viewer(), post_id))


@bp.route("/posts/<int:post_id>", methods=["PATCH"])
@ratelimits.posting
@operation(WRITE, model="Post", json="PostEdit", tags=("Posts",))
def edit_post(post_id: int) -> Any:
    """Edit a post

    The previous text is kept as a revision. `title` renames the topic (its first post only)."""
    body = _context().json
    topic_services.edit_post(_viewer(), post_id, body.body, body.title)
    return _post_by_id(post_id)


@bp.route("/posts/<int:post_id>", methods=["DELETE"])
@operation(WRITE, ok=204, tags=("Posts",))
def delete_post(post_id: int) -> Any:
    """Delete a post

    Deleting a topic's first post deletes the topic (once others replied, only a sysop may)."""
    topic_services.delete_post(_viewer(), post_id)
    return Response(status=204)


def _reactions(post_id: int) -> schemas.Reactions:
    shown = reaction_queries.page_reactions(_viewer(), [post_id])[post_id]
    return schemas.Reactions(
        post_id=post_id,
        counts=[schemas.ReactionCount(emoji=e, count=n) for e, n in shown.counts],
        mine=shown.mine,
    )


@bp.route("/posts/<int:post_id>/reaction", methods=["PUT"])
@ratelimits.reactions
@operation(WRITE, model="Reactions", json="ReactionIn", tags=("Posts",))
def react(post_id: int) -> Any:
    """React to a post

    One reaction per member and post: another emoji replaces the caller's previous one."""
    reaction_services.set_reaction(_viewer(), post_id, _context().json.emoji)
    return _reactions(post_id)


@bp.route("/posts/<int:post_id>/reaction", methods=["DELETE"])
@ratelimits.reactions
@operation(WRITE, ok=204, tags=("Posts",))
def unreact(post_id: int) -> Any:
    """Take back one's reaction to a post"""
    reaction_services.set_reaction(_viewer(), post_id, None)
    return Response(status=204)


# --- members --------------------------------------------------------------------------------
def _member(user: Any) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": "sysop" if user.is_global_sysop else "member",
        "created_at": user.created_at,
        "post_count": user.post_count,
        "topic_count": user.topic_count,
        "signature": user.signature,
        "bio_html": user.bio_html,
        "sigs": [_sig_ref(s) for s in queries.member_sigs(_viewer(), user)],
        "url": absolute_url_for("accounts.profile", username=user.username),
    }


@bp.route("/members/<username>")
@operation(READ, model="Member", tags=("Members",), guests=True)
def get_member(username: str) -> Any:
    """Show a member's public profile"""
    return schemas.Member(**_member(account_services.get_member(username)))


@bp.route("/me")
@operation(READ, model="Me", tags=("Members",))
def get_me() -> Any:
    """Show the member this request acts for

    With their standing (may they write, and if not, why) and the scopes of this request."""
    found = credential()
    user = found.user
    assert user is not None
    problem = permissions.standing_problem(user)
    scopes = found.scopes
    return schemas.Me(
        **_member(user),
        email=user.email,
        language=user.language,
        timezone=user.timezone,
        standing=schemas.Standing(
            banned=user.is_banned,
            suspended_until=user.suspended_until,
            silenced_until=user.silenced_until,
            approval=user.approval,  # type: ignore[arg-type]
            problem=str(problem) if problem else None,
        ),
        unread_notifications=notification_queries.unread_count(user.id),
        scopes=sorted(scopes) if scopes is not None else list(permissions.token_scopes_for(user)),
    )


# --- notifications --------------------------------------------------------------------------
@bp.route("/notifications")
@operation(READ, model="NotificationList", query="PageQuery", tags=("Notifications",))
def list_notifications() -> Any:
    """List my notifications

    Newest first, 30 a page. Each says only what the member may still read."""
    page = notification_queries.notifications_page(_viewer(), _context().query.page)
    return schemas.NotificationList(
        items=[
            schemas.Notification(
                id=row.id,
                kind=row.kind.name,
                text=row.text,
                url=row.url,
                excerpt=row.excerpt,
                read=row.is_read,
                created_at=row.created_at,
            )
            for row in page.rows
        ],
        page=page.page,
        next_page=page.page + 1 if page.has_next else None,
        unread=page.unread,
    )


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@operation(WRITE, model="ReadResult", tags=("Notifications",))
def mark_notification_read(notification_id: int) -> Any:
    """Mark one notification read"""
    row = notification_services.mark_read(_viewer(), notification_id)
    user = _viewer()
    assert user is not None
    return schemas.ReadResult(
        marked=1 if row is not None else 0, unread=notification_queries.unread_count(user.id)
    )


@bp.route("/notifications/read", methods=["POST"])
@operation(WRITE, model="ReadResult", tags=("Notifications",))
def mark_all_notifications_read() -> Any:
    """Mark every notification read"""
    count = notification_services.mark_all_read(_viewer())
    return schemas.ReadResult(marked=count, unread=0)


# --- search ---------------------------------------------------------------------------------
@bp.route("/search")
@operation(READ, model="SearchResults", query="SearchQuery", tags=("Search",), guests=True)
def search() -> Any:
    """Search posts

    The search page's query language (`"exact words"`, `-word`, `sig:slug`, `author:name`),
    over what the reader may read."""
    args = _context().query
    result = search_queries.search_page(
        _viewer(), args.q, args.page, args.sort, language=i18n.language()
    )
    return schemas.SearchResults(
        q=result.q,
        page=result.page,
        pages=result.pages,
        total=result.total,
        total_exact=result.total_exact,
        items=[
            schemas.SearchHit(
                post_id=hit.post_id,
                number=hit.number,
                topic=schemas.TopicRef(id=hit.topic.id, title=hit.topic.title),
                sig=schemas.SigName(slug=hit.sig_slug, name=hit.sig_name),
                author=public_name(hit.author),
                created_at=hit.created_at,
                is_first=hit.is_first,
                excerpt_html=str(hit.excerpt_html),
                url=absolute_url_for("topics.permalink", post_id=hit.post_id),
            )
            for hit in result.results
        ],
        notices=[str(n) for n in result.notices],
        error=result.error,
    )


# --- moderation -----------------------------------------------------------------------------
@bp.route("/posts/<int:post_id>/flags", methods=["POST"])
@ratelimits.reports
@operation(WRITE, ok=201, model="FlagResult", json="FlagIn", tags=("Moderation",))
def flag_post(post_id: int) -> Any:
    """Flag a post for its SIG's sysops"""
    body = _context().json
    flag = moderation.flag_post(_viewer(), post_id, body.reason, body.note)
    return schemas.FlagResult(id=flag.id, post_id=flag.post_id, reason=flag.reason), 201


@bp.route("/posts/<int:post_id>/hide", methods=["POST"])
@operation(MODERATE, model="Post", json="ReasonIn", tags=("Moderation",))
def hide_post(post_id: int) -> Any:
    """Hide a post (its SIG's sysops)"""
    moderation.hide_post(_viewer(), post_id, _context().json.reason)
    return _post_by_id(post_id)


@bp.route("/posts/<int:post_id>/unhide", methods=["POST"])
@operation(MODERATE, model="Post", tags=("Moderation",), errors=(409,))
def unhide_post(post_id: int) -> Any:
    """Show a hidden post again (its SIG's sysops)"""
    moderation.unhide_post(_viewer(), post_id)
    return _post_by_id(post_id)


def _topic_by_id(topic_id: int) -> schemas.TopicDetail:
    db.session.expire_all()
    return _topic_detail(queries.topic_detail(_viewer(), topic_id))


@bp.route("/topics/<int:topic_id>/lock", methods=["POST"])
@operation(MODERATE, model="TopicDetail", json="ReasonIn", tags=("Moderation",))
def lock_topic(topic_id: int) -> Any:
    """Lock a topic: no new replies but the sysops' (its SIG's sysops)"""
    moderation.lock_topic(_viewer(), topic_id, _context().json.reason)
    return _topic_by_id(topic_id)


@bp.route("/topics/<int:topic_id>/unlock", methods=["POST"])
@operation(MODERATE, model="TopicDetail", tags=("Moderation",), errors=(409,))
def unlock_topic(topic_id: int) -> Any:
    """Unlock a topic (its SIG's sysops)"""
    moderation.unlock_topic(_viewer(), topic_id)
    return _topic_by_id(topic_id)


@bp.route("/topics/<int:topic_id>/move", methods=["POST"])
@operation(MODERATE, model="TopicDetail", json="MoveIn", tags=("Moderation",))
def move_topic(topic_id: int) -> Any:
    """Move a topic to another SIG (a sysop of both)"""
    body = _context().json
    permissions.get_topic_for(_viewer(), topic_id)  # an unknown topic before an unknown SIG
    target = permissions.get_sig_for(_viewer(), body.sig)
    moderation.move_topic(_viewer(), topic_id, target.id, body.reason)
    return _topic_by_id(topic_id)


@bp.route("/topics/<int:topic_id>/split", methods=["POST"])
@operation(MODERATE, ok=201, model="TopicDetail", json="SplitIn", tags=("Moderation",))
def split_topic(topic_id: int) -> Any:
    """Split replies off into a new topic (its SIG's sysops)

    The chosen replies (`posts`; with `and_later`, every reply after the first one chosen too)
    become a new topic titled `title`, numbered 1, 2, … in their old order, their permalinks
    kept; in the topic's SIG or, with `sig`, another one the caller moderates. In the
    moderation log as the split page's. Answers with the new topic."""
    body = _context().json
    viewer = _viewer()
    permissions.get_topic_for(viewer, topic_id)  # an unknown topic before an unknown SIG
    target = permissions.get_sig_for(viewer, body.sig) if body.sig is not None else None
    new = moderation.split_topic(
        viewer,
        topic_id,
        body.posts,
        body.title,
        target.id if target is not None else None,
        body.reason,
        and_later=body.and_later,
    )
    return _topic_by_id(new.id), 201


@bp.route("/members/<username>/suspend", methods=["POST"])
@operation(MODERATE, model="SuspendResult", json="SuspendIn", tags=("Moderation",))
def suspend_member(username: str) -> Any:
    """Suspend a member

    In one SIG (`sig`: its sysops) or, without `sig`, site-wide (the sysop, with a token of the
    `admin` scope). A suspended member reads but does not write."""
    body = _context().json
    viewer = _viewer()
    sig = permissions.get_sig_for(viewer, body.sig) if body.sig is not None else None
    if sig is None:
        permissions.require_scope(credential().scopes, ADMIN)
    member = account_services.get_member(username)
    moderation.suspend_member(
        viewer, member.id, body.until, body.reason, sig.id if sig is not None else None
    )
    return schemas.SuspendResult(
        member=schemas.MemberRef(id=member.id, username=member.username),
        sig=_sig_ref(sig) if sig is not None else None,
        until=body.until,
    )
