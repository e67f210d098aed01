"""``create_dashboard()``: the dashboard as its own app, with its pages and HTML error pages."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from keyplane.http.telemetry import NO_TELEMETRY
from keyplane.web.errors import install_html_errors
from keyplane.web.flash import FlashStore
from keyplane.web.routes import access, admin_keys, audit, controls, keys, members, projects, usage
from keyplane.web.templating import STATIC, Pages

PAGES = (access, projects, keys, usage, audit, members, admin_keys, controls)


def create_dashboard() -> FastAPI:
    """The dashboard's app; its routes read the runtime from ``app.state.runtime``."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, telemetry=NO_TELEMETRY)
    app.state.pages = Pages()
    app.state.flashes = FlashStore()
    for module in PAGES:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_html_errors(app)
    return app
