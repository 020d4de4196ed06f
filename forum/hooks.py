"""Typed hooks: how one feature lends a callback to another without either importing the other.

A domain feature (accounts, sigs, topics) names what it asks here; the feature that answers
(moderation, admin, notifications, pulse, announcements) provides it in its `init_app`. Each
hook says who provides and who calls it, and what happens when nobody provided it.

`AppSlot` is the one way to keep a per-app object (the search drainer, the mail worker, the
presence registry, …) in `app.extensions`: declared once, beside its owner, with its type.
Nothing else in `forum/` reads `app.extensions` by a string key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from flask import Flask, current_app

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

    from .accounts.models import User
    from .sigs.models import Sig
    from .topics.queries import TopicPage

T = TypeVar("T")

# The status of a post shown at once (forum.topics.models.POST_VISIBLE; the same string).
_POST_VISIBLE = "visible"


def _app(app: Flask | None) -> Flask:
    return app if app is not None else cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]


class AppSlot(Generic[T]):
    """One per-app value of type T, kept in `app.extensions[key]`."""

    def __init__(self, key: str) -> None:
        self.key = key

    def get(self, app: Flask | None = None) -> T | None:
        return cast("T | None", _app(app).extensions.get(self.key))

    def require(self, app: Flask | None = None) -> T:
        """The value; a RuntimeError when its owner's init_app did not run."""
        value = self.get(app)
        if value is None:
            raise RuntimeError(f"{self.key} is not set up for this app")
        return value

    def set(self, app: Flask, value: T) -> T:
        app.extensions[self.key] = value
        return value

    def setdefault(self, app: Flask, make: Callable[[], T]) -> T:
        """The value, made (once) on first use."""
        value = self.get(app)
        if value is None:
            value = cast(T, app.extensions.setdefault(self.key, make()))
        return value

    def pop(self, app: Flask | None = None) -> T | None:
        return cast("T | None", _app(app).extensions.pop(self.key, None))


class Hook(Generic[T]):
    """A callback one feature provides and another calls; `default` when none was provided."""

    def __init__(self, key: str, default: T) -> None:
        self._slot: AppSlot[T] = AppSlot(key)
        self.default = default

    def provide(self, app: Flask, fn: T) -> None:
        self._slot.set(app, fn)

    def withdraw(self, app: Flask) -> None:
        """Back to the default (tests)."""
        self._slot.pop(app)

    def get(self, app: Flask | None = None) -> T:
        value = self._slot.get(app)
        return self.default if value is None else value


class HookList(Generic[T]):
    """Contributions several features add to, in the order their init_app ran."""

    def __init__(self, key: str) -> None:
        self._slot: AppSlot[list[T]] = AppSlot(key)

    def add(self, app: Flask, item: T) -> None:
        self._slot.setdefault(app, list).append(item)

    def get(self, app: Flask | None = None) -> tuple[T, ...]:
        return tuple(self._slot.get(app) or ())


class HookMap(Generic[T]):
    """Named contributions several features add to."""

    def __init__(self, key: str) -> None:
        self._slot: AppSlot[dict[str, T]] = AppSlot(key)

    def add(self, app: Flask, name: str, item: T) -> None:
        self._slot.setdefault(app, dict)[name] = item

    def get(self, app: Flask | None = None) -> Mapping[str, T]:
        return dict(self._slot.get(app) or {})


# --- posts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Screening:
    """What happens to a new post before anyone sees it: `status` is the post's status
    ("visible", or "pending" for the approval queue), `reason` why it waits."""

    status: str = _POST_VISIBLE
    reason: str | None = None


ScreenPost = Callable[["User", "Sig", str], Screening]


def _show_at_once(author: User, sig: Sig, text: str) -> Screening:
    return Screening()


screen_post: Hook[ScreenPost] = Hook("forum.screen_post", _show_at_once)
"""Decide whether a new post (author, SIG, text) is shown at once or waits for approval, or
raise `errors.Invalid` to refuse it. Provided by moderation (word filter, approval queue);
called by `topics.services` before the reply's or the topic's transaction. Default: every post
is shown at once."""


def _no_reading_time(user_id: int) -> int:
    return 0


reading_time: Hook[Callable[[int], int]] = Hook("forum.reading_time", _no_reading_time)
"""Take the seconds a member (by id) has spent reading since their read position last moved,
measured by this process (the clock restarts). Provided by trust (its reading clock); called
by `topics.views` when a topic page moves the member's read position, which stores them with
it (no write of its own). Default: 0 (nothing measured)."""


