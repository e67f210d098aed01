"""Routing by model across upstreams, fallbacks, Azure's URL shape and /v1/models, with the
official ``openai`` SDK against a real keyplane."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from gateway.upstreams.conftest import (
    AZURE_VERSION,
    PROVIDER_KEYS,
    Key,
    Upstreams,
    forget_requests,
    new_key,
    requests_to,
    usage_of,
)
from support.server import ServerProcess

HI: list[Any] = [{"role": "user", "content": "hi"}]


def sdk(server: ServerProcess, key: Key) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key.value, max_retries=0)


def test_a_model_no_upstream_serves_is_a_404_model_not_found(multi: ServerProcess) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        sdk(multi, new_key(multi)).chat.completions.create(model="llama-3-70b", messages=HI)
    assert raised.value.code == "model_not_found"
    assert usage_of(multi, new_key(multi), 0) == {}


def test_an_azure_model_goes_to_its_deployment_with_api_version_and_api_key(
    multi: ServerProcess, stand_ins: Upstreams
) -> None:
    key = new_key(multi)
    answer = sdk(multi, key).chat.completions.create(model="az-gpt-4o", messages=HI, max_tokens=3)
    assert answer.usage is not None and answer.usage.completion_tokens == 3
    sent = requests_to(stand_ins.azure)[-1]
    assert sent["path"] == "/openai/deployments/prod-4o/chat/completions"
    assert sent["query"] == f"api-version={AZURE_VERSION}" and sent["auth"] == "valid"
    embedded = sdk(multi, key).embeddings.create(model="az-embed", input="three more words")
    assert embedded.usage.prompt_tokens == 3
    assert requests_to(stand_ins.azure)[-1]["path"] == "/openai/deployments/az-embed/embeddings"
    metered = usage_of(multi, key, 2)
    assert metered[("azure", "az-gpt-4o")]["output_tokens"] == 3
    assert metered[("azure", "az-embed")]["input_tokens"] == 3


def test_a_streamed_azure_call_is_metered_from_its_usage_chunk(multi: ServerProcess) -> None:
    key = new_key(multi)
    stream = sdk(multi, key).chat.completions.create(
        model="az-gpt-4o", messages=HI, max_tokens=4, stream=True
    )
    chunks = list(stream)
    assert all(chunk.usage is None for chunk in chunks)  # the client did not ask for it
    assert usage_of(multi, key, 1)[("azure", "az-gpt-4o")]["output_tokens"] == 4


@pytest.mark.parametrize(
    ("model", "failing", "stream"),
    [("flaky-1", "down", False), ("busy-1", "busy", False), ("flaky-2", "down", True)],
)
def test_a_5xx_or_429_answer_falls_back_and_every_attempt_is_metered(
    multi: ServerProcess, stand_ins: Upstreams, model: str, failing: str, stream: bool
) -> None:
    key = new_key(multi)
    if stream:
        chunks = list(
            sdk(multi, key).chat.completions.create(
                model=model, messages=HI, max_tokens=2, stream=True
            )
        )
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        answer = sdk(multi, key).chat.completions.create(model=model, messages=HI, max_tokens=2)
        assert answer.model == model and answer.usage is not None
    metered = usage_of(multi, key, 2)
    assert set(metered) == {(failing, model), ("openai", model)}
    failed = metered[(failing, model)]
    assert (failed["num_model_requests"], failed["num_error_requests"]) == (1, 1)
    assert (failed["input_tokens"], failed["cost_micro_usd"]) == (0, 0)
    served = metered[("openai", model)]
    assert (served["num_error_requests"], served["output_tokens"]) == (0, 2)


def test_an_upstream_that_cannot_be_reached_falls_back_unmetered(multi: ServerProcess) -> None:
    key = new_key(multi)
    answer = sdk(multi, key).chat.completions.create(model="gone-1", messages=HI, max_tokens=2)
    assert answer.usage is not None and answer.usage.completion_tokens == 2
    assert set(usage_of(multi, key, 1)) == {("openai", "gone-1")}


def test_a_4xx_answer_does_not_fall_back(multi: ServerProcess, stand_ins: Upstreams) -> None:
    key = new_key(multi)
    forget_requests(stand_ins.openai)
    with pytest.raises(openai.APIStatusError) as raised:
        sdk(multi, key).chat.completions.create(model="picky-1", messages=HI)
    assert raised.value.status_code in (401, 502)  # the upstream refused keyplane's own key
    sent = requests_to(stand_ins.openai)
    assert [entry["auth"] for entry in sent] == ["invalid"]  # tried once, never the fallback
    assert set(usage_of(multi, key, 1)) == {("picky", "picky-1")}


def test_models_lists_what_the_key_may_use_across_upstreams(multi: ServerProcess) -> None:
    everything = {model.id for model in sdk(multi, new_key(multi)).models.list()}
    assert {"gpt-4o", "text-embedding-3-small", "claude-haiku-4-5-20251001", "az-gpt-4o"} <= (
        everything
    )
    claude_only = sdk(multi, new_key(multi, allowed_models=["claude-*"]))
    listed = {model.id for model in claude_only.models.list()}
    assert listed and all(model.startswith("claude-") for model in listed)
    assert claude_only.models.retrieve("claude-haiku-4-5-20251001").owned_by == "anthropic"
    with pytest.raises(openai.NotFoundError):
        claude_only.models.retrieve("gpt-4o")


def test_provider_keys_never_reach_a_log_or_an_answer(
    multi: ServerProcess, stand_ins: Upstreams
) -> None:
    key = new_key(multi)
    listing = sdk(multi, key).models.with_raw_response.list()
    listed = multi.keyplane("upstreams", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    log = multi.log_path.read_text()
    assert "upstream claude (anthropic)" in log and "key=${TEST_ANTHROPIC_KEY} (set)" in log
    for secret in PROVIDER_KEYS:
        assert secret not in log and secret not in listed.stdout
        assert secret not in listing.text and secret not in str(listing.headers)
    assert key.value not in str(requests_to(stand_ins.openai))  # nor keyplane's key upstream


def test_azure_responses_name_the_deployment_in_the_body(
    multi: ServerProcess, stand_ins: Upstreams
) -> None:
    key = new_key(multi)
    answer = sdk(multi, key).responses.create(model="az-gpt-4o", input="hi", max_output_tokens=3)
    assert answer.usage is not None and answer.usage.output_tokens == 3
    sent = requests_to(stand_ins.azure)[-1]
    assert (sent["path"], sent["body"]["model"]) == ("/openai/responses", "prod-4o")
    assert usage_of(multi, key, 1)[("azure", "az-gpt-4o")]["output_tokens"] == 3


def test_costs_name_model_and_provider_and_the_cli_groups_by_provider(
    multi: ServerProcess,
) -> None:
    import json
    import time

    import anthropic
    import httpx

    project = httpx.post(
        f"{multi.url}/v1/organization/projects",
        json={"name": "by provider"},
        headers={"Authorization": f"Bearer {multi.admin_key}"},
        timeout=10,
    ).json()["id"]
    key = new_key(multi, project_id=project)
    sdk(multi, key).chat.completions.create(model="gpt-4o", messages=HI, max_tokens=2)
    claude = anthropic.Anthropic(base_url=multi.url, api_key=key.value, max_retries=0)
    claude.messages.create(model="claude-haiku-4-5", max_tokens=2, messages=HI)
    usage_of(multi, key, 2)
    costs = httpx.get(
        f"{multi.url}/v1/organization/costs",
        params={
            "start_time": int(time.time()) - 86400,
            "project_ids": project,
            "group_by": ["line_item", "provider"],
        },
        headers={"Authorization": f"Bearer {multi.admin_key}"},
        timeout=10,
    ).json()
    items = {(r["line_item"], r["provider"]) for b in costs["data"] for r in b["results"]}
    assert items == {("gpt-4o (openai)", "openai"), ("claude-haiku-4-5 (claude)", "claude")}
    done = multi.keyplane("usage", "--group-by", "provider", "--since", "1d", "--json")
    assert done.returncode == 0, done.stderr
    providers = {row["provider"] for row in json.loads(done.stdout)["rows"]}
    assert {"openai", "claude"} <= providers
