"""Live delivery over Socket.IO (in-process Flask-SocketIO test client): authenticated sockets,
permission-checked topic rooms, nudges only after commit, revocation, and who's online."""

from __future__ import annotations

from typing import Any

import pytest

from forum import events, hooks, realtime
from forum.db import transaction
from forum.extensions import socketio
from forum.hooks import Screening
from forum.realtime.presence import PRESENCE, MemoryStore, Presence
from forum.sigs import services as sigs
from forum.topics.models import POST_PENDING, POST_VISIBLE

pytestmark = pytest.mark.config(PRESENCE_LOOP=False)


def sock(app, client=None) -> Any:
    """A browser's socket: it carries the browser's session cookie, as a page's would."""
    return socketio.test_client(app, flask_test_client=client)


def received(sc, name: str) -> list[dict]:
    return [e["args"][0] for e in sc.get_received() if e["name"] == name]


def subscribe(sc, **data: Any) -> dict:
    return sc.emit("subscribe", data, callback=True)


@pytest.fixture
def forum(f):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig, title="Amiga repairs")
    return ada, bob, sig, topic


def test_post_created_reaches_the_topic_room_after_commit_with_ids_only(app, client, f, forum):
    ada, bob, sig, topic = forum
    client.login("ada")
    sc = sock(app, client)
    assert subscribe(sc, topic_id=topic.id) == {"ok": True, "room": f"topic:{topic.id}"}
    seen_inside: list[Any] = []

    def peek(event):
        # Inside the transaction nothing has been sent yet.
        seen_inside.append(received(sc, "post_created"))

    events.subscribe(app, events.PostCreated, peek, phase="in_transaction")
    post = f.reply(bob, topic, "Check the capacitors, @ada.")
    assert seen_inside == [[]]
    got = sc.get_received()
    created = [e["args"][0] for e in got if e["name"] == "post_created"]
    assert created == [{"topic_id": topic.id, "post_number": 2, "post_id": post.id}]
    notes = [e["args"][0] for e in got if e["name"] == "notification"]
    assert notes == [
        {
            "unread_count": 1,
            "kind": "mention",
            # What happened, written in the member's language (English: never chosen).
            "text": "bob mentioned you in “Amiga repairs”",
            "excerpt": "Check the capacitors, @ada.",
            "url": f"/p/{post.id}",
            # A new post she may read: a page showing its topic pairs this with post_created.
            "topic_id": topic.id,
            "post_id": post.id,
        }
    ]


def test_quote_reply_and_watched_notifications_name_their_topic_too(app, make_client, f, forum):
    """Every kind that tells of a new post in a topic names it, for a page showing that topic
    (static/js/realtime.js lets its "new replies" line speak instead)."""
    from forum.notifications import services as notification_services

    ada, bob, sig, topic = forum
    cyd, dan = f.user("cyd"), f.user("dan")
    f.join(cyd, sig)
    f.join(dan, sig)
    quoted = f.reply(cyd, topic, "Mine had a tantalum capacitor.")
    notification_services.set_topic_level(dan, topic.id, "watching")
    browsers = {}
    for name in ("ada", "cyd", "dan"):
        c = make_client()
        c.login(name)
        browsers[name] = sock(app, c)
        browsers[name].get_received()
    # Quoted by the link alone (no "@cyd" before it, which would make it a mention).
    post = f.reply(bob, topic, f"> [cyd wrote](/p/{quoted.id}):\n> tantalum\n\nTantalum, yes.")
    got = {name: received(sc, "notification") for name, sc in browsers.items()}
    assert {
        name: [(n["kind"], n["topic_id"], n["post_id"]) for n in notes]
        for name, notes in got.items()
    } == {
        "ada": [("reply", topic.id, post.id)],
        "cyd": [("quote", topic.id, post.id)],
        "dan": [("watched", topic.id, post.id)],
    }


def test_a_notification_names_a_topic_only_when_it_tells_of_a_new_post(app, client, f, forum):
    """The topic and post ids go with the kinds that tell of a new post in the topic (a page
    showing that topic says so itself); a reaction to an old post is announced wherever the
    member is, so it names no topic."""
    from forum.reactions import services as reactions

    ada, bob, sig, topic = forum
    client.login("ada")
    sc = sock(app, client)
    reply = f.reply(ada, topic, "Which capacitors?")
    sc.get_received()
    reactions.toggle_reaction(bob, reply.id, "👍")
    notes = received(sc, "notification")
    assert [n["kind"] for n in notes] == ["reaction"]
    assert "topic_id" not in notes[0] and "post_id" not in notes[0]


