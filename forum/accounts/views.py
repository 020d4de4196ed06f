"""Account pages: thin wrappers over accounts.services."""

from __future__ import annotations

from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from .. import hooks, i18n, permissions
from .. import settings as site_settings
from ..errors import ForumError
from ..extensions import csrf, limiter
from ..i18n import gettext as _
from ..i18n import ngettext
from ..web import absolute_url_for, error_response, form_error, origin_checker, redirect_back
from . import bp, services
from .forms import (
    ChangePasswordForm,
    FinishRegistrationForm,
    ForgotPasswordForm,
    LoginForm,
    LogoutEverywhereForm,
    ProfileForm,
    RegisterForm,
    ResetPasswordForm,
)


def _login_limit() -> str:
    return str(current_app.config["RATELIMIT_LOGIN"])


def _register_limit() -> str:
    return str(site_settings.get("register_rate_limit"))


DEVICE_COOKIE = "forum_device"
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
            login_user(user, remember=form.remember.data)
            flash(_("Welcome back, %(username)s.", username=user.username), "success")
            if signed_in.earlier_failures:
                n = signed_in.earlier_failures
                flash(
                    ngettext(
                        "%(num)s failed sign-in to your account since your last visit. If that "
                        "was not you, your password held; choose a long one that you use "
                        "nowhere else.",
                        "%(num)s failed sign-ins to your account since your last visit. If that "
                        "was not you, your password held; choose a long one that you use "
                        "nowhere else.",
                        n,
                    ),
                    "warning",
                )
            response = redirect_back(form.next.data, url_for("sigs.index"))
            _remember_device(response, user)
            return response
    if form.errors and status == 200:
        status = 400
    response = make_response(render_template("accounts/login.html", form=form), status)
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


def _link_for(endpoint: str) -> services.TokenLink:
    """Links that carry a token, for a mail written by a job (forum.jobs): the address is
    worked out here, where the request is."""
    slot = "TOKEN"
    head, _, tail = absolute_url_for(endpoint, token=slot).rpartition(slot)
    return services.TokenLink(head, tail)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"])
def register() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("sigs.index"))
    form = RegisterForm()
    if request.method == "GET":
        form.started.data = services.form_stamp()
    if form.validate_on_submit():
        try:
            services.check_form_defences(
                form.website.data or "", form.started.data or "", request.remote_addr
            )
            services.sign_up(
                form.username.data,
                form.email.data,
                form.invite.data or "",
                _link_for("accounts.finish_registration"),
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
            login_user(user)
            # The language they registered in: their mail and live notices use it (settings
            # change it, or hand it back to the browser).
            services.set_language(user, i18n.language())
            flash(
                _("Welcome, %(username)s! Join a SIG to start posting.", username=user.username),
                "success",
            )
            response = redirect(url_for("sigs.index"))
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
    return request.form.get("action") != "password"


def _account_key() -> str:
    return f"account:{current_user.get_id()}"


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
    profile = ProfileForm(prefix="profile", obj=None)
    password = ChangePasswordForm(prefix="password")
    everywhere = LogoutEverywhereForm(prefix="everywhere")
    if request.method == "GET":
        profile.signature.data = user.signature
        profile.bio.data = user.bio_raw
        profile.timezone.data = user.timezone
        profile.language.data = user.language or ""
    status = 200
    action = request.form.get("action")
    if request.method == "POST":
        if action == "profile" and profile.validate_on_submit():
            try:
                services.update_profile(
                    user,
                    signature=profile.signature.data or "",
                    bio=profile.bio.data or "",
                    timezone=profile.timezone.data or "UTC",
                    language=profile.language.data or None,
                )
            except ForumError as exc:
                form_error(profile, exc)
            else:
                flash(_("Your profile is saved."), "success")
                return redirect(url_for("accounts.settings"))
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
        elif action == "everywhere" and everywhere.validate_on_submit():
            services.revoke_sessions(user)
            logout_user()
            flash(_("You are logged out everywhere."), "info")
            return redirect(url_for("accounts.login"))
        status = 400
    return (
        render_template(
            "accounts/settings.html",
            profile=profile,
            password=password,
            everywhere=everywhere,
            settings_sections=hooks.settings_sections.get(),
        ),
        status,
    )


def _same_origin() -> bool:
    """Whether the browser says this request came from one of the forum's own pages (its
    Origin, checked as the Socket.IO handshake's is)."""
    return origin_checker(current_app.config)(request.headers.get("Origin"), request.environ)


@bp.route("/language", methods=["POST"])
@csrf.exempt  # checked below: a member's form token, or a guest's same-origin browser
def language() -> Any:
    """The language menu at the foot of every page: one click, no JavaScript, no URL prefix.

    A guest's page carries no form token (it would cost guests the page cache, forum.pagecache),
    so a guest's switch is checked by the browser's Origin instead; a member's by the token, and
    the choice is kept on their account too."""
    if current_user.is_authenticated:
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as exc:
            raise CSRFError(str(exc)) from exc
    elif not _same_origin():
        raise CSRFError("The language form did not come from this site.")
    code = i18n.known(request.form.get("language"))
    if code is None:
        abort(400)
    if current_user.is_authenticated:
        services.set_language(current_user._get_current_object(), code)
    response = redirect_back(request.form.get("next"), url_for("sigs.index"))
    response.set_cookie(
        i18n.LANGUAGE_COOKIE,
        code,
        max_age=i18n.COOKIE_MAX_AGE,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
    )
    return response


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


@bp.route("/u/<username>")
def profile(username: str) -> Any:
    from . import queries

    page = queries.profile_page(current_user, username)
    return render_template(
        "accounts/profile.html",
        page=page,
        # Other features' parts of the page (forum.messages: "Send private mail", ignore).
        profile_sections=hooks.profile_sections.get(),
    )
