"""ASGI middleware: the boundary every request crosses, request metrics, and the audit of mutating API calls.

:class:`BoundaryMiddleware` (inside) authenticates ``/api/v1`` requests *before* any byte of the body is read,
then checks the path and query text, reads the body up to a limit (``server.max_body_bytes``; the alert intake keeps
its own) and checks its JSON (:mod:`hx.api.boundary`).  A refused request never reaches a route.

:class:`ObserveMiddleware` (outside) counts every request and audits mutating API calls of authenticated callers.
Unauthenticated calls cost at most two audit rows per window (:class:`UnauthenticatedLog`), whatever their number,
path length or body size.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hx.api.auth import parse_bearer
from hx.api.boundary import check_path, check_query, parse_json, safe_text
from hx.api.problems import error_response
from hx.errors import HxError
from hx.heal.intake import MAX_BODY_BYTES as INTAKE_MAX_BODY_BYTES
from hx.heal.intake import PayloadTooLarge

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
API_PREFIX = "/api/v1/"
#: routes with a body limit of their own (instead of ``server.max_body_bytes``)
ROUTE_BODY_LIMITS: dict[str, int] = {
    "/api/v1/alerts": INTAKE_MAX_BODY_BYTES,
    "/api/v1/alerts/alertmanager": INTAKE_MAX_BODY_BYTES,
}
#: ``/api/v1`` paths that authenticate their callers themselves (a signed inbound webhook, say): see
#: :func:`authenticates_itself`
SELF_AUTHENTICATING: set[str] = set()
#: the longest path an audit row keeps
MAX_AUDIT_PATH = 200
_NOT_JSON = ("multipart/", "application/x-www-form-urlencoded")


class BoundaryMiddleware:
    """Authentication before the body, bounded bodies, and the text/number rules of :mod:`hx.api.boundary`."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, route_limits: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.route_limits = dict(ROUTE_BODY_LIMITS if route_limits is None else route_limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await _authenticate(scope)
            check_path(scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape"))
            check_query(scope.get("query_string", b""))
            body, tail = await self._read_body(scope, receive)
            _check_body(scope, body)
        except HxError as err:
            await error_response(err)(scope, receive, send)
            return
        await self.app(scope, _replay(body, tail, receive), send)

    def limit_for(self, path: str) -> int:
        return self.route_limits.get(path.rstrip("/") or "/", self.max_body_bytes)

    async def _read_body(self, scope: Scope, receive: Receive) -> tuple[bytes, Message | None]:
        """The whole body (refused once over the limit) and a disconnect seen while reading, if any."""
        limit = self.limit_for(scope["path"])
        lift = _RAISE if limit == self.max_body_bytes else ""  # a route with its own limit keeps it
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            why = f"the body is {declared} bytes; the limit is {limit} bytes{lift}"
            raise PayloadTooLarge(why, field="body", limit=limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), message
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the body is over the limit of {limit} bytes{lift}", field="body", limit=limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None


#: how an operator lifts the limit (README, "Sizes"): a fleet's month of 5-minute usage is megabytes
_RAISE = " (server.max_body_bytes, HX_SERVER__MAX_BODY_BYTES, raises it)"


def authenticates_itself(path: str) -> None:
    """Exempt one ``/api/v1`` path (exact, no template) from the token check; the route must check its caller
    itself (e.g. a signature over the body) before acting. Its body limit and text/number rules still apply."""
    SELF_AUTHENTICATING.add(path)


async def _authenticate(scope: Scope) -> None:
    """Every ``/api/v1`` request carries a valid token before its body is read; the principal goes in the scope."""
    if not scope["path"].startswith(API_PREFIX) or scope["path"] in SELF_AUTHENTICATING:
        return
    tokens = scope["app"].state.platform.tokens
    token = parse_bearer(Headers(scope=scope).get("authorization", ""))
    principal = await anyio.to_thread.run_sync(tokens.authenticate, token)
    scope.setdefault("state", {})["principal"] = principal


def _check_body(scope: Scope, body: bytes) -> None:
    if not body:
        return
    content_type = Headers(scope=scope).get("content-type", "").lower()
    if content_type.startswith(_NOT_JSON):
        return
    try:
        parse_json(body)
    except json.JSONDecodeError:
        return  # not JSON at all: the route says so (422 naming the body), as for any body it cannot read


def _replay(body: bytes, tail: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the rest of the connection's messages."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    if tail is not None:
        pending.append(tail)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


class UnauthenticatedLog:
    """The bounded record of unauthenticated API calls: at most two audit rows per window.

    The first such call of a window is written at once (truncated path); the others are only counted, and the count
    of a window with more than one call is written when the next window starts."""

    def __init__(self, append: Callable[..., Any], window_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.append = append
        self.window_s = window_s
        self.clock = clock
        self.window_start = -float("inf")
        self.count = 0
        self.first_path = ""

    def record(self, method: str, path: str, code: int) -> None:
        now = self.clock()
        if now - self.window_start >= self.window_s:
            self._flush()
            self.window_start, self.count, self.first_path = now, 0, _truncate(path)
        self.count += 1
        if self.count == 1:
            self.append("anonymous", f"{method} unauthenticated", self.first_path, f"http_{code}", {"status": code})

    def _flush(self) -> None:
        if self.count > 1:
            detail = {"count": self.count, "window_s": self.window_s, "first_path": self.first_path}
            self.append("anonymous", "unauthenticated calls", self.first_path, "counted", detail)


def _truncate(path: str) -> str:
    path = safe_text(path)
    return path if len(path) <= MAX_AUDIT_PATH else path[: MAX_AUDIT_PATH - 1] + "…"


class ObserveMiddleware:
    """Request metrics for every call; an audit row for every mutating API call (see the module docstring)."""

    def __init__(self, app: ASGIApp, component: str) -> None:
        self.app = app
        self.component = component

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}
        t0 = time.perf_counter()
        observed = False

        async def observe() -> None:
            nonlocal observed
            observed = True
            audit = self._observe(scope, status["code"], time.perf_counter() - t0)
            if audit is not None:  # a database write: in a worker thread, so the event loop keeps answering
                await anyio.to_thread.run_sync(audit)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body", False) and not observed:
                try:  # before the answer's last byte: a caller who has the answer finds its audit row
                    await observe()
                finally:  # an audit write that failed still lets the answer go out, then raises as before
                    await send(message)
                return
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if not observed:  # no answer was sent (the app raised): still counted and audited
                await observe()

    def _observe(self, scope: Scope, code: int, seconds: float) -> Callable[[], None] | None:
        """Count the request; return the audit write it needs, if any (run off the event loop by the caller)."""
        app = scope["app"]
        platform: Any = app.state.platform
        route = scope.get("route")
        template = route.path if isinstance(route, Route) else "unmatched"
        method = scope["method"]
        m = platform.metrics
        m.http_requests.labels(self.component, method, template, str(code)).inc()
        m.http_latency.labels(self.component, template).observe(seconds)
        path: str = scope["path"]
        if method not in MUTATING or not path.startswith(API_PREFIX):
            return None
        principal = scope.get("state", {}).get("principal")
        if principal is None:  # counted here; written at most twice a window, so it stays on the loop
            app.state.unauthenticated.record(method, path, code)
            return None
        outcome = "ok" if code < 400 else f"http_{code}"
        return functools.partial(
            platform.audit.append, principal.actor, f"{method} {template}", _truncate(path), outcome, {"status": code}
        )
