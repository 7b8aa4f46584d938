"""Contract tests generated for every registered notifier, against real local receivers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import get_args

import pytest

from hx.config import EmailSettings, EscalationLevel, Notifiers, PagerDutySettings, SlackSettings, WebhookSettings
from hx.errors import ConfigError, NotifierError, UnknownName
from hx.heal.notify import (
    NOTIFIERS,
    DictSecrets,
    Notification,
    RetryPolicy,
    Transport,
    build_enabled,
    build_notifier,
)
from hx.platform import Platform
from tests.heal.notify.receivers import (
    FakeTime,
    RecordingServer,
    Reply,
    free_port,
    recording_http_server,
    smtp_server,
)


@dataclass
class Live:
    settings: Notifiers
    secrets: DictSecrets
    received: Callable[[], int]


HttpConfig = Callable[[str], tuple[Notifiers, DictSecrets]]


def _http(ok: Reply, make: HttpConfig) -> Callable[[int | None], AbstractContextManager[Live]]:
    """A live setup for an HTTP sink: a recording server, or a port where nothing listens."""

    @contextmanager
    def setup(down_port: int | None) -> Iterator[Live]:
        if down_port is not None:
            yield Live(*make(f"http://127.0.0.1:{down_port}/in"), lambda: 0)
            return
        with recording_http_server() as server:
            server.default("/in", ok)
            yield Live(*make(server.url("/in")), lambda: len(server.to("/in")))

    return setup


def _slack(url: str) -> tuple[Notifiers, DictSecrets]:
    return Notifiers(slack=SlackSettings(enabled=True)), DictSecrets({"slack_webhook_url": url})


def _pagerduty(url: str) -> tuple[Notifiers, DictSecrets]:
    return Notifiers(pagerduty=PagerDutySettings(enabled=True, url=url)), DictSecrets({"pagerduty_routing_key": "k"})


def _webhook(url: str) -> tuple[Notifiers, DictSecrets]:
    return Notifiers(webhook=WebhookSettings(enabled=True)), DictSecrets({"webhook_url": url})


@contextmanager
def _email(down_port: int | None) -> Iterator[Live]:
    def settings(port: int) -> Notifiers:
        return Notifiers(email=EmailSettings(enabled=True, smtp_port=port, to=["oncall@example.com"]))

    if down_port is not None:
        yield Live(settings(down_port), DictSecrets({}), lambda: 0)
        return
    with smtp_server() as smtp:
        yield Live(settings(smtp.port), DictSecrets({}), lambda: len(smtp.messages))


#: How to stand up a live receiver for each registered notifier (a new notifier must add itself here).
SETUPS: dict[str, Callable[[int | None], AbstractContextManager[Live]]] = {
    "slack": _http(Reply(200, "ok"), _slack),
    "pagerduty": _http(Reply(202, {"status": "success"}), _pagerduty),
    "webhook": _http(Reply(200, "ok"), _webhook),
    "email": _email,
}

#: For each notifier: settings and secrets that are missing what it needs, and the name the error must give.
MISCONFIGURED: dict[str, tuple[Notifiers, str]] = {
    "slack": (Notifiers(slack=SlackSettings(enabled=True, webhook_secret="slack_url")), "slack_url"),
    "pagerduty": (Notifiers(pagerduty=PagerDutySettings(enabled=True)), "pagerduty_routing_key"),
    "webhook": (Notifiers(webhook=WebhookSettings(enabled=True)), "webhook_url"),
    "email": (Notifiers(email=EmailSettings(enabled=True, to=["a@example.com"], username="u")), "password_secret"),
}


def live(name: str, down: bool = False) -> AbstractContextManager[Live]:
    return SETUPS[name](free_port() if down else None)


def test_every_registered_notifier_has_a_contract_setup() -> None:
    assert set(SETUPS) == set(NOTIFIERS.names()) == set(MISCONFIGURED)
    (literal,) = get_args(EscalationLevel.model_fields["notifiers"].annotation)
    names_in_config = set(get_args(literal))
    assert set(NOTIFIERS.names()) == names_in_config


@pytest.mark.parametrize("name", NOTIFIERS.names())
def test_contract_delivers_every_status(name: str, transport: Transport, note: Notification) -> None:
    with live(name) as setup:
        notifier = build_notifier(name, setup.settings, setup.secrets, transport)
        try:
            deliveries = [notifier.send(replace(note, status=s)) for s in ("triggered", "acknowledged", "resolved")]
        finally:
            notifier.close()
        assert setup.received() == 3
    for d, event in zip(deliveries, ("trigger", "acknowledge", "resolve"), strict=True):
        assert d.ok and d.notifier == name and d.attempts == 1 and d.error is None and not d.permanent
        assert d.status is not None and (200 <= d.status < 300 or d.status == 250)
        assert d.incident_id == note.incident_id and d.dedup_key == note.dedup_key and d.event == event
        assert d.latency_s >= 0 and d.waits == ()
        assert set(d.to_dict()) >= {"ok", "attempts", "status", "error", "dedup_key", "latency_s"}


@pytest.mark.parametrize("name", NOTIFIERS.names())
def test_contract_a_sink_that_is_down_ends_in_a_bounded_failed_delivery(
    name: str, transport: Transport, fake_time: FakeTime, note: Notification
) -> None:
    with live(name, down=True) as setup:
        settings = setup.settings.model_copy(update={"max_attempts": 4})
        d = build_notifier(name, settings, setup.secrets, transport).send(note)
    assert not d.ok and not d.permanent and d.attempts == 4 and d.status is None
    assert d.error and "attempt" in d.error
    assert fake_time.sleeps == [1.0, 2.0, 4.0] and sum(d.waits) <= transport.retry.max_total_s


@pytest.mark.parametrize("name", NOTIFIERS.names())
def test_contract_misconfiguration_names_the_secret_or_setting(name: str, transport: Transport) -> None:
    settings, must_name = MISCONFIGURED[name]
    with pytest.raises((NotifierError, ConfigError), match=must_name):
        build_notifier(name, settings, DictSecrets({}), transport)


def test_total_time_budget_bounds_the_retries(http: RecordingServer, transport: Transport, note: Notification) -> None:
    http.default("/in", Reply(503, "busy", {"Retry-After": "40"}))
    tight = replace(transport, retry=RetryPolicy(max_attempts=20, max_total_s=100.0, max_retry_after_s=60.0))
    d = build_notifier("webhook", Notifiers(max_attempts=20), DictSecrets({"webhook_url": http.url("/in")}), tight)
    delivery = d.send(note)
    assert not delivery.ok and delivery.attempts == 3 and delivery.waits == (40.0, 40.0)
    assert "budget" in (delivery.error or "")


def test_build_enabled_and_unknown_names(transport: Transport) -> None:
    settings, secrets = _slack("http://127.0.0.1:9/x")
    assert list(build_enabled(settings, secrets, transport)) == ["slack"]
    assert build_enabled(Notifiers(), DictSecrets({}), transport) == {}
    with pytest.raises(UnknownName, match="valid: email, pagerduty, slack, webhook"):
        build_notifier("teams", Notifiers(), DictSecrets({}), transport)


def test_reads_secrets_from_the_real_encrypted_store(
    platform: Platform, http: RecordingServer, transport: Transport, note: Notification
) -> None:
    settings = Notifiers(slack=SlackSettings(enabled=True))
    with pytest.raises(NotifierError, match="hx secret set slack_webhook_url"):
        build_enabled(settings, platform.secrets, transport)
    platform.secrets.put("slack_webhook_url", http.url("/in"))
    (slack,) = build_enabled(settings, platform.secrets, transport).values()
    assert slack.send(note).ok and len(http.to("/in")) == 1
