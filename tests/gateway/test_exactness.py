"""Exact metering: concurrent calls with known token counts, across a graceful restart."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import openai
import pytest

from gateway.conftest import UPSTREAM_KEY, create_key, gateway_process
from keyplane.testing import UpstreamProcess, expected_usage
from keyplane.usage.prices import PriceTable
from support.server import ServerProcess

CALLS = 240
MODELS = ("gpt-4o-mini", "gpt-4o-2024-08-06", "unknown-model-x")
Row = tuple[str, str, str]  # key id, model, endpoint


def _plan(keys: list[tuple[str, str]], seed: int = 7) -> list[dict[str, Any]]:
    """Calls with known token counts: chat and responses, streamed or not, and embeddings."""
    rng = random.Random(seed)
    plan = []
    for number in range(CALLS):
        key_id, secret = keys[number % len(keys)]
        model = MODELS[number % len(MODELS)]
        words = " ".join(["w"] * rng.randint(1, 30))
        kind = ("chat", "chat_stream", "responses_stream", "embeddings")[number % 4]
        plan.append(
            {"key_id": key_id, "secret": secret, "model": model, "kind": kind, "words": words}
        )
    return plan


async def _call(url: str, item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    sdk = openai.AsyncOpenAI(base_url=url, api_key=item["secret"], max_retries=0)
    model, words, kind = item["model"], item["words"], item["kind"]
    try:
        if kind.startswith("chat"):
            body = {
                "model": model,
                "messages": [{"role": "user", "content": words}],
                "max_tokens": len(words) % 9 + 1,
            }
            if kind == "chat_stream":
                async for _ in await sdk.chat.completions.create(**body, stream=True):
                    pass
            else:
                await sdk.chat.completions.create(**body)
            return "chat.completions", body
        if kind == "responses_stream":
            body = {"model": model, "input": words, "max_output_tokens": 5}
            async for _ in await sdk.responses.create(**body, stream=True):
                pass
            return "responses", body
        body = {"model": model, "input": words}
        await sdk.embeddings.create(**body)
        return "embeddings", body
    finally:
        await sdk.close()


async def _with_retries(url: str, item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # Refused connections during the restart never reached keyplane: retrying is safe.
    for _ in range(300):
        try:
            return await _call(url, item)
        except openai.APIConnectionError:
            await asyncio.sleep(0.05)
    raise AssertionError("keyplane did not come back")


def _stored(database: Path) -> dict[Row, tuple[int, ...]]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT api_key_id, model, endpoint, SUM(requests), SUM(error_requests),"
            " SUM(input_tokens), SUM(output_tokens), SUM(cost_micro_usd),"
            " SUM(unpriced_requests) FROM usage_buckets GROUP BY api_key_id, model, endpoint"
        ).fetchall()
    return {(r[0], r[1], r[2]): tuple(r[3:]) for r in rows}


def _expected(done: list[tuple[dict[str, Any], str, dict[str, Any]]]) -> dict[Row, tuple[int, ...]]:
    prices = PriceTable.load()
    sums: dict[Row, Counter[str]] = {}
    for item, endpoint, body in done:
        kind = {"chat.completions": "chat"}.get(endpoint, endpoint)
        counts = expected_usage(kind, body)  # type: ignore[arg-type]
        price = prices.price(item["model"])
        total = sums.setdefault((item["key_id"], item["model"], endpoint), Counter())
        total["requests"] += 1
        total["input"] += counts.prompt
        total["output"] += counts.completion
        if price is None:
            total["unpriced"] += 1
        else:
            total["cost"] += price.cost(
                input_tokens=counts.prompt, cached_tokens=0, output_tokens=counts.completion
            )
    return {
        row: (c["requests"], 0, c["input"], c["output"], c["cost"], c["unpriced"])
        for row, c in sums.items()
    }


@pytest.mark.slow
async def test_usage_is_exact_across_a_graceful_restart(
    tmp_path: Path, upstream: UpstreamProcess
) -> None:
    server = gateway_process(tmp_path, upstream, KEYPLANE_USAGE_FLUSH_SECONDS="30")
    server.start()
    try:
        keys = []
        for _ in range(3):
            secret = create_key(server)
            keys.append((_key_id(server, secret), secret))
        plan = _plan(keys)
        url = f"{server.url}/v1"
        semaphore = asyncio.Semaphore(24)
        done: list[tuple[dict[str, Any], str, dict[str, Any]]] = []

        async def run(item: dict[str, Any]) -> None:
            async with semaphore:
                endpoint, body = await _with_retries(url, item)
                done.append((item, endpoint, body))
                if len(done) == CALLS // 2:
                    threading.Thread(target=_restart, args=(server,)).start()

        await asyncio.gather(*(run(item) for item in plan))
        server.stop()  # graceful: flushes what the second process metered
        assert len(done) == CALLS
        assert _stored(server.workdir / ".keyplane" / "keyplane.db") == _expected(done)
        log = server.log_path.read_text()
        assert "Shutting down" in log
        assert not any(secret in log for _, secret in keys)
        assert UPSTREAM_KEY not in log
    finally:
        server.stop()


def _restart(server: ServerProcess) -> None:
    server.stop()
    server.start()


def _key_id(server: ServerProcess, secret: str) -> str:
    import httpx

    response = httpx.post(
        f"{server.url}/v1/keys/verify",
        json={"key": secret},
        headers={"Authorization": f"Bearer {server.admin_key}"},
    )
    key_id: str = response.json()["key_id"]
    return key_id
