"""Cross-feature hooks (forum/hooks.py): who provides what, and the defaults when nobody does."""

from __future__ import annotations

import re
from pathlib import Path

from forum import hooks
from forum.accounts import services as accounts
from forum.topics import services as topics

FORUM = Path(__file__).resolve().parent.parent / "forum"


def test_the_features_provide_their_hooks(app):
    assert hooks.screen_post.get(app) is not hooks.screen_post.default
    assert hooks.registration_mode.get(app)() == "open"
    names = [getattr(p, "__module__", "") for p in hooks.header_items.get(app)]
    # In the order the features' init_app ran (forum.FEATURES).
    assert names == [
        "forum.notifications",
        "forum.messages",
        "forum.moderation",
        "forum.pulse.views",
        "forum.announcements.views",
    ]
    assert list(hooks.new_filters.get(app)) == ["tracked"]
    assert hooks.settings_sections.get(app) == (
        "notifications/_settings.html",
        "messages/_settings.html",
        "care/_settings.html",
        "moderation/_settings_standing.html",
        "feeds/_settings.html",
        "api/_settings.html",
        "files/_avatar_settings.html",
    )
    assert hooks.profile_sections.get(app) == (
        "messages/_profile.html",
        "trust/_profile.html",
        "files/_avatar_profile.html",
    )
    assert hooks.reading_time.get(app) is not hooks.reading_time.default
    # Care's "ask the sysops about this post" among them.
    assert [p.__module__ for p in hooks.topic_page.get(app)] == [
        "forum.reactions.views",
        "forum.bookmarks.views",
        "forum.care.views",
        "forum.pulse.views",
        "forum.files.views",  # attachments under the posts
        "forum.files.views",  # the authors' pictures
    ]
    assert hooks.member_card_sections.get(app) == ("trust/_card.html",)
    assert hooks.image_sizes.get(app) is not hooks.image_sizes.default
    assert hooks.attach_files.get(app) is not hooks.attach_files.default
    assert hooks.uploads_enabled.get(app)()
    assert hooks.sig_page_sections.get(app) == ("care/_sig.html",)
    assert hooks.mod_queue_sections.get(app) == ("care/_mod.html",)
    assert hooks.conversation_elsewhere.get(app) is not hooks.conversation_elsewhere.default
    assert list(hooks.sig_topic_filters.get(app)) == ["answered", "unanswered"]
    assert list(hooks.request_member.get(app)) == ["api"]


def test_a_sig_page_offers_only_the_filters_provided(app, client, f):
    f.sig("retro")
    assert ">Unanswered</a>" in client.get("/s/retro/").get_data(as_text=True)
    app.extensions.pop("forum.sig_topic_filters")  # as if pulse were not installed
    page = client.get("/s/retro/?filter=answered").get_data(as_text=True)
    assert ">Answered</a>" not in page and ">Unanswered</a>" not in page
    assert 'aria-current="page">All topics' in page


def test_defaults_when_nobody_provides(app, f):
    for hook in (hooks.screen_post, hooks.registration_mode, hooks.check_invite):
        hook.withdraw(app)
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    # Shown at once, whatever it says; registration open; any code passes.
    assert topics.screen_post(ada, sig, "anything at all") == hooks.Screening("visible", None)
    assert accounts.registration_mode() == "open"
    assert hooks.check_invite.get(app)("whatever") is None
    topic = f.topic(ada, sig, "Shown", "Shown at once.")
    assert topic.post_count == 1


def test_a_provided_hook_is_called_with_its_arguments(app, f):
    seen = []

    def screen(author, sig, text):
        seen.append((author.username, sig.slug, text))
        return hooks.Screening("pending", "held for a test")

    hooks.screen_post.provide(app, screen)
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    assert topics.screen_post(ada, sig, "hello") == hooks.Screening("pending", "held for a test")
    assert seen == [("ada", "retro", "hello")]


def test_contributions_keep_their_order_and_are_copies(app):
    extra = hooks.HookList[str]("forum.test_list")
    extra.add(app, "a")
    extra.add(app, "b")
    assert extra.get(app) == ("a", "b")
    named = hooks.HookMap[int]("forum.test_map")
    assert named.get(app) == {}
    named.add(app, "one", 1)
    copy = dict(named.get(app))
    copy["two"] = 2
    assert named.get(app) == {"one": 1}


def test_an_app_slot_is_made_once(app):
    made = []
    slot = hooks.AppSlot[list[int]]("forum.test_slot")
    assert slot.get(app) is None
    first = slot.setdefault(app, lambda: made.append(1) or [1])
    assert slot.setdefault(app, lambda: made.append(2) or [2]) is first
    assert made == [1]
    assert slot.pop(app) == [1] and slot.get(app) is None


def test_no_feature_looks_another_up_by_a_string_key():
    """app.extensions is read through forum.hooks' typed slots only."""
    lookup = re.compile(r"extensions(\.get|\.setdefault|\.pop|\[)\s*\(?\s*[\"'_A-Z]")
    offenders = [
        f"{path.relative_to(FORUM)}:{n}"
        for path in FORUM.rglob("*.py")
        if path.name != "hooks.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if lookup.search(line)
    ]
    assert offenders == []
