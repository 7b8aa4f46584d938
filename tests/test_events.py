from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import insert

from hx.errors import BadInput
from hx.events import (
    AnomalyDetected,
    AnomalyResolved,
    DeploymentPayload,
    DeploymentRequested,
    Event,
    EventBus,
    EventType,
    IncidentOpened,
    ModelTrained,
    Payload,
    ScalingDecided,
    payload_class,
    payload_classes,
)
from hx.store import Store
from hx.store.tables import events as events_table

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

# One valid payload per event type, every field given (the contract test publishes each and reads it back).
SAMPLES: dict[EventType, dict[str, Any]] = {
    EventType.RUNTIME_STARTED: {"engines": ["detect", "heal"]},
    EventType.RUNTIME_STEP_FAILED: {"engine": "detect", "error": "TelemetryError: down"},
    EventType.ANOMALY_DETECTED: {
        "anomaly_id": "a1",
        "service": "api",
        "signal": "error_rate",
        "score": 0.97,
        "threshold": 0.9,
        "observed": 0.31,
        "expected_low": 0.0,
        "expected_high": 0.02,
        "detectors": ["ewma"],
        "components": {"ewma": 0.97},
        "at": AT,
    },
    EventType.ANOMALY_RESOLVED: {
        "anomaly_id": "a1",
        "service": "api",
        "signal": "error_rate",
        "peak_score": 0.99,
        "observed": 0.01,
        "duration_s": 600.0,
        "at": AT,
        "reason": None,
    },
    EventType.ANOMALY_NO_DATA: {"service": "api", "signal": "error_rate", "reason": "no samples", "at": AT},
    EventType.ANOMALY_EXPLAINED: {
        "service": "api",
        "signal": "cpu_utilization",
        "score": 0.91,
        "threshold": 0.8,
        "observed": 0.7,
        "expected_low": 0.2,
        "expected_high": 0.4,
        "explained_by": "scaling.acted #7: scale in 5 -> 3",
        "action_event": 7,
        "until": AT,
        "at": AT,
    },
    EventType.DEPLOYMENT_REQUESTED: {"requested_by": "token:1:ci", "change": {"image": "api:2"}},
    EventType.DEPLOYMENT_DECIDED: {"strategy": "canary", "risk": {"score": 0.2}, "decision": {"by": "model"}},
    EventType.DEPLOYMENT_STEP: {"step": {"kind": "traffic"}, "phase": "forward", "index": 2},
    EventType.DEPLOYMENT_ANALYSIS: {
        "status": "pass",
        "step_index": 3,
        "window": [AT, AT],
        "baseline": "v1",
        "canary": "v2",
        "basis": "versions",
        "score": 0.98,
        "metrics": [{"name": "error_rate"}],
        "sequential": {"look": 1},
        "error": None,
    },
    EventType.DEPLOYMENT_AWAITING_APPROVAL: {"reason": "production"},
    EventType.DEPLOYMENT_APPROVED: {"by": "token:2:ops", "at": AT, "step_index": 4},
    EventType.DEPLOYMENT_PAUSED: {"by": "token:2:ops", "reason": None},
    EventType.DEPLOYMENT_RESUMED: {"by": "token:2:ops"},
    EventType.DEPLOYMENT_PROMOTED: {"reason": ""},
    EventType.DEPLOYMENT_ROLLED_BACK: {"reason": "canary failed", "stage": "started"},
    EventType.DEPLOYMENT_ABORTED: {"reason": "aborted by ops"},
    EventType.DEPLOYMENT_FAILED: {"error": "timeout", "needs": "a person: the rollback failed"},
    EventType.INCIDENT_OPENED: {
        "incident": 7,
        "environment": "dev",
        "status": "open",
        "class": "unknown",
        "alert": "HighErrors",
        "labels": {"service": "api"},
        "first_broken": None,
        "reason": None,
    },
    EventType.INCIDENT_UPDATED: {
        "incident": 7,
        "environment": "dev",
        "status": "open",
        "class": "unknown",
        "alert": "HighErrors",
        "alert_service": "db",
        "acknowledged_by": None,
        "labelled": None,
        "by": None,
    },
    EventType.INCIDENT_CLASSIFIED: {
        "incident": 7,
        "class": "bad_deploy",
        "confidence": 0.8,
        "by": "model",
        "root_causes": [{"service": "api"}],
    },
    EventType.INCIDENT_ACTION: {
        "incident": 7,
        "execution": 3,
        "runbook": "rollback",
        "step": "rollback",
        "status": None,
        "action": "rollback",
        "detail": "ok",
        "ok": True,
        "dry_run": False,
    },
    EventType.INCIDENT_ESCALATED: {"incident": 7, "reason": "unknown class", "class": "unknown"},
    EventType.INCIDENT_RESOLVED: {
        "incident": 7,
        "environment": "dev",
        "status": "resolved",
        "class": "bad_deploy",
        "by": "hx",
        "reason": "fixed by rollback",
        "mttr_s": 420.0,
    },
    EventType.INCIDENT_PREDICTED: {
        "incident": 8,
        "environment": "dev",
        "status": "open",
        "class": "disk_full",
        "signal": "disk_usage",
        "limit": 0.9,
        "level": 0.7,
        "slope_per_h": 0.01,
        "kendall_tau": 0.9,
        "predicted_breach_at": AT,
        "eta_s": 7200.0,
    },
    EventType.NOTIFICATION_SENT: {
        "incident": 7,
        "notifier": "slack",
        "ok": True,
        "attempts": 1,
        "status": 200,
        "error": None,
        "event": "trigger",
        "level": 0,
        "dedup_key": "hx-7",
    },
    EventType.NOTIFICATION_FAILED: {
        "incident": 7,
        "notifier": "email",
        "ok": False,
        "attempts": 3,
        "status": None,
        "error": "refused",
        "event": "trigger",
        "level": 1,
        "dedup_key": None,
    },
    EventType.SCALING_DECIDED: {
        "service": "api",
        "at": AT,
        "current_replicas": 2,
        "replicas": 3,
        "reactive_replicas": 2,
        "predictive_replicas": 3,
        "forecast_peak": 120.5,
        "window": [AT, AT],
        "demand": 80.0,
        "reason": "forecast",
        "mode": "act",
        "profile": {"capacity_rps": 50.0},
        "forecast": {"model": "ets"},
    },
    EventType.SCALING_ALPHA_CHOSEN: {
        "service": "api",
        "alpha": 0.02,
        "chosen": True,
        "reason": "chose 0.02 on the last 7 days (what-if)",
        "window": [AT, AT],
        "hpa": {"slo_violation_minutes": 11.0, "replica_hours": 764.8},
        "tried": [{"alpha": 0.02, "slo_violation_minutes": 0.0, "replica_hours": 743.5}],
    },
    EventType.SCALING_ACTED: {
        "service": "api",
        "before": 2,
        "after": 3,
        "reason": "forecast",
        "ok": True,
        "detail": "scaled",
        "error": None,
    },
    EventType.COST_REPORT: {"kind": "rightsizing", "monthly_saving_usd": 12.5, "services": 3},
    EventType.PLACEMENT_DECIDED: {
        "workloads": 2,
        "total_usd_per_hour": 1.5,
        "compute_usd_per_hour_by_cloud": {"aws": 1.2},
        "egress_usd_per_hour": 0.3,
        "status": "optimal",
        "mip_gap": 0.0,
        "where": {"api": ["aws:eu-west-1"]},
        "greedy_usd_per_hour": 1.8,
        "savings_vs_greedy_pct": 16.7,
        "best_single_cloud": "aws",
        "savings_vs_best_single_cloud_pct": 0.0,
    },
    EventType.DR_DRILL: {
        "workload": "api",
        "ok": True,
        "met": True,
        "achieved_rto_s": 120.0,
        "target_rto_s": 300.0,
        "strategy": "warm_standby",
        "target": "fresh-sim",
    },
    EventType.MODEL_TRAINED: {
        "name": "incident-classifier",
        "version": 2,
        "kind": "sklearn",
        "created_at": AT,
        "stage": "shadow",
        "config": {},
        "metrics": {"accuracy": 0.9},
        "fingerprint": "abc",
        "training_data": "history",
    },
    EventType.MODEL_PROMOTED: {"model": "incident-classifier", "version": 2, "stage": "promoted", "reason": "better"},
    EventType.MODEL_RETIRED: {
        "model": "incident-classifier",
        "version": 1,
        "stage": "retired",
        "reason": "replaced by v2",
        "previous_stage": "promoted",
        "actor": "improvement-cycle",
        "forced": False,
    },
    EventType.DEPLOYMENT_ROLLBACK_REQUESTED: {
        "service": "api",
        "deployment": 4,
        "incident": 7,
        "execution": 2,
        "reason": "incident 7: runbook rollback",
    },
    EventType.DEPLOYMENT_ROLLBACK_REFUSED: {"request": 12, "reason": "no deployment of api", "incident": 7},
    EventType.IMPROVEMENT_CYCLE: {
        "at": AT,
        "window_s": 86400.0,
        "kpis": {"mttr_s": 300.0, "x": None},
        "gates": [{"name": "g"}],
        "passed": True,
        "models": [{"model": "m"}],
        "recommendations": ["none"],
    },
    EventType.QUALITY_GATE: {
        "name": "mttr",
        "metric": "mttr_s",
        "value": 900.0,
        "min": None,
        "max": 600.0,
        "status": "fail",
        "advice": "look at runbooks",
    },
    EventType.SIM_FAULT_INJECTED: {"fault_id": "f1", "kind": "node_loss", "service": None, "node": "n1"},
    EventType.SIM_FAULT_HEALED: {"fault_id": "f1", "kind": "node_loss"},
}
_DEPLOYMENT = {"deployment": 4, "version": "v2", "environment": "dev", "state": "running"}


