"""Notification forms: shape and CSRF; the services enforce the rules."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField
from wtforms.fields.choices import SelectChoice

from ..i18n import lazy_gettext as _l
from .models import LEVELS

LEVEL_CHOICES = {
    "watching": _l("Watching: every new post"),
    "tracking": _l("Tracking: unread count, and what is addressed to me"),
    "normal": _l("Normal: only what is addressed to me"),
    "muted": _l("Muted: nothing, not even mentions"),
}
# The level alone, as a confirmation names it.
LEVEL_NAMES = {
    "watching": _l("watching"),
    "tracking": _l("tracking"),
    "normal": _l("normal"),
    "muted": _l("muted"),
}
assert list(LEVEL_CHOICES) == list(LEVELS) == list(LEVEL_NAMES)


class ActionForm(FlaskForm):
    pass


class WatchForm(FlaskForm):
    level = SelectField(
        _l("Notifications"), choices=[SelectChoice(k, v) for k, v in LEVEL_CHOICES.items()]
    )


class PreferencesForm(FlaskForm):
    watch_posted = BooleanField(_l("Watch the topics I start or reply to"))
