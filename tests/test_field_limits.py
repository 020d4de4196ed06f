"""Every text a member types has one length limit, said four times alike: the box's maxlength
(what WTForms renders from the form's Length(max)), the form's check, the service's own check,
and the column it is stored in (VARCHAR(n): PostgreSQL refuses to overflow it, SQLite would keep
it). The forms and the API's input models are walked here against an explicit table of where
each field goes; a new text field without an entry fails until it gets one. Below the walk, each
mismatch that was found is posted one character too long through the page and the API: a clear
error on its field, nothing written, and the form showing back what was typed."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import typing
from dataclasses import dataclass
from typing import Any

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import String, select
from wtforms import StringField
from wtforms.validators import Length

import forum
from forum import settings as site_settings
from forum.accounts.models import User
from forum.admin.forms import SettingsForm
from forum.admin.models import Invite
from forum.announcements.models import Announcement
from forum.api import schemas
from forum.api.models import ApiToken
from forum.care import services as care
from forum.care.models import ConcernNote, SysopPage
from forum.errors import Invalid
from forum.extensions import db
from forum.files import library
from forum.files.models import LibraryFile, LibrarySection, LibraryVersion
from forum.messages import services as mail
from forum.messages.models import Conversation, MessageReport, PrivateMessage
from forum.moderation import common as moderation
from forum.moderation.models import Flag, MemberNote, ModAction, ReviewNote, WordFilter
from forum.notifications.digest import NOTE_MAX
from forum.notifications.models import SigDigestNote
from forum.settings import SiteSetting
from forum.sigs import services as sigs
from forum.sigs.models import JoinRequest, Sig
from forum.topics.models import Post, Topic
from forum.webhooks.models import Webhook

from . import dbstate
from .test_api import API, error_of, refused_and_nothing_written, token_for

TITLE = "MAX_TITLE_LENGTH"  # the site's limit for titles and subjects (forum.config)


@dataclass(frozen=True)
class Stored:
    """Saved into `column`; the service refuses more than `limit` characters (a number, or a
    config key), and the form's box and check say the same number."""

    column: Any
    limit: int | str


@dataclass(frozen=True)
class Body:
    """Saved as text (no length in the column): the service says the site's limit with the
    length sent, so the form's cap (if any: the request's size limit applies first) and the
    API's bound are generous, never below it."""

    column: Any
    limit: int | str


@dataclass(frozen=True)
class Unsaved:
    """Looked up, parsed or hashed, never stored as typed: a bound is enough."""

    why: str


SAME_AS_SETTINGS = "a site setting: forum.settings checks and stores it (site_settings.value)"

