"""Notification mail: the member's choice per kind, the job that sends it, unsubscribe tokens.

A notification a member wants "immediately" queues a job that waits NOTIFY_MAIL_DELAY seconds
(a page to the sysops on duty, which waits only minutes for one of them, none).
When it runs, it claims every notification of that member and topic (or private conversation)
still unread and unmailed (`notifications.mail_key`), so several events of one topic make one mail,
then checks each again at send time through the center's read model (queries.member_rows, which
asks forum.permissions: can_view_post for posts, can_read_conversation/can_read_message for
private mail): read since (the notification, the topic page or the conversation), no longer
readable by the member (a private SIG or a conversation they left), the member's own doing: those
are left out, and when nothing is left, no mail goes. The mail is plain text and HTML from one
template per kind (templates/mail/notification/), in the member's language, threaded per topic
(private mail: per conversation), with List-Id per SIG and a one-click unsubscribe (RFC 8058).
Its key makes it idempotent: a job run again never sends it twice. A job the queue refused is
held in the database and put back (forum.jobs); one lost all the same (the database refusing
to hold it too: put_or_log logged it) is queued again by `sweep_lost_mail`, once that job and
its retries would have run, within NOTIFY_MAIL_MAX_AGE; the claim lets only one of them send.

What a member wants "in the digest" waits for the digest (forum.notifications.digest).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Select, select, update

from .. import jobs, permissions, settings
from ..accounts.models import User
from ..db import transaction
from ..extensions import db
from ..i18n import force_locale, language_of, ngettext
from ..i18n import lazy_gettext as _l
from ..mail import already_sent, mail_in_enabled, member_envelope, reply_address, send_mail
from ..messages.models import Conversation
from ..sigs.models import Membership, Sig
from ..timeutil import utcnow
from ..topics.models import Post, Topic, TopicRead
from ..web import absolute_url_for, site_url
from . import kinds, queries
from .models import Notification

log = logging.getLogger(__name__)

# What a member chooses per category of notification.
OFF = "off"
NOW = "now"
DIGEST = "digest"
CHOICES = {OFF: _l("Off"), NOW: _l("Immediately"), DIGEST: _l("In the digest")}

# The categories of the preferences form, each with the kinds it covers.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "mention": (kinds.MENTION.name,),
    "reply": (kinds.REPLY.name,),
    "quote": (kinds.QUOTE.name,),
    "watched": (kinds.WATCHED.name, kinds.NEW_TOPIC.name),
    "moderation": (
        kinds.POST_HIDDEN.name,
        kinds.POST_DELETED.name,
        kinds.FLAG_RESOLVED.name,
        kinds.DISCIPLINE.name,
        kinds.JOIN_REQUEST.name,
        kinds.JOIN_DECIDED.name,
    ),
    "private_message": (kinds.PRIVATE_MESSAGE.name,),
    "reaction": (kinds.REACTION.name,),
    "reminder": (kinds.BOOKMARK_REMINDER.name,),
    "concern": (kinds.CONCERN.name,),
}
CATEGORY_LABELS = {
    "mention": _l("When someone mentions me"),
    "reply": _l("When someone replies to me"),
    "quote": _l("When someone quotes me"),
    "watched": _l("New posts and topics I watch"),
    "moderation": _l("Moderation: what sysops decided about my posts, flags and requests"),
    "private_message": _l("When someone writes me private mail"),
    "reaction": _l("When someone reacts to my post"),
    "reminder": _l("Reminders of posts I bookmarked"),
    "concern": _l("Concerns: answers to mine, and those I handle as a sysop"),
}
DEFAULTS = {
    "mention": NOW,
    "reply": NOW,
    "quote": OFF,
    "watched": OFF,
    "moderation": OFF,
    "private_message": NOW,
    "reaction": OFF,
    "reminder": OFF,
    "concern": NOW,
}
# What one-click unsubscribe may turn off: a category, or the digest itself.
DIGEST_CATEGORY = "digest"
UNSUBSCRIBABLE = {**CATEGORY_LABELS, DIGEST_CATEGORY: _l("The digest")}
CATEGORY_OF = {kind: category for category, names in CATEGORIES.items() for kind in names}
PREF_MAIL = "mail"
assert set(CATEGORIES) == set(CATEGORY_LABELS) == set(DEFAULTS)


class MailFacts(Protocol):
    """What the mail choices read of a member: a User, or a row of these columns (queue_mail's,
    loaded beside the notifications themselves)."""

    @property
    def email(self) -> str: ...
    @property
    def email_verified_at(self) -> datetime | None: ...
    @property
    def mail_disabled_at(self) -> datetime | None: ...
    @property
    def preferences(self) -> dict[str, Any]: ...


def mail_choices(user: MailFacts) -> dict[str, str]:
    """The member's choice for every category (the defaults where they made none)."""
    chosen = (user.preferences or {}).get(PREF_MAIL) or {}
    return {c: str(chosen[c]) if chosen.get(c) in CHOICES else DEFAULTS[c] for c in CATEGORIES}


