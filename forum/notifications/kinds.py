"""The kinds of notification: how each one reads and where it links. Features add their own.

A kind is registered once (private mail adds "private_message"); the center, the socket payload and
the tests all go through this registry, so a new kind needs no change anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..accounts.former import display
from ..i18n import gettext, quoted, said_reason
from ..i18n import lazy_gettext as _l


@dataclass(frozen=True)
class Subject:
    """What a notification is about, as the reader may see it (loaded by queries)."""

    kind: str
    actor: str | None
    data: dict[str, Any]
    post_id: int | None = None
    topic_title: str | None = None
    sig_name: str | None = None
    sig_slug: str | None = None
    # Private mail: the conversation's subject, only for a participant who may read it.
    conversation_subject: str | None = None


@dataclass(frozen=True)
class Kind:
    name: str
    # Lower wins when one post gives a member several causes (a mention beats a watched topic).
    priority: int
    describe: Callable[[Subject], str]
    url: Callable[[Subject], str]
    label: Any = ""
    extras: dict[str, Any] = field(default_factory=dict)
    # Read when the member is shown its post on a topic page (what it says is the post itself;
    # not a sysop's outcome or reason, which the page does not show).
    read_with_post: bool = False


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    KINDS[kind.name] = kind
    return kind


def get(name: str) -> Kind:
    return KINDS.get(name) or KINDS["unknown"]


def read_with_post() -> tuple[str, ...]:
    """The kinds a topic page reads when it shows their post."""
    return tuple(name for name, kind in KINDS.items() if kind.read_with_post)


def _who(s: Subject) -> str:
    return display(s.actor) or gettext("Someone")


def _in(s: Subject) -> str:
    return quoted(s.topic_title) if s.topic_title else gettext("a topic")


def _post_url(s: Subject) -> str:
    return f"/p/{s.post_id}" if s.post_id else "/notifications"


def _sig_url(s: Subject) -> str:
    return f"/s/{s.sig_slug}/" if s.sig_slug else "/"


# Each text is written when the notification is shown, in the reader's language (the center) or
# the recipient's (live delivery: forum.realtime.handlers renders it under force_locale). Rows
# keep only the kind and its parameters (actor, post, topic, SIG, `data`), never a sentence.

# Post kinds, by priority: what is addressed to me first, then what I watch.
MENTION = register(
    Kind(
        "mention",
        10,
        lambda s: gettext("%(who)s mentioned you in %(topic)s", who=_who(s), topic=_in(s)),
        _post_url,
        _l("Mention"),
        read_with_post=True,
    )
)
QUOTE = register(
    Kind(
        "quote",
        20,
        lambda s: gettext("%(who)s quoted your post in %(topic)s", who=_who(s), topic=_in(s)),
        _post_url,
        _l("Quote"),
        read_with_post=True,
    )
)
REPLY = register(
    Kind(
        "reply",
        30,
        lambda s: gettext("%(who)s replied to you in %(topic)s", who=_who(s), topic=_in(s)),
        _post_url,
        _l("Reply"),
        read_with_post=True,
    )
)
NEW_TOPIC = register(
    Kind(
        "new_topic",
        40,
        lambda s: (
            gettext(
                "%(who)s started %(topic)s in %(sig)s", who=_who(s), topic=_in(s), sig=s.sig_name
            )
            if s.sig_name
            else gettext("%(who)s started %(topic)s in a SIG you watch", who=_who(s), topic=_in(s))
        ),
        _post_url,
        _l("New topic"),
        read_with_post=True,
    )
)
WATCHED = register(
    Kind(
        "watched",
        50,
        lambda s: gettext("%(who)s posted in %(topic)s", who=_who(s), topic=_in(s)),
        _post_url,
        _l("New post"),
        read_with_post=True,
    )
)

# Moderation outcomes.
POST_HIDDEN = register(
    Kind(
        "post_hidden",
        100,
        lambda s: (
            gettext(
                "Members’ flags hid your post in %(topic)s until a sysop looks at it.",
                topic=_in(s),
            )
            if s.data.get("by") == "flags"  # forum.topics.models.HIDDEN_BY_FLAGS
            else gettext(
                "A sysop hid your post in %(topic)s: %(reason)s",
                topic=_in(s),
                # A spam cleanup's own "spam" in the reader's language, a typed reason as typed.
                reason=said_reason(s.data["reason"]),
            )
            if s.data.get("reason")
            else gettext("A sysop hid your post in %(topic)s.", topic=_in(s))
        ),
        _post_url,
        _l("Post hidden"),
    )
)
POST_DELETED = register(
    Kind(
        "post_deleted",
        100,
        lambda s: gettext("A sysop deleted your post in %(topic)s.", topic=_in(s)),
        lambda s: f"/s/{s.sig_slug}/" if s.sig_slug else "/",
        _l("Post deleted"),
    )
)

# How a flag was handled (`data["outcome"]`, forum.moderation.models.OUTCOMES' keys).
_OUTCOMES = {
    "dismissed": _l("dismissed"),
    "hidden": _l("hidden"),
    "deleted": _l("deleted"),
    "warned": _l("warned"),
    "suspended": _l("suspended"),
    "silenced": _l("the author was silenced"),
    "banned": _l("the author was banned"),
    "spam": _l("removed as spam"),
}
FLAG_RESOLVED = register(
    Kind(
        "flag_resolved",
        100,
        lambda s: gettext(
            "A sysop handled the post you flagged in %(topic)s: %(outcome)s.",
            topic=_in(s),
            outcome=str(_OUTCOMES.get(str(s.data.get("outcome")), _l("resolved"))),
        ),
        lambda s: f"/s/{s.sig_slug}/" if s.sig_slug else "/",
        _l("Flag handled"),
    )
)

# What a sysop did to a member (`data["discipline"]`, as forum.moderation.discipline stores
# it): the sentence for each, with the SIG when there is one.
_DISCIPLINE = {
    "warned": (_l("A sysop warned you"), _l("A sysop warned you in %(sig)s")),
    "silenced": (_l("A sysop silenced you"), _l("A sysop silenced you in %(sig)s")),
    "suspended": (_l("A sysop suspended you"), _l("A sysop suspended you in %(sig)s")),
    "banned": (_l("A sysop banned you"), _l("A sysop banned you in %(sig)s")),
    "lifted_silence": (
        _l("A sysop lifted your silence"),
        _l("A sysop lifted your silence in %(sig)s"),
    ),
    "lifted_suspension": (
        _l("A sysop lifted your suspension"),
        _l("A sysop lifted your suspension in %(sig)s"),
    ),
    "lifted_ban": (_l("A sysop lifted your ban"), _l("A sysop lifted your ban in %(sig)s")),
    "removed": (_l("A sysop removed you from a SIG"), _l("A sysop removed you from %(sig)s")),
}


def _discipline_text(s: Subject) -> str:
    what = str(s.data.get("discipline", ""))
    texts = _DISCIPLINE.get(what)
    if texts is None:
        return gettext("A sysop changed your standing.")
    plain, in_sig = texts
    sentence = str(in_sig) % {"sig": s.sig_name} if s.sig_name else str(plain)
    if s.data.get("reason") and not what.startswith("lifted"):
        return gettext("%(sentence)s: %(reason)s", sentence=sentence, reason=s.data["reason"])
    return gettext("%(sentence)s.", sentence=sentence)


# What stands against the member (a warning, a silence, a suspension, a ban) is in the settings
# page's "Your standing" section, far down: the link opens there. What was lifted, or a removal,
# may leave nothing there: the page's top.
_STANDING = frozenset({"warned", "silenced", "suspended", "banned"})


def _discipline_link(s: Subject) -> str:
    if s.data.get("discipline") in _STANDING:
        return "/settings#standing-heading"
    return "/settings"


DISCIPLINE = register(Kind("discipline", 100, _discipline_text, _discipline_link, _l("Moderation")))

# SIG join requests: to the SIG's sysops, then the answer to the member.
JOIN_REQUEST = register(
    Kind(
        "join_request",
        100,
        lambda s: (
            gettext("%(who)s asked to join %(sig)s", who=_who(s), sig=s.sig_name)
            if s.sig_name
            else gettext("%(who)s asked to join your SIG", who=_who(s))
        ),
        lambda s: f"/s/{s.sig_slug}/requests" if s.sig_slug else "/",
        _l("Join request"),
    )
)


def _join_decided_text(s: Subject) -> str:
    approved = bool(s.data.get("approved"))
    if s.sig_name:
        if approved:
            return gettext("Your request to join %(sig)s was approved.", sig=s.sig_name)
        return gettext("Your request to join %(sig)s was declined.", sig=s.sig_name)
    if approved:
        return gettext("Your request to join a SIG was approved.")
    return gettext("Your request to join a SIG was declined.")


JOIN_DECIDED = register(
    Kind(
        "join_decided",
        100,
        _join_decided_text,
        lambda s: _sig_url(s) if s.data.get("approved") else "/",
        _l("Join request answered"),
    )
)


# Private mail (forum.messages): `data` holds the conversation and the message, never their
# words; the conversation page asks the permission policy again when the link is followed.
def _mail_url(s: Subject) -> str:
    conversation = s.data.get("conversation_id")
    if not conversation:
        return "/mail"
    message = s.data.get("message_id")
    return f"/mail/c/{int(conversation)}" + (f"#message-{int(message)}" if message else "")


PRIVATE_MESSAGE = register(
    Kind(
        "private_message",
        5,
        lambda s: (
            gettext(
                "%(who)s sent you private mail: “%(subject)s”",
                who=_who(s),
                subject=s.conversation_subject,
            )
            if s.conversation_subject
            else gettext("%(who)s sent you private mail", who=_who(s))
        ),
        _mail_url,
        _l("Private mail"),
    )
)
_MESSAGE_OUTCOMES = {
    "dismissed": _l("no action was needed"),
    "hidden": _l("the message was hidden"),
    "warned": _l("its author was warned"),
}
MESSAGE_REPORT_RESOLVED = register(
    Kind(
        "message_report_resolved",
        100,
        lambda s: gettext(
            "The sysop handled the private message you reported: %(outcome)s.",
            outcome=str(_MESSAGE_OUTCOMES.get(str(s.data.get("outcome")), _l("resolved"))),
        ),
        _mail_url,
        _l("Report handled"),
    )
)
# A sysop's answer to a new account that waited for approval.
ACCOUNT_DECIDED = register(
    Kind(
        "account_decided",
        100,
        lambda s: (
            gettext("A sysop approved your account: you can post now.")
            if s.data.get("approved")
            else gettext("A sysop did not approve your account: you can read, but not post.")
        ),
        lambda s: "/",
        _l("Account approval"),
    )
)


# A webhook turned off after failing again and again (forum.webhooks): to the sysop who added it.
def _webhook_url(s: Subject) -> str:
    webhook = s.data.get("webhook_id")
    return f"/mod/webhooks/{int(webhook)}" if webhook else "/mod/webhooks"


def _webhook_disabled_text(s: Subject) -> str:
    failures = int(s.data.get("failures") or 0)
    if s.sig_name:
        return gettext(
            "Your webhook in %(sig)s was turned off after %(count)s failed deliveries in a row.",
            sig=s.sig_name,
            count=failures,
        )
    return gettext(
        "Your webhook was turned off after %(count)s failed deliveries in a row.", count=failures
    )


WEBHOOK_DISABLED = register(
    Kind(
        "webhook_disabled",
        100,
        _webhook_disabled_text,
        _webhook_url,
        _l("Webhook disabled"),
    )
)
# Around the posts: a reaction to the member's post (`data["emoji"]`), a bookmark's reminder.
REACTION = register(
    Kind(
        "reaction",
        60,
        lambda s: gettext(
            "%(who)s reacted %(emoji)s to your post in %(topic)s",
            who=_who(s),
            emoji=str(s.data.get("emoji") or ""),
            topic=_in(s),
        ),
        _post_url,
        _l("Reaction"),
        read_with_post=True,
    )
)
BOOKMARK_REMINDER = register(
    Kind(
        "bookmark_reminder",
        8,
        lambda s: gettext("Reminder: the post you bookmarked in %(topic)s", topic=_in(s)),
        _post_url,
        _l("Bookmark reminder"),
        read_with_post=True,
    )
)


# Member care (forum.care): `data["what"]` says what happened to the concern `data["concern_id"]`.
# The sysops' names never reach the member ("the sysops" answered); no words of the concern are
# in the row, and its page asks the permission policy again when the link is followed.
def _concern_text(s: Subject) -> str:
    what, sig = str(s.data.get("what", "")), s.sig_name
    if what == "opened":
        if sig:
            return gettext("%(who)s wrote to the sysops of %(sig)s", who=_who(s), sig=sig)
        return gettext("%(who)s wrote to the site's sysops", who=_who(s))
    if what == "member_replied":
        return gettext("%(who)s wrote again in their concern", who=_who(s))
    if what == "answered":
        if sig:
            return gettext("The sysops of %(sig)s answered your concern", sig=sig)
        return gettext("The site's sysops answered your concern")
    if what == "resolved":
        if sig:
            return gettext("The sysops of %(sig)s resolved your concern. Did it help?", sig=sig)
        return gettext("The site's sysops resolved your concern. Did it help?")
    if what == "overdue":
        if sig:
            return gettext("A concern to the sysops of %(sig)s is past its deadline", sig=sig)
        return gettext("A concern to the site's sysops is past its deadline")
    if what == "escalated":
        if sig:
            return gettext(
                "A concern to the sysops of %(sig)s is unanswered past its second deadline",
                sig=sig,
            )
        return gettext("A concern to the site's sysops is unanswered past its second deadline")
    # A page to the sysops on duty: waiting, then taken or turned into a concern (whose own
    # notification the sysops get): the latter two no longer ask anything of the reader.
    if what == "paged":
        return gettext("%(who)s pages the sysops of %(sig)s", who=_who(s), sig=_sig_or_a_sig(s))
    if what == "page_taken":
        return gettext(
            "Another sysop took %(who)s’s page in %(sig)s", who=_who(s), sig=_sig_or_a_sig(s)
        )
    if what == "page_expired":
        return gettext(
            "Nobody took %(who)s’s page in %(sig)s in time: it is a concern now",
            who=_who(s),
            sig=_sig_or_a_sig(s),
        )
    if what == "page_missed":
        return gettext(
            "No sysop took your page in time: it is a concern now, and the sysops will answer it"
        )
    return gettext("Something happened to a concern.")


def _sig_or_a_sig(s: Subject) -> str:
    return s.sig_name or gettext("a SIG")


def _concern_url(s: Subject) -> str:
    # A page's notification leads to the page, which says whether it waits, who took it, or
    # which concern it became.
    page = s.data.get("page_id")
    if page:
        return f"/care/pages/{int(page)}"
    concern = s.data.get("concern_id")
    return f"/care/{int(concern)}" if concern else "/care"


CONCERN = register(Kind("concern", 8, _concern_text, _concern_url, _l("Concern")))
UNKNOWN = register(
    Kind("unknown", 1000, lambda s: gettext("Something happened."), _post_url, _l("Notice"))
)

POST_KINDS = (MENTION, QUOTE, REPLY, NEW_TOPIC, WATCHED)
# Kinds that name a post: when the member may no longer read it, they are told nothing of it
# (the center shows the bare sentence, mail leaves it out).
ABOUT_A_POST = (*POST_KINDS, REACTION, BOOKMARK_REMINDER)
