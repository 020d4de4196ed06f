"""Moderation verbs, one module per area; import them from here.

Every verb loads through the permission policy, changes rows and counters in one transaction,
writes a ModAction row (the moderation log) in that same transaction and publishes an event.

- `posts`: hide and unhide a post; the approval queue.
- `topic_tools`: lock, pin, move, split, merge, delete and restore topics.
- `flags`: flag a post; claim, note and resolve flags; resolve reported private messages.
- `discipline`: warn, silence, suspend and ban members, and lift it; notes on members.
- `filters`: the word filter.
- `cleanup`: delete a spammer (site-wide or in one SIG) and undo it.
- `common`: loading through the policy, reasons and end dates, the log.
"""

from __future__ import annotations

from .cleanup import (
    cleanup_preview,
    delete_spammer,
    get_cleanup_for,
    remove_spammer_from_sig,
    undo_spam_cleanup,
)
from .common import (
    MAX_DISCIPLINE_DAYS,
    MAX_FILTERS,
    MAX_NOTE,
    MAX_REASON,
    actor_id,
    check_until,
    clean_reason,
    log_action,
    member_or_404,
    moderated_post,
    moderated_sig,
    moderated_topic,
    sig_or_none,
)
from .discipline import (
    acknowledge_warnings,
    add_member_note,
    ban_member,
    lift_ban,
    lift_sig_ban,
    lift_silence,
    lift_suspension,
    remove_from_sig,
    silence_member,
    suspend_member,
    warn_member,
)
from .filters import (
    add_word_filter,
    remove_word_filter,
)
from .flags import (
    add_review_note,
    claim_flag,
    flag_post,
    resolve_flags,
    resolve_message_report,
    unclaim_flag,
)
from .posts import (
    apply_hide,
    apply_unhide,
    approve_post,
    hide_post,
    publish_visibility,
    reject_post,
    set_sig_approval_threshold,
    unhide_post,
)
from .topic_tools import (
    delete_topic,
    lock_topic,
    merge_topics,
    move_topic,
    pin_topic,
    restore_topic,
    split_topic,
    unlock_topic,
    unpin_topic,
)

__all__ = [
    "cleanup_preview",
    "delete_spammer",
    "get_cleanup_for",
    "remove_spammer_from_sig",
    "undo_spam_cleanup",
    "moderated_post",
    "moderated_topic",
    "moderated_sig",
    "member_or_404",
    "clean_reason",
    "check_until",
    "log_action",
    "actor_id",
    "sig_or_none",
    "MAX_REASON",
    "MAX_NOTE",
    "MAX_FILTERS",
    "MAX_DISCIPLINE_DAYS",
    "hide_post",
    "apply_hide",
    "unhide_post",
    "apply_unhide",
    "publish_visibility",
    "approve_post",
    "reject_post",
    "set_sig_approval_threshold",
    "lock_topic",
    "unlock_topic",
    "pin_topic",
    "unpin_topic",
    "move_topic",
    "split_topic",
    "merge_topics",
    "delete_topic",
    "restore_topic",
    "flag_post",
    "resolve_flags",
    "resolve_message_report",
    "claim_flag",
    "unclaim_flag",
    "add_review_note",
    "warn_member",
    "silence_member",
    "suspend_member",
    "ban_member",
    "lift_silence",
    "lift_suspension",
    "lift_ban",
    "remove_from_sig",
    "lift_sig_ban",
    "acknowledge_warnings",
    "add_member_note",
    "add_word_filter",
    "remove_word_filter",
]
