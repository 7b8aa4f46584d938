from __future__ import annotations

from hx.config import Notifiers, WebhookSettings
from hx.heal.notify import DictSecrets, Notification, Transport, build_notifier
from tests.heal.notify.receivers import FakeTime, RecordingServer, Reply


def test_posts_the_notification_json(http: RecordingServer, transport: Transport, note: Notification) -> None:
    settings = Notifiers(webhook=WebhookSettings(enabled=True, url_secret="hook"))
    hook = build_notifier("webhook", settings, DictSecrets({"hook": http.url("/hook?token=abc")}), transport)
    d = hook.send(note)
    assert d.ok and d.status == 200 and d.dedup_key == "hx-incident-inc-42"
    (req,) = http.to("/hook?token=abc")
    assert req.headers["x-hx-event"] == "incident.triggered"
    assert req.headers["x-hx-dedup-key"] == "hx-incident-inc-42"
    body = req.json()
    assert body["event"] == "incident.triggered" and body["version"] == 1
    assert Notification.from_dict(body["notification"]) == note
    assert "Root-cause candidates" in body["text"]


def test_5xx_forever_is_bounded_and_hides_the_token(
    http: RecordingServer, transport: Transport, fake_time: FakeTime, note: Notification
) -> None:
    http.default("/hook?token=abc", Reply(503, "down"))
    settings = Notifiers(webhook=WebhookSettings(enabled=True, url_secret="hook"), max_attempts=3)
    d = build_notifier("webhook", settings, DictSecrets({"hook": http.url("/hook?token=abc")}), transport).send(note)
    assert not d.ok and not d.permanent and d.attempts == 3 and d.status == 503
    assert fake_time.sleeps == [1.0, 2.0]
    assert "gave up after 3 attempts" in (d.error or "")
    assert "abc" not in (d.error or "")
    assert len(http.to("/hook?token=abc")) == 3
