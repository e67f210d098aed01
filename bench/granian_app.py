"""The keyplane app for granian, used only by ``gateway_overhead.py --server granian``."""

from __future__ import annotations

from fastapi import FastAPI

from keyplane.app import app_from_environment


def app() -> FastAPI:
    return app_from_environment()