def test_rolled_back_post_sends_nothing(app, client, f, forum):
    ada, bob, sig, topic = forum
    client.login("ada")
    sc = sock(app, client)
    subscribe(sc, topic_id=topic.id)
    sc.get_received()

    def explode(event):
        raise RuntimeError("rolled back")

    events.subscribe(app, events.PostCreated, explode, phase="in_transaction")
    with pytest.raises(RuntimeError):
        f.reply(bob, topic, "@ada never committed")
    assert sc.get_received() == []


def test_notification_goes_to_the_personal_room_only(app, make_client, f, forum):
    ada, bob, sig, topic = forum
    f.user("cyd")
    browsers = {}
    for name in ("ada", "cyd"):
        c = make_client()
        c.login(name)
        browsers[name] = sock(app, c)
    f.reply(bob, topic, "for ada's eyes")
    assert [n["kind"] for n in received(browsers["ada"], "notification")] == ["reply"]
    assert received(browsers["cyd"], "notification") == []


def test_guest_joins_public_topics_only(app, f, forum):
    ada, bob, sig, topic = forum
    club = f.sig("club", visibility="members", members=[ada])
    secret = f.sig("secret", visibility="private", members=[ada])
    hidden = f.topic(ada, secret)
    members_only = f.topic(ada, club)
    guest = sock(app)
    assert guest.is_connected()
    assert subscribe(guest, topic_id=topic.id)["ok"] is True
    assert subscribe(guest, topic_id=hidden.id) == {"ok": False, "error": "Not found."}
    assert subscribe(guest, topic_id=members_only.id) == {"ok": False, "error": "Not found."}
    assert subscribe(guest, topic_id="nonsense") == {"ok": False, "error": "Not found."}
    assert subscribe(guest, sig_id=secret.id)["ok"] is False
    f.reply(ada, hidden, "secret reply")
    f.reply(ada, members_only, "club reply")
    assert received(guest, "post_created") == []
    f.reply(ada, topic, "public reply")
    assert [p["topic_id"] for p in received(guest, "post_created")] == [topic.id]


def test_member_of_private_sig_may_subscribe_outsider_may_not(app, make_client, f):
    ada = f.user("ada")
    f.user("eve")
    secret = f.sig("secret", visibility="private", members=[ada])
    topic = f.topic(ada, secret)
    for name, expected in (("ada", True), ("eve", False)):
        c = make_client()
        c.login(name)
        assert subscribe(sock(app, c), topic_id=topic.id)["ok"] is expected


def test_pending_post_is_announced_only_when_approved(app, client, f, forum):
    ada, bob, sig, topic = forum
    client.login("ada")
    sc = sock(app, client)
    subscribe(sc, topic_id=topic.id)
    hooks.screen_post.provide(app, lambda author, sig, text: Screening(POST_PENDING))
    post = f.reply(bob, topic, "@ada waiting")
    hooks.screen_post.withdraw(app)
    assert sc.get_received() == []
    with transaction():
        post.status = POST_VISIBLE
        events.publish(
            events.PostVisibilityChanged(
                post_id=post.id, topic_id=topic.id, sig_id=sig.id, actor_id=ada.id,
                change="approved",
            )
        )  # fmt: skip
    got = sc.get_received()
    # ada watches her topic: the nudge, her notification, and her "Tracked" count.
    assert sorted(e["name"] for e in got) == ["notification", "post_created", "tracked_count"]


def test_logout_disconnects_every_socket_of_the_member_at_once(app, make_client, f, forum):
    ada, bob, sig, topic = forum
    first, second = make_client(), make_client()
    first.login("ada")
    second.login("ada")
    s1, s2 = sock(app, first), sock(app, second)
    other = make_client()
    other.login("bob")
    s3 = sock(app, other)
    assert s1.is_connected() and s2.is_connected()
    first.logout()  # ends every session of ada, this browser's and the other's
    assert not s1.is_connected() and not s2.is_connected()
    assert s3.is_connected()


def test_password_change_and_ban_disconnect(app, make_client, f, forum):
    ada, bob, sig, topic = forum
    c = make_client()
    c.login("ada")
    sc = sock(app, c)
    response = c.form(
        "/settings",
        {"action": "password", "password-current_password": "correct-horse-battery",
         "password-new_password": "a-brand-new-password"},
    )  # fmt: skip
    assert response.status_code == 302
    assert not sc.is_connected()
    # A ban rotates the token too (what moderation's ban service does): the socket goes.
    c2 = make_client()
    c2.login("bob")
    sb = sock(app, c2)
    from forum.accounts import services as accounts

    accounts.revoke_sessions(bob)
    assert not sb.is_connected()


def test_stale_socket_session_is_refused_on_every_event(app, make_client, f, forum):
    """Flask-SocketIO's session copy still names the old token: the next event re-checks it."""
    ada, bob, sig, topic = forum
    c = make_client()
    c.login("ada")
    sc = sock(app, c)
    # Rotate the token without the event (as if another process missed the instruction).
    from forum.accounts.models import new_session_token

    with transaction():
        ada.session_token = new_session_token()
    assert sc.is_connected()
    assert subscribe(sc, topic_id=topic.id) == {
        "ok": False,
        "error": "Your session has ended. Reload the page.",
    }
    assert not sc.is_connected()


