"""A surge entering upstream of the service triage focuses on: the incident is a surge, acted on where it enters.

Incidents group a chain's alerts (an alert joins the incident holding a neighbour's), and triage focuses on the
alerting service the root-cause ranking puts first -- under a surge often a saturated callee, whose own features
(memory and latency up, its request rate diluted by its other callers) read as a memory leak or a crash loop.  In
bench/heal.py that sent 5 of 11 surges to a restart of the wrong service."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from hx.heal import triage
from hx.heal.records import AlertRow
from tests.heal.conftest import HealWorld

QUIET = {"request_rate_rel": 0.2, "saturation_post": 0.5, "memory_utilization_post": 0.85, "latency_p99_rel": 1.5}
SURGE = {"request_rate_rel": 3.0, "saturation_post": 0.9, "memory_utilization_post": 0.6, "latency_p99_rel": 2.0}


def _alert(service: str, name: str, now: datetime) -> AlertRow:
    return AlertRow(
        dedup_key=f"k-{service}-{name}", source="api", group_key="", fingerprint=f"{name}:{service}", status="firing",
        name=name, service=service, environment="dev", severity="warning", labels={"service": service},
        annotations={}, starts_at=now, ends_at=None, received_at=now,
    )  # fmt: skip


def test_a_surge_upstream_of_the_focus_is_classified_a_surge_at_its_entry(
    hworld: HealWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = hworld
    graph = w.platform.topology.edges()
    caller = next(s for s, callees in graph.items() if callees)
    callee = graph[caller][0]
    now = w.clock.now()
    w.engine.intake.accept([_alert(caller, "Saturated", now), _alert(callee, "HighCPU", now)])
    w.engine.step(now)  # the alerts are filed: one incident holding both
    (inc,) = w.incidents()

    def features(source: Any, service: str, *args: Any, **kwargs: Any) -> dict[str, float]:
        return dict(SURGE if service == caller else QUIET)

    ranking = [{"service": callee, "metric": "latency_p99", "score": 50.0, "explanation": "x"}]
    monkeypatch.setattr(triage, "incident_features", features)
    monkeypatch.setattr(triage, "rca_candidates", lambda *a, **k: ranking)
    done = w.engine.triage(w.engine.incidents.get(inc.id), now + timedelta(minutes=2))
    assert (done.service, done.incident_class) == (caller, "traffic_surge"), (done.service, done.incident_class)
