"""The gatekeeper: every "may this member …" question in the forum is answered here.

Pages, the API, search, feeds and sockets all ask these functions, so a rule changes in one place.
Conventions: `can_*` answer a bool; `require_*` raise Forbidden; `get_*_for` load by id and raise
NotFound when the thing does not exist *or* the actor may not know it exists (a private SIG is a
404 to outsiders everywhere); `*_clause` give SQL filters for listings. A guest is `None`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    false,
    func,
    lambda_stmt,
    or_,
    select,
    true,
)
from sqlalchemy.orm import InstrumentedAttribute, contains_eager

from . import blocklist, settings
from .accounts.former import is_former, not_former_clause
from .accounts.models import PENDING, REFUSED, TL_BASIC, TL_MEMBER, TL_NEW, TL_REGULAR, User
from .care.models import RESOLVED, Concern, SysopPage
from .db import is_valid_id
from .errors import Forbidden, NotFound
from .extensions import db
from .files.models import (
    APPROVED,
    Avatar,
    Librarian,
    LibraryFile,
    LibraryVersion,
    Upload,
)
from .i18n import lazy_gettext as _l
from .i18n import lazy_ngettext, localtime, said_reason
from .messages.models import (
    KIND_PRIVATE,
    MAIL_FROM_SYSOPS,
    PREF_MAIL_FROM,
    Conversation,
    ConversationMember,
    MemberIgnore,
    PrivateMessage,
)
from .sigs.models import DISCIPLINE_BAN, PRIVATE, PUBLIC, Membership, Sig, SigDiscipline, SigInvite
from .timeutil import UTCDateTime, utcnow
from .topics.models import POST_VISIBLE, Post, PostFacts, Topic, TopicRead

Actor = User | None

_CACHE = "_forum_memberships"
# sig_id -> the member's active SigDiscipline there (None: none), for the SIGs looked at so far.
_DISCIPLINES = "_forum_sig_disciplines"
# The SIGs whose library the member is a librarian of (is_librarian).
_LIBRARIANS = "_forum_librarian_of"


def actor(user: Any) -> Actor:
    """Turn Flask-Login's current_user (maybe anonymous) into a User or None."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    # current_user is a proxy that looks the member up again on every attribute: unwrap it once.
    unwrap = getattr(user, "_get_current_object", None)
    return unwrap() if unwrap is not None else user  # type: ignore[no-any-return]


# --- memberships (loaded once per member per request) ---------------------------------------
# A member banned from a SIG is no member of it, whatever rows say: their memberships and their
# active SIG disciplines come in one query, and a ban takes the SIG out of the memberships, so
# every question below (reading, listing, searching, notifying, posting) follows.
def _active_discipline(now: Any) -> ColumnElement[bool]:
    return and_(
        SigDiscipline.lifted_at.is_(None),
        or_(SigDiscipline.until.is_(None), SigDiscipline.until > now),
    )


def _harsher(a: SigDiscipline | None, b: SigDiscipline) -> SigDiscipline:
    if a is None or (b.is_ban and not a.is_ban):
        return b
    return a


def _load_memberships(
    user_ids: list[int],
) -> dict[int, tuple[dict[int, Membership], dict[int, SigDiscipline | None]]]:
    # A lambda_stmt, built once per process: every signed-in request runs it, and building it
    # cost more CPU than running it (a hot site measured for issue 17, sixth session).
    statement = lambda_stmt(
        lambda: (
            select(Membership, SigDiscipline)
            .outerjoin(SigDiscipline, _discipline_of_membership())
            .where(Membership.user_id.in_(bindparam("user_ids", expanding=True)))
        ),
        enable_tracking=False,
    )
    rows: dict[int, list[tuple[Membership, SigDiscipline | None]]] = {uid: [] for uid in user_ids}
    for m, d in db.session.execute(statement, {"now": utcnow(), "user_ids": user_ids}):
        rows[m.user_id].append((m, d))
    return {uid: _collect_memberships(held) for uid, held in rows.items()}


def _discipline_of_membership() -> ColumnElement[bool]:
    """The join of a membership to its member's active disciplines in its SIG (the time is the
    bind parameter "now")."""
    return and_(
        SigDiscipline.user_id == Membership.user_id,
        SigDiscipline.sig_id == Membership.sig_id,
        _active_discipline(bindparam("now", type_=UTCDateTime())),
    )


def _collect_memberships(
    rows: Iterable[tuple[Membership | None, SigDiscipline | None]],
) -> tuple[dict[int, Membership], dict[int, SigDiscipline | None]]:
    held: dict[int, Membership] = {}
    disciplines: dict[int, SigDiscipline | None] = {}
    for m, d in rows:
        if m is None:
            continue
        held[m.sig_id] = m
        disciplines[m.sig_id] = (
            _harsher(disciplines.get(m.sig_id), d) if d else disciplines.get(m.sig_id)
        )
    for sig_id, active in disciplines.items():
        if active is not None and active.is_ban:
            held.pop(sig_id, None)
    return held, disciplines


def with_memberships(statement: Any) -> Any:
    """`statement`, a select of User, with the member's memberships and active SIG disciplines
    joined after its columns (each may be None), for remember_memberships(): the session's
    member and their memberships in one statement. Takes the bind parameter "now" (utcnow())."""
    return (
        statement.add_columns(Membership, SigDiscipline)
        .outerjoin(Membership, Membership.user_id == User.id)
        .outerjoin(SigDiscipline, _discipline_of_membership())
    )


def remember_memberships(
    user: User, rows: Iterable[tuple[Membership | None, SigDiscipline | None]]
) -> None:
    """Keep what a with_memberships() statement read as the member's memberships, as
    memberships() would have loaded them."""
    user.__dict__[_CACHE], user.__dict__[_DISCIPLINES] = _collect_memberships(rows)


def memberships(user: Actor) -> dict[int, Membership]:
    if user is None:
        return {}
    cached = user.__dict__.get(_CACHE)
    if cached is None:
        cached, disciplines = _load_memberships([user.id])[user.id]
        user.__dict__[_CACHE] = cached
        user.__dict__[_DISCIPLINES] = disciplines
    return cached


def load_memberships(users: list[User]) -> None:
    """Load the memberships of many members in one query (notifying every watcher of a post)."""
    pending = [u for u in users if _CACHE not in u.__dict__]
    if not pending:
        return
    found = _load_memberships([u.id for u in pending])
    for u in pending:
        u.__dict__[_CACHE], u.__dict__[_DISCIPLINES] = found[u.id]


def forget_memberships(user: Actor) -> None:
    """Drop the cached memberships after a join, leave, role change or discipline."""
    if user is not None:
        user.__dict__.pop(_CACHE, None)
        user.__dict__.pop(_DISCIPLINES, None)
        user.__dict__.pop(_LIBRARIANS, None)


def sig_discipline(user: Actor, sig: Sig | int) -> SigDiscipline | None:
    """The member's suspension or ban in this SIG that holds now (a ban before a suspension)."""
    if user is None:
        return None
    sig_id = sig if isinstance(sig, int) else sig.id
    memberships(user)
    known: dict[int, SigDiscipline | None] = user.__dict__[_DISCIPLINES]
    if sig_id not in known:
        found = None
        for d in db.session.scalars(
            select(SigDiscipline).where(
                SigDiscipline.user_id == user.id,
                SigDiscipline.sig_id == sig_id,
                _active_discipline(utcnow()),
            )
        ):
            found = _harsher(found, d)
        known[sig_id] = found
    return known[sig_id]


def sig_ban(user: Actor, sig: Sig | int) -> SigDiscipline | None:
    """The member's ban from this SIG, when one holds: out of it, may not join it again."""
    d = sig_discipline(user, sig)
    return d if d is not None and d.kind == DISCIPLINE_BAN else None


def membership(user: Actor, sig: Sig | int) -> Membership | None:
    sig_id = sig if isinstance(sig, int) else sig.id
    return memberships(user).get(sig_id)


# --- roles ----------------------------------------------------------------------------------
def is_global_sysop(user: Actor) -> bool:
    return user is not None and user.is_global_sysop and not user.is_banned


def is_member(user: Actor, sig: Sig | int) -> bool:
    return membership(user, sig) is not None


def is_sig_sysop(user: Actor, sig: Sig | int) -> bool:
    """Moderates this SIG: its own sysops, and the global sysop everywhere."""
    if is_global_sysop(user):
        return True
    m = membership(user, sig)
    return m is not None and m.is_sysop and not (user is not None and user.is_banned)


def moderated_sig_ids(user: Actor) -> set[int] | None:
    """The SIGs this member moderates; None means all of them (the global sysop)."""
    if is_global_sysop(user):
        return None
    if user is None or user.is_banned:
        return set()
    return {sig_id for sig_id, m in memberships(user).items() if m.is_sysop}


def can_write_digest_note(user: Actor, sig: Sig) -> bool:
    """A SIG's sysops (and the global sysop) write notes for the digest of its members."""
    return user is not None and is_sig_sysop(user, sig)


def require_digest_note(user: Actor, sig: Sig) -> None:
    if not can_write_digest_note(user, sig):
        raise Forbidden(_l("Only this SIG's sysops write notes for its digest."))


def can_moderate_anything(user: Actor) -> bool:
    ids = moderated_sig_ids(user)
    return ids is None or bool(ids)


def moderated_clause(
    column: InstrumentedAttribute[int] | InstrumentedAttribute[int | None], user: Actor
) -> ColumnElement[bool]:
    """SQL filter on a moderation record filed under a SIG (`column` holds the SIG's id: a
    flag's post, a note, a warning, a log entry, a word filter): the records of the SIGs this
    member moderates. The global sysop reads every record, the site-wide ones (no SIG) too; a
    SIG sysop reads nothing of SIGs they do not moderate, and no site-wide record."""
    ids = moderated_sig_ids(user)
    if ids is None:
        return true()
    if not ids:
        return false()
    return column.in_(sorted(ids))


def can_read_site_records(user: Actor) -> bool:
    """Site-wide moderation records (no SIG: the reasons for a ban, a silence or a site-wide
    suspension, site-wide warnings and notes) are the global sysop's, as in moderated_clause."""
    return is_global_sysop(user)


# The moderation log's actions that are only ever logged site-wide (no SIG): a SIG sysop reads
# none of them (moderated_clause), so their log's action menu does not offer them.
SITE_LOG_ACTIONS = frozenset(
    {
        "approve_account",
        "ban_member",
        "change_setting",
        "create_invite",
        "delete_spammer",
        "lift_ban",
        "lift_silence",
        "refuse_account",
        "resolve_message_report",
        "review_trust_level",
        "set_role",
        "set_trust_level",
        "silence_member",
    }
)


def readable_log_actions(user: Actor, actions: Iterable[str]) -> list[str]:
    """The log actions this viewer can find entries of: all for the global sysop; for a SIG
    sysop, those logged in a SIG (not SITE_LOG_ACTIONS)."""
    if can_read_site_records(user):
        return list(actions)
    return [action for action in actions if action not in SITE_LOG_ACTIONS]


