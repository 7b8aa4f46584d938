"""Faults that can be injected into the simulated fleet, and their ground truth.

A :class:`Fault` says what and where; the simulation resolves it into the instances, version group,
service or node it touches and keeps a :class:`FaultRecord` (what, where, when injected, when and how
healed, which signals it is expected to move) so detection, root cause and healing can be scored.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hx.errors import BadInput


class FaultKind(enum.Enum):
    MEMORY_LEAK = "memory_leak"
    CPU_HOG = "cpu_hog"
    LATENCY_REGRESSION = "latency_regression"
    ERROR_SPIKE = "error_spike"
    CRASH_LOOP = "crash_loop"
    NODE_LOSS = "node_loss"
    DISK_FILL = "disk_fill"
    DEPENDENCY_FAILURE = "dependency_failure"
    TRAFFIC_SURGE = "traffic_surge"


#: Default magnitude per kind, and what it means.
DEFAULT_MAGNITUDE: dict[FaultKind, float] = {
    FaultKind.MEMORY_LEAK: 0.01,  # memory fraction leaked per minute
    FaultKind.CPU_HOG: 0.6,  # fraction of the replica's CPU taken
    FaultKind.LATENCY_REGRESSION: 0.3,  # seconds added per request (and service time x 1.5)
    FaultKind.ERROR_SPIKE: 0.2,  # fraction of requests that fail
    FaultKind.CRASH_LOOP: 1.0,  # unused
    FaultKind.NODE_LOSS: 1.0,  # unused
    FaultKind.DISK_FILL: 0.02,  # disk fraction filled per minute
    FaultKind.DEPENDENCY_FAILURE: 1.0,  # fraction of the failing service's requests that fail
    FaultKind.TRAFFIC_SURGE: 3.0,  # multiplier of external traffic
}

#: Signals each kind is expected to move (at the faulty service; dependency failures also at callers).
EXPECTED_SIGNALS: dict[FaultKind, tuple[str, ...]] = {
    FaultKind.MEMORY_LEAK: ("memory_utilization", "restarts"),
    FaultKind.CPU_HOG: ("cpu_utilization", "saturation", "latency_p99"),
    FaultKind.LATENCY_REGRESSION: ("latency_p50", "latency_p95", "latency_p99"),
    FaultKind.ERROR_SPIKE: ("error_rate",),
    FaultKind.CRASH_LOOP: ("restarts", "ready_replicas", "saturation"),
    FaultKind.NODE_LOSS: ("ready_replicas", "saturation", "latency_p99"),
    FaultKind.DISK_FILL: ("disk_utilization", "error_rate"),
    FaultKind.DEPENDENCY_FAILURE: ("error_rate", "latency_p99"),
    FaultKind.TRAFFIC_SURGE: ("request_rate", "saturation", "latency_p99", "error_rate"),
}

INSTANCE_KINDS = frozenset({FaultKind.MEMORY_LEAK, FaultKind.CPU_HOG, FaultKind.CRASH_LOOP, FaultKind.DISK_FILL})
VERSION_KINDS = frozenset({FaultKind.LATENCY_REGRESSION, FaultKind.ERROR_SPIKE})
#: Seconds of added latency per unit of a dependency failure (callers wait for timeouts).
DEPENDENCY_TIMEOUT_S = 1.0
LATENCY_REGRESSION_SLOWDOWN = 1.5


@dataclass(frozen=True)
class Fault:
    """A fault to inject. ``kind`` is a :class:`FaultKind` value; ``service`` is required except for
    ``node_loss`` (which needs ``node``) and ``traffic_surge`` (all entry services when omitted).
    ``version`` narrows a fault to one version; ``instance`` to one replica. ``duration_s`` heals it
    automatically after that long.

    >>> Fault("memory_leak", service="api").resolved_kind
    <FaultKind.MEMORY_LEAK: 'memory_leak'>
    """

    kind: str
    service: str | None = None
    version: str | None = None
    instance: str | None = None
    node: str | None = None
    magnitude: float | None = None
    duration_s: float | None = None

    @property
    def resolved_kind(self) -> FaultKind:
        try:
            return FaultKind(self.kind)
        except ValueError:
            valid = ", ".join(k.value for k in FaultKind)
            raise BadInput(f"unknown fault kind {self.kind!r}; valid: {valid}", field="kind") from None

    @property
    def resolved_magnitude(self) -> float:
        return DEFAULT_MAGNITUDE[self.resolved_kind] if self.magnitude is None else float(self.magnitude)

    def validate(self) -> None:
        kind = self.resolved_kind
        if kind is FaultKind.NODE_LOSS and not self.node:
            raise BadInput("a node_loss fault needs node=", field="node")
        if kind not in (FaultKind.NODE_LOSS, FaultKind.TRAFFIC_SURGE) and not self.service and not self.instance:
            raise BadInput(f"a {kind.value} fault needs service= (or instance=)", field="service")
        if self.resolved_magnitude < 0:
            raise BadInput("magnitude must be >= 0", field="magnitude")
        if self.duration_s is not None and self.duration_s <= 0:
            raise BadInput("duration_s must be > 0", field="duration_s")


@dataclass
class FaultRecord:
    """Ground truth of one injected fault."""

    id: str
    kind: str
    service: str | None
    version: str | None
    node: str | None
    instances: tuple[str, ...]
    magnitude: float
    injected_at: datetime
    expected_signals: tuple[str, ...]
    healed_at: datetime | None = None
    healed_by: str | None = None
    expires_at: float | None = None
    # internal: the slots still affected (instance faults), the group row (version faults)
    live_slots: set[int] = field(default_factory=set, repr=False)
    group: int | None = field(default=None, repr=False)
    service_index: int | None = field(default=None, repr=False)
    node_index: int | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return self.healed_at is None

    @property
    def kind_enum(self) -> FaultKind:
        return FaultKind(self.kind)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "service": self.service,
            "version": self.version,
            "node": self.node,
            "instances": list(self.instances),
            "magnitude": self.magnitude,
            "injected_at": self.injected_at.isoformat(),
            "healed_at": self.healed_at.isoformat() if self.healed_at else None,
            "healed_by": self.healed_by,
            "expected_signals": list(self.expected_signals),
        }
