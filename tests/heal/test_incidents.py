"""Incident grouping along the call graph the platform's topology provider gives, against a Prometheus source."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hx.clock import SimClock
from hx.config import load_settings
from hx.heal.component import heal_engine
from hx.platform import Platform, build_platform
from hx.telemetry.prometheus import PrometheusSource

NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def _alert(service: str, name: str) -> bytes:
    alert = {"status": "firing", "labels": {"alertname": name, "service": service, "severity": "critical"},
             "annotations": {}, "startsAt": "2026-03-03T09:58:00Z", "endsAt": "0001-01-01T00:00:00Z",
             "fingerprint": f"{service}-{name}"}  # fmt: skip
    return json.dumps({"version": "4", "status": "firing", "alerts": [alert]}).encode()


def _platform(home: Path, overrides: dict[str, Any]) -> Platform:
    settings = load_settings(environ={"HX_HOME": str(home)}, overrides={
        "telemetry.source": "prometheus", "telemetry.prometheus.url": "http://127.0.0.1:9", "actuator.kind": "http",
        **overrides}).settings  # fmt: skip
    source = PrometheusSource.from_settings(settings.telemetry.prometheus)
    return build_platform(settings, clock=SimClock(NOW), source=source)


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    built: list[Platform] = []

    def _make(overrides: dict[str, Any]) -> Platform:
        built.append(_platform(tmp_path / f"hx{len(built)}", overrides))
        return built[-1]

    yield _make
    for p in built:
        p.store.dispose()


def _incidents_after_caller_and_callee_alert(platform: Platform) -> list[tuple[str, list[str]]]:
    engine = heal_engine(platform)
    engine.intake.alertmanager(_alert("checkout", "HighLatency"), NOW)
    engine.manager.process_pending(NOW)
    engine.intake.alertmanager(_alert("payments", "HighErrorRate"), NOW)
    engine.manager.process_pending(NOW)
    return [(i.service, sorted(i.firing)) for i in engine.incidents.list(limit=10)]


def test_configured_topology_groups_a_caller_and_its_callee(make: Any) -> None:
    p = make({"topology.edges": {"frontend": ["checkout"], "checkout": ["payments"]}})
    assert p.topology.callers("payments") == ("checkout",)
    incidents = _incidents_after_caller_and_callee_alert(p)
    assert incidents == [("checkout", ["checkout-HighLatency", "payments-HighErrorRate"])]


def test_topology_file_is_read(make: Any, tmp_path: Path) -> None:
    path = tmp_path / "graph.yml"
    path.write_text("checkout: [payments]\n")
    p = make({"topology.file": str(path)})
    assert len(_incidents_after_caller_and_callee_alert(p)) == 1


def test_without_topology_unrelated_services_open_two_incidents(make: Any) -> None:
    p = make({"topology.edges": {"frontend": ["checkout"]}})
    assert len(_incidents_after_caller_and_callee_alert(p)) == 2


def test_a_chain_groups_whatever_order_its_alerts_arrive_in(make: Any) -> None:
    """frontend -> cart -> inventory: frontend's alert first, then cart's, then inventory's (two hops from
    frontend, a neighbour of cart, whose alert the incident holds) -- one incident, as the lab's error burst."""
    p = make({"topology.edges": {"frontend": ["cart"], "cart": ["inventory"]}})
    engine = heal_engine(p)
    for service in ("frontend", "cart", "inventory"):
        engine.intake.alertmanager(_alert(service, "HighErrorRate"), NOW)
        engine.manager.process_pending(NOW)
    incidents = [(i.service, sorted(i.firing)) for i in engine.incidents.list(limit=10)]
    assert incidents == [("frontend", ["cart-HighErrorRate", "frontend-HighErrorRate", "inventory-HighErrorRate"])]
    # without the middle tier's alert, two hops apart stay two incidents
    q = make({"topology.edges": {"frontend": ["cart"], "cart": ["inventory"]}})
    engine = heal_engine(q)
    for service in ("frontend", "inventory"):
        engine.intake.alertmanager(_alert(service, "HighErrorRate"), NOW)
        engine.manager.process_pending(NOW)
    assert len(engine.incidents.list(limit=10)) == 2