# --- SIGs -----------------------------------------------------------------------------------
NO_SUCH_SIG = _l("No such SIG.")


def can_see_sig(user: Actor, sig: Sig) -> bool:
    """Whether the SIG exists for this member at all (listed, its name shown)."""
    return sig.visibility != PRIVATE or is_member(user, sig) or is_global_sysop(user)


def can_read_sig(user: Actor, sig: Sig) -> bool:
    if sig.visibility == PUBLIC:
        return True
    return is_member(user, sig) or is_global_sysop(user)


def require_read_sig(user: Actor, sig: Sig) -> None:
    if not can_see_sig(user, sig):
        raise NotFound(NO_SUCH_SIG)
    if not can_read_sig(user, sig):
        raise Forbidden(_l("This SIG is for its members only. Join it to read its topics."))


def can_join_sig(user: Actor, sig: Sig) -> bool:
    """Join at once (public and members-only SIGs); private SIGs take a request instead."""
    return (
        user is not None
        and not user.is_banned
        and not sig.is_archived
        and sig.visibility != PRIVATE
        and not is_member(user, sig)
        and sig_ban(user, sig) is None
    )


def joins_by_request(sig: Sig) -> bool:
    return sig.visibility == PRIVATE


def can_request_to_join(user: Actor, sig: Sig) -> bool:
    """Ask a private SIG's sysops to let one in (the others are joined at once)."""
    return (
        user is not None
        and not user.is_banned
        and not sig.is_archived
        and joins_by_request(sig)
        and not is_member(user, sig)
        and sig_ban(user, sig) is None
    )


# Invite links: a SIG's sysops make them; whoever opens one that holds joins at once, whatever
# the SIG's visibility, unless barred from joining at all.
def can_manage_sig_invites(user: Actor, sig: Sig) -> bool:
    """Make, list and revoke a SIG's invite links: its own sysops, and the global sysop."""
    return user is not None and not user.is_banned and is_sig_sysop(user, sig)


def require_manage_sig_invites(user: Actor, sig: Sig) -> None:
    if not can_see_sig(user, sig):
        raise NotFound(NO_SUCH_SIG)
    if not can_manage_sig_invites(user, sig):
        raise Forbidden(_l("Only this SIG's sysops may do that."))


def sig_invite_problem(invite: SigInvite, now: datetime | None = None) -> str | None:
    """Why an invite link no longer lets anyone in (revoked, expired, used up), or None."""
    if invite.revoked_at is not None:
        return _l("This invite link was revoked by the SIG's sysops.")
    if invite.is_expired(now):
        return _l("This invite link has expired. Ask the SIG's sysops for a new one.")
    if invite.is_used_up:
        return _l("This invite link has been used as often as it may be.")
    return None


def invite_join_problem(user: Actor, sig: Sig) -> str | None:
    """Why this member may not join the SIG through an invite link that holds, or None (being
    a member already is not a problem here: the caller says so)."""
    if user is None:
        return _l("Log in to join a SIG.")
    if user.is_banned:
        return _l("Your account is banned: you cannot join a SIG.")
    if sig.is_archived:
        return _l("This SIG is archived: it takes no new members.")
    ban = sig_ban(user, sig)
    if ban is not None:
        return _l(
            "You are banned from %(name)s and cannot join it: %(reason)s",
            name=sig.name,
            reason=said_reason(ban.reason) or _l("no reason given"),
        )
    return None


def can_release_claim(user: Actor, claimed_by_id: int | None) -> bool:
    """Release a flagged post's claim ("I am handling this"): the sysop who claimed it, or the
    global sysop. The caller has checked that the member moderates the post's SIG."""
    if user is None or claimed_by_id is None or user.is_banned:
        return False
    return claimed_by_id == user.id or is_global_sysop(user)


def require_release_claim(user: Actor, claimed_by_id: int | None) -> None:
    if not can_release_claim(user, claimed_by_id):
        raise Forbidden(_l("Only the sysop who claimed it (or the global sysop) can release it."))


def visible_sigs_clause(user: Actor) -> ColumnElement[bool]:
    """SQL filter on Sig: the SIGs listed to this member."""
    if is_global_sysop(user):
        return true()
    member_ids = list(memberships(user))
    if member_ids:
        return or_(Sig.visibility != PRIVATE, Sig.id.in_(member_ids))
    return Sig.visibility != PRIVATE


def readable_sigs_clause(user: Actor, sig: Any = Sig) -> ColumnElement[bool]:
    """SQL filter on Sig (or an alias of it): the SIGs whose topics this member may read."""
    if is_global_sysop(user):
        return true()
    member_ids = list(memberships(user))
    if member_ids:
        return or_(sig.visibility == PUBLIC, sig.id.in_(member_ids))
    return sig.visibility == PUBLIC  # type: ignore[no-any-return]


def readable_sig_ids(user: Actor) -> set[int] | None:
    """Ids of the SIGs this member may read; None means every SIG (the global sysop)."""
    if is_global_sysop(user):
        return None
    ids = set(db.session.scalars(select(Sig.id).where(Sig.visibility == PUBLIC)))
    ids.update(memberships(user))
    return ids


def get_sig_for(user: Actor, slug: str) -> Sig:
    # A lambda_stmt, built once per process: every SIG page starts here, and building the
    # statement and its cache key was a fifth of this look-up's CPU (0.41 → 0.32 ms of a
    # guest's SIG page, bench/page_cpu.py sig_page_nocache).
    sig: Sig | None = db.session.scalar(
        lambda_stmt(
            lambda: select(Sig).where(Sig.slug == bindparam("slug")), enable_tracking=False
        ),
        {"slug": slug},
    )
    if sig is None or not can_see_sig(user, sig):
        raise NotFound(NO_SUCH_SIG)
    return sig


def get_sig_by_id_for(user: Actor, sig_id: int) -> Sig:
    sig = db.session.get(Sig, sig_id) if is_valid_id(sig_id) else None
    if sig is None or not can_see_sig(user, sig):
        raise NotFound(NO_SUCH_SIG)
    return sig


def require_sig_sysop(user: Actor, sig: Sig) -> None:
    if not can_see_sig(user, sig):
        raise NotFound(NO_SUCH_SIG)
    if not is_sig_sysop(user, sig):
        raise Forbidden(_l("Only this SIG's sysops may do that."))


def require_global_sysop(user: Actor) -> None:
    if not is_global_sysop(user):
        raise Forbidden(_l("Only the sysop may do that."))


# --- blocked domains and networks (site settings) --------------------------------------------
def _blocklist() -> blocklist.Blocklist:
    """The site's blocked email domains and address ranges (site settings)."""
    return settings.blocklist_now()


def email_blocked(email: str | None) -> bool:
    """Whether an address is in a blocked email domain (or under one)."""
    return _blocklist().blocks_domain(email)


def address_blocked(ip: str | None) -> bool:
    """Whether a client address is in a blocked range."""
    return _blocklist().blocks_address(ip)


def network_problem(user: Actor, ip: str | None) -> str | None:
    """Why a request from this address may not write (or sign in): a blocked range. The global
    sysop is never blocked, so a list cannot lock the console out."""
    if is_global_sysop(user) or not address_blocked(ip):
        return None
    return _l("Posting from your network is not possible on this forum.")


# --- two-factor sign-in ---------------------------------------------------------------------
def two_factor_required(user: Actor) -> bool:
    """Whether this member must use two-factor sign-in: sysops (of any SIG, and the global
    sysop) while the site setting "sysops must use two-factor" is on."""
    return (
        user is not None
        and bool(settings.get_int("sysops_require_2fa"))
        and can_moderate_anything(user)
    )


def two_factor_missing(user: Actor) -> bool:
    """A sysop who must use two-factor sign-in and has not set it up (kept from /mod and
    /admin until they do)."""
    return user is not None and not user.has_two_factor and two_factor_required(user)


# --- one's own account ----------------------------------------------------------------------
def account_deletion_problem(user: User) -> str | None:
    """Why this member may not delete their account, or None. The last global sysop may not:
    the site would be left with nobody to run it (appoint another first)."""
    if not user.is_global_sysop:
        return None
    others = db.session.scalar(
        select(func.count(User.id)).where(
            User.role == "sysop", User.id != user.id, User.banned_at.is_(None)
        )
    )
    if others:
        return None
    return str(
        _l(
            "You are the only global sysop: make another member global sysop before you "
            "delete your account."
        )
    )


def require_account_deletion(user: User) -> None:
    problem = account_deletion_problem(user)
    if problem:
        raise Forbidden(problem)


# --- standing: who may write ----------------------------------------------------------------
def standing_problem(
    user: Actor, sig: Sig | None = None, now: datetime | None = None
) -> str | None:
    """Why this member may not write (in this SIG), or None when nothing bars it."""
    if user is None:
        return _l("Log in to post.")
    now = now or utcnow()
    if user.is_banned:
        return _l(
            "Your account is banned: %(reason)s.",
            reason=said_reason(user.ban_reason) or _l("no reason given"),
        )
    if user.is_suspended(now):
        return _l(
            "Your account is suspended until %(until)s: %(reason)s.",
            until=localtime(user.suspended_until),
            reason=user.suspension_reason or _l("no reason given"),
        )
    if user.approval == PENDING:
        return _l(
            "Your account waits for a sysop's approval: you can read, but not post yet. "
            "You will be told when it is approved."
        )
    if user.approval == REFUSED:
        return _l("A sysop did not approve your account: you can read, but not post.")
    if not user.is_global_sysop and email_blocked(user.email):
        return _l(
            "Your email address's domain is blocked on this forum: you can read, but not post. "
            "Write to the sysop if you think this is a mistake."
        )
    if user.is_silenced(now):
        return _l(
            "You are silenced until %(until)s: %(reason)s.",
            until=localtime(user.silenced_until),
            reason=user.silence_reason or _l("no reason given"),
        )
    if sig is not None and (is_member(user, sig) or is_global_sysop(user)):
        return sig_discipline_problem(user, sig)
    return None


def sig_discipline_problem(user: Actor, sig: Sig) -> str | None:
    """Why this member may not write in this SIG because of a SIG suspension or ban, or None."""
    d = sig_discipline(user, sig)
    if d is None:
        return None
    reason = said_reason(d.reason) or _l("no reason given")
    if d.is_ban:
        return str(_l("You are banned from %(sig)s: %(reason)s.", sig=sig.name, reason=reason))
    return _l(
        "You are suspended in %(sig)s until %(until)s: %(reason)s.",
        sig=sig.name,
        until=localtime(d.until),
        reason=reason,
    )


def write_problem(user: Actor, sig: Sig) -> str | None:
    """Why this member may not post in this SIG, or None."""
    problem = standing_problem(user, sig)
    if problem:
        return problem
    if sig.is_archived:
        return _l("This SIG is archived: it can be read but not written to.")
    if not is_member(user, sig) and not is_global_sysop(user):
        return sig_discipline_problem(user, sig) or _l("Join this SIG to post in it.")
    return None


