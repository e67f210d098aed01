"""GitHub's keys file and report signatures, checked without a server."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from keyplane.errors import AuthenticationError, UnavailableError
from keyplane.leaks.github import TrustedKeys
from keyplane.leaks.report import parse_report
from leaks.signer import GithubSigner, write_keys_file

BODY = b'[{"source":"commit","token":"some_token","type":"some_type","url":"https://x/"}]'


@pytest.fixture
def trusted(tmp_path: Path, github: GithubSigner, retired_github: GithubSigner) -> TrustedKeys:
    return TrustedKeys.load(write_keys_file(tmp_path / "keys.json", github, retired_github))


def test_if_signed_by_any_listed_key_then_accepted(
    trusted: TrustedKeys, github: GithubSigner, retired_github: GithubSigner
) -> None:
    for signer in (github, retired_github):
        headers = signer.headers(BODY)
        trusted.verify(
            BODY,
            key_identifier=headers["Github-Public-Key-Identifier"],
            signature=headers["Github-Public-Key-Signature"],
        )


@pytest.mark.parametrize(
    ("key_identifier", "signature", "body"),
    [
        pytest.param(None, None, BODY, id="unsigned"),
        pytest.param("unknown", "ok", BODY, id="unknown-key"),
        pytest.param("github", "not base64!", BODY, id="not-base64"),
        pytest.param("github", base64.b64encode(b"junk").decode(), BODY, id="not-der"),
        pytest.param("github", "ok", BODY + b" ", id="body-changed"),
        pytest.param("retired", "ok", BODY, id="signed-by-another-key"),
    ],
)
def test_if_signature_does_not_hold_then_401(
    trusted: TrustedKeys,
    github: GithubSigner,
    retired_github: GithubSigner,
    key_identifier: str | None,
    signature: str | None,
    body: bytes,
) -> None:
    good = github.headers(BODY)["Github-Public-Key-Signature"]
    names = {"github": github.key_identifier, "retired": retired_github.key_identifier}
    with pytest.raises(AuthenticationError) as raised:
        trusted.verify(
            body,
            key_identifier=names.get(key_identifier or "", key_identifier),
            signature=good if signature == "ok" else signature,
        )
    assert raised.value.status == 401


def test_if_no_keys_file_configured_then_503_naming_the_setting() -> None:
    with pytest.raises(UnavailableError) as raised:
        TrustedKeys.load(None).verify(BODY, key_identifier="k", signature="s")
    assert "KEYPLANE_GITHUB_SCANNING_KEYS" in raised.value.message


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param("not json", "not valid JSON", id="not-json"),
        pytest.param("[]", "public_keys", id="wrong-shape"),
        pytest.param('{"public_keys": []}', "public_keys", id="empty"),
        pytest.param('{"public_keys": [{"key": "x"}]}', "key_identifier", id="no-identifier"),
        pytest.param(
            '{"public_keys": [{"key_identifier": "a", "key": "x"}]}', "not a PEM", id="not-pem"
        ),
    ],
)
def test_if_keys_file_is_bad_then_503_saying_why(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)
    trusted = TrustedKeys.load(path)
    assert trusted.problem is not None and reason in trusted.problem
    with pytest.raises(UnavailableError):
        trusted.verify(BODY, key_identifier="a", signature="s")


def test_if_keys_file_is_missing_then_503_saying_why(tmp_path: Path) -> None:
    trusted = TrustedKeys.load(tmp_path / "absent.json")
    assert trusted.problem is not None and "absent.json" in trusted.problem


def test_if_key_is_not_p256_then_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP384R1()).public_key()
    pem = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"public_keys": [{"key_identifier": "a", "key": pem}]}))
    assert "P-256" in (TrustedKeys.load(path).problem or "")


def test_report_parses_githubs_example_and_ignores_unknown_fields() -> None:
    (token,) = parse_report(BODY[:-2] + b',"extra":1}]')
    assert (token.token, token.type, token.source) == ("some_token", "some_type", "commit")
