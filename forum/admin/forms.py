"""Console forms."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..sigs.models import LANGUAGES, VISIBILITIES
from .settings import REGISTRATION_MODES


class SigForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    slug = StringField("Address (/s/…)", validators=[Optional(), Length(max=64)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    visibility = SelectField("Visibility", choices=[SelectChoice(v) for v in VISIBILITIES])
    language = SelectField("Language", choices=[SelectChoice(k, v) for k, v in LANGUAGES.items()])


class SysopForm(FlaskForm):
    username = StringField("Member", validators=[DataRequired(), Length(max=32)])
    value = HiddenField(default="appoint")


class ThresholdForm(FlaskForm):
    threshold = IntegerField(
        "Approval queue for new accounts here (empty: the site's setting)",
        validators=[Optional(), NumberRange(min=0, max=1000)],
    )


class RoleForm(FlaskForm):
    role = SelectField(
        "Site role", choices=[SelectChoice("member"), SelectChoice("sysop", "global sysop")]
    )
    next = HiddenField()


class SettingsForm(FlaskForm):
    site_name = StringField("Site name", validators=[DataRequired(), Length(max=100)])
    site_description = StringField("Description", validators=[DataRequired(), Length(max=500)])
    registration = SelectField(
        "Registration", choices=[SelectChoice(k, v) for k, v in REGISTRATION_MODES.items()]
    )
    approval_threshold = StringField("Approval queue for new accounts (posts)")
    auto_hide_threshold = StringField("Auto-hide after this many trusted flags")
    trust_min_posts = StringField("Trusted flaggers' minimum posts")
    mention_limit = StringField("Mentions per post")
    mention_limit_sysop = StringField("Mentions per post by sysops")
    post_rate_limit = StringField("Posting rate limit")
    register_rate_limit = StringField("Registration rate limit")


class InviteForm(FlaskForm):
    note = StringField("Who is it for? (optional)", validators=[Optional(), Length(max=200)])


class ActionForm(FlaskForm):
    value = HiddenField()
