"""The shipped notifier contract (hx.heal.notify.checks) over every registered notifier, with live receivers."""

from __future__ import annotations

import pytest

from hx.checks import check_name
from hx.heal.notify import NOTIFIERS, Transport, build_notifier
from hx.heal.notify.base import Delivery, Notification
from hx.heal.notify.checks import Check, Sinks, check_notifier, sample_notifications, yield_checks
from tests.heal.notify.test_registry import live

CASES = [(n, c) for n in NOTIFIERS.names() for c in yield_checks()]


@pytest.mark.parametrize(("name", "check"), CASES, ids=[f"{n}-{check_name(c)}" for n, c in CASES])
def test_contract(name: str, check: Check, transport: Transport) -> None:
    with live(name) as up, live(name, down=True) as down:
        sinks = Sinks(
            up=lambda: build_notifier(name, up.settings, up.secrets, transport),
            down=lambda: build_notifier(name, down.settings, down.secrets, transport),
        )
        check(sinks)
        if check_name(check) == "delivers_every_kind":
            assert up.received() == len(sample_notifications())


class Mute:
    """Claims success without naming the incident: the shipped contract must catch it."""

    name = "mute"

    def send(self, message: Notification) -> Delivery:
        return Delivery(self.name, ok=True, attempts=1, event="trigger")

    def close(self) -> None:
        return None


def test_the_shipped_check_catches_a_delivery_that_forgets_the_incident() -> None:
    with pytest.raises(AssertionError, match="delivery.incident_id"):
        check_notifier(Sinks(up=Mute, down=Mute))
