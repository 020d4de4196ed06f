"""Notification forms: shape and CSRF; the services enforce the rules."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField

from .models import LEVELS

LEVEL_CHOICES = {
    "watching": "Watching: every new post",
    "tracking": "Tracking: unread count, and what is addressed to me",
    "normal": "Normal: only what is addressed to me",
    "muted": "Muted: nothing, not even mentions",
}
assert list(LEVEL_CHOICES) == list(LEVELS)


class ActionForm(FlaskForm):
    pass


class WatchForm(FlaskForm):
    level = SelectField("Notifications", choices=LEVEL_CHOICES)


class PreferencesForm(FlaskForm):
    watch_posted = BooleanField("Watch the topics I start or reply to")
