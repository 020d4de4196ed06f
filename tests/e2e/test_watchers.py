"""The watchers themselves: a planted CSP violation, console error, failed request or
accessibility defect is caught, so a clean run of the journeys means something."""

from __future__ import annotations

import pytest

from .helpers import axe_violations, expect

pytestmark = pytest.mark.e2e


def test_watchers_catch_what_they_are_for(open_browser, watch):
    page = open_browser()
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Special interest groups")
    assert watch.problems == []

    # An inline script: the Content-Security-Policy blocks it and the listener reports it.
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.x = 1';"
        " document.body.append(s); }"
    )
    page.evaluate("() => console.error('planted console error')")
    page.evaluate("() => fetch('/no-such-page-at-all')")
    page.wait_for_timeout(200)

    problems = "\n".join(watch.problems)
    assert "CSP violation: script-src-elem blocked inline" in problems
    assert "console error: planted console error" in problems
    assert "HTTP 404: GET" in problems and "/no-such-page-at-all" in problems
    assert page.evaluate("() => window.x") is None

    page.evaluate("() => document.querySelector('main').insertAdjacentHTML('beforeend', '<input>')")
    assert any(line.startswith("label (critical)") for line in axe_violations(page))

    watch.problems.clear()  # everything above was planted
