"""The notification a sink sends, the delivery it reports, and the one-verb Notifier protocol.

A :class:`Notification` is plain, validated data about one incident at one moment; every sink
(Slack, email, PagerDuty, webhook) renders it its own way.  ``Notifier.send`` never raises for a
failure of the world (a sink that is down, rate-limits or refuses): it returns a :class:`Delivery`
with ``ok=False`` and the error.  Misconfiguration is found when the notifier is built.

>>> from datetime import UTC, datetime
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> n = Notification("42", "checkout is slow", "error", "checkout", "prod", "latency", opened_at=t, updated_at=t)
>>> n.dedup_key
'hx-incident-42'
>>> Notification.from_dict(n.to_dict()) == n
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, get_args
from urllib.parse import urlsplit

from hx.errors import BadInput
from hx.severity import SEVERITIES, Severity

Status = Literal["triggered", "acknowledged", "resolved"]

#: The event a message about an incident in each status is (PagerDuty's ``event_action`` vocabulary).
EVENT_FOR_STATUS: dict[str, str] = {"triggered": "trigger", "acknowledged": "acknowledge", "resolved": "resolve"}
STATUSES: tuple[Status, ...] = get_args(Status)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _text(field_name: str, value: object, *, required: bool = True, limit: int = 10_000) -> str:
    if not isinstance(value, str):
        raise BadInput(f"{field_name} must be a string, got {type(value).__name__}", field=field_name)
    if required and not value.strip():
        raise BadInput(f"{field_name} must not be empty", field=field_name)
    if _CONTROL.search(value):
        raise BadInput(f"{field_name} contains control characters", field=field_name)
    if len(value) > limit:
        raise BadInput(f"{field_name} is longer than {limit} characters", field=field_name)
    return value


def check_http_url(field_name: str, url: object) -> str:
    """An absolute http(s) URL, or :class:`BadInput` naming the field.

    >>> check_http_url("link", "https://example.com/x")
    'https://example.com/x'
    >>> check_http_url("link", "javascript:alert(1)")
    Traceback (most recent call last):
    ...
    hx.errors.BadInput: link: 'javascript:alert(1)' is not an absolute http(s) URL
    """
    text = _text(field_name, url)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in text):
        raise BadInput(f"{field_name}: {text!r} is not an absolute http(s) URL", field=field_name)
    return text


@dataclass(frozen=True)
class RootCause:
    """One root-cause candidate: the service and metric that moved first, and how strongly."""

    service: str
    metric: str
    score: float

    def __post_init__(self) -> None:
        _text("root_causes.service", self.service)
        _text("root_causes.metric", self.metric)
        if isinstance(self.score, bool) or not isinstance(self.score, int | float) or self.score != self.score:
            raise BadInput(f"root_causes.score must be a number, got {self.score!r}", field="root_causes.score")


@dataclass(frozen=True)
class ActionTaken:
    """A remediation step and its result."""

    action: str
    ok: bool
    detail: str = ""
    target: str = ""

    def __post_init__(self) -> None:
        _text("actions.action", self.action)
        _text("actions.detail", self.detail, required=False)
        _text("actions.target", self.target, required=False)
        if not isinstance(self.ok, bool):
            raise BadInput("actions.ok must be true or false", field="actions.ok")


@dataclass(frozen=True)
class Link:
    """A labelled http(s) link (dashboard, runbook, incident page)."""

    text: str
    url: str

    def __post_init__(self) -> None:
        _text("links.text", self.text)
        check_http_url("links.url", self.url)


def _aware(field_name: str, value: object) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise BadInput(f"{field_name} must be a timezone-aware datetime, got {value!r}", field=field_name)
    return value


@dataclass(frozen=True)
class Notification:
    """What one message about one incident says.  Validated on construction (:class:`BadInput`).

    ``repeat_count`` is how many repeats of the incident were aggregated into this message;
    ``escalation_level`` the level of the escalation policy that sends it.
    """

    incident_id: str
    title: str
    severity: Severity
    service: str
    environment: str
    incident_class: str
    status: Status = "triggered"
    summary: str = ""
    root_causes: tuple[RootCause, ...] = ()
    actions: tuple[ActionTaken, ...] = ()
    links: tuple[Link, ...] = ()
    opened_at: datetime | None = None
    updated_at: datetime | None = None
    repeat_count: int = 0
    escalation_level: int = 0

    def __post_init__(self) -> None:
        for name in ("incident_id", "title", "service", "environment", "incident_class"):
            _text(name, getattr(self, name), limit=500)
        _text("summary", self.summary, required=False)
        if self.severity not in SEVERITIES:
            raise BadInput(f"severity {self.severity!r}; valid: {', '.join(SEVERITIES)}", field="severity")
        object.__setattr__(self, "severity", Severity(self.severity))
        if self.status not in STATUSES:
            raise BadInput(f"status {self.status!r}; valid: {', '.join(STATUSES)}", field="status")
        for name, kind in (("root_causes", RootCause), ("actions", ActionTaken), ("links", Link)):
            items = getattr(self, name)
            if not isinstance(items, tuple) or not all(isinstance(i, kind) for i in items):
                raise BadInput(f"{name} must be a tuple of {kind.__name__}", field=name)
        for name in ("repeat_count", "escalation_level"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise BadInput(f"{name} must be an integer >= 0, got {value!r}", field=name)
        if self.opened_at is not None:
            _aware("opened_at", self.opened_at)
        if self.updated_at is not None:
            _aware("updated_at", self.updated_at)

    @property
    def dedup_key(self) -> str:
        """Stable per incident, the same for trigger, acknowledge and resolve (<= 255 chars)."""
        return dedup_key_for(self.incident_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601 strings."""
        out = asdict(self)
        for name in ("opened_at", "updated_at"):
            value = getattr(self, name)
            out[name] = value.isoformat() if value is not None else None
        out["dedup_key"] = self.dedup_key
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notification:
        """Rebuild from :meth:`to_dict` output (or an API body); unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise BadInput("a notification must be an object", field="notification")
        known = set(cls.__dataclass_fields__) | {"dedup_key"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BadInput(f"unknown notification field(s): {', '.join(unknown)}", field=unknown[0])
        values = {k: v for k, v in data.items() if k != "dedup_key"}
        try:
            values["root_causes"] = tuple(RootCause(**r) for r in values.get("root_causes", ()))
            values["actions"] = tuple(ActionTaken(**a) for a in values.get("actions", ()))
            values["links"] = tuple(Link(**lk) for lk in values.get("links", ()))
            for name in ("opened_at", "updated_at"):
                if isinstance(values.get(name), str):
                    values[name] = datetime.fromisoformat(values[name])
            return cls(**values)
        except (TypeError, ValueError) as err:
            raise BadInput(f"invalid notification: {err}", field="notification") from err


def dedup_key_for(incident_id: str) -> str:
    """The stable deduplication key of an incident.

    >>> dedup_key_for("inc-7")
    'hx-incident-inc-7'
    """
    return f"hx-incident-{incident_id}"[:255]


@dataclass(frozen=True)
class Delivery:
    """What one ``send`` did.

    ``event`` is ``trigger``, ``acknowledge`` or ``resolve`` (the Dispatcher also says ``update``
    for aggregated repeats) and ``level`` the escalation level that sent it.  ``status`` is the HTTP
    status or SMTP reply code of the last answer (None if none came); ``reply`` a short excerpt of
    the answer; ``permanent`` says a failure will not go away by retrying (a 4xx other than 429, a
    5xx SMTP reply); ``waits`` the back-off pauses between attempts.
    """

    notifier: str
    ok: bool
    attempts: int
    status: int | None = None
    reply: str = ""
    error: str | None = None
    permanent: bool = False
    dedup_key: str | None = None
    latency_s: float = 0.0
    waits: tuple[float, ...] = ()
    incident_id: str | None = None
    event: str = ""
    level: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["waits"] = list(self.waits)
        return out


class SecretSource(Protocol):
    """Where notifiers read secrets: :class:`hx.security.secrets.SecretStore` or a test double."""

    def get_optional(self, name: str) -> str | None: ...


@dataclass(frozen=True)
class DictSecrets:
    """Secrets from a mapping (tests, the demo).  Values are kept out of repr.

    >>> DictSecrets({"a": "1"}).get_optional("a")
    '1'
    """

    values: Mapping[str, str] = field(default_factory=dict, repr=False)

    def get_optional(self, name: str) -> str | None:
        return self.values.get(name)


class Notifier(Protocol):
    """A notification sink: one verb, ``send``.  ``close`` releases what the notifier owns."""

    name: str

    def send(self, message: Notification) -> Delivery: ...

    def close(self) -> None: ...
