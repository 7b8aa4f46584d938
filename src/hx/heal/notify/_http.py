"""What the HTTP sinks share: URL checks, one POST attempt classified for retrying, and the send loop.

A timeout after the request was sent is retried like a connection error, so a slow sink may see a
message twice; PagerDuty folds that by ``dedup_key``, the webhook receives ``X-Hx-Dedup-Key``.
Errors name the sink's scheme, host and port only: webhook paths and queries often hold tokens.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from hx.errors import ConfigError
from hx.heal.notify.base import EVENT_FOR_STATUS, Delivery, Notification
from hx.heal.notify.registry import Transport
from hx.heal.notify.retry import Attempt, parse_retry_after, run_with_retries

_MAX_REPLY = 500


def check_sink_url(url: str, key: str) -> str:
    """An absolute http(s) URL for a sink, or a ConfigError naming where it came from (never echoing it)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url.strip()):
        shown = public_url(url) if parts.scheme in ("http", "https") else "<not an http(s) URL>"
        raise ConfigError(f"{shown} is not an absolute http(s) URL", key=key, expected="https://host/path")
    return url.strip()


def public_url(url: str) -> str:
    """The URL without query, fragment or credentials (a webhook's path may still be secret-ish: keep the host)."""
    p = urlsplit(url)
    host = p.hostname or ""
    if p.port:
        host = f"{host}:{p.port}"
    return urlunsplit((p.scheme, host, "/…" if p.path not in ("", "/") else p.path, "", ""))


def post_attempt(
    client: httpx.Client,
    url: str,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    timeout: float,
    transport: Transport,
) -> Attempt:
    """POST JSON once; classify: 2xx ok, 429/5xx/connection error retryable, other 4xx permanent."""
    content = json.dumps(body, ensure_ascii=False).encode()
    try:
        resp = client.post(
            url, content=content, headers={"Content-Type": "application/json", **headers}, timeout=timeout
        )
    except httpx.HTTPError as err:
        return Attempt(ok=False, error=f"cannot reach {public_url(url)}: {type(err).__name__}: {err}", retryable=True)
    reply = resp.text[:_MAX_REPLY]
    code = resp.status_code
    if 200 <= code < 300:
        return Attempt(ok=True, status=code, reply=reply, data=_json_object(resp))
    if code == 429 or code >= 500:
        after = parse_retry_after(resp.headers.get("Retry-After"), transport.clock.now())
        return Attempt(
            ok=False,
            status=code,
            reply=reply,
            error=f"HTTP {code} from {public_url(url)}",
            retryable=True,
            retry_after_s=after,
        )
    return Attempt(
        ok=False,
        status=code,
        reply=reply,
        data=_json_object(resp),
        error=f"HTTP {code} from {public_url(url)} (permanent: not retried): {reply.strip()[:200]}",
    )


def _json_object(resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class HttpSink:
    """Base of the HTTP notifiers: owns or borrows an ``httpx.Client`` and runs the retry loop."""

    name = "http"

    def __init__(self, url: str, transport: Transport) -> None:
        self._url = url
        self._transport = transport
        self._own = transport.client is None
        self._client = transport.client if transport.client is not None else httpx.Client()

    def close(self) -> None:
        if self._own:
            self._client.close()

    def _post(
        self,
        message: Notification,
        body: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
        dedup: Callable[[Attempt], str | None] | None = None,
    ) -> Delivery:
        t = self._transport
        outcome = run_with_retries(
            lambda timeout: post_attempt(self._client, self._url, body, headers or {}, timeout, t),
            t.retry,
            sleep=t.sleep,
            monotonic=t.monotonic,
        )
        last = outcome.last
        return Delivery(
            notifier=self.name,
            ok=last.ok,
            attempts=outcome.attempts,
            status=last.status,
            reply=last.reply,
            error=outcome.error,
            permanent=not last.ok and not last.retryable,
            dedup_key=dedup(last) if dedup else message.dedup_key,
            latency_s=outcome.latency_s,
            waits=outcome.waits,
            incident_id=message.incident_id,
            event=EVENT_FOR_STATUS[message.status],
        )
