"""Deleting one's own account (GDPR art. 17): proven by the password (and a two-factor code),
done in one transaction, confirmed by mail to the old address.

What identifies the member goes: address, password, profile, preferences, two-factor secrets,
sessions, and (through `events.AccountDeleted`'s in-transaction subscribers) drafts, bookmarks,
watches, notifications, API tokens, the picture and their name in stored webhook deliveries.
Their posts and topics stay, under a placeholder name (`former-<id>`, shown as "Former member":
accounts.former), so the threads and quotes of others stay readable; the moderation log keeps
its rows.
"""

from __future__ import annotations

import logging
import secrets

from sqlalchemy import delete, select
from werkzeug.security import check_password_hash

from .. import events, jobs, permissions, settings
from ..db import lock_for_write, transaction
from ..errors import Invalid
from ..extensions import db
from ..i18n import DEFAULT_LANGUAGE, force_locale, gettext, language_of
from ..i18n import lazy_gettext as _l
from ..mail import send_mail
from ..sigs.services import leave_every_sig_in_tx
from ..topics.models import Post, Topic
from . import retired, two_factor
from .former import FORMER_PREFIX, former_username
from .models import (
    APPROVED,
    ROLE_MEMBER,
    ROLE_SYSOP,
    TL_NEW,
    LoginThrottle,
    RecoveryCode,
    User,
)
from .services import revoke_sessions

log = logging.getLogger(__name__)

# A password hash no password matches (werkzeug's check_password_hash answers False).
NO_PASSWORD = "!deleted"


def former_email(user_id: int) -> str:
    # The address column is unique and required; .invalid is reserved (RFC 2606).
    return f"{FORMER_PREFIX}{user_id}@deleted.invalid"


def check_deletion(user: User, password: str, code: str = "") -> None:
    """Prove it is the member: the password, and a code when two-factor sign-in is on (each
    wrong try counted as a sign-in's is). Then the policy: the last global sysop stays."""
    if not check_password_hash(user.password_hash, password or ""):
        raise Invalid("password", _l("That is not your current password."))
    if user.has_two_factor:
        if not (code or "").strip():
            raise Invalid("code", _l("Enter the code from your authenticator app."))
        try:
            two_factor.check_code(user, code)
        except Invalid as exc:
            raise Invalid("code", exc.message) from exc
    permissions.require_account_deletion(user)


def delete_account(user: User, password: str, code: str = "") -> None:
    """Delete the member's own account, in one transaction (anything failing in it leaves the
    account whole), then mail the old address that it is done."""
    check_deletion(user, password, code)
    old_email, old_name = user.email, user.username
    language = language_of(user)
    with transaction() as session:
        posts = session.execute(
            select(Post.id, Post.topic_id, Topic.sig_id)
            .join(Topic, Topic.id == Post.topic_id)
            .where(Post.user_id == user.id)
            .order_by(Post.id)
        ).all()
        topics = session.execute(
            select(Topic.id, Topic.sig_id).where(Topic.user_id == user.id)
        ).all()
        # Lock order: SIGs, then members (no topic's counters move). A global sysop locks every
        # global sysop's row, so two of the last two deleting at once cannot both pass.
        sig_ids = leave_every_sig_in_tx(user.id)
        sysops: list[int] = []
        if user.is_global_sysop:
            sysops = list(session.scalars(select(User.id).where(User.role == ROLE_SYSOP)))
        lock_for_write(User, user.id, *sysops)
        permissions.require_account_deletion(user)  # again, under the lock
        session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        # Every session and remember-me cookie dies (a new token, the rows gone), as on a ban;
        # feed tokens die with the session token.
        revoke_sessions(user)  # joins this transaction
        session.execute(
            delete(LoginThrottle).where(
                LoginThrottle.key.in_([f"user:{user.id}", f"2fa:{user.id}"])
            )
        )
        _forget(user)
        retired.retire(old_name)  # no one else may take it (accounts.retired)
        events.publish(
            events.AccountDeleted(
                user_id=user.id,
                post_ids=tuple(p.id for p in posts),
                topic_ids=tuple(sorted({p.topic_id for p in posts} | {t.id for t in topics})),
                sig_ids=tuple(sorted({p.sig_id for p in posts} | {t.sig_id for t in topics})),
            )
        )
        jobs.enqueue(
            mail_account_deleted,
            old_email,
            old_name,
            language,
            f"account-deleted:{secrets.token_hex(12)}",
        )
    permissions.forget_memberships(user)
    log.info("member %s deleted their account (%s SIGs left)", user.id, len(sig_ids))


def _forget(user: User) -> None:
    """Everything on the member's row that says who they were or what they chose."""
    user.username = former_username(user.id)
    user.email = former_email(user.id)
    user.password_hash = NO_PASSWORD
    user.role = ROLE_MEMBER
    user.signature = ""
    user.bio_raw = ""
    user.bio_html = ""
    user.timezone = "UTC"
    user.language = None
    user.last_locale = None
    user.theme = None
    user.keyboard_shortcuts = True
    user.preferences = {}
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.last_seen_at = None
    user.last_login_at = None
    user.email_verified_at = None
    user.mail_bounces = 0
    user.mail_disabled_at = None
    user.last_digest_at = None
    user.digests_unvisited = 0
    user.approval = APPROVED
    user.trust_level = TL_NEW
    user.trust_locked = True  # no review raises an account nobody uses
    db.session.flush()


@jobs.job()
def mail_account_deleted(email: str, name: str, language: str, key: str | None = None) -> None:
    """The mail to the old address confirming the deletion (the row no longer has it)."""
    site = settings.get("site_name")
    with force_locale(language or DEFAULT_LANGUAGE):
        subject = gettext("Your account on %(site)s is deleted", site=site)
        body = gettext(
            "Hello %(name)s,\n\nyour account on %(site)s was deleted, as you asked. Your "
            "address, password, profile and settings are gone, and you can no longer sign "
            "in. Your posts stay in their threads under the name of a former member.\n\nIf "
            "you did not do this, write to the sysop of %(site)s.\n",
            name=name,
            site=site,
        )
    send_mail(email, subject, body, key=key)
