from __future__ import annotations

import json
from typing import Any

import httpx
import pyotp
import pytest

from hx.platform import Platform
from tests.api.conftest import Api


def test_malformed_body_is_422_problem_naming_the_field(api: Api) -> None:
    with api.client("admin") as c:
        r = c.post("/api/v1/tokens", json={"name": "x", "role": "superuser"})
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == "role"
        r = c.post("/api/v1/tokens", json={"name": "x", "role": "viewer", "extra": 1})
        assert r.status_code == 422 and r.json()["field"] == "extra"
        r = c.post("/api/v1/tokens", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == "body"
        assert r.json()["detail"].startswith("body: not valid JSON at character 1: "), r.json()["detail"]


def test_mutations_are_audited_with_actor_and_outcome(api: Api) -> None:
    with api.client("admin") as c:
        assert c.post("/api/v1/tokens", json={"name": "ci", "role": "operator"}).status_code == 201
        assert c.post("/api/v1/tokens", json={"name": "ci"}).status_code == 422
        recs = c.get("/api/v1/audit").json()["records"]
    mine = [r for r in recs if r["action"] == "POST /api/v1/tokens"]
    assert [r["outcome"] for r in mine] == ["ok", "http_422"]
    assert all(r["actor"].startswith("token:") for r in mine)
    assert api.platform.audit.verify().ok


def test_admin_token_creation_needs_totp(api: Api) -> None:
    with api.client("admin") as c:
        r = c.post("/api/v1/tokens", json={"name": "root2", "role": "admin"})
        assert r.status_code == 403 and "second factor" in r.json()["title"]
        me = c.get("/api/v1/whoami").json()
        secret = c.post(f"/api/v1/tokens/{me['id']}/mfa").json()["secret"]
        code = pyotp.TOTP(secret).now()
        r = c.post("/api/v1/tokens", json={"name": "root2", "role": "admin"}, headers={"X-HX-OTP": code})
        assert r.status_code == 201, r.text


def test_events_list_and_stream(api: Api) -> None:
    from hx.events import IncidentOpened, IncidentResolved

    bus = api.platform.bus
    first = bus.publish(IncidentOpened(incident_class="history"), source="test", subject="api")
    with api.client("viewer") as c:
        r = c.get("/api/v1/events", params={"type": "incident.*"}).json()
        assert [e["id"] for e in r["events"]] == [first.id]
        r = c.get("/api/v1/events", params={"type": "incident.opend"})
        assert r.status_code == 422 and r.json()["field"] == "type" and "incident.opened" in r.json()["detail"]
        assert c.get("/api/v1/events/stream", params={"type": "nope"}).status_code == 422
        resolved = IncidentResolved(incident=1, environment="dev", status="resolved", incident_class="history",
                                    by="test", reason="done", mttr_s=None)  # fmt: skip
        bus.publish(resolved, source="test", subject="api")
        got = []
        with c.stream("GET", "/api/v1/events/stream", params={"after": 0, "max_events": 2}) as s:
            for line in s.iter_lines():
                if line.startswith("data: "):
                    got.append(json.loads(line[6:])["type"])
        assert got == ["incident.opened", "incident.resolved"]


def test_unknown_route_is_404_problem(api: Api) -> None:
    r = httpx.get(api.url + "/nope")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


def test_an_unexpected_error_is_a_500_problem_and_is_not_swallowed(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from hx.api import app as app_module
    from hx.api.app import create_app
    from tests.support.live import live_server

    def broken(*_args: object) -> tuple[int, dict[str, object]]:
        raise RuntimeError("health probe bug")

    monkeypatch.setattr(app_module, "health_report", broken)
    with live_server(create_app(platform)) as url:
        r = httpx.get(f"{url}/health", timeout=10)
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "internal error" and "RuntimeError" in r.json()["detail"]
    assert "health probe bug" in caplog.text  # logged with its traceback, for whoever runs the server


def test_a_refused_call_is_audited_before_its_answer_arrives(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit row was written after the answer's last byte: a caller reading the audit right after a 422 could
    miss it (CI did, once). With a slow audit store, each refusal's row is there as soon as its answer is."""
    import time

    audit = api.platform.audit
    write = audit.append

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.1)
        return write(*args, **kwargs)

    monkeypatch.setattr(audit, "append", slow)
    with api.client("admin") as c:
        for i in range(5):
            assert c.post("/api/v1/tokens", json={"name": f"x{i}"}).status_code == 422
            recs = c.get("/api/v1/audit").json()["records"]
            refused = [r for r in recs if r["action"] == "POST /api/v1/tokens" and r["outcome"] == "http_422"]
            assert len(refused) == i + 1, (i, len(refused))
