"""Alert intake: Alertmanager webhooks, hx's own alert schema and anomaly events, stored before anything else.

The HTTP handlers only *store* alert rows (one per alert and status) and answer at once; the engine
processes stored, unprocessed rows later, so an accepted alert is never lost and the answer is fast.
Intake is idempotent: every row has a dedup key (SHA-256 of source, group key, fingerprint,
startsAt and status), so a group Alertmanager re-sends, or retries after a 5xx, adds nothing.

Alertmanager's payload is a third-party format: unknown fields are tolerated, and its alerts are taken one by
one.  Alertmanager does not re-send a group answered with a 4xx, so refusing a whole group for one malformed alert
would drop its good alerts at the sender: the good ones are stored, each refused one is named in the answer
(``status: partial``, ``refused``, ``problems``), logged, counted (``hx_alerts_refused_total``) and shown in
``/health``.  A body that is no webhook, or whose every alert is malformed, is refused whole (422 naming the first
fault).  hx's own schema
(``POST /api/v1/alerts``) is strict and whole: its callers read the 422.  Limits: a body over
:data:`MAX_BODY_BYTES` or with more than :data:`MAX_ALERTS` alerts is refused with 413 naming the limit.

>>> p = parse_alertmanager(b'{"version": "4", "status": "firing", "groupKey": "g", "alerts": '
...     b'[{"status": "firing", "labels": {"alertname": "HighErrors", "service": "api"}, '
...     b'"startsAt": "2026-01-01T00:00:00Z", "fingerprint": "abc"}]}')
>>> rows = alertmanager_rows(p, datetime(2026, 1, 1, 0, 1, tzinfo=UTC), "dev")
>>> rows[0].name, rows[0].service, rows[0].status
('HighErrors', 'api', 'firing')
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError

from hx.clock import in_era
from hx.errors import BadInput, validation_message
from hx.events import AnomalyDetected, AnomalyResolved, Event
from hx.heal.records import AlertRepo, AlertRow
from hx.severity import Severity

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_ALERTS = 1000
#: problems named in one answer (the count covers them all)
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Problem:
    """One fault of a request: where (``alerts.3.startsAt``) and what."""

    field: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class PayloadTooLarge(BadInput):
    """The request is over an intake limit (413)."""

    status = 413
    title = "payload too large"


def _ends(t: datetime | None) -> datetime | None:
    """An end time; Alertmanager's zero time (``0001-01-01T00:00:00Z``, in any zone: not resolved yet) reads as
    none, any other outside the era is refused."""
    return None if t is None or t.year == 1 else in_era(t)


def _text_time(v: Any) -> Any:
    """A time as the schema gives it: ISO 8601 text (a number was read as Unix seconds or milliseconds, by its size,
    as pydantic guesses; neither Alertmanager nor hx's schema sends one)."""
    if v is None or isinstance(v, str | datetime):
        return v
    raise ValueError(f"expected an ISO 8601 date-time string (e.g. 2026-12-06T10:00:00Z), got {type(v).__name__} {v!r}")


#: an alert's start: ISO 8601 text, in UTC (naive = UTC), within :func:`hx.clock.in_era` (422 naming the alert
#: otherwise: one alert whose start was beyond what a datetime holds in UTC made its whole batch a 500, good alerts
#: and all)
Start = Annotated[datetime, BeforeValidator(_text_time), AfterValidator(in_era)]
End = Annotated[datetime | None, BeforeValidator(_text_time), AfterValidator(_ends)]


class AmAlert(BaseModel):
    """One alert of an Alertmanager webhook (unknown fields tolerated)."""

    model_config = ConfigDict(extra="allow")

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: Start
    endsAt: End = None
    generatorURL: str = ""
    fingerprint: str = ""


class AlertmanagerPayload(BaseModel):
    """Alertmanager's webhook body, version 4 (unknown fields tolerated)."""

    model_config = ConfigDict(extra="allow")

    version: str = "4"
    groupKey: str = ""
    truncatedAlerts: int = 0
    status: Literal["firing", "resolved"] = "firing"
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[AmAlert]  # required: a body without it is not a webhook (it was accepted as 0 alerts)
    #: the alerts left out as malformed, each named (``alerts.<i>.<field>``), in the order sent
    _refused: list[Problem] = PrivateAttr(default_factory=list)

    @property
    def refused(self) -> list[Problem]:
        return self._refused


class _Envelope(BaseModel):
    """The webhook without its alerts' shapes: each alert is checked on its own."""

    model_config = ConfigDict(extra="allow")

    alerts: list[Any]


class HxAlert(BaseModel):
    """hx's own alert schema (strict: unknown fields are refused)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    service: str = Field(min_length=1, max_length=200)
    status: Literal["firing", "resolved"] = "firing"
    severity: Severity = Severity.WARNING
    environment: str | None = Field(None, min_length=1, max_length=100)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: Start
    ends_at: End = None
    fingerprint: str | None = Field(None, max_length=200)


class HxAlertBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alerts: list[HxAlert] = Field(min_length=1, description=f"at most {MAX_ALERTS} (more: 413)")


# ---- parsing with limits ----------------------------------------------------------------------


def _load_json(body: bytes) -> Any:
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"the body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} bytes (1 MiB)", field="body",
            limit=MAX_BODY_BYTES,
        )  # fmt: skip
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadInput(f"the body is not valid JSON: {err}", field="body") from err


def _check_count(data: Any) -> None:
    if isinstance(data, dict) and isinstance(data.get("alerts"), list) and len(data["alerts"]) > MAX_ALERTS:
        n = len(data["alerts"])
        raise PayloadTooLarge(f"{n} alerts in one request; the limit is {MAX_ALERTS}", field="alerts", limit=MAX_ALERTS)


def _problem(err: ValidationError, prefix: tuple[str | int, ...] = ()) -> Problem:
    first = err.errors()[0]
    where = ".".join(str(p) for p in (*prefix, *first["loc"])) or "body"
    return Problem(where, f"{where}: {validation_message(first)}")


def _validation(err: ValidationError, prefix: tuple[str | int, ...] = ()) -> BadInput:
    p = _problem(err, prefix)
    return BadInput(p.message, field=p.field)


def parse_alertmanager(body: bytes) -> AlertmanagerPayload:
    """Parse and check an Alertmanager webhook body: limits first, then the envelope, then each alert.

    Malformed alerts are left out and named in :attr:`AlertmanagerPayload.refused`; a body whose every alert is
    malformed is refused (:class:`~hx.errors.BadInput` naming the first).

    >>> good = {"status": "firing", "startsAt": "2026-01-01T00:00:00Z"}
    >>> p = parse_alertmanager(json.dumps({"alerts": [good, {**good, "status": "weird"}]}).encode())
    >>> len(p.alerts), p.refused[0].field
    (1, 'alerts.1.status')
    """
    data = _load_json(body)
    _check_count(data)
    try:
        envelope = _Envelope.model_validate(data)
    except ValidationError as err:
        raise _validation(err) from err
    good: list[AmAlert] = []
    refused: list[Problem] = []
    for i, raw in enumerate(envelope.alerts):
        try:
            good.append(AmAlert.model_validate(raw))
        except ValidationError as err:
            refused.append(_problem(err, ("alerts", i)))
    if refused and not good:
        raise BadInput(refused[0].message, field=refused[0].field)
    try:
        payload = AlertmanagerPayload.model_validate({**data, "alerts": []})
    except ValidationError as err:
        raise _validation(err) from err
    payload.alerts = good
    payload._refused = refused
    return payload


def parse_hx_alerts(body: bytes) -> HxAlertBatch:
    data = _load_json(body)
    _check_count(data)
    try:
        return HxAlertBatch.model_validate(data)
    except ValidationError as err:
        raise _validation(err) from err


# ---- normalisation ------------------------------------------------------------------------------


def dedup_key(source: str, group_key: str, fingerprint: str, starts_at: datetime, status: str) -> str:
    """The idempotency key of one alert state.

    >>> len(dedup_key("am", "g", "f", datetime(2026, 1, 1, tzinfo=UTC), "firing"))
    64
    """
    raw = "\x1f".join((source, group_key, fingerprint, _utc(starts_at).isoformat(), status))
    return hashlib.sha256(raw.encode()).hexdigest()


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """A stable fingerprint of a label set (when the sender gives none)."""
    return hashlib.sha256(json.dumps(dict(sorted(labels.items()))).encode()).hexdigest()[:16]


def severity_of(labels: Mapping[str, str]) -> str:
    return Severity.parse(labels.get("severity")).value


def service_of(labels: Mapping[str, str]) -> str:
    for key in ("service", "app", "job", "deployment", "container", "namespace"):
        if labels.get(key):
            return str(labels[key])
    return "unknown"


def environment_of(labels: Mapping[str, str], default_env: str) -> str:
    return str(labels.get("environment") or labels.get("env") or default_env)


def alertmanager_rows(p: AlertmanagerPayload, now: datetime, default_env: str) -> list[AlertRow]:
    rows = []
    for a in p.alerts:
        labels = {**p.commonLabels, **a.labels}
        annotations = {**p.commonAnnotations, **a.annotations}
        fp = a.fingerprint or label_fingerprint(labels)
        ends = a.endsAt
        rows.append(
            AlertRow(
                dedup_key=dedup_key("alertmanager", p.groupKey, fp, a.startsAt, a.status), source="alertmanager",
                group_key=p.groupKey[:400], fingerprint=fp[:200], status=a.status,
                name=labels.get("alertname", "alert")[:200], service=service_of(labels)[:200],
                environment=environment_of(labels, default_env)[:100], severity=severity_of(labels), labels=labels,
                annotations=annotations, starts_at=_utc(a.startsAt), ends_at=_utc(ends) if ends else None,
                received_at=now,
            )
        )  # fmt: skip
    return rows


def hx_rows(batch: HxAlertBatch, now: datetime, default_env: str) -> list[AlertRow]:
    rows = []
    for a in batch.alerts:
        labels = {**a.labels, "alertname": a.name, "service": a.service}
        fp = a.fingerprint or label_fingerprint(labels)
        rows.append(
            AlertRow(
                dedup_key=dedup_key("api", "", fp, a.starts_at, a.status), source="api", group_key="", fingerprint=fp,
                status=a.status, name=a.name, service=a.service, environment=a.environment or default_env,
                severity=a.severity.value, labels=labels, annotations=dict(a.annotations), starts_at=_utc(a.starts_at),
                ends_at=_utc(a.ends_at) if a.ends_at else None, received_at=now,
            )
        )  # fmt: skip
    return rows


def anomaly_row(event: Event, default_env: str) -> AlertRow:
    """An ``anomaly.detected`` / ``anomaly.resolved`` event as an alert row (the pair shares a fingerprint).

    The row starts when the detector saw the anomaly begin (its ``at``; for a resolution, ``at`` less the duration)
    and carries the observed value; the event's publish time stands in only when the payload does not say."""
    p = event.payload
    if not isinstance(p, AnomalyDetected | AnomalyResolved):
        raise BadInput(f"{event.type} is not an anomaly event", field="type")
    service, signal = p.service or event.subject or "unknown", p.signal or "signal"
    resolved = isinstance(p, AnomalyResolved)
    onset = p.onset if isinstance(p, AnomalyResolved) else p.at
    starts_at = _utc(onset or event.ts)
    status = "resolved" if resolved else "firing"
    labels = {"alertname": f"Anomaly_{signal}", "service": service, "signal": signal}
    fp = p.anomaly_id or label_fingerprint({"service": service, "signal": signal})
    score = p.peak_score if isinstance(p, AnomalyResolved) else p.score
    annotations = {"score": _text(score), "value": _text(p.observed), "event": str(event.id)}
    return AlertRow(
        dedup_key=dedup_key("anomaly", "" if resolved else str(event.id), fp, starts_at, status),
        source="anomaly", group_key="", fingerprint=fp, status=status, name=labels["alertname"], service=service,
        environment=environment_of(labels, default_env), severity=severity_of(labels), labels=labels,
        annotations=annotations, starts_at=starts_at, ends_at=_utc(p.at or event.ts) if resolved else None,
        received_at=event.ts,
    )  # fmt: skip


def _text(x: float | None) -> str:
    return "" if x is None else str(x)


class AlertIntake:
    """Stores alerts (persist first); returns how many were new, how many were duplicates and which were refused.

    Refused Alertmanager alerts (the rest of their group stored) are logged, passed to ``on_refused`` (the
    platform's counter) and kept for :meth:`health`: the sender never sees them fail."""

    def __init__(self, repo: AlertRepo, default_env: str,
                 on_refused: Callable[[str, Problem], None] | None = None) -> None:  # fmt: skip
        self.repo = repo
        self.default_env = default_env
        self.on_refused = on_refused
        self._lock = threading.Lock()
        self.refused_total = 0
        self.last_refused: dict[str, Any] | None = None

    def accept(self, rows: list[AlertRow]) -> dict[str, int]:
        added = self.repo.insert_new(rows)
        return {"received": len(rows), "accepted": added, "duplicates": len(rows) - added}

    def alertmanager(self, body: bytes, now: datetime) -> dict[str, Any]:
        payload = parse_alertmanager(body)
        result: dict[str, Any] = dict(self.accept(alertmanager_rows(payload, now, self.default_env)))
        if payload.refused:
            self._refused("alertmanager", payload.groupKey, payload.refused, now)
            result["received"] += len(payload.refused)
            result["refused"] = len(payload.refused)
            result["problems"] = [p.to_json() for p in payload.refused[:MAX_PROBLEMS]]
        return result

    def hx_alerts(self, body: bytes, now: datetime) -> dict[str, int]:
        return self.accept(hx_rows(parse_hx_alerts(body), now, self.default_env))

    def _refused(self, source: str, group_key: str, problems: list[Problem], now: datetime) -> None:
        log.warning("%s group %r: %d alert(s) refused, the rest stored; first: %s", source, group_key,
                    len(problems), problems[0].message)  # fmt: skip
        with self._lock:
            self.refused_total += len(problems)
            self.last_refused = {"at": now.isoformat(), "source": source, "group_key": group_key[:200],
                                 "count": len(problems), "first": problems[0].to_json()}  # fmt: skip
        if self.on_refused is not None:
            for p in problems:
                self.on_refused(source, p)

    def health(self) -> dict[str, Any]:
        """What the intake refused since start (the senders got a 200 for the rest of those groups)."""
        with self._lock:
            out: dict[str, Any] = {"alerts_refused": self.refused_total}
            if self.last_refused is not None:
                out["last_refused"] = dict(self.last_refused)
        return out
