from __future__ import annotations

import pytest

from hx.errors import BadInput
from hx.events import Event, EventBus, EventType
from hx.store import Store


@pytest.fixture
def bus(store_url: str) -> EventBus:
    store = Store(store_url)
    store.upgrade()
    return EventBus(store)


def test_publish_persists_and_fans_out(bus: EventBus) -> None:
    seen: list[Event] = []
    bus.subscribe(seen.append, types=["anomaly.*"])
    e1 = bus.publish(EventType.ANOMALY_DETECTED, {"score": 0.9}, source="detect", subject="api")
    bus.publish(EventType.DEPLOYMENT_REQUESTED, {"v": "2"}, source="deploy", subject="api")
    assert [e.id for e in seen] == [e1.id]
    got = bus.read()
    assert [e.type for e in got] == ["anomaly.detected", "deployment.requested"]
    assert got[0].data == {"score": 0.9}


def test_cursor_reads_only_newer_events(bus: EventBus) -> None:
    ids = [bus.publish(EventType.SCALING_DECIDED, {"i": i}, source="scale").id for i in range(5)]
    later = bus.read(after=ids[2])
    assert [e.data["i"] for e in later] == [3, 4]
    assert bus.read(after=ids[-1]) == []
    assert [e.type for e in bus.read(types=["deployment.*"])] == []


def test_unknown_type_is_rejected(bus: EventBus) -> None:
    with pytest.raises(BadInput, match="unknown event type"):
        bus.publish("made.up", {}, source="x")


def test_failing_handler_is_counted_not_fatal(bus: EventBus) -> None:
    def bad(_: Event) -> None:
        raise ValueError("handler bug")

    good: list[Event] = []
    bus.subscribe(bad)
    bus.subscribe(good.append)
    bus.publish(EventType.INCIDENT_OPENED, {}, source="heal")
    assert bus.handler_errors == 1
    assert len(good) == 1


def test_a_type_filter_names_an_unknown_type_or_family() -> None:
    from hx.errors import UnknownName
    from hx.events import check_type_filter

    assert check_type_filter(["deployment.*", "incident.opened"]) == ["deployment.*", "incident.opened"]
    with pytest.raises(UnknownName, match="unknown event type 'incident.opend'; valid: .*incident.opened"):
        check_type_filter(["incident.opend"])
    with pytest.raises(UnknownName, match="'deploy.*'.*deployment.\\*"):
        check_type_filter(["deploy.*"])
