"""Permission modes, scopes and model allow-lists."""

from __future__ import annotations

import pytest

from keyplane.errors import ValidationFailedError
from keyplane.keys import policy
from keyplane.keys.permissions import (
    SCOPES,
    PermissionMode,
    Permissions,
    model_allowed,
)


@pytest.mark.parametrize(
    ("permissions", "scope", "allowed"),
    [
        (Permissions(), "chat.completions.write", True),
        (Permissions(PermissionMode.READ_ONLY), "models.read", True),
        (Permissions(PermissionMode.READ_ONLY), "chat.completions.write", False),
        (Permissions(PermissionMode.RESTRICTED, ("embeddings.write",)), "embeddings.write", True),
        (Permissions(PermissionMode.RESTRICTED, ("embeddings.write",)), "models.read", False),
    ],
)
def test_if_scope_is_checked_then_mode_decides(
    permissions: Permissions, scope: str, allowed: bool
) -> None:
    assert permissions.allows(scope) is allowed


def test_the_documented_scopes_exist() -> None:
    for scope in (
        "models.read",
        "chat.completions.write",
        "completions.write",
        "embeddings.write",
        "responses.write",
    ):
        assert scope in SCOPES


@pytest.mark.parametrize(
    ("model", "allowed_models", "allowed"),
    [
        ("gpt-4o", [], True),
        ("gpt-4o", ["gpt-4o"], True),
        ("gpt-4o-mini", ["gpt-4o"], False),
        ("gpt-4o-mini", ["gpt-4o*"], True),
        ("o3", ["gpt-*"], False),
    ],
)
def test_model_allow_list(model: str, allowed_models: list[str], allowed: bool) -> None:
    assert model_allowed(model, allowed_models) is allowed


@pytest.mark.parametrize(
    ("mode", "scopes", "param"),
    [
        ("sometimes", [], "permissions.mode"),
        ("restricted", [], "permissions.scopes"),
        ("restricted", ["Admin Everything"], "permissions.scopes"),
        ("restricted", ["x" * 65], "permissions.scopes"),
    ],
)
def test_bad_permissions_name_the_field(mode: str, scopes: list[str], param: str) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        policy.clean_permissions(mode, scopes)
    assert caught.value.param == param


def test_ip_allow_list_is_normalised_and_checked() -> None:
    assert policy.clean_ips(["10.1.2.3/8", "192.0.2.1", "2001:db8::/32"]) == [
        "10.0.0.0/8",
        "192.0.2.1/32",
        "2001:db8::/32",
    ]
    with pytest.raises(ValidationFailedError, match="not an IP"):
        policy.clean_ips(["example.com"])


def test_metadata_limits() -> None:
    with pytest.raises(ValidationFailedError):
        policy.clean_metadata({str(i): "v" for i in range(17)})
    with pytest.raises(ValidationFailedError):
        policy.clean_metadata({"k": "v" * 513})
    assert policy.clean_metadata({"team": "search"}) == {"team": "search"}


def test_teams_can_name_their_own_scopes() -> None:
    permissions = policy.clean_permissions("restricted", ["notes.write", "models.read"])
    assert permissions.allows("notes.write")
    assert not permissions.allows("notes.delete")
    assert permissions.effective_scopes() == ("models.read", "notes.write")
    assert Permissions(PermissionMode.READ_ONLY).allows("notes.read")
