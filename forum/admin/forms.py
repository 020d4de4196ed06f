"""Console forms."""

from typing import Any

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional

from ..i18n import at_most, lazy_number, required
from ..i18n import lazy_gettext as _l
from ..settings import REGISTRATION_MODES, SETTINGS, TRUST_SETTINGS
from ..sigs.models import LANGUAGES, VISIBILITIES
from .services import MAX_INVITE_NOTE

VISIBILITY_LABELS = {
    "public": _l("public: anyone may read"),
    "members": _l("members only: anyone may join, members read"),
    "private": _l("private: unlisted, by request"),
}


class SigForm(FlaskForm):
    name = StringField(_l("Name"), validators=[required(), at_most(100, "name")])
    slug = StringField(_l("Address (/s/…)"), validators=[Optional(), at_most(64, "address")])
    description = TextAreaField(
        _l("Description"), validators=[Optional(), at_most(2000, "description")]
    )
    visibility = SelectField(
        _l("Visibility"),
        choices=[SelectChoice(v, VISIBILITY_LABELS.get(v, v)) for v in VISIBILITIES],
    )
    language = SelectField(
        _l("Language"), choices=[SelectChoice(k, v) for k, v in LANGUAGES.items()]
    )


class SysopForm(FlaskForm):
    username = StringField(_l("Member"), validators=[required(), at_most(32, "name")])
    value = HiddenField(default="appoint")


class ThresholdForm(FlaskForm):
    threshold = IntegerField(
        _l("Approval queue for new accounts here (empty: the site's setting)"),
        validators=[Optional(), NumberRange(min=0, max=1000)],
    )


class RoleForm(FlaskForm):
    role = SelectField(
        _l("Site role"),
        choices=[SelectChoice("member", _l("member")), SelectChoice("sysop", _l("global sysop"))],
    )
    next = HiddenField()


def _off_or_on(label: Any) -> Any:
    """A site setting that is off ("0", the default) or on ("1")."""
    return SelectField(
        label, choices=[SelectChoice("0", _l("Off")), SelectChoice("1", _l("On"))], default="0"
    )


class SettingsForm(FlaskForm):
    site_name = StringField(_l("Site name"), validators=[required(), at_most(100, "name")])
    site_description = StringField(
        _l("Description"), validators=[required(), at_most(500, "description")]
    )
    registration = SelectField(
        _l("Registration"),
        choices=[SelectChoice(k, c.label) for k, c in REGISTRATION_MODES.items()],
    )
    approval_threshold = StringField(_l("Approval queue for new accounts (posts)"))
    auto_hide_threshold = StringField(_l("Auto-hide after flags weighing"))
    mention_limit = StringField(_l("Mentions per post"))
    mention_limit_sysop = StringField(_l("Mentions per post by sysops"))
    account_approval = _off_or_on(_l("Sysop approval of new accounts"))
    sysops_require_2fa = _off_or_on(_l("Sysops must use two-factor sign-in"))
    block_disposable = _off_or_on(_l("Refuse disposable email addresses"))
    blocked_email_domains = TextAreaField(
        _l("Blocked email domains"), render_kw={"rows": 6, "spellcheck": "false"}
    )
    blocked_ip_ranges = TextAreaField(
        _l("Blocked address ranges"), render_kw={"rows": 6, "spellcheck": "false"}
    )
    post_rate_limit = StringField(_l("Posting rate limit"))
    register_rate_limit = StringField(_l("Registration rate limit"))
    mail_max_participants = StringField(_l("Members per private conversation"))
    mail_rate_limit = StringField(_l("Private mail rate limit"))
    care_response_hours = StringField(_l("First response to a concern within (hours)"))
    care_escalate_hours = StringField(_l("Escalate an unanswered concern after (hours)"))
    care_page_minutes = StringField(_l("A page waits for a sysop (minutes)"))
    care_pages_per_hour = StringField(_l("Pages per member and hour"))
    care_duty_hours = StringField(_l("A sysop's duty lasts (hours)"))
    webhook_private_targets = _off_or_on(_l("Webhooks to private addresses"))
    webhook_failure_limit = StringField(_l("Webhook failures before disabling"))
    bounce_threshold = StringField(_l("Bounces before mail stops"))
    digest_unvisited_limit = StringField(_l("Digests without a visit"))
    reactions = StringField(_l("Reactions"))
    upload_max_mb = StringField(_l("Largest upload (MB)"))
    upload_quota_member_mb = StringField(_l("Uploads per member (MB)"))
    upload_quota_sig_mb = StringField(_l("Uploads per SIG (MB)"))
    # A text box the width of the form, so the whole list shows (a line field cut it off); its
    # lines are kept as one space-separated list.
    upload_types = TextAreaField(
        _l("File types members may upload"),
        validators=[at_most(SETTINGS["upload_types"].maximum)],
        filters=[lambda value: " ".join(value.split()) if isinstance(value, str) else value],
        render_kw={"rows": 3, "spellcheck": "false"},
    )


# The trust levels' thresholds and the limits of new accounts: whole numbers, labelled as the
# settings name them.
for _setting in TRUST_SETTINGS:
    setattr(SettingsForm, _setting.key, StringField(_setting.label))


class InviteForm(FlaskForm):
    note = StringField(
        _l("Who is it for? (optional)"),
        validators=[
            Optional(),
            Length(
                max=MAX_INVITE_NOTE,
                message=_l(
                    "Keep the note to %(limit)s characters or fewer.",
                    limit=lazy_number(MAX_INVITE_NOTE),
                ),
            ),
        ],
    )


class ActionForm(FlaskForm):
    value = HiddenField()


class DecideAccountForm(FlaskForm):
    value = HiddenField()