def wants_now(user: MailFacts, kind: str) -> bool:
    category = CATEGORY_OF.get(kind)
    return category is not None and mail_choices(user)[category] == NOW


def digest_kinds(user: MailFacts) -> list[str]:
    """The kinds this member wants in the digest."""
    chosen = mail_choices(user)
    return [kind for kind, category in CATEGORY_OF.items() if chosen[category] == DIGEST]


def may_receive_mail(user: MailFacts) -> bool:
    """Notification mail and digests go only to a verified address (registration's link, or
    the link mailed to a changed address) that has not bounced past the threshold (or been
    reported as spam: forum.mailin); an address under .invalid (`create-sysop`'s default) can
    receive nothing."""
    address = (user.email or "").strip().lower()
    return (
        "@" in address
        and not address.endswith(".invalid")
        and user.email_verified_at is not None
        and user.mail_disabled_at is None
    )


# --- one-click unsubscribe ------------------------------------------------------------------
def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="mail-unsubscribe")


def unsubscribe_token(user_id: int, categories: list[str]) -> str:
    return str(_serializer().dumps({"u": user_id, "c": sorted(set(categories))}))


def read_unsubscribe_token(token: str) -> tuple[int, list[str]] | None:
    """The member and the categories a token turns off, or None when it is not ours."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user_id, categories = data.get("u"), data.get("c")
    if not isinstance(user_id, int) or not isinstance(categories, list):
        return None
    if not categories or not all(c in UNSUBSCRIBABLE for c in categories):
        return None
    return user_id, categories


# --- queueing (after the notifications commit) ----------------------------------------------
def _mail_rows() -> Select[Any]:
    """Notifications with what their member's mail choices read (no member objects loaded)."""
    return select(
        Notification.id,
        Notification.kind,
        Notification.created_at,
        User.email,
        User.email_verified_at,
        User.mail_disabled_at,
        User.preferences,
        Notification.data,
    ).join(User, User.id == Notification.user_id)


def _mailed_now(row: Any) -> bool:
    """Whether a notification (a row of _mail_rows) is mailed at once: the rule queue_mail and
    the sweep of lost mail share (send_notification_mail asks the same before it claims)."""
    return may_receive_mail(row) and wants_now(row, row.kind)


def _paged(data: dict[str, Any] | None) -> bool:
    """A page to the sysops on duty: it waits for one of them only minutes (care_page_minutes),
    so its mail goes at once, not after NOTIFY_MAIL_DELAY."""
    return (data or {}).get("what") == "paged"


def queue_mail(notification_ids: tuple[int, ...]) -> None:
    """For each new notification its member wants mailed now, a job in NOTIFY_MAIL_DELAY s.

    One statement of columns, after every reply that notifies: each notification with what its
    member's mail choices read (no member objects loaded)."""
    if not notification_ids:
        return
    rows = db.session.execute(_mail_rows().where(Notification.id.in_(notification_ids))).all()
    delay = float(current_app.config["NOTIFY_MAIL_DELAY"])
    for row in rows:
        if _mailed_now(row):
            jobs.enqueue(send_notification_mail, row.id, delay=None if _paged(row.data) else delay)


# --- catching up what a lost job did not mail -----------------------------------------------
# How many notifications one sweep queues again (each job mails its whole topic, so fewer mails).
SWEEP_BATCH = 200
# After the last retry of a job that failed before it claimed (the database away): its runtime
# and the consumer's lag, so a job still on its way is never doubled.
SWEEP_MARGIN = timedelta(minutes=10)
# How far back: NOTIFY_MAIL_MAX_AGE (6 h; the setting says why), past which a mail held for the
# queue is dropped too (forum.jobs). The window is also what the sweep reads each run.


