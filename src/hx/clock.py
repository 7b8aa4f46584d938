"""Clocks: the wall clock, or simulated time driven by the sim and the benchmarks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

#: the span of times hx takes from outside (API, alerts, files): the Unix era up to the year 3000.  A time beyond it is
#: a typo or a sentinel, and windows reckoned from it (a day before, a year after) would leave what a datetime holds.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


class OutsideEra(ValueError):
    """A time outside ``EARLIEST .. LATEST``; its message says so, naming the time."""


def in_era(t: datetime) -> datetime:
    """``t`` in UTC (a naive ``t`` is read as UTC); :class:`OutsideEra` when it lies outside ``EARLIEST .. LATEST``.

    >>> in_era(datetime.fromisoformat("2026-03-03T12:00:00+01:00")).isoformat()
    '2026-03-03T11:00:00+00:00'
    >>> in_era(datetime.fromisoformat("9999-12-31T23:59:59-23:59"))
    Traceback (most recent call last):
    ...
    hx.clock.OutsideEra: 9999-12-31T23:59:59-23:59 is outside the times hx takes (1970-01-01 to 3000-01-01 UTC)
    """
    if t.tzinfo is not None and EARLIEST.year - 1 <= t.year <= LATEST.year + 1:  # an offset is under a day
        u = t.astimezone(UTC)
    elif t.tzinfo is None:
        u = t.replace(tzinfo=UTC)
    else:
        u = EARLIEST - timedelta(days=1)  # beyond the era whatever its offset (converting it could overflow)
    if not EARLIEST <= u <= LATEST:
        raise OutsideEra(
            f"{t.isoformat()} is outside the times hx takes ({EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d} UTC)"
        )
    return u


def seconds_in_era(t: float, shown: str | None = None) -> float:
    """Unix seconds ``t`` when it lies in ``EARLIEST .. LATEST`` (both included); :class:`OutsideEra` naming ``shown``
    (default ``t``) and the date ``t`` is otherwise.

    >>> seconds_in_era(0.0), seconds_in_era(60.0)
    (0.0, 60.0)
    >>> seconds_in_era(-1.0)
    Traceback (most recent call last):
    ...
    hx.clock.OutsideEra: -1 (1969-12-31T23:59:59Z) is outside the times hx takes (1970-01-01 to 3000-01-01 UTC)
    """
    if EARLIEST.timestamp() <= t <= LATEST.timestamp():
        return t
    try:
        date = f" ({datetime.fromtimestamp(t, tz=UTC):%Y-%m-%dT%H:%M:%SZ})"
    except (OverflowError, OSError, ValueError):  # beyond what a datetime holds
        date = ""
    raise OutsideEra(
        f"{shown if shown is not None else f'{t:g}'}{date} is outside the times hx takes "
        f"({EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d} UTC)"
    )


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
