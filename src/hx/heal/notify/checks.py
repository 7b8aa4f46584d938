"""The notifier contract, shipped with the library so the author of a sink can run it on their own.

A sink under check comes as :class:`Sinks`: ``up`` builds a notifier whose receiver answers, ``down`` one whose
receiver cannot be reached.  ``yield_checks()`` yields the checks one by one; ``check_notifier(sinks)`` runs them
all.  The promises (see :class:`~hx.heal.notify.base.Notifier` and :class:`~hx.heal.notify.base.Delivery`):

- ``send`` delivers every kind of incident message (every severity and status, bare or with root causes, actions
  and links, long and non-ASCII text) and returns a ``Delivery`` that names the notifier, the incident, the event
  of the message's status and the attempts it took;
- a receiver that is down is a failed ``Delivery`` with an error, after a bounded number of attempts: ``send`` does
  not raise for it (the escalation policy decides what happens next).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import get_args

from hx.checks import expect
from hx.heal.notify.base import (
    EVENT_FOR_STATUS,
    ActionTaken,
    Delivery,
    Link,
    Notification,
    Notifier,
    RootCause,
    Status,
)
from hx.severity import Severity

Factory = Callable[[], Notifier]
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Sinks:
    """How to build the notifier under check against a receiver that answers, and against one that is down."""

    up: Factory
    down: Factory


Check = Callable[[Sinks], None]


def sample_notifications() -> list[Notification]:
    """One message of every kind a notifier must render and deliver."""
    rich = {
        "summary": "p99 latency 2.4 s (SLO 0.8 s) since 11:52",
        "root_causes": (RootCause("payments", "latency_p99", 0.91),),
        "actions": (ActionTaken("rollback", True, "to v1.8.2", target="checkout"),),
        "links": (Link("Runbook", "https://runbooks.example.com/latency"),),
        "opened_at": T0,
        "updated_at": T0,
    }
    out = [
        Notification(f"inc-{sev.value}-{status}", f"{sev.value} {status}", sev, "checkout", "prod", "latency", status,
                     **rich)  # type: ignore[arg-type]
        for sev in Severity
        for status in get_args(Status)
    ]  # fmt: skip
    out.append(Notification("inc-bare", "bare", Severity.INFO, "api", "dev", "unknown"))
    long_text = "Überlast ☂ " + "x" * 480
    out.append(
        Notification("inc-long", long_text, Severity.CRITICAL, "zahlungs-dienst", "prod", "saturation",
                     summary=long_text * 8, repeat_count=12, escalation_level=2)
    )  # fmt: skip
    return out


def _expect_delivery(d: object, name: str, n: Notification) -> Delivery:
    if not isinstance(d, Delivery):
        raise AssertionError(f"send must return a Delivery, got {type(d).__name__}")
    expect(d.notifier == name, f"delivery.notifier is {d.notifier!r}, the notifier is {name!r}")
    expect(d.incident_id == n.incident_id, f"delivery.incident_id {d.incident_id!r} != {n.incident_id!r}")
    expect(d.event == EVENT_FOR_STATUS[n.status], f"a {n.status} message is event {EVENT_FOR_STATUS[n.status]!r}")
    expect(d.attempts >= 1 and len(d.waits) == d.attempts - 1, f"attempts {d.attempts}, waits {d.waits}")
    expect(math.isfinite(d.latency_s) and d.latency_s >= 0, f"latency_s {d.latency_s!r}")
    expect(set(d.to_dict()) >= {"ok", "attempts", "status", "error", "dedup_key", "latency_s"}, "to_dict() keys")
    return d


def check_delivers_every_kind(sinks: Sinks) -> None:
    notifier = sinks.up()
    try:
        for n in sample_notifications():
            d = _expect_delivery(notifier.send(n), notifier.name, n)
            expect(d.ok and d.error is None, f"{n.incident_id}: not delivered: {d.error}")
    finally:
        notifier.close()


def check_a_down_receiver_is_a_failed_delivery(sinks: Sinks) -> None:
    notifier = sinks.down()
    n = sample_notifications()[0]
    try:
        d = _expect_delivery(notifier.send(n), notifier.name, n)
    finally:
        notifier.close()
    expect(not d.ok and bool(d.error), "a receiver that is down must give ok=False with an error")
    expect(not d.permanent, "a receiver that is down may come back: the failure is not permanent")


def yield_checks() -> Iterator[Check]:
    """Every notifier check."""
    yield check_delivers_every_kind
    yield check_a_down_receiver_is_a_failed_delivery


def check_notifier(sinks: Sinks) -> None:
    """Run every check; AssertionError on the first broken promise."""
    for check in yield_checks():
        check(sinks)
