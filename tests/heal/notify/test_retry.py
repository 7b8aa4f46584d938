from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hx.errors import BadInput
from hx.heal.notify.retry import Attempt, Outcome, RetryPolicy, parse_retry_after, run_with_retries
from tests.heal.notify.receivers import FakeTime

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FAIL = Attempt(ok=False, status=503, error="HTTP 503", retryable=True)
PERMANENT = Attempt(ok=False, status=400, error="HTTP 400", retryable=False)
OK = Attempt(ok=True, status=200)


def _run(script: list[Attempt], policy: RetryPolicy) -> tuple[Outcome, FakeTime, list[float]]:
    queue = deque(script)
    t = FakeTime()
    timeouts: list[float] = []

    def attempt(timeout: float) -> Attempt:
        timeouts.append(timeout)
        return queue.popleft() if queue else FAIL

    return run_with_retries(attempt, policy, sleep=t.sleep, monotonic=t.monotonic), t, timeouts


def test_backoff_grows_and_is_capped() -> None:
    p = RetryPolicy(backoff_s=0.5, factor=3.0, max_backoff_s=10.0)
    assert [p.wait(n, None) for n in range(1, 6)] == [0.5, 1.5, 4.5, 10.0, 10.0]
    assert p.wait(1, 5.0) == 5.0 and p.wait(1, -3.0) == 0.0 and p.wait(1, 1e9) == p.max_retry_after_s


def test_stops_at_success_or_at_a_permanent_error() -> None:
    out, t, _ = _run([FAIL, FAIL, OK], RetryPolicy(max_attempts=5))
    assert out.last.ok and out.attempts == 3 and t.sleeps == [1.0, 2.0] and out.error is None
    out, t, _ = _run([FAIL, PERMANENT, OK], RetryPolicy(max_attempts=5))
    assert out.attempts == 2 and out.error == "HTTP 400" and t.sleeps == [1.0]


def test_never_more_than_max_attempts() -> None:
    out, t, _ = _run([], RetryPolicy(max_attempts=3))
    assert out.attempts == 3 and len(t.sleeps) == 2
    assert out.error == "HTTP 503; gave up after 3 attempts"


def test_the_time_budget_bounds_waits_and_shrinks_the_timeout() -> None:
    policy = RetryPolicy(max_attempts=10, backoff_s=10.0, max_backoff_s=100.0, max_total_s=45.0, timeout_s=20.0)
    out, t, timeouts = _run([], policy)
    assert t.sleeps == [10.0, 20.0]  # the next 40 s pause would pass 45 s
    assert out.attempts == 3 and "budget" in (out.error or "")
    assert timeouts == [20.0, 20.0, 15.0]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    script=st.lists(
        st.sampled_from([FAIL, PERMANENT, OK, Attempt(ok=False, retryable=True, retry_after_s=1e6)]), max_size=25
    ),
    attempts=st.integers(1, 20),
    total=st.floats(0.5, 1000),
)
def test_bounded_whatever_the_sink_says(script: list[Attempt], attempts: int, total: float) -> None:
    policy = RetryPolicy(max_attempts=attempts, max_total_s=total, max_retry_after_s=300)
    out, t, _ = _run(script, policy)
    assert 1 <= out.attempts <= attempts
    assert sum(t.sleeps) <= total and len(t.sleeps) == out.attempts - 1


def test_retry_after_forms() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after(format_datetime(NOW + timedelta(seconds=90), usegmt=True), NOW) == 90.0
    assert parse_retry_after(format_datetime(NOW - timedelta(seconds=90), usegmt=True), NOW) == 0.0
    for bad in (None, "", "-5", "1.5e3", "tomorrow", "Mon, 99 Foo 2026 00:00:00"):
        assert parse_retry_after(bad, NOW) is None


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"backoff_s": -1.0}, {"factor": 0.5}, {"timeout_s": 0.0}, {"max_total_s": float("inf")}],
)
def test_bad_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(BadInput):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
