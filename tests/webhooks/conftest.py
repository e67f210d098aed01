"""Webhook tests run with short, bounded retries."""

from __future__ import annotations

import pytest

from keyplane.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_max_attempts": 3,
            "webhook_backoff_seconds": 0.05,
            "webhook_backoff_max_seconds": 0.2,
            "webhook_timeout_seconds": 2.0,
        }
    )
