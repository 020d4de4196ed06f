"""Domain events: frozen dataclasses that carry ids, published inside a transaction.

Two kinds of subscriber:
- `after_commit` (the default): runs once the transaction has committed; search indexing, socket
  nudges. A failure is logged and never undoes the commit (re-raised when EVENTS_RAISE is set).
- `in_transaction`: runs at publish time inside the producer's transaction, for rows that must
  commit or roll back with the change itself (notifications). It only writes through the session.
Producers publish; they never import the features that subscribe.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from flask import Flask, current_app

from .db import in_transaction, on_commit
from .hooks import AppSlot
from .storage_faults import describe_error, is_database_down, storage_refused

log = logging.getLogger(__name__)

Phase = Literal["after_commit", "in_transaction"]
E = TypeVar("E", bound="Event")


@dataclass(frozen=True)
class Event:
    """Base class of every domain event."""


# --- accounts -------------------------------------------------------------------------------
@dataclass(frozen=True)
class MemberRegistered(Event):
    user_id: int


@dataclass(frozen=True)
class TrustLevelChanged(Event):
    """The member's trust level changed: raised or lowered by the review (actor_id None), or set
    by the sysop."""

    user_id: int
    old_level: int
    new_level: int
    actor_id: int | None = None


@dataclass(frozen=True)
class SiteRoleChanged(Event):
    """The global sysop made a member a global sysop (`is_sysop`) or took that role away;
    sockets of one who lost it leave the rooms only a global sysop may be in (a private SIG's
    topics and presence, its sysop pages)."""

    user_id: int
    is_sysop: bool


@dataclass(frozen=True)
class SessionsRevoked(Event):
    """Every session of the member ended (logout, password change, ban)."""

    user_id: int


@dataclass(frozen=True)
class AccountDecided(Event):
    """A sysop approved or refused a new account that waited for approval."""

    user_id: int
    approved: bool
    actor_id: int


@dataclass(frozen=True)
class AccountDeleted(Event):
    """A member deleted their own account (forum.accounts.deletion). Published inside the
    deletion's transaction: each feature forgets what it keeps of the member there
    (`in_transaction` subscribers), so the account goes whole or not at all. Their posts stay,
    under the placeholder name: `post_ids`, `topic_ids` and `sig_ids` name where that name
    shows (search documents, cached pages)."""

    user_id: int
    post_ids: tuple[int, ...] = ()
    topic_ids: tuple[int, ...] = ()
    sig_ids: tuple[int, ...] = ()


# --- SIGs -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SigCreated(Event):
    sig_id: int


@dataclass(frozen=True)
class SigChanged(Event):
    """Name, description, language, visibility or archive state changed."""

    sig_id: int
    visibility_changed: bool = False


@dataclass(frozen=True)
class MemberJoinedSig(Event):
    sig_id: int
    user_id: int


@dataclass(frozen=True)
class MemberLeftSig(Event):
    """The member left or was removed; sockets drop the SIG's rooms."""

    sig_id: int
    user_id: int


@dataclass(frozen=True)
class SigSysopChanged(Event):
    """The global sysop appointed a SIG sysop (`is_sysop`) or dismissed one; sockets of a
    dismissed one leave the rooms only sysops may be in."""

    sig_id: int
    user_id: int
    is_sysop: bool


@dataclass(frozen=True)
class JoinRequested(Event):
    request_id: int
    sig_id: int
    user_id: int


@dataclass(frozen=True)
class JoinRequestDecided(Event):
    request_id: int
    sig_id: int
    user_id: int
    approved: bool
    actor_id: int


@dataclass(frozen=True)
class SigInviteCreated(Event):
    """A SIG's sysop made an invite link to it (the moderation log records it)."""

    invite_id: int
    sig_id: int
    actor_id: int


@dataclass(frozen=True)
class SigInviteRevoked(Event):
    invite_id: int
    sig_id: int
    actor_id: int


# --- topics and posts -----------------------------------------------------------------------
@dataclass(frozen=True)
class TopicCreated(Event):
    topic_id: int
    sig_id: int
    post_id: int
    author_id: int


@dataclass(frozen=True)
class PostCreated(Event):
    """A post was written. `visible` is False while it waits for approval."""

    post_id: int
    topic_id: int
    sig_id: int
    author_id: int
    is_first: bool = False
    visible: bool = True


@dataclass(frozen=True)
class TopicsRead(Event):
    """The member read these topics to their last post (a topic page, or "mark all read"): the
    "Tracked" count in their other tabs may drop."""

    user_id: int
    topic_ids: tuple[int, ...]


@dataclass(frozen=True)
class PostEdited(Event):
    post_id: int
    topic_id: int
    sig_id: int
    editor_id: int


@dataclass(frozen=True)
class PostVisibilityChanged(Event):
    """A post was deleted, restored, hidden, unhidden or approved: re-read it from the database."""

    post_id: int
    topic_id: int
    sig_id: int
    actor_id: int
    change: str


