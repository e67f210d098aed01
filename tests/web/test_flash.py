"""One-time secrets ride to the page that shows them in a sealed cookie, not in memory."""

from __future__ import annotations

import subprocess
import sys
from http.cookies import SimpleCookie
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from keyplane.web.flash import FlashStore

SECRET = b"s" * 32
PAGE = "/projects/proj_1/keys/key_1/secret"
PAYLOAD = {"key_id": "key_1", "value": "kp_proj_" + "x" * 38}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def sealed(store: FlashStore, session: str = "sess_a", *, secure: bool = False) -> tuple[str, str]:
    """(flash id, Set-Cookie header) of one put."""
    response = Response()
    flash_id = store.put(response, session, PAYLOAD, path=PAGE, secure=secure)
    (header,) = response.headers.getlist("set-cookie")
    return flash_id, header


def browser(set_cookie: str) -> Request:
    """A request from a browser that kept the cookie."""
    cookie = SimpleCookie()
    cookie.load(set_cookie)
    pairs = "; ".join(f"{name}={morsel.value}" for name, morsel in cookie.items())
    return Request({"type": "http", "headers": [(b"cookie", pairs.encode())]})


def test_the_page_that_shows_it_reads_it_and_its_response_deletes_it() -> None:
    store = FlashStore(SECRET)
    flash_id, header = sealed(store)
    assert store.pop(browser(header), "sess_a", flash_id) == PAYLOAD
    page = store.forget(Response(), flash_id, path=PAGE)
    (deleted,) = page.headers.getlist("set-cookie")
    assert deleted.startswith(f"kp_flash_{flash_id}=") and "Max-Age=0" in deleted


def test_the_cookie_is_sealed_scoped_and_never_holds_the_plaintext() -> None:
    _, header = sealed(FlashStore(SECRET), secure=True)
    assert PAYLOAD["value"] not in header and "kp_proj_" not in header
    attributes = header.lower()
    for attribute in ("httponly", "samesite=strict", "secure", f"path={PAGE}", "max-age=300"):
        assert attribute in attributes
    assert "secure" not in sealed(FlashStore(SECRET))[1].lower()  # plain HTTP, as served


def test_another_session_or_flash_id_or_a_changed_cookie_opens_nothing() -> None:
    store = FlashStore(SECRET)
    flash_id, header = sealed(store)
    assert store.pop(browser(header), "sess_b", flash_id) is None
    other_id, _ = sealed(store)
    renamed = header.replace(flash_id, other_id, 1)
    assert store.pop(browser(renamed), "sess_a", other_id) is None
    name, _, rest = header.partition("=")
    value, _, attributes = rest.partition(";")
    flipped = ("A" if value[20] != "A" else "B").join((value[:20], value[21:]))
    assert store.pop(browser(f"{name}={flipped};{attributes}"), "sess_a", flash_id) is None
    assert store.pop(browser(header), "sess_a", "") is None


def test_it_is_gone_after_five_minutes() -> None:
    clock = Clock()
    store = FlashStore(SECRET, clock=clock)
    flash_id, header = sealed(store)
    clock.now += 301
    assert store.pop(browser(header), "sess_a", flash_id) is None


def test_any_worker_or_instance_with_the_same_server_secret_reads_it_and_no_other() -> None:
    flash_id, header = sealed(FlashStore(SECRET))
    assert FlashStore(SECRET).pop(browser(header), "sess_a", flash_id) == PAYLOAD
    assert FlashStore(b"t" * 32).pop(browser(header), "sess_a", flash_id) is None


def test_processes_starting_at_once_all_read_the_same_whole_server_secret(tmp_path: Path) -> None:
    # Workers of one ``serve`` start together on a data dir that has no secret yet.
    script = (
        "import sys; from pathlib import Path; from keyplane.config import Settings; "
        "from keyplane.services.server_secret import load_server_secret; "
        "print(load_server_secret(Settings(_env_file=None, data_dir=Path(sys.argv[1]))).hex())"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(8)
    ]
    secrets = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert len(secrets) == 1
    assert len(secrets.pop()) == 64
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]
