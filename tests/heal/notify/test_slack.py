from __future__ import annotations

import pytest

from hx.config import Notifiers
from hx.errors import ConfigError, NotifierError
from hx.heal.notify import DictSecrets, Notification, Notifier, Transport, build_notifier
from tests.heal.notify.receivers import FakeTime, RecordingServer, Reply


def _slack(http: RecordingServer, transport: Transport) -> Notifier:
    return build_notifier("slack", Notifiers(), DictSecrets({"slack_webhook_url": http.url("/slack")}), transport)


def test_posts_text_and_blocks(http: RecordingServer, transport: Transport, note: Notification) -> None:
    slack = _slack(http, transport)
    d = slack.send(note)
    assert d.ok and d.status == 200 and d.attempts == 1 and d.notifier == "slack"
    (req,) = http.to("/slack")
    assert req.headers["content-type"] == "application/json"
    body = req.json()
    assert "checkout p99 latency above SLO" in body["text"]
    types = [b["type"] for b in body["blocks"]]
    assert types[0] == "header" and types[-1] == "context"
    assert body["blocks"][0]["text"]["type"] == "plain_text"
    fields = next(b["fields"] for b in body["blocks"] if "fields" in b)
    labels = {f["text"].split("\n")[0] for f in fields}
    assert {"*Class*", "*Service*", "*Severity*"} <= labels
    sections = " ".join(b.get("text", {}).get("text", "") for b in body["blocks"] if b["type"] == "section")
    assert "`payments` / `latency_p99`" in sections and "0.91" in sections
    assert "rollback checkout" in sections
    context = body["blocks"][-1]["elements"][-1]["text"]
    assert "<https://runbooks.example.com/latency|Runbook>" in context


def test_retries_429_then_500_with_the_right_waits(
    http: RecordingServer, transport: Transport, fake_time: FakeTime, note: Notification
) -> None:
    http.script("/slack", Reply(429, "rate_limited", {"Retry-After": "7"}), Reply(500, "oops"), Reply(200, "ok"))
    d = _slack(http, transport).send(note)
    assert d.ok and d.attempts == 3
    assert fake_time.sleeps == [7.0, 2.0]  # Retry-After honoured, then back-off 1 * 2**1
    assert d.waits == (7.0, 2.0)
    bodies = [r.body for r in http.to("/slack")]
    assert len(bodies) == 3 and len(set(bodies)) == 1


def test_400_is_permanent_and_not_retried(
    http: RecordingServer, transport: Transport, fake_time: FakeTime, note: Notification
) -> None:
    http.script("/slack", Reply(400, "invalid_payload"))
    d = _slack(http, transport).send(note)
    assert not d.ok and d.permanent and d.attempts == 1 and d.status == 400
    assert "invalid_payload" in (d.error or "") and "permanent" in (d.error or "")
    assert fake_time.sleeps == [] and len(http.to("/slack")) == 1


def test_missing_secret_names_it(transport: Transport) -> None:
    with pytest.raises(NotifierError, match="slack_webhook_url"):
        build_notifier("slack", Notifiers(), DictSecrets({}), transport)


def test_bad_url_is_a_config_error_that_hides_the_value(transport: Transport) -> None:
    with pytest.raises(ConfigError, match="slack_webhook_url") as info:
        build_notifier("slack", Notifiers(), DictSecrets({"slack_webhook_url": "hooks.slack.com/T0/SECRET"}), transport)
    assert "SECRET" not in str(info.value)
