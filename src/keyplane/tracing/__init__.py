"""OpenTelemetry traces of gateway calls: an extra (``keyplane[otel]``), off by default."""
