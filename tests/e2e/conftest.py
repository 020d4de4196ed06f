"""End-to-end fixtures: the forum in a subprocess on a free loopback port with a fresh database,
Debian's Chromium through Playwright, one browser context per member, and watchers that fail a test
on console errors, failed requests, CSP violations and server tracebacks."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ..factories import CHEAP_PASSWORDS
from .helpers import DESKTOP, expect, is_browser_going_away

try:
    from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extras install it
    sync_playwright = None  # type: ignore[assignment]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


# The demo seeder's members (forum/demo.py); the tests log in as them.
PASSWORDS = {"sysop": "sysop-password-1"}
DEMO_PASSWORD = "demo-password-1"


def _skip_reason() -> str | None:
    if sync_playwright is None:
        return "Playwright is not installed: pip install -e '.[dev]' to run the end-to-end tests"
    if not CHROMIUM.exists():
        return (
            f"Chromium not found at {CHROMIUM}: `apt-get install chromium` to run the end-to-end "
            "tests (never `playwright install`)"
        )
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _skip_reason()
    for item in items:
        if not item.path.is_relative_to(HERE):
            continue
        # One test worker runs them all (`--dist loadgroup`): one forum and one Chromium to start,
        # not one per worker, while the other workers get on with the rest of the suite.
        item.add_marker(pytest.mark.xdist_group("browser"))
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


# --- The forum, started the way a person starts it --------------------------------------------


@dataclass
class Forum:
    url: str
    instance: Path
    log_path: Path
    log_offset: int = 0

    def __call__(self, path: str) -> str:
        return self.url + path

    def new_log(self) -> str:
        """Server output since the last call."""
        with self.log_path.open("rb") as log:
            log.seek(self.log_offset)
            data = log.read()
        self.log_offset += len(data)
        return data.decode("utf-8", "replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORUM_")}
    env.update(
        {
            "FLASK_APP": "wsgi.py",
            "FORUM_INSTANCE_PATH": str(instance),
            "FORUM_SECRET_KEY": secrets.token_hex(16),
            # One loopback address logs in every member of every journey.
            "FORUM_RATELIMIT_LOGIN": "1000 per minute",
            "FORUM_RATELIMIT_REGISTER": "1000 per hour",
            "FORUM_RATELIMIT_POST": "1000 per minute",
            # A registration form sent at once would look like a bot's (test_registration_defences
            # covers the minimum fill time).
            "FORUM_REGISTER_MIN_SECONDS": "0",
            "FORUM_RATELIMIT_PREVIEW": "1000 per minute",
            "FORUM_RATELIMIT_DRAFTS": "1000 per minute",
            # Cheap password hashing: the seeder and every login would otherwise cost seconds.
            "FORUM_PASSWORD_HASH_METHOD": CHEAP_PASSWORDS,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _flask(*args: str, env: dict[str, str], log: Any) -> None:
    subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        check=True,
        timeout=120,
    )


# Generous: it is only waited out when the forum never answers, and a loaded two-core machine
# (two test workers each starting a forum, seeding it, and Chromium) took more than 30 s.
READY_SECONDS = 120


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the forum exited early:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"the forum did not answer within {READY_SECONDS} s:\n{log_path.read_text()[-3000:]}"
    )


@pytest.fixture(scope="session")
def forum(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Forum]:
    """`flask db upgrade`, the demo seeder, then `flask forum dev-server` on a free port."""
    instance = tmp_path_factory.mktemp("e2e-instance")
    env = _server_env(instance)
    log_path = instance / "server.log"
    with log_path.open("ab") as log:
        _flask("db", "upgrade", env=env, log=log)
        _flask("forum", "seed-demo", env=env, log=log)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "forum", "dev-server"]
            + ["--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_ready(url + "/", process, log_path)
        server = Forum(url=url, instance=instance, log_path=log_path)
        server.new_log()
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- The browser and the watchers ---------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # A loaded CI machine (two cores, three test workers, their servers and Chromium) can be
    # slow: wait up to 30 s, not 5 (15 s was outlived twice in one run on 2026-12-07, ci29). A
    # passing test waits no longer for it.
    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__forumCspViolation(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} on ${document.location}`
  );
});
"""


