"""Account pages: thin wrappers over accounts.services."""

from __future__ import annotations

import functools
import io
import json
import time
import zipfile
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from .. import hooks, i18n, permissions, ratelimits, theme
from .. import settings as site_settings
from ..errors import ForumError, NotFound
from ..extensions import csrf, limiter
from ..i18n import gettext as _
from ..i18n import ngettext
from ..timeutil import utcnow
from ..web import (
    absolute_url_for,
    error_response,
    form_error,
    origin_checker,
    redirect_back,
    safe_next,
)
from . import bp, deletion, former, queries, retired, services, two_factor
from .forms import (
    ChangePasswordForm,
    DeleteAccountForm,
    DisableTwoFactorForm,
    EmailChangeForm,
    EnableTwoFactorForm,
    ExportDataForm,
    FinishRegistrationForm,
    ForgotPasswordForm,
    LoginForm,
    LogoutEverywhereForm,
    ProfileForm,
    RecoveryCodesForm,
    RegisterForm,
    ResetPasswordForm,
    TwoFactorLoginForm,
)


def _login_limit() -> str:
    return str(current_app.config["RATELIMIT_LOGIN"])


def _register_limit() -> str:
    return str(site_settings.get("register_rate_limit"))


DEVICE_COOKIE = "forum_device"
# A browser where the member chose "remember this device for 30 days" at the code step.
TWO_FACTOR_COOKIE = "forum_2fa_device"
# The session key of a sign-in whose password passed and whose code is still to come (the
# session cookie is signed), and how long it waits for the code.
PENDING_2FA = "pending_2fa"
PENDING_2FA_SECONDS = 600
# The console and the moderation pages (the "sysops must use two-factor" site setting).
SYSOP_PATHS = ("/admin", "/mod")
# The blueprints whose POSTs write posts and topics: refused from a blocked address range.
POSTING_BLUEPRINTS = frozenset({"topics"})


@bp.before_app_request
def refuse_blocked_networks() -> Any:
    """Posting from a blocked address range (a site setting) is refused, whoever asks."""
    if request.method != "POST" or request.blueprint not in POSTING_BLUEPRINTS:
        return None
    problem = permissions.network_problem(permissions.actor(current_user), request.remote_addr)
    if problem is None:
        return None
    current_app.logger.warning(
        "posting refused (blocked address range) from %s to %s", request.remote_addr, request.path
    )
    return error_response(403, str(problem))


