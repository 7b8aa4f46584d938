"""The timeline without a signal source, and deploy/incident annotations in the shape Grafana's Infinity reads."""

from __future__ import annotations

from hx.events import DeploymentRequested, IncidentEscalated, ScalingDecided
from tests.api.conftest import Api


def test_timeline_and_annotations(api: Api) -> None:
    p = api.platform
    dep = DeploymentRequested(deployment=1, version="v2", environment="dev", state="running", requested_by="me",
                              change={})  # fmt: skip
    p.bus.publish(dep, source="ai-orchestrator", subject="api")
    p.bus.publish(IncidentEscalated(incident=3, reason="no runbook", incident_class="unknown"), source="self-healing",
                  subject="api")  # fmt: skip
    p.bus.publish(ScalingDecided(service="api", replicas=4), source="predictive-scaler", subject="api")
    p.bus.publish(ScalingDecided(service="web", replicas=2), source="predictive-scaler", subject="web")
    with api.client("viewer") as c:
        t = c.get("/api/v1/timeline", params={"subject": "api"}).json()
        assert [e["kind"] for e in t["entries"]] == ["deploy", "incident", "scaling"] and t["series"] is None
        assert "replicas=4" in t["entries"][-1]["summary"]
        now_ms = int(p.clock.now().timestamp() * 1000)
        span = {"from": now_ms - 60_000, "to": now_ms + 60_000}
        deploys = c.get("/api/v1/annotations", params={"kind": "deploy", **span}).json()
        assert [(a["title"], a["tags"][0]) for a in deploys] == [("deployment.requested api", "deploy")]
        assert abs(deploys[0]["time"] - now_ms) < 60_000
        incidents = c.get("/api/v1/annotations", params={"kind": "incident", **span}).json()
        assert incidents[0]["text"].startswith("incident.escalated") and "reason=no runbook" in incidents[0]["text"]
        r = c.get("/api/v1/annotations", params={"kind": "deploy", "from": now_ms, "to": now_ms - 1})
        assert r.status_code == 422 and r.json()["field"] == "from"
        assert c.get("/api/v1/annotations", params={"kind": "cost", **span}).status_code == 422
        r = c.get("/api/v1/timeline", params={"subject": "api", "since": "2026-01-01T00:00:00"})
        assert r.status_code == 422  # a time without its zone
