"""Bounded retries with exponential back-off, shared by every sink.

A sink wraps one delivery attempt in a function ``attempt(timeout_s) -> Attempt``;
:func:`run_with_retries` calls it at most ``max_attempts`` times, sleeping (through the injected
``sleep``) between attempts, and never past ``max_total_s`` of waiting plus talking.  An attempt
says whether its failure is worth retrying (429, 5xx, connection errors, SMTP 4xx) and may carry the
server's ``Retry-After``, which is honoured up to ``max_retry_after_s``.

>>> p = RetryPolicy(max_attempts=4, backoff_s=1.0, max_backoff_s=3.0)
>>> [p.wait(n, None) for n in (1, 2, 3)]
[1.0, 2.0, 3.0]
>>> p.wait(1, 999.0) == p.max_retry_after_s
True
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from hx.errors import BadInput


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try.  ``max_total_s`` bounds the waits plus the time spent talking to the sink."""

    max_attempts: int = 5
    backoff_s: float = 1.0
    factor: float = 2.0
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 120.0
    max_total_s: float = 300.0
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise BadInput(f"max_attempts must be an integer >= 1, got {self.max_attempts!r}", field="max_attempts")
        for name in ("backoff_s", "max_backoff_s", "max_retry_after_s", "max_total_s", "timeout_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise BadInput(f"{name} must be a finite number >= 0, got {value!r}", field=name)
        if self.factor < 1:
            raise BadInput(f"factor must be >= 1, got {self.factor!r}", field="factor")
        if self.timeout_s <= 0 or self.max_total_s <= 0:
            raise BadInput("timeout_s and max_total_s must be > 0", field="timeout_s")

    def wait(self, retry: int, retry_after: float | None) -> float:
        """The pause before retry number ``retry`` (1-based): the server's wish (capped), else back-off."""
        if retry_after is not None:
            return float(min(max(retry_after, 0.0), self.max_retry_after_s))
        return float(min(self.max_backoff_s, self.backoff_s * self.factor ** (retry - 1)))


@dataclass(frozen=True)
class Attempt:
    """The outcome of one try.  ``data`` carries sink-specific answers (PagerDuty's dedup_key)."""

    ok: bool
    status: int | None = None
    reply: str = ""
    error: str | None = None
    retryable: bool = False
    retry_after_s: float | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """The last attempt plus how many were made, the pauses, and the time it took."""

    last: Attempt
    attempts: int
    waits: tuple[float, ...]
    latency_s: float
    gave_up: str | None = None

    @property
    def error(self) -> str | None:
        if self.last.ok:
            return None
        base = self.last.error or "failed"
        if self.gave_up:
            return f"{base}; {self.gave_up}"
        if self.last.retryable and self.attempts > 1:
            return f"{base}; gave up after {self.attempts} attempts"
        return base


def run_with_retries(
    attempt: Callable[[float], Attempt],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Try, and retry what is worth retrying, within the policy's bounds.  Never loops without end."""
    t0 = monotonic()
    waits: list[float] = []

    def spent() -> float:
        # With a real sleep the clock includes the waits; with a fake one it does not: count the larger.
        return max(monotonic() - t0, sum(waits))

    last = Attempt(ok=False, error="not attempted")
    for n in range(1, policy.max_attempts + 1):
        last = attempt(min(policy.timeout_s, max(policy.max_total_s - spent(), 0.001)))
        if last.ok or not last.retryable or n == policy.max_attempts:
            return Outcome(last, n, tuple(waits), monotonic() - t0)
        pause = policy.wait(n, last.retry_after_s)
        if spent() + pause > policy.max_total_s:
            reason = (
                f"gave up after {n} attempt(s): the next retry in {pause:g} s "
                f"would pass the {policy.max_total_s:g} s budget"
            )
            return Outcome(last, n, tuple(waits), monotonic() - t0, gave_up=reason)
        sleep(pause)
        waits.append(pause)
    return Outcome(last, policy.max_attempts, tuple(waits), monotonic() - t0)  # pragma: no cover


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent or bad.

    >>> from datetime import UTC, datetime
    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> parse_retry_after("7", now)
    7.0
    >>> parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now)
    30.0
    >>> parse_retry_after("soon", now) is None
    True
    """
    if value is None or not value.strip():
        return None
    raw = value.strip()
    if raw.isdigit():
        return float(raw)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())