@bp.after_app_request
def note_page_language(response: Any) -> Any:
    """A member's page read in another language than the one noted for them: noted, for their
    mail and live notices (i18n.language_of). Pages only (not the API's JSON, feeds or files:
    a client without the browser's Accept-Language is not the reader's choice); guests never."""
    if (
        request.method == "GET"
        and response.status_code == 200
        and response.mimetype == "text/html"
        and current_user.is_authenticated
    ):
        services.note_page_language(current_user._get_current_object(), i18n.language())
    return response


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect_back(request.args.get("next"), url_for("sigs.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    status = 200
    retry_after = None
    if form.validate_on_submit():
        try:
            signed_in = services.authenticate(
                form.login.data,
                form.password.data,
                trusted_device_for=services.device_user_id(request.cookies.get(DEVICE_COOKIE)),
                ip=request.remote_addr,
            )
        except ForumError as exc:
            status = form_error(form, exc)
            retry_after = getattr(exc, "retry_after", None)
        else:
            user = signed_in.user
            if user.has_two_factor and not two_factor.remembered(
                user, request.cookies.get(TWO_FACTOR_COOKIE)
            ):
                # Not logged in yet: the password passed, the code is still to come.
                session[PENDING_2FA] = {
                    "u": user.id,
                    "t": user.session_token,
                    "r": bool(form.remember.data),
                    "n": form.next.data or "",
                    "e": signed_in.earlier_failures,
                    "at": int(time.time()),
                }
                return redirect(url_for("accounts.login_code"))
            return _complete_login(
                user, bool(form.remember.data), form.next.data, signed_in.earlier_failures
            )
    if form.errors and status == 200:
        status = 400
    response = make_response(render_template("accounts/login.html", form=form), status)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _start_session(user: Any, remember: bool) -> None:
    """Log the member in on this browser: a row in their list of sessions, then the cookie
    (which carries the row's id). A sign-in from a browser the member never signed in on
    (no device cookie of theirs) mails them an alert, unless it is their very first."""
    new_device = services.device_user_id(request.cookies.get(DEVICE_COOKIE)) != user.id
    signed_in_before = user.last_login_at is not None
    # The alert speaks the language the member read the forum in before this sign-in: the new
    # browser's, noted just below, may be a stranger's (a German member's alert was Spanish).
    known_language = i18n.language_of(user, i18n.page_language(user))
    row = services.open_session(
        user,
        request.headers.get("User-Agent"),
        request.remote_addr,
        language=i18n.page_language(user),
    )
    login_user(user, remember=remember)
    for signed_in in hooks.signed_in.get():
        signed_in(user)
    if new_device and signed_in_before and current_app.config.get("LOGIN_ALERTS"):
        services.alert_new_device(user, row, known_language)


def _complete_login(user: Any, remember: bool, next_url: str | None, earlier: int) -> Any:
    """Log the member in (the password, and the code when asked for, passed)."""
    _start_session(user, remember)
    flash(_("Welcome back, %(username)s.", username=user.username), "success")
    if earlier:
        flash(
            ngettext(
                "%(num)s failed sign-in to your account since your last visit. If that "
                "was not you, your password held; choose a long one that you use "
                "nowhere else.",
                "%(num)s failed sign-ins to your account since your last visit. If that "
                "was not you, your password held; choose a long one that you use "
                "nowhere else.",
                earlier,
            ),
            "warning",
        )
    response = redirect_back(next_url, url_for("sigs.index"))
    _remember_device(response, user)
    return response


def _pending_sign_in() -> tuple[Any, dict[str, Any]] | None:
    """The member whose password passed and whose code is awaited, if that is still so."""
    pending = session.get(PENDING_2FA)
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("at", 0)) > PENDING_2FA_SECONDS:
        return None
    user = services.get_member_by_id(int(pending.get("u", 0)))
    # A password change or a ban since the password step ends the sign-in.
    if user is None or user.session_token != pending.get("t") or user.is_banned:
        return None
    if not user.has_two_factor:
        return None
    return user, pending


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login_code() -> Any:
    """The second step of a sign-in with two-factor on: the code from the app."""
    found = _pending_sign_in()
    if found is None:
        session.pop(PENDING_2FA, None)
        flash(_("Log in again: the sign-in waited too long for its code."), "info")
        return redirect(url_for("accounts.login"))
    user, pending = found
    form = TwoFactorLoginForm()
    status = 200
    retry_after = None
    if form.validate_on_submit():
        try:
            kind = two_factor.check_code(user, form.code.data, request.remote_addr)
        except ForumError as exc:
            status = form_error(form, exc)
            retry_after = getattr(exc, "retry_after", None)
        else:
            session.pop(PENDING_2FA, None)
            response = _complete_login(user, bool(pending["r"]), pending["n"], int(pending["e"]))
            if form.remember_device.data:
                response.set_cookie(
                    TWO_FACTOR_COOKIE,
                    two_factor.remember_token(user),
                    max_age=two_factor.REMEMBER_SECONDS,
                    secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
                    httponly=True,
                    samesite="Lax",
                )
            if kind == "recovery":
                left = two_factor.recovery_codes_left(user)
                flash(
                    ngettext(
                        "You used a recovery code: it will not work again. %(num)s is left; "
                        "make new ones in your settings.",
                        "You used a recovery code: it will not work again. %(num)s are left; "
                        "make new ones in your settings if you run short.",
                        left,
                    ),
                    "warning",
                )
            return response
    if form.errors and status == 200:
        status = 400
    response = make_response(render_template("accounts/login_code.html", form=form), status)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _remember_device(response: Any, user: Any) -> None:
    """Mark this browser as one the member signed in on: the per-account slow-down after failed
    sign-ins does not hold it back (so nobody can keep a member out by failing for them)."""
    response.set_cookie(
        DEVICE_COOKIE,
        services.device_token(user),
        max_age=int(current_app.config["LOGIN_DEVICE_MAX_AGE"]),
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite="Lax",
    )


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    if current_user.is_authenticated:
        # Logging out ends every copy of the session cookie, not just this browser's.
        services.revoke_sessions(current_user._get_current_object())
        logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("sigs.index"))


