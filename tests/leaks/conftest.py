"""Leak report tests: the app trusts a key pair made here, as operators trust GitHub's."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyplane.config import Settings
from leaks.signer import GithubSigner, write_keys_file


@pytest.fixture(scope="session")
def github() -> GithubSigner:
    return GithubSigner(
        key_identifier="90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a"
    )


@pytest.fixture(scope="session")
def retired_github() -> GithubSigner:
    """A second trusted key, not current: GitHub may still sign with it while rotating."""
    return GithubSigner(
        key_identifier="bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c"
    )


@pytest.fixture
def settings(
    settings: Settings, tmp_path: Path, github: GithubSigner, retired_github: GithubSigner
) -> Settings:
    keys = write_keys_file(tmp_path / "github-keys.json", github, retired_github)
    return settings.model_copy(
        update={"github_scanning_keys": keys, "webhook_backoff_seconds": 0.05}
    )
