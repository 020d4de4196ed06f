"""Account verbs: register, authenticate, change and reset passwords, edit profiles."""

from __future__ import annotations

import hashlib
import logging
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import bindparam, delete, func, lambda_stmt, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from .. import blocklist, content, events, hooks, jobs, permissions, settings
from ..db import transaction
from ..errors import Conflict, Invalid, NotFound, SlowDown, require_at_most
from ..extensions import db
from ..i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    force_locale,
    gettext,
    language_of,
    lazy_ngettext,
    moment_for,
    said_reason,
)
from ..i18n import known as known_language
from ..i18n import lazy_gettext as _l
from ..mail import send_mail
from ..storage_faults import convenience_write
from ..theme import known as known_theme
from ..timeutil import utcnow, zone_or_utc
from . import retired
from .former import FORMER_PREFIX, is_former
from .models import (
    APPROVED,
    PENDING,
    ROLE_SYSOP,
    TL_NEW,
    TRUST_LEVELS,
    LoginThrottle,
    User,
    UserSession,
    new_session_token,
)

log = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[A-Za-z0-9_-]{3,32}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
# Werkzeug's method string; PASSWORD_HASH_METHOD may tune scrypt's work factor (tests lower it).
DEFAULT_PASSWORD_METHOD = "scrypt"
# Real hashes to check against when the member does not exist, so timing reveals nothing.
_DUMMY_HASHES: dict[str, str] = {}


@dataclass(frozen=True)
class TokenLink:
    """A link that carries a token, worked out in the request (the address is the site's, see
    forum.web.absolute_url_for) and completed in the mail job: `link(token)`. Plain strings, so
    it goes through the job queue."""

    head: str
    tail: str = ""

    def __call__(self, token: str) -> str:
        return f"{self.head}{token}{self.tail}"


def _mail_key(what: str) -> str:
    """A fresh idempotency key for one mail job (forum.mail.send_mail): made in the request,
    the same kind of value whatever the address."""
    return f"{what}:{secrets.token_hex(12)}"


def _password_method() -> str:
    return str(current_app.config.get("PASSWORD_HASH_METHOD") or DEFAULT_PASSWORD_METHOD)


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=_password_method())


def _dummy_hash() -> str:
    method = _password_method()
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash("not-a-real-password", method=method)
    return _DUMMY_HASHES[method]


RETIRED_MESSAGE = _l("That name belonged to an account that was deleted. Please choose another.")


def _check_username(username: str) -> str:
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise Invalid(
            "username", _l("Use 3 to 32 letters, digits, underscores or hyphens, without spaces.")
        )
    if username.lower().startswith(FORMER_PREFIX):  # deleted accounts' names (accounts.former)
        raise Invalid("username", _l("That name is kept for deleted accounts."))
    if retired.is_retired(username):  # a deleted account's old name (accounts.retired)
        raise Invalid("username", RETIRED_MESSAGE)
    return username


def _check_email(email: str) -> str:
    email = email.strip()
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise Invalid("email", _l("Enter a valid email address."))
    return email


# --- registration defences: a honeypot, a minimum fill time, blocked domains and networks ----
def _form_stamp_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="register-form-stamp")


def form_stamp() -> str:
    """A signed timestamp for the registration form: when it was handed out."""
    return _form_stamp_serializer().dumps(int(utcnow().timestamp() * 1000))


def form_stamp_valid(stamp: str) -> bool:
    """Whether a form's timestamp is genuine and not too old (it may still be too recent)."""
    try:
        _form_stamp_serializer().loads(
            stamp, max_age=int(current_app.config["REGISTER_FORM_MAX_AGE"])
        )
    except BadSignature:
        return False
    return True


def check_form_defences(honeypot: str, stamp: str, ip: str | None) -> None:
    """Refuse a registration form filled in by a program: the hidden "leave this empty" field
    filled in, or sent sooner than REGISTER_MIN_SECONDS after the form was handed out (by its
    signed timestamp). Each refusal is logged with its reason and the client's address."""
    if (honeypot or "").strip():
        log.warning("registration refused (the honeypot field was filled in) from %s", ip)
        raise Invalid(
            None,
            _l(
                "The form came with the hidden field “Leave this empty” filled in, as programs "
                "do. It is cleared now: check what you typed and send the form again."
            ),
        )
    minimum = float(current_app.config.get("REGISTER_MIN_SECONDS") or 0)
    if minimum <= 0:
        return
    try:
        issued_ms = _form_stamp_serializer().loads(
            stamp or "", max_age=int(current_app.config["REGISTER_FORM_MAX_AGE"])
        )
    except SignatureExpired as exc:
        log.warning("registration refused (the form was too old) from %s", ip)
        raise Invalid(
            None, _l("This form was open for too long. Check what you typed and send it again.")
        ) from exc
    except BadSignature as exc:
        log.warning("registration refused (no valid form timestamp) from %s", ip)
        raise Invalid(
            None, _l("This form could not be checked. Check what you typed and send it again.")
        ) from exc
    elapsed = utcnow().timestamp() - int(issued_ms) / 1000
    if elapsed < minimum:
        log.warning(
            "registration refused (sent %.1f s after the form was shown) from %s", elapsed, ip
        )
        raise Invalid(
            None,
            _l(
                "That was faster than a person fills in this form, so we took it for a program. "
                "Wait a few seconds, then send it again: what you typed is kept."
            ),
        )


