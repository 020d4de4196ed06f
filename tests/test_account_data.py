"""A member's own data: "Download my data" (a ZIP of JSON files) and "Delete my account"."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from sqlalchemy import func, select

from forum import events
from forum.accounts import two_factor
from forum.accounts.models import RecoveryCode, User, UserSession
from forum.api import services as api_services
from forum.api.models import ApiToken
from forum.bookmarks import services as bookmarks
from forum.bookmarks.models import Bookmark
from forum.care import services as care
from forum.drafts import services as drafts
from forum.drafts.models import Draft
from forum.extensions import db
from forum.files import services as files
from forum.messages import services as messages
from forum.moderation import services as mod
from forum.moderation.models import ModAction
from forum.notifications import services as notifications
from forum.notifications.models import Notification, SigWatch, TopicWatch
from forum.reactions import services as reactions
from forum.search import indexer
from forum.search.backend import WhooshBackend
from forum.sigs import services as sig_services
from forum.sigs.models import JoinRequest, Membership, Sig
from forum.topics.models import Post

from .mailbox import mails, text_of

NOW = 1_800_000_000.0


def html(response: Any) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def world(f: Any) -> dict[str, Any]:
    """Ada, with something of every kind; Bob and Cyd, with private words of their own."""
    root = f.sysop("root")
    ada = f.user("ada")
    bob, cyd = f.user("bob"), f.user("cyd")
    retro = f.sig("retro", members=[ada, bob, cyd])
    hidden = f.sig("hideout", visibility="private", members=[bob])
    from forum.accounts import services as accounts

    accounts.update_profile(
        ada, signature="Ada's line", bio="I like *retro* machines.", timezone="Europe/Berlin"
    )
    topic = f.topic(ada, retro, "Ada's question about floppies", "Floppies: how to keep them?")
    ada_reply = f.reply(ada, topic, "Adding that 5.25 inch ones are tricky.")
    bob_reply = f.reply(bob, topic, "Bob answers in public.")
    f.topic(bob, hidden, "Bob's hideout plans", "Nobody else reads this.")
    bookmarks.bookmark_post(ada, bob_reply.id)
    reactions.set_reaction(ada, bob_reply.id, "👍")
    drafts.save_draft(ada, drafts.reply_key(topic.id), "A draft ada keeps.")
    notifications.set_sig_level(ada, retro.id, "watching")
    talk = messages.start_conversation(ada, "bob", "Ada and Bob talk", "Ada's private words.")
    messages.reply_to_conversation(bob, talk.id, "Bob's private answer.")
    messages.start_conversation(bob, "cyd", "Bob and Cyd only", "Cyd must not leak.")
    upload = files.upload_file(ada, retro.id, io.BytesIO(b"hello retro"), "notes.txt")
    concern = care.write_to_sysops(ada, retro.id, "Ada asks the sysops", "Ada's concern words.")
    token = api_services.create_token(ada, "Ada's script", ["read"], 30)
    return {
        "root": root,
        "ada": ada,
        "bob": bob,
        "cyd": cyd,
        "retro": retro,
        "topic": topic,
        "ada_reply": ada_reply,
        "bob_reply": bob_reply,
        "talk": talk,
        "upload": upload,
        "concern": concern,
        "token": token,
    }


def download(client: Any) -> Any:
    return client.form("/settings/data", {"csrf_token": client.csrf_token()})


def unzip(response: Any) -> dict[str, Any]:
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    return {name: json.loads(archive.read(name)) for name in archive.namelist()}


# --- Download my data ------------------------------------------------------------------------


def test_settings_offer_the_download_and_the_deletion(client, world) -> None:
    client.login("ada")
    page = html(client.get("/settings"))
    assert 'action="/settings/data"' in page and "Download my data" in page
    assert 'href="/settings/delete"' in page


def test_the_download_is_a_zip_of_the_members_own_data(client, world) -> None:
    ada = world["ada"]
    client.login("ada")
    response = download(client)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="ada-data-')
    assert response.headers["Cache-Control"] == "no-store"
    data = unzip(response)

    profile = data["profile.json"]
    assert profile["username"] == "ada" and profile["email"] == "ada@example.com"
    assert profile["signature"] == "Ada's line" and "<em>retro</em>" in profile["bio_html"]
    assert data["preferences.json"]["timezone"] == "Europe/Berlin"

    posts = {p["id"]: p for p in data["posts.json"]}
    ada_posts = db.session.scalars(select(Post).where(Post.user_id == ada.id)).all()
    assert set(posts) == {p.id for p in ada_posts}
    reply = posts[world["ada_reply"].id]
    assert reply["body_raw"] == "Adding that 5.25 inch ones are tricky."
    assert reply["body_html"] == world["ada_reply"].body_html
    assert reply["topic"] == "Ada's question about floppies" and reply["sig"] == "retro"
    assert reply["status"] == "visible" and reply["created_at"]
    assert [t["title"] for t in data["topics.json"]] == ["Ada's question about floppies"]
    assert [m["sig"] for m in data["memberships.json"]] == ["retro"]
    assert len(data["sessions.json"]) == 1  # this sign-in

    assert [b["post_id"] for b in data["bookmarks.json"]] == [world["bob_reply"].id]
    assert [(r["post_id"], r["emoji"]) for r in data["reactions.json"]] == [
        (world["bob_reply"].id, "👍")
    ]
    assert [d["body"] for d in data["drafts.json"]] == ["A draft ada keeps."]
    assert {"sig_id": world["retro"].id, "level": "watching"}.items() <= data["watches.json"][
        -1
    ].items()
    subjects = {c["subject"] for c in data["conversations.json"]}
    assert subjects == {"Ada and Bob talk", "Ada asks the sysops"}
    words = [m["body_raw"] for m in data["private_messages.json"]]
    assert "Ada's private words." in words and "Ada's concern words." in words
    upload = data["uploads.json"][0]
    assert (upload["name"], upload["size"]) == ("notes.txt", len(b"hello retro"))
    assert upload["url"] == files.file_url(world["upload"].sha256, "notes.txt")
    assert [c["subject"] for c in data["concerns.json"]] == ["Ada asks the sysops"]
    assert [t["name"] for t in data["api_tokens.json"]] == ["Ada's script"]


def test_the_download_says_who_hid_a_post(client, world) -> None:
    """A post a sysop hid keeps the sysop's reason; one that members' flags hid says so as data
    ("flags"), with no English sentence for a reason."""
    from forum.admin import services as admin_services

    admin_services.update_settings(world["root"], {"auto_hide_threshold": "2"})
    first = db.session.get(Post, world["topic"].first_post_id)
    for flagger in (world["bob"], world["cyd"]):  # basic members: a flag weighs one each
        mod.flag_post(flagger, first.id, "spam")
    mod.hide_post(world["root"], world["ada_reply"].id, "Off topic.")
    client.login("ada")
    posts = {p["id"]: p for p in unzip(download(client))["posts.json"]}
    by_flags, by_sysop = posts[first.id], posts[world["ada_reply"].id]
    assert by_flags["hidden_at"] and (by_flags["hidden_by"], by_flags["hide_reason"]) == (
        "flags",
        None,
    )
    assert (by_sysop["hidden_by"], by_sysop["hide_reason"]) == ("sysop", "Off topic.")


def test_the_download_holds_nothing_of_another_members_private_content(client, world) -> None:
    client.login("ada")
    archive = zipfile.ZipFile(io.BytesIO(download(client).get_data()))
    raw = b"".join(archive.read(name) for name in archive.namelist()).decode()
    assert "Ada's private words." in raw  # (the check below reads real content)
    for secret in (
        "Bob's private answer.",  # Bob's words in Ada's own conversation
        "Bob and Cyd only",  # a conversation Ada is not in
        "Cyd must not leak.",
        "Bob's hideout plans",  # a private SIG's topic
        "Nobody else reads this.",
        "bob@example.com",
        world["token"].secret,  # never a secret, not even her own
    ):
        assert secret not in raw


def test_the_download_is_a_post_with_a_csrf_token_for_members(client, make_client, world) -> None:
    assert client.get("/settings/data").status_code == 405
    guest = client.post("/settings/data", data={"csrf_token": client.csrf_token()})
    assert guest.status_code == 302 and "/login" in guest.headers["Location"]
    client.login("ada")
    assert client.post("/settings/data").status_code == 400
    assert client.post("/settings/data", data={"csrf_token": "forged"}).status_code == 400


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_EXPORT="2 per day")
def test_the_download_is_limited_per_member(make_client, world) -> None:
    first, second = make_client(), make_client()
    first.login("ada")
    second.login("ada")
    assert download(first).status_code == 200
    assert download(second).status_code == 200
    assert download(first).status_code == 429  # per account, whichever browser asks
    other = make_client()
    other.login("bob")
    assert download(other).status_code == 200


# --- Delete my account -----------------------------------------------------------------------


def delete(client: Any, password: str = "correct-horse-battery", **extra: str) -> Any:
    data = {"delete-password": password, **{f"delete-{k}": v for k, v in extra.items()}}
    return client.form("/settings/delete", data)


def assert_whole(ada: User) -> None:
    ada = db.session.get(User, ada.id)
    assert ada.username == "ada" and ada.email == "ada@example.com"
    assert ada.signature == "Ada's line" and ada.bio_raw
    uid = ada.id
    for model in (Bookmark, Draft, ApiToken, Membership, UserSession):
        assert db.session.scalar(select(func.count()).where(model.user_id == uid)), model
    assert db.session.scalar(select(func.count()).where(SigWatch.user_id == uid))


def test_the_page_says_what_happens_and_asks_for_the_password(client, world) -> None:
    client.login("ada")
    page = html(client.get("/settings/delete"))
    assert "Your posts and topics stay" in page and "former member" in page
    assert 'name="delete-password"' in page and 'name="delete-code"' not in page


def test_a_wrong_password_keeps_everything(client, world, outbox: Path) -> None:
    client.login("ada")
    response = delete(client, password="not-my-password")
    assert response.status_code == 400
    assert "That is not your current password." in html(response)
    assert_whole(world["ada"])
    assert client.get("/settings").status_code == 200  # still signed in
    assert not mails(outbox)


def test_a_post_without_the_csrf_token_deletes_nothing(client, world) -> None:
    client.login("ada")
    response = client.post("/settings/delete", data={"delete-password": "correct-horse-battery"})
    assert response.status_code == 400
    assert_whole(world["ada"])


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    now = {"t": NOW}
    monkeypatch.setattr(two_factor, "clock", lambda: now["t"])
    return now


def test_two_factor_members_give_a_code_too(client, world, clock) -> None:
    ada = world["ada"]
    secret = two_factor.new_secret()
    two_factor.enable(ada, secret, pyotp.TOTP(secret).at(NOW - 30))
    client.login("ada")
    client.form("/login/code", {"code": pyotp.TOTP(secret).at(NOW)})
    clock["t"] += 60
    assert 'name="delete-code"' in html(client.get("/settings/delete"))
    assert delete(client).status_code == 400  # no code
    assert delete(client, code="000000").status_code == 400
    assert_whole(ada)
    assert db.session.get(User, ada.id).has_two_factor
    response = delete(client, code=pyotp.TOTP(secret).at(clock["t"]))
    assert response.status_code == 302
    ada = db.session.get(User, ada.id)
    assert ada.totp_secret is None and not ada.has_two_factor
    uid = ada.id
    assert not db.session.scalar(select(func.count()).where(RecoveryCode.user_id == uid))


RESULT_RE = re.compile(r'class="search-result-title"><a href="([^"]+)">')


def _search(client: Any, q: str) -> list[str]:
    return RESULT_RE.findall(html(client.get("/search", query_string={"q": q})))


def test_deleting_forgets_the_member_and_keeps_their_posts(
    app: Flask, client, make_client, world, outbox: Path, tmp_path: Path
) -> None:
    app.config["INDEX_DIR"] = str(tmp_path / "index")
    indexer.replace_backend(app, WhooshBackend(app.config["INDEX_DIR"]))
    indexer.rebuild()
    ada, bob, retro = world["ada"], world["bob"], world["retro"]
    uid = ada.id
    other_browser = make_client()
    other_browser.login("ada")
    client.login("ada")
    db.session.execute(
        db.update(User).where(User.id == uid).values(language="de")
    )  # her mail comes in German
    db.session.commit()
    topic_url = f"/t/{world['topic'].id}"
    assert _search(client, "author:ada floppies")
    members_before = db.session.get(Sig, retro.id).member_count
    assert sig_services.request_to_join(ada, "hideout") is not None

    response = delete(client)
    assert response.status_code == 302 and response.headers["Location"] == "/account/deleted"
    page = html(client.get("/account/deleted"))
    assert "Your account is deleted" in page

    ada = db.session.get(User, ada.id)
    assert ada.username == f"former-{uid}" and "ada" not in ada.email
    assert ada.signature == "" and ada.bio_raw == "" and ada.bio_html == ""
    assert ada.preferences == {} and ada.timezone == "UTC" and ada.language is None
    for model in (Bookmark, Draft, ApiToken, Membership, UserSession, Notification, TopicWatch):
        assert not db.session.scalar(select(func.count()).where(model.user_id == uid)), model
    assert not db.session.scalar(select(func.count()).where(SigWatch.user_id == uid))
    assert not db.session.scalar(select(func.count()).where(JoinRequest.user_id == uid))
    assert db.session.get(Sig, retro.id).member_count == members_before - 1
    # The posts stay, under the placeholder name.
    assert db.session.scalar(select(func.count()).where(Post.user_id == uid)) == 2
    # Signed out here and on the other browser; the password and the token no longer work.
    assert client.get("/settings").status_code == 302
    assert other_browser.get("/settings").status_code == 302
    assert (
        client.form("/login", {"login": "ada", "password": "correct-horse-battery"}).status_code
        != 302
    )
    api = client.get("/api/v1/me", headers={"Authorization": f"Bearer {world['token'].secret}"})
    assert api.status_code == 401
    # Others still read the thread, under "Former member" (tests/test_former_member.py), and
    # never the old name.
    reader = make_client()
    reader.login(bob)
    thread = html(reader.get(topic_url, follow_redirects=True))
    assert "Adding that 5.25 inch ones are tricky." in thread and "Former member" in thread
    assert ">ada<" not in thread and "/u/ada" not in thread
    assert reader.get("/u/ada").status_code == 410  # gone on purpose: the name is retired
    assert reader.get("/u/ada/feed.atom").status_code == 404
    feed = html(reader.get(f"/t/{world['topic'].id}/feed.atom"))
    assert "<name>ada</name>" not in feed and "<name>Former member</name>" in feed
    assert not _search(reader, "author:ada floppies")
    assert _search(reader, f"author:former-{uid} floppies")
    # A mail to the old address, in her language.
    sent = [m for m in mails(outbox) if m["To"] == "ada@example.com"]
    assert sent and "gelöscht" in sent[-1]["Subject"]
    assert "ada" in text_of(sent[-1])


@pytest.mark.config(PAGE_CACHE_SECONDS=30)
def test_guests_cached_pages_lose_the_old_name(client, make_client, f, world) -> None:
    ada = world["ada"]
    # A SIG she wrote in and left since: her leaving now changes none of its pages.
    haunt = f.sig("haunt", members=[ada])
    topic = f.topic(ada, haunt, "Ada's old haunt", "Once upon a time.")
    sig_services.leave_sig(ada, haunt.id)
    guest = make_client()
    topic_url = f"/t/{topic.id}/{topic.slug}"
    assert "/u/ada" in html(guest.get(topic_url))  # now in the guest page cache
    assert "/u/ada" in html(guest.get("/s/haunt/"))
    client.login("ada")
    assert delete(client).status_code == 302
    assert "/u/ada" not in html(guest.get(topic_url))
    assert "/u/ada" not in html(guest.get("/s/haunt/"))


def test_the_moderation_log_keeps_its_rows(client, world) -> None:
    ada, root = world["ada"], world["root"]
    mod.warn_member(root, ada.id, "Be kind.")
    before = db.session.scalar(select(func.count()).select_from(ModAction))
    client.login("ada")
    assert delete(client).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(ModAction)) == before


def test_the_last_global_sysop_cannot_delete_their_account(client, world) -> None:
    client.login("root")
    page = html(client.get("/settings/delete"))
    assert "only global sysop" in page
    response = delete(client)
    assert response.status_code == 403 and "only global sysop" in html(response)
    root = db.session.get(User, world["root"].id)
    assert root.username == "root" and root.is_global_sysop


def test_a_global_sysop_may_once_there_is_another(client, f, world) -> None:
    f.sysop("second")
    client.login("root")
    assert delete(client).status_code == 302
    root = db.session.get(User, world["root"].id)
    assert root.username.startswith("former-") and not root.is_global_sysop


def test_a_failure_halfway_leaves_the_account_whole(app: Flask, client, world, outbox) -> None:
    def fail(event: events.AccountDeleted) -> None:
        raise RuntimeError("the disk is full")

    events.subscribe(app, events.AccountDeleted, fail, phase="in_transaction")
    client.login("ada")
    assert delete(client).status_code == 500
    assert_whole(world["ada"])
    members = db.session.get(Sig, world["retro"].id).member_count
    assert members == 3
    assert not [m for m in mails(outbox) if "deleted" in m["Subject"]]


def test_no_new_account_takes_a_former_members_name(client, f) -> None:
    from forum.errors import Invalid

    with pytest.raises(Invalid):
        f.user("Former-12")
