"""The app starts, the pages render, and a member can post through the web."""


def test_index_renders_for_guest(client, f):
    f.sig("retro", name="Retro Computing")
    response = client.get("/")
    assert response.status_code == 200
    assert "Retro Computing" in response.get_data(as_text=True)


def test_member_starts_topic_and_replies_through_forms(client, f):
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    client.login("ada")
    response = client.form(f"/s/{sig.slug}/new", {"title": "Hello there", "body": "**bold** move"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert "<strong>bold</strong>" in html
    topic_id = int(response.headers["Location"].split("/")[2])
    response = client.form(f"/t/{topic_id}/reply", {"body": "a reply"})
    assert response.status_code == 302
    assert "#post-2" in response.headers["Location"]


def test_returning_member_lands_on_first_unread_post_without_a_redirect_loop(client, f):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(bob, sig)
    client.login("ada")
    assert client.get(f"/t/{topic.id}").status_code == 200  # reads post 1
    f.reply(bob, topic, "two")
    response = client.get(f"/t/{topic.id}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/t/{topic.id}/{topic.slug}?page=1#post-2")
    landing = client.get(response.headers["Location"])
    assert landing.status_code == 200
    assert 'id="post-2"' in landing.get_data(as_text=True)
    # Everything on the landing page is read now: no redirect next time.
    assert client.get(f"/t/{topic.id}").status_code == 200
