"""The API boundary (hx.api.boundary, hx.api.middleware): text, numbers, sizes and authentication before the body,
on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
import resource
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from hx.api.app import create_app
from hx.config import load_settings
from hx.events import IncidentOpened
from hx.heal.records import AlertRepo, Incident, IncidentRepo
from hx.platform import bootstrap_admin, build_platform
from hx.security.roles import Role
from hx.store.tables import audit_log, events, heal_incidents
from tests.api.conftest import Api
from tests.support.live import live_server

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def store_api(store_url: str, tmp_path: Path) -> Iterator[Api]:
    """The whole app on SQLite and on PostgreSQL, with an admin and an operator token."""
    env = {"HX_HOME": str(tmp_path / "hx"), "HX_DATABASE_URL": store_url}
    platform = build_platform(load_settings(environ=env).settings)
    tokens = {"admin": (bootstrap_admin(platform) or Path()).read_text().strip()}
    tokens["operator"], _ = platform.tokens.create("op", Role.OPERATOR)
    with live_server(create_app(platform)) as url:
        yield Api(url, platform, tokens)
    platform.store.dispose()


def _am(service: str = "checkout", alertname: str = "HighLatency") -> bytes:
    """An Alertmanager webhook as raw JSON text (so escapes like \\ud800 reach the server as sent)."""
    return (
        '{"version": "4", "status": "firing", "groupKey": "g", "receiver": "hx", "alerts": [{"status": "firing", '
        f'"labels": {{"alertname": "{alertname}", "service": "{service}", "severity": "critical"}}, '
        '"annotations": {}, "startsAt": "2026-12-04T11:59:00Z", "fingerprint": "f1"}]}'
    ).encode()


def _problem(r: httpx.Response, status: int, field: str) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = r.json()
    assert body["field"] == field, body
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_am(service="\\ud800"), "alerts.0.labels.service"),
        (_am(alertname="a\\u0000b"), "alerts.0.labels.alertname"),
        (_am(alertname="\\udfff"), "alerts.0.labels.alertname"),
        (b'{"alerts": [], "\\ud800": 1}', "\ufffd"),
    ],
)
def test_intake_refuses_text_that_is_not_unicode_scalars_and_stores_nothing(
    store_api: Api, body: bytes, field: str
) -> None:
    with store_api.client("operator") as c:
        r = c.post("/api/v1/alerts/alertmanager", content=body, headers={"content-type": "application/json"})
    _problem(r, 422, field)
    assert AlertRepo(store_api.platform.store).count() == 0


def test_every_body_query_and_path_is_checked(store_api: Api) -> None:
    with store_api.client("admin") as c:
        r = c.post("/api/v1/tokens", content=b'{"name": "x\\ud83d", "role": "viewer"}')
        assert _problem(r, 422, "name")["errors"] == [
            {"field": "name", "in": "body", "message": "name: lone surrogate U+D83D is not Unicode text"}
        ]
        _problem(c.get("/api/v1/incidents", params={"service": "a\x00b"}), 422, "service")
        _problem(c.get("/api/v1/incidents?service=%ED%A0%80"), 422, "service")
        _problem(c.put("/api/v1/secrets/a%00b", json={"value": "v"}), 422, "path")
        json_type = {"content-type": "application/json"}
        r = c.post("/api/v1/tokens", content=b'{"name": "ok \\ud83d\\ude00", "role": "viewer"}', headers=json_type)
        assert r.status_code == 201, r.text


def test_a_stored_surrogate_is_escaped_on_the_way_out(store_api: Api) -> None:
    """Rows written before the boundary refused such text must not turn reads into 500s."""
    platform = store_api.platform
    inc = IncidentRepo(platform.store).insert(_incident())
    platform.bus.publish(IncidentOpened(incident=inc.id, incident_class="unknown"), source="test", subject="s")
    with platform.store.begin() as conn:
        conn.execute(update(heal_incidents).values(labels={"service": "x\ud800"}))
        conn.execute(update(events).values(data={"incident": inc.id, "note": "y\udfff"}))
    with store_api.client("admin") as c:
        listed = c.get("/api/v1/incidents")
        one = c.get(f"/api/v1/incidents/{inc.id}")
        evs = c.get("/api/v1/events")
        with c.stream("GET", "/api/v1/events/stream", params={"after": 0, "max_events": 1}) as s:
            streamed = "".join(s.iter_text())
    assert listed.status_code == 200 and one.status_code == 200 and evs.status_code == 200, listed.text
    assert listed.json()["incidents"][0]["labels"]["service"] == "x\\ud800"
    assert one.json()["labels"]["service"] == "x\\ud800"
    assert evs.json()["events"][0]["data"]["note"] == "y\\udfff"
    assert "y\\\\udfff" in streamed


def _incident() -> Incident:
    return Incident(
        id=0, service="s", environment="dev", title="t", severity="critical", status="open", kind="reactive",
        incident_class="unknown", confidence=0.5, classified_by="rules", root_causes=[], labels={}, firing=[],
        features={}, escalation={}, opened_at=NOW, updated_at=NOW,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "params", "field"),
    [
        ("GET", "/api/v1/incidents/9223372036854775808", {}, "incident_id"),
        ("GET", "/api/v1/incidents/-9223372036854775809", {}, "incident_id"),
        ("GET", "/api/v1/events", {"after": str(2**64)}, "after"),
        ("GET", "/api/v1/audit", {"after": "9" * 5000}, "after"),
        ("DELETE", "/api/v1/tokens/99999999999999999999", {}, "token_id"),
        ("GET", "/api/v1/cost/rightsizing", {"vcpu_per_replica": "1e400"}, "vcpu_per_replica"),
        ("GET", "/api/v1/cost/rightsizing", {"gib_per_replica": "nan"}, "gib_per_replica"),
        ("GET", "/api/v1/events", {"since": "0.5"}, "since"),
    ],
)
def test_numbers_out_of_range_are_422_naming_the_parameter(
    api: Api, method: str, path: str, params: dict[str, str], field: str
) -> None:
    with api.client("admin") as c:
        _problem(c.request(method, path, params=params), 422, field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"alerts": [{"labels": {"n": ' + b"9" * 5000 + b"}}]}", "alerts.0.labels.n"),
        (b'{"alerts": [{"x": 1e999}]}', "alerts.0.x"),
        (b'{"alerts": [{"x": -9223372036854775809}]}', "alerts.0.x"),
        (b'{"alerts": [{"x": NaN}]}', "alerts.0.x"),
        (b'{"alerts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "body"),
        (b'{"alerts": ' + b"[" * 200 + b"]" * 200 + b"}", "alerts" + ".0" * 64),
    ],
)
def test_intake_numbers_and_nesting_are_4xx_never_5xx(api: Api, body: bytes, field: str) -> None:
    with api.client("operator") as c:
        r = c.post("/api/v1/alerts", content=body, headers={"content-type": "application/json"})
    _problem(r, 422, field)


def test_the_body_limit_holds_on_every_route(api: Api) -> None:
    limit = api.platform.settings.server.max_body_bytes
    big = json.dumps({"name": "x" * limit, "role": "viewer"}).encode()
    with api.client("admin") as c:
        r = c.post("/api/v1/tokens", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["limit"] == limit
        r = c.post("/api/v1/cost/rightsize", content=iter([b"{", b" " * limit, b"}"]))  # no Content-Length
        assert r.status_code == 413, r.text


def test_unauthenticated_flood_leaves_audit_and_memory_bounded(api: Api) -> None:
    """1,000 unauthenticated POSTs with 8 KB paths and 256 KB bodies: 401 each, without the body being read."""
    store = api.platform.store

    def audit_rows() -> int:
        with store.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())

    before_rows = audit_rows()
    body = b"{" + b" " * (256 * 1024) + b"}"
    with httpx.Client(base_url=api.url, timeout=10.0) as c:
        c.post("/api/v1/alerts", content=body)  # warm up
        before_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for i in range(1000):
            r = c.post(f"/api/v1/tokens/{'a' * 8000}{i}", content=body, headers={"authorization": f"Bearer x{i}"})
            assert r.status_code == 401
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_rss) / 1024
    rows = audit_rows() - before_rows
    assert rows <= 3, rows  # the warm-up and the flood share one window: one row, plus a count when it rolls over
    with store.begin() as conn:
        targets = [r.target for r in conn.execute(select(audit_log.c.target))]
    assert max(len(t) for t in targets) <= 200
    assert grown_mib < 64, grown_mib


def test_the_body_limit_setting_is_validated_naming_its_key(tmp_path: Path) -> None:
    from hx.errors import ConfigError

    with pytest.raises(ConfigError, match=r"server\.max_body_bytes"):
        load_settings(environ={"HX_HOME": str(tmp_path), "HX_SERVER__MAX_BODY_BYTES": "10"})
    env = {"HX_HOME": str(tmp_path), "HX_SERVER__MAX_BODY_BYTES": "4096"}
    assert load_settings(environ=env).settings.server.max_body_bytes == 4096


def test_a_self_authenticating_path_skips_only_the_token_check(api: Api) -> None:
    from hx.api import middleware

    path = "/api/v1/whoami"
    middleware.authenticates_itself(path)
    try:
        with httpx.Client(base_url=api.url, timeout=10.0) as c:
            r = c.get(path)  # reaches the route, whose own dependency still refuses it
            assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
            r = c.get(path, params={"x": "\x00"})
            assert r.status_code == 422 and r.json()["field"] == "x"
    finally:
        middleware.SELF_AUTHENTICATING.discard(path)
