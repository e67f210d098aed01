"""``GET /v1/models`` across upstreams: what the key may use, in OpenAI's list shape.

With the one upstream of the ``KEYPLANE_UPSTREAM_*`` settings the listing passes through as
it always did, cut to the key's allow-list. With several, each upstream is asked for its
models (Azure's are its deployment map) and a model is listed once, under the upstream
that routing sends it to, when the key may use it. An upstream that does not answer is
left out of the list (and logged) rather than failing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson

from keyplane.errors import BadGatewayError, KeyplaneError
from keyplane.gateway.access import Grant
from keyplane.gateway.http1 import RawHeaders
from keyplane.gateway.upstream import MAX_ANSWER_BYTES, read_whole
from keyplane.gateway.upstreams import Target, Upstreams, model_not_found
from keyplane.upstreams.spec import Provider

logger = logging.getLogger(__name__)

Answer = tuple[int, RawHeaders, bytes]
_JSON = [(b"content-type", b"application/json")]


def _loads(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


def _model(ident: str, owner: str, created: int = 0) -> dict[str, Any]:
    return {"id": ident, "object": "model", "created": created, "owned_by": owner}


def _from_anthropic(item: dict[str, Any]) -> dict[str, Any]:
    created = 0
    with contextlib.suppress(ValueError):
        created = int(datetime.fromisoformat(str(item.get("created_at"))).timestamp())
    return _model(str(item.get("id", "")), "anthropic", created)


class ModelCatalog:
    """Answers the model endpoints for a grant."""

    def __init__(self, upstreams: Upstreams, max_answer_bytes: int = MAX_ANSWER_BYTES) -> None:
        self.upstreams = upstreams
        self.max_answer_bytes = max_answer_bytes

    async def answer(self, grant: Grant, model: str | None, headers: Mapping[str, str]) -> Answer:
        if model is not None and not grant.allows_model(model):
            raise model_not_found(model)
        if self.upstreams.single:
            return await self._passed_through(grant, model, headers)
        if model is not None:
            target = self.upstreams.primary(model)
            listed = await self._listed(target, headers) if target is not None else {}
            if model not in listed:
                raise model_not_found(model)
            return 200, _JSON, orjson.dumps(listed[model])
        listing = await self._merged(grant, headers)
        return 200, _JSON, orjson.dumps({"object": "list", "data": listing})

    async def _passed_through(
        self, grant: Grant, model: str | None, headers: Mapping[str, str]
    ) -> Answer:
        client = self.upstreams.targets[0].client
        path = "/models" if model is None else "/models/" + quote(model, safe="")
        response = await client.send("GET", path, body=None, headers=headers)
        content = await read_whole(response, self.max_answer_bytes)
        if model is None and response.status == 200 and grant.narrows_models:
            content = _only_allowed(content, grant)
        return response.status, response.raw_headers, content

    async def _merged(self, grant: Grant, headers: Mapping[str, str]) -> list[dict[str, Any]]:
        targets = self.upstreams.targets
        listings = await asyncio.gather(*(self._safely(t, headers) for t in targets))
        seen: set[str] = set()
        merged = []
        for target, listing in zip(targets, listings, strict=True):
            for ident, item in listing.items():
                routed = self.upstreams.primary(ident)
                if ident in seen or routed is not target or not grant.allows_model(ident):
                    continue
                seen.add(ident)
                merged.append(item)
        return merged

    async def _safely(self, target: Target, headers: Mapping[str, str]) -> dict[str, Any]:
        try:
            return await self._listed(target, headers)
        except KeyplaneError as error:
            logger.warning("upstream %s did not list its models: %s", target.name, error.code)
            return {}

    async def _listed(self, target: Target, headers: Mapping[str, str]) -> dict[str, Any]:
        """The models of one upstream by id, as OpenAI model objects."""
        if target.provider is Provider.AZURE:
            names = list(target.spec.deployments) or [
                p for p in target.spec.models if not any(c in p for c in "*?[")
            ]
            return {name: _model(name, "azure") for name in names}
        anthropic = target.provider is Provider.ANTHROPIC
        path = "/v1/models?limit=1000" if anthropic else "/models"
        extra = {"anthropic-version": target.spec.anthropic_version} if anthropic else {}
        response = await target.client.send("GET", path, body=None, headers={**headers, **extra})
        content = await read_whole(response, self.max_answer_bytes)
        listing = _loads(content)
        if response.status != 200 or not isinstance(listing, dict):
            status = response.status
            raise BadGatewayError(f"HTTP {status}", code=f"upstream_http_{status}")
        items = [item for item in listing.get("data") or [] if isinstance(item, dict)]
        if anthropic:
            items = [_from_anthropic(item) for item in items]
        return {str(item.get("id")): item for item in items if item.get("id")}


def _anthropic_model(item: dict[str, Any]) -> dict[str, Any]:
    ident = str(item.get("id", ""))
    created = item.get("created")
    moment = datetime.fromtimestamp(created if isinstance(created, int) else 0, UTC)
    return {
        "type": "model",
        "id": ident,
        "display_name": ident,
        "created_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def in_anthropic_shape(content: bytes) -> bytes:
    """An OpenAI model or model list in Anthropic's shape, as the ``anthropic`` SDK reads it."""
    answer = _loads(content)
    if not isinstance(answer, dict):
        return content
    if answer.get("object") != "list":
        return orjson.dumps(_anthropic_model(answer))
    items = [_anthropic_model(i) for i in answer.get("data") or [] if isinstance(i, dict)]
    first, last = (items[0]["id"], items[-1]["id"]) if items else (None, None)
    return orjson.dumps({"data": items, "has_more": False, "first_id": first, "last_id": last})


def _only_allowed(content: bytes, grant: Grant) -> bytes:
    listing = _loads(content)
    if not isinstance(listing, dict) or not isinstance(listing.get("data"), list):
        return content
    listing["data"] = [
        item
        for item in listing["data"]
        if isinstance(item, dict) and grant.allows_model(str(item.get("id", "")))
    ]
    return orjson.dumps(listing)
