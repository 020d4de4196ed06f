"""Site settings (forum/settings.py): typed reads on demand, a short cache, forgotten on save."""

from __future__ import annotations

import pytest

from forum import settings
from forum.admin import services as admin_services


def _setting_reads(statements: list[str]) -> int:
    return sum("site_settings" in s for s in statements)


def test_defaults_come_from_the_configuration_with_their_type(app):
    assert settings.get("site_name") == "Forum"
    assert settings.get("registration") == "open"
    assert settings.get("mention_limit") == 10 and settings.get_int("mention_limit") == 10
    assert settings.get("post_rate_limit") == "20 per minute"
    app.config["MENTIONS_PER_POST"] = 7  # no row: the configured value, read when asked
    assert settings.get_int("mention_limit") == 7
    with pytest.raises(KeyError):
        settings.get("no_such_setting")


def test_a_saved_setting_is_read_at_once_with_its_type(app, f):
    root = f.sysop()
    assert settings.get_int("approval_threshold") == 0
    admin_services.update_settings(root, {"approval_threshold": "4", "site_name": "Retro BBS"})
    assert settings.get("approval_threshold") == 4
    assert settings.get("site_name") == "Retro BBS"
    # Read on demand: nothing is copied into the configuration.
    assert app.config["SITE_NAME"] == "Forum"
    assert settings.current()["approval_threshold"] == 4


def test_pages_show_the_saved_value_without_a_restart(app, client, f):
    root = f.sysop()
    assert "Retro BBS" not in client.get("/").get_data(as_text=True)
    admin_services.update_settings(root, {"site_name": "Retro BBS"})
    assert "Retro BBS" in client.get("/").get_data(as_text=True)


def test_another_process_sees_a_change_within_its_cache_time(app, f, make_app):
    root = f.sysop()
    patient = make_app(SETTINGS_CACHE_SECONDS=3600)
    eager = make_app(SETTINGS_CACHE_SECONDS=0)
    for other in (patient, eager):
        with other.app_context():
            assert settings.get("site_name") == "Forum"
    admin_services.update_settings(root, {"site_name": "Elsewhere"})
    with eager.app_context():
        assert settings.get("site_name") == "Elsewhere"  # its cache time is over
    with patient.app_context():
        assert settings.get("site_name") == "Forum"  # still within its cache time
        settings.forget()
        assert settings.get("site_name") == "Elsewhere"


def test_pages_read_the_settings_once_per_cache_time(app, client, count_queries):
    with count_queries() as first:
        client.get("/")
    with count_queries() as again:
        client.get("/")
    assert _setting_reads(first.statements) == 1
    assert _setting_reads(again.statements) == 0
    settings.forget()
    with count_queries() as forgotten:
        client.get("/")
    assert _setting_reads(forgotten.statements) == 1


@pytest.mark.config(SETTINGS_CACHE_SECONDS=0)
def test_with_no_cache_time_every_read_asks_the_database(app, count_queries):
    with count_queries() as q:
        settings.get("site_name")
        settings.get("registration")
    assert _setting_reads(q.statements) == 2


def test_without_reading_the_last_known_value_or_the_default(app, f, count_queries):
    root = f.sysop()
    with count_queries() as q:
        assert settings.get("site_name", read=False) == "Forum"
    assert q.statements == []
    admin_services.update_settings(root, {"site_name": "Known"})
    settings.get("site_name")
    with count_queries() as q:
        assert settings.get("site_name", read=False) == "Known"
    assert q.statements == []
