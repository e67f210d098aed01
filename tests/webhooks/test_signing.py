"""The documented signature scheme: ``t=<unix>,v1=<hex hmac-sha256 of "<t>.<body>">``."""

from __future__ import annotations

import hashlib
import hmac

import pytest

import keyplane.webhooks
from keyplane.webhooks import sign, verify_signature
from keyplane.webhooks.signing import new_secret

BODY = b'{"id":"evt_1","type":"api_key.leaked","created_at":1700000000,"data":{}}'
NOW = 1_700_000_000


def test_public_names() -> None:
    assert set(keyplane.webhooks.__all__) == {
        "EVENT_ID_HEADER",
        "SIGNATURE_HEADER",
        "sign",
        "verify_signature",
    }


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    secret = new_secret()
    expected = hmac.new(secret.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, secret=secret, timestamp=NOW) == f"t={NOW},v1={expected}"


def test_if_signed_with_the_secret_then_verifies() -> None:
    secret = new_secret()
    header = sign(BODY, secret=secret, timestamp=NOW)
    assert verify_signature(BODY, header, secret=secret, now=NOW + 10)


@pytest.mark.parametrize(
    ("body", "secret_of_signer", "now"),
    [
        pytest.param(BODY + b" ", "whsec_same", NOW, id="tampered-body"),
        pytest.param(BODY, "whsec_other", NOW, id="other-secret"),
        pytest.param(BODY, "whsec_same", NOW + 301, id="too-old"),
        pytest.param(BODY, "whsec_same", NOW - 301, id="from-the-future"),
    ],
)
def test_if_anything_differs_then_refused(body: bytes, secret_of_signer: str, now: int) -> None:
    header = sign(BODY, secret=secret_of_signer, timestamp=NOW)
    assert not verify_signature(body, header, secret="whsec_same", now=now)


@pytest.mark.parametrize("header", [None, "", "garbage", "t=abc,v1=00", f"t={NOW}", "v1=00"])
def test_if_header_malformed_then_refused(header: str | None) -> None:
    assert not verify_signature(BODY, header, secret="whsec_same", now=NOW)


def test_if_any_of_several_signatures_matches_then_verifies() -> None:
    header = sign(BODY, secret="whsec_new", timestamp=NOW) + ",v1=" + "0" * 64
    assert verify_signature(BODY, header, secret="whsec_new", now=NOW)
