"""URL templates (forum.web.UrlTemplate) build exactly what url_for builds, for any value."""

from __future__ import annotations

import pytest
from flask import Flask, url_for

from forum.web import UrlTemplate, fixed_url, url_template

NAMES = ["ada", "grace_h-1", "a b", "ü/ñ", "100%", "x?y#z", "quo'te&semi;", "~tilde~", "..", "@"]


@pytest.mark.parametrize("script_root", ["", "/forum"])
def test_url_templates_match_url_for(app: Flask, script_root: str) -> None:
    with app.test_request_context("/", base_url=f"http://localhost{script_root}"):
        profile = UrlTemplate("accounts.profile", "username", text=True)
        for name in NAMES:
            assert profile(name) == url_for("accounts.profile", username=name)
        permalink = UrlTemplate("topics.permalink", "post_id")
        quote = UrlTemplate("topics.reply", "quote", topic_id=7)
        for post_id in (1, 42, 2**31 - 1):
            assert permalink(post_id) == url_for("topics.permalink", post_id=post_id)
            assert quote(post_id) == url_for("topics.reply", topic_id=7, quote=post_id)
        assert permalink(5).startswith(script_root + "/p/")
        topic = UrlTemplate("topics.show", "topic_id", "slug", text=("slug",))
        pager = UrlTemplate("topics.show", "page", topic_id=3, slug="a-b")
        for name in NAMES:
            assert topic(12, name) == url_for("topics.show", topic_id=12, slug=name)
        assert pager(4) == url_for("topics.show", topic_id=3, slug="a-b", page=4)


@pytest.mark.parametrize("script_root", ["", "/forum"])
def test_fixed_urls_match_url_for(app: Flask, script_root: str) -> None:
    # The frame's links and static files (base.html), each built once per mount point.
    for root in (script_root, "/elsewhere"):
        with app.test_request_context("/", base_url=f"http://localhost{root}"):
            for endpoint, values in [
                ("sigs.index", {}),
                ("static", {"filename": "css/forum.css"}),
                ("js_catalog", {"code": "de", "v": "0123abcd"}),
                ("topics.unread", {"filter": "tracked"}),
            ]:
                assert fixed_url(endpoint, **values) == url_for(endpoint, **values)
            assert fixed_url("sigs.index") == root + "/"


def test_url_templates_refuse_what_they_cannot_build(app: Flask) -> None:
    with app.test_request_context("/"):
        # Text in a query string is quoted differently from a path part.
        with pytest.raises(ValueError):
            UrlTemplate("topics.reply", "quote", text=True, topic_id=7)
        with pytest.raises(ValueError):
            UrlTemplate("topics.permalink", "post_id")("not a number")


def test_url_templates_are_kept_per_shape_and_mount_point(app: Flask) -> None:
    with app.test_request_context("/"):
        first = url_template("topics.reply", "quote", topic_id=7)
        assert url_template("topics.reply", "quote", topic_id=7) is first
        assert url_template("topics.reply", "quote", topic_id=8) is not first
    with app.test_request_context("/"):
        assert url_template("topics.reply", "quote", topic_id=7) is first
    with app.test_request_context("/", base_url="http://localhost/forum"):
        mounted = url_template("topics.reply", "quote", topic_id=7)
        assert mounted is not first
        assert mounted(3) == url_for("topics.reply", topic_id=7, quote=3)


def test_urls_depend_on_nothing_a_process_could_keep_wrong(app: Flask) -> None:
    # url_template keeps templates per process, keyed by where the app is mounted: that holds
    # while no URL defaults, host matching or server name make url_for vary per request.
    assert not any(app.url_default_functions.values())
    assert not app.url_map.host_matching
    assert not app.config.get("SERVER_NAME")
