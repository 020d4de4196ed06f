"""Moderation records: the log, flags and their review, member notes and warnings, word filters."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..i18n import localtime, ngettext, number, pgettext
from ..timeutil import UTCDateTime, utcnow

FLAG_REASONS = {
    "spam": _l("Spam"),
    "abuse": _l("Abusive or harassing"),
    "off_topic": _l("Off-topic"),
    "other": _l("Something else"),
}

# How a flagged post was handled; each flagger is told.
OUTCOMES = {
    "dismissed": _l("dismissed: no action was needed"),
    "hidden": _l("the post was hidden"),
    "deleted": _l("the post was deleted"),
    "warned": _l("the author was warned"),
    "suspended": _l("the author was suspended"),
    "silenced": _l("the author was silenced site-wide"),
    "banned": _l("the author was banned"),
    "spam": _l("the author's posts were removed as spam"),
}

# How a reported private message was handled (the global sysop's; forum.moderation.flags).
MESSAGE_OUTCOMES = {
    "dismissed": _l("dismissed: no action was needed"),
    "hidden": _l("the message was hidden from the conversation"),
    "warned": _l("the author was warned"),
}

FILTER_BLOCK = "block"  # the post is refused with a message
FILTER_QUEUE = "queue"  # the post waits for a sysop's approval
FILTER_ACTIONS = (FILTER_BLOCK, FILTER_QUEUE)


class ModAction(db.Model):  # type: ignore[name-defined,misc]
    """One entry of the moderation log. Written by the services; never edited from the web."""

    __tablename__ = "mod_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(32))
    sig_id: Mapped[int | None] = mapped_column(ForeignKey("sigs.id", ondelete="SET NULL"))
    # A verb that takes posts from one SIG to another is logged in both: each entry names the
    # other SIG here, and its details (which name both) are read only by who moderates both.
    other_sig_id: Mapped[int | None] = mapped_column(
        ForeignKey("sigs.id", ondelete="SET NULL"), index=True
    )
    target_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    topic_id: Mapped[int | None] = mapped_column(
        ForeignKey("topics.id", ondelete="SET NULL"), index=True
    )
    post_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL"), index=True
    )
    reason: Mapped[str] = mapped_column(String(500), default="")
    details: Mapped[str] = mapped_column(String(500), default="")
    # The details as data (counts, names, identifiers), said in the reader's language when the
    # log is shown (details_label); None in rows written before it, which show `details`.
    params: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_mod_actions_created_at", "created_at"),
        Index("ix_mod_actions_sig_created", "sig_id", "created_at"),
        Index("ix_mod_actions_action_created", "action", "created_at"),
    )


class Flag(db.Model):  # type: ignore[name-defined,misc]
    """A member's report that a post needs a sysop's look."""

    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    outcome: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        Index("ix_flags_open", "resolved_at", "post_id"),
        Index("ix_flags_created_at", "created_at"),  # flags raised per day (pulse)
    )

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class PostReview(db.Model):  # type: ignore[name-defined,misc]
    """Who is handling a flagged post right now (a claim others can see)."""

    __tablename__ = "post_reviews"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    claimed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReviewNote(db.Model):  # type: ignore[name-defined,misc]
    """A sysop's note on a flagged or pending post, for the other sysops."""

    __tablename__ = "review_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MemberNote(db.Model):  # type: ignore[name-defined,misc]
    """A sysop's private note about a member; never shown to the member."""

    __tablename__ = "member_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    sig_id: Mapped[int | None] = mapped_column(
        ForeignKey("sigs.id", ondelete="SET NULL"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_member_notes_user_created", "user_id", "created_at"),)


class MemberWarning(db.Model):  # type: ignore[name-defined,misc]
    """A warning a sysop gave a member: the member sees it until acknowledged (and after)."""

    __tablename__ = "member_warnings"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    sig_id: Mapped[int | None] = mapped_column(
        ForeignKey("sigs.id", ondelete="SET NULL"), index=True
    )
    post_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL"), index=True
    )
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_member_warnings_user_created", "user_id", "created_at"),)


class WordFilter(db.Model):  # type: ignore[name-defined,misc]
    """A word or phrase that blocks a post or sends it to the approval queue.

    Matching is literal (case-insensitive), optionally on whole words only: never a
    member-supplied regular expression, so neither a pattern nor a post can make it slow.
    A filter with a SIG applies there only (its SIG sysops manage it); without one, everywhere.
    """

    __tablename__ = "word_filters"

    id: Mapped[int] = mapped_column(primary_key=True)
    sig_id: Mapped[int | None] = mapped_column(
        ForeignKey("sigs.id", ondelete="CASCADE"), index=True
    )
    word: Mapped[str] = mapped_column(String(100))
    whole_word: Mapped[bool] = mapped_column(Boolean, default=True)
    action: Mapped[str] = mapped_column(String(16), default=FILTER_BLOCK)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("sig_id", "word", name="uq_word_filters_sig_word"),)