def sweep_window(now: datetime) -> tuple[datetime, datetime, datetime]:
    """(oldest, newest, newest page): the notifications created in (oldest, newest] whose mail
    job should have run (NOTIFY_MAIL_DELAY, then every retry of send_notification_mail, then
    SWEEP_MARGIN) and still is not history; a page's job runs at once, so pages count from
    `newest page`, NOTIFY_MAIL_DELAY later."""
    newest_page = now - timedelta(seconds=jobs.retry_span(send_notification_mail)) - SWEEP_MARGIN
    newest = newest_page - timedelta(seconds=float(current_app.config["NOTIFY_MAIL_DELAY"]))
    oldest = now - timedelta(seconds=float(current_app.config["NOTIFY_MAIL_MAX_AGE"]))
    return oldest, newest, newest_page


@jobs.periodic(jobs.crontab(minute="*/10"))
def sweep_lost_mail(now: datetime | None = None) -> list[int]:
    """Every 10 minutes: queue send_notification_mail again for each notification whose job was
    lost (the queue was down or full when it was posted, and the database did not hold it
    either: put_or_log said so; one whose job is held and not yet put back looks the same), at most
    SWEEP_BATCH, oldest first. Lost: unread, never claimed (mail_key NULL, which every job that
    runs for a member who wants it sets, even when it then finds nothing to say), created within
    sweep_window, of a member queue_mail would mail now (the same rule: the rows it leaves out
    are those the job returns on without claiming, so none is queued again and again). Each
    job gets a key of this run: of the jobs for one notification (the original after all or put
    back from the held ones, a sweep's, another sweep's) only the one whose claim wins sends.
    Returns the ids queued."""
    now = now or utcnow()
    oldest, newest, newest_page = sweep_window(now)
    result = db.session.execute(
        _mail_rows()
        .where(
            Notification.created_at > oldest,
            Notification.created_at <= newest_page,
            Notification.read_at.is_(None),
            Notification.mail_key.is_(None),
        )
        .order_by(Notification.created_at, Notification.id)
        .execution_options(yield_per=500)
    )
    lost: list[int] = []
    for row in result:
        if row.created_at > newest and not _paged(row.data):
            continue  # its job waits NOTIFY_MAIL_DELAY first: maybe still retrying
        if _mailed_now(row):
            lost.append(row.id)
            if len(lost) >= SWEEP_BATCH:
                break
    result.close()
    # Queued once read: a job run at once (the tests) commits, which would end the cursor.
    again = f"r{int(now.timestamp())}"
    for notification_id in lost:
        jobs.enqueue(send_notification_mail, notification_id, again)
    if lost:
        log.info("notification mail: %d whose job was lost queued again", len(lost))
    return lost


# --- the job --------------------------------------------------------------------------------
def _key(notification: Notification, again: str = "") -> str:
    """The mail's key (sent_mails, the claim); `again`: the sweep's run that queued the job."""
    key = f"notify:{notification.user_id}:{notification.id}"
    return f"{key}:{again}" if again else key


def _conversation_id(notification: Notification) -> int | None:
    """The conversation a private-mail notification is about (kept in `data`)."""
    if notification.kind != kinds.PRIVATE_MESSAGE.name:
        return None
    conversation_id = (notification.data or {}).get("conversation_id")
    return conversation_id if isinstance(conversation_id, int) else None


def _same_conversation(notification: Notification, conversation_id: int) -> list[int]:
    """The member's unread, unmailed private-mail notifications of this conversation (few: the
    conversation is in `data`, JSON, so they are picked here rather than in SQL)."""
    return [
        n.id
        for n in db.session.scalars(
            select(Notification).where(
                Notification.user_id == notification.user_id,
                Notification.kind == kinds.PRIVATE_MESSAGE.name,
                Notification.read_at.is_(None),
                Notification.mail_key.is_(None),
            )
        )
        if _conversation_id(n) == conversation_id
    ]


def _claim(notification: Notification, user: User, key: str) -> bool:
    """Give this job's key to the notification and to every other unread, unmailed one of the
    same member and topic (or conversation) that they want mailed now. False when another job
    took it first."""
    wanted = [kind for kind in CATEGORY_OF if wants_now(user, kind)]
    conversation_id = _conversation_id(notification)
    ids = _same_conversation(notification, conversation_id) if conversation_id else []
    with transaction() as session:
        together = Notification.id == notification.id
        if notification.topic_id is not None:
            together = Notification.topic_id == notification.topic_id
        elif ids:
            together = Notification.id.in_({notification.id, *ids})
        session.execute(
            update(Notification)
            .where(
                Notification.user_id == notification.user_id,
                together,
                Notification.kind.in_(wanted),
                Notification.read_at.is_(None),
                Notification.mail_key.is_(None),
            )
            .values(mail_key=key)
        )
    db.session.expire_all()
    claimed = db.session.get(Notification, notification.id)
    return claimed is not None and claimed.mail_key == key


