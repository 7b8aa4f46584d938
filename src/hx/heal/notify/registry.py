"""The notifier registry and how notifiers are built from settings and secrets.

Every sink module registers a factory ``(settings.notifiers, secrets, transport) -> Notifier`` in
:data:`NOTIFIERS` under its name (``slack``, ``email``, ``pagerduty``, ``webhook``: the names
``self_healing.escalation`` uses).  A factory reads its secret(s) and checks its settings when it
builds, so misconfiguration is a :class:`~hx.errors.NotifierError` or
:class:`~hx.errors.ConfigError` naming the secret or key, raised once, not at every send.

>>> import hx.heal.notify
>>> NOTIFIERS.names()
['email', 'pagerduty', 'slack', 'webhook']
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from hx.clock import Clock, WallClock
from hx.errors import NotifierError
from hx.heal.notify.base import Notifier, SecretSource
from hx.http import RetryPolicy
from hx.registry import Registry

if TYPE_CHECKING:
    import httpx

    from hx.config import Notifiers


@dataclass(frozen=True)
class Transport:
    """The edges a notifier uses, injectable for tests: HTTP client, sleep, monotonic and wall clocks, retries.

    ``client=None`` makes each HTTP notifier own (and close) its own ``httpx.Client``.
    """

    client: httpx.Client | None = None
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    clock: Clock = field(default_factory=WallClock)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def with_attempts(self, max_attempts: int) -> Transport:
        return replace(self, retry=replace(self.retry, max_attempts=max_attempts))


NotifierFactory = Callable[["Notifiers", SecretSource, Transport], Notifier]

#: name -> factory building that notifier from ``settings.notifiers``.
NOTIFIERS: Registry[NotifierFactory] = Registry("notifier")


def require_secret(secrets: SecretSource, name: str | None, key: str, notifier: str) -> str:
    """The secret's value, or a NotifierError naming the secret and the setting that names it."""
    if not name:
        raise NotifierError(f"{notifier}: {key} is not set; name the secret that holds it", key=key)
    value = secrets.get_optional(name)
    if value is None or not value.strip():
        raise NotifierError(
            f"{notifier}: secret {name!r} (from {key}) is not set; set it with `hx secret set {name}`",
            secret=name,
            key=key,
        )
    return value.strip()


def build_notifier(
    name: str, settings: Notifiers, secrets: SecretSource, transport: Transport | None = None, attempts: int = 0
) -> Notifier:
    """Build one registered notifier (retries bounded by ``attempts``, else ``settings.max_attempts``)."""
    factory = NOTIFIERS.get(name)
    base = transport if transport is not None else Transport()
    return factory(settings, secrets, base.with_attempts(attempts or settings.max_attempts))


def build_enabled(
    settings: Notifiers, secrets: SecretSource, transport: Transport | None = None, attempts: int = 0
) -> dict[str, Notifier]:
    """Build every notifier whose settings section says ``enabled: true``."""
    enabled = [n for n in NOTIFIERS.names() if _enabled(settings, n)]
    return {n: build_notifier(n, settings, secrets, transport, attempts) for n in enabled}


def _enabled(settings: Notifiers, name: str) -> bool:
    section = getattr(settings, name, None)
    return bool(getattr(section, "enabled", False))


def close_all(notifiers: Mapping[str, Notifier]) -> None:
    for notifier in notifiers.values():
        notifier.close()
