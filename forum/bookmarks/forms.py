"""The bookmark form: when to be reminded (a choice, or a date and time in the member's zone)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from ..i18n import lazy_gettext as _l
from . import services

REMIND_LABELS = {
    "": _l("No reminder"),
    services.LATER_TODAY: _l("Later today (in 3 hours)"),
    services.TOMORROW: _l("Tomorrow morning"),
    services.NEXT_WEEK: _l("Next week (Monday morning)"),
    services.CUSTOM: _l("At a date and time I choose"),
}


class BookmarkForm(FlaskForm):
    remind = RadioField(
        _l("Remind me"),
        choices=[SelectChoice(k, v) for k, v in REMIND_LABELS.items()],
        default="",
        validators=[Optional()],
    )
    remind_at = DateTimeLocalField(
        _l("Date and time (your time zone)"),
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[Optional()],
    )