FORM_FIELDS: dict[str, Stored | Body | Unsaved] = {
    # accounts
    "accounts.LoginForm.login": Unsaved("looked up"),
    "accounts.LoginForm.password": Unsaved("hashed"),
    "accounts.RegisterForm.username": Stored(User.username, 32),
    "accounts.RegisterForm.email": Stored(User.email, 254),
    "accounts.RegisterForm.invite": Unsaved("looked up"),
    "accounts.RegisterForm.website": Unsaved("the honeypot: refused when filled"),
    "accounts.FinishRegistrationForm.password": Unsaved("hashed"),
    "accounts.ForgotPasswordForm.email": Unsaved("looked up"),
    "accounts.ResetPasswordForm.password": Unsaved("hashed"),
    "accounts.ChangePasswordForm.current_password": Unsaved("checked"),
    "accounts.ChangePasswordForm.new_password": Unsaved("hashed"),
    "accounts.EmailChangeForm.email": Stored(User.email, 254),
    "accounts.EmailChangeForm.current_password": Unsaved("checked"),
    "accounts.ProfileForm.signature": Stored(User.signature, 200),
    "accounts.ProfileForm.bio": Stored(User.bio_raw, 5000),
    "accounts.ProfileForm.timezone": Unsaved("one of the IANA zone names (users.timezone)"),
    "accounts.TwoFactorLoginForm.code": Unsaved("checked"),
    "accounts.EnableTwoFactorForm.code": Unsaved("checked"),
    "accounts.DisableTwoFactorForm.password": Unsaved("checked"),
    "accounts.DisableTwoFactorForm.code": Unsaved("checked"),
    "accounts.RecoveryCodesForm.code": Unsaved("checked"),
    "accounts.DeleteAccountForm.password": Unsaved("checked"),
    "accounts.DeleteAccountForm.code": Unsaved("checked"),
    # admin (the settings form's fields: below, from forum.settings)
    "admin.SigForm.name": Stored(Sig.name, 100),
    "admin.SigForm.slug": Stored(Sig.slug, 64),
    "admin.SigForm.description": Stored(Sig.description, 2000),
    "admin.SysopForm.username": Unsaved("looked up"),
    "admin.InviteForm.note": Stored(Invite.note, 200),
    # announcements
    "announcements.AnnouncementForm.title": Stored(Announcement.title, 200),
    "announcements.AnnouncementForm.body": Body(Announcement.body_raw, "MAX_POST_LENGTH"),
    # api
    "api.TokenForm.name": Stored(ApiToken.name, 100),
    # care
    "care.WriteForm.subject": Stored(Conversation.subject, TITLE),
    "care.WriteForm.body": Body(PrivateMessage.body_raw, "MAX_POST_LENGTH"),
    "care.AppealForm.login": Unsaved("looked up"),
    "care.AppealForm.password": Unsaved("checked"),
    "care.AppealForm.subject": Stored(Conversation.subject, TITLE),
    "care.AppealForm.body": Body(PrivateMessage.body_raw, "MAX_POST_LENGTH"),
    "care.ReplyForm.body": Body(PrivateMessage.body_raw, "MAX_POST_LENGTH"),
    "care.NoteForm.body": Body(ConcernNote.body_raw, care.NOTE_LIMIT),
    "care.AssignForm.assignee": Unsaved("looked up"),
    "care.PageForm.body": Stored(SysopPage.body, care.PAGE_TEXT_LIMIT),
    # files
    "files.LibraryUploadForm.title": Stored(LibraryFile.title, library.MAX_TITLE),
    "files.LibraryUploadForm.description": Stored(
        LibraryFile.description_raw, library.MAX_DESCRIPTION
    ),
    "files.LibraryUploadForm.keywords": Stored(LibraryFile.keywords, library.MAX_KEYWORDS),
    "files.LibraryEditForm.title": Stored(LibraryFile.title, library.MAX_TITLE),
    "files.LibraryEditForm.description": Stored(
        LibraryFile.description_raw, library.MAX_DESCRIPTION
    ),
    "files.LibraryEditForm.keywords": Stored(LibraryFile.keywords, library.MAX_KEYWORDS),
    "files.VersionForm.note": Stored(LibraryVersion.note, library.MAX_VERSION_NOTE),
    "files.SectionForm.name": Stored(LibrarySection.name, library.MAX_SECTION_NAME),
    "files.SectionForm.description": Stored(
        LibrarySection.description, library.MAX_SECTION_DESCRIPTION
    ),
    "files.LibrarianForm.username": Unsaved("looked up"),
    # messages
    "messages.ConversationForm.to": Unsaved("names looked up"),
    "messages.ConversationForm.subject": Stored(Conversation.subject, TITLE),
    "messages.ConversationForm.body": Body(PrivateMessage.body_raw, "MAX_POST_LENGTH"),
    "messages.MessageForm.body": Body(PrivateMessage.body_raw, "MAX_POST_LENGTH"),
    "messages.AddMemberForm.username": Unsaved("looked up"),
    "messages.ReportForm.note": Stored(MessageReport.note, mail.MAX_REPORT_NOTE),
    # moderation
    "moderation.FlagForm.note": Stored(Flag.note, moderation.MAX_REASON),
    "moderation.ReasonForm.reason": Stored(ModAction.reason, moderation.MAX_REASON),
    "moderation.ResolveForm.reason": Stored(ModAction.reason, moderation.MAX_REASON),
    "moderation.MessageReportForm.reason": Stored(ModAction.reason, moderation.MAX_REASON),
    "moderation.NoteForm.body": Stored(ReviewNote.body, moderation.MAX_NOTE),
    "moderation.MemberNoteForm.body": Stored(MemberNote.body, moderation.MAX_NOTE),
    "moderation.MoveForm.reason": Stored(ModAction.reason, moderation.MAX_REASON),
    "moderation.SplitForm.title": Stored(Topic.title, TITLE),
    "moderation.SplitForm.reason": Stored(ModAction.reason, moderation.MAX_REASON),
    "moderation.MergeForm.target": Unsaved("a topic's number or address, parsed"),
    "moderation.MergeForm.reason": Stored(ModAction.reason, moderation.MAX_REASON),
    "moderation.WarnForm.reason": Stored(ModAction.reason, moderation.MAX_REASON),
    "moderation.SuspendForm.reason": Stored(User.suspension_reason, moderation.MAX_REASON),
    "moderation.RemoveFromSigForm.reason": Stored(ModAction.reason, moderation.MAX_REASON),
    "moderation.SilenceForm.reason": Stored(User.silence_reason, moderation.MAX_REASON),
    "moderation.BanForm.reason": Stored(User.ban_reason, moderation.MAX_REASON),
    "moderation.LiftForm.reason": Stored(ModAction.reason, moderation.MAX_REASON),
    "moderation.WordFilterForm.word": Stored(WordFilter.word, 100),
    "moderation.SpamCleanupForm.reason": Stored(ModAction.reason, moderation.MAX_REASON),
    # notifications
    "notifications.DigestNoteForm.body": Stored(SigDigestNote.body, NOTE_MAX),
    # sigs
    "sigs.RequestForm.slug": Unsaved("looked up"),
    "sigs.RequestForm.message": Stored(JoinRequest.message, sigs.MAX_REQUEST_MESSAGE),
    # topics
    "topics.TopicForm.title": Stored(Topic.title, TITLE),
    "topics.TopicForm.body": Body(Post.body_raw, "MAX_POST_LENGTH"),
    "topics.ReplyForm.body": Body(Post.body_raw, "MAX_POST_LENGTH"),
    "topics.EditForm.title": Stored(Topic.title, TITLE),
    "topics.EditForm.body": Body(Post.body_raw, "MAX_POST_LENGTH"),
    # trust
    "trust.TrustLevelForm.reason": Stored(ModAction.reason, moderation.MAX_REASON),
    # webhooks
    "webhooks.WebhookForm.url": Stored(Webhook.url, 2000),
    "webhooks.WebhookForm.description": Stored(Webhook.description, 200),
}
for _setting in site_settings.SETTINGS.values():
    if not issubclass(getattr(SettingsForm, _setting.key).field_class, StringField):
        continue  # a select
    FORM_FIELDS[f"admin.SettingsForm.{_setting.key}"] = (
        Stored(SiteSetting.value, _setting.maximum)
        if _setting.kind == "text"
        else Unsaved(SAME_AS_SETTINGS)
    )