def test_a_ban_without_a_new_token_refuses_the_next_event(app, make_client, f, forum):
    """The member is loaded again for every event (Flask-Login's user loader): a ban refuses the
    socket even if its token were still current, and each socket hears as its own member."""
    ada, bob, sig, topic = forum
    secret = f.sig("secret", visibility="private", members=[bob])
    sockets = {}
    for name in ("ada", "bob"):
        c = make_client()
        c.login(name)
        sockets[name] = sock(app, c)
    for _ in range(2):  # alternately: nothing of one socket's member stays for the other
        assert subscribe(sockets["bob"], sig_id=secret.id)["ok"] is True
        assert subscribe(sockets["ada"], sig_id=secret.id) == {"ok": False, "error": "Not found."}
    from forum.timeutil import utcnow

    with transaction():
        ada.banned_at = utcnow()
    assert subscribe(sockets["ada"], topic_id=topic.id) == {
        "ok": False,
        "error": "Your session has ended. Reload the page.",
    }
    assert not sockets["ada"].is_connected() and sockets["bob"].is_connected()


def test_a_browser_whose_session_ended_elsewhere_connects_as_a_guest(app, make_client, forum):
    """Its cookie names a token no longer current: its pages are a guest's, and so is a socket it
    opens since (valid, a guest's rooms only), not one refused at every event for good."""
    ada, bob, sig, topic = forum
    c = make_client()
    c.login("ada")
    from forum.accounts.models import new_session_token

    with transaction():
        ada.session_token = new_session_token()
    sc = sock(app, c)
    assert subscribe(sc, topic_id=topic.id) == {"ok": True, "room": f"topic:{topic.id}"}
    assert sc.is_connected()


def test_leaving_a_private_sig_leaves_its_topic_rooms(app, make_client, f):
    ada, bob = f.user("ada"), f.user("bob")
    secret = f.sig("secret", visibility="private", members=[ada, bob])
    public = f.sig("open", members=[ada, bob])
    hidden, visible = f.topic(ada, secret), f.topic(ada, public)
    c = make_client()
    c.login("bob")
    sc = sock(app, c)
    assert subscribe(sc, topic_id=hidden.id)["ok"] and subscribe(sc, topic_id=visible.id)["ok"]
    assert subscribe(sc, sig_id=secret.id)["ok"]
    sigs.leave_sig(bob, secret.id)
    f.reply(ada, hidden, "after bob left")
    f.reply(ada, visible, "still public")
    assert [p["topic_id"] for p in received(sc, "post_created")] == [visible.id]
    assert sc.is_connected()


def test_reading_notifications_updates_other_tabs(app, client, f, forum):
    ada, bob, sig, topic = forum
    f.reply(bob, topic, "one")
    f.reply(bob, topic, "two")
    client.login("ada")
    sc = sock(app, client)
    client.form("/notifications/read")
    assert received(sc, "notification_count") == [{"unread_count": 0}]


# --- who's online ---------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_nudges_are_rendered_only_for_members_who_are_online(app, make_client, f, monkeypatch):
    """A notification is stored for everyone it concerns; its live copy is rendered only for
    those with a socket open: the others see it on their next page."""
    from forum.notifications import queries as notification_queries
    from forum.notifications import services as notification_services

    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    sig = f.sig("retro", members=[ada, bob, cyd])
    topic = f.topic(ada, sig, title="Who hears it")
    notification_services.set_topic_level(cyd, topic.id, "watching")  # ada started it
    rendered: list[list[int]] = []
    real_rows = notification_queries.rows_by_id

    def rows_by_id(ids: list[int]) -> Any:
        rendered.append(sorted(ids))
        return real_rows(ids)

    monkeypatch.setattr(notification_queries, "rows_by_id", rows_by_id)
    f.reply(bob, topic, "nobody is online")
    assert rendered == []  # two notifications stored, none rendered
    c = make_client()
    c.login("ada")
    ada_socket = sock(app, c)
    f.reply(bob, topic, "ada is online")
    assert [n["excerpt"] for n in received(ada_socket, "notification")] == ["ada is online"]
    stored = {
        user_id: count
        for user_id, count in notification_queries.unread_counts([ada.id, cyd.id]).items()
    }
    assert stored == {ada.id: 2, cyd.id: 2}
    assert len(rendered) == 1 and len(rendered[0]) == 1  # ada's, not cyd's


@pytest.fixture
def redis_url() -> str:
    import redis

    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {url}")
    return url


