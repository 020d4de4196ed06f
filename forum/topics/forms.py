"""Topic and post forms: shape and CSRF; the services enforce the rules."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..i18n import lazy_gettext as _l

# Generous caps here; the services give the precise message (MAX_POST_LENGTH).
BODY_CAP = 200_000


class TopicForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=1000)])
    body = TextAreaField(
        _l("Message (Markdown)"), validators=[DataRequired(), Length(max=BODY_CAP)]
    )


class ReplyForm(FlaskForm):
    body = TextAreaField(
        _l("Your reply (Markdown)"), validators=[DataRequired(), Length(max=BODY_CAP)]
    )
    reply_to = HiddenField(validators=[Optional()])


class EditForm(FlaskForm):
    title = StringField(_l("Title"), validators=[Optional(), Length(max=1000)])
    body = TextAreaField(
        _l("Message (Markdown)"), validators=[DataRequired(), Length(max=BODY_CAP)]
    )


class ActionForm(FlaskForm):
    pass
