"""Who may stay in a room: the permission policy asked again about sockets already in it.

Used when a SIG's visibility changes, a member leaves or is removed (a sysop dismissed), a
topic moves, or a member loses the global sysop's role (every such room of theirs, in any SIG):
the manager collects the members holding sockets in the affected rooms (a SIG's topic and
presence rooms, and its sysop pages' rooms), and this answers once per room, in five queries for
any number of rooms and members.
"""

from __future__ import annotations

from sqlalchemy import select

from .. import permissions
from ..accounts.models import User
from ..care.models import SysopPage
from ..extensions import db
from ..sigs.models import Sig
from ..topics.models import Topic

TOPIC_PREFIX = "topic:"
PRESENCE_SIG_PREFIX = "presence:sig:"
CARE_PAGE_PREFIX = "care_page:"


def _id(room: str, prefix: str) -> int | None:
    tail = room[len(prefix) :]
    return int(tail) if room.startswith(prefix) and tail.isdecimal() else None


def room_access(
    holders: dict[str, set[int | None]],
) -> dict[str, tuple[int | None, set[int | None]]]:
    """{room: members (None: a guest)} -> {room: (its SIG now or None, who may stay)}."""
    topic_ids = {i for room in holders if (i := _id(room, TOPIC_PREFIX)) is not None}
    sig_ids = {i for room in holders if (i := _id(room, PRESENCE_SIG_PREFIX)) is not None}
    page_ids = {i for room in holders if (i := _id(room, CARE_PAGE_PREFIX)) is not None}
    pages: dict[int, SysopPage] = {}
    if page_ids:
        pages = {
            p.id: p for p in db.session.scalars(select(SysopPage).where(SysopPage.id.in_(page_ids)))
        }
    topics: dict[int, Topic] = {}
    if topic_ids:
        topics = {t.id: t for t in db.session.scalars(select(Topic).where(Topic.id.in_(topic_ids)))}
    sig_ids |= {t.sig_id for t in topics.values()}
    sigs: dict[int, Sig] = {}
    if sig_ids:
        sigs = {s.id: s for s in db.session.scalars(select(Sig).where(Sig.id.in_(sig_ids)))}
    user_ids = {m for members in holders.values() for m in members if m is not None}
    users: dict[int, User] = {}
    if user_ids:
        users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))}
        permissions.load_memberships(list(users.values()))

    def may_read(member: int | None, topic: Topic | None, sig: Sig) -> bool:
        user = users.get(member) if member is not None else None
        if member is not None and (user is None or user.is_banned):
            return False  # the account is gone or banned (its sockets are being closed)
        if topic is not None:
            return permissions.can_view_topic(user, topic, sig)
        return permissions.can_read_sig(user, sig)

    def may_see_page(member: int | None, page: SysopPage) -> bool:
        # The member who sent it, and whoever may take it (get_page_for's rule, asked again).
        user = users.get(member) if member is not None else None
        return user is not None and not user.is_banned and permissions.can_see_page(user, page)

    verdicts: dict[str, tuple[int | None, set[int | None]]] = {}
    for room, members in holders.items():
        page_id = _id(room, CARE_PAGE_PREFIX)
        if page_id is not None:
            page = pages.get(page_id)
            verdicts[room] = (
                (page.sig_id, {m for m in members if may_see_page(m, page)})
                if page is not None
                else (None, set())
            )
            continue
        topic_id, sig_id = _id(room, TOPIC_PREFIX), _id(room, PRESENCE_SIG_PREFIX)
        topic = topics.get(topic_id) if topic_id is not None else None
        if topic is not None:
            sig_id = topic.sig_id
        elif topic_id is not None:
            sig_id = None  # the topic is gone
        sig = sigs.get(sig_id) if sig_id is not None else None
        if sig is None:
            verdicts[room] = (None, set())
            continue
        verdicts[room] = (sig.id, {m for m in members if may_read(m, topic, sig)})
    return verdicts
