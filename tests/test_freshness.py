"""Values kept a short while: served from memory while fresh, reloaded in the background in
their last part so steady callers never wait, waited for (once, shared) only when stale."""

from __future__ import annotations

import asyncio
import logging

import pytest

from keyplane.freshness import RefreshAhead


class Ticks:
    """Monotonic time a test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Store:
    """Counts loads; each load answers the current ``value``, or waits for ``gate``."""

    def __init__(self) -> None:
        self.value = "v1"
        self.loads = 0
        self.gate: asyncio.Event | None = None
        self.error: Exception | None = None

    async def load(self) -> str:
        self.loads += 1
        value = self.value
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return value


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_fresh_value_is_served_without_loading_again() -> None:
    ticks, store = Ticks(), Store()
    values: RefreshAhead[str, str] = RefreshAhead(1.0, monotonic=ticks)
    assert await values.get("k", store.load) == "v1"
    ticks.now = 0.5
    store.value = "v2"
    assert await values.get("k", store.load) == "v1"
    assert store.loads == 1


async def test_near_its_end_a_value_is_reloaded_in_the_background_while_callers_get_it() -> None:
    ticks, store = Ticks(), Store()
    values: RefreshAhead[str, str] = RefreshAhead(1.0, ahead=0.2, monotonic=ticks)
    await values.get("k", store.load)
    store.value, store.gate = "v2", asyncio.Event()
    ticks.now = 0.85
    # The reload is held at the store: callers still get the value in hand, and one reload runs.
    assert [await values.get("k", store.load) for _ in range(3)] == ["v1", "v1", "v1"]
    await _settle()
    assert store.loads == 2
    store.gate.set()
    await _settle()
    assert await values.get("k", store.load) == "v2"


async def test_a_stale_value_is_waited_for_and_callers_share_one_load() -> None:
    ticks, store = Ticks(), Store()
    values: RefreshAhead[str, str] = RefreshAhead(1.0, monotonic=ticks)
    await values.get("k", store.load)
    store.value, store.gate = "v2", asyncio.Event()
    ticks.now = 1.0  # stale: nobody may be served v1 any more
    waiting = [asyncio.create_task(values.get("k", store.load)) for _ in range(10)]
    await _settle()
    assert not any(task.done() for task in waiting)
    store.gate.set()
    assert await asyncio.gather(*waiting) == ["v2"] * 10
    assert store.loads == 2


async def test_freshness_counts_from_when_the_load_started() -> None:
    ticks, store = Ticks(), Store()
    values: RefreshAhead[str, str] = RefreshAhead(1.0, monotonic=ticks)
    store.gate = asyncio.Event()
    loading = asyncio.create_task(values.get("k", store.load))
    await _settle()
    ticks.now = 0.6  # the store took 0.6 s to answer what it read at 0
    store.gate.set()
    await loading
    store.gate = None
    ticks.now = 1.0
    store.value = "v2"
    assert await values.get("k", store.load) == "v2"  # 1 s after the read, not after the answer


async def test_a_forgotten_key_is_not_brought_back_by_a_load_that_started_before() -> None:
    ticks, store = Ticks(), Store()
    values: RefreshAhead[str, str] = RefreshAhead(1.0, monotonic=ticks)
    await values.get("k", store.load)
    store.gate = asyncio.Event()
    ticks.now = 0.9
    assert await values.get("k", store.load) == "v1"  # starts a reload, which reads "v1"
    await _settle()
    store.value = "revoked"
    values.forget("k")
    store.gate.set()
    await _settle()
    store.gate = None
    assert await values.get("k", store.load) == "revoked"


async def test_after_forget_callers_do_not_wait_for_a_load_that_started_before() -> None:
    store = Store()
    values: RefreshAhead[str, str] = RefreshAhead(1.0, monotonic=Ticks())
    store.gate = asyncio.Event()
    early = asyncio.create_task(values.get("k", store.load))  # reads "v1", held at the store
    await _settle()
    store.value = "revoked"
    values.forget("k")
    late = asyncio.create_task(values.get("k", store.load))
    await _settle()
    store.gate.set()
    assert await early == "v1"
    assert await late == "revoked"
    assert values.last("k", None) == "revoked"


async def test_a_failed_background_reload_keeps_the_value_until_stale_then_callers_see_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticks, store = Ticks(), Store()
    values: RefreshAhead[str, str] = RefreshAhead(1.0, monotonic=ticks)
    await values.get("k", store.load)
    store.error = OSError("store away")
    ticks.now = 0.9
    with caplog.at_level(logging.WARNING):
        assert await values.get("k", store.load) == "v1"
        await _settle()
    assert "background reload failed: OSError" in caplog.text
    assert "store away" not in caplog.text
    ticks.now = 1.0
    with pytest.raises(OSError, match="store away"):
        await values.get("k", store.load)
    assert values.last("k", None) == "v1"
    assert values.last("other", None) is None


async def test_with_no_ttl_every_call_loads() -> None:
    store = Store()
    values: RefreshAhead[str, str] = RefreshAhead(0.0, monotonic=Ticks())
    for _ in range(3):
        await values.get("k", store.load)
    assert store.loads == 3


async def test_past_max_entries_the_oldest_goes_first() -> None:
    store = Store()
    values: RefreshAhead[str, str] = RefreshAhead(1.0, max_entries=2, monotonic=Ticks())
    for key in ("a", "b", "c"):
        await values.get(key, store.load)
    assert values.last("a", None) is None
    assert values.last("b", None) == values.last("c", None) == "v1"
