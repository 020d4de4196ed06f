"""Member care forms: shape and CSRF; the services enforce the rules."""

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    PasswordField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, NumberRange, Optional

from ..i18n import at_most, required
from ..i18n import lazy_gettext as _l
from ..messages.forms import subject_limit
from .services import PAGE_TEXT_LIMIT, PAGE_TEXT_TOO_LONG

# Generous caps here; the services give the precise message (MAX_POST_LENGTH).
BODY_CAP = 200_000


class WriteForm(FlaskForm):
    subject = StringField(_l("Subject"), validators=[required()])
    body = TextAreaField(
        _l("What is it about? (Markdown)"),
        validators=[required(), at_most(BODY_CAP, "message")],
    )
    post = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        subject_limit(self.subject, needed=True)


class AppealForm(FlaskForm):
    login = StringField(_l("Username or email"), validators=[required(), at_most(254)])
    password = PasswordField(_l("Password"), validators=[required(), at_most(1000)])
    subject = StringField(_l("Subject"), validators=[Optional()])
    body = TextAreaField(
        _l("Your message to the site's sysops (Markdown)"),
        validators=[Optional(), at_most(BODY_CAP, "message")],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        subject_limit(self.subject, needed=False)


class ReplyForm(FlaskForm):
    body = TextAreaField(
        _l("Your reply (Markdown)"), validators=[required(), at_most(BODY_CAP, "message")]
    )
    resolve = BooleanField(_l("Mark the concern resolved with this reply"))


class NoteForm(FlaskForm):
    body = TextAreaField(
        _l("A note for the sysops (the member never sees it)"),
        validators=[required(), at_most(BODY_CAP, "note")],
    )


class AssignForm(FlaskForm):
    assignee = StringField(_l("Assigned to"), validators=[Optional(), at_most(100, "name")])


class PageForm(FlaskForm):
    body = StringField(
        _l("In a few words, what is it about?"),
        validators=[
            required(_l("Say in a few words what it is about.")),
            Length(max=PAGE_TEXT_LIMIT, message=PAGE_TEXT_TOO_LONG),
        ],
    )


class DutyForm(FlaskForm):
    sound = BooleanField(_l("Ring with a sound when I am paged"))


class DeadlinesForm(FlaskForm):
    response_hours = IntegerField(
        _l("First response within (hours)"), validators=[NumberRange(min=0, max=100_000)]
    )
    escalate_hours = IntegerField(
        _l("Tell the global sysop after (hours)"), validators=[NumberRange(min=0, max=100_000)]
    )


class ActionForm(FlaskForm):
    value = HiddenField()
