"""The Series type and the SignalSource protocol every engine reads signals through."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

#: Canonical per-service signals.  Per-instance variants carry an ``instance`` label.
CANONICAL_SIGNALS: tuple[str, ...] = (
    "request_rate",
    "error_rate",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "cpu_utilization",
    "memory_utilization",
    "replicas",
    "saturation",
)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Series:
    """A time series: timestamps (unix seconds, UTC), values, labels.

    A gap is a NaN value at its timestamp: never a made-up number.

    >>> s = Series("cpu_utilization", np.array([0.0, 60.0]), np.array([0.5, np.nan]), {"service": "api"})
    >>> s.n_gaps
    1
    """

    name: str
    timestamps: FloatArray
    values: FloatArray
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.timestamps.shape != self.values.shape:
            raise ValueError(
                f"series {self.name!r}: {self.timestamps.shape[0]} timestamps but {self.values.shape[0]} values"
            )

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_gaps(self) -> int:
        return int(np.isnan(self.values).sum())

    def last(self) -> float | None:
        """The last non-gap value, or None."""
        ok = ~np.isnan(self.values)
        if not ok.any():
            return None
        return float(self.values[ok][-1])


class SignalSource(Protocol):
    """Where signals come from: the sim, Prometheus, or CSV replay."""

    def services(self) -> list[str]:
        """The services this source knows."""
        ...

    def signal(self, service: str, name: str, start: datetime, end: datetime, step: float) -> Series:
        """The named signal of a service over [start, end] at ``step`` seconds."""
        ...

    def query(self, promql: str, start: datetime, end: datetime, step: float) -> list[Series]:
        """A raw PromQL range query (sources that cannot run PromQL raise Unsupported)."""
        ...
