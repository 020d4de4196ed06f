"""The API's OpenAPI document: valid OpenAPI 3.1, written from the code; its reference page; and
Schemathesis against a live server, as a member and as a guest: no 5xx, every answer as
documented."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from werkzeug.serving import make_server

from forum.api import services as api_services
from forum.care import services as care_services
from forum.messages import services as mail_services

from .serverkit import free_port

API = "/api/v1"


def test_the_document_is_valid_openapi_3_1_written_from_the_routes(app, client) -> None:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and rule.endpoint not in ("api.openapi", "api.docs")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert documented == routes
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["summary"] and op["tags"], (path, method)
            assert "400" in op["responses"] and "404" in op["responses"], (path, method)
            schemes = [next(iter(s), None) for s in op["security"]]
            assert schemes[:2] == ["token", "session"], (path, method)
    assert doc["components"]["securitySchemes"]["token"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal access token; the requirement lists the scope.",
    }


def test_the_reference_page_is_written_from_the_document_with_no_outside_files(client) -> None:
    page = client.get(f"{API}/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "POST /api/v1/topics/{topic_id}/posts" in text and 'id="model-Post"' in text
    assert "Authorization: Bearer" in text
    # Only our own stylesheets and scripts: no CDN.
    for url in re.findall(r'(?:src|href)="([^"]+)"', text):
        assert (
            not url.startswith(("http:", "https:", "//"))
            or "127.0.0.1" in url
            or "localhost" in url
        ), url


@pytest.fixture
def live_api(app, make_app, f) -> Iterator[dict[str, Any]]:
    """A forum with content, served by a real HTTP server in a thread; a member's token, and
    the token of a sysop of the SIG, whose members wrote to its sysops."""
    ada = f.user("ada")
    bob = f.user("bob")
    cy = f.user("cyd")
    public = f.sig("retro", members=[ada, bob], sysops=[cy], name="Retro")
    f.sig("lair", visibility="private", members=[ada], name="Hidden Lair")
    topic = f.topic(ada, public, "A topic to fuzz", "Its first post.")
    f.reply(bob, topic, "Hello @ada")
    # Private mail (conversations 1 and 2, before the concerns' own): ada's with bob and cyd,
    # where bob's answer (message 2) is hers to report; and one with bob for her to leave.
    conversation = mail_services.start_conversation(ada, "bob, cyd", "Mail to fuzz", "Hi both.")
    mail_services.reply_to_conversation(bob, conversation.id, "Bob's answer.")
    mail_services.start_conversation(ada, "bob", "Mail to leave", "Hi Bob.")
    # Concerns (ids 1 and 2, which the fuzzing's small ids meet): ada's, answered; bob's, open.
    concern = care_services.write_to_sysops(ada, public.id, "A concern to fuzz", "My words.")
    care_services.reply(cy, concern.id, "The sysops' answer.")
    care_services.write_to_sysops(bob, public.id, "Another concern", "Bob's words.")
    # A page of the sysops on duty (id 1), waiting for cyd to take it.
    care_services.set_duty(cy, public.id, True)
    care_services.page_sysops(ada, public.id, "A page to fuzz")
    secret = api_services.create_token(ada, "fuzz", ["read", "write"], 30).secret
    sysop = api_services.create_token(cy, "fuzz", ["read", "write", "moderate"], 30).secret
    served = make_app(SEARCH_DRAIN="inline")
    port = free_port()
    server = make_server("127.0.0.1", port, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{port}", "token": secret, "sysop": sysop}
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _schemathesis(
    url: str, workdir: Path, *extra: str, config: str | None = None
) -> subprocess.CompletedProcess[str]:
    settings: list[str] = []
    if config is not None:
        path = workdir / "schemathesis.toml"
        path.write_text(config)
        settings = ["--config-file", str(path)]
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        *settings,
        "run",
        f"{url}{API}/openapi.json",
        "--url",
        url,
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance,response_headers_conformance,negative_data_rejection",
        "--max-examples",
        "5",
        "--phases",
        "examples,coverage,fuzzing",
        "--seed",
        "25",
        "--workers",
        "1",
        "--max-failures",
        "5",
        "--request-timeout",
        "10",
        "--no-shrink",
        "--warnings",
        "off",
        *extra,
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}
    return subprocess.run(
        # Its cache (.schemathesis/) goes to the test's own folder, not the checkout.
        command,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=workdir,
        env=env,
        check=False,
    )


MAIL_PARAMETERS = """[parameters]
"path.conversation_id" = 1
"path.message_id" = 2

[[operations]]
include-operation-id = "leave_conversation"
parameters = { "path.conversation_id" = 2 }
"""


MEMBER_PARAMETERS = """[parameters]
"path.username" = "bob"
"""


@pytest.mark.slow
@pytest.mark.search  # (it fuzzes /search too)
def test_schemathesis_finds_nothing_as_a_guest_or_as_a_member(live_api, tmp_path) -> None:
    member = ("-H", f"Authorization: Bearer {live_api['token']}")
    sysop = ("-H", f"Authorization: Bearer {live_api['sysop']}")
    for who, extra, config in (
        ("guest", (), None),
        # A member on private mail's operations, every one on her own conversation and bob's
        # message in it (leaving: the other one), before the next run's random ids meet them.
        ("member, in her mail", (*member, "--include-tag", "Private mail"), MAIL_PARAMETERS),
        ("member", member, None),
        # The member on her own settings (ignoring bob, her preferences), before random names
        # meet nobody.
        ("member, her settings", (*member, "--include-tag", "Members"), MEMBER_PARAMETERS),
        # A SIG's sysop on member care's operations, every one on a concern of their inbox
        # (random ids would nearly all be 404s): answers, notes, assigning, states; their SIG's
        # care box, duty, deadlines and paging; the waiting page, taking it.
        (
            "sysop",
            (*sysop, "--include-tag", "Member care"),
            '[parameters]\n"path.concern_id" = 2\n"path.slug" = "retro"\n"path.page_id" = 1\n',
        ),
        # … and splitting their SIG's topic (its first post and bob's reply).
        (
            "sysop, splitting",
            (*sysop, "--include-operation-id", "split_topic"),
            '[parameters]\n"path.topic_id" = 1\n',
        ),
    ):
        run = _schemathesis(live_api["url"], tmp_path, *extra, config=config)
        summary = run.stdout[-6000:]
        assert run.returncode == 0, f"as a {who}:\n{summary}\n{run.stderr[-2000:]}"
        assert "No issues found" in run.stdout or " passed" in run.stdout, summary
