"""Sysop tools in a menu: the "Moderate" menus of a topic page, the confirmation step of their
destructive buttons without JavaScript, the split and merge pickers, and a suspension started
from a post in a SIG choosing that SIG."""

from __future__ import annotations

import re

from forum.extensions import db
from forum.moderation import services as mod
from forum.sigs.models import Sig
from forum.topics.models import Post, Topic

from .mod_support import build_world, make_pending


def _menus(page: str) -> list[str]:
    return re.findall(r'<details class="sysop-menu[^"]*" data-menu>.*?</details>', page, re.S)


def test_each_post_and_the_topic_have_a_moderate_menu_for_sysops_only(app, f, browser):
    w = build_world()
    f.reply(w.author, w.topic, "An edited one.")
    page = browser(w.sig_sysop).text(f"/t/{w.topic.id}?page=1")
    menus = _menus(page)
    assert len(menus) == 1 + 4  # the topic's, and one per post
    topic_menu, *post_menus = menus
    assert "topic-tools" in topic_menu and "Sysop tools" in topic_menu
    for verb in ("lock", "pin", "move", "split", "merge", "delete"):
        assert f"/mod/topics/{w.topic.id}/{verb}" in topic_menu, verb
    # Delete topic looks destructive and confirms (in the browser, else on a page).
    delete = re.search(r"<form[^>]*/delete\"[^>]*>.*?</form>", topic_menu, re.S).group(0)
    assert "data-confirm=" in delete and 'name="confirm_first"' in delete
    assert 'class="danger"' in delete
    reply_menu = next(m for m in post_menus if f"/mod/posts/{w.post.id}/hide" in m)
    # Hiding is two taps: open the menu, press Hide (no question; Unhide undoes it).
    hide = re.search(r"<form[^>]*/hide\"[^>]*>.*?</form>", reply_menu, re.S).group(0)
    assert "data-confirm" not in hide and 'name="reason"' in hide
    # The usual reasons are offered to pick from, listed once per page.
    assert 'list="hide-reasons"' in hide and page.count('<datalist id="hide-reasons">') == 1
    assert '<option value="Off-topic">' in page
    assert f"/mod/topics/{w.topic.id}/split?post={w.post.id}" in reply_menu
    assert f"/mod/u/author?sig={w.sig.id}#suspend" in reply_menu
    assert "/mod/u/author/spam?sig=" in reply_menu and 'class="danger"' in reply_menu
    # The global sysop also gets Delete spammer; a SIG sysop does not.
    assert 'href="/mod/u/author/spam"' not in reply_menu
    root_page = browser(w.root).text(f"/t/{w.topic.id}?page=1")
    assert 'href="/mod/u/author/spam"' in root_page
    # Members see no menu, only Flag.
    member_page = browser(w.member).text(f"/t/{w.topic.id}?page=1")
    assert _menus(member_page) == [] and "confirm_first" not in member_page


def test_a_pending_post_menu_approves_and_rejects(app, browser):
    w = build_world()
    page = browser(w.sig_sysop).text(f"/t/{w.topic2.id}?page=1")
    menu = next(m for m in _menus(page) if f"/mod/posts/{w.pending.id}/" in m)
    assert f"/mod/posts/{w.pending.id}/approve" in menu
    reject = re.search(r"<form[^>]*/reject\"[^>]*>.*?</form>", menu, re.S).group(0)
    assert "data-confirm=" in reject and 'name="confirm_first"' in reject
    assert 'class="danger"' in reject


def test_edit_history_is_in_the_menu(app, f, browser):
    from forum.topics import services as topic_services

    w = build_world()
    topic_services.edit_post(w.author, w.post.id, "A reply by the author, edited.")
    page = browser(w.sig_sysop).text(f"/t/{w.topic.id}?page=1")
    menu = next(m for m in _menus(page) if f"/mod/posts/{w.post.id}/hide" in m)
    assert f"/p/{w.post.id}/history" in menu
    assert f"/p/{w.post.id}/history" not in browser(w.member).text(f"/t/{w.topic.id}?page=1")


