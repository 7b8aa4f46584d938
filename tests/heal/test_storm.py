"""Alert storms: 1,000 services x 4 alerts with re-sends give exactly 1,000 incidents, all closed on resolution.

Runs on SQLite and on a real PostgreSQL server (``store_url``); the intake's counts are checked on both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hx.clock import SimClock
from hx.config import load_settings
from hx.heal.component import heal_engine
from hx.heal.engine import HealEngine
from hx.heal.records import OPEN_STATES
from hx.platform import Platform, build_platform
from hx.telemetry.prometheus import PrometheusSource

NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
SERVICES = 1000
ALERTS = ("HighErrorRate", "HighLatency", "PodRestarts", "SaturationHigh")


def _platform(home: Path, store_url: str) -> Platform:
    settings = load_settings(environ={"HX_HOME": str(home)}, overrides={
        "storage.database_url": store_url, "telemetry.source": "prometheus",
        "telemetry.prometheus.url": "http://127.0.0.1:9", "actuator.kind": "http"}).settings  # fmt: skip
    source = PrometheusSource.from_settings(settings.telemetry.prometheus)
    return build_platform(settings, clock=SimClock(NOW), source=source)


@pytest.fixture
def storm(tmp_path: Path, store_url: str) -> Iterator[HealEngine]:
    platform = _platform(tmp_path / "hx", store_url)
    yield heal_engine(platform)
    platform.store.dispose()


def group(name: str, status: str) -> bytes:
    """One Alertmanager group: alert ``name`` on every service (1,000 alerts, the intake's limit per request).

    Grouping by alert name sends a service's second alert after every service's first: matching that looked
    only at the newest incidents opened a second incident per service."""
    alerts = [
        {"status": status, "labels": {"alertname": name, "service": f"svc-{s:04d}", "severity": "error"},
         "annotations": {}, "startsAt": "2026-03-03T09:58:00Z",
         "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-03-03T10:30:00Z",
         "fingerprint": f"svc-{s:04d}-{name}"}
        for s in range(SERVICES)
    ]  # fmt: skip
    return json.dumps({"version": "4", "groupKey": f"storm-{name}", "status": status, "alerts": alerts}).encode()


def send_all(engine: HealEngine, status: str, at: datetime) -> dict[str, int]:
    totals = {"received": 0, "accepted": 0, "duplicates": 0}
    for name in ALERTS:
        for k, v in engine.intake.alertmanager(group(name, status), at).items():
            totals[k] += v
    return totals


def drain(engine: HealEngine, at: datetime) -> None:
    """Step the engine until every stored alert was turned into incident changes."""
    for _ in range(100):
        engine.step(at)
        if not engine.intake.repo.unprocessed(1):
            return
    raise AssertionError("stored alerts were still unprocessed after 100 steps")


def open_count(engine: HealEngine) -> int:
    return engine.incidents.count(status=OPEN_STATES)


def test_a_storm_gives_one_incident_per_service_and_all_close(storm: HealEngine) -> None:
    n = SERVICES * len(ALERTS)
    assert send_all(storm, "firing", NOW) == {"received": n, "accepted": n, "duplicates": 0}
    assert send_all(storm, "firing", NOW) == {"received": n, "accepted": 0, "duplicates": n}  # Alertmanager re-sends
    drain(storm, NOW)
    assert send_all(storm, "firing", NOW + timedelta(seconds=30))["duplicates"] == n  # a re-send after processing
    drain(storm, NOW + timedelta(seconds=30))
    incidents = storm.incidents.list(limit=10 * SERVICES)
    assert len(incidents) == SERVICES
    assert sorted(len(i.firing) for i in incidents) == [len(ALERTS)] * SERVICES
    assert open_count(storm) == SERVICES

    later = NOW + timedelta(seconds=60)
    assert send_all(storm, "resolved", later) == {"received": n, "accepted": n, "duplicates": 0}
    drain(storm, later)
    assert open_count(storm) == 0
    assert storm.incidents.count() == SERVICES
    assert storm.intake.repo.unmatched("resolved") == 0  # every resolved alert found its incident


def test_intake_counts_new_and_duplicate_alerts_exactly(storm: HealEngine) -> None:
    one = json.loads(group("HighLatency", "firing"))
    one["alerts"] = one["alerts"][:3] + one["alerts"][:2]  # two repeated inside the request
    body = json.dumps(one).encode()
    assert storm.intake.alertmanager(body, NOW) == {"received": 5, "accepted": 3, "duplicates": 2}
    assert storm.intake.alertmanager(body, NOW) == {"received": 5, "accepted": 0, "duplicates": 5}
    assert storm.intake.repo.count() == 3
