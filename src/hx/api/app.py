"""The FastAPI app factory: one app per component, or all components in one app."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from hx import __version__
from hx.api import problems
from hx.api.health import health_report
from hx.api.middleware import ObserveMiddleware
from hx.api.routers import core, telemetry
from hx.components import COMPONENTS, Component
from hx.platform import Platform
from hx.runtime import Runtime


def _load_router(path: str) -> APIRouter:
    module, _, attr = path.partition(":")
    router = getattr(importlib.import_module(module), attr or "router")
    if not isinstance(router, APIRouter):
        raise TypeError(f"{path} is not an APIRouter")
    return router


def create_app(
    platform: Platform,
    components: Sequence[Component] | None = None,
    runtime: Runtime | None = None,
    run_engines: bool = False,
) -> FastAPI:
    """Build the app for ``components`` (default: all of them, the all-in-one process)."""
    comps = list(components) if components is not None else list(COMPONENTS)
    label = comps[0].name if len(comps) == 1 else "all"

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = None
        platform.metrics.up.labels(label).set(1)
        if run_engines and runtime is not None:
            task = asyncio.create_task(runtime.run_wall(stop, tick_s=1.0))
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                await task
            platform.metrics.up.labels(label).set(0)

    app = FastAPI(
        title=f"hx {label}",
        version=__version__,
        lifespan=lifespan,
        description="hx AIOps control plane. Every /api/v1 route needs a Bearer token with a role.",
    )
    app.state.platform = platform
    app.state.runtime = runtime
    app.state.components = comps
    problems.install(app)
    app.add_middleware(ObserveMiddleware, component=label)
    _allow_dashboard(app, platform)
    app.include_router(core.router)
    app.include_router(telemetry.router)
    seen: set[str] = set()
    for comp in comps:
        for path in comp.routers:
            if path not in seen:
                seen.add(path)
                app.include_router(_load_router(path))

    @app.get("/health", tags=["ops"])
    def health(request: Request) -> JSONResponse:
        engines = runtime.health() if runtime is not None else {}
        code, body = health_report(platform, label, engines)
        body["version"] = __version__
        body["components"] = [c.name for c in comps]
        return JSONResponse(body, status_code=code)

    @app.get("/metrics", tags=["ops"])
    def metrics() -> Response:
        return Response(platform.metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


def openapi_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) for every operation in the OpenAPI document."""
    spec: dict[str, Any] = app.openapi()
    out = []
    for path, ops in spec.get("paths", {}).items():
        for method in ops:
            out.append((method.upper(), path))
    return sorted(out)


def _allow_dashboard(app: FastAPI, platform: Platform) -> None:
    """Components running apart let the dashboard's page (on its own origin) read their API with a token."""
    url = platform.settings.server.component_urls.get("monitoring-dashboard")
    if url is None:
        return
    from urllib.parse import urlsplit

    from fastapi.middleware.cors import CORSMiddleware

    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    app.add_middleware(CORSMiddleware, allow_origins=[origin], allow_methods=["GET"], allow_headers=["Authorization"])