def is_disposable(email: str) -> bool:
    """Whether an address is at a throwaway-mail service (the maintained list in the
    disposable-email-domains package), a subdomain of one too."""
    from disposable_email_domains import blocklist as disposable

    try:
        domain = blocklist.normalize_domain(email)
    except ValueError:
        return False
    labels = domain.split(".")
    return any(".".join(labels[i:]) in disposable for i in range(len(labels) - 1))


def check_email_allowed(email: str, ip: str | None = None) -> None:
    """Invalid when the address's domain is blocked, or is disposable while those are refused."""
    if permissions.email_blocked(email):
        log.warning("registration refused (blocked email domain) from %s", ip)
        raise Invalid(
            "email", _l("Addresses at this domain cannot be used on this forum. Use another one.")
        )
    if settings.get_int("block_disposable") and is_disposable(email):
        log.warning("registration refused (disposable email address) from %s", ip)
        raise Invalid(
            "email",
            _l("Throwaway addresses are not accepted here. Use an address that you keep."),
        )


def check_network_allowed(ip: str | None, doing: str = "register") -> None:
    """Invalid when the client's address is in a blocked range."""
    if not permissions.address_blocked(ip):
        return
    log.warning("%s refused (blocked address range) from %s", doing, ip)
    if doing == "register":
        raise Invalid(None, _l("Registration from your network is not possible on this forum."))
    raise Invalid(None, _l("Logging in from your network is not possible on this forum."))


def _check_password(password: str, field: str = "password") -> str:
    if len(password) < MIN_PASSWORD:
        raise Invalid(
            field, _l("Use at least %(MIN_PASSWORD)s characters.", MIN_PASSWORD=MIN_PASSWORD)
        )
    if len(password) > MAX_PASSWORD:
        raise Invalid(
            field, _l("Use at most %(MAX_PASSWORD)s characters.", MAX_PASSWORD=MAX_PASSWORD)
        )
    return password


def find_by_username(username: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def register_member(
    username: str, email: str, password: str, *, role: str = "member", trust_level: int = TL_NEW
) -> User:
    """Create an account (at `trust_level`: new, as registering makes it, unless the caller
    knows better, e.g. the demo's members). Names and addresses are unique without regard to
    case."""
    username = _check_username(username)
    email = _check_email(email)
    _check_password(password)
    if trust_level not in TRUST_LEVELS:
        raise Invalid("trust_level", _l("Choose a trust level."))
    password_hash = hash_password(password)  # slow on purpose: before the write lock
    return _create_member(username, email, password_hash, role=role, trust_level=trust_level)


def _create_member(
    username: str,
    email: str,
    password_hash: str,
    *,
    role: str = "member",
    invite_code: str = "",
    trust_level: int = TL_NEW,
) -> User:
    try:
        with transaction() as session:
            if find_by_username(username):
                raise Conflict(_l("That username is taken."), field="username")
            if retired.is_retired(username):  # retired after the registration link was sent
                raise Conflict(RETIRED_MESSAGE, field="username")
            if find_by_email(email):
                raise Conflict(
                    _l("An account with that email address already exists."), field="email"
                )
            user = User(
                username=username,
                email=email,
                password_hash=password_hash,
                role=role,
                preferences={},
                # Registration's link proved the address (and `create-sysop`'s operator typed it).
                email_verified_at=utcnow(),
                approval=PENDING if role != ROLE_SYSOP and approval_required() else APPROVED,
                trust_level=trust_level,
            )
            session.add(user)
            session.flush()
            if invite_code:
                hooks.consume_invite.get()(invite_code, user.id)
            events.publish(events.MemberRegistered(user_id=user.id))
    except IntegrityError as exc:
        # Another registration took the name or address between our check and the insert.
        raise Conflict(
            _l("That username or email address was just taken."), field="username"
        ) from exc
    return user


def approval_required() -> bool:
    """Whether new accounts wait for a sysop's approval (a site setting; default off)."""
    return bool(settings.get_int("account_approval"))


def registration_mode() -> str:
    """ "open", "invite" or "closed": a site setting the console plugs in (default open)."""
    return hooks.registration_mode.get()()


def _check_registration_open(invite_code: str) -> str:
    mode = registration_mode()
    if mode == "closed":
        raise Invalid(None, _l("Registration is closed at the moment."))
    if mode == "invite":
        invite_code = invite_code.strip()
        if not invite_code:
            raise Invalid("invite", _l("Registration is by invitation: enter your invite code."))
        hooks.check_invite.get()(invite_code)
        return invite_code
    return ""


def sign_up(
    username: str,
    email: str,
    invite_code: str,
    link_for: TokenLink,
    language: str = DEFAULT_LANGUAGE,
    *,
    ip: str | None = None,
) -> None:
    """Registration from the web, first step: the same answer whether or not the address is
    registered. Nothing is created yet; a mail goes to the address either way (a job, off the
    request): a link to finish registering (choose a password), or, when the address already
    has an account, a note saying so. Only a taken username is said here: usernames are public.
    """
    invite_code = _check_registration_open(invite_code)
    check_network_allowed(ip)
    username = _check_username(username)
    email = _check_email(email)
    check_email_allowed(email, ip)
    if find_by_username(username):
        raise Conflict(_l("That username is taken."), field="username")
    jobs.enqueue(
        mail_registration, username, email, invite_code, link_for, language, _mail_key("register")
    )


def _registration_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="registration")


