"""The console: members, SIGs, site settings, registration mode and invites."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forum.accounts.models import User
from forum.admin.models import Invite
from forum.extensions import db
from forum.moderation.models import ModAction
from forum.sigs.models import Membership, Sig

from .mod_support import build_world


def test_settings_change_the_site(app, browser):
    w = build_world()
    admin = browser(w.root)
    form = admin.text("/admin/settings")
    assert 'value="Forum"' in form
    data = {
        "site_name": "Retro BBS",
        "site_description": "Since 1986.",
        "registration": "open",
        "approval_threshold": "0",
        "auto_hide_threshold": "3",
        "trust_min_posts": "10",
        "mention_limit": "10",
        "mention_limit_sysop": "50",
        "post_rate_limit": "30 per minute",
        "register_rate_limit": "5 per hour",
    }
    assert admin.form("/admin/settings", data).status_code == 302
    page = browser(None).text("/")
    assert "Retro BBS" in page and "Since 1986." in page
    from forum import settings

    assert settings.get("post_rate_limit") == "30 per minute"
    entries = db.session.scalars(
        select(ModAction.details).where(ModAction.action == "change_setting")
    ).all()
    assert "Site name: Forum → Retro BBS" in entries and len(entries) == 3


def test_bad_settings_are_refused_with_what_was_typed(app, browser):
    w = build_world()
    response = browser(w.root).form(
        "/admin/settings",
        {
            "site_name": "Kept name",
            "site_description": "d",
            "registration": "open",
            "approval_threshold": "lots",
            "auto_hide_threshold": "3",
            "trust_min_posts": "10",
            "mention_limit": "10",
            "mention_limit_sysop": "50",
            "post_rate_limit": "fast please",
            "register_rate_limit": "5 per hour",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter a whole number" in page and 'value="Kept name"' in page
    # Both bad fields are said at once, each beside its own field, and nothing was saved.
    assert "Flask-Limiter’s notation" in page
    assert page.count('aria-invalid="true"') == 2
    from forum import settings

    assert settings.get("site_name") != "Kept name"


@pytest.mark.parametrize(
    ("language", "said"),
    [("en", "from 0 to 1,000."), ("de", "von 0 bis 1.000 ein."), ("es", "de 0 a 1.000.")],
)
def test_a_settings_bound_is_written_as_the_readers_language_writes_numbers(
    app, browser, language, said
):
    """A German reads "1,000" as one point zero: the bound is the reader's number."""
    w = build_world()
    w.root.language = language
    db.session.commit()
    form = {
        "site_name": "Forum",
        "site_description": "d",
        "registration": "open",
        "approval_threshold": "0",
        "auto_hide_threshold": "3",
        "trust_min_posts": "10",
        "mention_limit": "-5",
        "mention_limit_sysop": "50",
        "post_rate_limit": "20 per minute",
        "register_rate_limit": "5 per hour",
    }
    response = browser(w.root).form("/admin/settings", form)
    assert response.status_code == 400 and said in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("language", "hint", "error"),
    [
        ("en", "in English: “20 per minute”", "Flask-Limiter’s notation, in English: “20 per"),
        (
            "de",
            "auf Englisch: „20 per minute“",
            "Schreibweise von Flask-Limiter, auf Englisch: „20",
        ),
        ("es", "en inglés: «20 per minute»", "notación de Flask-Limiter, en inglés: «20 per"),
    ],
)
def test_rate_limits_say_their_notation_is_flask_limiters_english(
    app, browser, language, hint, error
):
    """A rate limit is written in Flask-Limiter's English ("20 per minute") in every language:
    the hint and the error say so, with the language's quotation marks (they showed
    "20 per minute" in straight quotes as if it were a translation slip)."""
    w = build_world()
    w.root.language = language
    db.session.commit()
    admin = browser(w.root)
    assert hint in admin.text("/admin/settings")
    form = {
        "site_name": "Forum",
        "site_description": "d",
        "registration": "open",
        "approval_threshold": "0",
        "auto_hide_threshold": "3",
        "trust_min_posts": "10",
        "mention_limit": "10",
        "mention_limit_sysop": "50",
        "post_rate_limit": "fast please",
        "register_rate_limit": "5 per hour",
    }
    response = admin.form("/admin/settings", form)
    assert response.status_code == 400 and error in response.get_data(as_text=True)


def test_closed_registration(app, browser):
    from forum.admin import services as admin_services

    w = build_world()
    admin_services.update_settings(w.root, {"registration": "closed"})
    guest = browser(None)
    assert "Registration is closed" in guest.text("/register")
    response = guest.form(
        "/register", {"username": "newcomer", "email": "n@example.com", "password": "x" * 12}
    )
    assert response.status_code == 400
    assert db.session.scalar(select(User).where(User.username == "newcomer")) is None