def _read_already(user: User, notification: Notification) -> bool:
    """Read since: the notification itself, or the post on its topic page (or "mark all read"
    in its SIG)."""
    if notification.read_at is not None:
        return True
    if kinds.get(notification.kind) not in kinds.POST_KINDS:
        return False  # what a sysop did to my post is news even if I read the topic
    if notification.post_id is None or notification.topic_id is None:
        return False
    post = db.session.get(Post, notification.post_id)
    if post is None:
        return True
    read_number = db.session.scalar(
        select(TopicRead.last_read_post_number).where(
            TopicRead.user_id == user.id, TopicRead.topic_id == notification.topic_id
        )
    )
    if read_number is not None and read_number >= post.number:
        return True
    if notification.sig_id is not None:
        through = db.session.scalar(
            select(Membership.read_through).where(
                Membership.user_id == user.id, Membership.sig_id == notification.sig_id
            )
        )
        if through is not None and through >= post.created_at:
            return True
    return False


@jobs.job(retries=5, retry_delay=60, backoff=2.0, stale_after="NOTIFY_MAIL_MAX_AGE")
def send_notification_mail(notification_id: int, again: str = "") -> None:
    notification = db.session.get(Notification, notification_id)
    if notification is None:
        return
    user = db.session.get(User, notification.user_id)
    if user is None or not may_receive_mail(user):
        return
    key = _key(notification, again)
    if notification.mail_key is None:
        if notification.read_at is not None or not wants_now(user, notification.kind):
            return
        if not _claim(notification, user, key):
            return  # in another job's mail
    elif notification.mail_key != key:
        return  # merged into the mail of an earlier notification of the topic, or another job's
    if already_sent(key):
        return
    claimed = list(
        db.session.scalars(
            select(Notification).where(Notification.mail_key == key).order_by(Notification.id)
        )
    )
    fresh = [n for n in claimed if n.actor_id != user.id and not _read_already(user, n)]
    if user.is_banned:
        fresh = [n for n in fresh if n.kind == kinds.DISCIPLINE.name]
    if not fresh:
        log.info("notification mail %s: nothing left to say (read, or no longer readable)", key)
        return
    with force_locale(language_of(user)):
        message = _compose(user, fresh, key)
    if message is None:
        log.info("notification mail %s: nothing the member may still read", key)
        return
    subject, text, html, headers = message
    send_mail(
        user.email,
        subject,
        text,
        html=html,
        headers=headers,
        key=key,
        envelope_from=member_envelope(user.id, user.email),
    )


def _withheld(row: queries.NotificationRow) -> bool:
    """Nothing to mail: the member may no longer read what it names."""
    return row.withheld or (row.kind in kinds.ABOUT_A_POST and not row.excerpt)


# What a sysop (or members' flags) did to a member's post: a later one says what is true now.
_MODERATION_OF_A_POST = frozenset({kinds.POST_HIDDEN.name, kinds.POST_DELETED.name})


def _latest_word_on_each_post(rows: list[queries.NotificationRow]) -> list[queries.NotificationRow]:
    """Leave out a post's hide that a later notification in the same mail says again: members'
    flags hid it, then a sysop handled the flags ("a sysop hid your post") or deleted it within
    NOTIFY_MAIL_DELAY. One post is then one item, and the mail counts it once."""
    said_later: set[int] = set()
    superseded: set[int] = set()
    for row in sorted(rows, key=lambda r: r.id, reverse=True):
        post_id = row.notification.post_id
        if row.kind.name not in _MODERATION_OF_A_POST or post_id is None:
            continue
        if row.kind.name == kinds.POST_HIDDEN.name and post_id in said_later:
            superseded.add(row.id)
        said_later.add(post_id)
    return [row for row in rows if row.id not in superseded]