@dataclass(frozen=True)
class TopicChanged(Event):
    """A topic was retitled, locked, pinned, deleted, restored, moved, split or merged.

    `post_ids` lists posts whose topic or SIG changed (moves, splits and merges), so indexes can
    re-read them; `old_sig_id` is set on a move.
    """

    topic_id: int
    sig_id: int
    actor_id: int
    change: str
    post_ids: tuple[int, ...] = ()
    old_sig_id: int | None = None


# --- reactions and bookmarks ----------------------------------------------------------------
@dataclass(frozen=True)
class ReactionChanged(Event):
    """A member reacted to a post, changed their reaction or took it back. `emoji` is the
    reaction now (None: taken back), `previous` the one before (None: there was none)."""

    post_id: int
    topic_id: int
    sig_id: int
    user_id: int
    author_id: int | None
    emoji: str | None
    previous: str | None


@dataclass(frozen=True)
class BookmarkReminderDue(Event):
    """A bookmark's reminder time came: its member is reminded of the post."""

    bookmark_id: int
    user_id: int
    post_id: int


# --- notifications --------------------------------------------------------------------------
@dataclass(frozen=True)
class NotificationsCreated(Event):
    """Notification rows were written; delivered live after commit. `user_ids` holds each
    row's recipient, in the same order, so delivery can skip members who are not online."""

    notification_ids: tuple[int, ...]
    user_ids: tuple[int, ...]


@dataclass(frozen=True)
class WatchLevelChanged(Event):
    """The member chose how much to hear about a topic or a SIG: their "Tracked" count may move."""

    user_id: int
    topic_id: int | None = None
    sig_id: int | None = None


@dataclass(frozen=True)
class NotificationsRead(Event):
    """The member read one or all notifications; other tabs update their count."""

    user_id: int


# --- moderation -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PostFlagged(Event):
    """A member flagged a post for its SIG's sysops."""

    flag_id: int
    post_id: int
    topic_id: int
    sig_id: int
    user_id: int


@dataclass(frozen=True)
class FlagsResolved(Event):
    """A sysop handled a flagged post; each flagger hears the outcome (see moderation OUTCOMES)."""

    post_id: int
    sig_id: int
    flagger_ids: tuple[int, ...]
    outcome: str
    actor_id: int


@dataclass(frozen=True)
class MemberDisciplined(Event):
    """A member was warned, silenced, suspended (in a SIG when sig_id is set) or banned, or one of
    these was lifted (kind "lifted_silence", "lifted_suspension", "lifted_ban")."""

    user_id: int
    kind: str
    actor_id: int
    sig_id: int | None = None
    reason: str = ""


# --- community pulse: answers and announcements ----------------------------------------------
@dataclass(frozen=True)
class TopicAnswerChanged(Event):
    """A reply was marked as the topic's answer (`post_id`), or the mark was taken off (None)."""

    topic_id: int
    sig_id: int
    post_id: int | None
    actor_id: int


@dataclass(frozen=True)
class AnnouncementPublished(Event):
    """An announcement began to show: when a sysop posted it, or at the start it was scheduled
    for (its delayed job, or the minute sweep when that job was lost); once (its published_at);
    `sig_id` is None for a site-wide one, `author_id` None for an author gone."""

    announcement_id: int
    sig_id: int | None
    author_id: int | None


@dataclass(frozen=True)
class AnnouncementEnded(Event):
    """An announcement left the banner: a sysop ended it before its time ("End now",
    `actor_id` theirs) or removed it while it showed (the row is gone by the commit), or it
    reached its end by itself (`actor_id` None: the minute sweep,
    announcements.services.sweep_announcements, within a minute or so of its end). Once per
    announcement (its end_published_at)."""

    announcement_id: int
    sig_id: int | None
    actor_id: int | None


# --- webhooks -------------------------------------------------------------------------------
@dataclass(frozen=True)
class WebhookDisabled(Event):
    """A webhook was turned off after too many failed deliveries in a row: its owner is told."""

    webhook_id: int
    sig_id: int | None
    owner_id: int | None
    failures: int


# --- private mail ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PrivateMessageSent(Event):
    """A member wrote in a conversation (or started one). `recipient_ids`: its other active
    participants, the only members who may hear of it."""

    message_id: int
    conversation_id: int
    author_id: int
    recipient_ids: tuple[int, ...]
    is_first: bool = False


@dataclass(frozen=True)
class MailRead(Event):
    """The member's unread mail count may have moved (read, left, archived): other tabs follow.
    `conversation_id`: the conversation they read, archived or left, when there is one."""

    user_id: int
    conversation_id: int | None = None


@dataclass(frozen=True)
class MessageReportResolved(Event):
    """The sysop handled a reported private message; each member who reported it hears how."""

    message_id: int
    reporter_ids: tuple[int, ...]
    outcome: str
    actor_id: int


