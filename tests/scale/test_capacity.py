"""Where a real fleet's per-instance capacity comes from: the configured value, else the exported saturation (in-flight
requests over the worker pool), else CPU; the origin says which."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from hx.clock import SimClock
from hx.config import load_settings
from hx.errors import ConfigError
from hx.platform import Platform, build_platform
from hx.scale.component import estimate_capacity_from, profiles_for
from hx.telemetry.replay import ReplaySource

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _csv(path: Path, saturation: bool) -> Path:
    """An hour of a two-instance service: 20 req/s per instance at 40 % of a pool (capacity 50), CPU 10 %; the first
    minutes idle (1 req/s at 2 %: not enough to judge), a few minutes busy (40 req/s per instance at 80 %)."""
    t0 = NOW.timestamp() - 3600
    rows = ["timestamp,service,request_rate,ready_replicas,utilization" + (",saturation" if saturation else "")]
    for i in range(60):
        per, sat = (1.0, 0.02) if i < 10 else (40.0, 0.8) if i >= 55 else (20.0, 0.4)
        cells = [f"{t0 + 60 * i:.0f}", "cart", f"{2 * per}", "2", "0.1"] + ([f"{sat}"] if saturation else [])
        rows.append(",".join(cells))
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    settings = load_settings(environ={"HX_HOME": str(tmp_path / "hx")}).settings
    p = build_platform(settings, clock=SimClock(NOW))
    yield p
    p.store.dispose()


def test_capacity_from_saturation_first_then_cpu(platform: Platform, tmp_path: Path) -> None:
    with_pool = ReplaySource([_csv(tmp_path / "a.csv", saturation=True)])
    cap, signal = estimate_capacity_from(with_pool, "cart", platform) or (np.nan, "")
    assert signal == "saturation" and cap == pytest.approx(50.0)  # 20 / 0.4 and 40 / 0.8: the pool's capacity
    without = ReplaySource([_csv(tmp_path / "b.csv", saturation=False)])
    cap, signal = estimate_capacity_from(without, "cart", platform) or (np.nan, "")
    assert signal == "utilization" and cap == pytest.approx(200.0)  # 20 req/s at 10 % CPU
    prof = profiles_for(platform, with_pool)("cart")
    assert prof is not None and prof.origin == "estimated from telemetry (saturation)"


def test_configured_capacity_wins_and_is_checked(tmp_path: Path) -> None:
    env = {"HX_HOME": str(tmp_path / "hx")}
    settings = load_settings(
        environ=env, overrides={"intelligent_monitoring.scaling.capacity_rps": {"cart": 30}}
    ).settings
    p = build_platform(settings, clock=SimClock(NOW))
    try:
        prof = profiles_for(p, ReplaySource([_csv(tmp_path / "a.csv", saturation=True)]))("cart")
        assert prof is not None and prof.capacity_rps == 30.0
        assert prof.origin == "configured (intelligent_monitoring.scaling.capacity_rps.cart)"
    finally:
        p.store.dispose()
    with pytest.raises(ConfigError, match="capacity_rps"):
        load_settings(environ=env, overrides={"intelligent_monitoring.scaling.capacity_rps": {"cart": -1}})