@jobs.job(stale_after="REGISTRATION_LINK_MAX_AGE")  # a request older than its link is asked again
def mail_registration(
    username: str,
    email: str,
    invite_code: str,
    link_for: TokenLink,
    language: str = DEFAULT_LANGUAGE,
    key: str | None = None,
) -> None:
    """The mail job of a registration: a link to finish it, or "you already have an account"."""
    site = settings.get("site_name")
    existing = find_by_email(email)
    if existing is not None:
        with force_locale(language_of(existing, language)):
            subject = gettext("Your account on %(site)s", site=site)
            body = gettext(
                "Hello %(name)s,\n\nsomeone, perhaps you, tried to register on %(site)s with "
                "this address. It already belongs to your account, so nothing was created.\n\n"
                "Your username is %(name)s. If you forgot your password, ask for a new one on "
                "the login page.\n\nIf it was not you, ignore this mail.\n",
                name=existing.username,
                site=site,
            )
        send_mail(existing.email, subject, body, key=key)
        return
    token = _registration_serializer().dumps({"u": username, "e": email, "i": invite_code})
    hours = current_app.config["REGISTRATION_LINK_MAX_AGE"] // 3600
    with force_locale(language):
        subject = gettext("Finish registering on %(site)s", site=site)
        body = gettext(
            "Hello %(name)s,\n\nto finish registering on %(site)s, open this link within "
            "%(hours)s hours and choose your password:\n\n%(link)s\n\nIf it was not you, "
            "ignore this mail: nothing is created without it.\n",
            name=username,
            site=site,
            hours=hours,
            link=link_for(token),
        )
    send_mail(email, subject, body, key=key)


@dataclass(frozen=True)
class PendingRegistration:
    username: str
    email: str
    invite_code: str


def pending_registration(token: str) -> PendingRegistration:
    """What a registration link names; Invalid when it is expired, forged or already used."""
    try:
        data = _registration_serializer().loads(
            token, max_age=current_app.config["REGISTRATION_LINK_MAX_AGE"]
        )
    except SignatureExpired as exc:
        raise Invalid(None, _l("This registration link has expired. Register again.")) from exc
    except BadSignature as exc:
        raise Invalid(None, _l("This registration link is not valid. Register again.")) from exc
    pending = PendingRegistration(
        username=str(data.get("u", "")),
        email=str(data.get("e", "")),
        invite_code=str(data.get("i", "")),
    )
    if find_by_email(pending.email) is not None:
        # Only who reads the address's mail has the link: telling them is no oracle.
        raise Invalid(None, _l("This address already has an account (the link was used). Log in."))
    return pending


def finish_registration(token: str, password: str, *, ip: str | None = None) -> User:
    """Registration, second step (from the mailed link): choose the password, create the
    account and use up the invite. The blocklists are asked again: they may have grown since."""
    pending = pending_registration(token)
    check_network_allowed(ip)
    check_email_allowed(pending.email, ip)
    mode = registration_mode()
    if mode == "closed":
        raise Invalid(None, _l("Registration is closed at the moment."))
    if mode == "invite" and not pending.invite_code:
        raise Invalid(
            None, _l("Registration is by invitation now: register again with an invite code.")
        )
    _check_password(password)
    if retired.is_retired(pending.username):  # its account was deleted since the link was sent
        raise Invalid(None, RETIRED_MESSAGE)
    if find_by_username(pending.username):
        raise Invalid(
            None, _l("Someone took that username in the meantime. Register again with another one.")
        )
    password_hash = hash_password(password)  # slow on purpose: before the write lock
    return _create_member(
        pending.username,
        pending.email,
        password_hash,
        invite_code=pending.invite_code if mode == "invite" else "",
    )


def create_sysop(username: str, email: str, password: str) -> User:
    """Make a global sysop: promote an existing member, or register a new one."""
    existing = find_by_username(username)
    if existing is None:
        return register_member(username, email, password, role=ROLE_SYSOP)
    _check_password(password)
    password_hash = hash_password(password)
    with transaction():
        existing.role = ROLE_SYSOP
        # A new password ends the sessions opened with the old one, as a password change does.
        existing.password_hash = password_hash
        existing.session_token = new_session_token()
        _end_sessions(existing)
        events.publish(events.SessionsRevoked(user_id=existing.id))
    return existing


@dataclass(frozen=True)
class SignIn:
    user: User
    # Failed sign-ins to this account since its last successful one (the member is told).
    earlier_failures: int


def _throttle_key(user: User | None, login: str) -> str:
    if user is not None:
        return f"user:{user.id}"
    return "name:" + hashlib.sha256(login.lower().encode()).hexdigest()[:40]


def _wait_after(failures: int) -> int:
    """Seconds the next attempt waits after this many in a row: none for the first few, then
    1, 2, 4 … up to LOGIN_DELAY_MAX. Never a lock-out: the right password works after the wait."""
    free = int(current_app.config["LOGIN_FREE_FAILURES"])
    if failures < free:
        return 0
    return int(min(int(current_app.config["LOGIN_DELAY_MAX"]), 2 ** min(failures - free, 30)))


