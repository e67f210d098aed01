"""Usage results read back through the admin API, whatever day boundary a test run crossed."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import httpx

from support.server import ServerProcess


def summed(results: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One result out of the same group's results in several buckets: counts added, labels kept.

    A report's buckets are days by default, so calls made just before midnight UTC and read
    just after are in two results; a test that reads only the first misses the rest."""
    total: dict[str, Any] = {}
    for result in results:
        for name, value in result.items():
            if isinstance(value, int) and not isinstance(value, bool):
                total[name] = total.get(name, 0) + value
            else:
                total.setdefault(name, value)
    return total


def admin_json(server: ServerProcess, path: str, **params: Any) -> Any:
    """A read of the admin API (``path`` under ``/v1/organization``) as the server's admin."""
    response = httpx.get(
        f"{server.url}/v1/organization/{path}",
        params=params,
        headers={"Authorization": f"Bearer {server.admin_key}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def key_usage(server: ServerProcess, key_id: str, expected_requests: int) -> dict[str, Any]:
    """The key's completions usage, summed over the days it spans, once ``expected_requests``
    are flushed."""
    deadline = time.monotonic() + 10
    while True:
        answer = admin_json(
            server, "usage/completions", start_time=int(time.time()) - 3600, api_key_ids=key_id
        )
        result = summed(r for bucket in answer["data"] for r in bucket["results"])
        if result.get("num_model_requests", 0) >= expected_requests:
            return result
        assert time.monotonic() < deadline, f"usage not flushed: {answer}"
        time.sleep(0.1)