# --- files and SIG libraries -----------------------------------------------------------------
@dataclass(frozen=True)
class LibraryFileAdded(Event):
    """A member put a file in a SIG's library (`approved` False: it waits for a librarian), or a
    librarian added a new version of one (`version_id`)."""

    file_id: int
    version_id: int
    sig_id: int
    uploader_id: int
    approved: bool


@dataclass(frozen=True)
class LibraryFileChanged(Event):
    """A library file was approved, edited, moved, retired, restored or rejected (`change`)."""

    file_id: int
    sig_id: int
    actor_id: int
    change: str


@dataclass(frozen=True)
class AvatarChanged(Event):
    """A member's picture was set, or reset to their letter (by them or the sysop)."""

    user_id: int
    actor_id: int


# --- member care: concerns and pages ---------------------------------------------------------
@dataclass(frozen=True)
class ConcernOpened(Event):
    """A member wrote to the sysops of a SIG (`sig_id`; None: the site's), or a page became a
    concern. `sysop_ids`: who handles it now (asked of forum.permissions in the transaction),
    to be told of it: not the sysop who took the page it comes from (they opened it). Also what
    webhooks announce as `concern.opened` (ids only)."""

    concern_id: int
    sig_id: int | None
    member_id: int
    sysop_ids: tuple[int, ...]
    from_page: bool = False


@dataclass(frozen=True)
class ConcernMessageAdded(Event):
    """A message in a concern: by its member (`from_sysops` False) or by one of its sysops.
    `recipient_ids`: the member, or the sysops, who may hear of it."""

    concern_id: int
    message_id: int
    author_id: int
    from_sysops: bool
    recipient_ids: tuple[int, ...]


@dataclass(frozen=True)
class ConcernChanged(Event):
    """A concern's state, assignee or notes changed (`change`: "resolved", "waiting",
    "reopened", "assigned", "note", "rated"); open pages of it follow."""

    concern_id: int
    change: str
    actor_id: int | None
    recipient_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ConcernOverdue(Event):
    """A concern passed its first-response deadline (`escalated` False: its SIG's sysops are
    told) or its second one (True: the global sysop is)."""

    concern_id: int
    sig_id: int | None
    escalated: bool
    recipient_ids: tuple[int, ...]


@dataclass(frozen=True)
class SysopPaged(Event):
    """A member paged the sysops on duty in a SIG (`sysop_ids`, asked again at delivery)."""

    page_id: int
    sig_id: int
    member_id: int
    sysop_ids: tuple[int, ...]


@dataclass(frozen=True)
class PageAnswered(Event):
    """A page was taken by a sysop (`taken_by_id`) or, untaken in time, became an open concern
    (`taken_by_id` None). `sysop_ids`: the other sysops who were paged (their bell stops)."""

    page_id: int
    concern_id: int
    member_id: int
    taken_by_id: int | None
    sysop_ids: tuple[int, ...]


Subscriber = Callable[[Any], None]
_REGISTRY: AppSlot[dict[Phase, dict[type[Event], list[Subscriber]]]] = AppSlot("forum.events")


def _registry(app: Flask) -> dict[Phase, dict[type[Event], list[Subscriber]]]:
    return _REGISTRY.setdefault(
        app, lambda: {"after_commit": defaultdict(list), "in_transaction": defaultdict(list)}
    )


def subscribe(
    app: Flask,
    event_type: type[E],
    fn: Callable[[E], None],
    phase: Phase = "after_commit",
    *,
    first: bool = False,
) -> None:
    """Register `fn` for `event_type` on this app (called from a feature's init_app).

    `first` puts it ahead of the subscribers already registered: for cheap, latency-sensitive
    work (socket nudges) that should not wait behind slow work (search indexing).
    """
    subscribers = _registry(app)[phase][event_type]
    if first:
        subscribers.insert(0, fn)
    else:
        subscribers.append(fn)


def publish(event: Event) -> None:
    """Announce `event` from inside a transaction()."""
    if not in_transaction():
        raise RuntimeError(f"publish({type(event).__name__}) outside transaction()")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    registry = _registry(app)
    for fn in registry["in_transaction"].get(type(event), []):
        fn(event)
    if registry["after_commit"].get(type(event)):
        on_commit(lambda: dispatch(app, event))


def dispatch(app: Flask, event: Event) -> None:
    for fn in _registry(app)["after_commit"].get(type(event), []):
        try:
            fn(event)
        except Exception as exc:
            name = getattr(fn, "__qualname__", fn)
            refused = storage_refused(exc)
            if refused:  # a read-only or full database: one line, the storage's fault, not code's
                log.warning("subscriber %s could not write after %r: %s", name, event, refused)
            elif is_database_down(exc):  # the database went away after the commit: the same
                log.warning(
                    "subscriber %s could not reach the database after %r: %s",
                    name,
                    event,
                    describe_error(exc),
                )
            else:
                log.exception("subscriber %s failed on %r", name, event)
            if app.config.get("EVENTS_RAISE"):
                raise