def require_write(user: Actor, sig: Sig) -> None:
    problem = write_problem(user, sig)
    if problem:
        raise Forbidden(problem)


def joins_by_posting(user: Actor, sig: Sig) -> bool:
    """Posting in a public SIG joins it: a member not in it may start a topic or reply there,
    and the post makes them a member (in the post's own transaction)."""
    return sig.visibility == PUBLIC and not is_global_sysop(user) and can_join_sig(user, sig)


def post_problem(user: Actor, sig: Sig) -> str | None:
    """Why this member may not post (start a topic, reply) in this SIG, or None: the write
    rules, except that not being a member of a public SIG they may join is no obstacle."""
    if joins_by_posting(user, sig):
        # standing_problem asks about SIG discipline of members only: a member suspended in
        # the SIG who left it does not post their way back in.
        return standing_problem(user, sig) or sig_discipline_problem(user, sig)
    problem = write_problem(user, sig)
    if problem and user is not None and not is_member(user, sig):
        # Not "join this SIG" to someone banned from it: the ban, and its reason.
        return sig_discipline_problem(user, sig) or problem
    return problem


def joining_lets_post(user: Actor, sig: Sig) -> bool:
    """Whether joining is what stands between this member and posting here (the Join button
    shown instead of a post form): they may join, and nothing else bars them once in."""
    return (
        can_join_sig(user, sig)
        and standing_problem(user, sig) is None
        and sig_discipline_problem(user, sig) is None
    )


def can_start_topic(user: Actor, sig: Sig) -> bool:
    return can_read_sig(user, sig) and post_problem(user, sig) is None


def require_start_topic(user: Actor, sig: Sig) -> None:
    problem = post_problem(user, sig)
    if problem:
        raise Forbidden(problem)


# --- trust levels: the limits of new accounts ------------------------------------------------
# A new account (TL_NEW) may read everything a member reads, and write, within limits: links,
# mentions and images per post, posts and new topics a day, no private mail. The limits lift
# when forum.trust's review makes it basic (read N topics, M minutes, K days: site settings).
# The global sysop counts as a regular; a SIG's sysops are not limited in their SIG.
TRUST_LEVEL_NAMES = {
    TL_NEW: _l("new"),
    TL_BASIC: _l("basic"),
    TL_MEMBER: _l("member"),
    TL_REGULAR: _l("regular"),
}
# What a flag weighs towards auto-hiding a post, in half flags, by the flagger's trust level:
# a new account's flag counts for nothing (a spammer's fresh accounts cannot hide posts).
FLAG_WEIGHTS = {TL_NEW: 0, TL_BASIC: 2, TL_MEMBER: 3, TL_REGULAR: 4}
# How often forum.trust reviews new accounts (its periodic job), as the refusals say.
REVIEW_EVERY_MINUTES = 10


def trust_level(user: Actor) -> int:
    """The member's trust level (a guest's is new; the global sysop counts as a regular)."""
    if user is None:
        return TL_NEW
    if is_global_sysop(user):
        return TL_REGULAR
    return int(user.trust_level or TL_NEW)


def new_account_limits(user: Actor, sig: Sig | int | None = None) -> bool:
    """Whether the limits of new accounts apply to this member (writing in `sig`): an account
    still at TL_NEW, unless it is a sysop of that SIG (or of any SIG, for what has no SIG)."""
    if user is None or trust_level(user) >= TL_BASIC:
        return False
    if sig is not None:
        return not is_sig_sysop(user, sig)
    return not can_moderate_anything(user)


def flag_weight(user: User) -> int:
    """What this member's flag weighs towards auto-hiding a post, in half flags."""
    if user.is_banned:
        return 0
    return FLAG_WEIGHTS.get(trust_level(user), FLAG_WEIGHTS[TL_REGULAR])


def reading_progress(user: User) -> tuple[int, int]:
    """(topics read, seconds spent reading) as the trust review counts them: topics whose read
    position the member moved by opening them (not "mark all read", not their own posts)."""
    topics, seconds = db.session.execute(
        select(
            func.count(case((TopicRead.read_seconds > 0, 1))),
            func.coalesce(func.sum(TopicRead.read_seconds), 0),
        ).where(TopicRead.user_id == user.id)
    ).one()
    return int(topics or 0), int(seconds or 0)


