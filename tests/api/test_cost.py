from __future__ import annotations

import json
from typing import Any

import numpy as np

from tests.api.conftest import Api


def _cli_document(api: Api, workloads: list[dict[str, Any]], *, fleet: bool) -> dict[str, Any]:
    """What ``hx cost rightsize [--fleet] --json`` prints for these workloads, at the platform's prices."""
    from hx.cost import Prices
    from hx.cost.fleet import WorkloadHistory
    from hx.cost.report import rightsize_report

    cfg = api.platform.settings.intelligent_monitoring.cost_optimization
    histories = {
        w["name"]: WorkloadHistory(
            np.array(w["timestamps"], dtype=float), np.array(w["cpu"], dtype=float),
            np.array(w["memory_gib"], dtype=float), w.get("current_cpu"), w.get("current_memory_gib"),
        )
        for w in workloads
    }  # fmt: skip
    report = rightsize_report(
        histories, {w["name"]: f"workloads[{i}]" for i, w in enumerate(workloads)}, fleet=fleet,
        risk_budget=cfg.risk_budget, prices=Prices(vcpu_hour=cfg.cpu_hour_usd, gib_hour=cfg.gib_hour_usd),
    )  # fmt: skip
    doc: dict[str, Any] = json.loads(json.dumps(report.to_dict()))
    return doc


def test_rightsize_endpoint(api: Api) -> None:
    t = np.arange(0, 3 * 86400.0, 300.0)
    cpu = 0.5 + 0.2 * np.sin(2 * np.pi * t / 86400)
    body = {
        "workloads": [
            {
                "name": "api",
                "timestamps": t.tolist(),
                "cpu": cpu.tolist(),
                "memory_gib": [1.0] * t.size,
                "current_cpu": 4,
                "current_memory_gib": 8,
            }
        ]
    }
    with api.client("operator") as c:
        r = c.post("/api/v1/cost/rightsize", json=body)
        assert r.status_code == 200, r.text
        rec = r.json()["recommendations"][0]
        assert 0.7 <= rec["cpu"] < 4 and rec["monthly_saving_usd"] > 0
        bad = {"workloads": [{**body["workloads"][0], "cpu": [1.0] * 10}]}
        r = c.post("/api/v1/cost/rightsize", json=bad)
        assert r.status_code == 422 and "workloads.0.cpu" in r.json()["field"]
    with api.client("viewer") as c:
        assert c.post("/api/v1/cost/rightsize", json=body).status_code == 403
        r = c.get("/api/v1/cost/rightsizing")
        assert r.status_code == 422  # this platform has no signal source


def test_rightsize_refuses_negative_usage_naming_the_sample(api: Api) -> None:
    usage = {"name": "api", "timestamps": [300.0 * i for i in range(12)], "memory_gib": [1.0] * 12}
    with api.client("operator") as c:
        r = c.post("/api/v1/cost/rightsize", json={"workloads": [{**usage, "cpu": [0.5] * 11 + [-0.5]}]})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == "workloads.0.cpu.11"


