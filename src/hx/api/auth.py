"""Authentication and authorisation.

Every ``/api/v1`` route needs a Bearer token and a role.  ``ROUTE_ROLES`` is the one table that
says which role each route needs; a route missing from it is refused (fail closed), and a test
walks the OpenAPI document to prove the table covers every route.
"""

from __future__ import annotations

from fastapi import Request
from starlette.routing import Route

from hx.api.boundary import check_params
from hx.errors import AuthError, Forbidden, HxError
from hx.security.roles import Role
from hx.security.tokens import Principal

V, OP, APR, ADM = Role.VIEWER, Role.OPERATOR, Role.APPROVER, Role.ADMIN

#: (method, path template) -> the least role allowed.
ROUTE_ROLES: dict[tuple[str, str], Role] = {
    # platform
    ("GET", "/api/v1/whoami"): V,
    ("GET", "/api/v1/components"): V,
    ("GET", "/api/v1/events"): V,
    ("GET", "/api/v1/events/stream"): V,
    ("GET", "/api/v1/audit"): ADM,
    ("GET", "/api/v1/audit/verify"): ADM,
    ("GET", "/api/v1/tokens"): ADM,
    ("POST", "/api/v1/tokens"): ADM,
    ("DELETE", "/api/v1/tokens/{token_id}"): ADM,
    ("POST", "/api/v1/tokens/{token_id}/mfa"): ADM,
    ("GET", "/api/v1/secrets"): ADM,
    ("PUT", "/api/v1/secrets/{name}"): ADM,
    ("DELETE", "/api/v1/secrets/{name}"): ADM,
    ("GET", "/api/v1/models"): V,
    ("POST", "/api/v1/models/{name}/{version}/stage"): ADM,
    ("GET", "/api/v1/engines"): V,
}


class NotInRoleTable(HxError):
    status = 500
    title = "route has no role"


def register_roles(table: dict[tuple[str, str], Role]) -> None:
    """Component routers add their rows here at import time (one table, many contributors)."""
    for key, role in table.items():
        if key in ROUTE_ROLES and ROUTE_ROLES[key] != role:
            raise ValueError(f"route {key} registered with two roles")
        ROUTE_ROLES[key] = role


def parse_bearer(header: str) -> str:
    """The token of an ``Authorization: Bearer ...`` header, or :class:`AuthError` (401)."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("missing bearer token: send 'Authorization: Bearer hx_...'")
    return token.strip()


def bearer_token(request: Request) -> str:
    return parse_bearer(request.headers.get("authorization", ""))


def required_role(request: Request) -> Role:
    route = request.scope.get("route")
    path = route.path if isinstance(route, Route) else request.url.path
    key = (request.method.upper(), path)
    if key not in ROUTE_ROLES:
        raise NotInRoleTable(f"route {key[0]} {key[1]} is not in the role table; refusing")
    return ROUTE_ROLES[key]


async def authorize(request: Request) -> Principal:
    """FastAPI dependency on every /api/v1 router."""
    principal: Principal | None = getattr(request.state, "principal", None)  # the boundary authenticated it
    if principal is None:
        principal = request.app.state.platform.tokens.authenticate(bearer_token(request))
        request.state.principal = principal
    needed = required_role(request)
    if not principal.role.allows(needed):
        raise Forbidden(f"this route needs the {needed.value} role; your token has {principal.role.value}")
    check_params(request)
    return principal


def require_mfa(request: Request, principal: Principal) -> None:
    """Ask for the TOTP code (``X-HX-OTP`` header) of the calling token."""
    request.app.state.platform.tokens.verify_mfa(principal, request.headers.get("x-hx-otp"))
