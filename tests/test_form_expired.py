"""A form that could not be sent (its token expired, or the member's session ended) keeps what
was typed in it: shown back, escaped, never a password, and sent again only from this site."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from io import BytesIO
from typing import Any

import pytest
from sqlalchemy import func, select

from forum.accounts import marker, two_factor
from forum.extensions import db
from forum.topics.models import Post

from .factories import PASSWORD
from .test_two_factor import NOW, code_at, turn_on

HERE = "http://localhost"
EVIL = "https://evil.example"
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
REPLY = "A long reply about the <b>C64</b> & its SID chip,\nwritten with care."
REPLY_HTML = "A long reply about the &lt;b&gt;C64&lt;/b&gt; &amp; its SID chip,\nwritten with care."


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def posts() -> int:
    return int(db.session.scalar(select(func.count()).select_from(Post)) or 0)


class ResendForm(HTMLParser):
    """The page's "send again" form: its address and the fields it would send."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and "form-kept-resend" in a.get("class", ""):
            self._in_form = True
            self.action = a["action"]
        elif self._in_form and tag == "input" and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")
        elif self._in_form and tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self.fields[a["name"]] = ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._in_form = False


def resend_form(response: Any) -> ResendForm:
    parser = ResendForm()
    parser.feed(html(response))
    return parser


@pytest.fixture
def topic(f: Any) -> Any:
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    return f.topic(ada, sig)


def reply_page_token(client: Any, topic: Any) -> str:
    """The token of the reply form, as the member's open tab holds it."""
    found = TOKEN.search(html(client.get(f"/t/{topic.id}/reply")))
    assert found, "the reply form carries no token"
    return found.group(1)


def send_reply(client: Any, topic: Any, token: str, **headers: str) -> Any:
    return client.post(
        f"/t/{topic.id}/reply",
        data={"body": REPLY, "reply_to": "", "csrf_token": token},
        headers=headers,
    )


def test_a_reply_sent_after_logout_everywhere_comes_back_and_writes_nothing(client, topic):
    client.login("ada")
    token = reply_page_token(client, topic)
    # Another tab: "log out everywhere".
    assert client.form("/settings", {"action": "everywhere"}).status_code == 302
    before = posts()
    response = send_reply(client, topic, token, Origin=HERE)
    assert response.status_code == 400
    page = html(response)
    assert "Form expired" in page
    # The text, escaped (it is the sender's input), and nothing posted.
    assert REPLY_HTML in page and "<b>C64</b>" not in page
    assert posts() == before
    # Signed out: said so, with sign-in in a new tab, which leaves this one (and the text) be.
    assert "You are not signed in." in page
    assert re.search(r'<a href="/login" target="_blank" rel="noopener">', page)


def test_a_reply_sent_after_the_session_ended_elsewhere_comes_back(client, make_client, topic):
    """ "Log out everywhere" on another device: this browser's token still matches its cookie,
    and the page for members would have sent it to the sign-in page, text lost."""
    client.login("ada")
    token = reply_page_token(client, topic)
    phone = make_client()
    phone.login("ada")
    assert phone.form("/settings", {"action": "everywhere"}).status_code == 302
    before = posts()
    response = send_reply(client, topic, token, Origin=HERE)
    assert response.status_code == 401
    page = html(response)
    assert REPLY_HTML in page and "You are not signed in." in page
    assert posts() == before
    # A guest's stale page without text still goes to the sign-in page.
    response = client.form(f"/t/{topic.id}/reply", {"body": ""})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Referer": f"{EVIL}/attack.html"},
        {},  # neither: not enough either
        {"Origin": EVIL, "Referer": f"{HERE}/t/1/reply"},  # the Origin decides
    ],
)
def test_a_cross_site_post_gets_the_text_but_no_send_again_form(
    client, make_client, topic, headers
):
    client.login("ada")
    stranger = make_client()
    before = posts()
    # A forged form: the attacker's page cannot know the member's token.
    response = send_reply(client, topic, stranger.csrf_token(), **headers)
    assert response.status_code == 400
    page = html(response)
    assert REPLY_HTML in page
    assert "did not say that this form came from one of this site" in page
    assert "form-kept-resend" not in page and "Send again" not in page
    assert "No draft of this text was saved: what you typed is only on this page." in page
    assert resend_form(response).action is None
    assert posts() == before


