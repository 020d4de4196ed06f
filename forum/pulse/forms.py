"""Dashboard forms: the date range picker (a GET form) and sysop buttons."""

from __future__ import annotations

from datetime import date, timedelta

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..i18n import required
from .buckets import MAX_DAYS, DateRange, preset_range

RANGE_CHOICES = {
    "7": _l("Last 7 days"),
    "30": _l("Last 30 days"),
    "90": _l("Last 90 days"),
    "custom": _l("Custom"),
}


class RangeForm(FlaskForm):
    """?range=7|30|90|custom&start=YYYY-MM-DD&end=YYYY-MM-DD; read from the query string."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    range = SelectField(
        _l("Range"),
        choices=[SelectChoice(k, v) for k, v in RANGE_CHOICES.items()],
        default="30",
    )
    start = DateField(_l("Start date"), validators=[Optional()])
    end = DateField(_l("End date"), validators=[Optional()])

    def to_range(self, today: date, zone: str) -> DateRange:
        """The chosen range; falls back to the last 30 days and records why on the form."""
        choice = self.range.data if self.range.data in RANGE_CHOICES else "30"
        if choice != "custom":
            return preset_range(choice, today, zone)
        start, end = self.start.data, self.end.data
        if not self.validate() or start is None or end is None:
            self.form_errors.append(_("Give both dates of a custom range as YYYY-MM-DD."))
        elif start > end:
            self.form_errors.append(_("The first day must not be after the last."))
        elif (end - start).days + 1 > MAX_DAYS:
            self.form_errors.append(_("Choose at most %(MAX_DAYS)s days.", MAX_DAYS=MAX_DAYS))
        elif end > today + timedelta(days=1):
            self.form_errors.append(_("The range cannot end in the future."))
        else:
            return DateRange(start, end, zone, "custom")
        return preset_range("30", today, zone)


class ActionForm(FlaskForm):
    """A button that changes state: only CSRF and an optional value."""

    value = HiddenField()


class WelcomeForm(FlaskForm):
    sig_id = IntegerField(validators=[required()])
    user_id = IntegerField(validators=[required()])
    next = HiddenField()