def test_online_members_are_unknown_while_a_fresh_store_hears_from_every_process(redis_url):
    """Redis that restarted has forgotten every socket until each process refreshes: nudges go
    to everybody for two refreshes rather than be lost."""
    import uuid

    from forum.realtime.presence import RedisStore

    clock = Clock()
    store = RedisStore(redis_url, f"forum-test-{uuid.uuid4().hex}:")
    p = Presence(store, grace=30, tick=5, clock=clock)
    try:
        p.connect("s1", 1, "ada")
        assert p.online_member_ids() is None  # the store's epoch begins now
        clock.now += 11
        assert p.online_member_ids() == {1}
        store.redis.delete(*store.redis.keys(store.prefix + "*"))  # Redis lost its data
        assert p.online_member_ids() is None
        clock.now += 11
        p.refresh()  # every process has told it again
        assert p.online_member_ids() == {1}
        away = Presence(RedisStore("redis://127.0.0.1:1/0", store.prefix), grace=30, tick=5)
        assert away.online_member_ids() is None  # Redis unreachable: unknown
    finally:
        keys = store.redis.keys(store.prefix + "*")
        if keys:
            store.redis.delete(*keys)


def test_online_members_of_a_process_store_are_known_at_once():
    clock = Clock()
    p = Presence(MemoryStore(), grace=30, tick=5, clock=clock)
    assert p.online_member_ids() == set()
    p.connect("s1", 1, "ada")
    p.connect("g1", None, None)
    assert p.online_member_ids() == {1}
    p.disconnect("s1")
    clock.now += 31
    assert p.online_member_ids() == set()


def test_presence_grace_period_bridges_a_reload():
    clock = Clock()
    p = Presence(MemoryStore(), grace=30, tick=5, clock=clock)
    p.connect("s1", 1, "ada")
    p.enter_sig("s1", 7)
    assert p.online().names == ["ada"] and p.online(7).names == ["ada"]
    p.disconnect("s1")  # the page reloads...
    clock.now += 2
    assert p.online().names == ["ada"] and p.online(7).names == ["ada"]  # ...no flicker
    p.connect("s2", 1, "ada")
    clock.now += 100  # the new socket keeps her online as long as it refreshes
    p.refresh()
    assert p.online().names == ["ada"]
    assert p.online(7).names == []  # she never came back to SIG 7: gone after the grace period
    p.disconnect("s2")
    clock.now += 29
    assert p.online().names == ["ada"]
    clock.now += 2
    assert p.online().names == []


def test_presence_counts_guests_and_reports_changes_once():
    clock = Clock()
    p = Presence(MemoryStore(), grace=30, tick=5, clock=clock)
    p.connect("g1", None, None)
    p.connect("s1", 2, "bob")
    assert p.online().as_dict() == {"names": ["bob"], "guests": 1}
    assert p.changes(set()) == {"site": {"scope": "site", "names": ["bob"], "guests": 1}}
    assert p.changes(set()) == {}
    p.disconnect("g1")  # a guest's next page is a new guest: no grace needed
    assert p.changes(set())["site"]["guests"] == 0


def test_online_members_are_shown_on_sig_pages_server_rendered(app, make_client, f, forum):
    ada, bob, sig, topic = forum
    c = make_client()
    c.login("bob")
    sc = sock(app, c)
    subscribe(sc, sig_id=sig.id)
    guest = make_client()
    index = guest.get("/").get_data(as_text=True)
    assert 'id="online"' in index and ">bob<" in index
    page = guest.get(f"/s/{sig.slug}/").get_data(as_text=True)
    assert f'data-presence-sig="{sig.id}"' in page and ">bob<" in page


def test_private_sig_presence_is_not_shown_to_outsiders(app, make_client, f):
    ada = f.user("ada")
    f.user("eve")
    secret = f.sig("secret", visibility="private", members=[ada])
    c = make_client()
    c.login("ada")
    sc = sock(app, c)
    assert subscribe(sc, sig_id=secret.id)["ok"]
    outsider = make_client()
    outsider.login("eve")
    assert outsider.get(f"/s/{secret.slug}/").status_code == 404
    eve_socket = sock(app, outsider)
    assert subscribe(eve_socket, sig_id=secret.id)["ok"] is False


def test_a_subscribe_that_arrives_after_its_socket_left_is_refused_quietly(app, monkeypatch):
    """Handlers run on threads: a page that navigates away can disconnect before its subscribe
    is handled. The handler must answer, not raise (python-socketio raises KeyError then)."""
    from forum.realtime import namespace

    def gone(room, *args, **kwargs):
        raise KeyError("sid-that-left")

    monkeypatch.setattr(namespace, "join_room", gone)
    handler = namespace.__dict__
    ns = next(v for v in handler.values() if isinstance(v, type) and hasattr(v, "on_subscribe"))
    instance = ns.__new__(ns)
    monkeypatch.setattr(namespace, "socket_member", lambda: (True, None))
    with app.test_request_context():
        assert instance.on_subscribe({"presence": "site"}) == {
            "ok": False,
            "error": "Disconnected.",
        }