def _link_for(endpoint: str, next_url: str | None = None) -> services.TokenLink:
    """Links that carry a token, for a mail written by a job (forum.jobs): the address is
    worked out here, where the request is; `next_url`, a safe local path, is where the link
    leads on to (an invite link a guest opened before registering)."""
    slot = "TOKEN"
    head, _, tail = absolute_url_for(endpoint, token=slot).rpartition(slot)
    if next_url:
        tail += "?" + urlencode({"next": next_url})
    return services.TokenLink(head, tail)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"])
def register() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("sigs.index"))
    form = RegisterForm()
    if request.method == "GET":
        form.started.data = services.form_stamp()
        form.next.data = safe_next(request.args.get("next")) or ""
    if form.validate_on_submit():
        try:
            services.check_form_defences(
                form.website.data or "", form.started.data or "", request.remote_addr
            )
            services.sign_up(
                form.username.data,
                form.email.data,
                form.invite.data or "",
                _link_for("accounts.finish_registration", safe_next(form.next.data)),
                language=i18n.language(),
                ip=request.remote_addr,
            )
        except ForumError as exc:
            form_error(form, exc)
            if form.website.data or not services.form_stamp_valid(form.started.data or ""):
                # What was typed stays; the honeypot is emptied and a spent stamp renewed, so
                # the next try (by a person) goes through.
                form.website.data = ""
                form.started.data = services.form_stamp()
        else:
            # The same answer whether or not the address has an account: the mail tells which.
            hours = current_app.config["REGISTRATION_LINK_MAX_AGE"] // 3600
            flash(
                _(
                    "Almost there: we sent a mail to %(address)s. Open the link in it within "
                    "%(hours)s hours to choose your password and finish registering.",
                    address=form.email.data.strip(),
                    hours=hours,
                ),
                "info",
            )
            return redirect(url_for("sigs.index"))
    return (
        render_template("accounts/register.html", form=form, mode=services.registration_mode()),
        400 if form.errors or form.form_errors else 200,
    )