def test_without_javascript_deleting_a_topic_asks_on_a_page_first(app, browser):
    w = build_world()
    sysop = browser(w.sig_sysop)
    response = sysop.form(f"/mod/topics/{w.topic.id}/delete", {"confirm_first": "1"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Delete the topic “A topic about things”?" in page
    assert 'name="confirm_first"' not in page and 'class="danger"' in page
    assert not db.session.get(Topic, w.topic.id).is_deleted
    # The page's button does it (as does the menu's once JavaScript asked).
    response = sysop.form(f"/mod/topics/{w.topic.id}/delete", {"reason": "duplicate"})
    assert response.status_code == 302 and db.session.get(Topic, w.topic.id).is_deleted
    # Someone who may not delete gets no confirmation page either.
    refused = browser(w.other_sysop).form(
        f"/mod/topics/{w.topic2.id}/delete", {"confirm_first": "1"}
    )
    assert refused.status_code == 403 and not db.session.get(Topic, w.topic2.id).is_deleted


def test_without_javascript_rejecting_a_post_asks_on_a_page_first(app, browser):
    w = build_world()
    sysop = browser(w.sig_sysop)
    url = f"/mod/posts/{w.pending.id}/reject"
    response = sysop.form(url, {"confirm_first": "1", "next": f"/t/{w.topic2.id}"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Reject post #2 of “Another topic here”?" in page
    assert f'value="/t/{w.topic2.id}"' in page  # back where the sysop came from afterwards
    assert not db.session.get(Post, w.pending.id).is_deleted
    response = sysop.form(url, {"next": f"/t/{w.topic2.id}"})
    assert response.status_code == 302 and db.session.get(Post, w.pending.id).is_deleted


def test_the_split_page_lists_replies_with_rendered_excerpts(app, f, browser):
    w = build_world()
    long_reply = f.reply(w.member, w.topic, "**Bold words** and " + "filler " * 60 + "THE END")
    sysop = browser(w.sig_sysop)
    page = sysop.text(f"/mod/topics/{w.topic.id}/split?post={w.post.id}")
    # Each reply (not the first post) with its number, author and an excerpt of its rendered
    # text: no Markdown marks, shortened.
    assert page.count('type="checkbox" name="posts"') == 3
    assert "First post by author." not in page
    assert "#3 · member" in page
    assert "Bold words and filler" in page and "**Bold" not in page and "THE END" not in page
    # The post whose menu led here is ticked; the others are not.
    assert f'value="{w.post.id}" checked' in page
    assert f'value="{long_reply.id}" checked' not in page
    response = sysop.form(
        f"/mod/topics/{w.topic.id}/split",
        {"posts": [str(long_reply.id)], "title": "Split off", "sig": str(w.sig.id)},
    )
    assert response.status_code == 302
    assert db.session.get(Post, long_reply.id).topic_id != w.topic.id


def test_split_with_nothing_ticked_keeps_the_input(app, browser):
    w = build_world()
    response = browser(w.sig_sysop).form(
        f"/mod/topics/{w.topic.id}/split", {"title": "Kept title", "sig": str(w.sig.id)}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Choose at least one post to split off." in page and 'value="Kept title"' in page


def test_the_merge_picker_offers_only_topics_the_sysop_moderates(app, f, browser):
    w = build_world()
    in_side = f.topic(w.sig_sysop, w.sig_b, "Merge target in side", "side post")
    in_other = f.topic(w.other_sysop, w.other_sig, "Merge target in other", "other post")
    sysop = browser(w.sig_sysop)
    url = f"/mod/topics/{w.topic.id}/merge"
    # No words: the latest topics of the topic's own SIG, never the topic itself.
    page = sysop.text(url)
    assert f'name="target" value="{w.topic2.id}"' in page
    assert f'name="target" value="{w.topic.id}"' not in page
    assert f'value="{in_side.id}"' not in page
    # Words: titles across the SIGs the sysop moderates; a public SIG they only read is left out.
    page = sysop.text(f"{url}?q=merge+TARGET")
    assert f'name="target" value="{in_side.id}"' in page
    assert f'value="{in_other.id}"' not in page and "Merge target in other" not in page
    # A number or an address finds that topic, if offered at all.
    page = sysop.text(f"{url}?q=/t/{w.topic2.id}/another")
    assert f'name="target" value="{w.topic2.id}"' in page
    assert f'name="target" value="{in_other.id}"' not in sysop.text(f"{url}?q={in_other.id}")
    # Wildcards are words like others.
    assert 'name="target"' not in sysop.text(f"{url}?q=%25")
    # The global sysop is offered every SIG's topics.
    assert f'name="target" value="{in_other.id}"' in browser(w.root).text(f"{url}?q=merge+target")
    # A deleted topic is not offered.
    mod.delete_topic(w.sig_sysop, in_side.id)
    assert f'value="{in_side.id}"' not in sysop.text(f"{url}?q=merge+target")


def test_merging_through_the_picker(app, browser):
    w = build_world()
    sysop = browser(w.sig_sysop)
    url = f"/mod/topics/{w.topic2.id}/merge"
    response = sysop.form(url, {"q": "about"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Choose the topic to merge into." in page
    assert f'name="target" value="{w.topic.id}"' in page  # the search is kept
    response = sysop.form(url, {"q": "about", "target": str(w.topic.id), "reason": "same"})
    assert response.status_code == 302
    assert db.session.get(Topic, w.topic2.id).is_deleted


def test_a_suspension_from_a_post_in_a_sig_defaults_to_that_sig(app, f, browser):
    w = build_world()
    f.join(w.author, w.sig_b)  # the SIG sysop then has two SIGs to choose from
    selected = re.compile(r'<select[^>]*name="suspend-sig".*?</select>', re.S)

    def chosen(page: str) -> str | None:
        found = re.search(r'<option selected value="(\d+)"|<option value="(\d+)" selected', page)
        return next(g for g in found.groups() if g) if found else None

    for who in (w.sig_sysop, w.root):
        page = browser(who).text(f"/mod/u/author?sig={w.sig_b.id}#suspend")
        suspend = selected.search(page).group(0)
        assert chosen(suspend) == str(w.sig_b.id), who.username
        assert f'<option value="{w.sig.id}">' in suspend
        assert 'id="suspend"' in page
    # The global sysop can still choose site-wide; without a SIG that is their default.
    page = browser(w.root).text("/mod/u/author")
    suspend = selected.search(page).group(0)
    assert '<option value="0">' in suspend.replace(" selected", "") and chosen(suspend) in (
        None,
        "0",
    )
    # A SIG the sysop does not moderate is not chosen for them.
    page = browser(w.sig_sysop).text(f"/mod/u/author?sig={w.other_sig.id}")
    assert chosen(selected.search(page).group(0)) in (None, str(w.sig.id))
    # And the suspension lands in the SIG.
    response = browser(w.sig_sysop).form(
        "/mod/u/author/suspend",
        {"suspend-days": "3", "suspend-reason": "cool off", "suspend-sig": str(w.sig_b.id)},
    )
    assert response.status_code == 302


def test_the_topic_page_needs_no_more_queries_for_a_sysop(app, f, browser, count_queries):
    """The menus are drawn from the page's read model: a sysop's page costs what it did."""
    w = build_world()
    make_pending(f.reply(w.author, w.topic, "Pending in the topic."))
    sysop = browser(w.sig_sysop)
    sysop.get(f"/t/{w.topic.id}?page=1")
    with count_queries() as few:
        sysop.get(f"/t/{w.topic.id}?page=1")
    for i in range(6):
        f.reply(w.member if i % 2 else w.author, w.topic, f"more {i}")
    sysop.get(f"/t/{w.topic.id}?page=1")
    with count_queries() as many:
        page = sysop.text(f"/t/{w.topic.id}?page=1")
    assert len(_menus(page)) == 1 + 10
    assert many.count == few.count
    assert db.session.get(Sig, w.sig.id) is not None


def test_a_global_sysops_own_post_offers_no_spam_cleanup(app, f, browser):
    w = build_world()
    f.reply(w.root, w.topic, "A word from the site's sysop.")
    page = browser(w.sig_sysop).text(f"/t/{w.topic.id}?page=1")
    menu = next(m for m in _menus(page) if "/mod/u/root" in m)
    assert "/mod/u/root/spam" not in menu
    # The author's post beside it still offers it.
    assert "/mod/u/author/spam?sig=" in page
