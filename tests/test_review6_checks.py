"""Review of the sixth session's performance work: the branches it added that no test reached.

- who_may_read_post(..., unless_ignoring=...) on its slow path (a private SIG loads members):
  the author's ignorers and a reactor's ignorers hear nothing there either.
- sig_page's lambda statement keeps the member's id a bound value (first reader frozen in: a leak).
- WTForms' messages (i18n.WTFormsWords) follow a force_locale block inside a request, and a form
  made outside a request still answers (in English)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import force_locale
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField
from wtforms.validators import DataRequired

from forum import settings
from forum.extensions import db
from forum.messages import services as mail_services
from forum.notifications.models import Notification
from forum.reactions import services as reactions


def _kinds(user_id: int) -> list[str]:
    db.session.expire_all()
    return sorted(
        db.session.scalars(select(Notification.kind).where(Notification.user_id == user_id))
    )


def test_ignorers_hear_nothing_of_a_post_or_reaction_in_a_private_sig(f: Any) -> None:
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    sig = f.sig("secret", visibility="private", members=[ada, bob, cyd])
    topic = f.topic(ada, sig, "Plans", "Where do we meet?")
    mail_services.ignore_member(ada, "bob")
    before_ada, before_cyd = _kinds(ada.id), _kinds(cyd.id)
    f.reply(bob, topic, "Hey @ada and @cyd, at mine?")
    assert _kinds(ada.id) == before_ada  # she ignores bob: no reply, no mention
    assert _kinds(cyd.id) == sorted([*before_cyd, "mention"])
    post = f.first_post(topic)
    reactions.set_reaction(bob, post.id, settings.reactions()[0])
    assert "reaction" not in _kinds(ada.id)
    reactions.set_reaction(cyd, post.id, settings.reactions()[0])
    assert _kinds(ada.id).count("reaction") == 1


class _Form(FlaskForm):
    class Meta:
        csrf = False

    name = StringField("Name", validators=[DataRequired()])


def _message(form: _Form) -> str:
    assert not form.validate()
    return form.name.errors[0]


def test_wtforms_messages_follow_force_locale_in_a_request_and_work_outside_one(
    app: Flask,
) -> None:
    with app.test_request_context("/", headers={"Accept-Language": "de"}, method="POST"):
        app.preprocess_request()  # the before_request hooks (i18n's WTFormsWords)
        assert _message(_Form()) == "Dieses Feld wird benötigt."
        with force_locale("es"):
            assert _message(_Form()) == "Este campo es obligatorio."
        assert _message(_Form()) == "Dieses Feld wird benötigt."
    with app.app_context():
        assert _message(_Form(formdata=None, data={})) == "This field is required."


def test_sig_page_lists_a_waiting_topic_to_its_author_only_whoever_asks_first(
    client: Any, f: Any
) -> None:
    """sig_page's lambda statement is built once per process: the member's id must stay a bound
    value (a member's own topic awaiting approval is listed to them, and to no other member)."""
    from forum import hooks
    from forum.hooks import Screening
    from forum.sigs import queries as sig_queries

    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    f.topic(ada, sig, "Shown at once")
    hooks.screen_post.provide(client.application, lambda a, s, t: Screening("pending"))
    f.topic(bob, sig, "Bob waits")
    f.topic(ada, sig, "Ada waits")

    def titles(reader: Any, **kwargs: Any) -> set[str]:
        return {r.topic.title for r in sig_queries.sig_page(reader, "retro", **kwargs).topics}

    for _ in range(2):
        assert titles(ada) == {"Shown at once", "Ada waits"}
        assert titles(bob) == {"Shown at once", "Bob waits"}
        assert titles(None) == {"Shown at once"}

    def walked(reader: Any) -> list[str]:
        seen: list[str] = []
        after = None
        for _ in range(5):
            rows = sig_queries.sig_page(reader, "retro", after=after, per_page=1).topics
            if not rows:
                break
            seen.append(rows[0].topic.title)
            after = sig_queries.Cursor.of(rows[0].topic)
        return seen

    assert sorted(walked(ada)) == ["Ada waits", "Shown at once"]
    assert sorted(walked(bob)) == ["Bob waits", "Shown at once"]
    assert walked(None) == ["Shown at once"]