def sample(etype: EventType) -> Payload:
    extra = _DEPLOYMENT if issubclass(payload_class(etype), DeploymentPayload) else {}
    return payload_class(etype).model_validate({**extra, **SAMPLES[etype]})


@pytest.fixture
def bus(store_url: str) -> EventBus:
    store = Store(store_url)
    store.upgrade()
    return EventBus(store)


def detected(score: float = 0.9) -> AnomalyDetected:
    return AnomalyDetected.model_validate({**SAMPLES[EventType.ANOMALY_DETECTED], "score": score})


def test_every_event_type_has_one_payload_class_bound_to_it() -> None:
    classes = payload_classes()
    assert set(classes) == set(EventType)
    assert all(cls.event_type is etype for etype, cls in classes.items())
    assert set(SAMPLES) == set(EventType)


@pytest.mark.parametrize("etype", list(EventType), ids=lambda t: t.value)
def test_contract_every_type_publishes_and_reads_back_equal(bus: EventBus, etype: EventType) -> None:
    payload = sample(etype)
    published = bus.publish(payload, source="contract", subject="s")
    got = bus.read(types=[type(payload)])
    assert [e.id for e in got] == [published.id]
    assert got[0].type == etype.value and type(got[0].payload) is type(payload)
    assert got[0].payload == payload
    assert bus.malformed == 0


