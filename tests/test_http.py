from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hx.errors import BadInput, ConfigError
from hx.http import (
    RETRY_STATUS_ALL_5XX,
    Attempt,
    Outcome,
    RetryPolicy,
    WebhookSender,
    check_url,
    parse_retry_after,
    redact_url,
    retry_http,
    run_with_retries,
)
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
    assert parse_retry_after(" 1.5 ", NOW) == 1.5
    assert parse_retry_after(format_datetime(NOW + timedelta(seconds=90), usegmt=True), NOW) == 90.0
    assert parse_retry_after(format_datetime(NOW - timedelta(seconds=90), usegmt=True), NOW) == 0.0
    for bad in (None, "", "-5", "1.5e3", "tomorrow", "Mon, 99 Foo 2026 00:00:00"):
        assert parse_retry_after(bad, NOW) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"backoff_s": -1.0},
        {"factor": 0.5},
        {"timeout_s": 0.0},
        {"max_total_s": float("inf")},
        {"max_retry_after_s": float("nan")},
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(BadInput):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(seconds=st.integers(0, 10**7))
def test_parser_reads_delta_seconds_and_dates_alike(seconds: int) -> None:
    assert parse_retry_after(str(seconds), NOW) == float(seconds)
    date = format_datetime(NOW + timedelta(seconds=seconds), usegmt=True)
    assert parse_retry_after(date, NOW) == float(seconds)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(raw=st.text(max_size=40))
def test_parser_never_raises_and_never_goes_negative(raw: str) -> None:
    got = parse_retry_after(raw, NOW)
    assert got is None or (got >= 0.0 and got == got)


def test_jitter_is_injectable_and_spares_retry_after() -> None:
    p = RetryPolicy(backoff_s=2.0, max_backoff_s=8.0, jitter=lambda s: s / 2)
    assert [p.wait(n, None) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 4.0]
    assert p.wait(1, 7.0) == 7.0


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://bob:pw@h.example:8443/p?token=abc&region=eu#frag",
            "https://bob:***@h.example:8443/p?token=***&region=eu",
        ),
        ("http://h/x?API_KEY=1&sig=2&password=3&q=up", "http://h/x?API_KEY=***&sig=***&password=***&q=up"),
        ("http://alice@h/x", "http://alice@h/x"),
        ("http://h", "http://h"),
    ],
)
def test_redact_url_masks_passwords_and_secret_parameters(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_url_can_hide_a_path_that_is_the_secret() -> None:
    url = "https://u:p@hooks.slack.com/services/T0/B0/xyz?x=1"
    assert redact_url(url, hide_path=True) == "https://u:***@hooks.slack.com/…"


@pytest.mark.parametrize("url", ["ftp://h/x", "https://", "https://h/a b", "javascript:alert(1)", "h/x"])
def test_check_url_refuses_what_is_not_http_without_echoing_it(url: str) -> None:
    with pytest.raises(ConfigError, match="not an absolute http") as err:
        check_url(url, "notifiers.webhook.url_secret")
    assert "notifiers.webhook.url_secret" in str(err.value)
    assert check_url(" https://h/x ", "k") == "https://h/x"


def _sender(
    replies: list[httpx.Response | Exception], t: FakeTime, **kw: object
) -> tuple[WebhookSender, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = deque(replies)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        nxt = queue.popleft()
        if isinstance(nxt, Exception):
            raise nxt
        return nxt

    client = httpx.Client(transport=httpx.MockTransport(handler))
    policy = RetryPolicy(max_attempts=4, backoff_s=0.5, max_backoff_s=4.0, retry_status=RETRY_STATUS_ALL_5XX)
    return WebhookSender(policy, client=client, sleep=t.sleep, monotonic=t.monotonic, now=lambda: NOW, **kw), seen  # type: ignore[arg-type]


def test_sender_honours_retry_after_in_seconds_and_as_a_date_with_one_idempotency_key() -> None:
    t = FakeTime()
    date = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    sender, seen = _sender(
        [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(503, headers={"Retry-After": date}),
         httpx.ConnectError("refused"), httpx.Response(202, json={"id": 7})],
        t,
    )  # fmt: skip
    out = sender.send("https://h/hook", {"a": 1}, method="PUT", idempotency_key="k-1")
    assert out.last.ok and out.attempts == 4 and out.last.data == {"id": 7}
    assert t.sleeps == [3.0, 30.0, 2.0]  # Retry-After as seconds, as a date, then back-off (third retry)
    assert {r.headers["Idempotency-Key"] for r in seen} == {"k-1"} and {r.method for r in seen} == {"PUT"}


def test_sender_refuses_a_non_http_url_and_keeps_secrets_out_of_errors() -> None:
    t = FakeTime()
    sender, _ = _sender([httpx.Response(400, text="bad")], t)
    with pytest.raises(BadInput, match="not an absolute http"):
        sender.send("file:///etc/passwd", {})
    out = sender.send("https://h/services/SECRET?token=abc", {}, secret_path=True)
    assert not out.last.ok and not out.last.retryable and out.attempts == 1
    assert "SECRET" not in (out.error or "") and "abc" not in (out.error or "")


def test_retry_http_lets_errors_it_does_not_retry_propagate() -> None:
    def send(timeout: float) -> httpx.Response:
        raise httpx.ReadTimeout("slow")

    with pytest.raises(httpx.ReadTimeout):
        retry_http(send, "https://h/x", RetryPolicy(), sleep=FakeTime().sleep)
