"""Keys where leaks really sit: after escapes, URL-encoded, in JSON/YAML/.env, in UTF-16."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from keyplane.cli.scan import scan_command
from keyplane.scan.finding import findings_in, findings_in_chunks
from keyplane.scan.patterns import Detector
from keyplane.scan.source import CHUNK
from scan.scan_fakes import bound_samples, chars, samples

SAMPLES = samples()
AWS = SAMPLES["aws-akia"][1]
GITHUB = SAMPLES["github-pat"][1]
MISTRAL_RULE, MISTRAL_LINE, MISTRAL = bound_samples()["mistral"]


def _found(text: str) -> list[tuple[str, str]]:
    return [(f.rule_id, f.secret) for f in findings_in(Detector(), text.encode(), "x")]


def scan(*args: str) -> Result:
    return CliRunner().invoke(scan_command, list(args))


@pytest.mark.parametrize(
    "template",
    [
        '{{"log": "done\\n{key}"}}',  # a literal backslash-n, as JSON logs hold it
        "token:\\t{key}",
        "line one\\r{key}",
        "C:\\\\{key}",
        "?q=a%3D{key}&x=1",
        "url=https%3A%2F%2Fexample.com%2F%3Ftoken%3D{key}",
        '{{"token": "\\u003d{key}"}}',
        "printf '\\x3d{key}'",
    ],
)
@pytest.mark.parametrize("name", ["aws-akia", "github-pat", "keyplane-project", "stripe-live"])
def test_a_key_right_after_an_escape_or_an_encoding_is_found(template: str, name: str) -> None:
    rule, key = SAMPLES[name]
    assert _found(template.format(key=key)) == [(rule, key)]


@pytest.mark.parametrize(
    "template",
    [
        '{{"openai": {{"api_key": "{key}"}}}}',  # JSON
        "openai:\n  api_key: {key}\n",  # YAML, plain
        "openai:\n  api_key: '{key}'\n",  # YAML, single-quoted
        'services:\n  - env: ["API_KEY={key}"]\n',  # YAML flow sequence
        "API_KEY={key}\n",  # .env
        'export API_KEY="{key}"\n',  # .env with export
        "[tool]\ntoken = '''{key}'''\n",  # TOML literal string
        "curl -H 'Authorization: Bearer {key}' https://api.example.com\n",
        '<add key="ApiKey" value="{key}" />\n',  # XML config
    ],
)
@pytest.mark.parametrize("name", ["github-fine-grained", "anthropic-api", "slack-app-level"])
def test_keys_in_config_formats_are_found(template: str, name: str) -> None:
    rule, key = SAMPLES[name]
    assert _found(template.format(key=key)) == [(rule, key)]


@pytest.mark.parametrize(
    "text",
    [
        f"MISTRAL_API_KEY={MISTRAL}\n",
        f'{{"mistral_api_key": "{MISTRAL}"}}',
        f"mistral:\n  api-key: {MISTRAL}\n",
        f"mistral_api_key = '{MISTRAL}'\n",
        f"client = Mistral(api_key={MISTRAL!r})\n".replace("api_key", "mistral_key"),
    ],
)
def test_a_context_rule_finds_its_value_in_json_yaml_env_and_code(text: str) -> None:
    assert _found(text) == [(MISTRAL_RULE, MISTRAL)]


def test_a_service_account_json_with_an_escaped_private_key_is_found() -> None:
    block = SAMPLES["private-key"][1].replace("\n", "\\n")
    document = json.dumps({"type": "service_account", "private_key": "X"}).replace("X", block)
    assert [rule for rule, _ in _found(document)] == ["private-key"]


def test_a_slack_webhook_with_escaped_or_encoded_slashes_is_found() -> None:
    url = SAMPLES["slack-webhook"][1]
    escaped = url.replace("/", "\\/")
    encoded = url.replace("://", "%3A%2F%2F").replace("/", "%2F")
    assert [rule for rule, _ in _found(f'{{"url": "{escaped}"}}')] == ["slack-webhook-url"]
    assert [rule for rule, _ in _found(f"next={encoded}")] == ["slack-webhook-url"]


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-16-le", b""),  # no mark: told by the NUL pattern
        ("utf-16-be", b""),
        ("utf-32-le", b"\xff\xfe\x00\x00"),
        ("utf-32-be", b"\x00\x00\xfe\xff"),
        ("utf-32-le", b""),
    ],
)
def test_utf16_and_utf32_files_are_decoded_and_scanned(
    plain_dir: Path, encoding: str, bom: bytes
) -> None:
    text = f"# settings, saved by a Windows editor\r\n\r\nGITHUB_TOKEN={GITHUB}\r\n"
    (plain_dir / "settings.ps1").write_bytes(bom + text.encode(encoding))
    result = scan("--json", ".")
    assert result.exit_code == 1, result.output
    (finding,) = json.loads(result.stdout)["findings"]
    assert (finding["file"], finding["line"], finding["rule"]) == (
        "settings.ps1",
        3,
        "github-token",
    )


def test_binary_files_are_left_out_but_counted(plain_dir: Path) -> None:
    (plain_dir / "blob.bin").write_bytes(b"\x89PNG\0\1\0\0\7" + GITHUB.encode())
    result = scan(".")
    assert result.exit_code == 0
    assert "1 binary file(s) left out" in result.output


def _chunks(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(data)), 40))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def test_a_file_read_in_chunks_yields_what_the_whole_file_yields() -> None:
    rng = random.Random(5)
    keys = [secret for _, secret in SAMPLES.values()]

    def line() -> str:
        roll = rng.random()
        if roll < 0.01:
            return f"{rng.choice(keys)}  # keyplane:allow"
        return rng.choice(keys) if roll < 0.06 else chars(rng.randrange(200))

    lines = [line() for _ in range(2000)]
    data = ("\n".join(lines) + "\n").encode()
    whole = [(f.line, f.rule_id, f.secret) for f in findings_in(Detector(), data, "x")]
    assert len(whole) > 50
    for _ in range(5):
        chunks = _chunks(data, rng)
        streamed = findings_in_chunks(Detector(), chunks, "x")
        assert [(f.line, f.rule_id, f.secret) for f in streamed] == whole


def test_a_large_file_is_streamed_and_a_key_across_a_chunk_edge_is_found(plain_dir: Path) -> None:
    filler = ("x = 1  # " + "y" * 90 + "\n").encode()  # 100 bytes a line
    body = bytearray(filler * (2 * CHUNK // len(filler) + 1000))
    # One key straddling the first chunk's end, one at the very end.
    at = CHUNK - 10
    body[at - 1 : at + len(AWS) + 1] = f" {AWS} ".encode()
    body += f"last = '{GITHUB}'\n".encode()
    (plain_dir / "dump.sql").write_bytes(bytes(body))
    result = scan("--json", ".")
    assert result.exit_code == 1, result.output
    found = [(f["line"], f["rule"]) for f in json.loads(result.stdout)["findings"]]
    assert found == [
        (at // len(filler) + 1, "aws-access-key-id"),
        (body.count(b"\n"), "github-token"),
    ]
