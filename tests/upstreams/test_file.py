"""The upstreams file: what it accepts, and the one line that names what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyplane.config import Settings
from keyplane.upstreams.file import UpstreamsFileError, load_upstreams, read_upstreams
from keyplane.upstreams.spec import LITERAL, Provider

ENV = {"OPENAI_KEY": "sk-openai-secret", "ANTHROPIC_KEY": "sk-ant-secret", "ORG_ID": "org-9"}
GOOD = """
[[upstream]]
name = "openai"
provider = "openai"
api_key = "${OPENAI_KEY}"
models = ["gpt-*", "o*", "text-embedding-*"]

[[upstream]]
name = "claude"
provider = "anthropic"
base_url = "https://api.anthropic.com/v1/"
api_key = "${ANTHROPIC_KEY}"
models = ["claude-*"]
fallbacks = ["openai"]
read_timeout_seconds = 30

[[upstream]]
name = "azure-eu"
provider = "azure"
base_url = "https://kp-eu.openai.azure.com"
api_key = "${AZURE_KEY}"
api_version = "2024-10-21"
models = ["az-*"]
deployments = { "az-gpt-4o" = "prod-gpt-4o" }
headers = { "x-team" = "search", "x-org" = "${ORG_ID}", "x-unset" = "${NOT_SET}" }
"""


def settings(path: Path | None = None) -> Settings:
    return Settings(_env_file=None, upstreams_file=path)


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "upstreams.toml"
    path.write_text(text)
    return path


def test_without_a_file_the_upstream_settings_make_one_openai_upstream_for_every_model() -> None:
    (only,) = load_upstreams(settings(), ENV)
    assert (only.name, only.provider, only.models) == ("openai", Provider.OPENAI, ("*",))
    assert only.base_url == "https://api.openai.com/v1"


def test_a_good_file_gives_each_upstream_with_its_key_resolved_from_the_environment(
    tmp_path: Path,
) -> None:
    openai, claude, azure = load_upstreams(settings(written(tmp_path, GOOD)), ENV)
    assert openai.base_url == "https://api.openai.com/v1"  # the provider's default
    assert openai.api_key is not None and openai.api_key.get_secret_value() == "sk-openai-secret"
    assert claude.base_url == "https://api.anthropic.com"  # keyplane adds /v1 itself
    assert (claude.fallbacks, claude.read_timeout) == (("openai",), 30.0)
    assert azure.api_key is None and azure.key_source == "${AZURE_KEY}"  # unset: calls get 503
    assert azure.deployment("az-gpt-4o") == "prod-gpt-4o"
    assert azure.deployment("az-other") == "az-other"
    assert dict(azure.headers) == {"x-team": "search", "x-org": "org-9"}  # unset: not sent


def test_describe_names_where_the_key_comes_from_never_the_key(tmp_path: Path) -> None:
    specs = load_upstreams(settings(written(tmp_path, GOOD)), ENV)
    lines = [spec.describe() for spec in specs]
    assert "key=${OPENAI_KEY} (set)" in lines[0]
    assert "key=${AZURE_KEY} (MISSING)" in lines[2]
    assert not any("secret" in line for line in lines)


def test_a_literal_key_works_but_is_marked_literal(tmp_path: Path) -> None:
    text = GOOD.replace('"${OPENAI_KEY}"', '"sk-written-in-the-file"')
    openai = load_upstreams(settings(written(tmp_path, text)), ENV)[0]
    assert openai.key_source == LITERAL and openai.literal_key
    assert openai.api_key is not None
    assert openai.api_key.get_secret_value() == "sk-written-in-the-file"
    assert "sk-written" not in openai.describe()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('provider = "openai"', 'provider = "mistral"'), "upstream 'openai': field 'provider'"),
        (('models = ["gpt-*", "o*", "text-embedding-*"]', "models = []"), "field 'models'"),
        (('name = "claude"', 'name = "openai"'), "upstream 'openai': field 'name': used twice"),
        (
            ('fallbacks = ["openai"]', 'fallbacks = ["nobody"]'),
            "upstream 'claude': field 'fallbacks'",
        ),
        (('api_version = "2024-10-21"', ""), "upstream 'azure-eu': field 'api_version'"),
        (
            ("read_timeout_seconds = 30", "read_timeout_seconds = -1"),
            "field 'read_timeout_seconds'",
        ),
        (("read_timeout_seconds = 30", "reed_timeout = 30"), "field 'reed_timeout': unknown"),
        (('"x-team" = "search"', '"Authorization" = "Bearer x"'), "field 'headers'"),
        (('api_key = "${OPENAI_KEY}"', 'api_key = "sk-${OPENAI_KEY}"'), "field 'api_key'"),
        (('base_url = "https://kp-eu.openai.azure.com"', 'base_url = "kp-eu"'), "field 'base_url'"),
        (('name = "openai"\n', ""), "upstream #1: field 'name': is required"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_the_upstream_and_the_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in GOOD
    path = written(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(UpstreamsFileError) as raised:
        read_upstreams(path, ENV, settings())
    message = raised.value.message
    assert message.startswith(f"{path}: ") and expected in message
    assert "\n" not in message and "secret" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[upstream]\nname = 1", "not valid TOML"),
        ("", "no [[upstream]] entries"),
        ("[server]\nport = 1", "unknown table 'server'"),
        ("upstream = 3", "no [[upstream]] entries"),
    ],
)
def test_a_file_that_is_not_a_list_of_upstreams_says_so(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(UpstreamsFileError) as raised:
        read_upstreams(written(tmp_path, text), ENV, settings())
    assert expected in raised.value.message


def test_a_missing_file_says_it_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(UpstreamsFileError, match="cannot read it"):
        load_upstreams(settings(tmp_path / "nope.toml"), ENV)
