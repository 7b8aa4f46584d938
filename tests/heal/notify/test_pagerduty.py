from __future__ import annotations

from email.utils import format_datetime

from hx.config import Notifiers, PagerDutySettings
from hx.heal.notify import DictSecrets, Notification, Transport, build_notifier
from hx.heal.notify.base import Notifier
from hx.heal.notify.pagerduty import event_body, summary_line
from tests.heal.notify.conftest import T0, make_notification
from tests.heal.notify.receivers import FakeTime, RecordingServer, Reply

ROUTING = "R0UT1NGKEY0123456789abcdefabcdef"


def _pd(http: RecordingServer, transport: Transport) -> Notifier:
    http.default(
        "/v2/enqueue",
        Reply(202, {"status": "success", "message": "Event processed", "dedup_key": "hx-incident-inc-42"}),
    )
    settings = Notifiers(pagerduty=PagerDutySettings(enabled=True, url=http.url("/v2/enqueue")))
    return build_notifier("pagerduty", settings, DictSecrets({"pagerduty_routing_key": ROUTING}), transport)


def test_trigger_carries_the_pd_cef_payload(http: RecordingServer, transport: Transport, note: Notification) -> None:
    d = _pd(http, transport).send(note)
    assert d.ok and d.status == 202 and d.dedup_key == "hx-incident-inc-42"
    body = http.to("/v2/enqueue")[0].json()
    assert body["routing_key"] == ROUTING
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == "hx-incident-inc-42"
    p = body["payload"]
    assert p["severity"] == "error" and p["source"] == "hx/prod/checkout"
    assert p["component"] == "checkout" and p["group"] == "prod" and p["class"] == "latency_regression"
    assert p["timestamp"] == T0.isoformat()
    assert "checkout p99 latency above SLO" in p["summary"]
    assert p["custom_details"]["root_causes"][0] == {"service": "payments", "metric": "latency_p99", "score": 0.91}
    assert p["custom_details"]["actions"][0]["action"] == "rollback"
    assert body["links"][0] == {"href": "https://runbooks.example.com/latency", "text": "Runbook"}


def test_acknowledge_and_resolve_use_the_same_dedup_key(
    http: RecordingServer, transport: Transport, note: Notification
) -> None:
    pd = _pd(http, transport)
    for status in ("triggered", "acknowledged", "resolved"):
        assert pd.send(make_notification(status=status)).ok
    bodies = [r.json() for r in http.to("/v2/enqueue")]
    assert [b["event_action"] for b in bodies] == ["trigger", "acknowledge", "resolve"]
    assert {b["dedup_key"] for b in bodies} == {"hx-incident-inc-42"}
    assert "payload" not in bodies[1] and "payload" not in bodies[2]


def test_429_with_http_date_retry_after(
    http: RecordingServer, transport: Transport, fake_time: FakeTime, note: Notification
) -> None:
    pd = _pd(http, transport)
    when = format_datetime(T0.replace(second=12), usegmt=True)  # transport.clock is at T0: 12 s from now
    http.script("/v2/enqueue", Reply(429, {"status": "throttle"}, {"Retry-After": when}), Reply(502, "bad gateway"))
    d = pd.send(note)
    assert d.ok and d.attempts == 3 and fake_time.sleeps == [12.0, 2.0]


def test_retry_after_is_capped(http: RecordingServer, transport: Transport, fake_time: FakeTime) -> None:
    pd = _pd(http, transport)
    http.script("/v2/enqueue", Reply(429, "slow down", {"Retry-After": "3600"}))
    assert pd.send(make_notification()).ok
    assert fake_time.sleeps == [60.0]  # transport.retry.max_retry_after_s


def test_400_names_the_invalid_fields(http: RecordingServer, transport: Transport, fake_time: FakeTime) -> None:
    pd = _pd(http, transport)
    http.script(
        "/v2/enqueue",
        Reply(
            400,
            {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": ["'payload.source' is missing"],
            },
        ),
    )
    d = pd.send(make_notification())
    assert not d.ok and d.permanent and d.attempts == 1 and "payload.source" in (d.error or "")
    assert fake_time.sleeps == []


def test_summary_is_cut_to_1024() -> None:
    n = make_notification(title="x" * 500, service="s" * 400, environment="e" * 300)
    assert len(summary_line(n)) == 1024
    assert len(event_body(n, "k")["payload"]["summary"]) <= 1024