# The API's text inputs: model.field -> where it goes (a body's bound is schemas.MAX_BODY).
API_FIELDS: dict[str, Stored | Body | Unsaved] = {
    "AssignIn.assignee": Unsaved("looked up"),
    "ParticipantIn.username": Unsaved("looked up"),
    "MoveIn.sig": Unsaved("looked up"),
    "ReactionIn.emoji": Unsaved("one of the site's reactions"),
    "PreferencesIn.timezone": Unsaved("one of the IANA zone names (users.timezone)"),
    "PreferencesIn.language": Unsaved("one of the languages"),
    "PreferencesIn.theme": Unsaved("one of the themes"),
    "DigestPreferencesIn.frequency": Unsaved("one of the choices"),
    "PrivateMailPreferencesIn.accept_from": Unsaved("one of the choices"),
    **{
        f"MailPreferencesIn.{name}": Unsaved("one of the choices")
        for name in schemas.MailPreferencesIn.model_fields
    },
    "NewTopic.title": Stored(Topic.title, TITLE),
    "NewTopic.body": Body(Post.body_raw, "MAX_POST_LENGTH"),
    "NewPost.body": Body(Post.body_raw, "MAX_POST_LENGTH"),
    "NewAnnouncement.title": Stored(Announcement.title, 200),
    "NewAnnouncement.body": Body(Announcement.body_raw, "MAX_POST_LENGTH"),
    "PostEdit.title": Stored(Topic.title, TITLE),
    "PostEdit.body": Body(Post.body_raw, "MAX_POST_LENGTH"),
    "SplitIn.title": Stored(Topic.title, TITLE),
    "SplitIn.reason": Stored(ModAction.reason, moderation.MAX_REASON),
    "MoveIn.reason": Stored(ModAction.reason, moderation.MAX_REASON),
    "ReasonIn.reason": Stored(ModAction.reason, moderation.MAX_REASON),
    "SuspendIn.reason": Stored(User.suspension_reason, moderation.MAX_REASON),
    "FlagIn.note": Stored(Flag.note, moderation.MAX_REASON),
    "MessageReportIn.note": Stored(MessageReport.note, mail.MAX_REPORT_NOTE),
    "NewConversation.subject": Stored(Conversation.subject, TITLE),
    "NewConversation.body": Body(PrivateMessage.body_raw, "MAX_POST_LENGTH"),
    "MailMessageIn.body": Body(PrivateMessage.body_raw, "MAX_POST_LENGTH"),
    "NewConcern.subject": Stored(Conversation.subject, TITLE),
    "NewConcern.body": Body(PrivateMessage.body_raw, "MAX_POST_LENGTH"),
    "ConcernMessageIn.body": Body(PrivateMessage.body_raw, "MAX_POST_LENGTH"),
    "NoteIn.body": Body(ConcernNote.body_raw, care.NOTE_LIMIT),
    "NewPage.body": Stored(SysopPage.body, care.PAGE_TEXT_LIMIT),
}


