"""Generic webhook: POST the notification as JSON to the URL kept in the secret store.

Body: ``{"version": 1, "event": "incident.<status>", "dedup_key": ..., "text": <plain text>,
"notification": <Notification.to_dict()>}``.  Headers ``X-Hx-Event`` and ``X-Hx-Dedup-Key`` let a
receiver route and drop repeats without parsing the body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hx.heal.notify import render
from hx.heal.notify._http import HttpSink
from hx.heal.notify.base import Delivery, Notification, SecretSource
from hx.heal.notify.registry import NOTIFIERS, Transport, require_secret
from hx.http import check_url

if TYPE_CHECKING:
    from hx.config import Notifiers


def webhook_body(message: Notification) -> dict[str, Any]:
    return {
        "version": 1,
        "event": f"incident.{message.status}",
        "dedup_key": message.dedup_key,
        "text": render.text(message),
        "notification": message.to_dict(),
    }


class WebhookNotifier(HttpSink):
    """Posts the notification JSON to one URL."""

    name = "webhook"

    def send(self, message: Notification) -> Delivery:
        headers = {"X-Hx-Event": f"incident.{message.status}", "X-Hx-Dedup-Key": message.dedup_key}
        return self._post(message, webhook_body(message), headers)

    @classmethod
    def from_settings(cls, settings: Notifiers, secrets: SecretSource, transport: Transport) -> WebhookNotifier:
        key = "notifiers.webhook.url_secret"
        url = require_secret(secrets, settings.webhook.url_secret, key, cls.name)
        return cls(check_url(url, f"secret {settings.webhook.url_secret} ({key})"), transport)


NOTIFIERS.add("webhook", WebhookNotifier.from_settings)
