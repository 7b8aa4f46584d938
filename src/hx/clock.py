"""Clocks: the wall clock, or simulated time driven by the sim and the benchmarks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class WallClock:
    """Timezone-aware UTC wall time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimClock:
    """Simulated time, advanced explicitly.

    >>> c = SimClock(datetime(2026, 1, 1, tzinfo=UTC))
    >>> c.advance(90).isoformat()
    '2026-01-01T00:01:30+00:00'
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock needs a timezone-aware start time")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now = self._now + timedelta(seconds=seconds)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when
