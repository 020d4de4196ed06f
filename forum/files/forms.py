"""Library and picture forms (the files themselves are read from request.files)."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..i18n import lazy_gettext as _l


class LibraryUploadForm(FlaskForm):
    section = SelectField(_l("Section"), coerce=int, validators=[Optional()])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(
        _l("Description (Markdown)"), validators=[Optional(), Length(max=10_000)]
    )
    keywords = StringField(
        _l("Keywords (separated by spaces or commas)"), validators=[Optional(), Length(max=300)]
    )


class LibraryEditForm(LibraryUploadForm):
    pass


class VersionForm(FlaskForm):
    note = StringField(_l("What changed (optional)"), validators=[Optional(), Length(max=500)])


class SectionForm(FlaskForm):
    name = StringField(_l("New section"), validators=[DataRequired(), Length(max=100)])
    description = StringField(_l("What goes in it"), validators=[Optional(), Length(max=500)])


class LibrarianForm(FlaskForm):
    username = StringField(_l("Member's name"), validators=[DataRequired(), Length(max=64)])


class ActionForm(FlaskForm):
    value = HiddenField()