def test_the_same_site_gets_a_send_again_form_by_referer_too(client, make_client, topic):
    client.login("ada")
    response = send_reply(
        client, topic, make_client().csrf_token(), Referer=f"{HERE}/t/{topic.id}/reply"
    )
    assert response.status_code == 400
    assert resend_form(response).action == f"/t/{topic.id}/reply"


def test_a_password_never_comes_back(client, make_client, f):
    f.user("ada")
    client.login("ada")
    stale = make_client().csrf_token()
    secrets = ("old-Passw0rd-never-shown", "new-Passw0rd-never-shown")
    response = client.post(
        "/settings",
        data={
            "action": "password",
            "password-current_password": secrets[0],
            "password-new_password": secrets[1],
            "csrf_token": stale,
        },
        headers={"Origin": HERE},
    )
    assert response.status_code == 400
    guest = make_client()
    login = guest.post(
        "/login",
        data={
            "login": "ada-typed-this",
            "password": secrets[0],
            "remember": "y",
            "csrf_token": "x",
        },
        headers={"Origin": HERE},
    )
    assert login.status_code == 400
    for page in (html(response), html(login)):
        for secret in (*secrets, stale):
            assert secret not in page
    # The login form's name comes back (and can be sent again), its password does not.
    kept = resend_form(login)
    assert kept.fields.get("login") == "ada-typed-this"
    assert "password" not in kept.fields and kept.fields.get("remember") == "y"
    assert kept.fields["csrf_token"] != "x"


def test_send_again_posts_the_reply_when_still_signed_in(client, topic):
    """The session cookie ended (the browser closed), the remember-me cookie signed the member
    in again: the old page's token no longer matches, the page's fresh one does."""
    client.form("/login", {"login": "ada", "password": PASSWORD, "remember": "y"})
    token = reply_page_token(client, topic)
    # The composer saved a draft while the member typed.
    assert client.form(f"/drafts/reply:{topic.id}", {"body": REPLY}).status_code == 200
    client.delete_cookie("session")
    before = posts()
    response = send_reply(client, topic, token, Origin=HERE)
    assert response.status_code == 400
    page = html(response)
    assert "You are not signed in." not in page
    assert "Your draft of this text was saved" in page
    kept = resend_form(response)
    assert kept.action == f"/t/{topic.id}/reply"
    assert kept.fields["body"] == REPLY and kept.fields["csrf_token"] != token
    assert posts() == before
    sent = client.post(kept.action, data=kept.fields, headers={"Origin": HERE})
    assert sent.status_code == 302, html(sent)[:500]
    assert posts() == before + 1
    assert db.session.scalar(select(Post.body_raw).order_by(Post.id.desc()).limit(1)) == REPLY


def test_signed_out_send_again_keeps_the_text_until_signed_in(client, topic):
    client.login("ada")
    token = reply_page_token(client, topic)
    client.form("/settings", {"action": "everywhere"})
    kept = resend_form(send_reply(client, topic, token, Origin=HERE))
    assert kept.action and kept.fields["body"] == REPLY
    before = posts()
    # Pressed before signing in: the same page again, the text still there.
    again = client.post(kept.action, data=kept.fields, headers={"Origin": HERE})
    assert again.status_code == 401 and REPLY_HTML in html(again)
    assert posts() == before
    # Signed in in another tab: this tab's form goes through (signing in keeps its token).
    client.login("ada")
    sent = client.post(kept.action, data=kept.fields, headers={"Origin": HERE})
    assert sent.status_code == 302
    assert posts() == before + 1


