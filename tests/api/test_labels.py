"""Anomaly labels over HTTP: role-checked, audited, replaceable; detection precision and its gate come from them."""

from __future__ import annotations

from datetime import timedelta

from hx.events import AnomalyDetected, AnomalyResolved
from hx.improve.cycle import ImprovementCycle
from hx.platform import Platform
from tests.api.conftest import Api


def _anomaly(p: Platform, aid: str, signal: str, score: float) -> None:
    a = AnomalyDetected(anomaly_id=aid, service="api", signal=signal, score=score, threshold=0.8, observed=3.0,
                        expected_low=0.0, expected_high=1.0, detectors=["robust"], components={"robust": score},
                        at=p.clock.now())  # fmt: skip
    p.bus.publish(a, source="anomaly-detector", subject="api")


def test_label_anomalies_and_measure_precision(api: Api) -> None:
    p = api.platform
    _anomaly(p, "a1", "latency_p95", 0.97)
    _anomaly(p, "a2", "error_rate", 0.82)
    p.bus.publish(AnomalyResolved(anomaly_id="a1", service="api", signal="latency_p95", peak_score=0.99),
                  source="anomaly-detector", subject="api")  # fmt: skip
    with api.client("viewer") as c:
        assert c.post("/api/v1/anomalies/a1/label", json={"verdict": "true_positive"}).status_code == 403
    with api.client("operator") as c:
        r = c.post("/api/v1/anomalies/a1/label", json={"verdict": "true_positive", "note": "real outage"})
        assert r.status_code == 200, r.text
        assert r.json()["score"] == 0.99 and r.json()["verdict"] == "true_positive"  # the peak, once resolved
        assert c.post("/api/v1/anomalies/a2/label", json={"verdict": "true_positive"}).status_code == 200
        r = c.post("/api/v1/anomalies/a2/label", json={"verdict": "false_positive", "note": "batch job"})
        assert r.json()["verdict"] == "false_positive"  # a second label replaces the first
        r = c.post("/api/v1/anomalies/nope/label", json={"verdict": "true_positive"})
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
        r = c.post("/api/v1/anomalies/a1/label", json={"verdict": "maybe"})
        assert r.status_code == 422 and r.json()["field"] == "verdict"
    with api.client("viewer") as c:
        labels = c.get("/api/v1/anomaly-labels").json()["labels"]
    assert sorted((x["anomaly_id"], x["verdict"]) for x in labels) == [
        ("a1", "true_positive"),
        ("a2", "false_positive"),
    ]
    audited = [a for a in p.audit.records(limit=1000) if a.action == "anomaly.label"]
    assert [a.detail["replaced"] for a in audited] == [False, False, True]
    assert audited[0].actor.endswith("test-operator") and audited[0].detail["note"] == "real outage"

    report = ImprovementCycle(p, learners=[]).run(p.clock.now() + timedelta(seconds=1), train=False)
    assert report["kpis"]["detect.precision"] == 0.5
    gate = next(g for g in report["gates"] if g["metric"] == "detect.precision")
    assert gate["status"] == "fail" and "threshold" in gate["advice"]
    review = report["detector"]
    assert review["labelled"] == 2 and review["by_signal"]["error_rate"]["precision"] == 0.0
    assert review["suggested_threshold"] == 0.99  # at 0.99 only the true positive remains
