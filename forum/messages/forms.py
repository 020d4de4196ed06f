"""Private mail forms: shape and CSRF; the services enforce the rules."""

from typing import Any

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, Length, Optional

from ..i18n import at_most, lazy_number, required
from ..i18n import lazy_gettext as _l
from .models import MAIL_FROM_EVERYONE, MAIL_FROM_SYSOPS
from .services import MAX_REPORT_NOTE, REPORT_REASONS

# Generous caps here; the services give the precise message (MAX_POST_LENGTH).
BODY_CAP = 200_000


def subject_limit(field: StringField, needed: bool) -> None:
    """A subject's box holds what the service allows (MAX_TITLE_LENGTH, which the column holds),
    with the service's words for a longer one typed around the browser's limit."""
    limit = int(current_app.config["MAX_TITLE_LENGTH"])
    words = _l("Keep the subject to %(limit)s characters or fewer.", limit=lazy_number(limit))
    first = required() if needed else Optional()
    field.validators = [first, Length(max=limit, message=words)]
    field.render_kw = {**(field.render_kw or {}), "maxlength": limit}


class ConversationForm(FlaskForm):
    to = StringField(
        _l("To"),
        validators=[required(), at_most(2000)],
        description=_l("Member names, separated by commas."),
    )
    subject = StringField(_l("Subject"), validators=[required()])
    body = TextAreaField(
        _l("Message (Markdown)"), validators=[required(), at_most(BODY_CAP, "message")]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        subject_limit(self.subject, needed=True)


class MessageForm(FlaskForm):
    body = TextAreaField(
        _l("Your reply (Markdown)"), validators=[required(), at_most(BODY_CAP, "message")]
    )


class AddMemberForm(FlaskForm):
    username = StringField(_l("Add a member"), validators=[required(), at_most(100, "name")])


class ReportForm(FlaskForm):
    reason = SelectField(
        _l("Why are you reporting this message?"),
        choices=[SelectChoice(k, v) for k, v in REPORT_REASONS.items()],
    )
    note = TextAreaField(
        _l("Anything the sysop should know? (optional)"),
        validators=[
            Optional(),
            Length(
                max=MAX_REPORT_NOTE,
                message=_l(
                    "Keep the note to %(limit)s characters or fewer.",
                    limit=lazy_number(MAX_REPORT_NOTE),
                ),
            ),
        ],
    )


class MailPreferencesForm(FlaskForm):
    mail_from = RadioField(
        _l("Who may send me private mail"),
        choices=[
            SelectChoice(MAIL_FROM_EVERYONE, _l("Every member (except those I ignore)")),
            SelectChoice(MAIL_FROM_SYSOPS, _l("Only the sysop (private mail off)")),
        ],
        default=MAIL_FROM_EVERYONE,
        # A value it does not offer (sent by hand, or by an older page) says what to choose.
        validators=[
            AnyOf(
                [MAIL_FROM_EVERYONE, MAIL_FROM_SYSOPS],
                message=_l("Choose who may send you private mail."),
            )
        ],
        validate_choice=False,
    )
    notify = BooleanField(_l("Notify me of new private mail"), default=True)


class ActionForm(FlaskForm):
    pass