def test_a_payload_refuses_unknown_fields_and_wrong_types() -> None:
    with pytest.raises(ValidationError, match="value"):
        AnomalyDetected.model_validate({**SAMPLES[EventType.ANOMALY_DETECTED], "value": 1.0})
    with pytest.raises(ValidationError, match="observed"):
        AnomalyDetected.model_validate({**SAMPLES[EventType.ANOMALY_DETECTED], "observed": "high"})
    with pytest.raises(ValidationError, match="frozen"):
        detected().score = 0.1  # type: ignore[misc]


def test_publish_persists_and_fans_out(bus: EventBus) -> None:
    seen: list[Event] = []
    bus.subscribe(seen.append, types=["anomaly.*"])
    e1 = bus.publish(detected(), source="detect", subject="api")
    bus.publish(sample(EventType.DEPLOYMENT_REQUESTED), source="deploy", subject="api")
    assert [e.id for e in seen] == [e1.id]
    got = bus.read()
    assert [e.type for e in got] == ["anomaly.detected", "deployment.requested"]
    assert got[0].data["score"] == 0.9 and got[0].data["at"] == "2026-01-02T03:04:05Z"
    assert isinstance(got[0].payload, AnomalyDetected) and got[0].payload.at == AT


def test_subscribe_and_read_take_payload_classes(bus: EventBus) -> None:
    seen: list[Event] = []
    bus.subscribe(seen.append, types=[AnomalyResolved, EventType.DEPLOYMENT_REQUESTED])
    bus.publish(detected(), source="detect")
    bus.publish(sample(EventType.ANOMALY_RESOLVED), source="detect")
    bus.publish(sample(EventType.DEPLOYMENT_REQUESTED), source="deploy")
    assert [type(e.payload) for e in seen] == [AnomalyResolved, DeploymentRequested]
    assert [type(e.payload) for e in bus.read(types=[AnomalyDetected])] == [AnomalyDetected]
    assert [type(e.payload) for e in bus.read(types=[DeploymentPayload])] == [DeploymentRequested]  # a family


def test_cursor_reads_only_newer_events(bus: EventBus) -> None:
    ids = [bus.publish(ScalingDecided(service="api", replicas=i), source="scale").id for i in range(5)]
    later = bus.read(after=ids[2])
    assert [e.payload.replicas for e in later if isinstance(e.payload, ScalingDecided)] == [3, 4]
    assert bus.read(after=ids[-1]) == []
    assert [e.type for e in bus.read(types=["deployment.*"])] == []


