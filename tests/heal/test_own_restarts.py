"""Restarts hx itself made are no evidence of a crash loop.

A runbook's rolling restart moves the service's restart counter as a crash loop does.  In bench/heal.py (rules,
case 9, before memory growth was weighed against the load) frontend was restarted for a "leak" and, 27 minutes
later, a HighCPU alert on it was classified a crash loop from those very restarts (restarts 0 -> 7 in the
feature window): frontend was restarted a second time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from hx.heal import triage
from hx.heal.features import FEATURE_NAMES
from hx.heal.records import AlertRow, Execution
from tests.heal.conftest import HealWorld

#: frontend's features at that second triage (rounded): CPU a little up with its load, 7 restarts in the window.
AFTER_OUR_RESTART = dict.fromkeys(FEATURE_NAMES, 0.0) | {
    "kw_cpu": 1.0, "cpu_utilization_pre": 0.441, "cpu_utilization_post": 0.566, "cpu_utilization_rel": 0.28,
    "memory_utilization_pre": 0.484, "memory_utilization_post": 0.518, "request_rate_pre": 152.0,
    "request_rate_post": 200.8, "request_rate_rel": 0.32, "saturation_pre": 0.434, "saturation_post": 0.574,
    "saturation_rel": 0.32, "restarts_pre": 0.0, "restarts_post": 7.0, "restarts_rel": 50.0,
    "ready_replicas_pre": 7.0, "ready_replicas_post": 7.0, "ready_ratio": 1.0, "deploy_age_min": 999.0,
}  # fmt: skip


def _alert(service: str, name: str, now: datetime) -> AlertRow:
    return AlertRow(
        dedup_key=f"k-{service}-{name}-{now.isoformat()}", source="api", group_key="", fingerprint=f"{name}:{service}",
        status="firing", name=name, service=service, environment="dev", severity="warning",
        labels={"service": service}, annotations={}, starts_at=now, ends_at=None, received_at=now,
    )  # fmt: skip


def _restarted(w: HealWorld, incident_id: int, service: str, at: datetime, n: int) -> None:
    """A finished run of a restart runbook on ``service`` that restarted ``n`` replicas at ``at``."""
    w.engine.executions.insert(Execution(
        id=0, incident_id=incident_id, runbook="restart-leaking-service", target=service, environment="dev",
        state="succeeded", step_index=2, step_started_at=None, step_attempts=0,
        steps=[{"kind": "restart"}, {"kind": "verify"}], on_failure="escalate",
        results=[{"index": 0, "kind": "restart", "ok": True, "at": at.isoformat(),
                  "restarted": [f"{service}-v1-{i}" for i in range(n)], "batch": 2}],
        dry_run=False, reason="", created_at=at - timedelta(minutes=3), updated_at=at, finished_at=at,
    ))  # fmt: skip


@pytest.mark.parametrize(("ours", "expect_crash_loop"), [(7, False), (0, True)], ids=["our restarts", "not ours"])
def test_restarts_hx_made_do_not_read_as_a_crash_loop(
    hworld: HealWorld, monkeypatch: pytest.MonkeyPatch, ours: int, expect_crash_loop: bool
) -> None:
    w = hworld
    service = w.sim.names[0]
    first = w.clock.now()
    w.engine.intake.accept([_alert(service, "MemoryGrowing", first)])
    w.engine.step(first)
    (earlier,) = w.incidents()
    if ours:
        _restarted(w, earlier.id, service, first + timedelta(minutes=3), ours)
    w.engine.resolve_manually(earlier.id, "test", "done")
    now = first + timedelta(minutes=29)
    w.engine.intake.accept([_alert(service, "HighCPU", now)])
    w.engine.step(now)
    inc = next(i for i in w.incidents() if i.id != earlier.id)

    def features(source: Any, svc: str, *args: Any, **kwargs: Any) -> dict[str, float]:
        return dict(AFTER_OUR_RESTART)

    monkeypatch.setattr(triage, "incident_features", features)
    monkeypatch.setattr(triage, "rca_candidates", lambda *a, **k: [])
    done = w.engine.triage(w.engine.incidents.get(inc.id), now + timedelta(minutes=2))
    assert (done.incident_class == "crash_loop") is expect_crash_loop, (done.incident_class, done.features)
    if not expect_crash_loop:
        assert not w.engine.executions.list(incident_id=inc.id), "no restart for a crash loop hx caused itself"