def _limit(app: Any, limit: int | str) -> int:
    return int(app.config[limit]) if isinstance(limit, str) else limit


def _column_length(column: Any) -> int | None:
    kind = column.property.columns[0].type
    return kind.length if isinstance(kind, String) else None


def _every_form() -> Any:
    """(package, form class name, form) for every FlaskForm of forum/*/forms.py, made (a form
    may set its limit when made, from the config): inside a request context."""
    for package in pkgutil.iter_modules(forum.__path__):
        if not package.ispkg:
            continue
        try:
            module = importlib.import_module(f"forum.{package.name}.forms")
        except ModuleNotFoundError:
            continue
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, FlaskForm) and cls.__module__ == module.__name__:
                yield package.name, name, cls(meta={"csrf": False})


def _form_text_fields(app: Any) -> dict[str, Any]:
    """Every text box of every form of forum/*/forms.py, bound, by "package.Form.field"."""
    found: dict[str, Any] = {}
    with app.test_request_context():
        for package, name, form in _every_form():
            for field in form:
                if isinstance(field, StringField) and field.type != "HiddenField":
                    maxes = [v.max for v in field.validators if isinstance(v, Length)]
                    box = re.search(r'maxlength="(\d+)"', str(field()))
                    found[f"{package}.{name}.{field.name}"] = (
                        maxes[0] if maxes else None,
                        int(box.group(1)) if box else None,
                    )
    return found


