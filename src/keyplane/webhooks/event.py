"""One webhook event: its id stays the same across retries, so receivers can de-duplicate."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from keyplane.store.ids import new_id


@dataclass(frozen=True)
class WebhookEvent:
    organization_id: str
    type: str
    data: dict[str, Any]
    created_at: datetime
    id: str = field(default_factory=lambda: new_id("evt"))

    def body(self) -> bytes:
        """The JSON body: ``{"id", "type", "created_at" (unix seconds), "data"}``."""
        payload = {
            "id": self.id,
            "type": self.type,
            "created_at": int(self.created_at.timestamp()),
            "data": self.data,
        }
        return json.dumps(payload, separators=(",", ":"), default=str).encode("utf-8")
