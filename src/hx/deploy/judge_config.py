"""Configuration of the canary judge: which metrics, how each is tested, how verdicts combine.

>>> cfg = JudgeConfig(metrics=[MetricConfig(name="latency_p99"), MetricConfig(name="errors", kind="count")])
>>> cfg.pass_threshold, cfg.marginal_threshold, cfg.alpha
(95.0, 75.0, 0.01)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hx.errors import ConfigError
from hx.files import read_text

NoDataPolicy = Literal["inconclusive", "fail", "ignore"]
EffectMeasure = Literal["mean_ratio", "cles"]


class MetricConfig(BaseModel):
    """How one metric is judged.

    ``direction`` names the bad direction (``increase``: higher is worse, as for latency and errors).
    ``tolerance`` is the relative effect considered negligible (0.02 = 2%): a significant effect smaller than it
    passes.  ``min_points`` is the fewest finite points each series needs, below which the metric is
    inconclusive.  ``denominator`` (counts only) names a request-count series so that rates are compared.
    ``alpha`` overrides the judge's false-positive budget for this metric.

    Guards, beside the statistical test (see :mod:`hx.deploy.judge_guards`), fail the metric on plain rules
    that no autocorrelation estimate can talk away: ``max_increase`` / ``max_decrease`` (relative, defaults +80%
    and -45%, a factor 1.8 either way: a doubled latency or a halved throughput fails) and ``max_increase_abs`` /
    ``max_decrease_abs`` (absolute) fire when the two windows are fully separated in a bad direction and the
    canary's median or mean moved beyond the margin; a ``critical`` metric fails on any fully separated move in a bad
    direction whose gap exceeds ``tolerance``; ``max_value`` / ``min_value`` bound the canary's median outright
    (as Argo Rollouts' and Flagger's thresholds do).  ``None`` turns a guard off.

    Kayenta-compatible effect sizes (optional; Kayenta's ``effectSize``): a significant shift fails only when the
    effect size (``effect_measure``: ``mean_ratio`` = mean(canary) / mean(baseline), or ``cles`` = P(canary >
    baseline)) reaches ``allowed_increase`` (or falls to ``allowed_decrease``); a critical metric fails the whole
    judgement only when it reaches ``critical_increase`` / ``critical_decrease``, else it counts in the score.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: Literal["continuous", "count"] = "continuous"
    direction: Literal["increase", "decrease", "either"] = "increase"
    critical: bool = False
    group: str = Field(default="default", min_length=1)
    weight: float = Field(default=1.0, gt=0)
    tolerance: float = Field(default=0.02, ge=0)
    min_points: int = Field(default=5, ge=2)
    denominator: str | None = None
    alpha: float | None = Field(default=None, gt=0, lt=0.5)
    log_scale: bool | None = None
    autocorrelation: bool = True
    no_data: NoDataPolicy | None = None
    max_increase: float | None = Field(default=0.8, gt=0)
    max_decrease: float | None = Field(default=0.45, gt=0, lt=1)
    max_increase_abs: float | None = Field(default=None, gt=0)
    max_decrease_abs: float | None = Field(default=None, gt=0)
    max_value: float | None = None
    min_value: float | None = None
    effect_measure: EffectMeasure = "mean_ratio"
    allowed_increase: float | None = Field(default=None, gt=0)
    allowed_decrease: float | None = Field(default=None, gt=0)
    critical_increase: float | None = Field(default=None, gt=0)
    critical_decrease: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _denominator_for_counts(self) -> MetricConfig:
        if self.denominator is not None and self.kind != "count":
            raise ValueError("denominator is only for kind 'count'")
        if self.denominator == self.name:
            raise ValueError(f"{self.name!r} cannot be its own denominator (its rate would always be 1)")
        if self.max_value is not None and self.min_value is not None and self.min_value >= self.max_value:
            raise ValueError(f"min_value ({self.min_value:g}) must be below max_value ({self.max_value:g})")
        self._check_effect_sizes()
        return self

    def _check_effect_sizes(self) -> None:
        """Kayenta's effect-size thresholds: increases at or above the no-effect value, decreases at or below it."""
        none = 1.0 if self.effect_measure == "mean_ratio" else 0.5
        top = math.inf if self.effect_measure == "mean_ratio" else 1.0
        for key in ("allowed_increase", "critical_increase"):
            v = getattr(self, key)
            if v is not None and not none <= v <= top:
                raise ValueError(f"{key} must be in [{none:g}, {top:g}] for effect_measure {self.effect_measure}")
        for key in ("allowed_decrease", "critical_decrease"):
            v = getattr(self, key)
            if v is not None and not 0.0 <= v <= none:
                raise ValueError(f"{key} must be in [0, {none:g}] for effect_measure {self.effect_measure}")
        for key in ("critical_increase", "critical_decrease"):
            if getattr(self, key) is not None and not self.critical:
                raise ValueError(f"{key} applies only to a critical metric (set critical: true)")
        up, down = (self.allowed_increase, self.critical_increase), (self.critical_decrease, self.allowed_decrease)
        if None not in up and up[0] > up[1]:  # type: ignore[operator]
            raise ValueError("allowed_increase must not exceed critical_increase")
        if None not in down and down[0] > down[1]:  # type: ignore[operator]
            raise ValueError("critical_decrease must not exceed allowed_decrease")


class JudgeConfig(BaseModel):
    """The whole judgement: metrics, group weights, score thresholds and the false-positive budget.

    ``groups`` maps group name to weight (groups not listed weigh 1).  ``alpha`` is the per-metric false-positive
    rate (one-sided in the bad direction; split over both sides for ``either``).  ``no_data`` says what a metric
    with insufficient data does (too few points, or a separated move the windows alone cannot test): make the
    verdict ``inconclusive`` (default), count as ``fail``, or be ``ignore``d.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    metrics: list[MetricConfig] = Field(min_length=1)
    groups: dict[str, float] = Field(default_factory=dict)
    pass_threshold: float = Field(default=95.0, ge=0, le=100)
    marginal_threshold: float = Field(default=75.0, ge=0, le=100)
    alpha: float = Field(default=0.01, gt=0, lt=0.5)
    no_data: NoDataPolicy = "inconclusive"

    @model_validator(mode="after")
    def _consistent(self) -> JudgeConfig:
        if self.marginal_threshold > self.pass_threshold:
            raise ValueError("marginal_threshold must not exceed pass_threshold")
        names = [m.name for m in self.metrics]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"metric names must be unique; repeated: {', '.join(dupes)}")
        used = {m.group for m in self.metrics}
        unused = sorted(set(self.groups) - used)
        if unused:
            raise ValueError(f"groups without metrics: {', '.join(unused)} (used: {', '.join(sorted(used))})")
        bad = sorted(g for g, w in self.groups.items() if not w > 0)
        if bad:
            raise ValueError(f"group weights must be > 0: {', '.join(bad)}")
        return self

    def group_weight(self, group: str) -> float:
        """The weight of ``group`` (1 when not listed)."""
        return self.groups.get(group, 1.0)


def _key_of(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def load_metrics_config(path: str | Path) -> JudgeConfig:
    """Read a :class:`JudgeConfig` from YAML; errors name the file and the key.

    The file holds the JudgeConfig fields at the top level, or under a ``canary`` key.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError("file not found", file=str(p))
    try:
        raw = yaml.safe_load(read_text(p))
    except yaml.YAMLError as err:
        raise ConfigError(f"not valid YAML: {err}", file=str(p)) from err
    if isinstance(raw, dict) and set(raw) == {"canary"}:
        raw = raw["canary"]
    if not isinstance(raw, dict):
        raise ConfigError("expected a mapping with a 'metrics' list", file=str(p), key="(top level)")
    try:
        return JudgeConfig.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        key = _key_of(tuple(first["loc"]))
        raise ConfigError(first["msg"], file=str(p), key=key) from err
