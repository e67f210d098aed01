"""No budget is bypassed by a model's name: unpriced models are refused under a budget unless
the operator sets a default price; calls are priced at the service tier upstream served."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from gateway.conftest import (
    create_key,
    create_project,
    gateway_process,
    settled_budget,
    upstream_log,
    verify_key,
)
from keyplane.testing import UpstreamProcess
from support.server import ServerProcess, server_env

UNPRICED = "o9-unlisted-preview"
BUDGET = {"limit_usd": 1.0, "period": "day"}
USAGE = {"x-test-usage": "prompt=1000,completion=100"}


def sdk(server: ServerProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30)


def chat(server: ServerProcess, key: str, model: str, body: dict[str, str] | None = None) -> None:
    sdk(server, key).chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "hi"}],
        max_tokens=100,
        extra_headers=USAGE,
        extra_body=body,
    )


def test_if_a_key_has_a_budget_then_an_unpriced_model_is_refused_naming_it_and_the_fix(
    gateway: ServerProcess, upstream: UpstreamProcess
) -> None:
    key = create_key(gateway, budget=BUDGET)
    before = len(upstream_log(upstream))
    with pytest.raises(openai.PermissionDeniedError) as refused:
        chat(gateway, key, UNPRICED)
    assert refused.value.code == "model_not_priced"
    assert UNPRICED in refused.value.message
    assert "KEYPLANE_PRICES_FILE" in refused.value.message
    assert len(upstream_log(upstream)) == before  # never forwarded
    assert settled_budget(gateway, key)["spent_micro_usd"] == 0


def test_if_a_project_has_a_budget_then_its_keys_cannot_use_unpriced_models(
    gateway: ServerProcess,
) -> None:
    project_id = create_project(gateway, budget=BUDGET)
    key = create_key(gateway, project_id)
    with pytest.raises(openai.PermissionDeniedError, match=UNPRICED):
        chat(gateway, key, UNPRICED)
    chat(gateway, key, "gpt-4o-mini")  # a priced model goes through


def test_if_no_budget_applies_then_an_unpriced_model_goes_through_counted_as_unpriced(
    gateway: ServerProcess,
) -> None:
    key = create_key(gateway)
    chat(gateway, key, UNPRICED)
    result = _bucket(gateway, verify_key(gateway, key)["key_id"])
    assert result["unpriced_requests"] == 1
    assert result["cost_micro_usd"] == 0


@pytest.fixture(scope="module")
def default_priced(
    tmp_path_factory: pytest.TempPathFactory, upstream: UpstreamProcess
) -> Iterator[ServerProcess]:
    """A gateway whose operator prices unlisted models at $2.50 / $10 per 1M tokens."""
    process = gateway_process(
        tmp_path_factory.mktemp("default-price"),
        upstream,
        KEYPLANE_DEFAULT_PRICE="2.50/10",
        KEYPLANE_USAGE_FLUSH_SECONDS="0.2",
    )
    process.start()
    yield process
    process.stop()


def test_with_a_default_price_an_unpriced_model_is_admitted_and_charged(
    default_priced: ServerProcess,
) -> None:
    key = create_key(default_priced, budget=BUDGET)
    chat(default_priced, key, UNPRICED)
    expected = 1000 * 2_500_000 // 1_000_000 + 100 * 10_000_000 // 1_000_000  # 2500 + 1000
    assert settled_budget(default_priced, key)["spent_micro_usd"] == expected
    result = _bucket(default_priced, verify_key(default_priced, key)["key_id"])
    assert result["cost_micro_usd"] == expected
    assert result["unpriced_requests"] == 1  # not in the table: priced by the default


def test_a_call_is_recorded_and_charged_at_the_service_tier_upstream_served(
    gateway: ServerProcess,
) -> None:
    key = create_key(gateway, budget=BUDGET)
    chat(gateway, key, "gpt-5", {"service_tier": "flex"})
    # gpt-5 at flex: $0.625 / $5 per 1M tokens
    expected = 1000 * 625_000 // 1_000_000 + 100 * 5_000_000 // 1_000_000
    assert settled_budget(gateway, key)["spent_micro_usd"] == expected
    result = _bucket(gateway, verify_key(gateway, key)["key_id"])
    assert result["service_tier"] == "flex"
    assert result["cost_micro_usd"] == expected


def test_reasoning_tokens_are_recorded_and_charged_as_output(gateway: ServerProcess) -> None:
    key = create_key(gateway)
    sdk(gateway, key).chat.completions.create(
        model="o3",
        messages=[{"role": "user", "content": "think"}],
        extra_headers={"x-test-usage": "prompt=10,completion=50,reasoning=40"},
    )
    result = _bucket(gateway, verify_key(gateway, key)["key_id"])
    assert (result["output_tokens"], result["reasoning_tokens"]) == (50, 40)
    assert result["cost_micro_usd"] == -(-(10 * 2_000_000 + 50 * 8_000_000) // 1_000_000)


def _bucket(server: ServerProcess, key_id: str) -> dict[str, object]:
    """The key's one usage row, read from the database once the meter wrote it."""
    database: Path = server.workdir / ".keyplane" / "keyplane.db"
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(database) as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM usage_buckets WHERE api_key_id = ?", (key_id,))
            found = row.fetchone()
        if found is not None:
            return dict(found)
        assert time.monotonic() < deadline, "usage was not flushed"
        time.sleep(0.1)


def test_token_kinds_keyplane_has_no_column_for_are_kept_per_bucket(gateway: ServerProcess) -> None:
    key = create_key(gateway)
    for _ in range(2):
        sdk(gateway, key).chat.completions.create(
            model="gpt-4o-audio-preview",
            messages=[{"role": "user", "content": "say it"}],
            extra_headers={"x-test-usage": "prompt=10,completion=30,audio=12"},
        )
    key_id = verify_key(gateway, key)["key_id"]
    database = gateway.workdir / ".keyplane" / "keyplane.db"
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(database) as db:
            rows = db.execute(
                "SELECT kind, SUM(tokens) FROM usage_token_kinds WHERE api_key_id = ? "
                "GROUP BY kind",
                (key_id,),
            ).fetchall()
        # Both calls, not the first flush: the two may be written in separate flushes.
        if sum(tokens for _, tokens in rows) >= 24 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert rows == [("completion_tokens_details.audio_tokens", 24)]


def test_a_malformed_default_price_stops_serve_with_one_line_saying_the_format(
    tmp_path: Path,
) -> None:
    env = server_env(tmp_path, KEYPLANE_DEFAULT_PRICE="$2/$10")
    done = subprocess.run(
        [sys.executable, "-m", "keyplane", "serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: bad setting KEYPLANE_DEFAULT_PRICE: Value error, write USD per 1M tokens as "
        "INPUT/OUTPUT or INPUT/OUTPUT/CACHED_INPUT, for example 2.50/10 or 2.50/10/1.25"
    ]
