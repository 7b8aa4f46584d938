"""ASGI middleware: request metrics for every call, an audit record for every mutating API call."""

from __future__ import annotations

import time
from typing import Any

from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


class ObserveMiddleware:
    def __init__(self, app: ASGIApp, component: str) -> None:
        self.app = app
        self.component = component

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}
        t0 = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self._observe(scope, status["code"], time.perf_counter() - t0)

    def _observe(self, scope: Scope, code: int, seconds: float) -> None:
        platform: Any = scope["app"].state.platform
        route = scope.get("route")
        template = route.path if isinstance(route, Route) else "unmatched"
        method = scope["method"]
        m = platform.metrics
        m.http_requests.labels(self.component, method, template, str(code)).inc()
        m.http_latency.labels(self.component, template).observe(seconds)
        path: str = scope["path"]
        if method in MUTATING and path.startswith("/api/v1/"):
            principal = scope.get("state", {}).get("principal")
            actor = principal.actor if principal is not None else "anonymous"
            outcome = "ok" if code < 400 else f"http_{code}"
            platform.audit.append(actor, f"{method} {template}", path, outcome, {"status": code})
