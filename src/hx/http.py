"""HTTP plumbing shared by every engine: one retry loop, one Retry-After parser, one URL redactor, one sender.

:func:`run_with_retries` is the one bounded retry loop (notifiers, the HTTP actuator, the Prometheus source, the
runbook ``webhook`` step, SMTP): an attempt ``attempt(timeout_s) -> Attempt`` says whether it worked, whether its
failure is worth retrying and what the server asked for in ``Retry-After``; the loop sleeps through the injected
``sleep`` with exponential back-off (jitter optional and injectable), honours ``Retry-After`` up to a cap and never
spends more than ``max_total_s`` waiting plus talking.  :func:`retry_http` runs it over one httpx request.

:func:`redact_url` is the one rule for a URL that is shown or logged: the userinfo password and the values of query
parameters that look like secrets are masked, the fragment dropped; ``hide_path`` also hides a path that *is* the
secret (a Slack incoming webhook).

>>> p = RetryPolicy(max_attempts=4, backoff_s=1.0, max_backoff_s=3.0)
>>> [p.wait(n, None) for n in (1, 2, 3)]
[1.0, 2.0, 3.0]
>>> p.wait(1, 999.0) == p.max_retry_after_s
True
>>> redact_url("https://bob:pw@example.com/hook?token=abc&region=eu#x")
'https://bob:***@example.com/hook?token=***&region=eu'
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import httpx

from hx.errors import BadInput, ConfigError

#: statuses worth retrying by default: rate limited, or a server that may recover
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
#: every 5xx and 429 (the notifiers' rule: a sink's 501 is as transient as its 500)
RETRY_STATUS_ALL_5XX = frozenset({429, *range(500, 600)})
#: request errors raised before the request reached the server: always safe to retry
CONNECT_ERRORS: tuple[type[httpx.HTTPError], ...] = (httpx.ConnectError, httpx.ConnectTimeout)

_DELTA_SECONDS = re.compile(r"^\d+(\.\d+)?$")
_SECRET_PARAM = re.compile(r"token|secret|key|pass|pwd|auth|sig|credential|session", re.IGNORECASE)
_MAX_REPLY = 500


# ---- Retry-After ----------------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent or bad.

    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> parse_retry_after("7", now), parse_retry_after("1.5", now)
    (7.0, 1.5)
    >>> parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now)
    30.0
    >>> parse_retry_after("soon", now) is None
    True
    """
    if value is None or not value.strip():
        return None
    raw = value.strip()
    if _DELTA_SECONDS.match(raw):
        seconds = float(raw)
        return seconds if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


