"""OpenAI's published OpenAPI spec as a validator of keyplane's answers.

``assert_matches_spec(method, path, status, body)`` finds the operation OpenAI's spec defines
for ``method`` and ``path`` (``/v1/...``, as keyplane serves it) and validates ``body`` against
the schema of that operation's answer for ``status`` (draft 2020-12, ``$ref``s resolved with
``referencing``). Paths OpenAI does not define are not checked (``operation_of`` says None).

The spec still carries OpenAPI 3.0 ``nullable: true`` keywords that 3.1 ignores; they are read
as "null is allowed", as the spec's notes say (``../shared/openai/README.md``).
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# The team's copy beside the project when it is there, else the one vendored with the tests
# (the same file, gzipped: data/README.md says where it comes from).
SPEC_PATH = Path(__file__).resolve().parents[2] / ".." / "shared" / "openai" / "openapi.yaml"
VENDORED_SPEC = Path(__file__).resolve().parent / "data" / "openai-openapi.yaml.gz"
_ROOT = "urn:openai-openapi"
_CLIENT_ERRORS = ("400", "401", "403", "404", "409", "422", "429")


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    operation_id: str
    responses: dict[str, Any]


class SpecMismatchError(AssertionError):
    """An answer that OpenAI's spec says is the wrong shape."""


def _nullable(node: Any) -> Any:
    """Rewrite ``nullable: true`` (OpenAPI 3.0) into JSON Schema's own ``null``."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


@functools.cache
def _spec() -> dict[str, Any]:
    path = SPEC_PATH.resolve()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    if path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        with gzip.open(VENDORED_SPEC, "rt", encoding="utf-8") as file:
            text = file.read()
    spec: dict[str, Any] = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    return {"paths": spec["paths"], "components": _nullable(spec["components"])}


@functools.cache
def _registry() -> Registry[Any]:
    resource = Resource.from_contents(
        {"components": _spec()["components"]}, default_specification=DRAFT202012
    )
    registry: Registry[Any] = Registry().with_resource(_ROOT, resource)
    return registry


@functools.cache
def _templates() -> tuple[tuple[re.Pattern[str], str], ...]:
    found = []
    for template in _spec()["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        found.append((re.compile(f"^{pattern}$"), template))
    # Literal segments before placeholders: ``/users/{id}`` must not shadow ``/users/me``.
    return tuple(sorted(found, key=lambda item: item[1].count("{")))


def operation_of(method: str, path: str) -> Operation | None:
    """OpenAI's operation for a keyplane path (``/v1/organization/...``), if it has one."""
    relative = path.removeprefix("/v1")
    for pattern, template in _templates():
        if pattern.match(relative):
            operation = _spec()["paths"][template].get(method.lower())
            if operation is None:
                return None
            return Operation(
                method.upper(), template, operation["operationId"], operation["responses"]
            )
    return None


def _schema_for(operation: Operation, status: int) -> dict[str, Any] | None:
    answer = operation.responses.get(str(status))
    if answer is None:
        return None
    if "$ref" in answer:  # a shared response, e.g. #/components/responses/TooManyRequests
        name = answer["$ref"].rsplit("/", 1)[-1]
        answer = _spec()["components"]["responses"][name]
    content = answer.get("content", {}).get("application/json", {})
    schema = content.get("schema")
    return None if schema is None else _rooted(schema)


def _rooted(node: Any) -> Any:
    """Point the spec's local ``$ref``s at the registry's copy of its components."""
    if isinstance(node, list):
        return [_rooted(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: f"{_ROOT}{value}" if key == "$ref" and isinstance(value, str) else _rooted(value)
        for key, value in node.items()
    }


def assert_matches_spec(method: str, path: str, status: int, body: Any) -> Operation | None:
    """Validate an answer of an OpenAI-defined operation; None for paths the spec lacks.

    A 2xx must be one the operation lists; an error answer is checked against the
    operation's own error schema, or OpenAI's ``ErrorResponse`` when it lists none.
    """
    operation = operation_of(method, path)
    if operation is None:
        return None
    schema = _schema_for(operation, status)
    if schema is None:
        if 200 <= status < 300:
            listed = sorted(operation.responses)
            raise SpecMismatchError(
                f"{method} {path} answered {status}; {operation.operation_id} answers {listed}"
            )
        schema = {"$ref": f"{_ROOT}#/components/schemas/ErrorResponse"}
    validator = Draft202012Validator(schema, registry=_registry())
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(part) for part in first.absolute_path) or "(root)"
        raise SpecMismatchError(
            f"{method} {path} -> {status} does not match {operation.operation_id} "
            f"at {where}: {first.message[:400]}"
        )
    return operation


def check_response(response: httpx.Response) -> None:
    """Validate one ``httpx`` answer, for an event hook on a test client."""
    if response.headers.get("content-type", "").startswith("application/json"):
        body = json.loads(response.content) if response.content else None
        assert_matches_spec(
            response.request.method, response.request.url.path, response.status_code, body
        )


async def check_async_response(response: httpx.Response) -> None:
    """``check_response`` for an ``httpx.AsyncClient``: read the body, then validate it."""
    await response.aread()
    check_response(response)
