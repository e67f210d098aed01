"""FastAPI's own OpenTelemetry instrumentation, switched off for every app keyplane builds."""

from __future__ import annotations

from fastapi.telemetry import TelemetryConfig

# Metrics are keyplane's own (``/metrics``); spans and logs would need a provider nobody set.
NO_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}
