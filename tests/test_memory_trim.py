"""Giving freed memory back to the system after requests (forum.ops.memory): glibc's
malloc_trim, called by one thread per process a while after requests end; nothing elsewhere."""

from __future__ import annotations

import pytest

from forum.ops import memory


def test_a_trim_waits_for_a_request_to_end():
    calls: list[int] = []
    # Nothing held (the real `release` asks this process's searchers, which another test in
    # the same worker may have left in use: then it asks for another turn, as it should).
    trimmer = memory.Trimmer(60, trim=lambda: calls.append(1) or True, release=lambda: False)
    assert trimmer.tick() is False  # nothing ended yet: no trim
    trimmer.request_ended()
    trimmer.request_ended()
    assert trimmer.pending
    assert trimmer.tick() is True
    assert calls == [1]  # once for both requests
    assert not trimmer.pending
    assert trimmer.tick() is False  # and not again until another request ends
    trimmer.request_ended()
    assert trimmer.tick() is True
    assert calls == [1, 1]
    assert trimmer.trims == 2


def test_a_failing_trim_does_not_stop_the_trimmer(caplog):
    def broken() -> bool:
        raise OSError("no")

    trimmer = memory.Trimmer(60, trim=broken)
    trimmer.request_ended()
    assert trimmer.tick() is False
    assert "malloc_trim failed" in caplog.text
    trimmer.request_ended()
    assert trimmer.pending


def test_without_glibc_trim_does_nothing(monkeypatch):
    monkeypatch.setattr(memory, "_malloc_trim", None)
    assert memory.trim() is False


def test_with_glibc_trim_calls_malloc_trim():
    if memory._malloc_trim is None:
        pytest.skip("this C library has no malloc_trim (not glibc)")
    assert memory.trim() is True


def test_a_request_asks_for_a_trim(monkeypatch, make_app):
    if memory._malloc_trim is None:
        pytest.skip("this C library has no malloc_trim (not glibc): nothing is installed")
    monkeypatch.setattr(memory, "_trimmer", None)  # this process's own, an hour away
    client = make_app(MEMORY_TRIM_SECONDS=3600).test_client()
    trimmer = memory.current_trimmer()
    assert trimmer is not None and not trimmer.pending
    assert client.get("/healthz").status_code == 200
    assert trimmer.pending


def test_no_trimmer_without_glibc_or_when_turned_off(monkeypatch, make_app):
    monkeypatch.setattr(memory, "_trimmer", None)
    monkeypatch.setattr(memory, "_malloc_trim", None)
    make_app(MEMORY_TRIM_SECONDS=10).test_client().get("/healthz")
    assert memory.current_trimmer() is None
    monkeypatch.setattr(memory, "_malloc_trim", lambda _pad: 1)
    make_app(MEMORY_TRIM_SECONDS=0).test_client().get("/healthz")
    assert memory.current_trimmer() is None


def test_the_trimmer_lets_holders_go_first_and_looks_again_for_one_still_in_use():
    order: list[str] = []
    still_in_use = [True, False]

    def release() -> bool:
        order.append("release")
        return still_in_use.pop(0)

    trimmer = memory.Trimmer(60, trim=lambda: order.append("trim") or True, release=release)
    trimmer.request_ended()
    assert trimmer.tick() is True
    assert order == ["release", "trim"]
    assert trimmer.pending  # another turn, though no request ended since
    assert trimmer.tick() is True
    assert not trimmer.pending
    assert trimmer.tick() is False


def test_releasers_are_held_weakly_and_one_failing_stops_no_other(caplog, monkeypatch):
    monkeypatch.setattr(memory, "_releasers", [])  # (not the apps' of other tests)
    calls: list[str] = []

    class Holder:
        def __init__(self, name: str, again: bool, broken: bool = False) -> None:
            self.name, self.again, self.broken = name, again, broken

        def let_go(self) -> bool:
            calls.append(self.name)
            if self.broken:
                raise OSError("no")
            return self.again

    broken, idle, busy = Holder("broken", False, True), Holder("idle", False), Holder("busy", True)
    for holder in (broken, idle, busy):
        memory.on_trim(holder.let_go)
    assert memory.release() is True  # the busy one asks to be asked again
    assert calls == ["broken", "idle", "busy"]
    assert "releasing" in caplog.text
    del busy, holder
    calls.clear()
    assert memory.release() is False
    assert calls == ["broken", "idle"]  # the one nothing else held is gone