def _compose(
    user: User, notifications: list[Notification], key: str
) -> tuple[str, str, str, dict[str, str]] | None:
    """Subject, text, HTML and headers; None when the member may read none of it any more."""
    rows = _latest_word_on_each_post(queries.member_rows(user, [n.id for n in notifications]))
    # What the member can no longer read (a private SIG they left, a post hidden since, a
    # conversation they left) says nothing: it is left out (the policy is asked again there).
    rows = [r for r in rows if not _withheld(r)]
    if not rows:
        return None
    first = rows[0].notification
    strongest = min(rows, key=lambda r: r.kind.priority).kind
    conversation_subject = None
    conversation_id = _conversation_id(first)
    if conversation_id is not None:
        # Only rows the member may read are left: they are a participant of it.
        conversation = db.session.get(Conversation, conversation_id)
        conversation_subject = conversation.shown_subject if conversation is not None else None
    sig, topic_title = _named_place(user, first)
    site = str(settings.get("site_name"))
    categories = sorted({CATEGORY_OF.get(r.kind.name, "moderation") for r in rows})
    unsubscribe_url = absolute_url_for(
        "notifications.unsubscribe", token=unsubscribe_token(user.id, categories)
    )
    items = [
        {
            "text": r.text,
            "excerpt": r.excerpt,
            "url": site_url() + r.url,
            "kind": r.kind.name,
            "when": r.created_at,
            # Who hid a post (post_hidden): "flags" when members' flags did, not a sysop.
            "by": (r.notification.data or {}).get("by"),
            "post_id": r.notification.post_id,
        }
        for r in rows
    ]
    context: dict[str, Any] = {
        "user": user,
        "site": site,
        "items": items,
        "count": len(items),
        "topic_title": topic_title,
        "conversation_subject": conversation_subject,
        "sig_name": sig.name if sig is not None else None,
        "preferences_url": absolute_url_for("accounts.settings", _anchor="notifications-heading"),
        "unsubscribe_url": unsubscribe_url,
        "categories": [str(CATEGORY_LABELS[c]) for c in categories],
        "site_url": site_url(),
        # Reply by email (forum.mailin): the Reply-To posts in the topic.
        "reply_by_mail": first.topic_id is not None and mail_in_enabled(),
    }
    # A kind without a template of its own (one a feature added) reads as "unknown" does.
    template = current_app.jinja_env.select_template(
        [f"mail/notification/{strongest.name}.jinja", "mail/notification/unknown.jinja"]
    )
    if len(items) > 1 and topic_title:
        subject = ngettext(
            "%(num)s new notification in “%(topic)s”",
            "%(num)s new notifications in “%(topic)s”",
            len(items),
            topic=topic_title,
        )
    else:
        subject = template.render(part="subject", **context).strip()
    subject = f"[{site}] {subject}"
    text = template.render(part="text", **context)
    html = template.render(part="html", **context)
    return subject, text, html, _headers(user, first, sig, key, unsubscribe_url)


def _named_place(user: User, first: Notification) -> tuple[Sig | None, str | None]:
    """The SIG (for List-Id) and the topic's title (for the subject) the mail may name: only as
    the policy lets the member see them now, as the notification centre says them. A topic is
    asked of the SIG it is in now (it may have moved into a private SIG since); a SIG the
    member may not know of is no list of theirs, and a topic they may not read has no title."""
    topic = db.session.get(Topic, first.topic_id) if first.topic_id is not None else None
    sig_id = topic.sig_id if topic is not None else first.sig_id
    sig = db.session.get(Sig, sig_id) if sig_id is not None else None
    if sig is None or not permissions.can_see_sig(user, sig):
        return None, None
    if topic is None or not permissions.can_view_topic(user, topic, sig):
        return sig, None
    return sig, topic.title


def _headers(
    user: User, first: Notification, sig: Sig | None, key: str, unsubscribe_url: str
) -> dict[str, str]:
    domain = urlsplit(site_url()).hostname or "forum.invalid"
    headers = {
        "Message-ID": f"<{key.replace(':', '.')}@{domain}>",
        "Auto-Submitted": "auto-generated",
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    root = None
    if first.topic_id is not None:
        # Every mail about a topic answers the same (never sent) root: clients thread them.
        root = f"<topic.{first.topic_id}@{domain}>"
        if mail_in_enabled():
            headers["Reply-To"] = reply_address(user.id, first.topic_id)
    elif (conversation_id := _conversation_id(first)) is not None:
        # Private mail: one root per conversation.
        root = f"<conversation.{conversation_id}@{domain}>"
    if root is not None:
        headers["In-Reply-To"] = root
        headers["References"] = root
    if sig is not None:
        name = sig.name.replace('"', "").replace("\\", "")
        headers["List-Id"] = f'"{name}" <{sig.slug}.sigs.{domain}>'
    return headers
