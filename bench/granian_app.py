"""The keyplane app for granian, used only by ``gateway_overhead.py --server granian``."""

from __future__ import annotations

from fastapi import FastAPI

from keyplane.api.app import create_app
from keyplane.config import load_settings


def app() -> FastAPI:
    return create_app(load_settings())
