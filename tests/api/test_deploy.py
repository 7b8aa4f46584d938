"""The ai-orchestrator API against the simulated fleet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from hx.api.app import create_app
from hx.deploy.judge import JudgeConfig, judge
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


def test_deployment_lifecycle_over_http(served: tuple[World, str, dict[str, str]]) -> None:
    w, url, tok = served
    svc = w.sim.names[0]
    body = {"service": svc, "version": "v2", "environment": "dev", "strategy": "canary"}
    with httpx.Client(base_url=url, timeout=30) as c:
        assert c.post("/api/v1/deployments", json=body, headers=_h(tok["viewer"])).status_code == 403
        r = c.post("/api/v1/deployments", json={**body, "colour": "blue"}, headers=_h(tok["operator"]))
        assert r.status_code == 422 and r.json()["field"] == "colour"
        r = c.post("/api/v1/deployments", json={**body, "service": "nope"}, headers=_h(tok["operator"]))
        assert r.status_code == 404 and "unknown service" in r.json()["detail"]
        r = c.post("/api/v1/deployments", json=body, headers=_h(tok["operator"]))
        assert r.status_code == 201, r.text
        dep = r.json()
        assert dep["risk"]["factors"] and dep["decision"]["reason"]
        r = c.post("/api/v1/deployments", json={**body, "version": "v3"}, headers=_h(tok["operator"]))
        assert r.status_code == 409
        assert c.post(f"/api/v1/deployments/{dep['id']}/pause", headers=_h(tok["operator"])).json()["state"] == "paused"
        r = c.post(f"/api/v1/deployments/{dep['id']}/approve", headers=_h(tok["approver"]))
        assert r.status_code == 409  # nothing awaits approval
        assert c.post(f"/api/v1/deployments/{dep['id']}/abort", headers=_h(tok["operator"])).status_code == 200
        got = c.get(f"/api/v1/deployments/{dep['id']}", headers=_h(tok["viewer"])).json()
        assert got["steps"] and got["state"] in ("rolling_back", "aborted")


def test_canary_judge_endpoint(served: tuple[World, str, dict[str, str]]) -> None:
    _, url, tok = served
    cfg = {"metrics": [{"name": "latency", "critical": True}]}
    base = [100.0 + (i % 7) for i in range(40)]
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.post(
            "/api/v1/canary/judge",
            headers=_h(tok["operator"]),
            json={"baseline": {"latency": base}, "canary": {"latency": [v * 1.5 for v in base]}, "config": cfg},
        )
        assert r.status_code == 200 and r.json()["status"] == "fail"
        # each side's level in the metric's units, as hx canary judge --json gives it
        assert r.json()["levels"] == {"latency": {"baseline": 103.0, "canary": 154.5}}
        # the whole verdict, nothing dropped by the answer's schema (which the OpenAPI document names)
        want = judge({"latency": np.array(base)}, {"latency": 1.5 * np.array(base)}, JudgeConfig.model_validate(cfg))
        assert {k: v for k, v in r.json().items() if k != "levels"} == json.loads(json.dumps(want.model_dump()))
        ok = c.get("/openapi.json").json()["paths"]["/api/v1/canary/judge"]["post"]["responses"]["200"]
        assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/JudgeAnswer"}
        r = c.post(
            "/api/v1/canary/judge",
            headers=_h(tok["operator"]),
            json={"baseline": {"lat": base}, "canary": {"latency": base}, "config": cfg},
        )
        assert r.status_code == 422 and r.json()["field"] == "baseline.latency"
        r = c.post(
            "/api/v1/canary/judge",
            headers=_h(tok["operator"]),
            json={"baseline": {"latency": base}, "canary": {"latency": []}, "config": cfg},
        )
        assert r.status_code == 422 and r.json()["field"] == "canary.latency"  # as the CLI refuses it
        counts = {"metrics": [{"name": "errors", "kind": "count"}]}
        r = c.post(
            "/api/v1/canary/judge",
            headers=_h(tok["operator"]),
            json={"baseline": {"errors": [0, 1, 0]}, "canary": {"errors": [1, -2, 0]}, "config": counts},
        )
        assert r.status_code == 422 and r.json()["field"] == "canary.errors.1", r.json()
        rated = {"metrics": [{"name": "errors", "kind": "count", "denominator": "requests"}]}
        r = c.post(
            "/api/v1/canary/judge",
            headers=_h(tok["operator"]),
            json={"baseline": {"errors": [0, 1], "requests": [100, 100]},
                  "canary": {"errors": [0, 1], "requests": [100, -100]}, "config": rated},
        )  # fmt: skip
        assert r.status_code == 422 and r.json()["field"] == "canary.requests.1", r.json()


def test_canary_judge_endpoint_takes_the_baselines_history(served: tuple[World, str, dict[str, str]]) -> None:
    _, url, tok = served
    rng = np.random.default_rng(3)
    x = np.empty(1500)
    x[0] = 0.0
    for t in range(1, x.size):
        x[t] = 0.7 * x[t - 1] + rng.standard_normal()
    past, base = (100 + 10 * x[:1440]).tolist(), (100 + 10 * x[1440:]).tolist()
    body = {
        "baseline": {"latency": base},
        "canary": {"latency": base[::-1]},
        "config": {"metrics": [{"name": "latency"}]},
    }
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.post("/api/v1/canary/judge", headers=_h(tok["operator"]), json={**body, "history": {"latency": past}})
        assert r.status_code == 200 and "history_note" not in r.json()
        assert 0.6 < r.json()["metrics"][0]["autocorrelation"] < 0.8
        bad = {**body, "history": {"latency": past}, "history_block_points": 0}
        r = c.post("/api/v1/canary/judge", headers=_h(tok["operator"]), json=bad)
        assert r.status_code == 422 and "history_block_points" in r.json()["field"]
        # a history with none of the metrics is refused, naming what it has (it would change nothing, silently)
        r = c.post("/api/v1/canary/judge", headers=_h(tok["operator"]), json={**body, "history": {"lat": past}})
        assert r.status_code == 422 and r.json()["field"] == "history" and "it has lat" in r.json()["detail"]
        # a history serving one metric of two: the other is judged without it, and the answer says so
        two = {"metrics": [{"name": "latency"}, {"name": "cpu"}]}
        sides = {"baseline": {"latency": base, "cpu": base}, "canary": {"latency": base[::-1], "cpu": base[::-1]}}
        r = c.post("/api/v1/canary/judge", headers=_h(tok["operator"]),
                   json={**sides, "config": two, "history": {"latency": past}})  # fmt: skip
        assert r.status_code == 200 and "has no series for cpu" in r.json()["history_note"], r.json()


def test_canary_judge_endpoint_applies_guards_and_names_bad_settings(
    served: tuple[World, str, dict[str, str]],
) -> None:
    _, url, tok = served
    base, can = [1.0, 2.0, 3.0, 4.0, 5.0], [10.0, 20.0, 30.0, 40.0, 50.0]
    with httpx.Client(base_url=url, timeout=30) as c:
        body = {"baseline": {"latency": base}, "canary": {"latency": can}, "config": {"metrics": [{"name": "latency"}]}}
        r = c.post("/api/v1/canary/judge", headers=_h(tok["operator"]), json=body)
        assert r.status_code == 200 and r.json()["status"] == "fail"
        assert r.json()["metrics"][0]["guard"].startswith("guard: canary fully above baseline")
        bad = {**body, "config": {"metrics": [{"name": "latency", "max_decrease": 1.5}]}}
        r = c.post("/api/v1/canary/judge", headers=_h(tok["operator"]), json=bad)
        assert r.status_code == 422 and "max_decrease" in r.json()["field"]
        for value in (True, "3.5"):  # a boolean is not read as 1, a string is not parsed
            bad = {**body, "canary": {"latency": [value, *can[1:]]}}
            r = c.post("/api/v1/canary/judge", headers=_h(tok["operator"]), json=bad)
            assert r.status_code == 422 and r.json()["field"] == "canary.latency.0", value
