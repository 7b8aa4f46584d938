"""multi-cloud routes against a live server whose platform runs a simulated fleet in simulated time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.routing import APIRoute

from hx.api.app import create_app
from hx.api.routers import cloud
from hx.clock import SimClock
from hx.cloud.catalog import Catalog
from hx.cloud.terraform import schema_errors
from hx.cloud.workload import example_estate_path
from hx.config import Settings
from hx.events import CostReport, DrDrill, PlacementDecided
from hx.platform import Platform, bootstrap_admin, build_platform
from hx.security.roles import Role
from hx.sim import SimActuator, Simulation, make_fleet
from hx.wiring import embed_sim
from tests.api.conftest import Api
from tests.support.live import live_server

EU = {str(r.location) for r in Catalog.builtin().regions(jurisdiction="EU")}


@contextmanager
def _serve(platform: Platform) -> Iterator[Api]:
    tokens = {"admin": (bootstrap_admin(platform) or Path()).read_text().strip()}
    for role in (Role.VIEWER, Role.OPERATOR):
        tokens[role.value], _ = platform.tokens.create(f"test-{role.value}", role)
    app = create_app(platform)
    if not any(isinstance(r, APIRoute) and r.path == "/api/v1/placement" for r in app.routes):
        app.include_router(cloud.router)  # until the component table names the router
    with live_server(app) as url:
        yield Api(url, platform, tokens)


@pytest.fixture
def sim_api(settings: Settings) -> Iterator[Api]:
    clock = SimClock(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
    sim = Simulation(make_fleet(2, seed=1), clock=clock, step_s=10.0, history_mb=4.0)
    platform = build_platform(settings, clock=clock, actuator=SimActuator(sim))
    embed_sim(platform, sim)
    with _serve(platform) as api:
        yield api
    platform.store.dispose()


def _estate() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(example_estate_path().read_text())
    return doc


def test_catalog_reads_for_viewers_and_roles_enforced(sim_api: Api) -> None:
    with sim_api.client("viewer") as c:
        clouds = c.get("/api/v1/catalog/clouds").json()["clouds"]
        assert [x["name"] for x in clouds] == ["aws", "azure", "gcp"]
        regions = c.get("/api/v1/catalog/regions", params={"cloud": "gcp", "jurisdiction": "EU"}).json()["regions"]
        assert regions and all(r["cloud"] == "gcp" and r["jurisdiction"] == "EU" for r in regions)
        types = c.get("/api/v1/catalog/instance-types", params={"cloud": "aws", "min_vcpus": 8, "min_memory_gib": 32})
        assert all(t["vcpus"] >= 8 and t["memory_gib"] >= 32 for t in types.json()["instance_types"])
        r = c.get("/api/v1/catalog/regions", params={"cloud": "oracle"})
        assert r.status_code == 422 and "oracle" in r.json()["detail"]
        assert c.get("/api/v1/catalog/instance-types", params={"min_vcpus": -1}).status_code == 422
        assert c.post("/api/v1/placement", json={"estate": _estate()}).status_code == 403
    with sim_api.client() as anon:
        assert anon.get("/api/v1/catalog/clouds").status_code == 401


def test_placement_keeps_eu_workloads_in_the_eu_and_names_infeasible_constraints(sim_api: Api) -> None:
    with sim_api.client("operator") as c:
        r = c.post("/api/v1/placement", json={"estate": _estate()})
        assert r.status_code == 200, r.text
        out = r.json()
        by = {a["workload"]: a for a in out["plan"]["assignments"]}
        for name in ("checkout-api", "orders-db"):
            assert {p["location"] for p in by[name]["placements"]} <= EU
        assert by["checkout-api"]["explanation"]["rejected"]["residency"] > 0
        cmp = out["comparison"]
        assert out["plan"]["total_usd_per_hour"] <= cmp["greedy_usd_per_hour"]
        assert cmp["best_single_cloud"] in ("aws", "azure", "gcp")
        events = sim_api.platform.bus.read(types=[PlacementDecided], limit=10)
        assert len(events) == 1 and events[0].data["where"]["orders-db"] == [
            p["location"] for p in by["orders-db"]["placements"]
        ]
        sydney = {"name": "x", "vcpus": 2, "memory_gib": 4, "jurisdictions": ["EU"]}
        sydney["latency"] = [{"lat": -33.87, "lon": 151.21, "max_ms": 20}]
        r = c.post("/api/v1/placement", json={"estate": {"workloads": [sydney]}})
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["constraint"] == "latency" and r.json()["workload"] == "x"
        r = c.post(
            "/api/v1/placement", json={"estate": {"workloads": [dict(sydney, latency=[], regions=["aws:mars-1"])]}}
        )
        assert r.status_code == 422 and "aws:mars-1" in r.json()["detail"]
        r = c.post("/api/v1/placement", json={"estate": _estate(), "solver": "cplex"})
        assert r.status_code == 422 and r.json()["field"] == "solver"
        bad = _estate()
        bad["workloads"][0]["vcpus"] = -2
        r = c.post("/api/v1/placement", json={"estate": bad})
        assert r.status_code == 422 and "vcpus" in r.json()["field"]


def test_terraform_documents_parse_and_pass_the_schema_check(sim_api: Api) -> None:
    with sim_api.client("operator") as c:
        r = c.post("/api/v1/terraform", json={"estate": _estate()})
        assert r.status_code == 200, r.text
        docs = r.json()["documents"]
        assert set(docs) == {"aws", "azure", "gcp"}
        for cloud_name, d in docs.items():
            assert d["file"] == f"hx-{cloud_name}.tf.json" and d["schema_errors"] == []
            assert schema_errors(d["document"]) == [] and d["document"]["resource"]
        plan = c.post("/api/v1/placement", json={"estate": _estate()}).json()["plan"]
        again = c.post("/api/v1/terraform", json={"plan": plan}).json()["documents"]
        assert again == docs
        plan["assignments"][0]["placements"][0]["instance_type"] = "m99.huge"
        r = c.post("/api/v1/terraform", json={"plan": plan})
        assert r.status_code == 422 and "m99.huge" in r.json()["detail"]
        assert c.post("/api/v1/terraform", json={}).status_code == 422


def _finished(c: httpx.Client, r: httpx.Response) -> dict[str, Any]:
    """The result of the drill job a POST started (202 + its URL), once the job is done."""
    assert r.status_code == 202, r.text
    url = r.headers["location"]
    assert r.json()["url"] == url and r.json()["state"] in ("queued", "running", "done")
    deadline = time.monotonic() + 60
    while (job := c.get(url).json())["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    assert job["state"] == "done", job
    assert any(j["id"] == job["id"] for j in c.get("/api/v1/dr/drills").json()["jobs"])
    result: dict[str, Any] = job["result"]
    return result


def test_dr_plans_drill_on_the_platform_sim_and_cost_report(sim_api: Api) -> None:
    actuator = sim_api.platform.actuator
    assert isinstance(actuator, SimActuator)
    sim = actuator.sim
    with sim_api.client("operator") as c:
        plans = c.post("/api/v1/dr/plans", json={"estate": _estate()}).json()["plans"]
        assert {p["workload"]: p["strategy"] for p in plans}["checkout-api"] == "warm_standby"
        t0 = sim_api.platform.clock.now()
        r = c.post("/api/v1/dr/drills", json={"estate": _estate(), "workload": "checkout-api", "failback": False})
        out = _finished(c, r)
        assert out["target"] == "platform-sim" and out["ok"] and out["met"]
        assert 0 < out["achieved_rto_s"] <= out["target_rto_s"] == 300
        assert (sim_api.platform.clock.now() - t0).total_seconds() >= out["achieved_rto_s"]
        assert out["standby_version"] in sim.versions(out["service"])
        events = sim_api.platform.bus.read(types=[DrDrill], limit=10)
        assert events[-1].data["met"] is True and events[-1].subject == "checkout-api"
        r = c.post("/api/v1/dr/drills", json={"estate": _estate(), "workload": "nope"})
        assert r.status_code == 422 and "nope" in r.json()["detail"]
        r = c.post("/api/v1/dr/drills", json={"estate": _estate(), "workload": "orders-db", "service": "ghost"})
        assert r.status_code == 422 and "ghost" in r.json()["detail"]
        est = _estate()
        est["current"] = {w["name"]: "aws:us-east-1" for w in est["workloads"]}
        rep = c.post("/api/v1/cost/report", json={"estate": est, "price_changes": {"aws": 10}}).json()
        assert rep["optimal_total_usd_per_hour"] > 0 and "aws prices +10%" in [w["name"] for w in rep["what_if"]]
        assert sim_api.platform.bus.read(types=[CostReport], limit=10)


def test_drill_without_a_sim_actuator_runs_on_a_fresh_fleet(platform: Platform) -> None:
    with _serve(platform) as api, api.client("operator") as c:
        r = c.post("/api/v1/dr/drills", json={"estate": _estate(), "workload": "orders-db"})
        out = _finished(c, r)
        assert out["target"] == "fresh-sim" and out["strategy"] == "pilot_light" and out["met"]