def _claim_attempt(key: str, trusted: bool) -> int:
    """Count this attempt (before its password is checked, so parallel guesses are counted
    too) and set when the next may come; SlowDown while this one must wait. A device the member
    signed in on before (`trusted`) is not held back, so nobody can keep a member out."""
    for _ in range(3):
        now = utcnow()
        try:
            with transaction() as session:
                row = session.scalar(
                    select(LoginThrottle)
                    .where(LoginThrottle.key == key)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
                if row is None:
                    # Forget what is a month old (names nobody has, members long gone).
                    session.execute(
                        delete(LoginThrottle).where(
                            LoginThrottle.updated_at < now - timedelta(days=30)
                        )
                    )
                    row = LoginThrottle(key=key, failures=0)
                    session.add(row)
                elif row.not_before is not None and row.not_before > now and not trusted:
                    wait = max(1, math.ceil((row.not_before - now).total_seconds()))
                    log.warning("sign-in to %s held back: %d failed in a row", key, row.failures)
                    raise SlowDown(
                        lazy_ngettext(
                            "Too many failed sign-ins to this account. "
                            "Try again in %(num)d second.",
                            "Too many failed sign-ins to this account. "
                            "Try again in %(num)d seconds.",
                            wait,
                        ),
                        retry_after=wait,
                    )
                row.failures += 1
                wait = _wait_after(row.failures)
                row.not_before = now + timedelta(seconds=wait) if wait else None
                row.updated_at = now
                return row.failures
        except IntegrityError:
            continue  # a parallel first attempt made the row: count on it
    raise SlowDown(_l("Too many sign-ins at once. Try again in a moment."), retry_after=1)


def _clear_attempts(key: str) -> int:
    """A successful sign-in: forget the attempts; how many failed before this one."""
    with transaction() as session:
        row = session.scalar(
            select(LoginThrottle)
            .where(LoginThrottle.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if row is None:
            return 0
        session.delete(row)
        return max(0, int(row.failures) - 1)  # less this attempt, counted when it began


def claim_attempt(key: str) -> int:
    """Count an attempt of another kind (a two-factor code) against this key's slow-down."""
    return _claim_attempt(key, False)


def clear_attempts(key: str) -> None:
    _clear_attempts(key)


def authenticate(
    login: str,
    password: str,
    *,
    trusted_device_for: int | None = None,
    ip: str | None = None,
) -> SignIn:
    """The member with this username or email and password; Invalid otherwise.

    Attempts per account are counted: after LOGIN_FREE_FAILURES failures in a row each next one
    waits twice as long (SlowDown), whichever addresses they come from. A name that belongs to
    nobody goes through the same steps. `trusted_device_for`: the member this browser signed in
    as before (its device cookie), who is not held back.
    """
    login = login.strip()
    user = find_by_email(login) if "@" in login else find_by_username(login)
    key = _throttle_key(user, login)
    failures = _claim_attempt(key, user is not None and user.id == trusted_device_for)
    if user is None or not check_password_hash(user.password_hash, password):
        if user is None:
            check_password_hash(_dummy_hash(), password)
        log.warning("sign-in to %s failed: %d in a row", key, failures)
        raise Invalid(None, _l("Wrong username or password."))
    earlier = _clear_attempts(key)
    if not user.is_global_sysop:
        # After the password, so these answers tell nothing to who does not know it.
        check_network_allowed(ip, "sign-in")
        if permissions.email_blocked(user.email):
            log.warning("sign-in to %s refused (blocked email domain) from %s", key, ip)
            raise Invalid(
                None,
                _l(
                    "Your email address's domain is blocked on this forum, so you cannot log in. "
                    "Write to the sysop if you think this is a mistake."
                ),
            )
    if user.is_banned:
        raise Invalid(
            None,
            _l("This account is banned: %(reason)s.", reason=said_reason(user.ban_reason))
            if user.ban_reason
            else _l("This account is banned."),
        )
    if earlier:
        log.warning("member %s signed in after %d failed attempts", user.id, earlier)
    return SignIn(user=user, earlier_failures=earlier)


# Said on the appeal form to a member who may sign in (it links the site's sysops' form).
NOT_BANNED = _l("This account is not banned: log in and write to the site's sysops.")


def banned_member(login: str, password: str) -> User:
    """A banned member proving who they are without signing in (to write to the site's sysops,
    the one thing a ban leaves them): the same password check and slow-down as a sign-in.
    Invalid when the name and password do not match, or the account is not banned."""
    login = login.strip()
    user = find_by_email(login) if "@" in login else find_by_username(login)
    key = _throttle_key(user, login)
    _claim_attempt(key, False)
    if user is None or not check_password_hash(user.password_hash, password):
        if user is None:
            check_password_hash(_dummy_hash(), password)
        raise Invalid("login", _l("Wrong username or password."))
    _clear_attempts(key)
    if not user.is_banned:
        raise Invalid("login", NOT_BANNED)
    return user


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="login-device")


def device_token(user: User) -> str:
    """For the cookie that marks a browser the member signed in on (see authenticate)."""
    return _device_serializer().dumps(user.id)


def device_user_id(token: str | None) -> int | None:
    if not token:
        return None
    try:
        value = _device_serializer().loads(
            token, max_age=current_app.config["LOGIN_DEVICE_MAX_AGE"]
        )
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


def load_session_user(session_id: str) -> User | None:
    """The member a session cookie names, if its token is still current and its session (the
    row its id names, when it names one) was not logged out."""
    user_id, _, rest = session_id.partition(":")
    token, _, row_id = rest.partition(":")
    if not user_id.isdecimal() or not token or (row_id and not row_id.isdecimal()):
        return None
    key = int(user_id)
    user: User | None
    row: UserSession | None = None
    if row_id:
        # A lambda_stmt, built once per process: every signed-in request runs it, and building
        # it cost as much CPU as running it (a hot site measured for issue 17, sixth session).
        # The member's memberships come in the same statement (permissions.with_memberships):
        # nearly every page asks for them (the header's mod queue, the SIG pages), and a second
        # statement cost 0.1 ms of CPU (bench/page_cpu.py frame_member, seventh session).
        statement = lambda_stmt(
            lambda: permissions.with_memberships(
                select(User, UserSession)
                .outerjoin(
                    UserSession,
                    (UserSession.id == bindparam("row_id")) & (UserSession.user_id == User.id),
                )
                .where(User.id == bindparam("user_id"))
            ),
            enable_tracking=False,
        )
        rows = db.session.execute(
            statement, {"row_id": int(row_id), "user_id": key, "now": utcnow()}
        ).all()
        user = rows[0][0] if rows and isinstance(rows[0][0], User) else None
        if user is not None:
            row = rows[0][1]
            permissions.remember_memberships(user, [(r[2], r[3]) for r in rows])
    else:
        user = db.session.scalar(select(User).where(User.id == key))
    if user is None or user.session_token != token or user.is_banned:
        return None
    if row_id and (row is None or row.user_id != user.id):
        return None  # logged out from the sessions list
    user.current_session_id = row.id if row is not None else None
    if row is not None:
        _touch(row)
    return user


def _touch(row: UserSession) -> None:
    """Note that the session is in use, at most every SESSION_TOUCH_SECONDS."""
    now = utcnow()
    every = int(current_app.config["SESSION_TOUCH_SECONDS"])
    if now - row.last_seen_at < timedelta(seconds=every):
        return
    convenience_write(row, {"last_seen_at": now}, "that session %s is in use", row.id)


_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def summarize_user_agent(user_agent: str | None) -> str:
    """ "Firefox on Linux": enough to tell one's own devices apart, no fingerprint."""
    ua = user_agent or ""
    browser = next((name for marker, name in _BROWSERS if marker in ua), "")
    system = next((name for marker, name in _SYSTEMS if marker in ua), "")
    if browser and system:
        return f"{browser} / {system}"
    return browser or system or ua[:40].strip() or "?"


def open_session(
    user: User, user_agent: str | None, ip: str | None, language: str | None = None
) -> UserSession:
    """A new signed-in browser of this member: a row for the settings' list; the member's
    cookies carry its id from now on (User.get_id). `language`: the one the signing-in page is
    in, noted as the one they last read the forum in (`i18n.language_of`)."""
    now = utcnow()
    stale = now - timedelta(seconds=int(current_app.config["REMEMBER_COOKIE_DURATION"]))
    with transaction() as session:
        # Sessions unused for longer than a remember-me cookie lasts cannot come back.
        session.execute(
            delete(UserSession).where(
                UserSession.user_id == user.id, UserSession.last_seen_at < stale
            )
        )
        row = UserSession(
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            user_agent=summarize_user_agent(user_agent)[:120],
            ip=(ip or "")[:45],
        )
        session.add(row)
        user.last_login_at = now
        if language is not None and user.last_locale != language:
            user.last_locale = language
        session.flush()
    user.current_session_id = row.id
    return row


def sessions_of(user: User) -> list[UserSession]:
    """The member's signed-in browsers, the most recently used first."""
    return list(
        db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id)
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )


def end_session(user: User, session_id: int) -> None:
    """Log out one of the member's sessions (from the settings' list): its cookies no longer
    sign anyone in."""
    with transaction() as session:
        row = session.get(UserSession, session_id) if session_id > 0 else None
        if row is None or row.user_id != user.id:
            raise NotFound(_l("That session has ended already."))
        session.delete(row)


def _end_sessions(user: User, keep: int | None = None) -> None:
    """Forget the member's sessions (their token rotated: the cookies are dead already), all
    but `keep` (this browser's, after a password change)."""
    stmt = delete(UserSession).where(UserSession.user_id == user.id)
    if keep:
        stmt = stmt.where(UserSession.id != keep)
    db.session.execute(stmt, execution_options={"synchronize_session": "fetch"})


def alert_new_device(user: User, session: UserSession, language: str | None = None) -> None:
    """Queue the mail telling the member of a sign-in from a browser not seen before, in
    `language`: the one the member read the forum in before this sign-in (which noted the new
    browser's as their last)."""
    jobs.enqueue(
        mail_login_alert,
        user.id,
        session.user_agent,
        session.ip,
        session.created_at.isoformat(),
        _mail_key("login-alert"),
        language,
    )


@jobs.job()
def mail_login_alert(
    user_id: int,
    device: str,
    ip: str,
    when: str,
    key: str | None = None,
    language: str | None = None,
) -> None:
    """The mail job telling a member of a sign-in from a browser not seen before. `when` is the
    sign-in's moment in ISO 8601 (jobs queued before it was kept so read "2026-12-07 08:37",
    in UTC), said in the member's language and time zone: their setting, else `language` (the
    one they read the forum in before the sign-in; jobs queued before it was passed have none),
    else the one they last read it in."""
    user = db.session.get(User, user_id)
    if user is None:
        return
    site = settings.get("site_name")
    speaks = known_language(user.language) or known_language(language) or language_of(user)
    moment = moment_for(datetime.fromisoformat(when), speaks, user.timezone)
    with force_locale(speaks):
        subject = gettext("New sign-in to your account on %(site)s", site=site)
        body = gettext(
            "Hello %(name)s,\n\nyour account on %(site)s was just signed in to from a device "
            "it was not used on before:\n\n  %(device)s, address %(ip)s, %(when)s\n\nIf "
            "that was you, there is nothing to do. If not, change your password now and log "
            "out the sessions you do not know in your settings.\n",
            name=user.username,
            site=site,
            device=device,
            ip=ip or "?",
            when=moment,
        )
    send_mail(user.email, subject, body, key=key)


def revoke_sessions(user: User) -> None:
    """End every session of this member, everywhere (logout, password change, ban)."""
    with transaction():
        user.session_token = new_session_token()
        _end_sessions(user)
        events.publish(events.SessionsRevoked(user_id=user.id))


def change_password(user: User, current: str, new: str) -> None:
    if not check_password_hash(user.password_hash, current):
        raise Invalid("current_password", _l("That is not your current password."))
    _check_password(new, "new_password")
    password_hash = hash_password(new)
    with transaction():
        user.password_hash = password_hash
        user.session_token = new_session_token()
        # This browser's session goes on (the view signs it in again); the others end.
        _end_sessions(user, keep=user.__dict__.get("current_session_id"))
        events.publish(events.SessionsRevoked(user_id=user.id))


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def _reset_fingerprint(user: User) -> str:
    # Changes with the password, so a link works once and dies with any later change.
    return hashlib.sha256(f"{user.password_hash}:{user.session_token}".encode()).hexdigest()[:24]


def make_reset_token(user: User) -> str:
    return _reset_serializer().dumps({"uid": user.id, "fp": _reset_fingerprint(user)})


def request_password_reset(
    email: str, link_for: TokenLink, language: str = DEFAULT_LANGUAGE
) -> None:
    """Mail a reset link if the address is registered. Says nothing either way, and does the
    same work either way: the job finds out, off the request. The mail is in the member's
    language (`i18n.language_of`), or in `language` (the asking page's) when the forum knows
    none: whoever asked, the mail is the owner's to read."""
    jobs.enqueue(mail_password_reset, email.strip(), link_for, language, _mail_key("reset"))


@jobs.job(stale_after="PASSWORD_RESET_MAX_AGE")  # a request older than its link is asked again
def mail_password_reset(
    email: str, link_for: TokenLink, language: str = DEFAULT_LANGUAGE, key: str | None = None
) -> None:
    """The mail job of a forgotten password: the link, to a registered address only."""
    user = find_by_email(email) if EMAIL_RE.match(email) else None
    if user is None or user.is_banned:
        return
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    link = link_for(make_reset_token(user))
    with force_locale(language_of(user, language)):
        subject = gettext("Reset your password on %(site)s", site=settings.get("site_name"))
        body = gettext(
            "Hello %(name)s,\n\nsomeone asked to reset your password. If it was you, open this "
            "link within %(minutes)s minutes:\n\n%(link)s\n\nIf it was not you, ignore this "
            "mail: your password stays as it is.\n",
            name=user.username,
            minutes=minutes,
            link=link,
        )
    send_mail(user.email, subject, body, key=key)


def user_for_reset_token(token: str) -> User:
    max_age = current_app.config["PASSWORD_RESET_MAX_AGE"]
    try:
        data = _reset_serializer().loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise Invalid(None, _l("This reset link has expired. Ask for a new one.")) from exc
    except BadSignature as exc:
        raise Invalid(None, _l("This reset link is not valid. Ask for a new one.")) from exc
    user = db.session.get(User, int(data.get("uid", 0)))
    if user is None or data.get("fp") != _reset_fingerprint(user):
        raise Invalid(None, _l("This reset link was already used. Ask for a new one."))
    return user


def reset_password(token: str, new: str) -> User:
    user = user_for_reset_token(token)
    _check_password(new, "password")
    password_hash = hash_password(new)
    with transaction() as session:
        user.password_hash = password_hash
        user.session_token = new_session_token()
        # Who reads the address's mail may sign in at once, however many guesses came before.
        session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == _throttle_key(user, ""))
            .values(not_before=None)
        )
        _end_sessions(user)
        events.publish(events.SessionsRevoked(user_id=user.id))
    return user


