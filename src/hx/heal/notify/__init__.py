"""Notification sinks (Slack, email, PagerDuty, webhook) and the escalation policy that drives them.

Importing this package registers every sink in :data:`NOTIFIERS`.
"""

from __future__ import annotations

from hx.heal.notify import pagerduty, slack, smtp, webhook
from hx.heal.notify.base import (
    ActionTaken,
    Delivery,
    DictSecrets,
    Link,
    Notification,
    Notifier,
    RootCause,
    SecretSource,
    dedup_key_for,
)
from hx.heal.notify.escalation import (
    DEFAULT_RULES,
    Dispatcher,
    EscalationPolicy,
    IncidentState,
    Level,
    SeverityRule,
)
from hx.heal.notify.registry import NOTIFIERS, Transport, build_enabled, build_notifier, close_all
from hx.http import RetryPolicy

__all__ = [
    "DEFAULT_RULES",
    "NOTIFIERS",
    "ActionTaken",
    "Delivery",
    "DictSecrets",
    "Dispatcher",
    "EscalationPolicy",
    "IncidentState",
    "Level",
    "Link",
    "Notification",
    "Notifier",
    "RetryPolicy",
    "RootCause",
    "SecretSource",
    "SeverityRule",
    "Transport",
    "build_enabled",
    "build_notifier",
    "close_all",
    "dedup_key_for",
    "pagerduty",
    "slack",
    "smtp",
    "webhook",
]
