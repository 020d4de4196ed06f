"""SIG forms."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional

from ..i18n import at_most, lazy_number, required
from ..i18n import lazy_gettext as _l
from .services import MAX_REQUEST_MESSAGE


class JoinForm(FlaskForm):
    pass


class RequestForm(FlaskForm):
    slug = StringField(
        _l("The private SIG's address (the part after /s/)"),
        validators=[required(), at_most(64, "address")],
    )
    message = TextAreaField(
        _l("Why would you like to join? (optional)"),
        validators=[
            Optional(),
            Length(
                max=MAX_REQUEST_MESSAGE,
                message=_l(
                    "Keep the message to %(limit)s characters or fewer.",
                    limit=lazy_number(MAX_REQUEST_MESSAGE),
                ),
            ),
        ],
    )


class ActionForm(FlaskForm):
    """A button that changes state: only CSRF and an optional value."""

    value = HiddenField()


class InviteForm(FlaskForm):
    """Make an invite link: when it expires, and how many may join by it."""

    expires = SelectField(
        _l("Expires"),
        choices=[
            SelectChoice("day", _l("after a day")),
            SelectChoice("week", _l("after a week")),
            SelectChoice("month", _l("after a month")),
            SelectChoice("never", _l("never")),
        ],
        default="week",
    )
    max_uses = IntegerField(
        _l("Most members who may join by it (empty: no limit)"),
        validators=[Optional(), NumberRange(min=1, max=10_000)],
        render_kw={"min": 1, "max": 10_000},
    )
