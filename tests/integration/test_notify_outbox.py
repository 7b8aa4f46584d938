"""A dead notifier with two replicas on one PostgreSQL store: no engine step exceeds its bound, every notification
is delivered once, the failing notifier is escalated to the others and shown in ``/health`` on both replicas.

The dead sink is a real loopback endpoint that accepts connections and never answers; Slack is a real recording
HTTP server.  Both replicas run their runtime (leases, bounded steps) and their own outbox delivery thread."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from hx.api.health import health_report
from hx.config import load_settings
from hx.events import NotificationFailed
from hx.heal.component import heal_engine
from hx.heal.records import Incident
from hx.platform import Platform, build_platform
from hx.runtime import Runtime
from hx.store.leases import LeaseManager
from tests.heal.notify.receivers import RecordingServer, hanging_server, recording_http_server
from tests.integration.servers import wait_until
from tests.support.postgres import create_database

pytestmark = pytest.mark.integration
LEASE_TTL_S = 4.0  # the step bound is half of it: 2 s
TIMEOUT_S = 1.5  # one delivery attempt to the dead sink hangs this long


def _replica(home: Path, url: str) -> Platform:
    settings = load_settings(environ={"HX_HOME": str(home)}, overrides={
        "storage.database_url": url, "notifiers.slack.enabled": True, "notifiers.webhook.enabled": True,
        "notifiers.max_attempts": 2, "notifiers.backoff_s": 0.5, "notifiers.timeout_s": TIMEOUT_S,
        "server.lease_ttl_s": LEASE_TTL_S,
        "self_healing.escalation": [{"after_s": 0, "notifiers": ["slack", "webhook"]}]}).settings  # fmt: skip
    return build_platform(settings)


@pytest.fixture
def replicas(tmp_path: Path, pg_server: str) -> Iterator[tuple[list[Platform], RecordingServer]]:
    url = create_database(pg_server, f"hx_{uuid.uuid4().hex[:12]}")
    with ExitStack() as stack:
        slack = stack.enter_context(recording_http_server())
        dead = stack.enter_context(hanging_server())
        home = tmp_path / "hx"  # one home: the replicas share the secret key, as replicas of one install do
        first = _replica(home, url)
        first.secrets.put("slack_webhook_url", slack.url("/slack"))
        first.secrets.put("webhook_url", dead)
        platforms = [first, _replica(home, url)]
        yield platforms, slack
        for p in platforms:
            heal_engine(p).escalator.worker.stop()
            p.store.dispose()


def _incident(platform: Platform) -> Incident:
    now = platform.clock.now()
    inc = Incident(id=0, service="api", environment="dev", title="HighErrors on api", severity="error", status="open",
                   kind="reactive", incident_class="error_rate", confidence=0.9, classified_by="rules", root_causes=[],
                   labels={}, firing=["fp"], features={}, escalation={}, opened_at=now, updated_at=now)  # fmt: skip
    return heal_engine(platform).incidents.insert(inc)


def _run(runtimes: list[Runtime], stop: threading.Event) -> list[threading.Thread]:
    def loop(rt: Runtime) -> None:
        while not stop.is_set():
            rt.step_due(rt.platform.clock.now())
            stop.wait(0.2)

    threads = [threading.Thread(target=loop, args=(rt,), daemon=True) for rt in runtimes]
    for t in threads:
        t.start()
    return threads


def test_a_dead_notifier_stalls_no_step_pages_once_and_shows_in_health(
    replicas: tuple[list[Platform], RecordingServer],
) -> None:
    platforms, slack = replicas
    runtimes = []
    for name, p in zip("ab", platforms, strict=True):
        engine = heal_engine(p)
        engine.interval_s = 0.5
        rt = Runtime(p, [engine])
        rt.enable_leases(LeaseManager(p.store, p.clock, f"replica-{name}"), LEASE_TTL_S)
        runtimes.append(rt)
        engine.escalator.worker.ensure_running()  # both replicas deliver (the standby too, as after a failover)
    stop = threading.Event()
    threads = _run(runtimes, stop)
    leader = heal_engine(platforms[0])
    inc = _incident(platforms[0])
    leader.escalator.escalate(inc, "the incident could not be classified")  # critical: every level at once
    outbox = leader.escalator.outbox

    def settled() -> bool:
        rows = outbox.rows(inc.id)
        return len(rows) == 3 and all(r["state"] in ("sent", "failed") for r in rows)

    try:
        wait_until("the dead notifier to fail for good and be escalated", settled, timeout=60)
        time.sleep(1.0)  # a few more steps and polls: nothing more may be sent
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)

    rows = {(r["notifier"], r["event"]): r for r in outbox.rows(inc.id)}
    assert rows[("webhook", "trigger")]["state"] == "failed" and rows[("webhook", "trigger")]["attempts"] == 2
    assert rows[("slack", "trigger")]["attempts"] == 1 and rows[("slack", "notifier_failed")]["attempts"] == 1
    pages = slack.to("/slack")
    assert len(pages) == 2, [p.body[:200] for p in pages]  # the page and the escalation, each delivered once
    assert "webhook failed" in pages[1].body.decode()

    for rt in runtimes:
        st: dict[str, Any] = rt.health()["self-healing"]
        assert st["over_bound"] == 0 and st["max_duration_s"] < rt.bound_s(), st
    assert sorted(rt.health()["self-healing"]["role"] for rt in runtimes) == ["leader", "standby"]
    for p, rt in zip(platforms, runtimes, strict=True):
        _, body = health_report(p, "self-healing", rt.health())
        assert body["status"] == "degraded"
        assert "webhook" in body["checks"]["self_healing"]["detail"]
    failed = platforms[1].bus.read(types=[NotificationFailed])
    assert [e.data["notifier"] for e in failed] == ["webhook"]
