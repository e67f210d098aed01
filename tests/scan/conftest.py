"""Fixtures for scanner tests: a throwaway git repository with a fixed identity."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from scan.scan_fakes import Repo


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user git config, no KEYPLANE_* settings, a fixed git identity."""
    for name in ("KEYPLANE_ADMIN_KEY", "KEYPLANE_URL", "KEYPLANE_KEY_BRAND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")
        monkeypatch.setenv(f"GIT_{role}_DATE", "2026-01-01T00:00:00Z")


@pytest.fixture
def repo(tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """An empty repository on branch main, also the working directory."""
    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["git", "-c", "init.defaultBranch=main", "init", "-q", str(root)], check=True)
    monkeypatch.chdir(root)
    return Repo(root)


@pytest.fixture
def plain_dir(tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory outside any git repository, also the working directory."""
    root = tmp_path / "plain"
    root.mkdir()
    monkeypatch.chdir(root)
    return root
