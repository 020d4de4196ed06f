"""Moderation forms: shape and CSRF; the services enforce the rules."""

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from ..i18n import at_most, lazy_number, required
from ..i18n import lazy_gettext as _l
from ..topics.forms import title_limit
from .common import MAX_NOTE, MAX_REASON
from .models import FLAG_REASONS, MESSAGE_OUTCOMES, OUTCOMES

DAYS = [
    NumberRange(
        min=1, max=3650, message=_l("Between 1 and %(maximum)s days.", maximum=lazy_number(3650))
    )
]


class FlagForm(FlaskForm):
    reason = RadioField(
        _l("Why should a sysop look at this post?"),
        choices=[SelectChoice(k, v) for k, v in FLAG_REASONS.items()],
        validators=[required(_l("Choose a reason."))],
    )
    note = TextAreaField(
        _l("Anything the sysops should know (needed for “something else”)"),
        validators=[Optional(), at_most(MAX_REASON, "note")],
    )


class ReasonForm(FlaskForm):
    """A button with an optional reason (hide, lock, delete, reject, lift …)."""

    reason = StringField(_l("Reason"), validators=[Optional(), at_most(MAX_REASON, "reason")])
    next = HiddenField()


class ResolveForm(FlaskForm):
    outcome = SelectField(
        _l("Outcome"),
        choices=[SelectChoice(k, v) for k, v in OUTCOMES.items() if k != "spam"],
    )
    reason = StringField(
        _l("Reason (the member sees it when warned or suspended)"),
        validators=[Optional(), at_most(MAX_REASON, "reason")],
    )
    days = IntegerField(
        _l("Suspend or silence for (days)"), default=7, validators=[Optional(), *DAYS]
    )
    next = HiddenField()


class MessageReportForm(FlaskForm):
    outcome = SelectField(
        _l("Outcome"), choices=[SelectChoice(k, v) for k, v in MESSAGE_OUTCOMES.items()]
    )
    reason = StringField(
        _l("Reason (the member sees it when warned)"),
        validators=[Optional(), at_most(MAX_REASON, "reason")],
    )


class NoteForm(FlaskForm):
    body = TextAreaField(_l("Note"), validators=[required(), at_most(MAX_NOTE, "notes")])
    next = HiddenField()


class MemberNoteForm(FlaskForm):
    """A note on a member, filed under a SIG: its sysops read it (site-wide: the sysop only)."""

    body = TextAreaField(_l("Note"), validators=[required(), at_most(MAX_NOTE, "notes")])
    sig = SelectField(_l("For the sysops of"), coerce=int, validate_choice=False)


class MoveForm(FlaskForm):
    sig = SelectField(_l("Move to SIG"), coerce=int, validate_choice=False)
    reason = StringField(_l("Reason"), validators=[Optional(), at_most(MAX_REASON, "reason")])


class SplitForm(FlaskForm):
    later = BooleanField(_l("And every reply after the first one chosen"))
    title = StringField(_l("Title of the new topic"), validators=[required()])
    sig = SelectField(_l("In SIG"), coerce=int, validate_choice=False)
    reason = StringField(_l("Reason"), validators=[Optional(), at_most(MAX_REASON, "reason")])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        title_limit(self.title, needed=True)


class MergeForm(FlaskForm):
    # A radio button of the merge page's picker sends the topic's number; a number or a topic
    # page's address typed by hand (or sent by a script) works the same.
    target = StringField(
        _l("Merge into"),
        validators=[required(_l("Choose the topic to merge into.")), at_most(500)],
    )
    reason = StringField(_l("Reason"), validators=[Optional(), at_most(MAX_REASON, "reason")])


class WarnForm(FlaskForm):
    reason = StringField(
        _l("Warning (the member sees it)"),
        validators=[required(), at_most(MAX_REASON, "reason")],
    )
    sig = SelectField(_l("Where"), coerce=int, validate_choice=False)


class SuspendForm(FlaskForm):
    days = IntegerField(_l("Days"), default=7, validators=[required(), *DAYS])
    reason = StringField(
        _l("Reason (the member sees it)"),
        validators=[required(), at_most(MAX_REASON, "reason")],
    )
    sig = SelectField(_l("Where"), coerce=int, validate_choice=False)


class RemoveFromSigForm(FlaskForm):
    sig = SelectField(_l("SIG"), coerce=int, validate_choice=False)
    reason = StringField(
        _l("Reason (the member sees it)"),
        validators=[required(), at_most(MAX_REASON, "reason")],
    )
    ban = BooleanField(_l("Ban from re-joining (and from reading it unless it is public)"))
    days = IntegerField(_l("Ban for (days; empty: until lifted)"), validators=[Optional(), *DAYS])


class SilenceForm(FlaskForm):
    days = IntegerField(_l("Days"), default=3, validators=[required(), *DAYS])
    reason = StringField(
        _l("Reason (the member sees it)"),
        validators=[required(), at_most(MAX_REASON, "reason")],
    )


class BanForm(FlaskForm):
    reason = StringField(
        _l("Reason (the member sees it)"),
        validators=[required(), at_most(MAX_REASON, "reason")],
    )


class LiftForm(FlaskForm):
    kind = SelectField(
        _l("Lift"),
        choices=[
            SelectChoice("suspension", _l("suspension")),
            SelectChoice("silence", _l("silence")),
            SelectChoice("ban", _l("ban")),
            SelectChoice("sig_ban", _l("SIG ban")),
        ],
    )
    sig = IntegerField(_l("SIG"), validators=[Optional()])
    reason = StringField(_l("Reason"), validators=[Optional(), at_most(MAX_REASON, "reason")])


class WordFilterForm(FlaskForm):
    word = StringField(_l("Word or phrase"), validators=[required(), at_most(100)])
    action = SelectField(
        _l("When a post contains it"),
        choices=[
            SelectChoice("block", _l("Refuse the post")),
            SelectChoice("queue", _l("Hold it for approval")),
        ],
    )
    whole_word = BooleanField(_l("Whole words only"), default=True)
    sig = SelectField(_l("Where"), coerce=int, validate_choice=False)


class ActionForm(FlaskForm):
    next = HiddenField()


class SpamCleanupForm(FlaskForm):
    """The confirmation of a spam cleanup (one POST after one page; works without JavaScript)."""

    reason = StringField(
        _l("Reason (for the log)"), validators=[Optional(), at_most(MAX_REASON, "reason")]
    )
    sig = HiddenField()
    next = HiddenField()