def test_rightsize_alone_screens_short_histories_as_the_cli_does(api: Api) -> None:
    """An hour of usage is too little to size from (the CLI refuses it too): named, never recommended; nulls are
    gaps; millisecond timestamps are read as the CLI reads them."""
    t = np.arange(0, 3 * 86400.0, 300.0)
    cpu = (0.5 + 0.2 * np.sin(2 * np.pi * t / 86400)).tolist()
    long = {"name": "long", "timestamps": t.tolist(), "cpu": cpu, "memory_gib": [1.0] * t.size}
    hour = {"name": "hour", "timestamps": t[:12].tolist(), "cpu": [0.5] * 12, "memory_gib": [1.0] * 12}
    with api.client("operator") as c:
        r = c.post("/api/v1/cost/rightsize", json={"workloads": [long, hour]})
        assert r.status_code == 200, r.text
        out = r.json()
        assert [x["workload"] for x in out["recommendations"]] == ["long"] and out["fleet"] is None
        assert out == _cli_document(api, [long, hour], fleet=False)
        assert [s["workload"] for s in out["skipped"]] == ["hour"] and "576" in out["skipped"][0]["reason"]
        r = c.post("/api/v1/cost/rightsize", json={"workloads": [hour]})
        assert r.status_code == 422 and "no workload could be right-sized" in r.json()["detail"]
        assert r.json()["field"] == "workloads"
        # memory in KB where GiB belong: 10^6 x the VM's 8 GiB is a unit error, not a workload to size
        in_kb = {**long, "name": "kb", "memory_gib": [1.0 * 2**20] * t.size, "current_memory_gib": 8}
        out_kb = c.post("/api/v1/cost/rightsize", json={"workloads": [long, in_kb]}).json()
        assert [x["workload"] for x in out_kb["recommendations"]] == ["long"]
        assert "memory_gib peaks at" in out_kb["skipped"][0]["reason"] and "units" in out_kb["skipped"][0]["reason"]
        # a pod at 14 x its CPU request is sized (with a note), not skipped
        over = {**long, "name": "pod", "current_cpu": 0.05}
        rec = c.post("/api/v1/cost/rightsize", json={"workloads": [over]}).json()["recommendations"][0]
        assert rec["cpu"] > 0.05 and any("cpu peaks at 14 x its current 0.05" in n for n in rec["notes"]), rec
        gaps = {**long, "cpu": [None if i % 7 == 0 else v for i, v in enumerate(cpu)]}
        assert c.post("/api/v1/cost/rightsize", json={"workloads": [gaps]}).status_code == 200  # null: a gap
        ms = {**long, "timestamps": (1.7e12 + 1000.0 * t).tolist()}
        got = c.post("/api/v1/cost/rightsize", json={"workloads": [ms]}).json()["recommendations"][0]
        assert got["cpu"] == out["recommendations"][0]["cpu"]
        twice = {**long, "timestamps": [t[0], *t[:-1].tolist()]}  # the first time given twice
        rec = c.post("/api/v1/cost/rightsize", json={"workloads": [twice]}).json()["recommendations"][0]
        assert "1 row repeats an earlier row's time: averaged with it" in rec["notes"]
        r = c.post("/api/v1/cost/rightsize", json={"workloads": [long, long]})
        assert r.status_code == 422 and "'long' is given twice" in r.json()["detail"]


def test_rightsize_fleet_spreads_one_budget_and_reports_it_as_the_cli_does(api: Api) -> None:
    rng = np.random.default_rng(4)
    t = np.arange(0, 4 * 86400.0, 300.0)
    flat = {"name": "flat", "timestamps": t.tolist(), "cpu": (1.0 + 0.01 * rng.standard_normal(t.size)).tolist(),
            "memory_gib": [2.0] * t.size}  # fmt: skip
    spiky = {"name": "spiky", "timestamps": t.tolist(), "cpu": (0.2 + 3.0 * (rng.random(t.size) < 0.03)).tolist(),
             "memory_gib": (1.0 + 0.5 * rng.random(t.size)).tolist()}  # fmt: skip
    short = {"name": "short", "timestamps": t[:100].tolist(), "cpu": [0.5] * 100, "memory_gib": [1.0] * 100}
    with api.client("operator") as c:
        r = c.post("/api/v1/cost/rightsize", json={"workloads": [flat, spiky, short], "fleet": True})
        assert r.status_code == 200, r.text
        out = r.json()
        assert {x["workload"] for x in out["recommendations"]} == {"flat", "spiky"}
        assert [s["workload"] for s in out["skipped"]] == ["short"]  # under two days: named, not sized
        assert out == _cli_document(api, [flat, spiky, short], fleet=True)  # whole: the schema drops nothing
        fleet = out["fleet"]
        assert fleet["risk_budget"] == 0.04 and set(fleet["in_sample"]) == {"cpu", "memory_gib"}
        assert fleet["learn_judge"]["workloads_judged"] == 2
        # the spiky workload takes the risk: sized below its spikes, while the flat one is sized above its level
        rec = {x["workload"]: x for x in out["recommendations"]}
        assert rec["spiky"]["cpu"] < 3.0 and rec["spiky"]["basis"]["method"] == "fleet risk budget"
        assert rec["spiky"]["cpu_risk"] > rec["flat"]["cpu_risk"] and rec["flat"]["cpu"] >= 1.0
        r = c.post("/api/v1/cost/rightsize", json={"workloads": [flat], "risk_budget": 0.05})
        assert r.status_code == 422 and r.json()["field"] == "risk_budget"
        r = c.post("/api/v1/cost/rightsize", json={"workloads": [flat], "vpa_cap": False})
        assert r.status_code == 422 and r.json()["field"] == "vpa_cap"
        assert fleet["vpa_cap"] is True and "budget_allowed" in fleet["in_sample"]["cpu"]
        r = c.post("/api/v1/cost/rightsize", json={"workloads": [flat, spiky], "fleet": True, "vpa_cap": False})
        assert r.status_code == 200 and r.json()["fleet"]["in_sample"]["cpu"]["budget_allowed"] == 0.04
        r = c.post("/api/v1/cost/rightsize", json={"workloads": [flat, flat], "fleet": True})
        assert r.status_code == 422 and "unique" in r.json()["detail"]
