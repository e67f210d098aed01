"""The admin REST API, key verification and health endpoints."""