# --- requests ------------------------------------------------------------------------------

request_member: HookMap[Callable[[], User | None]] = HookMap("forum.request_member")
"""Who a request to a blueprint acts for, by the blueprint's name, where that is not simply the
browser's signed-in member: the member, or None (a guest, or a credential that is not valid).
Provided by api ("api": a token's member, whatever cookie came along); called by
`forum.ratelimits.member_key`, which the rate limiter asks before the blueprint's own
before-request hooks run. Default: the browser's signed-in member (`web.viewer`)."""


# --- registration --------------------------------------------------------------------------

registration_mode: Hook[Callable[[], str]] = Hook("forum.registration_mode", lambda: "open")
"""The site's registration mode: "open", "invite" or "closed". Provided by admin (a site
setting); called by `accounts.services` on sign-up and by the sign-up page. Default: open."""


def _any_invite(code: str) -> None:
    return None


def _no_invites(code: str, user_id: int) -> None:
    return None


check_invite: Hook[Callable[[str], None]] = Hook("forum.check_invite", _any_invite)
"""Raise `errors.Invalid("invite", …)` unless the invite code may be used now. Provided by
admin (invites); called by `accounts.services` before an invite-only sign-up. Default: nothing
to check (no feature hands out invites, so the mode is never "invite")."""

consume_invite: Hook[Callable[[str, int], None]] = Hook("forum.consume_invite", _no_invites)
"""Use up the invite code (code, new member's id) inside the registration's transaction.
Provided by admin; called by `accounts.services`. Default: nothing to record."""


signed_in: HookList[Callable[[User], None]] = HookList("forum.signed_in")
"""This browser just signed in as the member (a login, with its code when asked for, or a
finished registration), inside that request. Provided by realtime: who's online lists the
member at once, on the page they land on, and stops counting the browser as a guest. Called
by `accounts.views`. Default: nothing."""


# --- pages ---------------------------------------------------------------------------------

HeaderItem = dict[str, Any]
"""A link in the header: url, label, count, css, id; "alert": True when its count is something
waiting for the member (unread notifications, mail, the mod queue): on phones, where the links
sit in the closed "Menu", a dot on the Menu button says one of those counts is not zero."""

HeaderProvider = Callable[["User | None"], "HeaderItem | list[HeaderItem] | None"]

header_items: HookList[HeaderProvider] = HookList("forum.header_items")
"""Given the viewer (None for a guest), one header item, a list of them, or None. Provided by
notifications (Tracked, Notifications), messages (Mail), moderation (the queue), pulse and
announcements; called by `web` for every page's header. Default: no items."""

header_counts: HookMap[Callable[[Any], Any]] = HookMap("forum.header_counts")
"""Counts the header shows a member, by name: given the member's id (a SQL bind parameter), a
scalar subquery counting. Provided by notifications ("notifications", "tracked") and messages
("mail"); `web.header_counts` reads them all in one statement a request, for those features'
header items. Default: none."""

topic_page: HookList[Callable[[TopicPage], None]] = HookList("forum.topic_page")
"""Add to a topic page's read model before it is shown (e.g. pulse: the answer under the
question). Provided by pulse; called by `topics.views`. Default: nothing added."""

posts_shown: HookList[Callable[[User, tuple[int, ...]], None]] = HookList("forum.posts_shown")
"""A member was shown these posts (ids) on a topic page, before its header is drawn: e.g.
notifications reads their notifications about those posts (and the header's count with them).
Provided by notifications; called by `topics.views` (not for guests, previews or error pages;
a refused write while storage is read-only is logged and the page goes on). Default: nothing."""

new_filters: HookMap[Callable[[User], ColumnElement[bool]]] = HookMap("forum.new_filters")
"""Narrower views of /new by name: given the member, a SQL filter on Topic. Provided by
notifications ("tracked"); called by `topics.queries`. Default: none (an unknown filter name
shows all of /new)."""

sig_topic_filters: HookMap[Callable[[Sig], ColumnElement[bool]]] = HookMap(
    "forum.sig_topic_filters"
)
"""Narrower views of a SIG's topic list by name (?filter=…): given the SIG, a SQL filter on
Topic. Provided by pulse ("answered", "unanswered": it owns what counts as an answer); called
by `sigs.views` (which names are valid) and `sigs.queries`. Default: none (all topics)."""

