from __future__ import annotations

from typing import Any

import pytest

from hx.config import EmailSettings, Notifiers
from hx.errors import ConfigError, NotifierError
from hx.heal.notify import DictSecrets, Notification, Transport, build_notifier
from tests.heal.notify.receivers import FakeTime, free_port, smtp_server


def _settings(port: int, **kw: Any) -> Notifiers:
    email = EmailSettings(
        enabled=True,
        smtp_host="127.0.0.1",
        smtp_port=port,
        from_addr="hx@example.com",
        to=["oncall@example.com", "sre@example.com"],
        **kw,
    )
    return Notifiers(email=email, max_attempts=3)


def test_sends_multipart_text_and_html(transport: Transport, note: Notification) -> None:
    with smtp_server() as smtp:
        d = build_notifier("email", _settings(smtp.port), DictSecrets({}), transport).send(note)
    assert d.ok and d.status == 250 and d.attempts == 1
    (mail,) = smtp.messages
    assert mail.mail_from == "hx@example.com"
    assert mail.rcpt_tos == ["oncall@example.com", "sre@example.com"]
    msg = mail.message()
    assert msg["Subject"] == "[hx] [ERROR] Triggered: checkout p99 latency above SLO (checkout, prod, incident inc-42)"
    assert msg["To"] == "oncall@example.com, sre@example.com"
    assert msg["References"] == "<hx-incident-inc-42@hx>"
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    assert "payments / latency_p99 (score 0.91)" in plain.get_content()
    assert '<a href="https://runbooks.example.com/latency">Runbook</a>' in html.get_content()


def test_login_with_password_from_the_secret_store(transport: Transport, note: Notification) -> None:
    with smtp_server(users={"hx": "s3cret"}) as smtp:
        settings = _settings(smtp.port, username="hx", password_secret="smtp_password")
        d = build_notifier("email", settings, DictSecrets({"smtp_password": "s3cret"}), transport).send(note)
        assert d.ok and smtp.logins == ["hx"] and len(smtp.messages) == 1
        bad = build_notifier("email", settings, DictSecrets({"smtp_password": "wrong"}), transport).send(note)
    assert not bad.ok and bad.permanent and bad.status == 535 and bad.attempts == 1


def test_4xx_is_retried_5xx_is_not(transport: Transport, fake_time: FakeTime, note: Notification) -> None:
    with smtp_server(fail_with=["451 4.3.0 try again later"]) as smtp:
        d = build_notifier("email", _settings(smtp.port), DictSecrets({}), transport).send(note)
    assert d.ok and d.attempts == 2 and fake_time.sleeps == [1.0] and len(smtp.messages) == 1
    with smtp_server(fail_with=["554 5.7.1 rejected"]) as smtp:
        d = build_notifier("email", _settings(smtp.port), DictSecrets({}), transport).send(note)
    assert not d.ok and d.permanent and d.status == 554 and d.attempts == 1 and smtp.messages == []


def test_server_down_is_bounded(transport: Transport, fake_time: FakeTime, note: Notification) -> None:
    d = build_notifier("email", _settings(free_port()), DictSecrets({}), transport).send(note)
    assert not d.ok and not d.permanent and d.attempts == 3 and fake_time.sleeps == [1.0, 2.0]
    assert "cannot reach SMTP server" in (d.error or "")


def test_starttls_against_a_server_without_it_is_permanent(transport: Transport, note: Notification) -> None:
    with smtp_server() as smtp:
        d = build_notifier("email", _settings(smtp.port, starttls=True), DictSecrets({}), transport).send(note)
    assert not d.ok and d.permanent and "starttls" in (d.error or "").lower()


def test_misconfiguration_names_the_setting(transport: Transport) -> None:
    with pytest.raises(NotifierError, match="notifiers.email.password_secret"):
        build_notifier("email", _settings(25, username="hx"), DictSecrets({}), transport)
    with pytest.raises(NotifierError, match="'smtp_pw'"):
        build_notifier("email", _settings(25, username="hx", password_secret="smtp_pw"), DictSecrets({}), transport)
    with pytest.raises(ConfigError, match="notifiers.email.to"):
        build_notifier("email", Notifiers(email=EmailSettings(enabled=True)), DictSecrets({}), transport)
