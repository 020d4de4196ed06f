"""Accessible pages: landmarks, a label on every field, errors tied to their fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest

from forum.accounts import services

UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    ancestors: list[Element]
    text: list[str] = field(default_factory=list)

    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


class Page(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(source)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, list(self._open))
        self.elements.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[Element]:
        return [
            e
            for e in self.elements
            if e.tag == tag and all(e.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def by_id(self) -> dict[str, Element]:
        return {e.attrs["id"]: e for e in self.elements if "id" in e.attrs}


def check_page(source: str, url: str) -> Page:
    """Every rule a page must keep; returns the parsed page for further checks."""
    page = Page(source)
    where = f"on {url}"
    html = page.find("html")
    assert html and html[0].attrs.get("lang"), where
    assert page.find("title") and page.find("title")[0].all_text(), where
    assert len(page.find("main")) == 1, where
    assert page.find("header", role="banner") or page.find("header"), where
    assert page.find("footer"), where
    assert all(nav.attrs.get("aria-label") for nav in page.find("nav")), where
    # Search landmarks (the header's box, the search page's form, the mailbox's) are named,
    # each differently: a screen reader's list of landmarks said "search" twice on /search.
    searches = [e.attrs.get("aria-label") for e in page.find("form", role="search")]
    assert all(searches), f"a search landmark without a name {where}"
    assert len(searches) == len(set(searches)), f"search landmarks named alike {where}"
    assert page.find("a", class_="skip-link", href="#main"), where

    ids = [e.attrs["id"] for e in page.elements if "id" in e.attrs]
    # Hidden inputs are invisible to assistive technology, and Flask-WTF gives every form's CSRF
    # field id="csrf_token", so a page with two forms repeats it; every other id must be unique.
    exposed = [
        e.attrs["id"]
        for e in page.elements
        if "id" in e.attrs and not (e.tag == "input" and e.attrs.get("type") == "hidden")
    ]
    assert len(exposed) == len(set(exposed)), f"duplicate ids {where}: {sorted(exposed)}"
    known = set(ids)
    labels_for = {e.attrs["for"] for e in page.find("label") if e.attrs.get("for")}

    for element in page.elements:
        for ref in element.attrs.get("aria-describedby", "").split():
            assert ref in known, f"aria-describedby={ref} points nowhere {where}"
        for ref in element.attrs.get("aria-labelledby", "").split():
            assert ref in known, f"aria-labelledby={ref} points nowhere {where}"
        if element.tag in ("input", "textarea", "select"):
            if element.attrs.get("type", "text") in UNLABELLED_TYPES:
                continue
            name = element.attrs.get("name", "?")
            labelled = (
                element.attrs.get("id") in labels_for
                or any(a.tag == "label" for a in element.ancestors)
                or element.attrs.get("aria-label")
                or element.attrs.get("aria-labelledby")
            )
            assert labelled, f"field {name} has no label {where}"
            if element.attrs.get("id") in labels_for:
                label = next(
                    lb for lb in page.find("label") if lb.attrs.get("for") == element.attrs["id"]
                )
                assert label.all_text(), f"empty label for {name} {where}"
        if element.tag == "button":
            assert element.all_text() or element.attrs.get("aria-label"), f"empty button {where}"
        if element.tag == "img":
            assert "alt" in element.attrs, f"img without alt {where}"
        if element.tag == "a" and "href" in element.attrs:
            assert element.all_text() or element.attrs.get("aria-label"), f"empty link {where}"
    return page


def assert_error_tied(page: Page, field_id: str, message: str) -> None:
    """The field says it is invalid and points at the text that says why."""
    (element,) = [e for e in page.elements if e.attrs.get("id") == field_id]
    assert element.attrs.get("aria-invalid") == "true", field_id
    described = element.attrs.get("aria-describedby", "").split()
    ids = page.by_id()
    texts = " ".join(ids[ref].all_text() for ref in described)
    assert message in texts, (field_id, described, texts)


@pytest.fixture
def world(f: Any) -> dict[str, Any]:
    ada = f.user("ada")
    boss = f.sysop("boss")
    sig = f.sig("retro", members=[ada], sysops=[ada])
    hidden = f.sig("hidden", visibility="private", members=[ada])
    f.user("grace")
    topic = f.topic(ada, sig, body="Hello **world**")
    post = f.reply(ada, topic, body="A reply with a [link](https://example.com)")
    services.update_profile(ada, signature="sig line", bio="*bio*")
    from forum.messages import services as mail

    conversation = mail.start_conversation(boss, "ada, grace", "Welcome", "Hello **both**")
    mail.report_message(ada, conversation.last_message_id, "spam")
    from forum.webhooks import services as webhooks

    hook = webhooks.create_webhook(boss, sig.id, "https://93.184.216.34/hook", ["post.created"])
    from forum.care import services as care

    concern = care.write_to_sysops(ada, None, "My posts", "Where did they go?")
    return {
        "concern": concern,
        "webhook": hook,
        "ada": ada,
        "boss": boss,
        "sig": sig,
        "hidden": hidden,
        "topic": topic,
        "post": post,
        "conversation": conversation,
    }


def test_every_page_has_landmarks_and_labelled_fields(make_client, world):
    topic, post, conversation = world["topic"], world["post"], world["conversation"]
    guest = make_client()
    member = make_client()
    member.login("ada")
    sysop = make_client()
    sysop.login("boss")
    pages = {
        guest: ["/", "/login", "/register", "/password/forgot", "/s/retro/", f"/t/{topic.id}",
                "/u/ada", "/no/such/page", "/s/retro/members"],
        member: ["/", "/settings", "/new", "/s/retro/", "/s/retro/new", f"/t/{topic.id}",
                 f"/t/{topic.id}/reply", f"/p/{post.id}/edit", "/sigs/request", "/u/ada",
                 "/s/retro/requests", "/s/hidden/", "/mail", "/mail?folder=archive",
                 "/mail?q=hello", "/mail/new?to=grace", f"/mail/c/{conversation.id}",
                 f"/mail/m/{conversation.last_message_id}/report", "/u/grace",
                 f"/care/{world['concern'].id}"],
        sysop: [f"/p/{post.id}/history", "/s/retro/requests", "/settings", "/mod",
                "/s/retro/webhooks", "/admin/webhooks", "/mod/webhooks",
                f"/mod/webhooks/{world['webhook'].id}", "/s/retro/digest-note",
                f"/t/{topic.id}", f"/mod/topics/{topic.id}/split?post={post.id}",
                f"/mod/topics/{topic.id}/merge", f"/mod/topics/{topic.id}/merge?q=hello",
                "/mod/u/ada?sig=1", "/mod/concerns", f"/care/{world['concern'].id}"],
    }  # fmt: skip
    for browser, urls in pages.items():
        for url in urls:
            response = browser.get(url)
            assert response.status_code in (200, 404), (url, response.status_code)
            check_page(response.get_data(as_text=True), url)


@pytest.mark.search
def test_the_search_page_names_its_two_search_landmarks(make_client, world):
    """/search has the header's box and its own form, both `role="search"`: a screen reader
    listed two landmarks called "search" (axe-core: landmark-unique). Each has its name."""
    member = make_client()
    member.login("ada")
    for url in ("/search?q=hello", "/search"):
        page = check_page(member.get(url).get_data(as_text=True), url)
        names = [e.attrs.get("aria-label") for e in page.find("form", role="search")]
        assert names == ["Search the forum", "Search"], (url, names)


def test_reset_password_page_is_labelled(client, world, app, tmp_path):
    from forum.accounts.services import make_reset_token

    response = client.get(f"/password/reset/{make_reset_token(world['ada'])}")
    assert response.status_code == 200
    page = check_page(response.get_data(as_text=True), "reset")
    assert page.find("input", type="password")


def test_register_errors_are_tied_to_their_fields(client, world):
    response = client.form("/register", {"username": "a b", "email": "nope", "password": "short"})
    assert response.status_code == 400
    page = check_page(response.get_data(as_text=True), "/register")
    assert_error_tied(page, "username", "Use 3 to 32 letters")
    # The hint still describes the field next to the error.
    username = page.find("input", id="username")[0]
    assert "username-hint" in username.attrs["aria-describedby"].split()


def test_taken_username_error_is_tied_to_the_field(client, world):
    response = client.form(
        "/register", {"username": "ADA", "email": "new@example.com", "password": "long-enough-pw"}
    )
    page = check_page(response.get_data(as_text=True), "/register")
    assert_error_tied(page, "username", "That username is taken.")


def test_login_error_is_announced(client, world):
    response = client.form("/login", {"login": "ada", "password": "wrong-password"})
    page = check_page(response.get_data(as_text=True), "/login")
    (alert,) = [e for e in page.elements if e.attrs.get("role") == "alert"]
    assert "Wrong username or password." in alert.all_text()


def test_settings_errors_are_tied_to_their_fields(client, world):
    client.login("ada")
    response = client.form(
        "/settings",
        {"action": "profile", "profile-timezone": "Nowhere/Land", "profile-signature": "s"},
    )
    page = check_page(response.get_data(as_text=True), "/settings profile")
    assert_error_tied(page, "profile-timezone", "Unknown time zone")
    response = client.form(
        "/settings",
        {
            "action": "password",
            "password-current_password": "not-the-password",
            "password-new_password": "long-enough-pw",
        },
    )
    page = check_page(response.get_data(as_text=True), "/settings password")
    assert_error_tied(page, "password-current_password", "That is not your current password.")


def test_new_topic_errors_are_tied_to_their_fields(client, world):
    client.login("ada")
    response = client.form("/s/retro/new", {"title": "", "body": ""})
    assert response.status_code == 400
    page = check_page(response.get_data(as_text=True), "/s/retro/new")
    assert_error_tied(page, "title", "Fill in this field.")
    assert_error_tied(page, "body", "Fill in this field.")