# --- rooms re-checked when who may read them changes ----------------------------------------
def _admin_sig_form(client, sig, visibility: str):
    return client.form(
        f"/admin/sigs/{sig.id}",
        {"sig-name": sig.name, "sig-slug": sig.slug, "sig-description": sig.description,
         "sig-visibility": visibility, "sig-language": sig.language},
    )  # fmt: skip


@pytest.mark.parametrize("visibility", ["private", "members"])
def test_a_sig_that_closes_takes_outsiders_sockets_out_of_its_rooms(
    app, make_client, f, visibility
):
    ada = f.user("ada")
    f.user("bob")
    f.user("root", sysop=True)
    sig = f.sig("retro", members=[ada])  # public: bob and guests read it without joining
    topic = f.topic(ada, sig, title="Amiga repairs")
    sockets = {}
    for name in ("ada", "bob", None):
        c = make_client()
        if name:
            c.login(name)
        sockets[name] = sock(app, c)
        assert subscribe(sockets[name], topic_id=topic.id)["ok"] is True
        assert subscribe(sockets[name], sig_id=sig.id)["ok"] is True
    f.reply(ada, topic, "before the change")
    for sc in sockets.values():
        assert [p["post_number"] for p in received(sc, "post_created")] == [2]

    admin = make_client()
    admin.login("root")
    assert _admin_sig_form(admin, sig, visibility).status_code == 302

    f.reply(ada, topic, "members only from now on")
    assert [p["post_number"] for p in received(sockets["ada"], "post_created")] == [3]
    assert received(sockets["bob"], "post_created") == []
    assert received(sockets[None], "post_created") == []
    # Out of the rooms, not disconnected: their other pages still work.
    assert sockets["bob"].is_connected() and sockets[None].is_connected()
    manager = socketio.server.manager
    for room in (f"topic:{topic.id}", f"presence:sig:{sig.id}"):
        holders = {eio for _, eio in manager.get_participants("/", room)}
        assert holders == {sockets["ada"].eio_sid}, room
    # Subscribing again is refused like any subscribe to a SIG one may not read.
    assert subscribe(sockets["bob"], topic_id=topic.id) == {"ok": False, "error": "Not found."}


def test_a_member_removed_by_a_sysop_leaves_the_rooms_a_global_sysop_who_leaves_stays(
    app, make_client, f
):
    ada, bob, root = f.user("ada"), f.user("bob"), f.user("root", sysop=True)
    secret = f.sig("secret", visibility="private", members=[ada, bob, root], sysops=[ada])
    topic = f.topic(ada, secret)
    sockets = {}
    for name in ("bob", "root"):
        c = make_client()
        c.login(name)
        sockets[name] = sock(app, c)
        assert subscribe(sockets[name], topic_id=topic.id)["ok"] is True
    sigs.remove_member(ada, secret.id, bob.id)
    sigs.leave_sig(root, secret.id)  # the policy still lets the global sysop read it
    f.reply(ada, topic, "after the removal")
    assert received(sockets["bob"], "post_created") == []
    assert [p["post_number"] for p in received(sockets["root"], "post_created")] == [2]


@pytest.mark.config(PRESENCE_GRACE_SECONDS=30)
def test_a_global_sysop_demoted_leaves_the_private_rooms_and_keeps_the_public_ones(
    app, make_client, f
):
    """Only the global sysop's role let him read the private SIG: once it is taken away, his
    sockets leave its topic and presence rooms (a public SIG's room stays open)."""
    from forum.admin import services as admin

    ada, root, gus = f.user("ada"), f.user("root", sysop=True), f.user("gus", sysop=True)
    secret = f.sig("secret", visibility="private", members=[ada], sysops=[ada])
    public = f.sig("open", members=[ada])
    hidden, visible = f.topic(ada, secret), f.topic(ada, public)
    c = make_client()
    c.login("gus")
    sc = sock(app, c)
    assert subscribe(sc, topic_id=hidden.id)["ok"] and subscribe(sc, topic_id=visible.id)["ok"]
    assert subscribe(sc, sig_id=secret.id)["ok"]
    assert "gus" in _present(app, secret)
    admin.set_role(root, gus.id, "member")
    f.reply(ada, hidden, "after gus was demoted")
    f.reply(ada, visible, "still public")
    assert [p["topic_id"] for p in received(sc, "post_created")] == [visible.id]
    assert "gus" not in _present(app, secret)
    assert sc.is_connected()