def basic_requirements_missing(user: User, now: datetime | None = None) -> list[str]:
    """What a new account still has to do to become basic, each as a phrase ("read 3 more
    topics"); empty when it has done it all (the review raises it within minutes)."""
    topics, seconds = reading_progress(user)
    missing: list[str] = []
    more_topics = settings.get_int("trust_basic_topics") - topics
    if more_topics > 0:
        missing.append(
            lazy_ngettext("read %(num)s more topic", "read %(num)s more topics", more_topics)
        )
    more_minutes = -(-(settings.get_int("trust_basic_minutes") * 60 - seconds) // 60)
    if more_minutes > 0:
        missing.append(
            lazy_ngettext(
                "spent %(num)s more minute reading",
                "spent %(num)s more minutes reading",
                more_minutes,
            )
        )
    created = user.created_at or utcnow()
    wait = created + timedelta(days=settings.get_int("trust_basic_days")) - (now or utcnow())
    if wait > timedelta(0):
        hours = -(-int(wait.total_seconds()) // 3600)
        missing.append(
            lazy_ngettext(
                "been registered for %(num)s more hour",
                "been registered for %(num)s more hours",
                hours,
            )
        )
    return missing


def unlock_hint(user: User) -> str:
    """The end of every new-account refusal: what lifts the limit, for this member now."""
    missing = basic_requirements_missing(user)
    if not missing:
        return _l(
            "You have done what lifts it: your account becomes basic within %(minutes)s minutes.",
            minutes=REVIEW_EVERY_MINUTES,
        )
    what: str = missing[-1]
    if len(missing) > 1:
        # Translators: the steps still to take, each a phrase like "read 3 more topics", to
        # end "It lifts once you have %(what)s."
        what = _l(
            "%(first)s and %(last)s", first=", ".join(str(m) for m in missing[:-1]), last=what
        )
    # Translators: %(what)s is one or more of "read 3 more topics", "spent 7 more minutes
    # reading", "been registered for 20 more hours" (joined by "%(first)s and %(last)s").
    return _l("It lifts once you have %(what)s.", what=what)


def _setting_limit(user: Actor, sig: Sig | int | None, key: str) -> int | None:
    return settings.get_int(key) if new_account_limits(user, sig) else None


def max_links_per_post(user: Actor, sig: Sig | int | None = None) -> int | None:
    """How many links (to other sites) a post of this member may hold; None: no limit."""
    return _setting_limit(user, sig, "new_max_links")


def max_mentions_per_post(user: Actor, sig: Sig | int) -> int:
    """How many members a post of this member may mention (and so notify): the site's limit,
    higher for the SIG's sysops, and lower for new accounts."""
    if is_sig_sysop(user, sig):
        return settings.get_int("mention_limit_sysop")
    limit = settings.get_int("mention_limit")
    new = _setting_limit(user, sig, "new_max_mentions")
    return limit if new is None else min(limit, new)


def max_images_per_post(user: Actor, sig: Sig | int | None = None) -> int | None:
    """How many uploaded images a post of this member may hold; None: no limit (the uploads
    feature asks this before it accepts a post's images)."""
    return _setting_limit(user, sig, "new_max_images")


def image_upload_problem(user: Actor, sig: Sig | int | None = None) -> str | None:
    """Why this member may not upload an image now (a new account whose posts may show none),
    with what lifts the limit; None when they may. Asked when the image arrives, so it speaks
    of images at all, not of a post's count of them."""
    if user is None or max_images_per_post(user, sig) != 0:
        return None
    problem = str(_l("New accounts cannot post images yet."))
    return f"{problem} {unlock_hint(user)}" if new_account_limits(user, sig) else problem


def new_account_content_problem(
    user: Actor, sig: Sig | int | None, *, links: int = 0, mentions: int = 0, images: int = 0
) -> str | None:
    """Why a new account may not post this (too many links, mentions or images), with what
    lifts the limit; None when it may, or when the limits do not apply."""
    if user is None or not new_account_limits(user, sig):
        return None
    problem: str | None = None
    link_limit = settings.get_int("new_max_links")
    mention_limit = settings.get_int("new_max_mentions")
    image_limit = settings.get_int("new_max_images")
    if links > link_limit:
        problem = (
            _l("New accounts cannot post links yet; this post has %(count)s.", count=links)
            if link_limit == 0
            else lazy_ngettext(
                "New accounts can put %(num)s link in a post; this one has %(count)s.",
                "New accounts can put %(num)s links in a post; this one has %(count)s.",
                link_limit,
                count=links,
            )
        )
    elif mentions > mention_limit and mention_limit < settings.get_int("mention_limit"):
        # (When the site's own limit is lower, its refusal says so: forum.topics.services.)
        problem = (
            _l("New accounts cannot mention members yet: write the names without the @.")
            if mention_limit == 0
            else lazy_ngettext(
                "New accounts can mention %(num)s member in a post; this one mentions %(count)s.",
                "New accounts can mention %(num)s members in a post; this one mentions %(count)s.",
                mention_limit,
                count=mentions,
            )
        )
    elif images > image_limit:
        problem = (
            _l("New accounts cannot post images yet; this post has %(count)s.", count=images)
            if image_limit == 0
            else lazy_ngettext(
                "New accounts can put %(num)s image in a post; this one has %(count)s.",
                "New accounts can put %(num)s images in a post; this one has %(count)s.",
                image_limit,
                count=images,
            )
        )
    if problem is None:
        return None
    return f"{problem} {unlock_hint(user)}"


def posts_today(user: User, now: datetime | None = None) -> tuple[int, int]:
    """(posts, of them new topics) this member wrote in the last 24 hours, deleted ones too."""
    since = (now or utcnow()) - timedelta(days=1)
    posts, topics = db.session.execute(
        select(func.count(Post.id), func.count(case((Post.number == 1, 1)))).where(
            Post.user_id == user.id, Post.created_at > since
        )
    ).one()
    return int(posts or 0), int(topics or 0)


def post_quota_problem(user: Actor, sig: Sig, *, new_topic: bool) -> str | None:
    """Why a new account may not write another post (or start another topic) today, with what
    lifts the limit; None when it may. One query, for new accounts only."""
    if user is None or not new_account_limits(user, sig):
        return None
    posts, topics = posts_today(user)
    post_limit = settings.get_int("new_posts_per_day")
    topic_limit = settings.get_int("new_topics_per_day")
    problem: str | None = None
    if posts >= post_limit:
        problem = lazy_ngettext(
            "New accounts can write %(num)s post a day, and you have.",
            "New accounts can write %(num)s posts a day, and you have.",
            post_limit,
        )
    elif new_topic and topics >= topic_limit:
        problem = lazy_ngettext(
            "New accounts can start %(num)s topic a day, and you have; you can still reply.",
            "New accounts can start %(num)s topics a day, and you have; you can still reply.",
            topic_limit,
        )
    if problem is None:
        return None
    return f"{problem} {unlock_hint(user)}"


def require_post_quota(user: Actor, sig: Sig, *, new_topic: bool) -> None:
    problem = post_quota_problem(user, sig, new_topic=new_topic)
    if problem:
        raise Forbidden(problem)


def can_see_trust_level(user: Actor) -> bool:
    """A member's trust level (and its progress) is shown to sysops, on the moderation page of
    the member and on their profile."""
    return can_moderate_anything(user)


def trust_level_problem(user: Actor, target: User) -> str | None:
    """Why `user` may not set `target`'s trust level by hand: the global sysop's, for anyone
    but a global sysop (who is above the levels)."""
    if not is_global_sysop(user):
        return _l("Only the sysop may set trust levels.")
    if target.is_global_sysop:
        return _l("The sysop has no trust level to set.")
    return None


def require_set_trust_level(user: Actor, target: User) -> None:
    problem = trust_level_problem(user, target)
    if problem:
        raise Forbidden(problem)


# --- topics and posts -----------------------------------------------------------------------
# Whatever hides a topic or a post (a private SIG, a deletion, a post hidden or waiting for
# approval), the answer is the same as for an id that never existed: the same NotFound, the
# same message, so no route can be used to learn which ids exist.
NO_SUCH_TOPIC = _l("No such topic.")
NO_SUCH_POST = _l("No such post.")


def _topic_exists_for(user: Actor, topic: Topic, sig: Sig) -> bool:
    """Whether this member may know the topic exists: its SIG is one they can see, and it is
    not deleted, nor a topic whose first post waits for approval (no post shown, so not listed)
    — unless they moderate the SIG or started the topic."""
    if not can_see_sig(user, sig):
        return False
    if is_sig_sysop(user, sig):
        return True
    if topic.is_deleted:
        return False
    return topic.post_count > 0 or (user is not None and topic.user_id == user.id)


def _post_exists_for(user: Actor, post: PostFacts, sig: Sig) -> bool:
    """Whether this member may know the post exists, in a topic they may know of."""
    if post.is_public or is_sig_sysop(user, sig):
        return True
    # Authors see their own posts that wait for approval or were hidden, with a notice.
    return user is not None and post.user_id == user.id and not post.is_deleted


def can_view_topic(user: Actor, topic: Topic, sig: Sig) -> bool:
    return can_read_sig(user, sig) and _topic_exists_for(user, topic, sig)


def get_topic_for(user: Actor, topic_id: int) -> Topic:
    """Load a topic with its SIG; NotFound when missing or invisible, Forbidden for members-only."""
    return get_topic_and_sig_for(user, topic_id)[0]


def _load_topic_and_sig(topic_id: int) -> tuple[Topic, Sig] | None:
    if not is_valid_id(topic_id):
        return None
    if db.session.identity_key(Topic, topic_id) in db.session.identity_map:
        topic = db.session.get(Topic, topic_id)  # loaded already in this request
        if topic is None:
            return None
        sig = db.session.get(Sig, topic.sig_id)
    else:
        # Not loaded yet in this request: the topic and its SIG in one query. The topic holds
        # its SIG (topic.sig), so the SIG stays in the session's identity map (which holds
        # objects weakly) for as long as the caller holds the topic: a later get() of either
        # in this request is answered without a query.
        # A lambda_stmt, built once per process: every topic page (and every verb on a topic)
        # starts here, and building the statement and its cache key was a third of this
        # look-up's CPU (0.65 → 0.46 ms of a guest's topic page, bench/page_cpu.py
        # topic_first_nocache).
        topic = db.session.scalar(
            lambda_stmt(
                lambda: (
                    select(Topic)
                    .join(Topic.sig)
                    .options(contains_eager(Topic.sig))
                    .where(Topic.id == bindparam("topic_id"))
                ),
                enable_tracking=False,
            ),
            {"topic_id": topic_id},
        )
        if topic is None:
            return None
        sig = topic.sig
    assert sig is not None
    return topic, sig


def get_topic_and_sig_for(user: Actor, topic_id: int) -> tuple[Topic, Sig]:
    """get_topic_for, also handing back the SIG it loaded (so the caller need not load it again)."""
    found = _load_topic_and_sig(topic_id)
    if found is None or not _topic_exists_for(user, *found):
        raise NotFound(NO_SUCH_TOPIC)
    require_read_sig(user, found[1])
    return found


def get_post_topic_and_sig_for(user: Actor, post_id: int) -> tuple[Post, Topic, Sig]:
    """Load a post with its topic and SIG. NotFound("No such post.") when it does not exist or
    this member may not know it does (whatever hides it, its topic or its SIG); Forbidden only
    for a post that every member of a members-only SIG reads, to someone not in it."""
    post = db.session.get(Post, post_id) if is_valid_id(post_id) else None
    found = _load_topic_and_sig(post.topic_id) if post is not None else None
    if post is None or found is None:
        raise NotFound(NO_SUCH_POST)
    topic, sig = found
    if not (_topic_exists_for(user, topic, sig) and _post_exists_for(user, post, sig)):
        raise NotFound(NO_SUCH_POST)
    require_read_sig(user, sig)
    return post, topic, sig


def viewable_topics_clause(user: Actor, topic: Any = Topic, sig: Any = Sig) -> ColumnElement[bool]:
    """SQL filter on Topic joined with its Sig (or aliases of them): the topics this member may
    view, across SIGs (can_view_topic in SQL)."""
    if is_global_sysop(user):
        return true()
    return and_(readable_sigs_clause(user, sig), _topics_shown_clause(user, topic, sig))


def _topics_shown_clause(user: Actor, topic: Any, sig: Any) -> ColumnElement[bool]:
    # _topic_exists_for in SQL, for SIGs the member may read.
    ids = sorted(moderated_sig_ids(user) or set())
    shown: ColumnElement[bool] = topic.post_count > 0
    if user is not None:
        shown = or_(shown, topic.user_id == user.id)
    return or_(sig.id.in_(ids), and_(topic.deleted_at.is_(None), shown))


def _topic_closed(user: Actor, topic: Topic, sig: Sig) -> str | None:
    if topic.is_deleted:
        return _l("This topic was deleted.")
    if topic.is_locked and not is_sig_sysop(user, sig):
        return _l("This topic is locked: no new replies.")
    return None


def reply_problem(user: Actor, topic: Topic, sig: Sig) -> str | None:
    """Why this member may not reply to the topic, or None (a reply in a public SIG joins it:
    see post_problem)."""
    return post_problem(user, sig) or _topic_closed(user, topic, sig)


def can_reply(user: Actor, topic: Topic, sig: Sig) -> bool:
    return can_view_topic(user, topic, sig) and reply_problem(user, topic, sig) is None


def _edit_problem(user: Actor, topic: Topic, sig: Sig) -> str | None:
    # Editing joins nothing: the author must still be a member (write_problem, not post_problem).
    return write_problem(user, sig) or _topic_closed(user, topic, sig)


def require_reply(user: Actor, topic: Topic, sig: Sig) -> None:
    problem = reply_problem(user, topic, sig)
    if problem:
        raise Forbidden(problem)


def can_view_post(user: Actor, post: PostFacts, topic: Topic, sig: Sig) -> bool:
    return can_view_topic(user, topic, sig) and _post_exists_for(user, post, sig)


def who_may_view_post(users: list[User], post: PostFacts, topic: Topic, sig: Sig) -> list[User]:
    """The members among `users` who may read this post (banned members read nothing). Their
    memberships are loaded in one query, and only when the answer depends on them."""
    if not _open_to_every_member(post, topic, sig):
        load_memberships(users)
    return [u for u in users if not u.is_banned and can_view_post(u, post, topic, sig)]


def who_may_read_post(
    user_ids: Iterable[int],
    post: PostFacts,
    topic: Topic,
    sig: Sig,
    *,
    unless_ignoring: int | None = None,
) -> set[int]:
    """who_may_view_post by id, for the members a new post notifies. A visible post of a live
    topic in a public SIG is open to every member who is not banned: one query of ids, no
    members or memberships loaded (it runs inside every reply's write turn). A deleted
    account (accounts.former) reads nothing: its topics' replies and its quotes tell no one.
    `unless_ignoring` (the member the news is from: the post's author, a reactor) also leaves
    out, in the same query, those who ignore that member (who_ignores): they hear nothing of
    what that member does."""
    ids = sorted(set(user_ids))
    if not ids:
        return set()
    conditions = [User.id.in_(ids)]
    if unless_ignoring is not None:
        ignores = select(MemberIgnore.user_id).where(MemberIgnore.ignored_id == unless_ignoring)
        conditions.append(User.id.not_in(ignores))
    if _open_to_every_member(post, topic, sig):
        return set(
            db.session.scalars(
                select(User.id).where(
                    *conditions, User.banned_at.is_(None), not_former_clause(User.username)
                )
            )
        )
    users = list(db.session.scalars(select(User).where(*conditions)))
    users = [u for u in users if not is_former(u.username)]
    return {u.id for u in who_may_view_post(users, post, topic, sig)}


def sig_readers_clause(sig: Sig) -> ColumnElement[bool]:
    """SQL filter on User: the members who may read this SIG's topics (can_read_sig for every
    member at once; banned members read nothing)."""
    live = User.banned_at.is_(None)
    if sig.visibility == PUBLIC:
        return live
    members = select(Membership.user_id).where(Membership.sig_id == sig.id)
    return and_(live, or_(User.id.in_(members), User.role == "sysop"))


def _open_to_every_member(post: PostFacts, topic: Topic, sig: Sig) -> bool:
    # can_view_post without its member-dependent branches: exactly when those cannot matter.
    return sig.visibility == PUBLIC and post.is_public and not topic.is_deleted


# Which posts of a topic a reader sees (posts_visibility), as named SQL filters (posts_clause).
ALL_POSTS = "all"  # the SIG's sysops: hidden, pending and deleted ones too
PUBLIC_POSTS = "public"  # guests
PUBLIC_AND_OWN_POSTS = "public_and_own"  # members: also their own pending or hidden posts


def posts_visibility(user: Actor, sig: Sig) -> str:
    """Which posts of a topic in this SIG the reader sees: ALL_POSTS, PUBLIC_POSTS or
    PUBLIC_AND_OWN_POSTS (for posts_clause)."""
    if is_sig_sysop(user, sig):
        return ALL_POSTS
    return PUBLIC_POSTS if user is None else PUBLIC_AND_OWN_POSTS


def posts_clause(visibility: str, user_id: Any = None) -> ColumnElement[bool]:
    """SQL filter on Post for a posts_visibility; `user_id` (a value or a bound parameter) is
    the reader's for PUBLIC_AND_OWN_POSTS."""
    if visibility == ALL_POSTS:
        return true()
    public = public_posts_clause()
    if visibility == PUBLIC_POSTS:
        return public
    return or_(public, and_(Post.user_id == user_id, Post.deleted_at.is_(None)))


def visible_posts_clause(user: Actor, sig: Sig) -> ColumnElement[bool]:
    """SQL filter on Post for a topic page in this SIG."""
    return posts_clause(posts_visibility(user, sig), user.id if user is not None else None)


def public_posts_clause() -> ColumnElement[bool]:
    """SQL filter on Post: what every reader of the SIG sees (search, feeds, counters)."""
    return and_(Post.status == POST_VISIBLE, Post.deleted_at.is_(None), Post.hidden_at.is_(None))


def viewable_posts_clause(user: Actor) -> ColumnElement[bool]:
    """SQL filter on Post joined with its Topic and the topic's Sig: the posts this member may
    view, across SIGs (can_view_post in SQL). In the SIGs they moderate, hidden, pending and
    deleted posts too; elsewhere what any reader sees, and their own posts not deleted."""
    if is_global_sysop(user):
        return true()
    ids = sorted(moderated_sig_ids(user) or set())
    shown = public_posts_clause()
    if user is not None:
        shown = or_(shown, and_(Post.user_id == user.id, Post.deleted_at.is_(None)))
    return and_(
        readable_sigs_clause(user),
        _topics_shown_clause(user, Topic, Sig),
        or_(Sig.id.in_(ids), shown),
    )


def get_post_for(user: Actor, post_id: int) -> Post:
    return get_post_topic_and_sig_for(user, post_id)[0]


class PostChecks:
    """What a member may do to the posts of one topic: edit, delete, flag. can_edit_post and
    can_delete_post ask it; can_flag is flag_problem's answer without its reasons (tests compare
    the two). What depends only on the member, the topic and the SIG is asked once: a topic page
    asks for each of its 25 posts, and asked per post, the member's role in the SIG was looked up
    80 times a page (issue 17, sixth session)."""

    def __init__(self, user: Actor, topic: Topic, sig: Sig) -> None:
        self.user, self.topic, self.sig = user, topic, sig

    @functools.cached_property
    def _is_sysop(self) -> bool:
        return is_sig_sysop(self.user, self.sig)

    @functools.cached_property
    def _edits_own(self) -> bool:
        return _edit_problem(self.user, self.topic, self.sig) is None

    @functools.cached_property
    def _deletes_own(self) -> bool:
        return standing_problem(self.user, self.sig) is None

    @functools.cached_property
    def _flags(self) -> bool:
        # flag_problem's checks that do not depend on the post.
        user = self.user
        if user is None or user.is_banned:
            return False
        return can_view_topic(user, self.topic, self.sig)

    def can_edit(self, post: PostFacts) -> bool:
        if self.user is None or post.is_deleted:
            return False
        return self._is_sysop or (post.user_id == self.user.id and self._edits_own)

    def can_delete(self, post: PostFacts) -> bool:
        if self.user is None or post.is_deleted:
            return False
        return self._is_sysop or (post.user_id == self.user.id and self._deletes_own)

    def can_flag(self, post: PostFacts) -> bool:
        # Then flag_problem's post by post: shown to every reader (so there for whoever views
        # the topic), and not the member's own.
        return self._flags and post.is_public and post.user_id != self.user.id  # type: ignore[union-attr]


def can_edit_post(user: Actor, post: PostFacts, topic: Topic, sig: Sig) -> bool:
    return PostChecks(user, topic, sig).can_edit(post)


def require_edit_post(user: Actor, post: PostFacts, topic: Topic, sig: Sig) -> None:
    if can_edit_post(user, post, topic, sig):
        return
    own = user is not None and post.user_id == user.id and not post.is_deleted
    raise Forbidden((own and _edit_problem(user, topic, sig)) or _l("You may not edit this post."))


def can_delete_post(user: Actor, post: PostFacts, topic: Topic, sig: Sig) -> bool:
    return PostChecks(user, topic, sig).can_delete(post)


def can_see_history(user: Actor, sig: Sig) -> bool:
    return is_sig_sysop(user, sig)


# --- reactions and bookmarks ----------------------------------------------------------------
def react_topic_problem(user: Actor, topic: Topic, sig: Sig) -> str | None:
    """Why this member may not react to posts of this topic at all, or None. A reaction is a
    small write: the standing rules of posting apply (banned, silenced, suspended, waiting for
    approval, a SIG's ban or suspension), and an archived SIG takes none."""
    if user is None:
        return _l("Log in to react to posts.")
    if topic.is_deleted:
        return _l("This topic was deleted.")
    if sig.is_archived:
        return _l("This SIG is archived: it can be read but not written to.")
    return standing_problem(user, sig) or sig_discipline_problem(user, sig)


def react_post_problem(user: User, post: Any) -> str | None:
    """Why this member may not react to this post, whatever the topic: it is not shown to
    every reader, or it is their own."""
    if not post.is_public:
        return _l("This post is not shown to members; there is nothing to react to.")
    if post.user_id == user.id:
        return _l("You cannot react to your own post.")
    return None


def react_problem(user: Actor, post: Any, topic: Topic, sig: Sig) -> str | None:
    """Why this member may not react to this post (nor take their reaction back), or None.
    The caller loaded the post through get_post_topic_and_sig_for: one they may read."""
    problem = react_topic_problem(user, topic, sig)
    if problem is not None or user is None:
        return problem
    return react_post_problem(user, post)


def can_react(user: Actor, post: Any, topic: Topic, sig: Sig) -> bool:
    return (
        user is not None
        and can_view_post(user, post, topic, sig)
        and react_problem(user, post, topic, sig) is None
    )


def require_react(user: Actor, post: Any, topic: Topic, sig: Sig) -> None:
    if not can_view_post(user, post, topic, sig):
        raise NotFound(NO_SUCH_POST)
    problem = react_problem(user, post, topic, sig)
    if problem:
        raise Forbidden(problem)


def can_bookmark(user: Actor, post: Any, topic: Topic, sig: Sig) -> bool:
    """Keep a post in one's bookmarks (a private list): any member who may read it, except a
    banned one."""
    return user is not None and not user.is_banned and can_view_post(user, post, topic, sig)


def require_bookmark(user: Actor, post: Any, topic: Topic, sig: Sig) -> None:
    if not can_view_post(user, post, topic, sig):
        raise NotFound(NO_SUCH_POST)
    if user is None:
        raise Forbidden(_l("Log in to bookmark posts."))
    if user.is_banned:
        raise Forbidden(_l("Your account is banned."))


def sigs_in_common(viewer: Actor, member: User) -> ColumnElement[bool]:
    """SQL filter on Membership (joined with its Sig) for a member card: the SIGs `member`
    belongs to that the viewer belongs to too (each one the viewer sees, by definition)."""
    if viewer is None or viewer.id == member.id:
        return false()
    ids = sorted(memberships(viewer))
    if not ids:
        return false()
    return and_(Membership.user_id == member.id, Membership.sig_id.in_(ids))


# --- moderation -----------------------------------------------------------------------------
def require_moderate_anything(user: Actor) -> None:
    """For /mod and /mod/log: SIG sysops and the global sysop. Guests should log in first."""
    if not can_moderate_anything(user):
        raise Forbidden(_l("Only sysops may see this page."))


def flag_problem(user: Actor, post: PostFacts, topic: Topic, sig: Sig) -> str | None:
    """Why this member may not flag this post, or None."""
    if user is None:
        return _l("Log in to flag a post.")
    if user.is_banned:
        return _l("Your account is banned.")
    if not can_view_post(user, post, topic, sig):
        return _l("No such post.")
    if not post.is_public:
        return _l("This post is not shown to members; there is nothing to flag.")
    if post.user_id == user.id:
        return _l("You cannot flag your own post; edit or delete it instead.")
    return None


def can_flag_post(user: Actor, post: PostFacts, topic: Topic, sig: Sig) -> bool:
    return flag_problem(user, post, topic, sig) is None


def require_flag_post(user: Actor, post: PostFacts, topic: Topic, sig: Sig) -> None:
    problem = flag_problem(user, post, topic, sig)
    if problem:
        raise Forbidden(problem)


def discipline_problem(user: Actor, target: User, sig: Sig | None = None) -> str | None:
    """Why `user` may not warn, silence, suspend or ban `target` (in `sig`, or site-wide)."""
    if user is None:
        return _l("Log in first.")
    if sig is None and not is_global_sysop(user):
        return _l("Only the sysop may act on a member site-wide.")
    if sig is not None and not is_sig_sysop(user, sig):
        return _l("Only this SIG's sysops may do that.")
    if target.id == user.id:
        return _l("You cannot discipline yourself.")
    if target.is_global_sysop:
        return _l("The sysop cannot be disciplined.")
    if sig is not None and not is_global_sysop(user):
        m = membership(target, sig)
        if m is not None and m.is_sysop:
            return _l("Only the sysop may discipline a SIG sysop.")
    return None


def require_discipline(user: Actor, target: User, sig: Sig | None = None) -> None:
    if sig is not None and not can_see_sig(user, sig):
        raise NotFound(NO_SUCH_SIG)
    problem = discipline_problem(user, target, sig)
    if problem:
        raise Forbidden(problem)


def can_see_member_notes(user: Actor) -> bool:
    """Private notes on members: every sysop keeps them, filed under a SIG, and reads those of
    the SIGs they moderate (moderated_clause); members never see them."""
    return can_moderate_anything(user)


def can_manage_filters(user: Actor, sig: Sig | None) -> bool:
    """Site-wide word filters belong to the global sysop; a SIG's filters to its sysops too."""
    return is_global_sysop(user) if sig is None else is_sig_sysop(user, sig)


# --- community pulse: the dashboard, answers, announcements ---------------------------------
def can_view_pulse(user: Actor, sig: Sig | None) -> bool:
    """The whole-site dashboard is the global sysop's; a SIG's belongs to its sysops too."""
    if sig is None:
        return is_global_sysop(user)
    return is_sig_sysop(user, sig)


def require_pulse(user: Actor, sig: Sig | None) -> None:
    """A dashboard is a 404 to everyone who may not see it (its existence is not advertised)."""
    if not can_view_pulse(user, sig):
        raise NotFound()


def can_set_support(user: Actor, sig: Sig) -> bool:
    return is_sig_sysop(user, sig)


def can_mark_answer(user: Actor, topic: Topic, sig: Sig, post: PostFacts | None = None) -> bool:
    """In a support SIG the topic's author or a sysop picks the answer: a public reply by
    someone other than the author (a topic answered only by its author is not answered)."""
    if user is None or not sig.is_support or topic.is_deleted:
        return False
    if standing_problem(user, sig) is not None:
        return False
    if not (is_sig_sysop(user, sig) or (topic.user_id is not None and topic.user_id == user.id)):
        return False
    if post is None:
        return True
    return (
        post.topic_id == topic.id
        and post.number > 1
        and post.is_public
        and (topic.user_id is None or post.user_id != topic.user_id)
    )


def can_announce(user: Actor, sig: Sig | None) -> bool:
    """The global sysop announces site-wide and anywhere; SIG sysops in their own SIGs."""
    if user is None or standing_problem(user) is not None:
        return False
    if sig is None:
        return is_global_sysop(user)
    return is_sig_sysop(user, sig) and not sig.is_archived


# --- webhooks ---------------------------------------------------------------------------
# A SIG's sysops register webhooks for their SIG, the global sysop for the whole site. What a
# webhook is sent is asked again here before every attempt: a site-wide webhook tells only of
# what a guest may read (public SIGs); a SIG's webhook tells of that SIG alone, and only while
# the member who registered it is still one of its sysops, so a private SIG's news goes only
# to addresses its own sysops chose. Posts are told of only as every reader of the SIG sees
# them (never hidden, pending or deleted ones, nor posts of a deleted topic).
NO_SUCH_WEBHOOK = _l("No such webhook.")


def can_manage_webhooks(user: Actor, sig: Sig | None) -> bool:
    """Register, change and read the log of webhooks: a SIG's sysops for their SIG, the global
    sysop for the whole site (sig None) and every SIG."""
    if user is None or user.is_banned:
        return False
    if sig is None:
        return is_global_sysop(user)
    return is_sig_sysop(user, sig)


def require_manage_webhooks(user: Actor, sig: Sig | None) -> None:
    if sig is not None and not can_see_sig(user, sig):
        raise NotFound(NO_SUCH_SIG)
    if not can_manage_webhooks(user, sig):
        if sig is None:
            raise Forbidden(_l("Only the sysop may do that."))
        raise Forbidden(_l("Only this SIG's sysops may do that."))


def webhooks_clause(column: InstrumentedAttribute[int | None], user: Actor) -> ColumnElement[bool]:
    """SQL filter on Webhook (`column` is its SIG): the webhooks this member manages (the
    site-wide ones, with no SIG, only for the global sysop)."""
    if user is None or user.is_banned:
        return false()
    return moderated_clause(column, user)


def can_deliver_webhook(owner: Actor, webhook_sig_id: int | None, sig: Sig) -> bool:
    """Whether a webhook (of `webhook_sig_id`, None: site-wide; registered by `owner`) may be
    told of something in `sig` at all."""
    if owner is None:
        return False
    if webhook_sig_id is None:
        return is_global_sysop(owner) and can_read_sig(None, sig)
    return webhook_sig_id == sig.id and can_manage_webhooks(owner, sig)


def webhook_may_carry_post(
    owner: Actor, webhook_sig_id: int | None, post: Post, topic: Topic, sig: Sig
) -> bool:
    """A post (its text, its topic's title) in a webhook's payload: as every reader of the SIG
    sees it."""
    return (
        can_deliver_webhook(owner, webhook_sig_id, sig) and post.is_public and not topic.is_deleted
    )


def webhook_may_carry_flag(owner: Actor, webhook_sig_id: int | None, sig: Sig) -> bool:
    """That a post was flagged (a moderation record): to webhooks of sysops who moderate the
    SIG, under the same rule as everything else a webhook is told."""
    return can_deliver_webhook(owner, webhook_sig_id, sig) and is_sig_sysop(owner, sig)


def webhook_may_carry_membership(owner: Actor, webhook_sig_id: int | None, sig: Sig) -> bool:
    """That a member joined the SIG (its member list): under the SIG's reading rule."""
    return can_deliver_webhook(owner, webhook_sig_id, sig)


def webhook_may_carry_concern(owner: Actor, webhook_sig_id: int | None, concern: Concern) -> bool:
    """That a member wrote to the sysops (its id and a link, never its words nor who wrote):
    to the webhook of the SIG it was written to, while its owner handles that SIG's concerns; a
    site-wide webhook hears of the concerns written to the site's sysops only."""
    if owner is None or webhook_sig_id != concern.sig_id:
        return False
    return can_handle_concerns(owner, concern.sig_id)


# --- spam cleanup ---------------------------------------------------------------------------
def spam_cleanup_problem(user: Actor, target: User, sig: Sig | None = None) -> str | None:
    """Why `user` may not remove `target` as a spammer: everywhere (sig None: the global sysop
    only) or from one SIG (its sysops: hide all their posts there, remove and ban them)."""
    if sig is None and not is_global_sysop(user):
        return _l("Only the sysop may delete a spammer site-wide.")
    return discipline_problem(user, target, sig)


def require_spam_cleanup(user: Actor, target: User, sig: Sig | None = None) -> None:
    if sig is not None and not can_see_sig(user, sig):
        raise NotFound(NO_SUCH_SIG)
    problem = spam_cleanup_problem(user, target, sig)
    if problem:
        raise Forbidden(problem)


def can_undo_spam_cleanup(user: Actor, sig_id: int | None) -> bool:
    """A site-wide cleanup is undone by the global sysop; a SIG's by its sysops too."""
    if sig_id is None:
        return is_global_sysop(user)
    return is_sig_sysop(user, sig_id)


# --- private mail ---------------------------------------------------------------------------
# A conversation is its participants' alone: nobody else reads it by any route (pages, search,
# notifications, sockets, feeds), the global sysop included. To everyone else it is the same
# 404 as a conversation that never existed. The sysop sees a message only when a participant
# reports it, and then only the excerpt the report carries (can_handle_message_reports).
NO_SUCH_CONVERSATION = _l("No such conversation.")


def conversation_membership(user: Actor, conversation_id: int) -> ConversationMember | None:
    """The member's active place in the conversation, or None (a guest, a stranger, left)."""
    if user is None or user.is_banned or not is_valid_id(conversation_id):
        return None
    row = db.session.get(ConversationMember, (conversation_id, user.id))
    return row if row is not None and row.left_at is None else None


def can_read_conversation(user: Actor, conversation_id: int) -> bool:
    return conversation_membership(user, conversation_id) is not None


def get_conversation_for(
    user: Actor, conversation_id: int
) -> tuple[Conversation, ConversationMember]:
    """The conversation and the reader's place in it; NotFound for everyone else, the same
    message as for an id that does not exist."""
    row = conversation_membership(user, conversation_id)
    conversation = db.session.get(Conversation, conversation_id) if row is not None else None
    # A concern's conversation (forum.care) opens on the care pages only, under their rules.
    if row is None or conversation is None or conversation.kind != KIND_PRIVATE:
        raise NotFound(NO_SUCH_CONVERSATION)
    return conversation, row


def can_read_message(user: Actor, message: PrivateMessage) -> bool:
    """A participant reads the messages after the point they were let in."""
    row = conversation_membership(user, message.conversation_id)
    if row is None or message.id <= row.visible_after_id:
        return False
    conversation = db.session.get(Conversation, message.conversation_id)
    return conversation is not None and conversation.kind == KIND_PRIVATE


def visible_messages_clause(row: ConversationMember) -> ColumnElement[bool]:
    """SQL filter on PrivateMessage: what this participant reads of their conversation."""
    return and_(
        PrivateMessage.conversation_id == row.conversation_id,
        PrivateMessage.id > row.visible_after_id,
    )


def my_conversations_clause(user: Actor) -> ColumnElement[bool]:
    """SQL filter on ConversationMember: the reader's own active places (mailbox, mail search)."""
    if user is None:
        return false()
    return and_(ConversationMember.user_id == user.id, ConversationMember.left_at.is_(None))


def ignores(user_id: int, other_id: int) -> bool:
    """Whether `user_id` ignores `other_id`."""
    return (
        db.session.get(MemberIgnore, (user_id, other_id)) is not None
        if user_id != other_id
        else False
    )


def ignored_user_ids(user: Actor) -> set[int]:
    """The members this reader ignores (their posts fold on topic pages): one query."""
    if user is None:
        return set()
    return set(
        db.session.scalars(select(MemberIgnore.ignored_id).where(MemberIgnore.user_id == user.id))
    )


def ignored_ids_select(user_id: Any) -> Any:
    """A subquery of the ids a member ignores (`.c.ignored_id`), to join into a page's query:
    given the member's id, or a bind parameter for it."""
    return (
        select(MemberIgnore.ignored_id).where(MemberIgnore.user_id == user_id).subquery("ignored")
    )


def who_ignores(author_id: int | None, user_ids: Iterable[int]) -> set[int]:
    """Those among `user_ids` who ignore `author_id` (no mention notifications from them)."""
    ids = sorted(set(user_ids))
    if author_id is None or not ids:
        return set()
    return set(
        db.session.scalars(
            select(MemberIgnore.user_id).where(
                MemberIgnore.ignored_id == author_id, MemberIgnore.user_id.in_(ids)
            )
        )
    )


def mail_trust_problem(user: User, now: datetime | None = None) -> str | None:
    """The new-account guard on private mail: a new account (trust level "new") writes none
    until it is basic; sysops of any SIG may. The configured minimum account age
    (MAIL_MIN_ACCOUNT_AGE_HOURS, 0: any) applies on top."""
    from flask import current_app

    if new_account_limits(user):
        return str(_l("New accounts cannot send private mail yet.")) + " " + unlock_hint(user)
    hours = float(current_app.config.get("MAIL_MIN_ACCOUNT_AGE_HOURS") or 0)
    if hours <= 0 or is_global_sysop(user):
        return None
    created = user.created_at
    if created is not None and (now or utcnow()) - created < timedelta(hours=hours):
        return _l(
            "New accounts may send private mail after %(hours)s hours; until then, write in "
            "the SIGs.",
            hours=f"{hours:g}",
        )
    return None


def mail_standing_problem(user: Actor) -> str | None:
    """Why this member may not write private mail at all, not even a reply, or None."""
    if user is None:
        return _l("Log in to send private mail.")
    return standing_problem(user)


def send_mail_problem(user: Actor) -> str | None:
    """Why this member may not start private mail (write to someone, add someone), or None."""
    problem = mail_standing_problem(user)
    if problem or user is None:
        return problem
    return mail_trust_problem(user)


def can_send_mail(user: Actor) -> bool:
    return send_mail_problem(user) is None


def reply_mail_problem(user: Actor, conversation: Conversation) -> str | None:
    """Why this member may not write in this conversation (a participant's; who of the others
    still takes mail from them is first_refusal's), or None. The new-account guards
    (mail_trust_problem: trust level and MAIL_MIN_ACCOUNT_AGE_HOURS) are against unasked-for
    first mail, so they hold back starting a conversation and adding members, not answering one
    that someone else started: a new account may reply there, as on Discourse."""
    if user is not None and conversation.created_by_id != user.id:
        return mail_standing_problem(user)
    return send_mail_problem(user)


def require_send_mail(user: Actor) -> None:
    problem = send_mail_problem(user)
    if problem:
        raise Forbidden(problem)


def accepts_mail_problem(sender: User, recipient: User) -> str | None:
    """Why `recipient` takes no private mail from `sender`, or None. The global sysop always
    gets through (a member's "sysops only" setting and ignoring do not stop them); the reason
    given is the same whichever rule refused, so nobody learns they are ignored."""
    return first_refusal(sender, [recipient])


def first_refusal(sender: User, recipients: Iterable[User]) -> str | None:
    """accepts_mail_problem for several recipients at once, in the order given: the first
    refusal, or None. One query at most (who of them ignores the sender)."""
    others = [r for r in recipients if r.id != sender.id]
    sysop = is_global_sysop(sender)
    ignoring = set() if sysop else who_ignores(sender.id, [r.id for r in others])
    for recipient in others:
        refused = recipient.is_banned or (
            not sysop
            and (
                (recipient.preferences or {}).get(PREF_MAIL_FROM) == MAIL_FROM_SYSOPS
                or recipient.id in ignoring
            )
        )
        if refused:
            return _l("%(name)s does not accept private mail.", name=recipient.username)
    return None


def manage_conversation_problem(user: Actor, participants: Iterable[User]) -> str | None:
    """Why this participant may not add members to their conversation (`participants`: who is
    in it now), or None; the page's "Add a member", the API and the service ask this alone.
    They must be able to start mail (a new account may reply in a conversation, not bring
    others in: send_mail_problem), and everyone in it must take mail from them, as for writing
    there ("ada added dan." is their word to all: first_refusal). Whoever is not in the
    conversation is answered by get_conversation_for first, and learns nothing here."""
    problem = send_mail_problem(user)
    if problem or user is None:
        return problem
    return first_refusal(user, participants)


def can_manage_conversation(user: Actor, participants: Iterable[User]) -> bool:
    return manage_conversation_problem(user, participants) is None


def require_manage_conversation(user: Actor, participants: Iterable[User]) -> None:
    problem = manage_conversation_problem(user, participants)
    if problem:
        raise Forbidden(problem)


def report_message_problem(user: Actor, message: PrivateMessage) -> str | None:
    """Why this member may not report this message, or None."""
    if user is None:
        return _l("Log in first.")
    if not can_read_message(user, message):
        return NO_SUCH_CONVERSATION
    if message.user_id == user.id:
        return _l("You cannot report your own message.")
    if message.kind != "text" or message.is_hidden:
        return _l("There is nothing to report in this message.")
    return None


def require_report_message(user: Actor, message: PrivateMessage) -> None:
    problem = report_message_problem(user, message)
    if problem is NO_SUCH_CONVERSATION:
        raise NotFound(NO_SUCH_CONVERSATION)
    if problem:
        raise Forbidden(problem)


def can_handle_message_reports(user: Actor) -> bool:
    """Reported private messages go to the global sysop alone (SIG sysops moderate SIGs; mail
    belongs to none)."""
    return is_global_sysop(user)


# --- personal access tokens (the JSON API) --------------------------------------------------
# A token carries scopes: a ceiling on what a program holding it may do as its member. The
# policy above still decides every action; a scope never grants what the member may not do.
SCOPE_READ = "read"  # every read (GET)
SCOPE_WRITE = "write"  # join and leave, topics, posts, flags, notifications, mail, concerns' words
SCOPE_MODERATE = "moderate"  # hide, lock, move, suspend in a SIG; a concern's handling
SCOPE_ADMIN = "admin"  # the global sysop's site-wide actions (a site-wide suspension)
TOKEN_SCOPES = (SCOPE_READ, SCOPE_WRITE, SCOPE_MODERATE, SCOPE_ADMIN)


def token_scopes_for(user: Actor) -> tuple[str, ...]:
    """The scopes this member may put on a token: read and write for every member, moderate
    for sysops (of any SIG), admin for the global sysop."""
    if user is None or user.is_banned:
        return ()
    scopes = [SCOPE_READ, SCOPE_WRITE]
    if can_moderate_anything(user):
        scopes.append(SCOPE_MODERATE)
    if is_global_sysop(user):
        scopes.append(SCOPE_ADMIN)
    return tuple(scopes)


def scope_problem(granted: frozenset[str] | None, needed: str) -> str | None:
    """Why a request whose credential holds `granted` scopes (None: a signed-in browser, which
    acts with every scope its member has) may not do what needs `needed`, or None."""
    if granted is None or needed in granted:
        return None
    return str(_l("This token does not have the %(scope)s scope.", scope=needed))


def require_scope(granted: frozenset[str] | None, needed: str) -> None:
    problem = scope_problem(granted, needed)
    if problem:
        raise Forbidden(problem)


# --- files: uploads, their addresses, SIG libraries, pictures -------------------------------
# A file has no permission of its own: it is readable where the post, the library file or the
# member's picture that uses it is. The same bytes used by a public post and a private one
# are readable through the public one (they are the same bytes); a file only a hidden post, a
# private SIG's post or a pending library file uses is the same 404 as a file never uploaded.
NO_SUCH_FILE = _l("No such file.")


def upload_trust_problem(user: User, now: datetime | None = None) -> str | None:
    """The account-age guard on every upload: an account must be UPLOAD_MIN_ACCOUNT_AGE_HOURS
    old (0: any age). The trust levels' limit on new accounts' images is
    max_images_per_post, which forum.files asks of an image upload and forum.topics of a
    post (new_account_content_problem)."""
    from flask import current_app

    hours = float(current_app.config.get("UPLOAD_MIN_ACCOUNT_AGE_HOURS") or 0)
    if hours <= 0 or is_global_sysop(user):
        return None
    created = user.created_at
    if created is not None and (now or utcnow()) - created < timedelta(hours=hours):
        return _l(
            "New accounts may upload files after %(hours)s hours; until then, link to them.",
            hours=f"{hours:g}",
        )
    return None


def upload_problem(user: Actor, sig: Sig | None = None) -> str | None:
    """Why this member may not upload a file for a post (in this SIG), or None."""
    if user is None:
        return _l("Log in to upload files.")
    problem = post_problem(user, sig) if sig is not None else standing_problem(user)
    return problem or upload_trust_problem(user)


def require_upload(user: Actor, sig: Sig | None = None) -> None:
    problem = upload_problem(user, sig)
    if problem:
        raise Forbidden(problem)


def can_read_file(user: Actor, sha256: str) -> bool:
    """Whether the reader may fetch these bytes: their own upload no post claimed yet (the
    composer's preview), a post they may view that uses them, a library file they may see, or
    a member's picture. Three small queries at most, each stopping at the first row."""
    if user is not None and db.session.scalar(
        select(Upload.id)
        .where(Upload.sha256 == sha256, Upload.user_id == user.id, Upload.post_id.is_(None))
        .limit(1)
    ):
        return True
    in_post = db.session.scalar(
        select(Upload.id)
        .join(Post, Post.id == Upload.post_id)
        .join(Topic, Topic.id == Post.topic_id)
        .join(Sig, Sig.id == Topic.sig_id)
        .where(Upload.sha256 == sha256, viewable_posts_clause(user))
        .limit(1)
    )
    if in_post:
        return True
    in_library = db.session.scalar(
        select(LibraryVersion.id)
        .join(LibraryFile, LibraryFile.id == LibraryVersion.file_id)
        .join(Sig, Sig.id == LibraryFile.sig_id)
        .where(
            LibraryVersion.sha256 == sha256,
            readable_sigs_clause(user),
            library_files_clause(user),
        )
        .limit(1)
    )
    return in_library is not None


def can_read_avatar(sha256: str) -> bool:
    """A member's picture is shown beside their name wherever it appears: anyone may fetch one
    that is some member's picture now."""
    found = db.session.scalar(select(Avatar.user_id).where(Avatar.sha256 == sha256).limit(1))
    return found is not None


def change_avatar_problem(user: Actor) -> str | None:
    if user is None:
        return _l("Log in first.")
    return standing_problem(user) or upload_trust_problem(user)


def require_change_avatar(user: Actor) -> None:
    problem = change_avatar_problem(user)
    if problem:
        raise Forbidden(problem)


def can_reset_avatar(user: Actor, target: User) -> bool:
    """Take a member's picture down (back to their letter): the global sysop, any member's."""
    if user is None:
        return False
    return user.id == target.id or is_global_sysop(user)


def require_reset_avatar(user: Actor, target: User) -> None:
    if not can_reset_avatar(user, target):
        raise Forbidden(_l("Only the sysop may do that."))


def is_librarian(user: Actor, sig: Sig | int) -> bool:
    """Appointed a librarian of this SIG by its sysops (one query per member per request)."""
    if user is None or user.is_banned:
        return False
    sig_id = sig if isinstance(sig, int) else sig.id
    held: set[int] | None = user.__dict__.get(_LIBRARIANS)
    if held is None:
        held = set(db.session.scalars(select(Librarian.sig_id).where(Librarian.user_id == user.id)))
        user.__dict__[_LIBRARIANS] = held
    return sig_id in held and is_member(user, sig_id)


def forget_librarians(user: Actor) -> None:
    if user is not None:
        user.__dict__.pop(_LIBRARIANS, None)


def can_curate_library(user: Actor, sig: Sig) -> bool:
    """Approve uploads, edit entries, move them between sections, retire them: the SIG's
    librarians and sysops, while nothing bars them from writing there."""
    if user is None or not (is_sig_sysop(user, sig) or is_librarian(user, sig)):
        return False
    return standing_problem(user, sig) is None and not sig.is_archived


def require_curate_library(user: Actor, sig: Sig) -> None:
    require_read_sig(user, sig)
    if not can_curate_library(user, sig):
        raise Forbidden(_l("Only this SIG's librarians and sysops may do that."))


def can_manage_library(user: Actor, sig: Sig) -> bool:
    """Define the library's sections and appoint its librarians: the SIG's sysops."""
    return is_sig_sysop(user, sig) and standing_problem(user, sig) is None


def require_manage_library(user: Actor, sig: Sig) -> None:
    require_sig_sysop(user, sig)
    if not can_manage_library(user, sig):
        raise Forbidden(_l("Only this SIG's sysops may do that."))


def library_upload_problem(user: Actor, sig: Sig) -> str | None:
    """Why this member may not upload into the SIG's library: its members upload (a library
    joins nobody), under the write rules and the new-account guard."""
    if user is None:
        return _l("Log in to upload files.")
    return write_problem(user, sig) or upload_trust_problem(user)


def require_library_upload(user: Actor, sig: Sig) -> None:
    require_read_sig(user, sig)
    problem = library_upload_problem(user, sig)
    if problem:
        raise Forbidden(problem)


def library_upload_trusted(user: Actor, sig: Sig) -> bool:
    """An upload into the library goes in at once, without waiting for a librarian: the
    librarians' and sysops' own. (The hook for trust levels: "trusted members' uploads go in
    at once" is one more condition here.)"""
    return can_curate_library(user, sig)


def library_files_clause(user: Actor) -> ColumnElement[bool]:
    """SQL filter on LibraryFile (in SIGs the reader may read): the approved files, and in the
    SIGs they curate every file; their own uploads while they wait."""
    shown: ColumnElement[bool] = LibraryFile.status == APPROVED
    if is_global_sysop(user):
        return true()
    if user is None:
        return shown
    curated = sorted(
        sig_id
        for sig_id in memberships(user)
        if is_sig_sysop(user, sig_id) or is_librarian(user, sig_id)
    )
    return or_(
        shown,
        LibraryFile.uploader_id == user.id,
        LibraryFile.sig_id.in_(curated),
    )


def can_view_library_file(user: Actor, entry: LibraryFile, sig: Sig) -> bool:
    if not can_read_sig(user, sig):
        return False
    if entry.status == APPROVED or is_sig_sysop(user, sig) or is_librarian(user, sig):
        return True
    return user is not None and entry.uploader_id == user.id


def get_library_file_for(user: Actor, file_id: int) -> tuple[LibraryFile, Sig]:
    """A library file and its SIG; NotFound when it does not exist or the reader may not know
    it does (a private SIG, a file waiting for a librarian, a members-only SIG to outsiders)."""
    entry = db.session.get(LibraryFile, file_id) if is_valid_id(file_id) else None
    sig = db.session.get(Sig, entry.sig_id) if entry is not None else None
    if entry is None or sig is None or not can_view_library_file(user, entry, sig):
        raise NotFound(NO_SUCH_FILE)
    return entry, sig


# --- member care: concerns, sysops on duty, pages --------------------------------------------
# A concern is between its member and the sysops it was written to: the sysops of its SIG (the
# global sysop among them, as everywhere) or, with no SIG, the site's sysops (the global sysop).
# A SIG with no sysop of its own has its concerns sent to the site's sysops (who_handles_concerns).
# Nobody else reads it by any route, and to them it is the same 404 as one that does not exist.
# A sysop is asked about at every request and every live nudge, never remembered: a sysop
# removed from a SIG reads none of its concerns from that moment, and hears of none.
NO_SUCH_CONCERN = _l("No such concern.")


def can_handle_concerns(user: Actor, sig_id: int | None) -> bool:
    """Read and answer the concerns written to this SIG's sysops (None: the site's)."""
    if sig_id is None:
        return is_global_sysop(user)
    return is_sig_sysop(user, sig_id)


def concerns_clause(user: Actor, column: Any = Concern.sig_id) -> ColumnElement[bool]:
    """SQL filter on Concern: the concerns this sysop handles (their SIGs' inboxes; the global
    sysop: every SIG's and the site's). Members' own concerns are not in it."""
    ids = moderated_sig_ids(user)
    if ids is None:
        return true()
    if not ids:
        return false()
    return column.in_(sorted(ids))  # type: ignore[no-any-return]


def can_handle_any_concerns(user: Actor) -> bool:
    return can_moderate_anything(user)


def is_concern_member(user: Actor, concern: Concern) -> bool:
    """The member who wrote it (a banned member reads it only through the appeal form)."""
    return user is not None and concern.member_id == user.id


def can_read_concern(user: Actor, concern: Concern) -> bool:
    if user is None:
        return False
    if is_concern_member(user, concern):
        return not user.is_banned or concern.sig_id is None
    return can_handle_concerns(user, concern.sig_id)


def get_concern_for(user: Actor, concern_id: int) -> Concern:
    """The concern, for its member and its sysops; NotFound for everyone else, the same message
    as for an id that does not exist."""
    concern = db.session.get(Concern, concern_id) if is_valid_id(concern_id) else None
    if concern is None or not can_read_concern(user, concern):
        raise NotFound(NO_SUCH_CONCERN)
    return concern


def _site_sysop_ids() -> list[int]:
    query = select(User.id).where(User.role == "sysop", User.banned_at.is_(None))
    return sorted(set(db.session.scalars(query)))


def sig_sysop_ids(sig_id: int) -> list[int]:
    """The SIG's own sysops (its members with the sysop role), banned ones left out."""
    query = (
        select(User.id)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.sig_id == sig_id, Membership.role == "sysop", User.banned_at.is_(None))
    )
    return sorted(set(db.session.scalars(query)))


def who_handles_concerns(sig_id: int | None) -> list[int]:
    """The ids of the sysops this SIG's concerns go to (None: the site's), banned ones left
    out: the SIG's own sysops, or the site's sysops when it has none (a concern to a SIG nobody
    runs would otherwise reach nobody). Asked again at every notification and nudge."""
    if sig_id is not None:
        own = sig_sysop_ids(sig_id)
        if own:
            return own
    return _site_sysop_ids()


def concern_assignees(sig_id: int | None) -> list[int]:
    """Whom a concern of this SIG may be given to: those it goes to, and the site's sysops
    always (they handle every SIG's concerns, and take a case when its SIG's sysops cannot)."""
    if sig_id is None:
        return _site_sysop_ids()
    own = select(Membership.user_id).where(Membership.sig_id == sig_id, Membership.role == "sysop")
    query = select(User.id).where(
        User.banned_at.is_(None), or_(User.role == "sysop", User.id.in_(own))
    )  # one query: the page that lists them counts its queries
    return sorted(set(db.session.scalars(query)))


def concerns_go_to_site(sig_id: int | None) -> bool:
    """Whether this SIG's concerns go to the site's sysops (it has no sysop of its own)."""
    return sig_id is None or not sig_sysop_ids(sig_id)


def write_to_sysops_problem(user: Actor, sig: Sig | None) -> str | None:
    """Why this member may not write to the sysops of this SIG (None: the site's), or None.
    Members write to the sysops whatever their standing (a silenced or suspended member needs
    them most); a member banned site-wide writes only to the site's sysops, and only while no
    other appeal of theirs is open."""
    if user is None:
        return _l("Log in to write to the sysops.")
    if user.is_banned:
        if sig is not None:
            return _l("Your account is banned: you may write to the site's sysops only.")
        if open_appeal_of(user) is not None:
            return _l("Your appeal to the site's sysops is open already; write in it instead.")
        return None
    if sig is not None and not can_see_sig(user, sig):
        return NO_SUCH_SIG
    if can_handle_concerns(user, sig.id if sig is not None else None):
        return (
            _l("You are one of this SIG's sysops.")
            if sig is not None
            else _l("You are one of the site's sysops.")
        )
    return None


def sysops_to_ask(user: Actor, sig: Sig | None = None) -> str | None:
    """Whom a member whose standing bars them from writing (in this SIG) writes to about it,
    to ask or to appeal: "site" (the site's sysops) for what stands site-wide (a suspension, a
    silence, an account not approved, a blocked address), "sig" (this SIG's sysops) for a
    suspension or ban in the SIG; None when their standing bars nothing, or when they may not
    write to those sysops (being one of them). Suspended and silenced members may write to the
    sysops (write_to_sysops_problem)."""
    if user is None:
        return None
    if standing_problem(user) is not None:
        return "site" if write_to_sysops_problem(user, None) is None else None
    if sig is not None and sig_discipline_problem(user, sig) is not None:
        return "sig" if write_to_sysops_problem(user, sig) is None else None
    return None


def open_appeal_of(user: User) -> Concern | None:
    """The member's newest ban appeal to the site's sysops that is not resolved (an appeal goes
    into it, never into a concern about something else)."""
    found: Concern | None = db.session.scalar(
        select(Concern)
        .where(
            Concern.member_id == user.id,
            Concern.sig_id.is_(None),
            Concern.is_appeal.is_(True),
            Concern.state != RESOLVED,
        )
        .order_by(Concern.id.desc())
        .limit(1)
    )
    return found


def require_write_to_sysops(user: Actor, sig: Sig | None) -> None:
    problem = write_to_sysops_problem(user, sig)
    if problem is NO_SUCH_SIG:
        raise NotFound(NO_SUCH_SIG)
    if problem:
        raise Forbidden(problem)


def concern_reply_problem(user: Actor, concern: Concern) -> str | None:
    """Why this reader may not write in the concern: its member (a banned one only in a concern
    to the site's sysops) and its sysops write; the rest do not read it at all."""
    if not can_read_concern(user, concern):
        return NO_SUCH_CONCERN
    return None


def can_act_on_concern(user: Actor, concern: Concern) -> bool:
    """Assign, resolve, set waiting, write notes: the concern's sysops."""
    return can_handle_concerns(user, concern.sig_id)


def require_act_on_concern(user: Actor, concern: Concern) -> None:
    if not can_read_concern(user, concern):
        raise NotFound(NO_SUCH_CONCERN)
    if not can_act_on_concern(user, concern):
        raise Forbidden(_l("Only the sysops this concern was written to may do that."))


def can_rate_concern(user: Actor, concern: Concern) -> bool:
    """ "Did this help?": its member, once, after it was resolved."""
    return (
        is_concern_member(user, concern)
        and can_read_concern(user, concern)
        and concern.resolved_at is not None
        and concern.helped is None
    )


def can_go_on_duty(user: Actor, sig: Sig) -> bool:
    """Mark oneself on duty in a SIG (and be paged there): its sysops."""
    return can_handle_concerns(user, sig.id) and not sig.is_archived


def page_problem(user: Actor, sig: Sig) -> str | None:
    """Why this member may not page this SIG's sysops on duty, or None (the service also asks
    whether one is on duty, and the member's pages in the last hour)."""
    if user is None:
        return _l("Log in to page a sysop.")
    if user.is_banned:
        return _l("Your account is banned.")
    if not can_see_sig(user, sig):
        return NO_SUCH_SIG
    if can_handle_concerns(user, sig.id):
        return _l("You are one of this SIG's sysops.")
    return None


def require_page(user: Actor, sig: Sig) -> None:
    problem = page_problem(user, sig)
    if problem is NO_SUCH_SIG:
        raise NotFound(NO_SUCH_SIG)
    if problem:
        raise Forbidden(problem)


NO_SUCH_PAGE = _l("No such page.")


def can_see_page(user: Actor, page: SysopPage) -> bool:
    """A page: the member who sent it, and the SIG's sysops (who may take it)."""
    if user is None:
        return False
    return page.member_id == user.id or can_handle_concerns(user, page.sig_id)


def get_page_for(user: Actor, page_id: int) -> SysopPage:
    page = db.session.get(SysopPage, page_id) if is_valid_id(page_id) else None
    if page is None or not can_see_page(user, page):
        raise NotFound(NO_SUCH_PAGE)
    return page


def can_take_page(user: Actor, page: SysopPage) -> bool:
    return can_handle_concerns(user, page.sig_id)


def can_welcome(user: Actor, sig: Sig) -> bool:
    """Mark a member's first post in the SIG as welcomed (the pulse's welcome queue)."""
    return is_sig_sysop(user, sig)
