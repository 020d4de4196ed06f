"""Compressed answers: the shipped nginx site (deploy/nginx/forum.conf) gzips pages, the API's
JSON, feeds and static files with `Vary: Accept-Encoding`, never beside a session's form token
(BREACH), never an uploaded file. Read from the file, and seen through a real nginx in front of
the forum when nginx is installed (.ci/run installs it)."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from forum import ROOT

from .serverkit import free_port

SITE = ROOT / "deploy" / "nginx" / "forum.conf"


# --- the file ---------------------------------------------------------------------------------
@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None

    def all(self, name: str) -> list[Directive]:
        return [d for d in self.block or [] if d.name == name]

    def one(self, name: str) -> Directive:
        [found] = self.all(name)
        return found

    def location(self, where: str) -> Directive:
        [found] = [d for d in self.all("location") if " ".join(d.args) == where]
        return found


@dataclass
class _Tokens:
    items: list[str] = field(default_factory=list)
    at: int = 0


def _tokens(text: str) -> list[str]:
    text = re.sub(r"(?m)(^|\s)#.*$", r"\1", text)  # comments (no '#' inside a value here)
    return re.findall(r'"(?:[^"\\]|\\.)*"|[{};]|[^\s{};"]+', text)


def _parse(tokens: _Tokens) -> list[Directive]:
    found: list[Directive] = []
    words: list[str] = []
    while tokens.at < len(tokens.items):
        token = tokens.items[tokens.at]
        tokens.at += 1
        if token == ";":
            found.append(Directive(words[0], words[1:]))
            words = []
        elif token == "{":
            found.append(Directive(words[0], words[1:], _parse(tokens)))
            words = []
        elif token == "}":
            assert not words, words
            return found
        else:
            words.append(token.strip('"'))
    assert not words, words
    return found


def parse(text: str) -> Directive:
    return Directive("main", [], _parse(_Tokens(_tokens(text))))


@pytest.fixture(scope="module")
def site() -> Directive:
    return parse(SITE.read_text())


def _tls_server(site: Directive) -> Directive:
    [server] = [s for s in site.all("server") if s.all("ssl_certificate")]
    return server


def _gzip_off_with_a_session(location: Directive) -> bool:
    return any(
        d.args == ["($forum_session)"] and d.one("gzip").args == ["off"] for d in location.all("if")
    )


def test_the_site_compresses_with_vary(site):
    server = _tls_server(site)
    assert server.one("gzip").args == ["on"]
    assert server.one("gzip_vary").args == ["on"]
    assert server.one("gzip_proxied").args == ["any"]
    types = set(server.one("gzip_types").args)
    # text/html always is; these are the forum's other text answers.
    for wanted in (
        "text/css",
        "application/javascript",
        "application/json",
        "application/atom+xml",
        "application/xml",
        "image/svg+xml",
    ):
        assert wanted in types, wanted
    assert 1 <= int(server.one("gzip_comp_level").args[0]) <= 6


def test_no_compression_beside_a_sessions_secret_nor_for_uploaded_files(site):
    [session_map] = [m for m in site.all("map") if m.args == ["$http_cookie", "$forum_session"]]
    [pattern] = [d.name for d in session_map.block or [] if d.name.startswith("~")]
    matches = re.compile(pattern[1:].replace("\\\\", "\\")).search
    assert matches("session=abc") and matches("forum_lang=de; session=abc")
    assert matches("remember_token=1|x")
    assert not matches("forum_lang=de; forum_theme=dark; forum_tz=Europe/Berlin")
    assert not matches("mysession=1")
    server = _tls_server(site)
    proxied = [loc for loc in server.all("location") if loc.all("proxy_pass")]
    to_the_app = [loc for loc in proxied if loc.one("proxy_pass").args == ["http://forum_app"]]
    pages = [loc for loc in to_the_app if loc.args != ["=", "/readyz"]]
    assert len(pages) == 2  # the upload forms and everything else
    for location in pages:
        assert _gzip_off_with_a_session(location), location.args
    assert server.location("/_uploads/").one("gzip").args == ["off"]


# --- a real nginx in front of the forum -----------------------------------------------------------
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def _local_site(app_port: int, port: int, tmp: Path) -> str:
    """The shipped site on loopback: plain HTTP on `port`, the app on `app_port`, this
    checkout's static files; nothing else changed."""
    text = SITE.read_text()
    text = re.sub(
        r"(?s)upstream forum_app \{.*?\}",
        f"upstream forum_app {{ server 127.0.0.1:{app_port}; }}",
        text,
    )
    text = re.sub(
        r"(?s)upstream forum_sockets \{.*?\}",
        f"upstream forum_sockets {{ server 127.0.0.1:{app_port}; }}",
        text,
    )
    # The port-80 redirect goes; the TLS server listens on plain HTTP.
    text = re.sub(r"(?s)server \{\s*listen 80;.*?\n\}\n", "", text, count=1)
    text = re.sub(r"listen 443 ssl;", f"listen 127.0.0.1:{port};", text)
    text = re.sub(
        r"\s*listen \[::\]:443 ssl;|\s*http2 on;|\s*ssl_certificate(_key)? [^;]+;", "", text
    )
    text = text.replace("/srv/forum/app/static/", f"{ROOT}/static/")
    text = text.replace("/srv/forum/instance/uploads/", f"{tmp}/uploads/")
    return text


