"""Fuzzing the admin API of a real server from its own ``/openapi.json`` (schemathesis):
no answer is a 5xx, and documented answers match their schemas. Bounded: a dozen cases per
operation, a few hundred in all, well under two minutes. Derandomized, so CI runs the same
cases each time and a failure reproduces; run with ``derandomize=False`` to explore."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from leaks.signer import GithubSigner, write_keys_file
from support.server import ServerProcess, server_env

CASES_PER_OPERATION = 12


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with every feature configured, so a 5xx can only be a fault."""
    workdir = tmp_path_factory.mktemp("fuzzed")
    keys = write_keys_file(workdir / "github-keys.json", GithubSigner(key_identifier="fuzz"))
    server = ServerProcess(
        workdir=workdir, env=server_env(workdir, KEYPLANE_GITHUB_SCANNING_KEYS=str(keys))
    )
    server.init()
    server.start()
    yield server
    server.stop()


@pytest.mark.slow
def test_if_admin_api_is_fuzzed_then_no_5xx_and_answers_match_the_schema(
    fuzzed: ServerProcess,
) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json")
    headers = {"Authorization": f"Bearer {fuzzed.admin_key}"}
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), "the schema is valid"
        operations.append(result.ok())
    assert len(operations) > 20, "the schema describes the admin API"
    calls = 0
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=CASES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def fuzz(case: schemathesis.Case[Any]) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(
                base_url=fuzzed.url,
                headers=headers,
                checks=[not_a_server_error, response_schema_conformance],
            )

        fuzz()
    assert calls >= len(operations)
    # The fuzzer called every DELETE too: the admin key it used must still work.
    still = httpx.get(f"{fuzzed.url}/v1/organization/projects", headers=headers, timeout=10)
    assert still.status_code == 200


# What the fuzzer found, kept as plain regression tests.
async def test_if_an_audit_log_time_is_past_year_9999_then_422_not_500(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(
        "/v1/organization/audit_logs",
        params={"effective_at[lt]": "474622268693364539392"},
        headers=admin_headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"] == "effective_at[lt]"
