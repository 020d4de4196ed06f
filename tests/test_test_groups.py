"""The suite's own scheduling: `make test` runs with `--dist loadgroup`, and tests/conftest.py
puts a module's tests that share a server process or an index in one group, so that one worker
makes the fixture once. pytest 9.2 silently stopped that (pytest-dev/pytest-xdist#1386): the
groups were ignored and every worker started its own servers and browser. This fails when an
upgrade breaks it again."""

import pytest


@pytest.mark.xdist_group("suite-groups")
def test_loadgroup_puts_a_marked_test_in_its_group(request: pytest.FixtureRequest) -> None:
    config = request.config
    if not hasattr(config, "workerinput"):
        pytest.skip("only under pytest-xdist's workers (make test runs with -n)")
    if not config.getoption("loadgroup", False):  # (a worker's own option: its "dist" is "no")
        pytest.skip("only with --dist loadgroup (pyproject.toml's addopts)")
    # xdist's worker marks the group in the test's node id; the scheduler groups by that mark.
    assert request.node.nodeid.endswith("@suite-groups"), (
        "pytest-xdist no longer groups tests (pytest-dev/pytest-xdist#1386): keep pytest at a "
        "version it works with (pyproject.toml)"
    )