# Set once the member's time zone came from their browser or their own hand: the browser is asked
# only before that (forum.js, POST /settings/timezone).
PREF_TIMEZONE_SET = "timezone_set"


def _check_language(code: str | None) -> str | None:
    code = (code or "").strip() or None
    if code is not None and code not in LANGUAGES:
        raise Invalid("language", _l("Choose English, Deutsch or Español."))
    return code


def set_language(user: User, code: str | None) -> User:
    """The member's interface language; None follows the browser."""
    code = _check_language(code)
    if user.language != code:
        with transaction():
            user.language = code
    return user


def note_page_language(user: User, code: str) -> None:
    """Note the language a page was just read in by the member, when it is not the one noted
    (`User.last_locale`, which mail and live notices use while they follow their browser): a
    rare write, never one per page."""
    if user.last_locale == code:
        return
    convenience_write(user, {"last_locale": code}, "the language member %s reads in", user.id)


def _check_theme(code: str | None) -> str:
    found = known_theme(code)
    if found is None:
        raise Invalid("theme", _l("Choose Light, Dark or System."))
    return found


def set_theme(user: User, code: str | None) -> User:
    """The colours of the member's pages: "light", "dark" or "system" (as their system is set)."""
    code = _check_theme(code)
    if user.theme != code:
        with transaction():
            user.theme = code
    return user


