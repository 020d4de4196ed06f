"""Inbound mail: replies by mail become posts; bounces and complaints count against an address.

`receive(raw, recipients, sender)` is the one way in (the `flask forum mail-in` pipe and the
LMTP listener both call it). Each recipient is one of the forum's signed addresses
(forum.mail.read_address), else it is unknown (the MTA bounces it, so no mail of ours answers
a stranger):

- `reply+…`: the member's reply to a topic. Auto-replies and mail without a sender are
  dropped. The message must come from the member's address. Its quoted part and signature are
  stripped (forum.mailin.parsing), it spends the member's posting budget (the rate limit that
  the web's reply, new-topic and edit forms share), and it is posted by
  `topics.services.reply_to_topic`, the web's own verb: the same permissions, discipline, word
  filter and approval queue. Whatever is refused gets one mail back, in the member's language,
  saying why, with their text, so nothing they wrote is lost.
- `bounce+…`: a delivery status notification (RFC 3464) that says a mail failed for good, or a
  spam complaint (RFC 5965, ARF), about that member's current address:
  `accounts.services.count_bounce` stops mail past the threshold.

A message is acted on once per kind (table inbound_mails, by Message-ID), its record written in
the transaction that acts on it: an MTA that delivers it again (its reply got lost) changes
nothing, and a process that dies before the commit leaves nothing, so the MTA's next delivery
(it retries what was not acknowledged) is acted on.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parseaddr
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from .. import jobs, ratelimits, settings
from ..accounts import services as accounts
from ..accounts.models import User
from ..db import transaction
from ..errors import Duplicate, ForumError
from ..extensions import db
from ..i18n import force_locale, gettext, language_of
from ..i18n import lazy_gettext as _l
from ..mail import REPLY, ForumAddress, read_address, send_mail
from ..topics import services as topics
from ..web import site_url
from .models import BOUNCE as BOUNCE_KIND
from .models import COMPLAINT, InboundMail
from .models import REPLY as REPLY_KIND
from .parsing import reply_text

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# What each recipient's delivery came to (the LMTP reply and the pipe's exit code follow).
POSTED = "posted"
REFUSED = "refused"  # a polite mail went back
IGNORED = "ignored"  # an auto-reply, a loop: dropped without a word
DUPLICATE = "duplicate"
COUNTED = "counted"  # a bounce or complaint that counted
UNKNOWN = "unknown"  # not an address of ours: the MTA bounces it


@dataclass(frozen=True)
class Delivery:
    recipient: str
    outcome: str
    post_id: int | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome != UNKNOWN


def parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def _email_of(user_id: int) -> str | None:
    user = db.session.get(User, user_id)
    return user.email if user is not None else None


def address_of(recipient: str) -> ForumAddress | None:
    """What a recipient address names, or None when it is not one of the forum's."""
    return read_address(recipient, _email_of)


def receive(raw: bytes, recipients: list[str], sender: str | None = None) -> list[Delivery]:
    """Act on one inbound message for each of its recipients. `sender` is the envelope's
    (MAIL FROM; "" for the null sender of bounces), None when the caller does not know it."""
    message = parse(raw)
    message_id = _message_id(message, raw)
    deliveries = []
    for recipient in recipients:
        address = address_of(recipient)
        if address is None:
            deliveries.append(Delivery(recipient, UNKNOWN))
        elif address.kind == REPLY:
            deliveries.append(_reply(recipient, address, message, message_id, sender))
        else:
            deliveries.append(_bounce(recipient, address, message, message_id))
    return deliveries


def _message_id(message: Message, raw: bytes) -> str:
    value = str(message.get("Message-ID") or "").strip()
    if value and len(value) <= 255:
        return value
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _seen(message_id: str, kind: str) -> bool:
    """Whether the message was acted on already (an MTA's second delivery)."""
    found = db.session.scalar(
        db.select(InboundMail.id).where(
            InboundMail.message_id == message_id, InboundMail.kind == kind
        )
    )
    return found is not None


def _claim(
    message_id: str,
    kind: str,
    user_id: int,
    outcome: str,
    topic_id: int | None = None,
) -> InboundMail:
    """Record the message as acted on, in the transaction that acts on it: the act and its
    record are written together or not at all, so a process that dies halfway leaves the
    message to the MTA's next delivery (at least once), and the unique index lets only one
    delivery act (at most once). A second delivery racing this one fails with IntegrityError."""
    row = InboundMail(
        message_id=message_id, kind=kind, outcome=outcome, user_id=user_id, topic_id=topic_id
    )
    with transaction() as session:
        session.add(row)
        session.flush()
    return row


def _once(message_id: str, kind: str, act: Callable[[], _T]) -> _T | None:
    """`act()` (which calls _claim) in one transaction; None when another delivery of the
    message got there first."""
    try:
        with transaction():
            return act()
    except IntegrityError:
        db.session.rollback()
        if _seen(message_id, kind):
            return None
        raise


# --- replies ----------------------------------------------------------------------------------
def is_automatic(message: Message, sender: str | None) -> bool:
    """Mail no person wrote: an auto-reply, a list's mail, a bounce (RFC 3834)."""
    if sender is not None and sender.strip("<> ") == "":
        return True
    auto = str(message.get("Auto-Submitted") or "no").strip().lower()
    if auto and auto != "no":
        return True
    precedence = str(message.get("Precedence") or "").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return True
    return any(
        message.get(header) is not None for header in ("X-Autoreply", "X-Autorespond", "List-Id")
    )


