"""Announcement forms."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..i18n import lazy_gettext as _l


class AnnouncementForm(FlaskForm):
    where = SelectField(_l("Where"), choices={}, validate_choice=True)
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(_l("Announcement"), validators=[DataRequired()])


class ActionForm(FlaskForm):
    """A button that changes state: only CSRF and an optional value."""

    value = HiddenField()
    next = HiddenField()