def test_no_form_length_check_says_wtforms_own_words(app) -> None:
    """WTForms' default message writes the number unformatted ("5000") in words of its own:
    every form's Length says the service's words (i18n.at_most), in the reader's digits."""
    default = []
    with app.test_request_context():
        for package, name, form in _every_form():
            for field in form:
                for check in field.validators:
                    if isinstance(check, Length) and check.message is None:
                        default.append(f"{package}.{name}.{field.name}")
    assert not default, f"use forum.i18n.at_most for: {default}"


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("de", "Die Beschreibung darf höchstens 2.000 Zeichen lang sein."),
        ("es", "La descripción puede tener como máximo 2.000 caracteres."),
    ],
)
def test_a_form_refuses_past_its_box_in_the_readers_words_and_digits(client, f, lang, words):
    """The test client ignores maxlength, as a script or an old browser may: the form's own
    check answers in the service's words, "2.000" and not WTForms' "2000"."""
    root = f.sysop("root")
    root.language = lang
    sig = f.sig("retro", name="Retro Computing")
    db.session.commit()
    client.login("root")
    description = "d" * 2001
    response = client.form(
        f"/admin/sigs/{sig.id}",
        {
            "sig-name": "Retro Computing",
            "sig-description": description,
            "sig-visibility": sig.visibility,
            "sig-language": sig.language,
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400, response.status_code
    assert words in page and "2000 " not in page, page
    db.session.expire_all()
    assert db.session.get(Sig, sig.id).description != description


def test_every_form_text_field_has_one_limit_where_it_is_stored(app) -> None:
    fields = _form_text_fields(app)
    missing = sorted(set(fields) - set(FORM_FIELDS))
    assert not missing, f"say where these are saved in FORM_FIELDS: {missing}"
    stale = sorted(set(FORM_FIELDS) - set(fields))
    assert not stale, f"no such form fields: {stale}"
    wrong = []
    for key, entry in FORM_FIELDS.items():
        form_max, box = fields[key]
        if box != form_max:
            wrong.append(f"{key}: the box says {box}, the form checks {form_max}")
        if isinstance(entry, Unsaved):
            continue
        limit = _limit(app, entry.limit)
        length = _column_length(entry.column)
        if length is not None and limit > length:
            wrong.append(f"{key}: the service allows {limit}, the column holds {length}")
        if isinstance(entry, Stored) and form_max != limit:
            wrong.append(f"{key}: the form allows {form_max}, the service {limit}")
        if isinstance(entry, Body):
            assert length is None, key
            if form_max is not None and form_max < limit:
                wrong.append(f"{key}: the form's cap {form_max} is under the service's {limit}")
    assert not wrong, "\n".join(wrong)


def _api_text_fields() -> dict[str, int | None]:
    def subclasses(cls: type) -> list[type]:
        return [s for c in cls.__subclasses__() for s in (c, *subclasses(c))]

    found = {}
    for model in set(subclasses(schemas.Input)):
        for name, info in model.model_fields.items():
            if info.annotation is str or str in typing.get_args(info.annotation):
                bounds = [getattr(m, "max_length", None) for m in info.metadata]
                found[f"{model.__name__}.{name}"] = next((b for b in bounds if b), None)
    return found


def test_every_api_text_input_has_the_services_limit(app) -> None:
    fields = _api_text_fields()
    missing = sorted(set(fields) - set(API_FIELDS))
    assert not missing, f"say where these are saved in API_FIELDS: {missing}"
    assert not sorted(set(API_FIELDS) - set(fields))
    wrong = []
    for key, entry in API_FIELDS.items():
        bound = fields[key]
        if isinstance(entry, Unsaved):
            continue
        limit = _limit(app, entry.limit)
        length = _column_length(entry.column)
        if length is not None and limit > length:
            wrong.append(f"{key}: the service allows {limit}, the column holds {length}")
        if isinstance(entry, Stored) and bound != limit:
            wrong.append(f"{key}: the model allows {bound}, the service {limit}")
        if isinstance(entry, Body) and (bound is None or bound < limit):
            wrong.append(f"{key}: the model's bound {bound} is under the service's {limit}")
    assert not wrong, "\n".join(wrong)


# --- one character too long, through the pages and the API -----------------------------------
@pytest.fixture
def world(f):
    root = f.sysop("root")
    grace, ken = f.user("grace"), f.user("ken")
    retro = f.sig("retro", name="Retro Computing", members=[ken], sysops=[grace])
    topic = f.topic(ken, retro, "Modems", "Mine will not dial.")
    return {"root": root, "grace": grace, "ken": ken, "retro": retro, "topic": topic}


def _refused(browser, user, url, data, field, words):
    """Post the form; a 400 with `words` on the page and what was typed shown back, and the
    database as it was."""
    member = browser(user)
    db.session.expire_all()
    before = dbstate.snapshot()
    response = member.form(url, data)
    assert dbstate.diff(before, dbstate.snapshot()) == []
    assert response.status_code == 400, (url, response.status_code)
    page = response.get_data(as_text=True)
    assert words in page, page
    assert data[field] in page, f"{field} was not shown back"
    return page


def test_a_topic_title_one_too_long_is_refused_on_the_page_and_in_the_api(app, browser, world):
    limit = app.config["MAX_TITLE_LENGTH"]
    page = browser(world["ken"]).text("/s/retro/new")
    assert re.search(rf'<input[^>]*maxlength="{limit}"[^>]*name="title"', page), page
    title = "t" * (limit + 1)
    _refused(
        browser,
        world["ken"],
        "/s/retro/new",
        {"title": title, "body": "Kept words."},
        "title",
        f"Keep the title to {limit} characters or fewer.",
    )
    response = refused_and_nothing_written(
        browser(None).client,
        "POST",
        f"{API}/sigs/retro/topics",
        token_for(world["ken"]),
        {"title": title, "body": "Kept words."},
    )
    assert error_of(response)["field"] == "title"


def test_a_split_title_one_too_long_is_refused(app, browser, world, f):
    limit = app.config["MAX_TITLE_LENGTH"]
    reply = f.reply(world["ken"], world["topic"], "A reply to split off.")
    url = f"/mod/topics/{world['topic'].id}/split"
    _refused(
        browser,
        world["grace"],
        url,
        {"posts": str(reply.id), "title": "s" * (limit + 1), "sig": str(world["retro"].id)},
        "title",
        f"Keep the title to {limit} characters or fewer.",
    )


def test_a_mail_subject_one_too_long_is_refused_on_the_page_and_in_the_api(app, browser, world):
    limit = app.config["MAX_TITLE_LENGTH"]
    assert f'maxlength="{limit}"' in browser(world["ken"]).text("/mail/new")
    subject = "s" * (limit + 1)
    _refused(
        browser,
        world["ken"],
        "/mail/new",
        {"to": "grace", "subject": subject, "body": "Kept words."},
        "subject",
        f"Keep the subject to {limit} characters or fewer.",
    )
    response = refused_and_nothing_written(
        browser(None).client,
        "POST",
        f"{API}/conversations",
        token_for(world["ken"]),
        {"to": ["grace"], "subject": subject, "body": "Kept words."},
    )
    assert error_of(response)["field"] == "subject"
    response = refused_and_nothing_written(
        browser(None).client,
        "POST",
        f"{API}/concerns",
        token_for(world["ken"]),
        {"sig": "retro", "subject": subject, "body": "Kept words."},
    )
    assert error_of(response)["field"] == "subject"


def test_a_report_note_one_too_long_is_refused_on_the_page_and_in_the_api(browser, world):
    conversation = mail.start_conversation(world["grace"], ["ken"], "Hello", "Hi Ken.")
    message = db.session.scalar(
        select(PrivateMessage).where(PrivateMessage.conversation_id == conversation.id)
    )
    note = "n" * (mail.MAX_REPORT_NOTE + 1)
    _refused(
        browser,
        world["ken"],
        f"/mail/m/{message.id}/report",
        {"reason": "other", "note": note},
        "note",
        f"Keep the note to {mail.MAX_REPORT_NOTE} characters or fewer.",
    )
    response = refused_and_nothing_written(
        browser(None).client,
        "POST",
        f"{API}/messages/{message.id}/report",
        token_for(world["ken"]),
        {"reason": "other", "note": note},
    )
    assert error_of(response)["field"] == "note"


def test_a_page_one_too_long_is_refused_on_the_page_and_in_the_api(browser, world):
    care.set_duty(world["grace"], world["retro"].id, True)
    body = "p" * (care.PAGE_TEXT_LIMIT + 1)
    page = browser(world["ken"]).text("/s/retro/")
    assert f'maxlength="{care.PAGE_TEXT_LIMIT}"' in page
    ken = browser(world["ken"])
    db.session.expire_all()
    before = dbstate.snapshot()
    refused = ken.form("/s/retro/page", {"body": body})
    assert dbstate.diff(before, dbstate.snapshot()) == []
    # The box is on the SIG's page: that page again, the words kept in the box and the
    # service's words beside it (the box's maxlength keeps a browser from sending more).
    assert refused.status_code == 400
    shown = refused.get_data(as_text=True)
    assert "Keep it to 500 characters or fewer" in shown
    assert f'value="{body}"' in shown
    response = refused_and_nothing_written(
        browser(None).client,
        "POST",
        f"{API}/sigs/retro/care/pages",
        token_for(world["ken"]),
        {"body": body},
    )
    assert error_of(response)["field"] == "body"
    assert db.session.scalar(select(SysopPage)) is None


def test_a_flag_note_one_too_long_is_refused_in_the_api(browser, world):
    post = db.session.scalar(select(Post).where(Post.topic_id == world["topic"].id))
    response = refused_and_nothing_written(
        browser(None).client,
        "POST",
        f"{API}/posts/{post.id}/flags",
        token_for(world["grace"]),
        {"reason": "other", "note": "n" * (moderation.MAX_REASON + 1)},
    )
    assert error_of(response)["field"] == "note"


def test_a_join_request_one_too_long_is_refused_not_cut(browser, world, f):
    f.sig("hideout", visibility="private")
    message = "m" * (sigs.MAX_REQUEST_MESSAGE + 1)
    _refused(
        browser,
        world["ken"],
        "/sigs/request",
        {"slug": "hideout", "message": message},
        "message",
        f"Keep the message to {sigs.MAX_REQUEST_MESSAGE} characters or fewer.",
    )
    # The service itself, for every other caller: refused, never cut to fit.
    with pytest.raises(Invalid) as refused:
        sigs.request_to_join(world["ken"], "hideout", message)
    assert refused.value.field == "message"
    assert db.session.scalar(select(JoinRequest)) is None


def test_an_invite_note_one_too_long_is_refused_not_cut(browser, world):
    from forum.admin import services as admin

    with pytest.raises(Invalid) as refused:
        admin.create_invite(world["root"], "i" * (admin.MAX_INVITE_NOTE + 1))
    assert refused.value.field == "note"
    _refused(
        browser,
        world["root"],
        "/admin/invites",
        {"note": "i" * (admin.MAX_INVITE_NOTE + 1)},
        "note",
        "200",
    )
    assert db.session.scalar(select(Invite)) is None


def test_a_library_section_or_version_note_too_long_is_refused_not_cut(world):
    long = "d" * (library.MAX_SECTION_DESCRIPTION + 1)
    with pytest.raises(Invalid) as refused:
        library.create_section(world["grace"], world["retro"].id, "Manuals", long)
    assert refused.value.field == "description"
    assert db.session.scalar(select(LibrarySection)) is None


def test_the_title_limit_fits_its_columns(app):
    """MAX_TITLE_LENGTH may be lowered, never raised past what the columns hold."""
    limit = app.config["MAX_TITLE_LENGTH"]
    assert limit <= _column_length(Topic.title) and limit <= _column_length(Conversation.subject)
    assert schemas.MAX_TITLE == _column_length(Topic.title)
    assert schemas.MAX_SUBJECT == _column_length(Conversation.subject)
