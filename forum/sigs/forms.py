"""SIG forms."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..i18n import lazy_gettext as _l


class JoinForm(FlaskForm):
    pass


class RequestForm(FlaskForm):
    slug = StringField(
        _l("The private SIG's address (the part after /s/)"),
        validators=[DataRequired(), Length(max=64)],
    )
    message = TextAreaField(
        _l("Why would you like to join? (optional)"), validators=[Optional(), Length(max=500)]
    )


class ActionForm(FlaskForm):
    """A button that changes state: only CSRF and an optional value."""

    value = HiddenField()
