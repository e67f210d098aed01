"""Key owners in OpenAI's shapes, keeping keyplane's own facts as extra fields.

OpenAI's keys belong to a ``user`` or a ``service_account``. keyplane's also belong to admin
keys (keys an admin key made through the API) and to the server itself (bootstrap,
``keyplane init``): both are non-human, so OpenAI's face shows them as service accounts,
while ``keyplane_type`` keeps the precise owner (and ``id`` its id, as before).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from keyplane.keys.format import KeyKind
from keyplane.services.owners import Owners
from keyplane.store.models import ApiKey
from keyplane.values.kinds import OwnerType

SYSTEM_OWNER_ID = "system"


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def project_key_owner(key: ApiKey, owners: Owners) -> dict[str, Any]:
    """``ProjectApiKey.owner``: ``user`` with the person, or ``service_account``."""
    own = {"keyplane_type": key.owner_type.value, "id": key.owner_id}
    if key.owner_type is OwnerType.USER:
        person = owners.people.get(key.owner_id or "")
        user = {
            "id": key.owner_id or "",
            "email": person.user.email if person else "",
            "name": person.user.name if person else "",
            "created_at": unix(person.user.created_at) if person else 0,
            "role": person.role.value if person and person.role else "none",
        }
        return {"type": "user", "user": user, **own}
    return {"type": "service_account", "service_account": _account(key, owners), **own}


def _account(key: ApiKey, owners: Owners) -> dict[str, Any]:
    owner_id = key.owner_id
    if key.owner_type is OwnerType.SERVICE_ACCOUNT and owner_id in owners.accounts:
        account = owners.accounts[owner_id]
        return {
            "id": account.id,
            "name": account.name,
            "created_at": unix(account.created_at),
            "role": account.role,
        }
    if key.owner_type is OwnerType.SERVICE_ACCOUNT:
        # A service-account key made before accounts were rows stands for itself.
        return {
            "id": key.id,
            "name": key.name,
            "created_at": unix(key.created_at),
            "role": "member",
        }
    if key.owner_type is OwnerType.ADMIN_KEY and owner_id in owners.admin_keys:
        admin = owners.admin_keys[owner_id]
        return {
            "id": admin.id,
            "name": f"admin key {admin.redacted_value}",
            "created_at": unix(admin.created_at),
            "role": "owner",
        }
    return {
        "id": owner_id or SYSTEM_OWNER_ID,
        "name": "keyplane",
        "created_at": unix(key.created_at),
        "role": "owner",
    }


def admin_key_owner(key: ApiKey, owners: Owners) -> dict[str, Any]:
    """``AdminApiKey.owner``: the person or (pseudo) service account behind an admin key."""
    assert key.kind is KeyKind.ADMIN
    if key.owner_type is OwnerType.USER:
        owner = project_key_owner(key, owners)
        return {
            "object": "organization.user",
            **owner["user"],
            "type": "user",
            "keyplane_type": owner["keyplane_type"],
        }
    account = _account(key, owners)
    return {
        "type": "service_account",
        "object": "organization.service_account",
        **account,
        "keyplane_type": key.owner_type.value,
    }