def test_a_chain_in_one_webhook_and_one_batch_is_one_incident(make: Any) -> None:
    """The lab's error burst as Alertmanager sends it: the three tiers' alerts in one payload, applied in one step
    behind nine unrelated alerts (a transaction boundary falls between inventory's and cart's)."""
    p = make({"topology.edges": {"frontend": ["cart"], "cart": ["inventory"]}})
    engine = heal_engine(p)
    alerts = [json.loads(_alert(s, "HighErrorRate"))["alerts"][0]
              for s in [*(f"other{i}" for i in range(9)), "inventory", "cart", "frontend"]]  # fmt: skip
    engine.intake.alertmanager(json.dumps({"version": "4", "status": "firing", "alerts": alerts}).encode(), NOW)
    engine.manager.process_pending(NOW)
    chain = [(i.service, sorted(i.firing)) for i in engine.incidents.list(limit=20) if not i.service.startswith("o")]
    assert chain == [("inventory", ["cart-HighErrorRate", "frontend-HighErrorRate", "inventory-HighErrorRate"])]


@pytest.mark.parametrize("order", list(itertools.permutations(("frontend", "cart", "inventory"))), ids="-".join)
def test_a_chain_is_one_incident_in_every_arrival_order(make: Any, order: tuple[str, ...]) -> None:
    """inventory's alert, then frontend's (two hops away: a second incident), then cart's, which links the two:
    the later incident is merged into the earlier, its alerts move over, and their resolutions find it."""
    p = make({"topology.edges": {"frontend": ["cart"], "cart": ["inventory"]}})
    engine = heal_engine(p)
    for service in order:
        engine.intake.alertmanager(_alert(service, "HighErrorRate"), NOW)
        engine.manager.process_pending(NOW)
    open_ = engine.incidents.list(status=("open",), limit=10)
    assert [(i.service, sorted(i.firing)) for i in open_] == [
        (order[0], ["cart-HighErrorRate", "frontend-HighErrorRate", "inventory-HighErrorRate"])
    ]
    merged = [i for i in engine.incidents.list(limit=10) if i.status == "resolved"]
    assert all(i.resolution == f"merged into incident {open_[0].id}" and i.mttr_s() is None for i in merged)
    assert len(merged) == (
        1 if order == ("inventory", "frontend", "cart") or order == ("frontend", "inventory", "cart") else 0
    )
    # each alert's resolution reaches the surviving incident
    for service in order:
        resolved = json.loads(_alert(service, "HighErrorRate"))
        resolved["alerts"][0]["status"] = "resolved"
        engine.intake.alertmanager(json.dumps(resolved).encode(), NOW)
        engine.manager.process_pending(NOW)
    assert engine.incidents.get(open_[0].id).firing == []


def test_a_triaged_incident_is_not_merged(make: Any) -> None:
    """An incident already diagnosed keeps its diagnosis (and any remediation): the linking alert joins the
    oldest incident and the other stays open."""
    p = make({"topology.edges": {"frontend": ["cart"], "cart": ["inventory"]}})
    engine = heal_engine(p)
    for service in ("inventory", "frontend"):
        engine.intake.alertmanager(_alert(service, "HighErrorRate"), NOW)
        engine.manager.process_pending(NOW)
    second = engine.incidents.list(limit=1)[0]
    engine.incidents.save(dataclasses.replace(second, classified_by="rules", incident_class="errors"), NOW)
    engine.intake.alertmanager(_alert("cart", "HighErrorRate"), NOW)
    engine.manager.process_pending(NOW)
    assert sorted((i.service, i.status) for i in engine.incidents.list(limit=10)) == [
        ("frontend", "open"), ("inventory", "open")]  # fmt: skip


def test_an_alert_joining_an_incident_adds_the_labels_the_first_one_lacked(make: Any) -> None:
    """An anomaly alert opened the incident, then a NodeDown joined it: the drain runbook acts on the incident's
    ``node`` label, which only the NodeDown carries (the heal bench's node loss escalated "no 'node' label")."""
    p = make({"topology.edges": {"frontend": ["auth"]}})
    engine = heal_engine(p)
    first = json.loads(_alert("auth", "HxAnomaly"))
    first["alerts"][0]["labels"]["signal"] = "request_rate"
    engine.intake.alertmanager(json.dumps(first).encode(), NOW)
    engine.manager.process_pending(NOW)
    down = json.loads(_alert("frontend", "NodeDown"))
    down["alerts"][0]["labels"].update(node="node-1", severity="warning")
    engine.intake.alertmanager(json.dumps(down).encode(), NOW)
    engine.manager.process_pending(NOW)
    [inc] = engine.incidents.list(limit=10)
    assert inc.labels["node"] == "node-1" and inc.labels["signal"] == "request_rate"
    assert inc.labels["alertname"] == "HxAnomaly" and inc.labels["service"] == "auth"  # the first alert's stay
    assert engine.incidents.get(inc.id).labels["node"] == "node-1"  # stored, as the runbook reads it
