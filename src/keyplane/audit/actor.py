"""The one who acts, as the audit log records it."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Actor:
    """``type`` is ``admin_key``, ``user``, ``system`` or ``leak_report``."""

    type: str
    id: str | None = None
    label: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None

    def at(self, *, ip_address: str | None, user_agent: str | None) -> Actor:
        return replace(self, ip_address=ip_address, user_agent=user_agent)


SYSTEM = Actor(type="system", label="keyplane")