class SpamCleanup(db.Model):  # type: ignore[name-defined,misc]
    """What one "delete spammer" (site-wide, sig_id None) or "remove from SIG and hide all
    their posts here" did, so that undoing it restores exactly that: the posts it hid and the
    topics it deleted (not ones hidden before for other reasons), and the ban it laid."""

    __tablename__ = "spam_cleanups"

    id: Mapped[int] = mapped_column(primary_key=True)
    mod_action_id: Mapped[int | None] = mapped_column(
        ForeignKey("mod_actions.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sig_id: Mapped[int | None] = mapped_column(
        ForeignKey("sigs.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    post_ids: Mapped[list] = mapped_column(JSON, default=list)
    topic_ids: Mapped[list] = mapped_column(JSON, default=list)
    # The ban it laid (None: the member was banned already): site-wide, or this SIG discipline.
    banned_site: Mapped[bool] = mapped_column(Boolean, default=False)
    sig_discipline_id: Mapped[int | None] = mapped_column(
        ForeignKey("sig_disciplines.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SigModeration(db.Model):  # type: ignore[name-defined,misc]
    """Per-SIG overrides of the site's moderation settings."""

    __tablename__ = "sig_moderation"

    sig_id: Mapped[int] = mapped_column(ForeignKey("sigs.id", ondelete="CASCADE"), primary_key=True)
    # None: use the site setting; 0: no approval queue here.
    approval_threshold: Mapped[int | None] = mapped_column()


# How the moderation log names each action (ModAction.action), in the reader's language: every
# action the forum logs has its name here, and the log's filter offers them all
# (moderation.queries.ACTIONS).
ACTION_LABELS = {
    "add_member_note": _l("add member note"),
    "add_word_filter": _l("add word filter"),
    "approve_post": _l("approve post"),
    "auto_hide_post": _l("auto hide post"),
    "ban_member": _l("ban member"),
    "ban_from_sig": _l("ban from SIG"),
    "delete_spammer": _l("delete spammer"),
    "remove_spammer": _l("remove spammer from SIG"),
    "undo_spam_cleanup": _l("undo spam cleanup"),
    "change_setting": _l("change setting"),
    "claim_flag": _l("claim flag"),
    "delete_post": _l("delete post"),
    "delete_topic": _l("delete topic"),
    "hide_post": _l("hide post"),
    "lift_ban": _l("lift ban"),
    "lift_sig_ban": _l("lift SIG ban"),
    "lift_silence": _l("lift silence"),
    "lift_suspension": _l("lift suspension"),
    "lock_topic": _l("lock topic"),
    "merge_topics": _l("merge topics"),
    "move_topic": _l("move topic"),
    "pin_topic": _l("pin topic"),
    "reject_post": _l("reject post"),
    "remove_from_sig": _l("remove from SIG"),
    "remove_word_filter": _l("remove word filter"),
    "resolve_flags": _l("resolve flags"),
    "resolve_message_report": _l("resolve private message report"),
    "restore_topic": _l("restore topic"),
    "set_approval_threshold": _l("set approval threshold"),
    "silence_member": _l("silence member"),
    "split_topic": _l("split topic"),
    "suspend_member": _l("suspend member"),
    "unclaim_flag": _l("unclaim flag"),
    "unhide_post": _l("unhide post"),
    "unlock_topic": _l("unlock topic"),
    "unpin_topic": _l("unpin topic"),
    "warn_member": _l("warn member"),
    "create_sig": _l("create SIG"),
    "update_sig": _l("update SIG"),
    "archive_sig": _l("archive SIG"),
    "unarchive_sig": _l("unarchive SIG"),
    "appoint_sig_sysop": _l("appoint SIG sysop"),
    "dismiss_sig_sysop": _l("dismiss SIG sysop"),
    "set_role": _l("set role"),
    "approve_account": _l("approve account"),
    "refuse_account": _l("refuse account"),
    "set_trust_level": _l("set trust level"),
    "review_trust_level": _l("trust level earned or lost"),
    "create_invite": _l("create invite"),
    "create_sig_invite": _l("make SIG invite link"),
    "revoke_sig_invite": _l("revoke SIG invite link"),
}


def action_label(action: str) -> str:
    """The log's name for an action; one it does not know reads as its identifier."""
    return str(ACTION_LABELS.get(action) or action.replace("_", " "))


# The log's details in the fixed shapes the verbs write them (in English, in old rows and new).
_UNTIL = re.compile(r"until (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC")
_RESOLVED = re.compile(r"(\d+) (flag|report)\(s\): (\w+)")


def details_label(details: str, action: str = "", params: dict | None = None) -> str:
    """An entry's details in the reader's words. An entry with params (written since they were
    kept) is said from them (params_label); an older one where the verb wrote a fixed shape:
    "until 2026-12-10 05:24 UTC" is the moment in the reader's zone and language ("bis zum
    10.12.2026, 06:24 Uhr"), "2 flag(s): hidden" the count and the outcome ("2 Meldungen: der
    Beitrag wurde ausgeblendet"). Other old rows read as stored, in English."""
    if params:
        said = params_label(action, params)
        if said is not None:
            return said
    if found := _UNTIL.fullmatch(details):
        return _until(datetime.strptime(found[1], "%Y-%m-%d %H:%M").replace(tzinfo=UTC))
    if found := _RESOLVED.fullmatch(details):
        return _resolved(found[2], int(found[1]), found[3])
    return details


def _until(moment: datetime) -> str:
    """ "until" a moment, in the reader's zone and language."""
    return str(_l("until %(when)s", when=localtime(moment)))


def _resolved(kind: str, num: int, outcome: str) -> str:
    """How many flags (kind "flag") or private-message reports ("report") were handled, and
    how (an outcome the maps do not know reads as its identifier)."""
    said = (OUTCOMES if kind == "flag" else MESSAGE_OUTCOMES).get(outcome, outcome)
    if kind == "flag":
        return ngettext(
            "%(num)s flag: %(outcome)s", "%(num)s flags: %(outcome)s", num, outcome=said
        )
    return ngettext(
        "%(num)s report: %(outcome)s", "%(num)s reports: %(outcome)s", num, outcome=said
    )


def _moment(value: object) -> datetime | None:
    """A moment kept in params (ISO 8601, in UTC), or None when it is not one."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# The discipline verbs (moderation.discipline): their params carry the end of a suspension, a
# silence or a SIG ban ("until"); a warning, a site-wide ban and a lifting have no details.
DISCIPLINE_ACTIONS = frozenset(
    {
        "warn_member",
        "silence_member",
        "suspend_member",
        "ban_member",
        "ban_from_sig",
        "remove_from_sig",
        "lift_silence",
        "lift_suspension",
        "lift_ban",
        "lift_sig_ban",
    }
)


# A member's role and a SIG's visibility, as the log names them.
ROLE_NAMES = {"member": _l("member"), "sysop": _l("global sysop")}
VISIBILITY_NAMES = {
    "public": _l("public"),
    "members": _l("members only"),
    "private": _l("private"),
}

# What a filter does and where it matches, as the word filter's page says it.
FILTER_HOW = {FILTER_BLOCK: _l("refused"), FILTER_QUEUE: _l("held for approval")}


def _num(value: object) -> int:
    return value if isinstance(value, int) else 0


def params_label(action: str, params: dict) -> str | None:
    """The details of an entry of this action, from its params, in the reader's language
    (None: no shape for them, and the stored text is shown)."""
    from ..permissions import TRUST_LEVEL_NAMES
    from ..settings import SETTINGS

    p = params
    if action in DISCIPLINE_ACTIONS:
        until = _moment(p.get("until")) if p.get("until") else None
        return _until(until) if until is not None else None
    if action in ("resolve_flags", "resolve_message_report"):
        kind = "flag" if action == "resolve_flags" else "report"
        return _resolved(kind, _num(p.get("count")), str(p.get("outcome", "")))
    if action == "auto_hide_post":
        # Members' flags hid the post: how many, and what they weighed (forum.permissions.
        # flag_weight; none in entries from before the weights, migration 0038).
        weight = p.get("weight")
        if not isinstance(weight, int | float):
            return ngettext("%(num)s flag", "%(num)s flags", _num(p.get("flags")))
        return ngettext(
            "%(num)s flag weighing %(weight)s",
            "%(num)s flags weighing %(weight)s",
            _num(p.get("flags")),
            weight=number(weight),
        )
    if action == "move_topic":
        return str(_l("from %(old)s to %(new)s", old=p.get("from", ""), new=p.get("to", "")))
    if action == "merge_topics":
        return str(
            _l(
                "“%(source)s” into “%(target)s”",
                source=p.get("source", ""),
                target=p.get("target", ""),
            )
        )
    if action == "split_topic":
        return ngettext(
            "%(num)s post from “%(source)s” into “%(target)s”",
            "%(num)s posts from “%(source)s” into “%(target)s”",
            int(p.get("posts") or 0),
            source=p.get("source", ""),
            target=p.get("target", ""),
        )
    if action in ("delete_spammer", "remove_spammer"):
        posts = ngettext("%(num)s post", "%(num)s posts", _num(p.get("posts")))
        topics = ngettext("%(num)s topic", "%(num)s topics", _num(p.get("topics")))
        if not _num(p.get("flags")):  # "0 flags resolved" said nothing
            return str(_l("%(posts)s and %(topics)s hidden", posts=posts, topics=topics))
        return str(
            _l(
                "%(posts)s and %(topics)s hidden; %(resolved)s",
                posts=posts,
                topics=topics,
                resolved=ngettext(
                    "%(num)s flag resolved", "%(num)s flags resolved", _num(p.get("flags"))
                ),
            )
        )
    if action == "undo_spam_cleanup":
        return str(
            _l(
                "%(posts)s and %(topics)s restored",
                posts=ngettext("%(num)s post", "%(num)s posts", _num(p.get("posts"))),
                topics=ngettext("%(num)s topic", "%(num)s topics", _num(p.get("topics"))),
            )
        )
    if action == "add_word_filter":
        how = FILTER_HOW.get(str(p.get("action")), p.get("action", ""))
        where = _l("whole words") if p.get("whole_word") else _l("anywhere")
        return str(
            _l("%(word)s (%(how)s, %(where)s)", word=p.get("word", ""), how=how, where=where)
        )
    if action == "set_approval_threshold":
        threshold = p.get("threshold")
        return str(_l("site default")) if threshold is None else str(threshold)
    if action in ("set_trust_level", "review_trust_level"):
        old, new = (TRUST_LEVEL_NAMES.get(_num(p.get(k)), p.get(k, "")) for k in ("from", "to"))
        if p.get("locked"):
            return str(_l("%(old)s → %(new)s (locked)", old=old, new=new))
        return str(_l("%(old)s → %(new)s", old=old, new=new))
    if action == "set_role":
        return str(ROLE_NAMES.get(str(p.get("role")), p.get("role", "")))
    if action == "update_sig":
        visibility = VISIBILITY_NAMES.get(str(p.get("visibility")), p.get("visibility", ""))
        return str(_l("%(name)s (%(visibility)s)", name=p.get("name", ""), visibility=visibility))
    if action in ("create_sig_invite", "revoke_sig_invite"):
        parts = [f"{p.get('prefix', '')}…"]
        when = _moment(p.get("until")) if p.get("until") else None
        if when is not None:
            parts.append(_until(when))
        uses = _num(p.get("uses"))
        if p.get("max_uses") is not None:
            parts.append(
                ngettext(
                    "%(uses)s of %(num)s use",
                    "%(uses)s of %(num)s uses",
                    _num(p.get("max_uses")),
                    uses=uses,
                )
            )
        else:
            parts.append(ngettext("%(num)s use", "%(num)s uses", uses))
        return ", ".join(parts)
    if action == "change_setting":
        setting = SETTINGS.get(str(p.get("key")))
        label = setting.label if setting is not None else p.get("key", "")
        if "added" in p or "removed" in p:
            added, removed = list(p.get("added") or []), list(p.get("removed") or [])
            text = str(
                _l(
                    "%(setting)s: %(added)s, %(removed)s",
                    setting=label,
                    added=ngettext(
                        "%(num)s added", "%(num)s added", _num(p.get("added_count", len(added)))
                    ),
                    removed=ngettext(
                        "%(num)s removed",
                        "%(num)s removed",
                        _num(p.get("removed_count", len(removed))),
                    ),
                )
            )
            if added:
                text += " +" + ", ".join(added)
            if removed:
                text += " −" + ", ".join(removed)
            return text
        before, after = p.get("before", ""), p.get("after", "")
        if setting is not None and setting.kind == "bool":
            before, after = (
                pgettext("setting", "on") if v == "1" else pgettext("setting", "off")
                for v in (before, after)
            )
        elif setting is not None and setting.choices:
            # A choice by its short name ("invite-only"), not the settings page's explanation
            # of it, nor as stored ("invite").
            choices = setting.choices
            before, after = (
                str(choices[str(v)].short) if str(v) in choices else v for v in (before, after)
            )
        return str(
            _l("%(setting)s: %(before)s → %(after)s", setting=label, before=before, after=after)
        )
    return None
