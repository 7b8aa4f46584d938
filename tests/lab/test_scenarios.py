"""The scenarios' checks on hx's event stream, without a running lab."""

from __future__ import annotations

from typing import Any

from hx.lab.scenarios import Outcome, grouped


def _ev(etype: str, subject: str, **data: Any) -> dict[str, Any]:
    return {"type": etype, "subject": subject, "data": data}


def test_grouped_follows_joins_and_merges() -> None:
    out = Outcome("error-burst", 0.0)
    check = grouped("inventory", out)
    assert not check(_ev("incident.opened", "inventory", incident=1, labels={"service": "inventory"}))
    assert not check(_ev("incident.opened", "frontend", incident=2, labels={"service": "frontend"}))
    assert not check(_ev("incident.resolved", "frontend", incident=2))
    # cart's alert linked the two: incident 2 merged into 1, then cart's alert joins 1
    assert check(_ev("incident.updated", "inventory", incident=1, merged=2))
    assert check(_ev("incident.updated", "inventory", incident=1, alert="HighErrorRate", alert_service="cart"))
    assert out.figures["incidents"] == {1: {"inventory", "frontend", "cart"}}


def test_grouped_needs_a_second_service() -> None:
    out = Outcome("error-burst", 0.0)
    check = grouped("inventory", out)
    assert not check(_ev("incident.opened", "inventory", incident=1, labels={"service": "inventory"}))
    assert not check(_ev("incident.opened", "frontend", incident=2, labels={"service": "frontend"}))
    assert out.figures["incidents"] == {1: {"inventory"}, 2: {"frontend"}}
