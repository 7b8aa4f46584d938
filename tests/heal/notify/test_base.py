from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from hx.errors import BadInput
from hx.heal.notify import Delivery, DictSecrets, Link, Notification, RootCause, dedup_key_for
from tests.heal.notify.conftest import make_notification


def test_round_trip_through_json_ready_dict() -> None:
    n = make_notification(status="acknowledged", repeat_count=2, escalation_level=1)
    d = n.to_dict()
    assert d["dedup_key"] == "hx-incident-inc-42" and d["opened_at"] == "2026-03-01T12:00:00+00:00"
    assert d["root_causes"][0] == {"service": "payments", "metric": "latency_p99", "score": 0.91}
    assert Notification.from_dict(d) == n


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"severity": "fatal"}, "severity"),
        ({"status": "open"}, "status"),
        ({"title": "  "}, "title"),
        ({"service": "a\x00b"}, "service"),
        ({"opened_at": datetime(2026, 1, 1)}, "opened_at"),
        ({"repeat_count": -1}, "repeat_count"),
        ({"root_causes": [RootCause("a", "b", 1.0)]}, "root_causes"),
    ],
)
def test_invalid_notifications_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(BadInput) as info:
        make_notification(**change)
    assert info.value.field == field


def test_parts_are_validated() -> None:
    with pytest.raises(BadInput, match="links.url"):
        Link("x", "javascript:alert(1)")
    with pytest.raises(BadInput, match="links.url"):
        Link("x", "https://exa mple.com")
    with pytest.raises(BadInput, match="root_causes.score"):
        RootCause("a", "b", float("nan"))


def test_from_dict_refuses_unknown_and_malformed_fields() -> None:
    d = make_notification().to_dict()
    with pytest.raises(BadInput, match="colour"):
        Notification.from_dict({**d, "colour": "red"})
    with pytest.raises(BadInput):
        Notification.from_dict({**d, "opened_at": "yesterday"})
    with pytest.raises(BadInput):
        Notification.from_dict({**d, "links": [{"text": "x"}]})


def test_dedup_key_is_stable_and_bounded() -> None:
    assert make_notification().dedup_key == make_notification(status="resolved").dedup_key
    assert len(dedup_key_for("x" * 400)) == 255


def test_delivery_dict_and_secret_repr() -> None:
    d = Delivery("slack", False, 3, 503, error="HTTP 503", waits=(1.0, 2.0))
    assert d.to_dict()["waits"] == [1.0, 2.0] and d.to_dict()["ok"] is False
    assert "hunter2" not in repr(DictSecrets({"k": "hunter2"}))