def test_a_topic_moved_into_a_private_sig_drops_outsiders_and_keeps_its_readers(
    app, make_client, f
):
    from forum.moderation import services as moderation

    ada, bob, root = f.user("ada"), f.user("bob"), f.user("root", sysop=True)
    public = f.sig("open", members=[ada, bob])
    secret = f.sig("secret", visibility="private", members=[ada])
    topic = f.topic(ada, public)
    sockets = {}
    for name in ("ada", "bob"):
        c = make_client()
        c.login(name)
        sockets[name] = sock(app, c)
        assert subscribe(sockets[name], topic_id=topic.id)["ok"] is True
    moderation.move_topic(root, topic.id, secret.id)
    f.reply(ada, topic, "in the private SIG now")
    assert received(sockets["bob"], "post_created") == []
    assert [p["post_number"] for p in received(sockets["ada"], "post_created")] == [2]
    # The room now belongs to the private SIG: ada leaving it takes her socket out too.
    sigs.leave_sig(ada, secret.id)
    f.reply(root, topic, "after ada left")
    assert received(sockets["ada"], "post_created") == []


def test_a_recheck_touches_only_the_rooms_of_that_sig(app, make_client, f):
    ada = f.user("ada")
    f.user("bob")
    root = f.user("root", sysop=True)
    closing, other = f.sig("closing", members=[ada]), f.sig("other", members=[ada])
    t1, t2 = f.topic(ada, closing), f.topic(ada, other)
    c = make_client()
    c.login("bob")
    sc = sock(app, c)
    assert subscribe(sc, topic_id=t1.id)["ok"] and subscribe(sc, topic_id=t2.id)["ok"]
    sigs.update_sig(
        root, closing.id, name=closing.name, description="", visibility="private", language="en"
    )
    f.reply(ada, t1, "hidden from bob")
    f.reply(ada, t2, "still public")
    assert [p["topic_id"] for p in received(sc, "post_created")] == [t2.id]


# --- tracking: the "Tracked" count, live ----------------------------------------------------
def test_tracked_count_moves_live_without_a_notification(app, make_client, f):
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    sig = f.sig("retro", members=[ada, bob, cyd])
    browsers, sockets = {}, {}
    for name in ("ada", "cyd"):
        browsers[name] = make_client()
        browsers[name].login(name)
        sockets[name] = sock(app, browsers[name])
    browsers["ada"].form(f"/s/{sig.slug}/watch", {"level": "tracking"})  # cyd stays normal
    assert received(sockets["ada"], "tracked_count") == [{"count": 0}]  # nothing unread yet

    topic = f.topic(bob, sig, title="Tracked live")
    got = sockets["ada"].get_received()
    assert [(e["name"], e["args"][0]) for e in got] == [("tracked_count", {"count": 1})]
    # Unread already: another post changes no count, so nothing is sent.
    f.reply(bob, topic, "second")
    assert sockets["ada"].get_received() == []
    # Read, then a reply: the topic is unread again.
    browsers["ada"].get(f"/t/{topic.id}", follow_redirects=True)
    assert received(sockets["ada"], "tracked_count") == [{"count": 0}]
    f.reply(bob, topic, "third")
    assert received(sockets["ada"], "tracked_count") == [{"count": 1}]
    assert sockets["cyd"].get_received() == []  # normal: nothing addressed to cyd

    # Watching counts too, and notifies.
    browsers["cyd"].form(f"/t/{topic.id}/watch", {"level": "watching"})
    browsers["cyd"].get(f"/t/{topic.id}", follow_redirects=True)
    sockets["cyd"].get_received()
    f.reply(bob, topic, "fourth")
    names = sorted(e["name"] for e in sockets["cyd"].get_received())
    assert names == ["notification", "tracked_count"]


def test_reading_or_tracking_a_topic_moves_the_tracked_count_in_every_tab(app, make_client, f):
    ada, bob = f.user("ada"), f.user("bob")
    retro, lounge = f.sig("retro", members=[ada, bob]), f.sig("lounge", members=[ada, bob])
    browser = make_client()
    browser.login("ada")
    browser.form(f"/s/{retro.slug}/watch", {"level": "tracking"})
    tracked = f.topic(bob, retro, title="Tracked through the SIG")
    f.reply(bob, tracked, "an unread reply")
    other = f.topic(bob, lounge, title="Not tracked")
    tabs = [sock(app, browser), sock(app, browser)]  # two tabs of one browser

    # Reading a topic nobody tracks moves no count: nothing is sent.
    browser.get(f"/t/{other.id}", follow_redirects=True)
    assert [received(tab, "tracked_count") for tab in tabs] == [[], []]
    # Reading the tracked topic to its end, in one tab: every tab's badge drops.
    browser.get(f"/t/{tracked.id}", follow_redirects=True)
    assert [received(tab, "tracked_count") for tab in tabs] == [[{"count": 0}]] * 2
    # Tracking a topic with unread posts raises it; muting it lowers it again.
    f.reply(bob, other, "unread in the lounge")
    browser.form(f"/t/{other.id}/watch", {"level": "tracking"})
    assert [received(tab, "tracked_count") for tab in tabs] == [[{"count": 1}]] * 2
    browser.form(f"/t/{other.id}/watch", {"level": "muted"})
    assert [received(tab, "tracked_count") for tab in tabs] == [[{"count": 0}]] * 2
    # "Mark all read" too.
    f.reply(bob, tracked, "unread again")
    assert [received(tab, "tracked_count") for tab in tabs] == [[{"count": 1}]] * 2
    browser.form("/new/read")
    assert [received(tab, "tracked_count") for tab in tabs] == [[{"count": 0}]] * 2