def test_publish_refuses_what_is_not_a_payload(bus: EventBus) -> None:
    with pytest.raises(BadInput, match="payload object"):
        bus.publish({"score": 0.9}, source="x")  # type: ignore[arg-type]


def test_failing_handler_is_counted_not_fatal(bus: EventBus) -> None:
    def bad(_: Event) -> None:
        raise ValueError("handler bug")

    good: list[Event] = []
    bus.subscribe(bad)
    bus.subscribe(good.append)
    bus.publish(IncidentOpened(incident_class="history"), source="heal")
    assert bus.handler_errors == 1
    assert len(good) == 1


def _insert_raw(bus: EventBus, etype: str, data: dict[str, Any]) -> None:
    with bus.store.begin() as conn:
        conn.execute(insert(events_table).values(ts=AT, type=etype, source="old", subject="api", data=data))


def test_a_malformed_row_is_refused_by_read_counted_and_still_listed(bus: EventBus, caplog: Any) -> None:
    bus.publish(detected(0.5), source="detect")
    _insert_raw(bus, "anomaly.detected", {"score": 0.9, "value": 3.0})  # the drifted shape
    _insert_raw(bus, "anomaly.detected", {"score": "high"})
    bus.publish(detected(0.7), source="detect")
    got = bus.read(types=[AnomalyDetected])
    assert [e.payload.score for e in got if isinstance(e.payload, AnomalyDetected)] == [0.5, 0.7]
    assert bus.malformed == 2
    bus.read()  # read again: the same rows are not counted twice
    assert bus.malformed == 2
    assert sum("does not fit its payload class" in r.getMessage() for r in caplog.records) == 1  # once per type
    assert len(bus.rows(types=["anomaly.*"])) == 4  # the listing for people shows every row as stored


def test_a_cursor_reader_goes_past_a_run_of_malformed_rows(bus: EventBus) -> None:
    for _ in range(5):
        _insert_raw(bus, "anomaly.detected", {"nope": 1})
    last = bus.publish(detected(), source="detect")
    assert [e.id for e in bus.read(limit=2)] == [last.id]


def test_a_row_written_by_the_previous_version_still_reads(bus: EventBus) -> None:
    """Rows keep their field names; heal's old ``model.trained`` shape (metrics flattened) is converted."""
    old_detected = {**SAMPLES[EventType.ANOMALY_DETECTED], "at": "2026-01-02T03:04:05+00:00"}
    _insert_raw(bus, "anomaly.detected", old_detected)
    _insert_raw(bus, "model.trained", {"model": "incident-classifier", "version": 3, "accuracy": 0.91})
    _insert_raw(bus, "incident.opened", {"class": "audit_tampering", "first_broken": 12, "reason": "hash"})
    got = bus.read()
    assert bus.malformed == 0 and len(got) == 3
    assert isinstance(got[0].payload, AnomalyDetected) and got[0].payload.at == AT
    trained = got[1].payload
    assert isinstance(trained, ModelTrained) and trained.name == "incident-classifier" and trained.version == 3
    assert trained.metrics == {"accuracy": 0.91}
    assert isinstance(got[2].payload, IncidentOpened) and got[2].payload.incident_class == "audit_tampering"


def test_a_type_filter_names_an_unknown_type_or_family() -> None:
    from hx.errors import UnknownName
    from hx.events import check_type_filter

    assert check_type_filter(["deployment.*", "incident.opened"]) == ["deployment.*", "incident.opened"]
    with pytest.raises(UnknownName, match="unknown event type 'incident.opend'; valid: .*incident.opened"):
        check_type_filter(["incident.opend"])
    with pytest.raises(UnknownName, match="'deploy.*'.*deployment.\\*"):
        check_type_filter(["deploy.*"])


def test_events_commit_in_id_order_so_a_cursor_reader_skips_none(bus: EventBus) -> None:
    """A transaction that publishes and commits later (a batch of alerts in one unit) holds back a later publisher:
    whenever a reader sees the later event, it sees the earlier one too (on PostgreSQL ids are drawn before commit)."""
    published = threading.Event()
    seen: dict[str, Any] = {}

    def later() -> None:
        published.wait(10)
        second = bus.publish(detected(0.5), source="test")
        ids = [e.id for e in bus.read()]
        seen.update(second=second.id, ids=ids)

    thread = threading.Thread(target=later)
    thread.start()
    with bus.store.unit():
        first = bus.publish(detected(0.9), source="test")
        published.set()
        time.sleep(0.5)  # the later publisher runs meanwhile
    thread.join(10)
    assert seen["second"] > first.id
    assert first.id in seen["ids"], seen  # before: on PostgreSQL the later event was read while the first was not
