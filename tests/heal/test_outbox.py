"""The notification outbox in simulated time: queued by the step, delivered once, retried with back-off, a failing
notifier escalated to the others and shown in the self-healing health."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hx.clock import SimClock
from hx.config import load_settings
from hx.events import NotificationFailed
from hx.heal.component import heal_engine
from hx.heal.engine import HealEngine
from hx.heal.records import Incident
from hx.platform import Platform, build_platform
from tests.heal.notify.receivers import RecordingServer, Reply, free_port, recording_http_server

NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


@pytest.fixture
def slack() -> Iterator[RecordingServer]:
    with recording_http_server() as server:
        yield server


def _engine(home: Path, slack_url: str, webhook_url: str) -> tuple[Platform, HealEngine]:
    settings = load_settings(environ={"HX_HOME": str(home)}, overrides={
        "notifiers.slack.enabled": True, "notifiers.webhook.enabled": True, "notifiers.max_attempts": 3,
        "notifiers.backoff_s": 30.0, "notifiers.timeout_s": 2.0,
        "self_healing.escalation": [{"after_s": 0, "notifiers": ["slack", "webhook"]}]}).settings  # fmt: skip
    platform = build_platform(settings, clock=SimClock(NOW))
    platform.secrets.put("slack_webhook_url", slack_url)
    platform.secrets.put("webhook_url", webhook_url)
    return platform, heal_engine(platform)


def _incident(engine: HealEngine) -> Incident:
    now = engine.platform.clock.now()
    inc = Incident(id=0, service="api", environment="dev", title="HighErrors on api", severity="error", status="open",
                   kind="reactive", incident_class="error_rate", confidence=0.9, classified_by="rules", root_causes=[],
                   labels={}, firing=["fp"], features={}, escalation={}, opened_at=now, updated_at=now)  # fmt: skip
    return engine.incidents.insert(inc)


def test_a_dead_notifier_is_retried_off_the_step_then_escalated_and_shown(slack: RecordingServer,
                                                                          tmp_path: Path) -> None:  # fmt: skip
    refused = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: connection refused
    platform, engine = _engine(tmp_path / "hx", slack.url("/slack"), refused)
    failed: list[Any] = []
    platform.bus.subscribe(failed.append, types=[NotificationFailed], name="test")
    inc = _incident(engine)
    engine.escalator.notify(inc)  # the engine's decision: queued, nothing sent yet
    rows = engine.escalator.outbox.rows(inc.id)
    assert [(r["notifier"], r["state"]) for r in rows] == [("slack", "pending"), ("webhook", "pending")]
    assert slack.to("/slack") == []

    clock = platform.clock
    assert isinstance(clock, SimClock)
    for _ in range(4):  # attempts at 0, +30 s, +60 s (back-off doubles), and one more pass
        engine.escalator.step()
        clock.advance(61)
    by = {(r["notifier"], r["event"]): r for r in engine.escalator.outbox.rows(inc.id)}
    assert by[("webhook", "trigger")]["state"] == "failed" and by[("webhook", "trigger")]["attempts"] == 3
    assert "127.0.0.1" in by[("webhook", "trigger")]["last_error"]
    assert by[("slack", "trigger")]["state"] == "sent" and by[("slack", "trigger")]["attempts"] == 1
    assert by[("slack", "notifier_failed")]["state"] == "sent"  # escalated to the other notifier
    assert len(slack.to("/slack")) == 2  # the page and the escalation, each once
    assert "webhook failed" in slack.to("/slack")[1].body.decode()
    assert [e.payload.notifier for e in failed] == ["webhook"]
    kinds = [e["kind"] for e in engine.incidents.timeline(inc.id)]
    assert kinds.count("notification") == 3

    health = engine.health()
    assert health["status"] == "degraded" and "webhook" in health["detail"]
    assert health["notifications"]["delivery"]["webhook"]["status"] == "failing"
    assert health["notifications"]["delivery"]["slack"]["status"] == "ok"
    platform.store.dispose()


def test_a_notifier_that_recovers_is_healthy_again(slack: RecordingServer, tmp_path: Path) -> None:
    platform, engine = _engine(tmp_path / "hx", slack.url("/slack"), slack.url("/hook"))
    slack.script("/hook", Reply(500))
    inc = _incident(engine)
    engine.escalator.notify(inc)
    engine.escalator.step()
    assert engine.health()["status"] == "degraded"
    assert isinstance(platform.clock, SimClock)
    platform.clock.advance(31)
    engine.escalator.step()
    assert engine.health()["status"] == "ok"
    assert [r["attempts"] for r in engine.escalator.outbox.rows(inc.id) if r["notifier"] == "webhook"] == [2]
    assert len(slack.to("/hook")) == 2 and len(slack.to("/slack")) == 1
    platform.store.dispose()
