"""Account forms. Rules live in the services; forms check shape and carry CSRF."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from ..i18n import LANGUAGES, at_most, required
from ..i18n import lazy_gettext as _l
from ..theme import THEMES
from ..theme import labels as theme_labels


def language_choices() -> list[SelectChoice]:
    """Each language under its own name, after "as my browser asks"."""
    return [
        SelectChoice("", _l("As my browser asks")),
        *(SelectChoice(code, name) for code, name in LANGUAGES.items()),
    ]


def theme_choices() -> list[SelectChoice]:
    """Light, dark, or as the member's system is set (forum.theme)."""
    names = theme_labels()
    return [SelectChoice(code, names[code]) for code in THEMES]


class LoginForm(FlaskForm):
    login = StringField(_l("Username or email"), validators=[required(), at_most(254)])
    password = PasswordField(_l("Password"), validators=[required(), at_most(1024)])
    remember = BooleanField(_l("Keep me logged in on this device"))
    next = HiddenField()


class RegisterForm(FlaskForm):
    username = StringField(_l("Username"), validators=[required(), at_most(32, "name")])
    email = EmailField(_l("Email"), validators=[required(), at_most(254, "address")])
    invite = StringField(_l("Invite code"), validators=[Optional(), at_most(64)])
    # The honeypot: hidden from people (CSS, aria-hidden, out of the tab order), filled in by
    # programs that fill in every field. Checked by accounts.services.check_form_defences.
    website = StringField(_l("Leave this empty"), validators=[Optional(), at_most(200)])
    # When the form was handed out (signed): a form sent back too soon came from a program.
    started = HiddenField()
    # Where to go once registered (an invite link): carried into the mailed link.
    next = HiddenField()


class FinishRegistrationForm(FlaskForm):
    password = PasswordField(_l("Password (at least 10 characters)"), validators=[required()])


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[required(), at_most(254, "address")])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password (at least 10 characters)"), validators=[required()])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[required()])
    new_password = PasswordField(
        _l("New password (at least 10 characters)"), validators=[required()]
    )


class EmailChangeForm(FlaskForm):
    email = EmailField(_l("New email address"), validators=[required(), at_most(254, "address")])
    current_password = PasswordField(_l("Current password"), validators=[required()])


class ProfileForm(FlaskForm):
    signature = StringField(
        _l("Signature line"),
        validators=[Optional(), at_most(200, "signature")],
    )
    bio = TextAreaField(
        _l("About me (Markdown)"),
        validators=[Optional(), at_most(5000, "bio")],
    )
    timezone = StringField(_l("Time zone"), validators=[Optional(), at_most(64)])
    language = SelectField(_l("Language"), choices=language_choices, default="")
    theme = SelectField(_l("Colours"), choices=theme_choices, default="system")
    keyboard_shortcuts = BooleanField(_l("Keyboard shortcuts"), default=True)


class LogoutEverywhereForm(FlaskForm):
    pass


class TwoFactorLoginForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[required(), at_most(32)],
    )
    remember_device = BooleanField(_l("Remember this device for 30 days"))


class EnableTwoFactorForm(FlaskForm):
    code = StringField(_l("Code from your app"), validators=[required(), at_most(32)])


class DisableTwoFactorForm(FlaskForm):
    password = PasswordField(_l("Current password"), validators=[required()])
    code = StringField(
        _l("Code from your app, or a recovery code"), validators=[required(), at_most(32)]
    )


class RecoveryCodesForm(FlaskForm):
    code = StringField(_l("Code from your app"), validators=[required(), at_most(32)])


class ExportDataForm(FlaskForm):
    """ "Download my data": the button's CSRF token, nothing more."""


class DeleteAccountForm(FlaskForm):
    password = PasswordField(_l("Current password"), validators=[required()])
    # Asked only when two-factor sign-in is on (the page shows it then).
    code = StringField(
        _l("Code from your app, or a recovery code"), validators=[Optional(), at_most(32)]
    )
