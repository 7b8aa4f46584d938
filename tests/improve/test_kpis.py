from __future__ import annotations

from datetime import timedelta

from hx.events import AnomalyDetected, IncidentEscalated
from hx.improve import kpis
from hx.platform import Platform
from tests.improve.conftest import T0, add_incident, deployment


def test_kpis_from_the_records_of_the_window(iplatform: Platform) -> None:
    from hx.deploy.records import DeploymentRepo

    repo = DeploymentRepo(iplatform.store)
    f = {"cpu": 0.1}
    repo.insert(deployment(T0 - timedelta(hours=2), f, "canary", minutes=20))
    repo.insert(deployment(T0 - timedelta(hours=1), f, "canary", minutes=40))
    repo.insert(deployment(T0 - timedelta(minutes=30), f, "canary", state="rolled_back", reason="canary failed"))
    repo.insert(deployment(T0 - timedelta(days=30), f, "canary", state="rolled_back"))  # outside the window
    a = add_incident(iplatform, T0 - timedelta(hours=3), "memory_leak", "fixed by runbook restart on api, verified")
    add_incident(iplatform, T0 - timedelta(hours=2), "unknown", "resolved by alice")
    iplatform.bus.publish(IncidentEscalated(incident=a + 1, reason="x", incident_class="unknown"), source="test")
    anomaly = AnomalyDetected(anomaly_id="a", service="api", signal="error_rate", score=0.9, threshold=0.8,
                              observed=1.0, expected_low=None, expected_high=None, detectors=[], components={},
                              at=T0)  # fmt: skip
    iplatform.bus.publish(anomaly, source="test", subject="api")
    v = kpis.compute(kpis.gather(iplatform, T0, 7 * 86400.0))
    assert v["deploy.change_failure_rate"] == 1 / 3
    assert v["deploy.median_rollout_s"] == 30 * 60
    assert v["deploy.per_day"] == 3 / 7
    assert v["heal.mttr_median_s"] == 600.0 and v["heal.mttr_p90_s"] == 600.0
    assert v["heal.auto_resolved_rate"] == 0.5
    assert v["heal.escalation_rate"] == 0.5
    assert v["heal.open_incidents"] == 0.0
    assert v["detect.anomalies_per_day"] == 1 / 7


def test_an_empty_window_has_no_data(iplatform: Platform) -> None:
    v = kpis.compute(kpis.gather(iplatform, T0, 86400.0))
    assert v["deploy.change_failure_rate"] is None and v["heal.mttr_median_s"] is None
    assert v["heal.auto_resolved_rate"] is None and v["detect.anomalies_per_day"] == 0.0


def test_a_predicted_incident_fixed_by_a_runbook_counts_as_healed_but_not_for_mttr(iplatform: Platform) -> None:
    from dataclasses import replace

    from hx.heal.records import IncidentRepo
    from tests.improve.conftest import incident

    inc = incident(T0 - timedelta(hours=1), {}, "memory_leak", "fixed by runbook restart on api, verified")
    IncidentRepo(iplatform.store).insert(replace(inc, kind="predicted"))
    v = kpis.compute(kpis.gather(iplatform, T0, 86400.0))
    assert v["heal.auto_resolved_rate"] == 1.0 and v["heal.mttr_median_s"] is None


def test_an_incident_merged_into_another_is_not_counted(iplatform: Platform) -> None:
    """A merged incident is part of the one it joined: neither its seconds-long 'MTTR' nor its resolution counts."""
    add_incident(iplatform, T0 - timedelta(hours=3), "memory_leak", "fixed by runbook restart on api, verified")
    add_incident(iplatform, T0 - timedelta(hours=2), "unknown", "merged into incident 1")
    v = kpis.compute(kpis.gather(iplatform, T0, 86400.0))
    assert v["heal.auto_resolved_rate"] == 1.0 and v["heal.mttr_median_s"] == 600.0