@dataclass
class Watch:
    """What went wrong in the browser during one test; the test fails if anything did."""

    forum: Forum
    problems: list[str] = field(default_factory=list)
    # (status, path regex) pairs a test expects, such as the 404 of a hidden topic.
    expected: list[tuple[int, re.Pattern[str]]] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def expect_status(self, status: int, path_pattern: str) -> None:
        self.expected.append((status, re.compile(path_pattern)))

    def _is_expected(self, status: int, url: str) -> bool:
        path = url.removeprefix(self.forum.url)
        return any(s == status and p.search(path) for s, p in self.expected)

    def attach(self, context: BrowserContext, label: str) -> None:
        def on_console(message: Any) -> None:
            if message.type != "error":
                return
            text = message.text
            status = re.search(r"status of (\d{3})", text)
            where = (message.location or {}).get("url", "")
            if status and self._is_expected(int(status.group(1)), where):
                return
            self.problems.append(f"[{label}] console error: {text} ({where})")

        def on_weberror(error: Any) -> None:
            self.problems.append(f"[{label}] uncaught JavaScript error: {error.error}")

        def on_request_failed(request: Any) -> None:
            if request.failure == "net::ERR_ABORTED":
                return  # the page navigated away before it finished loading (a fast click)
            self.problems.append(
                f"[{label}] request failed: {request.method} {request.url} ({request.failure})"
            )

        def on_response(response: Any) -> None:
            if response.status >= 400 and not self._is_expected(response.status, response.url):
                self.problems.append(
                    f"[{label}] HTTP {response.status}: {response.request.method} {response.url}"
                )

        def on_csp(source: Any, description: str) -> None:
            self.csp_violations.append(description)
            self.problems.append(f"[{label}] CSP violation: {description}")

        context.on("console", on_console)
        context.on("weberror", on_weberror)
        context.on("requestfailed", on_request_failed)
        context.on("response", on_response)
        context.expose_binding("__forumCspViolation", on_csp)
        context.add_init_script(CSP_LISTENER)

    def check(self) -> None:
        log = self.forum.new_log().splitlines()
        for i, line in enumerate(log):
            if line.startswith("Traceback"):
                end = next(
                    (j for j in range(i + 1, len(log)) if log[j] and not log[j][0].isspace()),
                    len(log) - 1,
                )
                excerpt = "\n".join(log[max(i - 1, 0) : end + 1])
                if is_browser_going_away(excerpt):
                    continue
                # The same failure repeating (a background loop) is reported once.
                problem = f"the server logged a traceback:\n{excerpt.split(' ', 2)[-1]}"
                if problem not in self.problems:
                    self.problems.append(problem)
        if self.problems:
            problems, self.problems = self.problems, []
            raise AssertionError("the browser saw problems:\n  " + "\n  ".join(problems))


@pytest.fixture
def watch(forum: Forum) -> Watch:
    forum.new_log()
    return Watch(forum)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Fail the test itself (not its teardown) when the browser or the server saw problems."""
    result = yield
    watcher = getattr(item, "funcargs", {}).get("watch")
    if isinstance(watcher, Watch):
        watcher.check()
    return result


@pytest.fixture(scope="session")
def logins(browser: Browser, forum: Forum) -> dict[str, Any]:
    """Each member logs in once through the login form; contexts reuse the cookies."""
    return {}


def login_state(browser: Browser, forum: Forum, logins: dict[str, Any], name: str) -> Any:
    if name not in logins:
        context = browser.new_context(base_url=forum.url)
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Username or email").fill(name)
        page.get_by_label("Password").fill(PASSWORDS.get(name, DEMO_PASSWORD))
        page.get_by_role("button", name="Log in").click()
        page.get_by_text(f"Welcome back, {name}.").wait_for()
        logins[name] = context.storage_state()
        context.close()
    return logins[name]


@pytest.fixture
def open_browser(
    browser: Browser, forum: Forum, watch: Watch, logins: dict[str, Any]
) -> Iterator[Callable[..., Page]]:
    """`open_browser("ada")` is a page in a new context (a browser of its own) logged in as ada;
    `open_browser()` is a guest; `js=False` turns JavaScript off; other keywords go to
    Playwright's new_context (color_scheme="dark", ...)."""
    contexts: list[BrowserContext] = []

    def open_(
        member: str | None = None, *, js: bool = True, label: str | None = None, **options: Any
    ) -> Page:
        state = login_state(browser, forum, logins, member) if member else None
        context = browser.new_context(
            base_url=forum.url,
            viewport=DESKTOP,
            java_script_enabled=js,
            storage_state=state,
            **options,
        )
        context.set_default_timeout(30_000)
        watch.attach(context, label or member or "guest")
        # "Hide this post from readers?" and the like: the person reads the question and agrees.
        context.on("dialog", lambda dialog: dialog.accept())
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()
