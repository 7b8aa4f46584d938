"""The FastAPI app factory: one app per component, or all components in one app."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from hx import __version__
from hx.api import openapi, problems
from hx.api.health import HealthSnapshot, health_report
from hx.api.middleware import BoundaryMiddleware, ObserveMiddleware, UnauthenticatedLog
from hx.api.responses import SafeJSONResponse
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

    def report() -> tuple[int, dict[str, Any]]:
        code, body = health_report(platform, label, runtime.health() if runtime is not None else {})
        return code, {**body, "version": __version__, "components": [c.name for c in comps]}

    snapshot = HealthSnapshot(report, platform.settings.server.health_refresh_s)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = None
        platform.metrics.up.labels(label).set(1)
        snapshot.start()
        if run_engines and runtime is not None:
            task = asyncio.create_task(runtime.run_wall(stop, tick_s=1.0))
        try:
            yield
        finally:
            stop.set()
            snapshot.stop()
            for hook in platform.on_shutdown:  # background jobs (drills) cancelled and awaited, within seconds
                await asyncio.to_thread(hook)
            if task is not None:
                await task
            platform.metrics.up.labels(label).set(0)

    app = FastAPI(
        title=f"hx {label}",
        version=__version__,
        lifespan=lifespan,
        description="hx AIOps control plane. Every /api/v1 route needs a Bearer token with a role.",
        default_response_class=SafeJSONResponse,
    )
    app.state.platform = platform
    app.state.runtime = runtime
    app.state.components = comps
    app.state.health = snapshot
    app.state.unauthenticated = UnauthenticatedLog(platform.audit.append)
    problems.install(app)
    app.add_middleware(BoundaryMiddleware, max_body_bytes=platform.settings.server.max_body_bytes)
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

    @app.get("/health", tags=["ops"], responses=openapi.HEALTH_RESPONSES)
    async def health(request: Request) -> JSONResponse:
        """From the snapshot (no database round-trip on the request); computed here only before the first one."""
        report = snapshot.current()
        if report is None:
            report = await anyio.to_thread.run_sync(snapshot.compute)
        code, body = report
        return SafeJSONResponse(body, status_code=code)

    @app.get("/metrics", tags=["ops"], response_class=Response, responses=openapi.text_response("text/plain"))
    def metrics() -> Response:
        return Response(platform.metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    openapi.install(app)
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
    """Components running apart let the dashboards (on their own origin) read and act on their API with a token."""
    url = platform.settings.server.component_urls.get("monitoring-dashboard")
    if url is None:
        return
    from urllib.parse import urlsplit

    from fastapi.middleware.cors import CORSMiddleware

    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[origin],
        allow_methods=["GET", "POST"],  # the dashboards' actions (approve, acknowledge...) are POSTs
        allow_headers=["Authorization", "Content-Type", "X-HX-OTP"],
    )
