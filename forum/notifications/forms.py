"""Notification forms: shape and CSRF; the services enforce the rules."""

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, Optional

from ..i18n import at_most, required
from ..i18n import lazy_gettext as _l
from .digest import FREQUENCIES, NOTE_MAX, WEEKDAYS
from .mail import CATEGORY_LABELS as MAIL_LABELS
from .mail import CHOICES as MAIL_CHOICES
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


def _one_of(values: Any, message: Any) -> dict[str, Any]:
    """A select's checks: left out (or empty) keeps the saved choice; a value it does not offer
    (sent by hand, or by a page older than its choices) is refused with `message`, which says
    what to choose, not WTForms' "Not a valid choice"."""
    return {
        "validators": [Optional(), AnyOf([str(v) for v in values], message=message)],
        "validate_choice": False,
    }


_MAIL_CHOICE = _one_of(MAIL_CHOICES, _l("Choose off, immediately or in the digest."))


def _mail_select(category: str) -> Any:
    """The select of one mail category: off, immediately or in the digest."""
    return SelectField(
        MAIL_LABELS[category],
        choices=[SelectChoice(k, v) for k, v in MAIL_CHOICES.items()],
        **_MAIL_CHOICE,
    )


class PreferencesForm(FlaskForm):
    watch_posted = BooleanField(_l("Watch the topics I start or reply to"))
    # One select per mail category, named mail_<category> (see mail_fields()).
    mail_mention = _mail_select("mention")
    mail_reply = _mail_select("reply")
    mail_quote = _mail_select("quote")
    mail_watched = _mail_select("watched")
    mail_moderation = _mail_select("moderation")
    mail_private_message = _mail_select("private_message")
    mail_reaction = _mail_select("reaction")
    mail_reminder = _mail_select("reminder")
    mail_concern = _mail_select("concern")

    digest_frequency = SelectField(
        _l("Digest of my SIGs"),
        choices=[SelectChoice(k, v) for k, v in FREQUENCIES.items()],
        **_one_of(FREQUENCIES, _l("Choose daily, weekly or never.")),
    )
    digest_hour = SelectField(
        _l("At (your time zone)"),
        choices=[SelectChoice(str(h), f"{h:02d}:00") for h in range(24)],
        **_one_of(range(24), _l("Choose an hour from 0 to 23.")),
    )
    digest_weekday = SelectField(
        _l("Weekly on"),
        choices=[SelectChoice(str(d), name) for d, name in enumerate(WEEKDAYS)],
        **_one_of(range(len(WEEKDAYS)), _l("Choose a day of the week.")),
    )

    def mail_fields(self) -> list[Any]:
        return [getattr(self, f"mail_{category}") for category in MAIL_LABELS]

    def mail_choices(self) -> dict[str, str]:
        """The categories the form sent (one that is left out keeps the member's choice)."""
        sent = {c: getattr(self, f"mail_{c}").data for c in MAIL_LABELS}
        return {c: choice for c, choice in sent.items() if choice}


class DigestNoteForm(FlaskForm):
    body = TextAreaField(
        _l("Note for the next digest"), validators=[required(), at_most(NOTE_MAX, "note")]
    )
