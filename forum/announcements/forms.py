"""Announcement forms."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class AnnouncementForm(FlaskForm):
    where = SelectField("Where", choices={}, validate_choice=True)
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    body = TextAreaField("Announcement", validators=[DataRequired()])


class ActionForm(FlaskForm):
    """A button that changes state: only CSRF and an optional value."""

    value = HiddenField()
    next = HiddenField()
