"""Facts about the watched fleet that telemetry does not carry: per-replica capacity and start-up time.

The scaler sizes replicas from them.  The embedded simulator knows them exactly (its provider is built in
:mod:`hx.wiring`); a real fleet has no provider yet, and the scaler estimates capacity from telemetry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ServiceFacts:
    """One service's per-replica capacity (requests/s), replica start-up time (s) and where they come from."""

    capacity_rps: float
    startup_s: float
    origin: str


class FleetFacts(Protocol):
    """Known facts per service; ``None`` for a service the provider does not know."""

    def facts(self, service: str) -> ServiceFacts | None: ...
