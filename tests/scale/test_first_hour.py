"""The predictive scaler told straight: a missing replica count is said (status and reason) instead of doing nothing,
the count has one source of truth, an action is recorded as what it did, the same action is not asked for again one
step later, and it reports learning while its request-rate history is shorter than its forecast needs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hx.actuate.shell import ShellActuator
from hx.clock import SimClock
from hx.config import load_settings
from hx.events import ScalingActed, ScalingDecided
from hx.platform import Platform, build_platform
from hx.runtime import Runtime
from hx.scale.engine import PredictiveScaler
from hx.scale.scaler import ScalerConfig, ServiceProfile
from hx.telemetry.replay import ReplaySource
from tests.scale.test_engine import RUN_DAY, make_world

START = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def _replay(tmp_path: Path, *, replicas: int | None, rate: float, history_s: float = 3 * 86400) -> ReplaySource:
    header = "timestamp,service,request_rate" + (",replicas" if replicas is not None else "")
    rows = [header]
    t0 = START.timestamp() - history_s
    for i in range(int((history_s + 3600) // 60)):
        rows.append(f"{t0 + 60 * i:.0f},shop,{rate}" + (f",{replicas}" if replicas is not None else ""))
    path = tmp_path / "shop.csv"
    path.write_text("\n".join(rows) + "\n")
    return ReplaySource.from_path(path)


def _scaler(tmp_path: Path, source: ReplaySource) -> tuple[Platform, SimClock, PredictiveScaler, Runtime]:
    overrides = {"telemetry.source": "replay", "actuator.kind": "shell"}
    settings = load_settings(environ={"HX_HOME": str(tmp_path / "hx")}, overrides=overrides).settings
    clock = SimClock(START)
    actuator = ShellActuator({"scale": ["true", "{service}", "{replicas}"]})
    platform = build_platform(settings, clock=clock, source=source, actuator=actuator)
    scaler = PredictiveScaler(
        platform,
        source,
        actuator,
        lambda service: ServiceProfile(50.0, startup_s=120.0),
        config=ScalerConfig(forecaster="seasonal_naive"),
        mode="act",
    )
    return platform, clock, scaler, Runtime(platform, [scaler])


def test_a_missing_replica_count_is_said_not_silently_skipped(tmp_path: Path) -> None:
    platform, clock, scaler, runtime = _scaler(tmp_path, _replay(tmp_path, replicas=None, rate=400.0))
    runtime.run_simulated(clock, START + timedelta(minutes=5), tick_s=60)
    health = scaler.health()
    assert health["status"] == "degraded" and health["no_replica_count"] == ["shop"]
    assert "replicas" in health["reason"] and "shop" in health["reason"]
    decided = platform.bus.read(types=[ScalingDecided])
    assert len(decided) == 1 and decided[0].data["replicas"] is None  # said once, not every step
    assert "no replica count" in decided[0].data["reason"]
    assert platform.bus.read(types=[ScalingActed]) == []


def test_the_same_action_is_not_asked_for_again_one_step_later(tmp_path: Path) -> None:
    # the count stays at 3 (the new replicas take their start-up time to show): one action, then it waits
    platform, clock, scaler, runtime = _scaler(tmp_path, _replay(tmp_path, replicas=3, rate=400.0))
    runtime.run_simulated(clock, START + timedelta(minutes=3), tick_s=60)
    acted = platform.bus.read(types=[ScalingActed])
    assert len(acted) == 1, [e.data for e in acted]
    assert acted[0].data["before"] == 3 and acted[0].data["after"] > 3
    assert "waiting for the scale" in scaler.recommendations()[0]["held"]


def test_an_action_is_recorded_as_what_it_did_on_a_service_running_two_versions(tmp_path: Path) -> None:
    w = make_world(tmp_path / "hx")
    w.sim.deploy("shop", "v2", 5)  # a second version keeps 5 replicas (say, left by a rollout)
    w.run_to(RUN_DAY + timedelta(hours=9, minutes=40))
    acted = [e.data for e in w.platform.bus.read(types=[ScalingActed], limit=1000)]
    assert acted, "the scaler never acted"
    for a in acted:
        verb = "scale out" if a["after"] > a["before"] else "scale in" if a["after"] < a["before"] else "no change"
        assert str(a["reason"]).startswith(verb), a
    # what was recorded is what the service runs: its desired replicas, all versions counted
    _t, desired = w.sim.series(
        "shop", "desired_replicas", t_from=(RUN_DAY + timedelta(hours=9, minutes=39)).timestamp()
    )
    assert int(desired[-1]) == acted[-1]["after"]
    w.platform.store.dispose()


def test_a_short_history_is_learning_until_it_covers_the_forecast(tmp_path: Path) -> None:
    _platform, clock, scaler, runtime = _scaler(tmp_path, _replay(tmp_path, replicas=3, rate=40.0, history_s=1800))
    runtime.run_simulated(clock, START + timedelta(minutes=1), tick_s=60)
    health = scaler.health()
    assert health["status"] == "learning" and "request_rate history" in health["waits_for"]
    until = datetime.fromisoformat(health["until"])
    assert START + timedelta(minutes=20) <= until <= START + timedelta(minutes=40), until
    assert runtime.health()[scaler.name]["status"] == "learning"
