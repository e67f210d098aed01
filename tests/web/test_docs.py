"""``/docs``: Swagger UI's files come from keyplane itself, so the page works offline."""

from __future__ import annotations

import re

import httpx


async def test_docs_page_loads_swagger_ui_from_this_server_only(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert "cdn" not in page.text.lower() and "validatorUrl" in page.text
    for source in sources:
        asset = await client.get(source)
        assert asset.status_code == 200, source
    script = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert "javascript" in script.headers["content-type"] and len(script.content) > 100_000
