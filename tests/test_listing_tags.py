"""The tags listings write through Python (forum.web: time_tag, user_link_tag, started_by,
posted_by) write what the template expressions they replace wrote, whatever they cache."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale

from forum.timeutil import utcnow

NAMES = ["ada", "quo'te&<b>", None, "former-12"]


def render(app: Flask, source: str, **values: Any) -> str:
    return app.jinja_env.from_string(source).render(**values)


@pytest.mark.parametrize("language", ["en", "de", "es"])
def test_bylines_write_the_translation_they_replace(app: Flask, language: str) -> None:
    moment = utcnow() - timedelta(hours=3)
    with app.test_request_context("/"), force_locale(language):
        for name in NAMES:
            values = {"n": name, "m": moment}
            tags = "who=user_link_tag(n), when=time_tag(m)"
            started = "{{ _('started by %(who)s, %(when)s', " + tags + ") }}"
            posted = "{{ _('by %(who)s, %(when)s', " + tags + ") }}"
            assert render(app, "{{ started_by(n, m) }}", **values) == render(app, started, **values)
            assert render(app, "{{ posted_by(n, m) }}", **values) == render(app, posted, **values)
        if language == "de":
            assert render(app, "{{ started_by('ada', m) }}", m=moment).startswith("begonnen von ")


def test_member_links_follow_the_mount_point(app: Flask) -> None:
    # A member's link is kept per name and mount point.
    for root in ("", "/forum", ""):
        with app.test_request_context("/", base_url=f"http://localhost{root}"):
            link = str(app.jinja_env.globals["user_link_tag"]("a&b"))
            assert link == f'<a class="member-link" href="{root}/u/a&amp;b">a&amp;b</a>'
