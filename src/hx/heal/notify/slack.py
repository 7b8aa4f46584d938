"""Slack incoming webhook: POST ``{"text": fallback, "blocks": [...]}`` to the URL kept in the secret store.

The URL is the secret named by ``notifiers.slack.webhook_secret``.  Slack answers 200 ``ok``;
429 carries ``Retry-After``; 4xx such as ``invalid_payload`` or ``no_service`` are permanent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hx.heal.notify import render
from hx.heal.notify._http import HttpSink
from hx.heal.notify.base import Delivery, Notification, SecretSource
from hx.heal.notify.registry import NOTIFIERS, Transport, require_secret
from hx.http import check_url

if TYPE_CHECKING:
    from hx.config import Notifiers


class SlackNotifier(HttpSink):
    """Posts Block Kit messages to one Slack incoming webhook."""

    name = "slack"

    def send(self, message: Notification) -> Delivery:
        return self._post(message, render.slack_payload(message))

    @classmethod
    def from_settings(cls, settings: Notifiers, secrets: SecretSource, transport: Transport) -> SlackNotifier:
        key = "notifiers.slack.webhook_secret"
        url = require_secret(secrets, settings.slack.webhook_secret, key, cls.name)
        return cls(check_url(url, f"secret {settings.slack.webhook_secret} ({key})"), transport)


NOTIFIERS.add("slack", SlackNotifier.from_settings)
