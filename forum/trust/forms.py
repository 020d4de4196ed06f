"""The sysop's form for a member's trust level."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from ..i18n import at_most
from ..i18n import lazy_gettext as _l
from ..permissions import TRUST_LEVEL_NAMES


class TrustLevelForm(FlaskForm):
    level = SelectField(
        _l("Trust level"),
        choices=[SelectChoice(str(k), v) for k, v in TRUST_LEVEL_NAMES.items()],
    )
    locked = BooleanField(_l("Lock it: the automatic review leaves it as it is"), default=True)
    reason = StringField(
        _l("Reason (for the log)"), validators=[Optional(), at_most(500, "reason")]
    )
