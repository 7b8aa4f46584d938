from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

import pytest

from hx.clock import SimClock
from hx.config import EmailSettings, Notifiers, PagerDutySettings, SelfHealing, SlackSettings
from hx.errors import BadInput, NotFound
from hx.heal.notify import Delivery, DictSecrets, Notification, Transport, build_enabled
from hx.heal.notify.escalation import (
    DEFAULT_RULES,
    Dispatcher,
    EscalationPolicy,
    IncidentState,
    Level,
    SeverityRule,
)
from hx.severity import Severity
from tests.heal.notify.conftest import T0, make_notification
from tests.heal.notify.receivers import RecordingServer, Reply, SmtpRecorder, smtp_server

POLICY = EscalationPolicy.from_settings(SelfHealing().escalation)  # 0 s: slack + email; 600 s: pagerduty


class Recorder:
    """An in-memory notifier for the dispatch logic (the sinks themselves are tested against real servers)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[Notification] = []

    def send(self, message: Notification) -> Delivery:
        self.sent.append(message)
        return Delivery(self.name, True, 1, 200, dedup_key=message.dedup_key, incident_id=message.incident_id)

    def close(self) -> None:
        pass


def _dispatcher(
    clock: SimClock, names: tuple[str, ...] = ("slack", "email", "pagerduty"), window_s: float = 300.0
) -> Dispatcher:
    return Dispatcher(POLICY, {n: Recorder(n) for n in names}, clock, aggregate_window_s=window_s)


def _sent(d: Dispatcher, name: str) -> list[Notification]:
    notifier = d.notifiers[name]
    assert isinstance(notifier, Recorder)
    return notifier.sent


def _pairs(deliveries: list[Delivery]) -> list[tuple[str, str, int | None]]:
    return [(x.notifier, x.event, x.level) for x in deliveries]


# ---- the policy (pure) -----------------------------------------------------------------------


def test_policy_from_settings_and_severity_routing() -> None:
    assert POLICY.levels == (Level(0, ("slack", "email")), Level(600, ("pagerduty",)))
    assert POLICY.schedule(Severity.ERROR) == [(0, 0, "email"), (0, 0, "slack"), (600, 1, "pagerduty")]
    assert POLICY.schedule(Severity.CRITICAL) == [(0, 0, "email"), (0, 0, "slack"), (0, 1, "pagerduty")]
    assert [x[2] for x in POLICY.schedule(Severity.INFO)] == ["email", "slack"]  # info never pages
    quiet = EscalationPolicy(POLICY.levels, {**DEFAULT_RULES, Severity.WARNING: SeverityRule(max_level=0)})
    assert "pagerduty" not in [x[2] for x in quiet.schedule(Severity.WARNING)]


def test_due_and_next_due_at() -> None:
    st = IncidentState.open(make_notification(), T0)
    assert POLICY.due(st, T0) == [(0, "email"), (0, "slack")]
    st.fired |= {(0, "email"), (0, "slack")}
    assert POLICY.due(st, T0.replace(minute=9)) == []
    assert POLICY.next_due_at(st) == T0.replace(minute=10)
    assert POLICY.due(st, T0.replace(minute=10)) == [(1, "pagerduty")]
    st.status = "acknowledged"
    assert POLICY.due(st, T0.replace(minute=30)) == [] and POLICY.next_due_at(st) is None


def test_bad_policy_data_is_refused() -> None:
    with pytest.raises(BadInput):
        EscalationPolicy(())
    with pytest.raises(BadInput):
        Level(-1, ("slack",))
    with pytest.raises(BadInput):
        SeverityRule(delay_factor=-1)


# ---- the dispatcher on a simulated timeline --------------------------------------------------


def test_level_1_fires_after_the_delay_only_without_acknowledgement() -> None:
    clock = SimClock(T0)
    d = _dispatcher(clock)
    assert _pairs(d.notify(make_notification())) == [("email", "trigger", 0), ("slack", "trigger", 0)]
    clock.advance(599)
    assert d.step() == []
    clock.advance(1)
    assert _pairs(d.step()) == [("pagerduty", "trigger", 1)]
    assert _sent(d, "pagerduty")[0].escalation_level == 1
    clock.advance(3600)
    assert d.step() == []  # every level fired once

    clock2 = SimClock(T0)
    other = _dispatcher(clock2)
    other.notify(make_notification())
    clock2.advance(300)
    assert _pairs(other.acknowledge("inc-42")) == [("email", "acknowledge", None), ("slack", "acknowledge", None)]
    clock2.advance(3600)
    assert other.step() == [] and _sent(other, "pagerduty") == []


def test_critical_pages_at_once_and_info_never_pages() -> None:
    clock = SimClock(T0)
    d = _dispatcher(clock)
    out = d.notify(make_notification(severity="critical"))
    assert sorted(x.notifier for x in out) == ["email", "pagerduty", "slack"]
    d.notify(make_notification(incident_id="inc-7", severity="info"))
    clock.advance(7200)
    assert d.step() == []
    assert [n.incident_id for n in _sent(d, "pagerduty")] == ["inc-42"]


def test_a_repeat_that_raises_the_severity_to_critical_pages_at_once() -> None:
    clock = SimClock(T0)
    d = _dispatcher(clock)
    d.notify(make_notification())
    clock.advance(30)
    assert _pairs(d.notify(make_notification(severity="critical"))) == [("pagerduty", "trigger", 1)]
    assert _sent(d, "pagerduty")[0].repeat_count == 1


def test_acknowledging_or_resolving_an_unknown_incident_tells_nobody() -> None:
    d = _dispatcher(SimClock(T0))
    assert d.notify(make_notification(status="resolved")) == []
    assert d.state("inc-42").status == "resolved"
    with pytest.raises(NotFound):
        d.acknowledge("inc-9")


def test_repeats_are_aggregated_within_the_window() -> None:
    clock = SimClock(T0)
    d = _dispatcher(clock, window_s=300)
    d.notify(make_notification())
    for _ in range(4):
        clock.advance(30)
        assert d.notify(make_notification()) == []  # quiet: counted, not sent
    assert d.state("inc-42").pending_repeats == 4
    clock.advance(180)  # 300 s since the first message: the window has passed
    out = d.step()
    assert _pairs(out) == [("email", "update", None), ("slack", "update", None)]
    assert _sent(d, "slack")[-1].repeat_count == 4
    clock.advance(10)
    d.notify(make_notification())
    clock.advance(290)  # level 1 at 600 s carries the repeat that came in meanwhile
    assert _pairs(d.step()) == [("pagerduty", "trigger", 1)]
    assert _sent(d, "pagerduty")[0].repeat_count == 1
    assert d.state("inc-42").total_repeats == 5 and d.state("inc-42").pending_repeats == 0


def test_resolve_tells_everyone_contacted_and_a_new_trigger_reopens() -> None:
    clock = SimClock(T0)
    d = _dispatcher(clock)
    d.notify(make_notification())
    clock.advance(600)
    d.step()
    clock.advance(60)
    out = d.resolve("inc-42", summary="latency back under SLO after rollback")
    assert _pairs(out) == [("email", "resolve", None), ("slack", "resolve", None), ("pagerduty", "resolve", None)]
    assert _sent(d, "slack")[-1].status == "resolved"
    assert _sent(d, "slack")[-1].summary == "latency back under SLO after rollback"
    assert d.resolve("inc-42") == []  # already resolved: nothing more
    clock.advance(60)
    assert len(d.notify(make_notification())) == 2  # the same id again opens a new cycle at level 0


def test_a_missing_notifier_is_a_failed_delivery_not_a_silent_drop() -> None:
    clock = SimClock(T0)
    d = _dispatcher(clock, names=("slack",))
    assert d.missing_notifiers() == ["email", "pagerduty"]
    out = {x.notifier: x for x in d.notify(make_notification())}
    assert out["slack"].ok
    assert not out["email"].ok and out["email"].attempts == 0 and "notifiers.email" in (out["email"].error or "")
    clock.advance(60)
    assert [x.notifier for x in d.resolve("inc-42")] == ["slack"]  # only sinks that were reached


def test_state_round_trips_and_survives_a_restart() -> None:
    clock = SimClock(T0)
    d = _dispatcher(clock)
    d.notify(make_notification())
    clock.advance(60)
    d.notify(make_notification())
    saved = [s.to_dict() for s in d.states()]
    restored = Dispatcher(POLICY, d.notifiers, clock, states=[IncidentState.from_dict(s) for s in saved])
    assert restored.state("inc-42") == d.state("inc-42")
    clock.advance(540)
    assert _pairs(restored.step()) == [("pagerduty", "trigger", 1)]
    with pytest.raises(NotFound):
        restored.acknowledge("nope")


# ---- end to end: real Slack/PagerDuty stand-ins and a real SMTP server --------------------------


@pytest.fixture
def smtp() -> Iterator[SmtpRecorder]:
    with smtp_server() as server:
        yield server


def test_timeline_against_real_receivers(http: RecordingServer, smtp: SmtpRecorder, transport: Transport) -> None:
    http.default("/pd", Reply(202, {"status": "success", "dedup_key": "hx-incident-inc-42"}))
    settings = Notifiers(
        slack=SlackSettings(enabled=True),
        email=EmailSettings(enabled=True, smtp_port=smtp.port, to=["oncall@example.com"]),
        pagerduty=PagerDutySettings(enabled=True, url=http.url("/pd")),
    )
    secrets = DictSecrets({"slack_webhook_url": http.url("/slack"), "pagerduty_routing_key": "rk"})
    clock = SimClock(T0)
    d = Dispatcher(POLICY, build_enabled(settings, secrets, replace(transport, clock=clock)), clock)
    assert all(x.ok for x in d.notify(make_notification()))
    clock.advance(600)
    assert [x.notifier for x in d.step()] == ["pagerduty"]
    clock.advance(120)
    assert all(x.ok for x in d.resolve("inc-42"))
    assert [r.json()["event_action"] for r in http.to("/pd")] == ["trigger", "resolve"]
    assert {r.json()["dedup_key"] for r in http.to("/pd")} == {"hx-incident-inc-42"}
    slack = [r.json() for r in http.to("/slack")]
    assert len(slack) == 2 and slack[1]["blocks"][0]["text"]["text"].startswith("[ERROR] Resolved:")
    subjects = [m.message()["Subject"] for m in smtp.messages]
    assert [s.split("] ")[2].split(":")[0] for s in subjects] == ["Triggered", "Resolved"]
    assert isinstance(d.state("inc-42").resolved_at, datetime)