# --- who's online: members drop off when they may no longer be there ------------------------
def _present(app, sig=None) -> list[str]:
    return PRESENCE.require(app).online(sig.id if sig is not None else None).names


@pytest.mark.config(PRESENCE_GRACE_SECONDS=30)
def test_a_member_removed_from_a_private_sig_drops_off_its_online_list_at_once(app, make_client, f):
    ada, bob = f.user("ada"), f.user("bob")
    secret = f.sig("secret", visibility="private", members=[ada, bob], sysops=[ada])
    topic = f.topic(ada, secret)
    sockets = {}
    for name in ("ada", "bob"):
        c = make_client()
        c.login(name)
        sockets[name] = sock(app, c)
        assert subscribe(sockets[name], sig_id=secret.id)["ok"]
        assert subscribe(sockets[name], topic_id=topic.id)["ok"]
    assert _present(app, secret) == ["ada", "bob"]
    sigs.remove_member(ada, secret.id, bob.id)
    assert _present(app, secret) == ["ada"]
    assert _present(app) == ["ada", "bob"]  # still on the site
    # Whoever watches the SIG's list hears of it on the next tick.
    realtime.send_presence_changes(app)
    assert received(sockets["ada"], "presence")[-1] == {
        "scope": f"sig:{secret.id}", "names": ["ada"], "guests": 0
    }  # fmt: skip
    assert received(sockets["bob"], "presence") == []  # out of the room, hears nothing of it
    # Refreshing does not bring him back.
    PRESENCE.require(app).refresh()
    assert _present(app, secret) == ["ada"]


@pytest.mark.config(PRESENCE_GRACE_SECONDS=30)
def test_a_banned_member_drops_off_every_online_list_at_once(app, make_client, f, forum):
    from forum.moderation import services as moderation

    ada, bob, sig, topic = forum
    root = f.user("root", sysop=True)
    c = make_client()
    c.login("bob")
    sc = sock(app, c)
    assert subscribe(sc, sig_id=sig.id)["ok"]
    assert _present(app, sig) == ["bob"] and _present(app) == ["bob"]
    moderation.ban_member(root, bob.id, "spam")
    assert not sc.is_connected()
    # No grace period: a banned member is not coming back with the next page.
    assert _present(app, sig) == [] and _present(app) == []


@pytest.mark.config(PRESENCE_GRACE_SECONDS=30)
def test_a_member_drops_off_when_the_last_tab_closes_after_the_grace_period(
    app, make_client, f, forum
):
    ada, bob, sig, topic = forum
    clock = Clock()
    presence = PRESENCE.require(app)
    presence.clock = clock
    browser = make_client()
    browser.login("ada")
    tabs = [sock(app, browser), sock(app, browser)]
    for tab in tabs:
        assert subscribe(tab, sig_id=sig.id)["ok"]
    watcher = make_client()
    watcher.login("bob")
    bobs = sock(app, watcher)
    assert subscribe(bobs, sig_id=sig.id)["ok"]
    realtime.send_presence_changes(app)
    received(bobs, "presence")
    tabs[0].disconnect()
    clock.now += 60
    realtime.send_presence_changes(app)
    assert _present(app, sig) == ["ada", "bob"]  # one tab is still open
    assert received(bobs, "presence") == []
    tabs[1].disconnect()
    clock.now += 29  # a reload's grace: still listed
    realtime.send_presence_changes(app)
    assert _present(app, sig) == ["ada", "bob"]
    clock.now += 2
    realtime.send_presence_changes(app)
    assert _present(app, sig) == ["bob"] and _present(app) == ["bob"]
    # bob's page shows the SIG's list: it hears that ada left it.
    assert [(p["scope"], p["names"]) for p in received(bobs, "presence")] == [
        (f"sig:{sig.id}", ["bob"])
    ]


