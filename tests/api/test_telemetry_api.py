"""GET /api/v1/telemetry/check over a live server: roles, and a refusal when no source is configured."""

from __future__ import annotations

from tests.api.conftest import Api


def test_telemetry_check_needs_a_token_and_a_source(api: Api) -> None:
    with api.client() as anonymous:
        assert anonymous.get("/api/v1/telemetry/check").status_code == 401
    with api.client("viewer") as viewer:
        resp = viewer.get("/api/v1/telemetry/check")
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert "telemetry.source" in resp.json()["detail"]
        bad = viewer.get("/api/v1/telemetry/check", params={"stale_after_s": 0})
        assert bad.status_code == 422
