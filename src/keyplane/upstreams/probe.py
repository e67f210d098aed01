"""What ``keyplane upstreams check`` asks each upstream: a cheap authenticated GET.

Each provider lists its models at a path of its own; the answer tells apart an upstream
that does not answer, one that refuses its key (401/403), and one that accepts it.
"""

from __future__ import annotations

from dataclasses import dataclass

from keyplane.upstreams.spec import Provider, UpstreamSpec


@dataclass(frozen=True, slots=True)
class Probe:
    """A request: the URL and the headers (the provider key among them: never print these)."""

    url: str
    headers: dict[str, str]


def probe_of(spec: UpstreamSpec) -> Probe:
    """The model-listing request of ``spec``'s provider, authenticated as keyplane's calls are."""
    headers = {**spec.headers, **auth_headers(spec)}
    if spec.provider is Provider.ANTHROPIC:
        return Probe(f"{spec.base_url}/v1/models", headers)
    if spec.provider is Provider.AZURE:
        return Probe(f"{spec.base_url}/openai/models?api-version={spec.api_version}", headers)
    return Probe(f"{spec.base_url}/models", headers)


def auth_headers(spec: UpstreamSpec) -> dict[str, str]:
    """The headers that carry the provider key (none when it is not set)."""
    headers: dict[str, str] = {}
    if spec.provider is Provider.ANTHROPIC:
        headers["anthropic-version"] = spec.anthropic_version
    if spec.api_key is None:
        return headers
    secret = spec.api_key.get_secret_value()
    if spec.provider is Provider.ANTHROPIC:
        headers["x-api-key"] = secret
    elif spec.provider is Provider.AZURE:
        headers["api-key"] = secret
    else:
        headers["Authorization"] = f"Bearer {secret}"
    return headers


def verdict(status: int) -> tuple[bool, str]:
    """Whether an answer to a probe means the upstream works, and what to say about it."""
    if 200 <= status < 300:
        return True, "answers and accepts its key"
    if status in (401, 403):
        return False, f"answers but refuses its key (HTTP {status})"
    return False, f"answers with HTTP {status}"