profile_sections: HookList[str] = HookList("forum.profile_sections")
"""Templates included on a member's public profile (`/u/<name>`), each a section of its own.
Provided by messages ("Send private mail", ignore); called by `accounts.views`. Default: no
extra sections."""

member_card_sections: HookList[str] = HookList("forum.member_card_sections")
"""Templates included in the card shown on a member's name (`card`: forum.accounts.queries
.MemberCard, `card.for_sysop` when the reader moderates), e.g. a trust level for sysops.
Provided by features that know more of a member; called by `accounts.views`. Default: none."""

settings_sections: HookList[str] = HookList("forum.settings_sections")
"""Templates included in the member's settings page, each a section of its own. Provided by
moderation (standing) and notifications (mail and watch preferences); called by
`accounts.views`. Default: no extra sections."""


account_data: HookMap[Callable[[User], list[dict[str, Any]]]] = HookMap("forum.account_data")
"""Parts of a member's data export ("Download my data" in the settings), by file name: given
the member, JSON-ready rows of what the feature keeps of them (their own words only, never
another member's private content). Provided by drafts, bookmarks, reactions, notifications
(watches), messages, files (uploads), care (concerns) and api (tokens); called by
`accounts.queries.account_export`. Default: none (the export holds the domain's own parts)."""


# --- files ---------------------------------------------------------------------------------


def _no_images(shas: set[str]) -> dict[str, tuple[int, int, bool]]:
    return {}


image_sizes: Hook[Callable[[set[str]], dict[str, tuple[int, int, bool]]]] = Hook(
    "forum.image_sizes", _no_images
)
"""Given the SHA-256 of files a post's text shows, each uploaded image's (width, height, has a
medium thumbnail): the content pipeline shows those as images. Provided by files; called by
`topics.services` when it cooks a post (and by `flask forum rebake`). Default: none known, so
images show as links."""


def _attach_nothing(actor: User | None, sig_id: int, files: list[Any], body: str) -> str:
    return body


attach_files: Hook[Callable[[User | None, int, list[Any], str], str]] = Hook(
    "forum.attach_files", _attach_nothing
)
"""The composer's plain file input (no JavaScript): keep each file chosen (actor, SIG id,
Werkzeug FileStorage objects) and give back the post's text with their Markdown added; raise
`errors.Invalid("file", …)` for a file refused. Provided by files; called by `topics.views`.
Default: files are ignored."""

uploads_enabled: Hook[Callable[[], bool]] = Hook("forum.uploads_enabled", lambda: False)
"""Whether the composer offers a file input. Provided by files; called by the composer's
template (through `topics.views`). Default: no."""
sig_page_sections: HookList[str] = HookList("forum.sig_page_sections")
"""Templates included on a SIG's page under its header (given `page`, the SIG page's read
model). Provided by care ("a sysop is here", write to the sysops, on duty); called by
`sigs.views`. Default: no extra sections."""


def _nowhere(viewer: User | None, conversation_id: int) -> str | None:
    return None


conversation_elsewhere: Hook[Callable[[User | None, int], str | None]] = Hook(
    "forum.conversation_elsewhere", _nowhere
)
"""Where a conversation of another kind than private mail is read (a concern, forum.care),
given the viewer and the conversation's id: a URL, or None (then it is private mail, or
nothing). Provided by care; called by `messages.views` for /mail/c/<id>. Default: None."""

mod_queue_sections: HookList[str] = HookList("forum.mod_queue_sections")
"""Templates included at the top of the moderation queue (/mod), each a section of its own.
Provided by care (overdue concerns, waiting pages); called by `moderation.views`. Default: no
extra sections."""


# --- a form that could not be sent ---------------------------------------------------------


@dataclass(frozen=True)
class KeptDraft:
    """The draft kept at the place a refused form wrote to: when it was saved (None: drafts are
    kept there, but none of this member's could be read, e.g. they are signed out), its text,
    and whether that is the text the form sent."""

    saved_at: datetime | None
    body: str = ""
    same_text: bool = False


def _no_draft(viewer: User | None, endpoint: str, view_args: Mapping[str, Any]) -> KeptDraft | None:
    return None


kept_draft: Hook[Callable[[User | None, str, Mapping[str, Any]], KeptDraft | None]] = Hook(
    "forum.kept_draft", _no_draft
)
"""The viewer's draft at the place a form was sent to (its route's endpoint and arguments),
for the page a form that could not be sent gets (forum.keptform): None when drafts are not
kept there. Provided by drafts; called by `forum.keptform`. Default: None."""