def test_invite_only_registration_uses_up_an_invite(app, browser, tmp_path):
    import email
    import email.policy
    import re

    from forum.admin import services as admin_services

    app.config["OUTBOX_DIR"] = str(tmp_path)

    def finish_link(address: str) -> str:
        for path in tmp_path.glob("*.eml"):
            mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            found = re.search(r"https?://[^/\s]+(/register/finish/\S+)", mail.get_content())
            if mail["To"] == address and found:
                return found.group(1)
        raise AssertionError(f"no registration mail to {address}")

    w = build_world()
    admin_services.update_settings(w.root, {"registration": "invite"})
    admin = browser(w.root)
    admin.form("/admin/invites", {"note": "for Ada"})
    invite = db.session.scalar(select(Invite))
    assert invite.code in admin.text("/admin/invites")
    guest = browser(None)
    assert "invite code" in guest.text("/register")
    data = {"username": "ada", "email": "ada@example.com"}
    response = guest.form("/register", {**data, "invite": "wrong"})
    assert response.status_code == 400 and "not valid" in response.get_data(as_text=True)
    assert guest.form("/register", {**data, "invite": invite.code}).status_code == 302
    bob = browser(None)
    data = {"username": "bob", "email": "bob@example.com", "invite": invite.code}
    assert bob.form("/register", data).status_code == 302  # not used up until a link is
    ada_link, bob_link = finish_link("ada@example.com"), finish_link("bob@example.com")
    assert guest.form(ada_link, {"password": "x" * 12}).status_code == 302
    ada = db.session.scalar(select(User).where(User.username == "ada"))
    assert db.session.get(Invite, invite.id).used_by_id == ada.id
    second = bob.form(bob_link, {"password": "x" * 12})
    assert second.status_code == 400 and "already used" in second.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.username == "bob")) is None
    third = browser(None).form("/register", {**data, "username": "carol"})
    assert third.status_code == 400


def test_create_edit_archive_a_sig_and_appoint_its_sysop(app, browser):
    w = build_world()
    admin = browser(w.root)
    response = admin.form(
        "/admin/sigs",
        {"name": "Amateur Radio", "slug": "", "visibility": "members", "language": "en"},
    )
    assert response.status_code == 302
    sig = db.session.scalar(select(Sig).where(Sig.slug == "amateur-radio"))
    assert sig.visibility == "members"
    admin.form(
        f"/admin/sigs/{sig.id}",
        {"sig-name": "Ham Radio", "sig-description": "73!", "sig-visibility": "public",
         "sig-language": "de"},
    )  # fmt: skip
    admin.form(f"/admin/sigs/{sig.id}/sysops", {"sysop-username": "member"})
    admin.form(f"/admin/sigs/{sig.id}/archive", {"value": "archive"})
    sig = db.session.get(Sig, sig.id)
    assert (sig.name, sig.language, sig.is_archived) == ("Ham Radio", "de", True)
    membership = db.session.scalar(
        select(Membership).where(Membership.sig_id == sig.id, Membership.user_id == w.member.id)
    )
    assert membership.is_sysop
    listing = admin.text("/admin/sigs")
    assert "Ham Radio" in listing and "member" in listing
    missing = admin.form(f"/admin/sigs/{sig.id}/sysops", {"sysop-username": "ghost"})
    assert "There is no member called “ghost”" in admin.text(missing.headers["Location"])
    actions = set(db.session.scalars(select(ModAction.action)))
    assert {"create_sig", "update_sig", "appoint_sig_sysop", "archive_sig"} <= actions


def test_member_search_and_roles(app, browser):
    w = build_world()
    admin = browser(w.root)
    page = admin.text("/admin/members?q=vic")
    assert "victim" in page and "author" not in page
    from forum.moderation import services as mod

    mod.ban_member(w.root, w.victim.id, "x")
    assert "victim" in admin.text("/admin/members?status=banned")
    assert "/mod/u/author" not in admin.text("/admin/members?status=banned")
    admin.form(f"/admin/members/{w.member.id}/role", {"role": "sysop"})
    assert db.session.get(User, w.member.id).is_global_sysop
    response = admin.form(f"/admin/members/{w.root.id}/role", {"role": "member"})
    assert "cannot take the sysop role from yourself" in admin.text(response.headers["Location"])
    panel = admin.text("/mod/u/victim")
    assert "Banned since" in panel and "Recent posts" in panel


def test_the_file_types_show_whole_in_a_text_box_and_keep_one_list(app, browser):
    import re

    from forum import settings

    w = build_world()
    admin = browser(w.root)
    long_list = " ".join(
        ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"]
        + ["application/zip", "application/gzip", "application/x-7z-compressed", "text/plain"]
    )
    data = {"site_name": "Forum", "site_description": "Since 1986.", "registration": "open"}
    assert admin.form("/admin/settings", {**data, "upload_types": long_list}).status_code == 302
    form = admin.text("/admin/settings")
    box = re.search(r'<textarea[^>]*name="upload_types"[^>]*>(.*?)</textarea>', form, re.S)
    assert box is not None and box[1].strip() == long_list
    lines = "image/png\r\n  application/pdf\r\n"
    assert admin.form("/admin/settings", {**data, "upload_types": lines}).status_code == 302
    assert settings.get("upload_types") == "image/png application/pdf"