# ---- the retry loop -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try.  ``max_total_s`` bounds the waits plus the time spent talking.

    ``jitter`` maps a back-off pause to the pause taken (e.g. full jitter ``lambda s: random.uniform(0, s)``);
    it never applies to the server's ``Retry-After``.
    """

    max_attempts: int = 5
    backoff_s: float = 1.0
    factor: float = 2.0
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 120.0
    max_total_s: float = 300.0
    timeout_s: float = 10.0
    retry_status: frozenset[int] = RETRY_STATUS
    jitter: Callable[[float], float] | None = field(default=None, compare=False)

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
        pause = float(min(self.max_backoff_s, self.backoff_s * self.factor ** (retry - 1)))
        return float(max(0.0, self.jitter(pause))) if self.jitter is not None else pause

    def within(self, budget_s: float) -> RetryPolicy:
        """This policy with the whole exchange, retries included, bounded by ``budget_s``."""
        return replace(self, max_total_s=budget_s, timeout_s=min(self.timeout_s, budget_s))


@dataclass(frozen=True)
class Attempt:
    """The outcome of one try.  ``data`` carries sink-specific answers (PagerDuty's dedup_key).

    ``response`` is the HTTP answer when there was one; ``exc`` the request error when there was none.
    """

    ok: bool
    status: int | None = None
    reply: str = ""
    error: str | None = None
    retryable: bool = False
    retry_after_s: float | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    response: httpx.Response | None = field(default=None, repr=False, compare=False)
    exc: httpx.HTTPError | None = field(default=None, repr=False, compare=False)


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


def classify(resp: httpx.Response, shown: str, policy: RetryPolicy, now: datetime) -> Attempt:
    """One HTTP answer as an attempt: 2xx ok, ``policy.retry_status`` retryable (with Retry-After), else permanent.

    ``shown`` is the URL as errors may name it (already redacted).
    """
    reply = resp.text[:_MAX_REPLY]
    code = resp.status_code
    if 200 <= code < 300:
        return Attempt(ok=True, status=code, reply=reply, data=_json_object(resp), response=resp)
    if code in policy.retry_status:
        after = parse_retry_after(resp.headers.get("Retry-After"), now)
        error = f"HTTP {code} from {shown}"
        return Attempt(False, code, reply, error, retryable=True, retry_after_s=after, response=resp)
    error = f"HTTP {code} from {shown} (permanent: not retried): {reply.strip()[:200]}"
    return Attempt(False, code, reply, error, data=_json_object(resp), response=resp)


def retry_http(
    send: Callable[[float], httpx.Response],
    shown: str,
    policy: RetryPolicy,
    *,
    retry_errors: tuple[type[httpx.HTTPError], ...] = CONNECT_ERRORS,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Outcome:
    """Run ``send(timeout_s)`` (one httpx request) under the policy; ``shown`` is its URL as errors may name it.

    Errors in ``retry_errors`` are retried and end as ``last.exc``; any other ``httpx.HTTPError`` propagates to the
    caller, which knows whether the request may have been acted on.
    """

    def attempt(timeout: float) -> Attempt:
        try:
            resp = send(timeout)
        except retry_errors as err:
            error = f"cannot reach {shown}: {type(err).__name__}: {err}"
            return Attempt(ok=False, error=error, retryable=True, exc=err)
        return classify(resp, shown, policy, now())

    return run_with_retries(attempt, policy, sleep=sleep, monotonic=monotonic)


def _json_object(resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# ---- URLs -----------------------------------------------------------------------------------------


def is_http_url(url: str) -> bool:
    """An absolute http(s) URL with a host and no whitespace."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(host) and not any(c.isspace() for c in text)


def check_url(url: str, key: str) -> str:
    """An absolute http(s) URL, or a ConfigError naming where it came from (showing only its redacted form)."""
    if not is_http_url(url):
        shown = redact_url(url, hide_path=True) if url.strip().startswith(("http://", "https://")) else None
        raise ConfigError(
            f"{shown or '<not an http(s) URL>'} is not an absolute http(s) URL", key=key, expected="https://host/path"
        )
    return url.strip()


def redact_url(url: str, *, hide_path: bool = False) -> str:
    """The URL as it may be shown or logged.

    The userinfo password and the values of query parameters whose names look like secrets (token, key, secret,
    password, signature, auth, ...) become ``***``; the fragment is dropped.  ``hide_path`` also replaces a
    non-empty path by ``/…`` and drops the query, for URLs that are themselves the secret.

    >>> redact_url("https://hooks.slack.com/services/T0/B0/xyz", hide_path=True)
    'https://hooks.slack.com/…'
    >>> redact_url("http://x:9090/api?api_key=k&q=up")
    'http://x:9090/api?api_key=***&q=up'
    """
    try:
        p = urlsplit(url)
        host, port = p.hostname or "", p.port
    except ValueError:
        return "<unparseable URL>"
    netloc = f"[{host}]" if ":" in host else host
    if port:
        netloc = f"{netloc}:{port}"
    if p.username is not None:
        user = quote(p.username, safe="")
        netloc = f"{user}:***@{netloc}" if p.password is not None else f"{user}@{netloc}"
    if hide_path:
        return urlunsplit((p.scheme, netloc, "/…" if p.path not in ("", "/") else p.path, "", ""))
    return urlunsplit((p.scheme, netloc, p.path, _redact_query(p.query), ""))


def _redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    shown = [(k, "***" if _SECRET_PARAM.search(k) else v) for k, v in pairs]
    return "&".join(f"{quote(k, safe='')}={v if v == '***' else quote(v, safe='')}" for k, v in shown)


# ---- the webhook sender ---------------------------------------------------------------------------


class WebhookSender:
    """Sends JSON to webhooks: http(s) only, retried through :func:`run_with_retries`, URLs redacted in errors.

    ``client``, ``sleep``, ``monotonic`` and ``now`` are injectable; ``retry_errors`` says which request errors
    are retried (the default, every ``httpx.HTTPError``, suits receivers that drop repeats by an idempotency key).
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        client: httpx.Client | None = None,
        retry_errors: tuple[type[httpx.HTTPError], ...] = (httpx.HTTPError,),
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.policy = policy if policy is not None else RetryPolicy()
        self._own = client is None
        self._client = client if client is not None else httpx.Client()
        self._retry_errors = retry_errors
        self._sleep, self._monotonic, self._now = sleep, monotonic, now

    def close(self) -> None:
        if self._own:
            self._client.close()

    def send(
        self,
        url: str,
        body: Mapping[str, Any],
        *,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        budget_s: float | None = None,
        secret_path: bool = False,
    ) -> Outcome:
        """Deliver ``body`` as JSON; ``idempotency_key`` goes out as ``Idempotency-Key`` on every attempt.

        ``secret_path`` hides the URL's path in errors too (a URL that is itself the secret).
        """
        if not is_http_url(url):
            raise BadInput(f"{redact_url(url, hide_path=True)} is not an absolute http(s) URL", field="url")
        content = json.dumps(body, ensure_ascii=False).encode()
        sent = {**(headers or {}), "Content-Type": "application/json"}
        if idempotency_key is not None:
            sent["Idempotency-Key"] = idempotency_key
        policy = self.policy.within(budget_s) if budget_s is not None else self.policy

        def one(timeout: float) -> httpx.Response:
            return self._client.request(method, url, content=content, headers=sent, timeout=timeout)

        shown = redact_url(url, hide_path=secret_path)
        return retry_http(
            one,
            shown,
            policy,
            retry_errors=self._retry_errors,
            sleep=self._sleep,
            monotonic=self._monotonic,
            now=self._now,
        )