@dataclass
class Proxy:
    base: str
    process: subprocess.Popen[bytes]


@pytest.fixture
def nginx(make_app: Any, f: Any, tmp_path: Path) -> Iterator[Proxy]:
    if NGINX is None:
        pytest.skip("nginx is not installed (`apt-get install nginx`; .ci/run does)")
    ada = f.user("ada")
    sig = f.sig("lounge", name="The Lounge", members=[ada])
    for n in range(3):
        f.topic(ada, sig, f"A topic with words enough to compress {n}", "Words. " * 200)
    served = make_app(PROXY_HOPS=1, PROXY_TRUSTED=["127.0.0.1"])
    app_port, port = free_port(), free_port()
    server = make_server("127.0.0.1", app_port, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    (tmp_path / "uploads").mkdir()
    (tmp_path / "site.conf").write_text(_local_site(app_port, port, tmp_path))
    (tmp_path / "nginx.conf").write_text(
        f"""
        master_process off;
        pid {tmp_path}/nginx.pid;
        error_log {tmp_path}/error.log warn;
        events {{ worker_connections 64; }}
        http {{
            include /etc/nginx/mime.types;
            default_type application/octet-stream;
            access_log off;
            client_body_temp_path {tmp_path}/body;
            proxy_temp_path {tmp_path}/proxy;
            fastcgi_temp_path {tmp_path}/fastcgi;
            uwsgi_temp_path {tmp_path}/uwsgi;
            scgi_temp_path {tmp_path}/scgi;
            include {tmp_path}/site.conf;
        }}
        """
    )
    with (tmp_path / "stderr.log").open("wb") as log:
        process = subprocess.Popen(
            [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                # Only a refused connection means "not yet": an answer slower than a second
                # (the app's first, on a busy machine) is waited for.
                requests.get(base + "/healthz", timeout=10).close()
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    errors = (tmp_path / "stderr.log").read_text()
                    pytest.fail(f"nginx did not start: {errors}")
                time.sleep(0.1)
        yield Proxy(base, process)
    finally:
        process.terminate()
        process.wait(timeout=10)
        server.shutdown()
        thread.join(timeout=10)


def _get(url: str, **headers: str) -> requests.Response:
    # stream=True: the body as sent (requests would undo the gzip, and its length with it).
    response = requests.get(url, headers={"Accept-Encoding": "gzip", **headers}, stream=True)
    with response:
        response.raw.decode_content = False
        response._content = response.raw.read()  # noqa: SLF001
    return response


@pytest.mark.slow
def test_a_guests_page_comes_compressed_with_vary(nginx):
    response = _get(nginx.base + "/")
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    page = gzip.decompress(response.content).decode()
    assert "The Lounge" in page and 'data-theme="system"' in page
    # Not asked for: not compressed.
    plain = _get(nginx.base + "/", **{"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert b"The Lounge" in plain.content


@pytest.mark.slow
def test_static_files_and_json_come_compressed(nginx):
    css = _get(nginx.base + "/static/css/forum.css")
    assert css.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in css.headers["Vary"]
    assert b"--bg" in gzip.decompress(css.content)
    script = _get(nginx.base + "/static/js/forum.js")
    assert script.headers["Content-Encoding"] == "gzip"
    api = _get(nginx.base + "/api/v1/openapi.json")
    assert api.status_code == 200
    assert api.headers["Content-Encoding"] == "gzip"


@pytest.mark.slow
def test_a_browser_with_a_session_gets_its_page_uncompressed(nginx):
    for cookie in ("session=anything", "forum_lang=de; remember_token=1|abc"):
        response = _get(nginx.base + "/", Cookie=cookie)
        assert response.status_code == 200
        assert "Content-Encoding" not in response.headers, cookie
        assert b"The Lounge" in response.content
    # A guest's own choices are no session: still compressed.
    chosen = _get(nginx.base + "/", Cookie="forum_theme=dark; forum_lang=es")
    assert chosen.headers["Content-Encoding"] == "gzip"
    assert 'data-theme="dark"' in gzip.decompress(chosen.content).decode()
