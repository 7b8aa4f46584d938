"""The rollout's analysis step: which windows it reads and what it gives the judge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from hx.deploy.analysis import analyse, hourly_blocks
from hx.deploy.judge import JudgeConfig, MetricConfig
from hx.telemetry.base import Series, SourceCapability

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
STEP = 15.0


class FakeSource:
    """Per-version latency: iid noise around a level that jumps every hour (a slow drift), and every read logged."""

    def __init__(self) -> None:
        self.reads: list[tuple[str, str, datetime, datetime]] = []

    def capabilities(self) -> frozenset[SourceCapability]:
        return frozenset({SourceCapability.VERSION_SIGNAL})

    def services(self) -> list[str]:
        return ["api"]

    def signal(
        self, service: str, name: str, start: datetime, end: datetime, step: float, version: str | None = None
    ) -> Series:
        self.reads.append((name, str(version), start, end))
        ts = np.arange(start.timestamp(), end.timestamp() + step / 2, step)
        if name == "request_rate":
            return Series(name, ts, np.full(ts.size, 10.0))
        hour = np.floor((ts - T0.timestamp()) / 3600.0)
        level = 100.0 + 15.0 * np.mod(hour, 2)  # +15 every other hour: a drift between blocks, none within
        noise = np.random.default_rng([int(ts[0]), len(str(version))]).normal(0.0, 5.0, ts.size)
        return Series(name, ts, level + noise)

    def query(self, promql: str, start: datetime, end: datetime, step: float) -> list[Series]:
        raise NotImplementedError


CONFIG = JudgeConfig(metrics=[MetricConfig(name="latency_p99", kind="continuous", direction="increase")])


def _analyse(source: FakeSource, history_s: float) -> dict[str, Any]:
    start = T0 + timedelta(minutes=1)
    _, record = analyse(
        source, "api", "v1", "v2", start, start + timedelta(minutes=10), STEP,
        config=CONFIG, pre_start=T0, history_s=history_s,
    )  # fmt: skip
    return record


def test_the_baselines_history_is_read_in_hourly_blocks() -> None:
    source = FakeSource()
    record = _analyse(source, 6 * 3600.0)
    before = [(s, e) for name, v, s, e in source.reads if name == "latency_p99" and v == "v1" and e <= T0]
    assert before == [(T0 - timedelta(hours=6), T0)]
    (metric,) = record["metrics"]
    # each hourly block is demeaned on its own: the level jumps between hours are not read as autocorrelation
    assert metric["autocorrelation"] < 0.2
    assert metric["effective_n"] > 30


def test_no_history_when_switched_off() -> None:
    source = FakeSource()
    _analyse(source, 0.0)
    assert all(e > T0 for name, v, s, e in source.reads if name == "latency_p99")


def test_hourly_blocks() -> None:
    blocks = hourly_blocks(np.arange(600.0), STEP)
    assert [b.size for b in blocks] == [240, 240, 120]
    assert blocks[1][0] == 240.0


def test_signals_the_judge_cannot_take_are_a_telemetry_error_not_a_crash() -> None:
    """A negative error count read from the source is the world's fault: the rollout records the analysis as
    inconclusive (it catches TelemetryError) instead of failing its step on every retry."""
    import pytest

    from hx.errors import TelemetryError

    class Negative(FakeSource):
        def signal(
            self, service: str, name: str, start: datetime, end: datetime, step: float, version: str | None = None
        ) -> Series:
            s = super().signal(service, name, start, end, step, version)
            return Series(name, s.timestamps, np.full(s.timestamps.size, -1.0)) if name == "retries" else s

    cfg = JudgeConfig(metrics=[MetricConfig(name="retries", kind="count")])
    start = T0 + timedelta(minutes=1)
    with pytest.raises(TelemetryError, match="cannot be judged: metric 'retries' \\(kind count\\)"):
        analyse(Negative(), "api", "v1", "v2", start, start + timedelta(minutes=10), STEP, config=cfg, pre_start=T0)