@bp.route("/register/finish/<token>", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"])
def finish_registration(token: str) -> Any:
    try:
        pending = services.pending_registration(token)
    except ForumError as exc:
        flash(exc.message, "error")
        return redirect(url_for("accounts.register"))
    form = FinishRegistrationForm()
    if form.validate_on_submit():
        try:
            user = services.finish_registration(token, form.password.data, ip=request.remote_addr)
        except ForumError as exc:
            form_error(form, exc)
        else:
            # Signing in notes the language they registered in as the one they last read the
            # forum in (`users.last_locale`): their mail and live notices use it while they
            # follow their browser. Not `users.language`: that is a choice they make in their
            # settings, and would stop the pages following the browser.
            _start_session(user, False)
            flash(
                _("Welcome, %(username)s! Join a SIG to start posting.", username=user.username),
                "success",
            )
            response = redirect_back(request.args.get("next"), url_for("sigs.index"))
            _remember_device(response, user)
            return response
    return (
        render_template("accounts/finish.html", form=form, pending=pending),
        400 if form.errors or form.form_errors else 200,
    )


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def forgot_password() -> Any:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(
            form.email.data,
            _link_for("accounts.reset_password"),
            language=i18n.language(),
        )
        minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
        # The same answer whether or not the address is registered.
        flash(
            _(
                "If that address belongs to an account, a reset link is on its way. It works "
                "once, within %(minutes)s minutes.",
                minutes=minutes,
            ),
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot.html", form=form), 400 if form.errors else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def reset_password(token: str) -> Any:
    form = ResetPasswordForm()
    try:
        services.user_for_reset_token(token)
    except ForumError as exc:
        flash(exc.message, "error")
        return redirect(url_for("accounts.forgot_password"))
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except ForumError as exc:
            form_error(form, exc)
        else:
            logout_user()
            flash(_("Your password is changed. Log in with the new one."), "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/reset.html", form=form), 400 if form.errors else 200


def _not_a_password_change() -> bool:
    # Changing the address asks for the password too.
    return request.form.get("action") not in ("password", "email")


def _account_key() -> str:
    # The member's id alone: every session of the account shares the count.
    return f"account:{current_user.id}"


@bp.route("/settings", methods=["GET", "POST"])
@login_required
# Changing the password asks for the current one: as many tries as a login gets, from an
# address and for an account (a session left open must not become a way to guess it).
@limiter.limit(_login_limit, methods=["POST"], exempt_when=_not_a_password_change)
@limiter.limit(
    _login_limit, methods=["POST"], exempt_when=_not_a_password_change, key_func=_account_key
)
def settings() -> Any:
    user = current_user._get_current_object()
    action = request.form.get("action") if request.method == "POST" else None

    def sent(name: str) -> dict[str, Any]:
        # Only the form the POST came from reads it: the page's other forms show what is saved
        # (bound to a POST without their fields, they came back empty, and saving the profile
        # next wiped the signature, the bio, the zone, the language and the colours).
        return {} if action == name else {"formdata": None}

    profile = ProfileForm(prefix="profile", **sent("profile"))
    password = ChangePasswordForm(prefix="password", **sent("password"))
    everywhere = LogoutEverywhereForm(prefix="everywhere", **sent("everywhere"))
    email = EmailChangeForm(prefix="email", **sent("email"))
    if action != "profile":
        _saved_profile(profile, user)
    status = 200
    if request.method == "POST":
        if action == "profile" and profile.validate_on_submit():
            try:
                services.update_profile(
                    user,
                    signature=profile.signature.data or "",
                    bio=profile.bio.data or "",
                    timezone=profile.timezone.data or "UTC",
                    language=profile.language.data or None,
                    theme=profile.theme.data,
                    keyboard_shortcuts=bool(profile.keyboard_shortcuts.data),
                )
            except ForumError as exc:
                form_error(profile, exc)
            else:
                # Said in the language just chosen, the one the next page is in.
                i18n.refresh()
                flash(_("Your profile is saved."), "success")
                # Kept for this browser too, as the switches at the foot of the page keep them:
                # the pages stay as chosen after logging out.
                response = redirect(url_for("accounts.settings"))
                _keep_choice(response, i18n.LANGUAGE_COOKIE, i18n.known(profile.language.data))
                return _keep_choice(response, theme.THEME_COOKIE, theme.known(profile.theme.data))
        elif action == "password" and password.validate_on_submit():
            try:
                services.change_password(
                    user, password.current_password.data, password.new_password.data
                )
            except ForumError as exc:
                form_error(password, exc)
            else:
                # The token rotated: log this browser in again (keeping its remember-me cookie,
                # reissued with the new token); every other copy of the old cookies is dead.
                remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
                login_user(user, remember=remembered in request.cookies)
                flash(_("Your password is changed. Other devices have been logged out."), "success")
                return redirect(url_for("accounts.settings"))
        elif action == "email" and email.validate_on_submit():
            try:
                services.request_email_change(
                    user,
                    email.email.data,
                    email.current_password.data,
                    _link_for("accounts.confirm_email"),
                    i18n.language(),
                )
            except ForumError as exc:
                form_error(email, exc)
            else:
                flash(
                    _(
                        "A link is on its way to %(email)s. Your address changes when you open "
                        "it; until then mail keeps going to your current one.",
                        email=email.email.data.strip(),
                    ),
                    "info",
                )
                return redirect(url_for("accounts.settings", _anchor="email-heading"))
        elif action == "everywhere" and everywhere.validate_on_submit():
            services.revoke_sessions(user)
            logout_user()
            flash(_("You are logged out everywhere."), "info")
            return redirect(url_for("accounts.login"))
        status = 400
    return _settings_page(user, status, profile, password, everywhere, email)


def _settings_page(
    user: Any,
    status: int,
    profile: ProfileForm,
    password: ChangePasswordForm,
    everywhere: LogoutEverywhereForm,
    email: EmailChangeForm,
    **sections: Any,
) -> Any:
    return (
        render_template(
            "accounts/settings.html",
            profile=profile,
            password=password,
            everywhere=everywhere,
            email=email,
            sessions=services.sessions_of(user),
            current_session_id=user.__dict__.get("current_session_id"),
            end_session_form=LogoutEverywhereForm(prefix="end"),
            export_form=ExportDataForm(prefix="export"),
            settings_sections=hooks.settings_sections.get(),
            **sections,
        ),
        status,
    )


def settings_page(status: int, **sections: Any) -> Any:
    """The settings page as another feature's form sent to its own address comes back on it
    (refused: `status` 400): that form is given in `sections` (the name its section template
    reads, bound to what was sent, with its errors); the page's other forms show what is saved."""
    user = current_user._get_current_object()
    profile = ProfileForm(prefix="profile", formdata=None)
    _saved_profile(profile, user)
    return _settings_page(
        user,
        status,
        profile,
        ChangePasswordForm(prefix="password", formdata=None),
        LogoutEverywhereForm(prefix="everywhere", formdata=None),
        EmailChangeForm(prefix="email", formdata=None),
        **sections,
    )


def _saved_profile(profile: ProfileForm, user: Any) -> None:
    profile.signature.data = user.signature
    profile.bio.data = user.bio_raw
    profile.timezone.data = user.timezone
    profile.language.data = user.language or ""
    profile.theme.data = theme.theme()
    profile.keyboard_shortcuts.data = user.keyboard_shortcuts


@bp.route("/settings/data", methods=["POST"])
@login_required
@ratelimits.export
def export_data() -> Any:
    """ "Download my data": a ZIP of JSON files with everything the forum keeps of the member
    (accounts.queries.account_export), made on the spot and kept by no cache."""
    if not ExportDataForm(prefix="export").validate_on_submit():
        abort(400)
    user = current_user._get_current_object()
    export = queries.account_export(user)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, part in export.items():
            archive.writestr(name, json.dumps(part, ensure_ascii=False, indent=2, default=str))
    stamp = utcnow().strftime("%Y%m%d")
    response = make_response(buffer.getvalue())
    response.headers["Content-Type"] = "application/zip"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{user.username}-data-{stamp}.zip"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/settings/delete", methods=["GET", "POST"])
@login_required
# The password (and a code) is asked: as many tries as a login gets, per address and account.
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_account_key)
def delete_account() -> Any:
    """Delete my account: what happens, in plain words; the password (and the two-factor code
    when it is on) confirms. Then the member is logged out and told it is done."""
    user = current_user._get_current_object()
    form = DeleteAccountForm(prefix="delete")
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                deletion.delete_account(user, form.password.data, form.code.data or "")
            except ForumError as exc:
                status = form_error(form, exc)
            else:
                logout_user()
                session.clear()
                return redirect(url_for("accounts.account_deleted"))
        else:
            status = 400
    response = make_response(
        render_template(
            "accounts/delete.html",
            form=form,
            needs_code=user.has_two_factor,
            problem=permissions.account_deletion_problem(user),
        ),
        status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/account/deleted")
def account_deleted() -> Any:
    """Where a deleted account lands (signed out): it is done, and what that means."""
    return render_template("accounts/deleted.html")


@bp.route("/settings/email/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def confirm_email(token: str) -> Any:
    """The link mailed to a new address: GET asks (a mail scanner's visit changes nothing),
    the button's POST uses the address. No login needed: the signed link is the proof."""
    form = LogoutEverywhereForm()
    try:
        pending = services.pending_email_change(token)
    except ForumError as exc:
        return render_template("accounts/confirm_email.html", error=exc.message), 400
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            services.confirm_email_change(token)
        except ForumError as exc:
            return render_template("accounts/confirm_email.html", error=exc.message), 400
        flash(_("Your email address is now %(email)s.", email=pending.email), "success")
        if current_user.is_authenticated:
            return redirect(url_for("accounts.settings", _anchor="email-heading"))
        return redirect(url_for("accounts.login"))
    return render_template("accounts/confirm_email.html", form=form, email=pending.email)


@bp.route("/settings/mail/resume", methods=["POST"])
@login_required
def resume_mail() -> Any:
    """The banner's button after bounces stopped mail: send it again."""
    if not LogoutEverywhereForm().validate_on_submit():
        abort(400)
    services.resume_mail(current_user._get_current_object())
    flash(_("Mail to your address is on again."), "success")
    return redirect_back(request.form.get("next"), url_for("accounts.settings"))


@bp.route("/settings/two-factor", methods=["GET", "POST"])
@login_required
@limiter.limit(_login_limit, methods=["POST"])
def two_factor_settings() -> Any:
    """Turn two-factor sign-in on (scan, confirm with a code, get the recovery codes once) or
    off (password and a code), or make new recovery codes."""
    user = current_user._get_current_object()
    enable = EnableTwoFactorForm(prefix="enable")
    disable = DisableTwoFactorForm(prefix="disable")
    codes_form = RecoveryCodesForm(prefix="codes")
    action = request.form.get("action")
    status = 200
    new_codes: list[str] | None = None
    if request.method == "POST":
        try:
            if action == "enable" and enable.validate_on_submit():
                secret = session.get("two_factor_setup")
                if not isinstance(secret, str):
                    return redirect(url_for("accounts.two_factor_settings"))
                new_codes = two_factor.enable(user, secret, enable.code.data)
                session.pop("two_factor_setup", None)
                # The password and secret changed the fingerprint: this browser stays in.
                flash(_("Two-factor sign-in is on."), "success")
            elif action == "disable" and disable.validate_on_submit():
                two_factor.disable(user, disable.password.data, disable.code.data)
                flash(_("Two-factor sign-in is off."), "info")
                return redirect(url_for("accounts.two_factor_settings"))
            elif action == "codes" and codes_form.validate_on_submit():
                new_codes = two_factor.regenerate_recovery_codes(user, codes_form.code.data)
                flash(_("New recovery codes are made; the old ones no longer work."), "success")
            else:
                status = 400
        except ForumError as exc:
            form = {"enable": enable, "disable": disable, "codes": codes_form}.get(action or "")
            status = form_error(form, exc) if form is not None else 400
    setup = None
    if not user.has_two_factor and new_codes is None:
        secret = session.get("two_factor_setup")
        if not isinstance(secret, str):
            secret = two_factor.new_secret()
            session["two_factor_setup"] = secret
        uri = two_factor.provisioning_uri(user, secret)
        setup = {"secret": secret, "qr": two_factor.qr_svg(uri), "uri": uri}
    response = make_response(
        render_template(
            "accounts/two_factor.html",
            user=user,
            setup=setup,
            new_codes=new_codes,
            codes_left=two_factor.recovery_codes_left(user) if user.has_two_factor else 0,
            enable=enable,
            disable=disable,
            codes_form=codes_form,
            required=permissions.two_factor_required(user),
        ),
        status,
    )
    # The secret and the recovery codes are on this page: never kept by a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.before_app_request
def sysops_use_two_factor() -> Any:
    """With "sysops must use two-factor" on, a sysop without it sets it up before the console
    or the moderation pages."""
    path = request.path
    if not any(path == p or path.startswith(p + "/") for p in SYSOP_PATHS):
        return None
    if not permissions.two_factor_missing(permissions.actor(current_user)):
        return None
    flash(_("Sysops must use two-factor sign-in here: set it up to go on."), "warning")
    return redirect(url_for("accounts.two_factor_settings"))


@bp.route("/settings/sessions/<int:session_id>/end", methods=["POST"])
@login_required
def end_session(session_id: int) -> Any:
    """Log out one session from the settings' list (this browser's too, if it is chosen)."""
    user = current_user._get_current_object()
    if not LogoutEverywhereForm(prefix="end").validate_on_submit():
        abort(400)
    this_one = session_id == user.__dict__.get("current_session_id")
    try:
        services.end_session(user, session_id)
    except ForumError as exc:
        flash(exc.message, "error")
        return redirect(url_for("accounts.settings"))
    if this_one:
        logout_user()
        flash(_("You are logged out."), "info")
        return redirect(url_for("accounts.login"))
    flash(_("That session is logged out."), "success")
    return redirect(url_for("accounts.settings") + "#sessions-heading")


def _same_origin() -> bool:
    """Whether the browser says this request came from one of the forum's own pages (its
    Origin, checked as the Socket.IO handshake's is)."""
    return origin_checker(current_app.config)(request.headers.get("Origin"), request.environ)


def _check_footer_form(what: str) -> None:
    """The footer's language and colour forms: a member's by their form token; a guest's by
    the browser's Origin, as a guest's cached page carries no token (forum.pagecache)."""
    if current_user.is_authenticated:
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as exc:
            raise CSRFError(str(exc)) from exc
    elif not _same_origin():
        raise CSRFError(f"The {what} form did not come from this site.")


def _back_with_cookie(name: str, value: str) -> Any:
    """Back to the page the footer form was sent from, the choice kept in a cookie."""
    return _keep_choice(redirect_back(request.form.get("next"), url_for("sigs.index")), name, value)


def _back_with_flash(message: str) -> Any:
    """Back to the page the footer form was sent from, saying why nothing changed: a value the
    menu does not offer (a page from before a language or scheme went, a hand-made request) is
    the reader's slip, not a bad request to answer with an error page."""
    flash(message, "error")
    return redirect_back(request.form.get("next"), url_for("sigs.index"))


def _keep_choice(response: Any, name: str, value: str | None) -> Any:
    """A reader's language or colours kept in a cookie for a year (a guest's only record of the
    choice; a member's survives logging out), or forgotten when `value` is None ("automatic")."""
    secure = bool(current_app.config.get("SESSION_COOKIE_SECURE"))
    if value is None:
        response.delete_cookie(name, samesite="Lax", secure=secure, httponly=True)
    else:
        response.set_cookie(
            name, value, max_age=i18n.COOKIE_MAX_AGE, samesite="Lax", secure=secure, httponly=True
        )
    return response


@bp.route("/language", methods=["POST"])
@csrf.exempt  # checked below: a member's form token, or a guest's same-origin browser
def language() -> Any:
    """The language menu at the foot of every page: one click, no JavaScript, no URL prefix.

    A guest's page carries no form token (it would cost guests the page cache, forum.pagecache),
    so a guest's switch is checked by the browser's Origin instead; a member's by the token, and
    the choice is kept on their account too."""
    _check_footer_form("language")
    code = i18n.known(request.form.get("language"))
    if code is None:
        return _back_with_flash(
            _(
                "That language is not offered here. Choose one of these: %(languages)s.",
                languages=", ".join(i18n.LANGUAGES.values()),
            )
        )
    if current_user.is_authenticated:
        services.set_language(current_user._get_current_object(), code)
    return _back_with_cookie(i18n.LANGUAGE_COOKIE, code)


@bp.route("/theme", methods=["POST"])
@csrf.exempt  # checked below, as the language menu is: a member's token, a guest's Origin
def choose_theme() -> Any:
    """The colour switch at the foot of every page (light, dark, system): one click, no
    JavaScript. Checked as the language menu is, and for the same reason: a guest's cached page
    has no form token to give. A member's choice is kept on their account, a guest's in a
    cookie. forum.js sends the same form and only reads the status."""
    _check_footer_form("colour")
    code = theme.known(request.form.get("theme"))
    if code is None:
        return _back_with_flash(_("Choose Light, Dark or System."))
    if current_user.is_authenticated:
        services.set_theme(current_user._get_current_object(), code)
    return _back_with_cookie(theme.THEME_COOKIE, code)


@bp.route("/settings/timezone", methods=["POST"])
@login_required
def detect_timezone() -> Any:
    """forum.js sends the browser's time zone once (members whose zone is not set yet)."""
    try:
        taken = services.detect_timezone(
            current_user._get_current_object(), request.form.get("timezone", "")[:64]
        )
    except ForumError as exc:
        return jsonify({"error": {"status": 400, "message": exc.message}}), 400
    return jsonify({"timezone": current_user.timezone, "taken": taken})


def _gone_members_answer_410(view: Callable[[str], Any]) -> Callable[[str], Any]:
    """A member's page, or 410 Gone for a deleted account: its placeholder `former-<id>`, and its
    old name (older posts still link "@ada" to /u/ada), asked of the retired names only when no
    member has the name."""

    @functools.wraps(view)
    def page(username: str) -> Any:
        if former.is_former(username):
            return _former_member()
        try:
            return view(username)
        except NotFound:
            if retired.is_retired(username):
                return _former_member()
            raise

    return page


@bp.route("/u/<username>/card")
@_gone_members_answer_410
def card(username: str) -> Any:
    """A member's card: a small page of its own, or (?fragment=1, for the script that opens it
    on their name) the card alone."""
    from . import queries

    data = queries.member_card(current_user, username)
    sections = hooks.member_card_sections.get()
    if request.args.get("fragment") == "1":
        response = make_response(
            render_template("accounts/_card.html", card=data, sections=sections)
        )
        response.headers["Cache-Control"] = "private, no-store"
        return response
    return render_template("accounts/card.html", card=data, sections=sections)


@bp.route("/u/<username>")
@_gone_members_answer_410
def profile(username: str) -> Any:
    from . import queries

    page = queries.profile_page(current_user, username)
    return render_template(
        "accounts/profile.html",
        page=page,
        # Other features' parts of the page (forum.messages: "Send private mail", ignore).
        profile_sections=hooks.profile_sections.get(),
    )


def _former_member() -> Any:
    """A deleted account's address: 410 Gone, not a 404, since someone was there and left on
    purpose (a search engine drops the address, a reader learns why the name went)."""
    page = render_template(
        "errors/error.html",
        status=410,
        title=former.former_label(),
        message=_(
            "This member deleted their account. Their posts stay in their threads, under "
            "the name “%(name)s”.",
            name=former.former_label(),
        ),
    )
    return page, 410
