"""hx's state on /metrics: read from the store at scrape time, so it shows what any process recorded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from hx.events import ScalingDecided
from hx.platform import Platform
from hx.store.tables import anomaly_labels, heal_incidents
from tests.detect.test_engine import START, _world


def _samples(p: Platform) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(p.metrics.exposition().decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _incident(p: Platform, cls: str, status: str) -> None:
    now = p.clock.now()
    row = dict(service="api", environment="dev", title="t", severity="warning", status=status, kind="reactive",
               incident_class=cls, confidence=1.0, classified_by="rules", root_causes=[], labels={}, firing=[],
               features={}, escalation={}, opened_at=now, updated_at=now, resolution="", revision=0)  # fmt: skip
    with p.store.begin() as conn:
        conn.execute(heal_incidents.insert().values(**row))


def test_state_metrics_follow_the_store(platform: Platform) -> None:
    p = platform
    _incident(p, "memory_leak", "open")
    _incident(p, "memory_leak", "acknowledged")
    _incident(p, "disk_full", "resolved")
    for replicas in (3, 5):
        p.bus.publish(ScalingDecided(service="api", replicas=replicas), source="predictive-scaler", subject="api")
    with p.store.begin() as conn:
        for i, tp in enumerate((True, True, False, True)):
            conn.execute(anomaly_labels.insert().values(anomaly_id=f"a{i}", service="api", signal="error_rate",
                                                        score=0.9, detectors=[], true_positive=tp, note="",
                                                        labelled_by="x", labelled_at=p.clock.now()))  # fmt: skip
    p.metrics.anomaly_score.labels("api", "latency_p95").set(0.42)
    got = _samples(p)
    assert got[("hx_open_incidents", (("class", "memory_leak"),))] == 2.0
    assert got[("hx_open_incidents", (("class", "disk_full"),))] == 0.0  # seen, none open: a zero, not a gap
    assert got[("hx_scaling_decisions_total", (("service", "api"),))] == 2.0
    assert got[("hx_scaling_replicas", (("service", "api"),))] == 5.0
    assert got[("hx_detection_precision", (("signal", "error_rate"),))] == 0.75
    assert got[("hx_anomaly_score", (("service", "api"), ("signal", "latency_p95")))] == 0.42
    _incident(p, "disk_full", "open")
    assert _samples(p)[("hx_open_incidents", (("class", "disk_full"),))] == 1.0


def test_the_detector_engine_sets_the_live_anomaly_score(tmp_path: Path) -> None:
    """The live score lives in the detector's memory only: the engine sets the gauge as it scores each point."""
    platform, clock, sim, _engine, runtime = _world(tmp_path)
    runtime.run_simulated(clock, START + timedelta(minutes=10), tick_s=60)
    scores = {k[1]: v for k, v in _samples(platform).items() if k[0] == "hx_anomaly_score"}
    expected = {(("service", s), ("signal", sig)) for s in sim.names for sig in ("error_rate", "latency_p95")}
    assert set(scores) == expected and all(0.0 <= v <= 1.0 for v in scores.values())
    platform.store.dispose()
