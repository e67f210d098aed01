"""The dashboard's error pages never echo a secret pasted into a URL: the same redaction as
the API's error envelope (issue #15)."""

from __future__ import annotations

import pytest

from web.conftest import WebClient

SECRETS = (
    "kp_proj_" + "A1b2C3d4E5f6G7h8J9k0L1m2N3p4Q5r6S7" + "WXYZ",
    "kp_admin_" + "z" * 34 + "Tail",
    "sk-proj-" + "q" * 40 + "9876",
)


@pytest.mark.parametrize("secret", SECRETS)
async def test_a_secret_in_a_project_url_is_not_shown_back(owner: WebClient, secret: str) -> None:
    page = await owner.get(f"/projects/{secret}")
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert secret not in page.text
    assert secret[-4:] in page.text  # the redacted form, as the API shows it
    assert "No project with id" in page.text


async def test_a_secret_in_a_key_or_admin_key_url_is_not_shown_back(
    owner: WebClient, project_id: str
) -> None:
    secret = SECRETS[0]
    for path in (f"/projects/{project_id}/keys/{secret}", f"/admin-keys/{secret}/revoke"):
        page = await owner.get(path)
        assert page.status_code == 404, path
        assert secret not in page.text, path
        assert "kp_proj_...WXYZ" in page.text, path
