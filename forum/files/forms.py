"""Library and picture forms (the files themselves are read from request.files)."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from ..i18n import at_most, required
from ..i18n import lazy_gettext as _l


class LibraryUploadForm(FlaskForm):
    section = SelectField(_l("Section"), coerce=int, validators=[Optional()])
    title = StringField(_l("Title"), validators=[required(), at_most(200, "title")])
    description = TextAreaField(
        _l("Description (Markdown)"), validators=[Optional(), at_most(10_000, "description")]
    )
    keywords = StringField(
        _l("Keywords (separated by spaces or commas)"),
        validators=[Optional(), at_most(300, "keywords")],
    )


class LibraryEditForm(LibraryUploadForm):
    pass


class VersionForm(FlaskForm):
    note = StringField(_l("What changed (optional)"), validators=[Optional(), at_most(500, "note")])


class SectionForm(FlaskForm):
    name = StringField(_l("New section"), validators=[required(), at_most(100, "name")])
    description = StringField(
        _l("What goes in it"), validators=[Optional(), at_most(500, "description")]
    )


class LibrarianForm(FlaskForm):
    username = StringField(_l("Member's name"), validators=[required(), at_most(64, "name")])


class ActionForm(FlaskForm):
    value = HiddenField()
