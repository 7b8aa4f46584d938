from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hx.errors import BadInput
from hx.heal.intake import MAX_ALERTS, AlertIntake, PayloadTooLarge, parse_alertmanager, parse_hx_alerts
from hx.heal.records import AlertRepo
from hx.store import Store

NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def am_payload(status: str = "firing", n: int = 1, **extra: object) -> dict[str, object]:
    alerts = [
        {"status": status, "labels": {"alertname": "HighErrorRate", "service": "api", "severity": "critical",
                                      "instance": f"i{k}"},
         "annotations": {"summary": "errors"}, "startsAt": "2026-03-03T09:58:00Z",
         "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-03-03T10:05:00Z",
         "generatorURL": "http://prom/graph", "fingerprint": f"fp{k}", "someNewField": {"x": 1}}
        for k in range(n)
    ]  # fmt: skip
    return {"version": "4", "groupKey": '{}:{alertname="HighErrorRate"}', "truncatedAlerts": 0, "status": status,
            "receiver": "hx", "groupLabels": {"alertname": "HighErrorRate"}, "commonLabels": {"env": "staging"},
            "commonAnnotations": {}, "externalURL": "http://am", "alerts": alerts, **extra}  # fmt: skip


@pytest.fixture
def intake(tmp_path: Path) -> AlertIntake:
    store = Store(f"sqlite:///{tmp_path / 'hx.db'}")
    store.upgrade()
    return AlertIntake(AlertRepo(store), "dev")


def test_alertmanager_payload_is_parsed_with_unknown_fields_tolerated() -> None:
    p = parse_alertmanager(json.dumps(am_payload(futureTopLevel=True)).encode())
    assert p.alerts[0].labels["alertname"] == "HighErrorRate"


def test_resent_group_is_deduplicated_and_resolution_is_a_new_row(intake: AlertIntake) -> None:
    body = json.dumps(am_payload(n=3)).encode()
    assert intake.alertmanager(body, NOW) == {"received": 3, "accepted": 3, "duplicates": 0}
    assert intake.alertmanager(body, NOW) == {"received": 3, "accepted": 0, "duplicates": 3}
    resolved = intake.alertmanager(json.dumps(am_payload("resolved", n=3)).encode(), NOW)
    assert resolved["accepted"] == 3
    rows = intake.repo.unprocessed()
    assert len(rows) == 6
    assert {r.environment for r in rows} == {"staging"}
    assert {r.severity for r in rows} == {"critical"}
    assert rows[0].ends_at is None and rows[-1].ends_at is not None


def test_too_many_alerts_is_413_naming_the_limit() -> None:
    with pytest.raises(PayloadTooLarge) as err:
        parse_alertmanager(json.dumps(am_payload(n=MAX_ALERTS + 1)).encode())
    assert err.value.status == 413 and str(MAX_ALERTS) in str(err.value)


def test_huge_body_is_413() -> None:
    body = json.dumps(am_payload(commonAnnotations={"blob": "x" * (1024 * 1024 + 1)})).encode()
    with pytest.raises(PayloadTooLarge, match="1 MiB"):
        parse_alertmanager(body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (json.dumps({"alerts": [{"status": "firing", "labels": {}}]}).encode(), "alerts.0.startsAt"),
        (json.dumps({"alerts": [{"status": "weird", "startsAt": "2026-01-01T00:00:00Z"}]}).encode(), "alerts.0.status"),
        (json.dumps({"version": "4", "status": "firing"}).encode(), "alerts"),  # no alerts: not a webhook
    ],
)
def test_malformed_payload_names_the_field(body: bytes, field: str) -> None:
    with pytest.raises(BadInput) as err:
        parse_alertmanager(body)
    assert err.value.data["field"] == field


