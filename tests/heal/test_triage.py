"""Triage helpers: which service an incident is about, where a surge enters, and waiting before triage."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hx.heal.triage import TRIAGE_DELAY_S, downstream, first_firing, focus_service, surge_entry
from tests.heal.conftest import HealWorld

T0 = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
GRAPH = {"web": ["api"], "api": ["db", "cache"], "db": [], "cache": []}


def test_downstream_follows_the_graph_and_survives_cycles() -> None:
    assert downstream(GRAPH, "web") == {"api", "db", "cache"}
    assert downstream({"a": ["b"], "b": ["a"]}, "a") == {"a", "b"}
    assert downstream(GRAPH, "db") == set()


def test_focus_is_the_alerting_service_whose_callees_do_not_alert() -> None:
    first = {"web": T0, "api": T0 + timedelta(minutes=1)}
    assert focus_service("web", first, GRAPH, []) == "api"
    # two alerting leaves: the top root-cause candidate among them wins, else the one that alerted first
    leaves = {"web": T0, "db": T0 + timedelta(minutes=2), "cache": T0 + timedelta(minutes=1)}
    assert focus_service("web", leaves, GRAPH, [{"service": "db"}]) == "db"
    assert focus_service("web", leaves, GRAPH, [{"service": "web"}]) == "cache"
    # no call graph: the incident's own service
    assert focus_service("web", first, {}, []) == "web"


def test_a_surge_is_acted_on_where_it_enters() -> None:
    first = {"web": T0 + timedelta(minutes=1), "api": T0, "db": T0}
    assert surge_entry("db", first, GRAPH) == "web"
    assert surge_entry("web", first, GRAPH) == "web"
    assert surge_entry("db", {}, GRAPH) == "db"


def _alert(w: HealWorld, status: str, service: str) -> None:
    body = {"alerts": [{"name": "HighErrorRate", "service": service, "status": status, "fingerprint": "fp-1",
                        "starts_at": T0.isoformat()}]}  # fmt: skip
    w.engine.intake.hx_alerts(json.dumps(body).encode(), w.clock.now())


def test_triage_waits_and_an_alert_resolved_before_triage_triggers_nothing(hworld: HealWorld) -> None:
    w = hworld
    svc = w.sim.names[0]
    _alert(w, "firing", svc)
    w.engine.step(w.clock.now())
    (inc,) = w.incidents()
    assert inc.classified_by == "pending"  # settling: not triaged yet
    w.engine.step(w.clock.now() + timedelta(seconds=TRIAGE_DELAY_S / 2))
    assert w.incidents()[0].classified_by == "pending"
    _alert(w, "resolved", svc)
    w.engine.step(w.clock.now() + timedelta(seconds=TRIAGE_DELAY_S + 1))
    (done,) = w.incidents()
    assert done.status == "resolved" and done.resolution.startswith("every alert resolved before triage")
    assert done.classified_by == "pending"
    assert w.engine.executions.list(incident_id=done.id, limit=5) == []


def test_triage_happens_once_the_incident_settled(hworld: HealWorld) -> None:
    w = hworld
    _alert(w, "firing", w.sim.names[0])
    w.engine.step(w.clock.now())
    w.engine.step(w.clock.now() + timedelta(seconds=TRIAGE_DELAY_S))
    inc = w.incidents()[0]
    assert inc.classified_by != "pending"
    kinds = [e["kind"] for e in w.engine.incidents.timeline(inc.id)]
    assert "classified" in kinds


def test_first_firing_ignores_resolved_rows(hworld: HealWorld) -> None:
    w = hworld
    svc = w.sim.names[0]
    _alert(w, "firing", svc)
    _alert(w, "resolved", svc)
    rows = w.engine.intake.repo.unprocessed()
    assert first_firing(rows) == {svc: T0}


def test_a_caller_is_left_alone_while_its_callee_alerts_in_another_incident(hworld: HealWorld) -> None:
    w = hworld
    graph = {s.name: [d for d, _ in s.dependencies] for s in w.sim.spec.services}
    caller, callee = next((s, ds[0]) for s, ds in graph.items() if ds)
    t1 = w.clock.now()
    body = {"alerts": [{"name": "WeirdThing", "service": callee, "fingerprint": "callee", "starts_at": t1.isoformat()}]}
    w.engine.intake.hx_alerts(json.dumps(body).encode(), t1)
    w.engine.step(t1)
    t2 = t1 + timedelta(minutes=20)  # past the grouping window: the caller's alert opens its own incident
    body = {"alerts": [{"name": "CrashLooping", "service": caller, "fingerprint": "caller",
                        "starts_at": t2.isoformat()}]}  # fmt: skip
    w.engine.intake.hx_alerts(json.dumps(body).encode(), t2)
    w.engine.step(t2)
    w.engine.step(t2 + timedelta(seconds=TRIAGE_DELAY_S))
    mine = next(i for i in w.incidents() if i.service == caller)
    assert mine.incident_class == "crash_loop" and mine.is_open
    assert w.engine.executions.list(incident_id=mine.id, limit=5) == []
    why = [e["detail"] for e in w.engine.incidents.timeline(mine.id) if e["kind"] == "escalated"]
    assert why and callee in json.dumps(why[0]) and "symptom" in json.dumps(why[0])
