"""Announcement forms."""

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from ..i18n import at_most, required
from ..i18n import lazy_gettext as _l


class AnnouncementForm(FlaskForm):
    where = SelectField(_l("Where"), choices={}, validate_choice=True)
    title = StringField(_l("Title"), validators=[required(), at_most(200, "title")])
    body = TextAreaField(_l("Announcement"), validators=[required()])
    # Wall-clock times in the author's time zone (views turn them into UTC); empty: now, and
    # BANNER_DAYS after the start.
    starts_at = DateTimeLocalField(
        _l("Show from"), format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"], validators=[Optional()]
    )
    ends_at = DateTimeLocalField(
        _l("Show until"), format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"], validators=[Optional()]
    )


class ActionForm(FlaskForm):
    """A button that changes state: only CSRF and an optional value."""

    value = HiddenField()
    next = HiddenField()
