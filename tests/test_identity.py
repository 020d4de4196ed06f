"""Identity: generated letter avatars (one macro, a colour from the name, accessible, no image),
the member card that is a profile link without JavaScript, relative times with the moment in
the title, in the reader's language."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from forum.accounts import avatars
from forum.extensions import db
from forum.moderation import services as mod
from forum.timeutil import utcnow

CSS = Path(__file__).resolve().parent.parent / "static" / "css" / "forum.css"


def render_avatar(app, user, size=32) -> str:
    template = app.jinja_env.from_string(
        '{% from "_avatar.html" import avatar %}{{ avatar(user, size) }}'
    )
    return template.render(user=user, size=size)


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def test_every_avatar_colour_holds_white_letters_at_aa_contrast():
    css = CSS.read_text()
    drawn = dict(re.findall(r"\.avatar-c(\d+) \{ background: (#[0-9a-f]{6}); \}", css))
    assert {int(k): v for k, v in drawn.items()} == dict(enumerate(avatars.PALETTE))
    for colour in avatars.PALETTE:
        contrast = 1.05 / (_luminance(colour) + 0.05)
        assert contrast >= 4.5, (colour, contrast)


def test_the_letter_avatar_is_the_same_for_the_same_name_everywhere(app, f):
    ada = f.user("ada")
    html = render_avatar(app, ada, 32)
    assert html == render_avatar(app, "ada", 32) == render_avatar(app, "ADA", 32)
    colour = avatars.colour_index("ada")
    assert html == (f'<span class="avatar avatar-32 avatar-c{colour}" aria-hidden="true">A</span>')
    # Decorative and drawn by CSS: no image, nothing fetched from anywhere.
    assert "<img" not in html and "http" not in html
    # Names spread over the colours.
    assert len({avatars.colour_index(f"member{n}") for n in range(60)}) == len(avatars.PALETTE)


def test_the_macro_takes_a_user_and_a_size_and_draws_an_uploaded_picture_when_there_is_one(app):
    assert 'class="avatar avatar-64 ' in render_avatar(app, "zed", 64)
    assert 'class="avatar avatar-24 ' in render_avatar(app, "zed", 20)  # the nearest drawn size
    assert ">?</span>" in render_avatar(app, None)
    assert ">Ü</span>" in render_avatar(app, "_über")

    class Uploaded:
        username = "ada"
        avatar_url = "/files/avatars/ada.webp"

    html = render_avatar(app, Uploaded(), 48)
    assert html == (
        '<img class="avatar avatar-48" src="/files/avatars/ada.webp" alt="" width="48" '
        'height="48" loading="lazy">'
    )


def test_avatars_stand_beside_posts_member_lists_and_profiles(client, f):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig, "Amiga repairs")
    f.reply(bob, topic, "Recap it.")
    page = client.get(f"/t/{topic.id}/{topic.slug}?page=1").get_data(as_text=True)
    for name, letter in (("ada", "A"), ("bob", "B")):
        colour = avatars.colour_index(name)
        avatar = (
            f'<span class="avatar avatar-32 avatar-c{colour}" aria-hidden="true">{letter}</span>'
        )
        # The author's name is a link to the profile (the card opens on it with JavaScript).
        assert f'{avatar}<a class="member-link" href="/u/{name}">{name}</a>' in page
    members = client.get("/s/retro/members").get_data(as_text=True)
    assert members.count('class="avatar avatar-24') == 2
    assert 'class="avatar avatar-64' in client.get("/u/bob").get_data(as_text=True)


def test_the_member_card_is_a_page_of_its_own_and_a_fragment_for_the_script(make_client, f):
    ada, bob = f.user("ada"), f.user("bob")
    both = f.sig("retro", members=[ada, bob], name="Retro Computing")
    f.sig("lair", visibility="private", members=[bob], name="Hidden Lair")
    f.sig("games", members=[ada], name="Games")
    f.reply(bob, f.topic(ada, both, "Amiga repairs"), "Recap it.")
    client = make_client()
    client.login("ada")
    page = client.get("/u/bob/card").get_data(as_text=True)
    assert "<!doctype html>" in page and 'class="member-card"' in page
    card = client.get("/u/bob/card?fragment=1")
    html = card.get_data(as_text=True)
    assert "<!doctype html>" not in html and html.strip().startswith('<section class="member-card"')
    assert card.headers["Cache-Control"] == "private, no-store"
    assert "Joined" in html and re.search(r"<dt>Posts</dt><dd>1</dd>", html)
    # SIGs in common: those both belong to. Not bob's private SIG, nor ada's alone.
    assert 'href="/s/retro/">Retro Computing</a>' in html
    assert "Hidden Lair" not in html and "Games" not in html
    assert 'href="/u/bob">View profile</a>' in html
    guest = make_client().get("/u/bob/card?fragment=1").get_data(as_text=True)
    assert "SIGs in common" not in guest and "Joined" in guest
    assert make_client().get("/u/nobody/card").status_code == 404


def test_sysops_read_a_members_standing_on_the_card(make_client, f):
    root, bob = f.sysop("root"), f.user("bob")
    mod.silence_member(root, bob.id, utcnow() + timedelta(days=1), "cool down")
    sysop = make_client()
    sysop.login("root")
    card = sysop.get("/u/bob/card?fragment=1").get_data(as_text=True)
    assert re.search(r"<dt>Standing</dt>\s*<dd>silenced</dd>", card)
    assert "Trust level: " in card  # forum.trust's part of the card, for sysops
    member = make_client()
    member.login(f.user("cyd").username)
    plain = member.get("/u/bob/card?fragment=1").get_data(as_text=True)
    assert "Standing" not in plain and "Trust level" not in plain


def test_times_read_how_long_ago_with_the_moment_in_the_title(make_client, f):
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "Amiga repairs")
    post = f.first_post(topic)
    post.created_at = utcnow() - timedelta(hours=3, minutes=5)
    db.session.commit()
    url = f"/t/{topic.id}/{topic.slug}?page=1"
    html = make_client().get(url).get_data(as_text=True)
    tag = re.search(r'<time datetime="([^"]+)" title="([^"]+)">([^<]+)</time>', html)
    assert tag and tag.group(3) == "3 hours ago"
    assert tag.group(1).startswith(post.created_at.strftime("%Y-%m-%dT%H:%M"))
    assert re.search(r"\d{4}", tag.group(2))  # the date and time, for hover and screen readers
    german = make_client()
    german.set_cookie("forum_lang", "de")
    html = german.get(url, headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert ">vor 3 Stunden</time>" in html