@pytest.mark.parametrize("start", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00", "1969-12-31T23:59:59Z"])
def test_a_start_outside_the_era_is_refused_naming_the_alert_not_a_500(start: str) -> None:
    # one such alert in a batch made the whole batch a 500 (OverflowError reckoning its UTC time), and Alertmanager
    # re-sent it for ever; the good alert beside it was never stored
    good = {"status": "firing", "labels": {"alertname": "A"}, "startsAt": "2026-01-01T00:00:00Z"}
    p = parse_alertmanager(json.dumps({"alerts": [good, {**good, "startsAt": start}]}).encode())
    assert len(p.alerts) == 1 and p.refused[0].field == "alerts.1.startsAt"
    assert "outside the times hx takes" in p.refused[0].message
    with pytest.raises(BadInput, match="outside the times hx takes") as err:
        parse_alertmanager(json.dumps({"alerts": [{**good, "startsAt": start}]}).encode())
    assert err.value.data["field"] == "alerts.0.startsAt"
    hx_body = {"alerts": [{"name": "Disk", "service": "db", "starts_at": start}]}
    with pytest.raises(BadInput) as err:
        parse_hx_alerts(json.dumps(hx_body).encode())
    assert err.value.data["field"] == "alerts.0.starts_at"


def test_a_malformed_alert_is_left_out_and_named_and_its_group_is_stored(tmp_path: Path) -> None:
    # Alertmanager does not re-send a group answered with a 4xx: refusing the whole group for one bad alert lost the
    # good ones at the sender
    store = Store(f"sqlite:///{tmp_path / 'hx.db'}")
    store.upgrade()
    seen: list[tuple[str, str]] = []
    intake = AlertIntake(AlertRepo(store), "dev", on_refused=lambda source, p: seen.append((source, p.field)))
    body = am_payload(n=3)
    alerts = body["alerts"]
    assert isinstance(alerts, list)
    alerts[1]["status"] = "weird"
    alerts[2]["startsAt"] = "not a time"
    result = intake.alertmanager(json.dumps(body).encode(), NOW)
    assert result["received"] == 3 and result["accepted"] == 1 and result["refused"] == 2
    assert [p["field"] for p in result["problems"]] == ["alerts.1.status", "alerts.2.startsAt"]
    assert [r.fingerprint for r in intake.repo.unprocessed()] == ["fp0"]
    assert seen == [("alertmanager", "alerts.1.status"), ("alertmanager", "alerts.2.startsAt")]
    health = intake.health()
    assert health["alerts_refused"] == 2 and health["last_refused"]["first"]["field"] == "alerts.1.status"
    # a re-send stores nothing twice and counts the refusals again (each is a refused delivery)
    again = intake.alertmanager(json.dumps(body).encode(), NOW)
    assert again["duplicates"] == 1 and intake.health()["alerts_refused"] == 4


def test_alertmanagers_zero_end_in_any_zone_reads_as_not_ended() -> None:
    for zero in ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00"):
        a = {"status": "firing", "labels": {}, "startsAt": "2026-01-01T00:00:00+02:00", "endsAt": zero}
        alert = parse_alertmanager(json.dumps({"alerts": [a]}).encode()).alerts[0]
        assert alert.endsAt is None and alert.startsAt.isoformat() == "2025-12-31T22:00:00+00:00"


def test_an_end_before_the_era_other_than_the_zero_time_is_refused_not_read_as_not_ended() -> None:
    a = {"name": "Disk", "service": "db", "status": "resolved", "starts_at": "2026-01-01T00:00:00Z"}
    with pytest.raises(BadInput, match="outside the times hx takes") as err:
        parse_hx_alerts(json.dumps({"alerts": [{**a, "ends_at": "1969-01-01T00:00:00Z"}]}).encode())
    assert err.value.data["field"] == "alerts.0.ends_at"
    assert not str(err.value).count("Value error")  # pydantic's prefix is dropped


def test_hx_schema_is_strict() -> None:
    ok = {"alerts": [{"name": "Disk", "service": "db", "starts_at": "2026-03-03T10:00:00Z"}]}
    assert parse_hx_alerts(json.dumps(ok).encode()).alerts[0].service == "db"
    bad = {"alerts": [{"name": "Disk", "service": "db", "starts_at": "2026-03-03T10:00:00Z", "colour": "red"}]}
    with pytest.raises(BadInput) as err:
        parse_hx_alerts(json.dumps(bad).encode())
    assert err.value.data["field"] == "alerts.0.colour"


def test_a_number_as_a_time_is_refused_not_read_as_unix_seconds() -> None:
    # pydantic read 0 as 1970-01-01 and 1.7e12 as milliseconds: the schema says ISO 8601 text, as both senders send
    good = {"status": "firing", "labels": {"alertname": "A"}, "startsAt": "2026-01-01T00:00:00Z"}
    p = parse_alertmanager(json.dumps({"alerts": [good, {**good, "startsAt": 1_767_225_600}]}).encode())
    assert len(p.alerts) == 1 and p.refused[0].field == "alerts.1.startsAt"
    assert "expected an ISO 8601 date-time string" in p.refused[0].message
    a = {"name": "Disk", "service": "db", "status": "resolved", "starts_at": "2026-01-01T00:00:00Z", "ends_at": 0}
    with pytest.raises(BadInput, match="got int 0") as err:
        parse_hx_alerts(json.dumps({"alerts": [a]}).encode())
    assert err.value.data["field"] == "alerts.0.ends_at"
