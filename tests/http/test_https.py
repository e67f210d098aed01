"""HTTPS against a real server: ``serve`` speaks TLS given a certificate and key, and the
dashboard's cookies are ``Secure``, with HSTS, whenever people reach it over HTTPS."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from support.server import ServerProcess, server_env


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keyplane test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _serve(workdir: Path, **extra: str) -> Iterator[ServerProcess]:
    server = ServerProcess(workdir=workdir, env=server_env(workdir, **extra))
    server.init()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    workdir = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(workdir)
    server = ServerProcess(
        workdir=workdir,
        env=server_env(workdir, KEYPLANE_TLS_CERTFILE=str(cert), KEYPLANE_TLS_KEYFILE=str(key)),
    )
    server.init()
    assert server.process is None
    _start_tls(server, cert)
    yield server, cert
    server.stop()


def _start_tls(server: ServerProcess, cert: Path) -> None:
    """``ServerProcess.start`` polls over plain HTTP; this one waits for an HTTPS answer."""
    import subprocess
    import sys

    log = server.log_path.open("ab")
    server.process = subprocess.Popen(
        [sys.executable, "-m", "keyplane", "serve", "--port", str(server.port)],
        cwd=server.workdir,
        env=server.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    context = ssl.create_default_context(cafile=str(cert))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.log_path.read_text()
        try:
            url = f"https://127.0.0.1:{server.port}/readyz"
            if httpx.get(url, verify=context, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError(f"no HTTPS answer: {server.log_path.read_text()}")


def _cookie_and_hsts(response: httpx.Response) -> tuple[str, str | None]:
    assert response.status_code == 200, response.text
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert cookies, "the login page sets its CSRF cookie"
    return cookies[0], response.headers.get("strict-transport-security")


def test_if_tls_is_configured_then_serve_speaks_https_with_secure_cookies_and_hsts(
    tls: tuple[ServerProcess, Path],
) -> None:
    server, cert = tls
    context = ssl.create_default_context(cafile=str(cert))
    response = httpx.get(f"https://127.0.0.1:{server.port}/login", verify=context, timeout=10)
    cookie, hsts = _cookie_and_hsts(response)
    assert "Secure" in cookie
    assert hsts is not None and "max-age=" in hsts


def test_if_tls_is_configured_then_plain_http_is_not_answered(
    tls: tuple[ServerProcess, Path],
) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{tls[0].port}/healthz", timeout=5)


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _serve(tmp_path_factory.mktemp("proxied"), KEYPLANE_TRUSTED_PROXIES="127.0.0.1/32")


@pytest.fixture(scope="module")
def untrusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _serve(tmp_path_factory.mktemp("untrusting"))


@pytest.fixture(scope="module")
def public_https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _serve(
        tmp_path_factory.mktemp("public"), KEYPLANE_PUBLIC_URL="https://keys.example.com"
    )


def test_if_a_trusted_proxy_says_https_then_cookies_are_secure_with_hsts(
    behind_proxy: ServerProcess,
) -> None:
    response = httpx.get(
        f"{behind_proxy.url}/login", headers={"X-Forwarded-Proto": "https"}, timeout=10
    )
    cookie, hsts = _cookie_and_hsts(response)
    assert "Secure" in cookie
    assert hsts is not None


def test_if_a_trusted_proxy_says_http_then_cookies_are_not_secure(
    behind_proxy: ServerProcess,
) -> None:
    cookie, hsts = _cookie_and_hsts(httpx.get(f"{behind_proxy.url}/login", timeout=10))
    assert "Secure" not in cookie
    assert hsts is None


def test_if_an_untrusted_client_claims_https_then_it_is_not_believed(
    untrusting: ServerProcess,
) -> None:
    response = httpx.get(
        f"{untrusting.url}/login", headers={"X-Forwarded-Proto": "https"}, timeout=10
    )
    cookie, hsts = _cookie_and_hsts(response)
    assert "Secure" not in cookie
    assert hsts is None


def test_if_the_public_url_is_https_then_cookies_are_secure_with_hsts(
    public_https: ServerProcess,
) -> None:
    cookie, hsts = _cookie_and_hsts(httpx.get(f"{public_https.url}/login", timeout=10))
    assert "Secure" in cookie
    assert hsts is not None
