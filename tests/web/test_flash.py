"""One-time messages: read once, by their own session only, and not for long."""

from __future__ import annotations

from keyplane.web.flash import FlashStore


def test_a_flash_is_read_once_by_its_session() -> None:
    store = FlashStore()
    flash_id = store.put("session-a", {"value": "secret"})
    assert store.pop("session-b", flash_id) is None
    assert store.pop("session-a", flash_id) == {"value": "secret"}
    assert store.pop("session-a", flash_id) is None


def test_flashes_expire_and_the_store_stays_bounded() -> None:
    store = FlashStore(ttl=0.0)
    expired = store.put("s", {"v": 1})
    assert store.pop("s", expired) is None
    small = FlashStore(max_entries=2)
    first = small.put("s", {"v": 1})
    small.put("s", {"v": 2})
    small.put("s", {"v": 3})
    assert small.pop("s", first) is None
