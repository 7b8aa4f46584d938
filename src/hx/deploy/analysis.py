"""Canary analysis from live signals: the new version against the old one over the same window."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from hx.deploy.judge import JudgeConfig, MetricConfig, Verdict, judge
from hx.deploy.judge_sequential import SequentialJudge
from hx.deploy.judge_stats import blocks_of
from hx.errors import BadInput, TelemetryError
from hx.telemetry.base import FloatArray, SignalSource, SourceCapability, grouping_of, supports, version_signals_of

#: What a rollout judges by default: latency and errors are critical, CPU is informative.
DEFAULT_JUDGE = JudgeConfig(
    metrics=[
        MetricConfig(name="latency_p95", kind="continuous", direction="increase", critical=True, tolerance=0.05),
        MetricConfig(name="errors", kind="count", direction="increase", critical=True, denominator="requests"),
        MetricConfig(name="latency_p99", kind="continuous", direction="increase", tolerance=0.05),
    ]
)

#: Derived metrics: name -> how to compute them from canonical signals (per interval counts).
DERIVED = {"errors", "requests"}
#: The length of the blocks the baseline's pre-canary history is cut into.
HISTORY_BLOCK_S = 3600.0


def version_signal(
    source: SignalSource, service: str, version: str, name: str, start: datetime, end: datetime, step: float
) -> FloatArray:
    """One signal of one version (the sim reads it directly, Prometheus by the ``version`` label)."""
    if supports(source, SourceCapability.SIGNAL_BY):
        for series in grouping_of(source).signal_by(service, name, "version", start, end, step):
            if series.labels.get("version") == version:
                return np.asarray(series.values, dtype=np.float64)
        return np.full(int((end - start).total_seconds() // step) + 1, np.nan)
    series = version_signals_of(source).signal(service, name, start, end, step, version=version)
    return np.asarray(series.values, dtype=np.float64)


def metric_values(
    source: SignalSource, service: str, version: str, metric: str, start: datetime, end: datetime, step: float
) -> FloatArray:
    if metric in DERIVED:
        rate = version_signal(source, service, version, "request_rate", start, end, step)
        if metric == "requests":
            return np.round(rate * step)
        err = version_signal(source, service, version, "error_rate", start, end, step)
        return np.round(rate * err * step)
    return version_signal(source, service, version, metric, start, end, step)


def _usable(values: FloatArray, min_points: int) -> bool:
    return int(np.isfinite(values).sum()) >= min_points


def collect(
    source: SignalSource,
    service: str,
    version: str,
    metrics: list[str],
    start: datetime,
    end: datetime,
    step: float,
) -> dict[str, FloatArray]:
    return {m: metric_values(source, service, version, m, start, end, step) for m in metrics}


def _record(
    verdict: Verdict, start: datetime, end: datetime, baseline_version: str, canary_version: str, basis: str
) -> dict[str, Any]:
    return {
        "window": [start.isoformat(), end.isoformat()],
        "baseline": baseline_version,
        "canary": canary_version,
        "basis": basis,
        "status": verdict.status,
        "score": verdict.score,
        "metrics": [
            {
                "name": m.name,
                "status": m.status,
                "test": m.test,
                "effect": m.effect,
                "ci": [m.ci_low, m.ci_high],
                "p_value": m.p_value,
                "effective_n": m.effective_n,
                "autocorrelation": m.autocorrelation,
                "guard": m.guard,
                "reason": m.reason,
            }
            for m in verdict.metrics
        ],
    }


def analyse(
    source: SignalSource,
    service: str,
    baseline_version: str,
    canary_version: str,
    start: datetime,
    end: datetime,
    step: float,
    config: JudgeConfig = DEFAULT_JUDGE,
    pre_start: datetime | None = None,
    earlier: list[tuple[datetime, datetime]] | None = None,
    looks: int | None = None,
    history_s: float = 0.0,
) -> tuple[Verdict, dict[str, Any]]:
    """Judge ``canary_version`` against ``baseline_version`` over [start, end].

    With ``looks`` (the rollout's planned number of analyses) the judgement is *sequential*: the windows of the
    ``earlier`` analyses and this one are fed to a group-sequential judge in order, so analysing at every canary
    step does not inflate the false-positive rate, and a bad canary stops at the earliest step.  The windows are
    re-read from the signal source each time, so nothing but the recorded windows needs to survive a restart.

    The baseline's own signals over the ``history_s`` before ``pre_start`` (rollouts pass
    ``ai_orchestrator.canary.history_hours``) are read in hourly blocks (each
    demeaned on its own, so a slow drift of the level is not read as autocorrelation) and given to the judge,
    which uses them only to estimate the metrics' autocorrelation and noise level.

    When the baseline carries no traffic in the window (after a full traffic switch), it is compared with
    the baseline's own window of the same length just before ``pre_start`` (the rollout's start) instead,
    and the record says so.
    """
    if end <= start:
        raise BadInput("analysis window is empty", field="duration_s")
    names = sorted({m.name for m in config.metrics} | {m.denominator for m in config.metrics if m.denominator})
    history: dict[str, list[FloatArray]] | None = None
    try:
        canary = collect(source, service, canary_version, names, start, end, step)
        baseline = collect(source, service, baseline_version, names, start, end, step)
        basis = "concurrent"
        rate = metric_values(source, service, baseline_version, "request_rate", start, end, step)
        if not _usable(np.where(rate > 0, rate, np.nan), 3) and pre_start is not None:
            length = end - start
            baseline = collect(source, service, baseline_version, names, pre_start - length, pre_start, step)
            basis = "pre-deployment window"
        elif pre_start is not None and history_s > 0:
            # the baseline's own recent past: used only to estimate its autocorrelation and noise, not as evidence
            past = collect(
                source, service, baseline_version, names, pre_start - timedelta(seconds=history_s), pre_start, step
            )
            history = {m: hourly_blocks(v, step) for m, v in past.items()}
        chunks = [
            (
                collect(source, service, baseline_version, names, a, b, step),
                collect(source, service, canary_version, names, a, b, step),
            )
            for a, b in (earlier or [])
        ]
    except TelemetryError as err:
        raise TelemetryError(f"analysis could not read signals: {err}") from err
    try:
        if looks is None or basis != "concurrent":
            verdict = judge(baseline, canary, config, history=history)
            return verdict, _record(verdict, start, end, baseline_version, canary_version, basis)
        seq = SequentialJudge(config, looks=max(looks, len(chunks) + 1), history=history)
        windows = [*chunks, (baseline, canary)]
        result = seq.update(*windows[0])
        for b, c in windows[1:]:
            if result.stop:
                break
            result = seq.update(b, c)
    except BadInput as err:  # the signals read are the world's, not the caller's: e.g. a negative count
        raise TelemetryError(f"the signals read cannot be judged: {err}") from err
    record = _record(result.verdict, start, end, baseline_version, canary_version, basis)
    record["sequential"] = {"look": result.look, "looks": result.looks, "boundaries": result.boundaries}
    return result.verdict, record


def hourly_blocks(values: FloatArray, step: float) -> list[FloatArray]:
    """``values`` (on a grid of ``step`` seconds) cut into consecutive blocks of an hour, the last one shorter.

    >>> [b.size for b in hourly_blocks(np.arange(9.0), 900.0)]
    [4, 4, 1]
    """
    return blocks_of(values, max(1, round(HISTORY_BLOCK_S / step)))
