"""PagerDuty Events API v2: trigger, acknowledge and resolve one alert per incident.

``event_action`` follows the notification's status (triggered -> ``trigger``, acknowledged ->
``acknowledge``, resolved -> ``resolve``); ``dedup_key`` is ``hx-incident-<id>`` for all three, so
PagerDuty folds repeats into one alert and a resolve closes it.  A trigger carries the PD-CEF
``payload`` (summary <= 1024 characters, source, severity, timestamp, component, group, class,
custom_details) and ``links``.  PagerDuty answers 202; 400 is a permanent error (the body names the
invalid fields); 429 and 5xx are retried.  The routing key is the secret named by
``notifiers.pagerduty.routing_key_secret``; the endpoint is ``notifiers.pagerduty.url``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hx.heal.notify._http import HttpSink
from hx.heal.notify.base import EVENT_FOR_STATUS, Delivery, Notification, SecretSource
from hx.heal.notify.registry import NOTIFIERS, Transport, require_secret
from hx.http import Attempt, check_url

if TYPE_CHECKING:
    from hx.config import Notifiers

EVENT_ACTION = EVENT_FOR_STATUS
SUMMARY_LIMIT = 1024


def summary_line(message: Notification) -> str:
    """``[SEVERITY] title — service (environment)``, cut to PagerDuty's 1024 characters."""
    line = f"[{message.severity.upper()}] {message.title} — {message.service} ({message.environment})"
    return line if len(line) <= SUMMARY_LIMIT else line[: SUMMARY_LIMIT - 1] + "…"


def event_body(message: Notification, routing_key: str) -> dict[str, Any]:
    """The Events API v2 body for this notification (pure)."""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": EVENT_ACTION[message.status],
        "dedup_key": message.dedup_key,
    }
    if message.status != "triggered":
        return body
    when = message.opened_at or message.updated_at
    payload: dict[str, Any] = {
        "summary": summary_line(message),
        "source": f"hx/{message.environment}/{message.service}",
        "severity": message.severity,
        "component": message.service,
        "group": message.environment,
        "class": message.incident_class,
        "custom_details": _details(message),
    }
    if when is not None:
        payload["timestamp"] = when.isoformat()
    body["payload"] = payload
    body["client"] = "hx"
    if message.links:
        body["links"] = [{"href": lk.url, "text": lk.text} for lk in message.links]
    return body


def _details(message: Notification) -> dict[str, Any]:
    return {
        "incident_id": message.incident_id,
        "title": message.title,
        "summary": message.summary,
        "root_causes": [{"service": r.service, "metric": r.metric, "score": r.score} for r in message.root_causes],
        "actions": [{"action": a.action, "target": a.target, "ok": a.ok, "detail": a.detail} for a in message.actions],
        "repeat_count": message.repeat_count,
        "escalation_level": message.escalation_level,
    }


def _dedup_from_answer(message: Notification) -> Callable[[Attempt], str]:
    def pick(last: Attempt) -> str:
        key = last.data.get("dedup_key")
        return key if isinstance(key, str) and key else message.dedup_key

    return pick


class PagerDutyNotifier(HttpSink):
    """Sends Events API v2 events to one routing key."""

    name = "pagerduty"

    def __init__(self, url: str, routing_key: str, transport: Transport) -> None:
        super().__init__(url, transport)
        self._routing_key = routing_key

    def __repr__(self) -> str:
        return "PagerDutyNotifier(<routing key hidden>)"

    def send(self, message: Notification) -> Delivery:
        return self._post(message, event_body(message, self._routing_key), dedup=_dedup_from_answer(message))

    @classmethod
    def from_settings(cls, settings: Notifiers, secrets: SecretSource, transport: Transport) -> PagerDutyNotifier:
        pd = settings.pagerduty
        key = require_secret(secrets, pd.routing_key_secret, "notifiers.pagerduty.routing_key_secret", cls.name)
        return cls(check_url(pd.url, "notifiers.pagerduty.url"), key, transport)


NOTIFIERS.add("pagerduty", PagerDutyNotifier.from_settings)
