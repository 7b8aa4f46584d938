"""The detector's first hour on a real source, read through a CSV replay: it says it is learning (what for, until
when) instead of ``ok``, it learns from the history the source already holds, and a signal that has never had data is
"not yet resolving", shown once, not an ``anomaly.no_data`` per signal per service."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hx.clock import SimClock
from hx.config import load_settings
from hx.detect.engine import AnomalyEngine
from hx.events import AnomalyDetected, AnomalyNoData
from hx.platform import Platform, build_platform
from hx.runtime import Runtime
from hx.telemetry.replay import ReplaySource

START = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def _csv(path: Path, history_s: float, ahead_s: float) -> Path:
    """Two services at one point a minute: request_rate has data; error_rate is never exported (empty cells)."""
    rows = ["timestamp,service,request_rate,error_rate"]
    t0 = START.timestamp() - history_s
    for i in range(int((history_s + ahead_s) // 60)):
        t = t0 + 60 * i
        for k, svc in enumerate(("api", "web")):
            rows.append(f"{t:.0f},{svc},{100 + 10 * k + 5 * math.sin(t / 3600):.3f},")
    path.write_text("\n".join(rows) + "\n")
    return path


def _engine(tmp_path: Path, history_s: float) -> tuple[Platform, SimClock, AnomalyEngine, Runtime]:
    overrides = {
        "telemetry.source": "replay",
        "actuator.kind": "shell",
        "intelligent_monitoring.anomaly_detection.signals": ["request_rate", "error_rate"],
        "intelligent_monitoring.anomaly_detection.min_history_s": 6 * 3600,
        "intelligent_monitoring.anomaly_detection.learn_history_s": 6 * 3600,
    }
    settings = load_settings(environ={"HX_HOME": str(tmp_path / "hx")}, overrides=overrides).settings
    clock = SimClock(START)
    source = ReplaySource.from_path(_csv(tmp_path / "fleet.csv", history_s, 3600))
    platform = build_platform(settings, clock=clock, source=source)
    engine = AnomalyEngine(platform, source)
    return platform, clock, engine, Runtime(platform, [engine])


def test_a_short_history_is_learning_with_what_it_waits_for_and_until_when(tmp_path: Path) -> None:
    _platform, clock, engine, runtime = _engine(tmp_path, history_s=3600)  # the source holds 1 h; 6 h are needed
    runtime.run_simulated(clock, START + timedelta(minutes=2), tick_s=60)
    health = engine.health()
    assert health["status"] == "learning", health
    assert "360 points" in health["waits_for"] and "min_history_s" in health["waits_for"]
    until = datetime.fromisoformat(health["until"])
    # 1 h backfilled and 2 minutes seen: about 5 h to go
    assert START + timedelta(hours=4, minutes=50) <= until <= START + timedelta(hours=5, minutes=5), until
    status = runtime.health()[engine.name]
    assert status["status"] == "learning" and status["learning"]["until"] == health["until"]


def test_history_the_source_holds_is_backfilled_so_the_engine_is_ready_at_once(tmp_path: Path) -> None:
    _platform, clock, engine, runtime = _engine(tmp_path, history_s=7 * 3600)
    runtime.run_simulated(clock, START + timedelta(minutes=1), tick_s=60)
    assert engine.tracks["api/request_rate"].learned >= 360  # read from the source, not waited for
    assert engine.health()["status"] == "ok"
    assert runtime.health()[engine.name]["status"] == "ok"


def test_a_signal_that_never_had_data_is_not_resolving_not_a_burst_of_no_data(tmp_path: Path) -> None:
    platform, clock, engine, runtime = _engine(tmp_path, history_s=7 * 3600)
    runtime.run_simulated(clock, START + timedelta(minutes=15), tick_s=60)
    assert platform.bus.read(types=[AnomalyNoData]) == []
    assert platform.bus.read(types=[AnomalyDetected]) == []
    health = engine.health()
    assert health["not_resolving"] == ["api/error_rate", "web/error_rate"]
    assert health["no_data"] == 0
