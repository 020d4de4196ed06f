"""The webhook form (register and change) and the buttons' form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..i18n import at_most
from ..i18n import lazy_gettext as _l
from .models import (
    CONCERN_OPENED,
    EVENTS,
    MEMBER_JOINED,
    POST_CREATED,
    POST_FLAGGED,
    TOPIC_CREATED,
)

EVENT_LABELS = {
    TOPIC_CREATED: _l("A topic was started (topic.created)"),
    POST_CREATED: _l("A post was written (post.created)"),
    POST_FLAGGED: _l("A post was flagged (post.flagged)"),
    MEMBER_JOINED: _l("A member joined (member.joined)"),
    CONCERN_OPENED: _l("A member wrote to the sysops (concern.opened)"),
}


class CheckboxesField(SelectMultipleField):
    """Several choices as checkboxes (a list without JavaScript)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class WebhookForm(FlaskForm):
    url = StringField(
        _l("Payload address"),
        validators=[at_most(2000, "address")],
        render_kw={"placeholder": "https://", "inputmode": "url", "spellcheck": "false"},
    )
    description = StringField(
        _l("Description (optional)"), validators=[Optional(), at_most(200, "description")]
    )
    events = CheckboxesField(
        _l("Events"),
        choices=[SelectChoice(e, EVENT_LABELS[e]) for e in EVENTS],
        default=[POST_CREATED],
    )
    active = BooleanField(_l("Active: send the events"), default=True)


class ActionForm(FlaskForm):
    value = HiddenField()
