"""The dashboards' pages, assets and JSON routes on a live server (no browser): what each route computes from
recorded events, who may read it, and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from hx.events import AnomalyDetected, PlacementDecided, ScalingDecided
from hx.improve import kpis
from hx.platform import Platform
from tests.api.conftest import Api


def _record(platform: Platform) -> None:
    at = platform.clock.now()
    platform.bus.publish(
        AnomalyDetected(anomaly_id="a-1", service="api", signal="error_rate", score=0.97, threshold=0.8, observed=0.2,
                        expected_low=0.0, expected_high=0.01, detectors=["x"], components={"seasonal": 0.97}, at=at),
        source="test", subject="api",
    )  # fmt: skip
    platform.bus.publish(
        PlacementDecided(workloads=3, total_usd_per_hour=1.5, compute_usd_per_hour_by_cloud={"aws": 1.0, "gcp": 0.4},
                         egress_usd_per_hour=0.1, status="optimal", mip_gap=0.0, where={"aws": ["a"]},
                         greedy_usd_per_hour=2.0, savings_vs_greedy_pct=25.0),
        source="test",
    )  # fmt: skip
    platform.bus.publish(
        ScalingDecided(service="api", at=at, current_replicas=2, replicas=3, demand=40.0, mode="recommend",
                       forecast={"from": at.isoformat(), "mean_max": 45.0, "upper_max": 60.0, "model": "hw"}),
        source="test", subject="api",
    )  # fmt: skip


def test_pages_and_assets_need_no_token_but_every_figure_does(api: Api) -> None:
    for page in ("executive", "operations", "aiml", "cost"):
        r = httpx.get(f"{api.url}/dashboard/{page}")
        assert r.status_code == 200 and "/dashboard/static/plotly.min.js" in r.text, page
        assert "https://" not in r.text.split("<body")[0]  # no CDN
        assert httpx.get(f"{api.url}/api/v1/dashboard/{page}").status_code == 401
    js = httpx.get(f"{api.url}/dashboard/static/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert js.status_code == 200 and js.headers["content-encoding"] == "gzip"
    assert len(js.content) > 1_000_000 and b"plotly.js" in js.content[:2000]  # httpx decoded it
    raw = httpx.get(f"{api.url}/dashboard/static/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers and raw.content == js.content
    for bad in ("/dashboard/nope", "/dashboard/static/../page.html", "/dashboard/static/secret.key"):
        assert httpx.get(api.url + bad).status_code == 404, bad


def test_a_viewer_reads_each_route_computed_from_the_records(api: Api) -> None:
    _record(api.platform)
    with api.client("viewer") as c:
        ex = c.get("/api/v1/dashboard/executive").json()
        ops = c.get("/api/v1/dashboard/operations", params={"service": "api"}).json()
        ml = c.get("/api/v1/dashboard/aiml").json()
        cost = c.get("/api/v1/dashboard/cost").json()
    assert [k["name"] for k in ex["kpis"]] == list(kpis.KPIS)
    assert all(len(k["t"]) == len(k["values"]) == 12 for k in ex["kpis"])
    gated = {k["name"]: k["gate"] for k in ex["kpis"] if k["gate"]}
    assert gated["deploy.change_failure_rate"]["max"] == 0.15
    why = {k["name"]: k["no_data"] for k in ex["kpis"]}  # what a KPI without a value lacked, as the gates say it
    assert why["heal.mttr_median_s"] is not None and "predicted" in why["heal.mttr_median_s"]
    verdict = {k["name"]: k["status"] for k in ex["kpis"]}
    assert verdict["heal.mttr_median_s"] == "no_data" and all(verdict[n] is None for n in why if n not in gated)
    assert ex["savings"][0]["savings_vs_greedy_pct"] == 25.0 and "availability / SLO attainment" in ex["not_measured"]
    assert [m["label"] for m in ops["marks"]] == ["anomaly error_rate score 0.97", "scale 2 -> 3 (recommend)"]
    assert ops["anomalies"][0]["anomaly_id"] == "a-1" and ops["signals"] == []
    assert ops["signal_notes"] == ["this component has no signal source (telemetry.source)"]
    assert ml["scores"]["raised"] == [0.97] and ml["scores"]["components"] == {"seasonal": [0.97]}
    assert ml["forecasts"]["api"]["demand"] == [40.0] and ml["forecasts"]["api"]["upper_max"] == [60.0]
    assert cost["placements"][0]["compute_usd_per_hour_by_cloud"] == {"aws": 1.0, "gcp": 0.4}


def test_the_window_is_bounded_and_needs_a_zone(api: Api) -> None:
    _record(api.platform)
    with api.client("viewer") as c:
        assert c.get("/api/v1/dashboard/aiml", params={"hours": 0}).status_code == 422
        assert c.get("/api/v1/dashboard/aiml", params={"hours": 24 * 32}).status_code == 422
        naive = c.get("/api/v1/dashboard/aiml", params={"until": "2026-03-03T12:00:00"})
        assert (
            naive.status_code == 422
            and "until" in naive.text
            and naive.headers["content-type"].startswith("application/problem+json")
        )
        past = c.get("/api/v1/dashboard/aiml", params={"until": datetime(2020, 1, 1, tzinfo=UTC).isoformat()}).json()
    assert past["scores"]["raised"] == [] and past["latest_event_at"] is not None


def test_operations_shows_each_anomalys_label_and_the_quiet_rules_ahead(api: Api) -> None:
    _record(api.platform)
    with api.client("operator") as op:
        r = op.post("/api/v1/anomalies/a-1/label", json={"verdict": "false_positive", "note": "load test"})
        assert r.status_code == 200, r.text
        freeze = op.post("/api/v1/freezes", json={"service": "api", "duration_s": 3600, "reason": "release"}).json()
        later = datetime.fromisoformat(freeze["ends_at"]).isoformat()
        upcoming = op.post("/api/v1/silences", json={"starts_at": later, "duration_s": 60, "reason": "later"}).json()
        gone = op.post("/api/v1/maintenance", json={"duration_s": 60, "reason": "gone"}).json()
        assert op.delete(f"/api/v1/maintenance/{gone['id']}").status_code == 200
    with api.client("viewer") as c:
        ops = c.get("/api/v1/dashboard/operations", params={"service": "api"}).json()
        ex = c.get("/api/v1/dashboard/executive").json()
    label = ops["anomalies"][0]["label"]
    assert label["verdict"] == "false_positive" and label["note"] == "load test"
    assert label["labelled_by"].endswith(":test-operator")
    shown = [(q["id"], q["kind"], q["state"], q["segment"]) for q in ops["quiet"]]
    assert shown == [(freeze["id"], "freeze", "active", "freezes"), (upcoming["id"], "silence", "upcoming", "silences")]
    assert ops["quiet"][0]["created_by"].endswith(":test-operator") and ops["quiet"][0]["reason"] == "release"
    assert ops["refusals"] == []  # a rollout refused by a freeze: tests/dashboard/test_browser.py
    precision = next(k for k in ex["kpis"] if k["name"] == "detect.precision")
    assert precision["gate"]["min"] == 0.95 and precision["values"][-1] == 0.0
    assert precision["status"] == "fail"  # the gate's verdict comes from the server (hx.improve.gates.evaluate)
