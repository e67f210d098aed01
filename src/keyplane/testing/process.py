"""Run the stand-in upstream in a subprocess for a test or a benchmark."""

from __future__ import annotations

import select
import subprocess
import sys
import time
from types import TracebackType

_READY = "listening on "


class UpstreamProcess:
    """A running stand-in upstream; a context manager that stops it on exit."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url
        self.base_url = f"{url}/v1"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def close(self) -> None:
        """Stop the process: terminate, then kill if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> UpstreamProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _wait_for_url(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if process.poll() is not None:
            raise RuntimeError(f"the stand-in upstream exited with {process.returncode}")
        ready, _, _ = select.select([process.stdout], [], [], left)
        line = process.stdout.readline() if ready else ""
        if line.startswith(_READY):
            return line.removeprefix(_READY).strip()
    raise RuntimeError(f"the stand-in upstream did not start within {timeout} s")


def start_upstream_process(
    *,
    api_key: str = "sk-test-upstream",
    delay_ms: float = 0.0,
    jitter_ms: float = 0.0,
    host: str = "127.0.0.1",
    port: int = 0,
    workers: int = 1,
    timeout: float = 15.0,
    provider: str = "openai",
    fail_status: int | None = None,
) -> UpstreamProcess:
    """Start ``python -m keyplane.testing.upstream`` and wait until it listens.

    The API key travels on the command line: only ever pass a test key. Use the result as a
    context manager; ``.base_url`` (ending in ``/v1``) is what an ``openai`` client needs.
    ``provider`` picks the stand-in (``openai``, ``anthropic``, ``azure``, or ``instant`` for
    throughput benchmarks, see ``keyplane.testing.instant``; for anthropic and azure
    ``.url`` is the base URL); ``fail_status`` makes every call fail with that status;
    ``jitter_ms`` (instant only) spreads each delay over ``delay_ms`` give or take that.
    """
    command = [sys.executable, "-m", "keyplane.testing.upstream", "--host", host]
    command += ["--port", str(port), "--api-key", api_key, "--delay-ms", str(delay_ms)]
    command += ["--workers", str(workers), "--provider", provider]
    if jitter_ms:
        command += ["--jitter-ms", str(jitter_ms)]
    if fail_status is not None:
        command += ["--fail-status", str(fail_status)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603
    try:
        url = _wait_for_url(process, timeout)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return UpstreamProcess(process, url)