def set_keyboard_shortcuts(user: User, on: bool) -> User:
    """Whether the member's pages answer single keys (j/k, r, /, ?: static/js/shortcuts.js). WCAG
    2.1.4: a member who speaks to their computer, or types with one finger, turns them off."""
    if not isinstance(on, bool):
        raise Invalid("keyboard_shortcuts", _l("Choose on or off."))
    if user.keyboard_shortcuts != on:
        with transaction():
            user.keyboard_shortcuts = on
    return user


def timezone_unset(user: User) -> bool:
    """Whether the forum should still ask this member's browser for its time zone."""
    return not (user.preferences or {}).get(PREF_TIMEZONE_SET)


def detect_timezone(user: User, zone: str) -> bool:
    """Take the time zone the member's browser reports, once; later only the member changes it
    (in settings). True when it was taken."""
    if not timezone_unset(user):
        return False
    name = zone_or_utc(zone)
    if name != (zone or "").strip():
        raise Invalid("timezone", _l("Unknown time zone; use a name like Europe/Berlin."))
    with transaction():
        user.timezone = name
        user.preferences = {**(user.preferences or {}), PREF_TIMEZONE_SET: True}
    return True


def _check_timezone(zone: str) -> str:
    """An IANA zone name; nothing at all is UTC."""
    name = zone_or_utc(zone)
    if name != zone.strip() and zone.strip():
        raise Invalid("timezone", _l("Unknown time zone; use a name like Europe/Berlin."))
    return name


