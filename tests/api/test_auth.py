"""No /api/v1 route is left open by mistake: walk every route of the OpenAPI document."""

from __future__ import annotations

import re

import httpx

from hx.api.app import create_app, openapi_routes
from hx.api.auth import ROUTE_ROLES
from hx.platform import Platform
from tests.api.conftest import Api


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_api_route_is_in_the_role_table(platform: Platform) -> None:
    app = create_app(platform)
    api_routes = [r for r in openapi_routes(app) if r[1].startswith("/api/v1")]
    assert api_routes, "no API routes found"
    missing = [r for r in api_routes if r not in ROUTE_ROLES]
    assert missing == [], f"routes without a role: {missing}"
    stale = [r for r in ROUTE_ROLES if r not in api_routes]
    assert stale == [], f"role table rows with no route: {stale}"


def test_every_api_route_refuses_anonymous_and_bad_tokens(api: Api) -> None:
    routes = [r for r in openapi_routes(create_app(api.platform)) if r[1].startswith("/api/v1")]
    with httpx.Client(base_url=api.url, timeout=10) as c:
        for method, path in routes:
            r = c.request(method, _fill(path))
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers["content-type"].startswith("application/problem+json")
            r = c.request(method, _fill(path), headers={"Authorization": "Bearer hx_not-a-token"})
            assert r.status_code == 401, (method, path)


def test_every_route_enforces_its_role(api: Api) -> None:
    routes = [r for r in openapi_routes(create_app(api.platform)) if r[1].startswith("/api/v1")]
    order = ["viewer", "operator", "approver", "admin"]
    for method, path in routes:
        needed = ROUTE_ROLES[(method, path)].value
        for role in order[: order.index(needed)]:
            with api.client(role) as c:
                r = c.request(method, _fill(path))
            assert r.status_code == 403, (method, path, role, r.status_code)
            assert needed in r.json()["detail"]


def test_health_and_metrics_are_open(api: Api) -> None:
    with httpx.Client(base_url=api.url) as c:
        h = c.get("/health")
        assert h.status_code == 200
        body = h.json()
        assert body["status"] == "ok"
        assert body["checks"]["store"]["status"] == "ok"
        m = c.get("/metrics")
        assert m.status_code == 200 and "hx_http_requests_total" in m.text


def test_the_openapi_document_states_each_routes_role(platform: Platform) -> None:
    spec = create_app(platform).openapi()
    seen = 0
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, op in operations.items():
            role = ROUTE_ROLES[(method.upper(), path)].value
            assert op["x-hx-role"] == role, (method, path)
            assert f"the {role} role" in op["description"], (method, path)
            seen += 1
    assert seen == len([k for k in ROUTE_ROLES if k[1].startswith("/api/v1/")])


def test_the_alert_bodies_are_described_by_the_models_that_parse_them(platform: Platform) -> None:
    """The two alert routes read their bodies themselves; the document still says what goes in them."""
    spec = create_app(platform).openapi()
    schemas, paths = spec["components"]["schemas"], spec["paths"]
    body = paths["/api/v1/alerts"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/HxAlertBatch"}
    assert schemas["HxAlertBatch"]["properties"]["alerts"]["items"] == {"$ref": "#/components/schemas/HxAlert"}
    assert set(schemas["HxAlert"]["required"]) == {"name", "service", "starts_at"}
    assert schemas["HxAlert"]["properties"]["starts_at"]["format"] == "date-time"
    am = paths["/api/v1/alerts/alertmanager"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert am["required"] == ["alerts"] and "AmAlert" in am["properties"]["alerts"]["items"]["description"]
    assert set(schemas["AmAlert"]["required"]) == {"status", "startsAt"}
