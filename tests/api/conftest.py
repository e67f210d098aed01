"""Every answer the admin API gives in these tests is checked against OpenAI's spec."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from support.openai_spec import check_async_response


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The plain test client, validating each answer of an OpenAI-defined operation."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://keyplane.test",
        event_hooks={"response": [check_async_response]},
    ) as http:
        yield http