def set_timezone(user: User, zone: str) -> User:
    """The member's own time zone (as the settings' profile form sets it): the browser is not
    asked again."""
    name = _check_timezone(zone)
    with transaction():
        user.timezone = name
        user.preferences = {**(user.preferences or {}), PREF_TIMEZONE_SET: True}
    return user


def update_profile(
    user: User,
    *,
    signature: str,
    bio: str,
    timezone: str = "UTC",
    language: str | None = None,
    theme: str | None = None,
    keyboard_shortcuts: bool | None = None,
) -> User:
    """The settings' profile form; `theme` or `keyboard_shortcuts` None leaves the member's
    colours or shortcuts as they are."""
    signature = content.clean_text(signature).replace("\n", " ").strip()
    require_at_most("signature", signature, 200, "signature")
    bio = content.clean_text(bio)
    require_at_most("bio", bio, 5000, "bio")
    language = _check_language(language)
    colours = user.theme if theme is None else _check_theme(theme)
    shortcuts = user.keyboard_shortcuts if keyboard_shortcuts is None else bool(keyboard_shortcuts)
    zone = _check_timezone(timezone)
    cooked = content.render(bio, resolve_usernames)
    with transaction():
        user.signature = signature
        user.bio_raw = bio
        user.bio_html = cooked.html
        user.timezone = zone
        user.language = language
        user.theme = colours
        user.keyboard_shortcuts = shortcuts
        user.preferences = {**(user.preferences or {}), PREF_TIMEZONE_SET: True}
    return user


def update_preferences(user: User, **changes: object) -> User:
    with transaction():
        prefs = dict(user.preferences or {})
        prefs.update(changes)
        user.preferences = prefs
    return user


def resolve_usernames(lowered: set[str]) -> dict[str, str]:
    """Map lower-cased names to the canonical usernames of members who exist (a deleted
    account's placeholder is no one's: `@former-42` neither links nor notifies)."""
    lowered = {name for name in lowered if not is_former(name)}
    if not lowered:
        return {}
    rows = db.session.scalars(select(User.username).where(func.lower(User.username).in_(lowered)))
    return {name.lower(): name for name in rows}


def get_member(username: str) -> User:
    """A member by name; a deleted account is no member (its profile, card, feed and API
    entry are gone)."""
    user = None if is_former(username) else find_by_username(username)
    if user is None:
        raise NotFound(_l("No such member."))
    return user


# --- sysop approval of new accounts ---------------------------------------------------------
@jobs.job()
def mail_account_decided(user_id: int, approved: bool, key: str | None = None) -> None:
    """The mail job telling a new member that a sysop approved (or refused) their account."""
    user = db.session.get(User, user_id)
    if user is None or user.approval == PENDING:
        return
    site = settings.get("site_name")
    with force_locale(language_of(user)):
        if approved:
            subject = gettext("Your account on %(site)s is approved", site=site)
            body = gettext(
                "Hello %(name)s,\n\na sysop approved your account on %(site)s: you can post now.\n",
                name=user.username,
                site=site,
            )
        else:
            subject = gettext("Your account on %(site)s was not approved", site=site)
            body = gettext(
                "Hello %(name)s,\n\na sysop did not approve your account on %(site)s. You can "
                "still log in and read, but not post.\n",
                name=user.username,
                site=site,
            )
    send_mail(user.email, subject, body, key=key)


def queue_account_decided_mail(user_id: int, approved: bool) -> None:
    """Queue the mail of a sysop's decision (sent once the decision commits)."""
    jobs.enqueue(mail_account_decided, user_id, approved, _mail_key("account-decided"))


def get_member_by_id(user_id: int) -> User | None:
    return db.session.get(User, user_id) if user_id > 0 else None


# --- a changed email address, verified before it is used ------------------------------------
def _email_change_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="email-change")


