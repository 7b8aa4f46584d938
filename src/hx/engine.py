"""The contract between the runtime (:mod:`hx.runtime`) and the engines it steps.

An engine has a ``name``, an ``interval_s`` and a ``step(now)``; one that learns before it decides says what it
waits for (:class:`Learning`, shown in ``/health``); inside a step, :func:`step_time_left` says how long its work
may still take.  Engines import this module, not the runtime (which depends on the whole platform).
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

#: the share of the bound an engine's own work may use (the rest is for finishing what it started)
WORK_SHARE = 0.8
#: the running step's deadline (time.monotonic()), set by the runtime around each step
STEP_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("hx_step_deadline", default=None)


def step_time_left() -> float:
    """Seconds left for the running step's work, :data:`WORK_SHARE` of its bound (``inf`` outside a step)."""
    deadline = STEP_DEADLINE.get()
    return float("inf") if deadline is None else deadline - time.monotonic()


class Engine(Protocol):
    """Anything the runtime can step."""

    name: str
    interval_s: float

    def step(self, now: datetime) -> None: ...


@dataclass(frozen=True)
class Learning:
    """What an engine still waits for before it decides on its own (shown as ``learning`` in ``/health``).

    ``waits_for`` says it in words (which history, how much of it is there); ``until`` is when the engine expects to
    have it at the current rate of data (None when it cannot tell, e.g. no data has arrived at all).
    """

    waits_for: str
    until: datetime | None = None
    details: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "waits_for": self.waits_for,
            "until": self.until.isoformat() if self.until else None,
            **({"details": self.details} if self.details else {}),
        }


@runtime_checkable
class Learns(Protocol):
    """An engine that can say it is still learning (the detector, the scaler)."""

    def learning(self, now: datetime) -> Learning | None: ...


def learning_of(engine: object, now: datetime) -> Learning | None:
    """The one check: what ``engine`` still waits for, None when it decides on its own (or cannot say)."""
    return engine.learning(now) if isinstance(engine, Learns) else None
