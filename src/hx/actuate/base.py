"""The Actuator protocol: the verbs engines act through, each returning a typed result."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class Capability(enum.Enum):
    """What an actuator can do; checked in one place (``require``) instead of hasattr probes."""

    SCALE = "scale"
    TRAFFIC_SPLIT = "set_traffic_split"
    DEPLOY = "deploy"
    RESTART = "restart"
    RUN = "run"


@dataclass(frozen=True)
class ActionResult:
    """What an actuator call did."""

    verb: str
    target: str
    ok: bool
    detail: str = ""
    changed: bool = True
    output: Mapping[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0


class Actuator(Protocol):
    name: str

    def capabilities(self) -> frozenset[Capability]: ...

    def scale(self, service: str, replicas: int, *, timeout: float = 60.0) -> ActionResult: ...

    def set_traffic_split(
        self, service: str, weights: Mapping[str, float], *, timeout: float = 60.0
    ) -> ActionResult: ...

    def deploy(self, service: str, version: str, instances: int, *, timeout: float = 300.0) -> ActionResult: ...

    def restart(self, instance: str, *, timeout: float = 60.0) -> ActionResult: ...

    def run(self, action: str, params: Mapping[str, Any], *, timeout: float = 300.0) -> ActionResult: ...