def _email_fingerprint(user: User) -> str:
    """Changes whenever the address does (and is verified again): a link made before that no
    longer works, so each link works once."""
    verified = user.email_verified_at.isoformat() if user.email_verified_at else ""
    raw = f"{user.id}:{user.email.strip().lower()}:{verified}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def request_email_change(
    user: User, new_email: str, password: str, link_for: TokenLink, language: str
) -> None:
    """Ask to use another address: a link goes to it (a job), and the old address stays in use
    until that link is opened. The current password is asked (a borrowed session may not move
    the account's mail); the blocklists apply as at registration."""
    if not check_password_hash(user.password_hash, password or ""):
        raise Invalid("password", _l("That is not your current password."))
    new_email = _check_email(new_email)
    if new_email.lower() == user.email.strip().lower():
        raise Invalid("email", _l("That is already your address."))
    check_email_allowed(new_email)
    token = _email_change_serializer().dumps(
        {"u": user.id, "e": new_email, "f": _email_fingerprint(user)}
    )
    jobs.enqueue(
        mail_email_change, user.id, new_email, link_for(token), language, _mail_key("email")
    )


@jobs.job(stale_after="EMAIL_CHANGE_MAX_AGE")  # a request older than its link is asked again
def mail_email_change(
    user_id: int, new_email: str, link: str, language: str, key: str | None = None
) -> None:
    """The link to the new address. An address that another account has gets a note instead
    (so the answer in the browser never tells whether an address is registered)."""
    user = db.session.get(User, user_id)
    if user is None:
        return
    site = settings.get("site_name")
    with force_locale(language_of(user, language)):
        if find_by_email(new_email) is not None:
            subject = gettext("Your address on %(site)s", site=site)
            body = gettext(
                "Hello,\n\nsomeone asked to move an account on %(site)s to this address. It "
                "already belongs to an account, so nothing changed.\n\nIf it was not you, "
                "ignore this mail.\n",
                site=site,
            )
        else:
            hours = current_app.config["EMAIL_CHANGE_MAX_AGE"] // 3600
            subject = gettext("Confirm your new address on %(site)s", site=site)
            body = gettext(
                "Hello %(name)s,\n\nto use this address for your account on %(site)s, open "
                "this link within %(hours)s hours:\n\n%(link)s\n\nUntil then, mail keeps "
                "going to your old address. If it was not you, ignore this mail.\n",
                name=user.username,
                site=site,
                hours=hours,
                link=link,
            )
    send_mail(new_email, subject, body, key=key)


@dataclass(frozen=True)
class PendingEmailChange:
    user: User
    email: str


def pending_email_change(token: str) -> PendingEmailChange:
    """What an address-change link asks; Invalid when expired, forged or used."""
    try:
        data = _email_change_serializer().loads(
            token, max_age=current_app.config["EMAIL_CHANGE_MAX_AGE"]
        )
    except SignatureExpired as exc:
        raise Invalid(
            None, _l("This link has expired. Ask for a new one in your settings.")
        ) from exc
    except BadSignature as exc:
        raise Invalid(None, _l("This link is not valid.")) from exc
    user = db.session.get(User, int(data.get("u", 0) or 0))
    if user is None or data.get("f") != _email_fingerprint(user):
        raise Invalid(None, _l("This link was used already, or your address changed since."))
    return PendingEmailChange(user=user, email=str(data.get("e", "")))


def confirm_email_change(token: str) -> User:
    """Use the new address (from the mailed link, once): it is verified now, and the count of
    bounces starts again."""
    pending = pending_email_change(token)
    user = pending.user
    check_email_allowed(pending.email)
    try:
        with transaction():
            other = find_by_email(pending.email)
            if other is not None and other.id != user.id:
                raise Conflict(
                    _l("An account with that email address already exists."), field="email"
                )
            old_email = user.email
            user.email = pending.email
            user.email_verified_at = utcnow()
            user.mail_bounces = 0
            user.mail_disabled_at = None
            # The old address hears of it: a change its owner did not make is then no secret.
            jobs.enqueue(mail_email_changed, user.id, old_email, _mail_key("email-changed"))
    except IntegrityError as exc:
        raise Conflict(_l("An account with that email address already exists.")) from exc
    return user


@jobs.job()
def mail_email_changed(user_id: int, old_email: str, key: str | None = None) -> None:
    user = db.session.get(User, user_id)
    if user is None:
        return
    site = settings.get("site_name")
    with force_locale(language_of(user)):
        subject = gettext("Your address on %(site)s was changed", site=site)
        body = gettext(
            "Hello %(name)s,\n\nthe email address of your account on %(site)s is now "
            "%(email)s; mail no longer comes to this one.\n\nIf you did not change it, "
            "reset your password at once and tell the sysop.\n",
            name=user.username,
            site=site,
            email=user.email,
        )
    send_mail(old_email, subject, body, key=key)


def resume_mail(user: User) -> User:
    """Mail to this address stopped after bounces or a complaint: the member says it works
    again (they may have fixed their mailbox), and the count starts over."""
    with transaction():
        user.mail_bounces = 0
        user.mail_disabled_at = None
    return user


def count_bounce(user: User, *, complaint: bool = False) -> bool:
    """Mail to the member's address bounced (for good), or its reader reported it as spam.
    Past the "bounce_threshold" site setting — at once for a complaint — mail stops until
    the member turns it back on (a banner tells them on their next visit). True when it
    stopped now."""
    threshold = settings.get_int("bounce_threshold")
    with transaction():
        user.mail_bounces = (user.mail_bounces or 0) + 1
        stop = user.mail_disabled_at is None and (
            complaint or (threshold > 0 and user.mail_bounces >= threshold)
        )
        if stop:
            user.mail_disabled_at = utcnow()
    if stop:
        log.info("mail to member %s stopped after %s bounce(s)", user.id, user.mail_bounces)
    return stop
