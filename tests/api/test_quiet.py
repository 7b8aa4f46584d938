"""Silences, maintenance windows and freezes over HTTP; a freeze refuses a rollout, naming itself (audited)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from hx.api.app import create_app
from hx.security.roles import Role
from tests.deploy.conftest import World, make_world
from tests.support.live import live_server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[World, str, dict[str, str]]]:
    w = make_world(tmp_path / "hx")
    tokens = {r.value: w.platform.tokens.create(f"t-{r.value}", r)[0] for r in Role}
    with live_server(create_app(w.platform, runtime=w.runtime)) as url:
        yield w, url, tokens
    w.platform.store.dispose()


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_freeze_refuses_a_rollout_naming_the_freeze_and_both_are_audited(
    served: tuple[World, str, dict[str, str]],
) -> None:
    w, url, tok = served
    svc = w.sim.names[0]
    until = (w.clock.now() + timedelta(hours=4)).isoformat()
    freeze = {"service": svc, "environment": "dev", "ends_at": until, "reason": "quarter-end close"}
    dep = {"service": svc, "version": "v2", "environment": "dev", "strategy": "canary"}
    with httpx.Client(base_url=url, timeout=30) as c:
        assert c.post("/api/v1/freezes", json=freeze, headers=_h(tok["viewer"])).status_code == 403
        r = c.post("/api/v1/freezes", json=freeze, headers=_h(tok["operator"]))
        assert r.status_code == 201, r.text
        fid = r.json()["id"]
        r = c.post("/api/v1/deployments", json=dep, headers=_h(tok["operator"]))
        assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["freeze"] == fid and "quarter-end close" in r.json()["detail"]
        other = c.post("/api/v1/deployments", json={**dep, "service": w.sim.names[1]}, headers=_h(tok["operator"]))
        assert other.status_code == 201, other.text  # the freeze is scoped to one service
        active = c.get("/api/v1/freezes", params={"active": True}, headers=_h(tok["viewer"])).json()["freezes"]
        assert [f["id"] for f in active] == [fid]
        assert c.delete(f"/api/v1/silences/{fid}", headers=_h(tok["operator"])).status_code == 404
        assert c.delete(f"/api/v1/freezes/{fid}", headers=_h(tok["operator"])).json()["removed_at"] is not None
        assert c.post("/api/v1/deployments", json=dep, headers=_h(tok["operator"])).status_code == 201
    actions = [(a.action, a.outcome) for a in w.platform.audit.records(limit=1000)]
    assert ("freeze.add", "ok") in actions and ("freeze.remove", "ok") in actions
    assert ("deployment.refused", "refused") in actions
    refused = next(a for a in w.platform.audit.records(limit=1000) if a.action == "deployment.refused")
    assert refused.detail["freeze"] == fid and refused.actor.endswith("t-operator")


def test_quiet_rules_are_validated_and_listed(served: tuple[World, str, dict[str, str]]) -> None:
    w, url, tok = served
    now = w.clock.now()
    with httpx.Client(base_url=url, timeout=30, headers=_h(tok["operator"])) as c:
        r = c.post("/api/v1/silences", json={"ends_at": (now - timedelta(hours=1)).isoformat(), "reason": "x"})
        assert r.status_code == 422 and r.json()["field"] == "ends_at"
        r = c.post("/api/v1/silences", json={"ends_at": "2026-03-03T12:00:00", "reason": "naive time"})
        assert r.status_code == 422 and r.json()["field"] == "ends_at"
        r = c.post("/api/v1/maintenance", json={"ends_at": (now + timedelta(hours=1)).isoformat(), "reason": ""})
        assert r.status_code == 422 and r.json()["field"] == "reason"
        later = {"starts_at": (now + timedelta(hours=2)).isoformat(), "ends_at": (now + timedelta(hours=3)).isoformat()}
        assert (
            c.post("/api/v1/maintenance", json={**later, "reason": "db upgrade", "alert": "HighCPU"}).status_code == 201
        )
        assert c.get("/api/v1/maintenance", params={"active": True}).json()["maintenance"] == []
        rules = c.get("/api/v1/quiet").json()["rules"]
        assert [(q["kind"], q["alert"], q["created_by"]) for q in rules] == [
            ("maintenance", "HighCPU", rules[0]["created_by"])
        ]
        assert rules[0]["created_by"].endswith("t-operator")