def test_json_and_api_answers_are_unchanged(client, topic):
    client.login("ada")
    response = client.post(
        f"/t/{topic.id}/reply",
        data={"body": REPLY, "csrf_token": "stale"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400 and response.json["error"]["title"] == "Form expired"
    api = client.post(f"/api/v1/topics/{topic.id}/posts", json={"body": REPLY})
    assert api.status_code == 400
    assert "X-CSRFToken" in api.json["error"]["message"]
    # The form's page is new: only a browser's form gets it.
    page = send_reply(client, topic, "stale", Origin=HERE)
    assert REPLY_HTML in html(page)


@pytest.mark.parametrize(
    "language,words",
    [
        ("de", ("Erneut senden", "Du bist nicht angemeldet.")),
        ("es", ("Enviar de nuevo", "No has iniciado sesión.")),
    ],
)
def test_the_page_speaks_the_members_language(client, topic, language, words):
    client.login("ada")
    token = reply_page_token(client, topic)
    client.form("/settings", {"action": "everywhere"})
    response = send_reply(client, topic, token, Origin=HERE, **{"Accept-Language": language})
    assert response.status_code == 400
    page = html(response)
    assert f'lang="{language}"' in page
    for word in words:
        assert word in page
    assert REPLY_HTML in page


@pytest.mark.config(MAX_POST_LENGTH=100)
def test_a_form_too_long_to_bring_back_is_cut_and_not_sent_again(client, make_client, topic):
    client.login("ada")
    long_text = "word " * 400  # 2,000 characters: more than a post and the slack
    response = client.post(
        f"/t/{topic.id}/reply",
        data={"body": long_text, "csrf_token": make_client().csrf_token()},
        headers={"Origin": HERE},
    )
    assert response.status_code == 400
    page = html(response)
    assert "too long to bring back whole" in page
    assert long_text[:1100] in page and long_text not in page
    assert resend_form(response).action is None


def test_an_earlier_draft_is_named_as_earlier(client, make_client, topic):
    """The draft's line said "the text below is what you sent" over the form's own "What you
    typed is below": twice where the text is, once too many."""
    client.login("ada")
    client.form(f"/drafts/reply:{topic.id}", {"body": "An early version."})
    response = send_reply(client, topic, make_client().csrf_token(), Origin=HERE)
    page = html(response)
    assert (
        "holds an earlier version of this text than the one you sent: it is under Drafts." in page
    )
    assert page.count("below") == 1
    assert "What you typed is below: check it, then send it again." in page


def test_signed_out_the_page_says_a_draft_may_have_been_saved(client, topic):
    """Signed out, the member's drafts cannot be read: the page says one may have been saved
    while they typed, where to look after signing in, and claims neither that one was saved
    nor that none was."""
    client.login("ada")
    token = reply_page_token(client, topic)
    assert client.form(f"/drafts/reply:{topic.id}", {"body": REPLY}).status_code == 200
    client.form("/settings", {"action": "everywhere"})
    response = send_reply(client, topic, token, Origin=HERE)
    assert response.status_code == 400
    page = html(response)
    assert "You are not signed in." in page
    assert (
        "The editor may have saved a draft as you typed, while you were still signed in: after "
        "signing in, look under Drafts."
    ) in page
    assert "No draft of this text was saved" not in page
    assert "Your draft of this text was saved" not in page
    assert "holds an earlier version" not in page
    assert page.count("below") == 1


def test_only_a_chosen_file_is_said_to_be_dropped(client, topic):
    """The reply form is multipart with a file input: left empty, the browser still sends it (no
    name, no bytes), and the page must not tell her to attach files she never chose."""
    client.login("ada")
    token = reply_page_token(client, topic)
    client.form("/settings", {"action": "everywhere"})
    fields = {"body": REPLY, "reply_to": "", "csrf_token": token}
    empty = client.post(
        f"/t/{topic.id}/reply",
        data={**fields, "file": (BytesIO(b""), "")},
        headers={"Origin": HERE},
        content_type="multipart/form-data",
    )
    assert empty.status_code == 400 and REPLY_HTML in html(empty)
    assert "Attached files are not kept" not in html(empty)
    chosen = client.post(
        f"/t/{topic.id}/reply",
        data={**fields, "file": (BytesIO(b"GIF89a"), "modem.gif")},
        headers={"Origin": HERE},
        content_type="multipart/form-data",
    )
    assert chosen.status_code == 400 and REPLY_HTML in html(chosen)
    assert "Attached files are not kept: attach them again." in html(chosen)


def end_sessions_elsewhere(make_client: Any, who: str = "ada") -> None:
    """ "Log out everywhere" on another device: every other browser's session is over."""
    phone = make_client()
    phone.login(who)
    assert phone.form("/settings", {"action": "everywhere"}).status_code == 302


def marked(client: Any) -> bool:
    with client.session_transaction() as session:
        return bool(session.get(marker.SESSION_KEY))


def sent_to_sign_in(response: Any) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


def test_the_forums_own_mark_tells_a_member_from_a_guest(client, make_client, topic):
    """Whether a form with text comes from a member whose session ended or from a guest, the
    forum's own mark says (forum.accounts.marker), not Flask-Login's private `_user_id`."""
    client.login("ada")
    other = make_client()
    other.login("ada")
    end_sessions_elsewhere(make_client)
    before = posts()
    # Flask-Login's key gone, the forum's mark kept: the text comes back.
    with client.session_transaction() as session:
        assert session[marker.SESSION_KEY] is True
        del session["_user_id"]
    kept = send_reply(client, topic, client.csrf_token(), Origin=HERE)
    assert kept.status_code == 401 and REPLY_HTML in html(kept)
    assert "You are not signed in." in html(kept)
    # Flask-Login's key still naming the ended session, the forum's mark gone: a guest's form,
    # sent to sign in.
    with other.session_transaction() as session:
        assert session["_user_id"]
        del session[marker.SESSION_KEY]
    assert sent_to_sign_in(send_reply(other, topic, other.csrf_token(), Origin=HERE))
    assert posts() == before


def test_every_sign_in_marks_the_browser_and_every_sign_out_here_unmarks_it(
    client, make_client, f, topic, monkeypatch
):
    # The login form; POST /logout. A form sent after signing out on purpose in this browser
    # goes to the sign-in page, as a guest's does.
    client.login("ada")
    assert marked(client)
    client.logout()
    assert not marked(client)
    assert sent_to_sign_in(send_reply(client, topic, client.csrf_token(), Origin=HERE))
    # "Log out everywhere" here.
    client.login("ada")
    client.form("/settings", {"action": "everywhere"})
    assert not marked(client)
    # A password change signs this browser in again: marked again.
    client.login("ada")
    with client.session_transaction() as session:
        del session[marker.SESSION_KEY]
    changed = client.form(
        "/settings",
        {
            "action": "password",
            "password-current_password": PASSWORD,
            "password-new_password": PASSWORD + "-new",
        },
    )
    assert changed.status_code == 302 and marked(client)
    # A remember-me cookie signing the member in again, the session cookie gone.
    bob = f.user("bob")
    browser = make_client()
    browser.form("/login", {"login": "bob", "password": PASSWORD, "remember": "y"})
    browser.delete_cookie("session")
    assert not marked(browser)
    assert browser.get("/settings").status_code == 200 and marked(browser)
    # The two-factor code step: marked once the code passed, not after the password alone.
    now = {"t": NOW}
    monkeypatch.setattr(two_factor, "clock", lambda: now["t"])
    secret, _ = turn_on(browser, bob, now)
    laptop = make_client()
    laptop.form("/login", {"login": "bob", "password": PASSWORD})
    assert not marked(laptop)
    assert laptop.form("/login/code", {"code": code_at(secret, now["t"])}).status_code == 302
    assert marked(laptop)


def test_a_closed_browser_whose_session_ended_elsewhere_keeps_its_text(client, make_client, topic):
    """The session cookie went with the browser; the remember-me cookie, its session ended by
    "log out everywhere" on another device, no longer signs anyone in, but says a member signed
    in here: the text comes back. A remember-me cookie without the site's signature does not."""
    client.form("/login", {"login": "ada", "password": PASSWORD, "remember": "y"})
    end_sessions_elsewhere(make_client)
    client.delete_cookie("session")
    before = posts()
    kept = send_reply(client, topic, client.csrf_token(), Origin=HERE)
    assert kept.status_code == 401 and REPLY_HTML in html(kept)
    forged = make_client()
    forged.set_cookie("remember_token", "1:forged:1|0123456789abcdef")
    assert sent_to_sign_in(send_reply(forged, topic, forged.csrf_token(), Origin=HERE))
    assert posts() == before


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_POST="1 per minute")
def test_a_reply_over_the_posting_budget_comes_back_to_send_again(client, topic):
    """The posting budget spent (forum.ratelimits): it was a bare "Slow down" page, and the
    reply typed was gone."""
    client.login("ada")
    token = reply_page_token(client, topic)
    assert send_reply(client, topic, token, Origin=HERE).status_code == 302
    before = posts()
    response = client.post(
        f"/t/{topic.id}/reply",
        data={"body": REPLY + " Again.", "reply_to": "", "csrf_token": token},
        headers={"Origin": HERE},
    )
    assert response.status_code == 429
    assert response.headers["Retry-After"]
    page = html(response)
    assert "Slow down" in page and "so nothing was done" in page
    assert REPLY_HTML + " Again." in page
    assert posts() == before
    again = resend_form(response)
    assert again.action == f"/t/{topic.id}/reply" and again.fields["body"] == REPLY + " Again."
    # The API and JSON still get their own answer.
    response = client.post(
        f"/t/{topic.id}/reply",
        data={"body": "x", "csrf_token": token},
        headers={"Origin": HERE, "Accept": "application/json"},
    )
    assert response.status_code == 429 and response.is_json
