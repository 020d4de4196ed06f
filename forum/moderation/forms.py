"""Moderation forms: shape and CSRF; the services enforce the rules."""

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
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from .models import FLAG_REASONS, OUTCOMES

DAYS = [NumberRange(min=1, max=3650, message="Between 1 and 3,650 days.")]


class FlagForm(FlaskForm):
    reason = RadioField(
        "Why should a sysop look at this post?",
        choices=[SelectChoice(k, v) for k, v in FLAG_REASONS.items()],
        validators=[DataRequired(message="Choose a reason.")],
    )
    note = TextAreaField(
        "Anything the sysops should know (needed for “something else”)",
        validators=[Optional(), Length(max=500)],
    )


class ReasonForm(FlaskForm):
    """A button with an optional reason (hide, lock, delete, reject, lift …)."""

    reason = StringField("Reason", validators=[Optional(), Length(max=500)])
    next = HiddenField()


class ResolveForm(FlaskForm):
    outcome = SelectField("Outcome", choices=[SelectChoice(k, v) for k, v in OUTCOMES.items()])
    reason = StringField(
        "Reason (the member sees it when warned or suspended)",
        validators=[Optional(), Length(max=500)],
    )
    days = IntegerField("Suspend for (days)", default=7, validators=[Optional(), *DAYS])
    next = HiddenField()


class NoteForm(FlaskForm):
    body = TextAreaField("Note", validators=[DataRequired(), Length(max=2000)])
    next = HiddenField()


class MemberNoteForm(FlaskForm):
    """A note on a member, filed under a SIG: its sysops read it (site-wide: the sysop only)."""

    body = TextAreaField("Note", validators=[DataRequired(), Length(max=2000)])
    sig = SelectField("For the sysops of", coerce=int, validate_choice=False)


class MoveForm(FlaskForm):
    sig = SelectField("Move to SIG", coerce=int, validate_choice=False)
    reason = StringField("Reason", validators=[Optional(), Length(max=500)])


class SplitForm(FlaskForm):
    title = StringField("Title of the new topic", validators=[DataRequired(), Length(max=1000)])
    sig = SelectField("In SIG", coerce=int, validate_choice=False)
    reason = StringField("Reason", validators=[Optional(), Length(max=500)])


class MergeForm(FlaskForm):
    target = StringField(
        "Merge into topic (its number or address)", validators=[DataRequired(), Length(max=500)]
    )
    reason = StringField("Reason", validators=[Optional(), Length(max=500)])


class WarnForm(FlaskForm):
    reason = StringField(
        "Warning (the member sees it)", validators=[DataRequired(), Length(max=500)]
    )
    sig = SelectField("Where", coerce=int, validate_choice=False)


class SuspendForm(FlaskForm):
    days = IntegerField("Days", default=7, validators=[DataRequired(), *DAYS])
    reason = StringField(
        "Reason (the member sees it)", validators=[DataRequired(), Length(max=500)]
    )
    sig = SelectField("Where", coerce=int, validate_choice=False)


class SilenceForm(FlaskForm):
    days = IntegerField("Days", default=3, validators=[DataRequired(), *DAYS])
    reason = StringField(
        "Reason (the member sees it)", validators=[DataRequired(), Length(max=500)]
    )


class BanForm(FlaskForm):
    reason = StringField(
        "Reason (the member sees it)", validators=[DataRequired(), Length(max=500)]
    )


class LiftForm(FlaskForm):
    kind = SelectField(
        "Lift", choices=[SelectChoice("suspension"), SelectChoice("silence"), SelectChoice("ban")]
    )
    sig = IntegerField("SIG", validators=[Optional()])
    reason = StringField("Reason", validators=[Optional(), Length(max=500)])


class WordFilterForm(FlaskForm):
    word = StringField("Word or phrase", validators=[DataRequired(), Length(max=100)])
    action = SelectField(
        "When a post contains it",
        choices=[
            SelectChoice("block", "Refuse the post"),
            SelectChoice("queue", "Hold it for approval"),
        ],
    )
    whole_word = BooleanField("Whole words only", default=True)
    sig = SelectField("Where", coerce=int, validate_choice=False)


class ActionForm(FlaskForm):
    next = HiddenField()
