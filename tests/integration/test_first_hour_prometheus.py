"""The detector's first minutes against a real Prometheus that has just started scraping (the simulated fleet served
in real time): it reports learning with what it waits for and until when, a signal that does not resolve is
not_resolving (no anomaly.no_data burst), and a detector started once Prometheus holds the history it needs learns it
through query_range and is ready at its first step."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hx.config import load_settings
from hx.detect.engine import AnomalyEngine
from hx.events import AnomalyNoData
from hx.platform import Platform, build_platform
from hx.sim import Simulation, make_fleet, serve
from hx.telemetry.prometheus import PrometheusSource
from tests.integration.servers import prometheus_server

pytestmark = pytest.mark.integration

MIN_HISTORY_S = 40  # points at a 1 s step; the robust detector's own warm-up is 30
MISSING = 'max by ({by}) (hx_no_such_metric{service="{service}"})'


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[str]:
    sim = Simulation(make_fleet(2, seed=3, step_s=1.0), step_s=1.0, start=datetime.now(UTC))
    server = serve(sim, host="127.0.0.1", port=0, speed=1.0, tick_s=0.2)  # simulated time = wall time
    try:
        with prometheus_server(tmp_path, [server.address]) as prom:
            yield prom.url
    finally:
        server.shutdown()


def _platform(home: Path, url: str) -> Platform:
    overrides = {
        "telemetry.source": "prometheus",
        "telemetry.step_s": 1.0,
        "telemetry.prometheus.url": url,
        "telemetry.prometheus.window": "5s",
        "telemetry.prometheus.templates": {"latency_p99": MISSING},
        "actuator.kind": "shell",
        "intelligent_monitoring.anomaly_detection.detector": "robust",
        "intelligent_monitoring.anomaly_detection.signals": ["cpu_utilization", "memory_utilization", "latency_p99"],
        "intelligent_monitoring.anomaly_detection.min_history_s": MIN_HISTORY_S,
        "intelligent_monitoring.anomaly_detection.learn_history_s": 600,
        "intelligent_monitoring.anomaly_detection.interval_s": 1.0,
    }
    settings = load_settings(environ={"HX_HOME": str(home)}, overrides=overrides).settings
    source = PrometheusSource.from_settings(settings.telemetry.prometheus)
    return build_platform(settings, source=source)


def _step(engine: AnomalyEngine, times: int) -> None:
    for _ in range(times):
        engine.step(datetime.now(UTC) - timedelta(seconds=2))  # the last scrape has landed
        time.sleep(1.0)


def test_first_minutes_on_a_fresh_prometheus(tmp_path: Path, prometheus: str) -> None:
    platform = _platform(tmp_path / "hx", prometheus)
    assert platform.source is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(platform.source.services()) < 2:
        time.sleep(0.5)
    time.sleep(8)  # a few scrapes: far less history than the detector needs
    engine = AnomalyEngine(platform, platform.source)
    _step(engine, 8)
    health = engine.health()
    assert health["status"] == "learning", health
    assert f"{MIN_HISTORY_S} points" in health["waits_for"]
    until = datetime.fromisoformat(health["until"])
    assert datetime.now(UTC) < until < datetime.now(UTC) + timedelta(seconds=MIN_HISTORY_S + 5), until
    assert sorted(health["not_resolving"]) == sorted(f"{s}/latency_p99" for s in platform.source.services())
    assert platform.bus.read(types=[AnomalyNoData]) == []  # no burst: the missing signal is not an anomaly
    platform.store.dispose()

    time.sleep(MIN_HISTORY_S)  # Prometheus now holds the history: a new detector reads it instead of waiting
    again = _platform(tmp_path / "hx2", prometheus)
    assert again.source is not None
    fresh = AnomalyEngine(again, again.source)
    _step(fresh, 1)
    assert fresh.tracks[f"{again.source.services()[0]}/cpu_utilization"].learned >= MIN_HISTORY_S
    assert fresh.health()["status"] == "ok", fresh.health()
    again.store.dispose()
