"""What the HTTP sinks share: the one webhook sender (:class:`hx.http.WebhookSender`) turned into a Delivery.

A timeout after the request was sent is retried like a connection error, so a slow sink may see a
message twice; PagerDuty folds that by ``dedup_key``, the webhook receives ``X-Hx-Dedup-Key``.
Errors name the sink's scheme, host and port only: webhook paths and queries often hold tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from hx.heal.notify.base import EVENT_FOR_STATUS, Delivery, Notification
from hx.heal.notify.registry import Transport
from hx.http import RETRY_STATUS_ALL_5XX, Attempt, WebhookSender


class HttpSink:
    """Base of the HTTP notifiers: sends through one :class:`~hx.http.WebhookSender` built from the transport."""

    name = "http"

    def __init__(self, url: str, transport: Transport) -> None:
        self._url = url
        self._transport = transport
        self._sender = WebhookSender(
            replace(transport.retry, retry_status=RETRY_STATUS_ALL_5XX),
            client=transport.client,
            sleep=transport.sleep,
            monotonic=transport.monotonic,
            now=transport.clock.now,
        )

    def close(self) -> None:
        self._sender.close()

    def _post(
        self,
        message: Notification,
        body: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
        dedup: Callable[[Attempt], str | None] | None = None,
    ) -> Delivery:
        outcome = self._sender.send(self._url, body, headers=headers, secret_path=True)
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