def _reply(
    recipient: str,
    address: ForumAddress,
    message: EmailMessage,
    message_id: str,
    sender: str | None,
) -> Delivery:
    user = db.session.get(User, address.user_id)
    if user is None:
        return Delivery(recipient, UNKNOWN)
    if is_automatic(message, sender):
        log.info("mail-in: automatic mail to %s dropped", recipient)
        return Delivery(recipient, IGNORED)
    if _seen(message_id, REPLY_KIND):
        return Delivery(recipient, DUPLICATE)
    subject = str(message.get("Subject") or "")[:200]
    from_address = parseaddr(str(message.get("From") or ""))[1].strip().lower()
    body = reply_text(message, [language_of(user)])
    reason = None
    if from_address != user.email.strip().lower():
        reason = _l(
            "It came from %(address)s, not from the address of your account. Reply from that "
            "address, or post on the site.",
            address=from_address or "?",
        )
    elif not body.strip():
        reason = _l(
            "Once the quoted mail and the signature were taken out, nothing was left. Write "
            "your reply above the quoted text."
        )
    elif not ratelimits.spend(ratelimits.posting, user.id):
        reason = _l("You are posting faster than this forum allows. Wait a little, then again.")
    else:

        def post_it() -> int:
            record = _claim(message_id, REPLY_KIND, user.id, POSTED, address.topic_id)
            record.post_id = topics.reply_to_topic(user, address.topic_id or 0, body).id
            return record.post_id

        try:
            post_id = _once(message_id, REPLY_KIND, post_it)
        except Duplicate:
            # The same words to the same topic a moment ago (a mail sent twice): the first
            # one's post stands; nothing new, and no refusal mailed for it.
            db.session.rollback()
            return Delivery(recipient, DUPLICATE)
        except ForumError as exc:
            db.session.rollback()
            reason = exc.lazy_message
        else:
            if post_id is None:
                return Delivery(recipient, DUPLICATE)
            log.info("mail-in: member %s replied to topic %s by mail", user.id, address.topic_id)
            return Delivery(recipient, POSTED, post_id)
    assert reason is not None
    with force_locale(language_of(user)):
        why = str(reason)

    def refuse() -> InboundMail:
        return _claim(message_id, REPLY_KIND, user.id, REFUSED, address.topic_id)

    if _once(message_id, REPLY_KIND, refuse) is None:
        return Delivery(recipient, DUPLICATE)
    key = "mailin-refused:" + hashlib.sha256(message_id.encode()).hexdigest()[:32]
    jobs.enqueue(mail_refusal, user.id, subject, why, body[:5000], key)
    log.info("mail-in: reply of member %s to topic %s refused: %s", user.id, address.topic_id, why)
    return Delivery(recipient, REFUSED)


@jobs.job(retries=5, retry_delay=60, backoff=2.0)
def mail_refusal(user_id: int, subject: str, reason: str, body: str, key: str) -> None:
    """One polite mail back, to the member's own address, when a reply by mail was not posted:
    why, and what they wrote."""
    user = db.session.get(User, user_id)
    if user is None:
        return
    site = str(settings.get("site_name"))
    with force_locale(language_of(user)):
        title = gettext("Your reply was not posted: %(subject)s", subject=subject or "…")
        text = gettext(
            "Hello %(name)s,\n\nthank you for your reply by mail. It could not be posted on "
            "%(site)s:\n\n%(reason)s\n\nNothing was posted. You can reply on the site: "
            "%(url)s\n",
            name=user.username,
            site=site,
            reason=reason,
            url=site_url() + "/",
        )
        if body.strip():
            text += "\n" + gettext("What you wrote:") + "\n\n" + body.strip() + "\n"
    send_mail(
        user.email,
        f"[{site}] {title}",
        text,
        headers={"Auto-Submitted": "auto-replied"},
        key=key,
    )


# --- bounces and complaints -------------------------------------------------------------------
def _is_complaint(message: Message) -> bool:
    return (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type") or "").lower() == "feedback-report"
    )


def _permanent_failure(message: Message) -> bool | None:
    """What a delivery status notification says: True when delivery failed for good, False
    when it is delayed or delivered; None when the message is not one."""
    if (
        message.get_content_type() != "multipart/report"
        or str(message.get_param("report-type") or "").lower() != "delivery-status"
    ):
        return None
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        # Each per-recipient block is a "message" of header fields.
        blocks = part.get_payload()
        fields = blocks if isinstance(blocks, list) else []
        for block in fields:
            if not isinstance(block, Message):
                continue
            action = str(block.get("Action") or "").strip().lower()
            status = str(block.get("Status") or "").strip()
            if action == "failed" or status.startswith("5"):
                return True
        return False
    return False


def _bounce(
    recipient: str, address: ForumAddress, message: EmailMessage, message_id: str
) -> Delivery:
    user = db.session.get(User, address.user_id)
    if user is None:
        return Delivery(recipient, UNKNOWN)
    complaint = _is_complaint(message)
    kind = COMPLAINT if complaint else BOUNCE_KIND
    if not complaint and not _permanent_failure(message):
        # A delay warning, an auto-reply to the envelope sender, or no report at all.
        log.info("mail-in: mail to %s that is not a failure report dropped", recipient)
        return Delivery(recipient, IGNORED)
    if _seen(message_id, kind):
        return Delivery(recipient, DUPLICATE)

    def count_it() -> InboundMail:
        record = _claim(message_id, kind, user.id, COUNTED)
        accounts.count_bounce(user, complaint=complaint)
        return record

    if _once(message_id, kind, count_it) is None:
        return Delivery(recipient, DUPLICATE)
    return Delivery(recipient, COUNTED)
