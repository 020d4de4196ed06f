"""Account forms. Rules live in the services; forms check shape and carry CSRF."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class LoginForm(FlaskForm):
    login = StringField("Username or email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField("Keep me logged in on this device")
    next = HiddenField()


class RegisterForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=32)])
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    invite = StringField("Invite code", validators=[Optional(), Length(max=64)])


class FinishRegistrationForm(FlaskForm):
    password = PasswordField("Password (at least 10 characters)", validators=[DataRequired()])


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password (at least 10 characters)", validators=[DataRequired()])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField(
        "New password (at least 10 characters)", validators=[DataRequired()]
    )


class ProfileForm(FlaskForm):
    signature = StringField("Signature line", validators=[Optional(), Length(max=200)])
    bio = TextAreaField("About me (Markdown)", validators=[Optional(), Length(max=5000)])
    timezone = StringField("Time zone", validators=[Optional(), Length(max=64)])


class LogoutEverywhereForm(FlaskForm):
    pass
