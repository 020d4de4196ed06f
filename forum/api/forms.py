"""The token form of /settings/tokens: shape and CSRF; the services enforce the rules."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from ..i18n import at_most, required
from ..i18n import lazy_gettext as _l

SCOPE_LABELS = {
    "read": _l("read: everything you may read"),
    "write": _l(
        "write: join and leave SIGs, start topics, post, edit, delete, flag, private mail, "
        "write to the sysops, page them, ignore members, change your preferences"
    ),
    "moderate": _l(
        "moderate: hide posts, lock, move and split topics, suspend in your SIGs, handle concerns "
        "and pages, go on duty, set care deadlines"
    ),
    "admin": _l("admin: the sysop’s site-wide actions"),
}
EXPIRY_LABELS = {
    7: _l("in 7 days"),
    30: _l("in 30 days"),
    90: _l("in 90 days"),
    365: _l("in a year"),
    0: _l("never"),
}


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TokenForm(FlaskForm):
    name = StringField(
        _l("Name"), validators=[required(), at_most(100, "name")], render_kw={"maxlength": 100}
    )
    scopes = CheckboxesField(_l("Scopes"), choices=[], default=["read"])
    expires = SelectField(
        _l("Expires"),
        choices=[SelectChoice(str(days), label) for days, label in EXPIRY_LABELS.items()],
        default="30",
    )

    def offer(self, scopes: tuple[str, ...]) -> None:
        """Offer the scopes this member may give a token."""
        self.scopes.choices = [SelectChoice(s, SCOPE_LABELS[s]) for s in scopes]


class ActionForm(FlaskForm):
    pass