# --- a demoted SIG sysop stops hearing what only sysops may see -----------------------------
def test_a_demoted_sig_sysop_leaves_the_rooms_only_sysops_may_be_in(app, make_client, f):
    from forum.moderation import services as moderation

    ada, bob, grace = f.user("ada"), f.user("bob"), f.user("grace")
    root = f.user("root", sysop=True)
    sig = f.sig("retro", members=[ada, bob, grace], sysops=[grace])
    topic = f.topic(ada, sig, title="Soon deleted")
    hooks.screen_post.provide(app, lambda author, sig, text: Screening(POST_PENDING))
    first, second = f.reply(bob, topic, "waits one"), f.reply(bob, topic, "waits two")
    hooks.screen_post.withdraw(app)
    moderation.delete_topic(root, topic.id)
    c = make_client()
    c.login("grace")
    sc = sock(app, c)
    # A deleted topic is for its SIG's sysops only.
    assert subscribe(sc, topic_id=topic.id)["ok"] is True
    moderation.approve_post(root, first.id)
    assert [p["post_id"] for p in received(sc, "post_created")] == [first.id]

    sigs.set_sig_sysop(root, sig.id, grace.id, False)
    moderation.approve_post(root, second.id)
    assert received(sc, "post_created") == []
    manager = socketio.server.manager
    assert sc.eio_sid not in {eio for _, eio in manager.get_participants("/", f"topic:{topic.id}")}
    assert subscribe(sc, topic_id=topic.id) == {"ok": False, "error": "Not found."}
    assert sc.is_connected()  # her other rooms and pages go on


def test_a_topic_page_that_reads_notifications_updates_other_tabs(app, client, f, forum):
    ada, bob, sig, topic = forum
    f.reply(bob, topic, "one")
    client.login("ada")
    sc = sock(app, client)
    client.get(f"/t/{topic.id}/{topic.slug}?page=1")
    assert received(sc, "notification_count") == [{"unread_count": 0}]
    client.get(f"/t/{topic.id}/{topic.slug}?page=1")  # nothing left to read: nothing sent
    assert received(sc, "notification_count") == []


# --- who's online: a member who just signed in -----------------------------------------------
def _online_box(html: str) -> str:
    start = html.index('id="online"')
    return html[start : html.index("</section>", start)]


@pytest.mark.config(PRESENCE_GRACE_SECONDS=30)
def test_a_newly_registered_member_is_online_as_a_member_on_the_page_they_land_on(
    app, client, outbox
):
    """The finish page's socket was a guest's; the page the new member lands on lists them
    by name and counts no guest for the page they just left."""
    import re

    from .factories import PASSWORD
    from .mailbox import mails

    assert (
        client.form("/register", {"username": "ada", "email": "ada@example.com"}).status_code == 302
    )
    link = re.search(r"https?://[^/]+(/register/finish/\S+)", mails(outbox)[-1].get_content())
    assert link
    assert client.get(link.group(1)).status_code == 200
    finish_page = sock(app, client)  # the finish page's socket, opened as a guest's
    assert PRESENCE.require(app).online().as_dict() == {"names": [], "guests": 1}
    landed = client.form(link.group(1), {"password": PASSWORD}, follow_redirects=True)
    box = _online_box(landed.get_data(as_text=True))
    assert ">ada</a></span>" in box and '<span class="online-guests"></span>' in box, box
    assert PRESENCE.require(app).online().as_dict() == {"names": ["ada"], "guests": 0}
    # The finish page's socket closes as the browser leaves it: ada stays listed.
    finish_page.disconnect()
    assert PRESENCE.require(app).online().as_dict() == {"names": ["ada"], "guests": 0}


def test_a_browser_that_signs_in_is_its_member_on_every_list_its_pages_are_on():
    clock = Clock()
    p = Presence(MemoryStore(), grace=30, tick=5, clock=clock)
    p.connect("tab1", None, None, browser="b1")
    p.connect("tab2", None, None, browser="b1")  # one guest, two tabs
    p.enter_sig("tab2", 7)
    p.connect("other", None, None)  # a guest's browser shown no form yet: one per socket
    assert p.online().guests == 2 and p.online(7).guests == 1
    p.sign_in("b1", 1, "ada")
    assert p.online().as_dict() == {"names": ["ada"], "guests": 1}
    assert p.online(7).as_dict() == {"names": ["ada"], "guests": 0}
    p.disconnect("tab1")
    p.disconnect("tab2")  # her pages close: she is listed for the grace period, as a member
    clock.now += 29
    assert p.online().names == ["ada"] and p.online(7).names == ["ada"]
    clock.now += 2
    assert p.online().as_dict() == {"names": [], "guests": 1}


@pytest.mark.config(PRESENCE_GRACE_SECONDS=30)
def test_a_member_who_logs_in_is_online_as_a_member_at_once(app, client, f):
    f.user("bob")
    client.get("/login")
    login_page = sock(app, client)
    assert PRESENCE.require(app).online().as_dict() == {"names": [], "guests": 1}
    client.login("bob")
    box = _online_box(client.get("/").get_data(as_text=True))
    assert ">bob</a></span>" in box and '<span class="online-guests"></span>' in box, box
    login_page.disconnect()
    assert PRESENCE.require(app).online().as_dict() == {"names": ["bob"], "guests": 0}
