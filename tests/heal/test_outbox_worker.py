"""The outbox's delivery thread on the wall clock: a pass that keeps failing shows in ``/health`` (its last error,
since when, failures in a row) and is published once as ``runtime.step_failed``; the thread ends on shutdown.

The failure is real: the ``heal_outbox`` table is renamed away under the running thread (as a broken migration or
a lost table would leave it), then put back."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hx.api.health import health_report
from hx.config import load_settings
from hx.events import RuntimeStepFailed
from hx.heal.component import heal_engine
from hx.heal.outbox import WORKER_NAME
from hx.platform import Platform, build_platform
from tests.heal.notify.receivers import RecordingServer, recording_http_server
from tests.integration.servers import wait_until


@pytest.fixture
def slack() -> Iterator[RecordingServer]:
    with recording_http_server() as server:
        yield server


@pytest.fixture
def wall(tmp_path: Path, slack: RecordingServer) -> Iterator[Platform]:
    settings = load_settings(environ={"HX_HOME": str(tmp_path / "hx")},
                             overrides={"notifiers.slack.enabled": True}).settings  # fmt: skip
    platform = build_platform(settings)  # the wall clock: the outbox delivers in a thread of its own
    platform.secrets.put("slack_webhook_url", slack.url("/slack"))
    yield platform
    platform.close()


def _rename(platform: Platform, old: str, new: str) -> None:
    db = platform.store.engine.url.database
    assert db is not None
    with sqlite3.connect(db) as conn:
        conn.execute(f"ALTER TABLE {old} RENAME TO {new}")


def test_a_failing_delivery_pass_shows_in_health_and_is_published_once(wall: Platform) -> None:
    engine = heal_engine(wall)
    worker = engine.escalator.worker
    worker.poll_s = 0.05
    worker.ensure_running()
    wait_until("a first delivery pass", lambda: worker.passes.last_ok_at is not None, timeout=10)
    _rename(wall, "heal_outbox", "heal_outbox_away")
    wait_until("three failed passes in a row", lambda: worker.passes.consecutive_failures >= 3, timeout=10)

    _, body = health_report(wall, "self-healing", {})
    heal = body["checks"]["self_healing"]
    assert body["status"] == "degraded" and heal["status"] == "degraded", heal
    shown = heal["notifications"]["worker"]
    assert shown["status"] == "failing" and shown["running"] is True, shown
    assert shown["consecutive_failures"] >= 3 and shown["failing_since"] is not None
    assert "heal_outbox" in shown["last_error"] and "notification outbox failing since" in heal["detail"]
    events = [e for e in wall.bus.read(types=[RuntimeStepFailed]) if e.data["engine"] == WORKER_NAME]
    assert len(events) == 1, events  # escalated once for the error, not once per pass
    assert "heal_outbox" in events[0].data["error"]

    _rename(wall, "heal_outbox_away", "heal_outbox")
    wait_until("the thread to recover", lambda: worker.passes.consecutive_failures == 0, timeout=10)
    _, body = health_report(wall, "self-healing", {})
    assert body["checks"]["self_healing"]["notifications"]["worker"]["status"] == "ok"
    assert body["checks"]["self_healing"]["status"] == "ok"


def test_the_delivery_thread_stops_on_platform_close(wall: Platform) -> None:
    worker = heal_engine(wall).escalator.worker
    worker.ensure_running()
    assert worker.running()
    t0 = time.monotonic()
    wall.close()  # the on_shutdown hooks, as hx serve's shutdown runs them
    assert not worker.running() and time.monotonic() - t0 < 5.0
    worker.ensure_running()  # an engine step that ends after shutdown starts nothing again
    assert not worker.running()
    assert worker.health()["status"] == "stopped"
