"""Topic and post forms: shape and CSRF; the services enforce the rules."""

from typing import Any

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from ..i18n import at_most, lazy_number, required
from ..i18n import lazy_gettext as _l

# Generous caps here; the services give the precise message (MAX_POST_LENGTH).
BODY_CAP = 200_000


def title_limit(field: StringField, needed: bool) -> None:
    """A topic title's box holds what the service allows (MAX_TITLE_LENGTH, which
    `topics.title` holds), with the service's words for a longer one."""
    limit = int(current_app.config["MAX_TITLE_LENGTH"])
    words = _l("Keep the title to %(limit)s characters or fewer.", limit=lazy_number(limit))
    first = required() if needed else Optional()
    field.validators = [first, Length(max=limit, message=words)]
    field.render_kw = {**(field.render_kw or {}), "maxlength": limit}


class TopicForm(FlaskForm):
    title = StringField(_l("Title"), validators=[required()])
    body = TextAreaField(
        _l("Message (Markdown)"), validators=[required(), at_most(BODY_CAP, "message")]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        title_limit(self.title, needed=True)


class ReplyForm(FlaskForm):
    body = TextAreaField(
        _l("Your reply (Markdown)"), validators=[required(), at_most(BODY_CAP, "message")]
    )
    reply_to = HiddenField(validators=[Optional()])


class EditForm(FlaskForm):
    title = StringField(_l("Title"), validators=[Optional()])
    body = TextAreaField(
        _l("Message (Markdown)"), validators=[required(), at_most(BODY_CAP, "message")]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        title_limit(self.title, needed=False)


class ActionForm(FlaskForm):
    pass
