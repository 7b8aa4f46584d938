"""The Series type and the SignalSource protocol every engine reads signals through."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, cast

import numpy as np
import numpy.typing as npt

from hx.errors import Unsupported

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
class SourceHealth:
    """Whether a signal source answers, and what it said (shown in the API's /health)."""

    ok: bool
    detail: str
    latency_s: float = 0.0


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


class SourceCapability(enum.Enum):
    """What a signal source can do beyond ``services``/``signal``/``query``: declared by ``capabilities()`` and
    checked in one place (:func:`require`), as actuators declare theirs, instead of probing methods by name."""

    VERSIONS = "list the versions of a service"  # versions(service)
    INSTANCES = "list the instances of a service"  # instances(service)
    SIGNAL_BY = "group a signal by a label"  # signal_by(service, name, by, start, end, step)
    VERSION_SIGNAL = "read one version's signal"  # signal(..., version=v)
    HEALTH = "probe its own health"  # health()
    CALL_GRAPH = "read caller -> callee edges from a metric"  # edges(metric, caller_label, callee_label, window)


class SignalSource(Protocol):
    """Where signals come from: the sim, Prometheus, or CSV replay."""

    def capabilities(self) -> frozenset[SourceCapability]:
        """The optional powers this source has (see :class:`SourceCapability`)."""
        ...

    def services(self) -> list[str]:
        """The services this source knows."""
        ...

    def signal(self, service: str, name: str, start: datetime, end: datetime, step: float) -> Series:
        """The named signal of a service over [start, end] at ``step`` seconds."""
        ...

    def query(self, promql: str, start: datetime, end: datetime, step: float) -> list[Series]:
        """A raw PromQL range query (sources that cannot run PromQL raise Unsupported)."""
        ...


class VersionLister(Protocol):
    def versions(self, service: str) -> list[str]: ...


class InstanceLister(Protocol):
    def instances(self, service: str) -> list[str]: ...


class LabelGrouping(Protocol):
    def signal_by(
        self, service: str, name: str, by: str, start: datetime, end: datetime, step: float
    ) -> list[Series]: ...


class VersionSignals(Protocol):
    def signal(
        self, service: str, name: str, start: datetime, end: datetime, step: float, *, version: str | None = None
    ) -> Series: ...


class EdgeReader(Protocol):
    def edges(self, metric: str, caller_label: str, callee_label: str, window: str = "1h") -> dict[str, list[str]]: ...


class HealthProbe(Protocol):
    def health(self) -> SourceHealth: ...


def supports(source: SignalSource, capability: SourceCapability) -> bool:
    return capability in source.capabilities()


def require(source: SignalSource, capability: SourceCapability) -> None:
    """The one check: Unsupported naming the source and the capability it lacks."""
    if not supports(source, capability):
        raise Unsupported(
            f"signal source {type(source).__name__} cannot {capability.value} ({capability.name})",
            field="telemetry.source",
        )


def versions_of(source: SignalSource) -> VersionLister:
    require(source, SourceCapability.VERSIONS)
    return cast("VersionLister", source)


def instances_of(source: SignalSource) -> InstanceLister:
    require(source, SourceCapability.INSTANCES)
    return cast("InstanceLister", source)


def grouping_of(source: SignalSource) -> LabelGrouping:
    require(source, SourceCapability.SIGNAL_BY)
    return cast("LabelGrouping", source)


def version_signals_of(source: SignalSource) -> VersionSignals:
    require(source, SourceCapability.VERSION_SIGNAL)
    return cast("VersionSignals", source)


def edges_of(source: SignalSource) -> EdgeReader:
    require(source, SourceCapability.CALL_GRAPH)
    return cast("EdgeReader", source)


def health_of(source: SignalSource) -> HealthProbe:
    require(source, SourceCapability.HEALTH)
    return cast("HealthProbe", source)
