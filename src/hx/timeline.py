"""One service's story in time order: deploys, anomalies, incidents, remediation and scaling, from the event
store, beside the series of its key signal.

>>> kind_of("deployment.step"), kind_of("incident.action"), kind_of("model.trained")
('deploy', 'remediation', None)
>>> sparkline([0.0, 1.0, float("nan"), 2.0])
'▁▅ █'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hx.errors import BadInput, TelemetryError
from hx.telemetry.common import signal_step_s

if TYPE_CHECKING:
    from hx.platform import Platform

#: event type prefix -> the kind of entry it makes on the timeline (the first match wins)
KINDS: tuple[tuple[str, str], ...] = (
    ("deployment.", "deploy"),
    ("anomaly.detected", "anomaly"),
    ("anomaly.resolved", "anomaly"),
    ("incident.action", "remediation"),
    ("incident.", "incident"),
    ("scaling.", "scaling"),
)
TYPES = ["deployment.*", "anomaly.detected", "anomaly.resolved", "incident.*", "scaling.*"]
BARS = "▁▂▃▄▅▆▇█"
MAX_POINTS = 240
MAX_ENTRIES = 1000
KEY_SIGNALS = ("latency_p95", "error_rate", "request_rate")


def kind_of(event_type: str) -> str | None:
    return next((kind for prefix, kind in KINDS if event_type.startswith(prefix)), None)


def sparkline(values: Sequence[float]) -> str:
    """One block character per value, scaled between the series' min and max; a gap is a space."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return " " * len(values)
    lo, hi = min(finite), max(finite)
    span = hi - lo or 1.0
    return "".join(" " if not math.isfinite(v) else BARS[round((v - lo) / span * (len(BARS) - 1))] for v in values)


def summary(event_type: str, data: dict[str, Any]) -> str:
    """A short line about one event, from the fields it carries."""
    keys = ("version", "state", "status", "signal", "score", "class", "runbook", "action", "replicas", "reason")
    parts = [f"{k}={data[k]}" for k in keys if data.get(k) not in (None, "", [], {})]
    return f"{event_type} " + " ".join(parts)[:300]


@dataclass(frozen=True)
class TimelineQuery:
    """Which service, over which span, with which key signal (default: the first of latency_p95, error_rate,
    request_rate the service has, else its first anomaly signal)."""

    subject: str
    since: datetime
    until: datetime
    signal: str | None = None


def entries(platform: Platform, q: TimelineQuery) -> list[dict[str, Any]]:
    rows = platform.bus.rows(types=TYPES, subject=q.subject, since=q.since, until=q.until, limit=MAX_ENTRIES)
    out = []
    for r in rows:
        kind = kind_of(r.type)
        if kind is not None:
            out.append({"ts": r.ts.isoformat(), "kind": kind, "type": r.type, "id": r.id,
                        "summary": summary(r.type, dict(r.data)), "data": r.data})  # fmt: skip
    return sorted(out, key=lambda e: (e["ts"], e["id"]))


def key_signal(platform: Platform, q: TimelineQuery) -> dict[str, Any] | None:
    """The key signal's series over the span, on a grid of at most MAX_POINTS points (None: no source)."""
    source = platform.source
    if source is None:
        return None
    if q.subject not in source.services():
        raise BadInput(f"unknown service {q.subject!r}; known: {', '.join(sorted(source.services())[:20])}",
                       field="subject")  # fmt: skip
    configured = platform.settings.intelligent_monitoring.anomaly_detection.signals
    candidates = [q.signal] if q.signal else [*[s for s in KEY_SIGNALS if s in configured], *configured]
    span = (q.until - q.since).total_seconds()
    step = max(signal_step_s(platform.settings), span / MAX_POINTS)
    errors = []
    for name in candidates:
        try:
            s = source.signal(q.subject, name, q.since, q.until, step)
        except TelemetryError as err:
            errors.append(f"{name}: {err}")
            continue
        values = [float(v) for v in s.values]
        shown = [v if math.isfinite(v) else None for v in values]
        return {"signal": name, "step_s": step, "timestamps": [float(t) for t in s.timestamps], "values": shown,
                "sparkline": sparkline(values)}  # fmt: skip
    return {"signal": None, "error": "; ".join(errors)[:500]}


def timeline(platform: Platform, subject: str, since: datetime | None = None, until: datetime | None = None,
             signal: str | None = None) -> dict[str, Any]:  # fmt: skip
    now = platform.clock.now()
    until = until or now
    since = since or until - timedelta(hours=24)
    if since >= until:
        raise BadInput(f"since {since.isoformat()} is not before until {until.isoformat()}", field="since")
    q = TimelineQuery(subject, since, until, signal)
    items = entries(platform, q)
    return {"subject": subject, "since": since.isoformat(), "until": until.isoformat(), "entries": items,
            "counts": {k: sum(e["kind"] == k for e in items) for _, k in KINDS},
            "series": key_signal(platform, q)}  # fmt: skip


#: annotation kind -> the event types drawn for it on Grafana
ANNOTATION_TYPES: dict[str, list[str]] = {
    "deploy": ["deployment.requested", "deployment.promoted", "deployment.rolled_back", "deployment.aborted",
               "deployment.failed"],
    "incident": ["incident.opened", "incident.escalated", "incident.resolved"],
}  # fmt: skip


def grafana_annotations(platform: Platform, kind: str, since: datetime, until: datetime,
                service: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Deploy or incident events as Grafana annotations: ``time`` (epoch ms), ``title``, ``text``, ``tags``."""
    if kind not in ANNOTATION_TYPES:
        raise BadInput(f"unknown annotation kind {kind!r}; valid: {', '.join(ANNOTATION_TYPES)}", field="kind")
    rows = platform.bus.rows(types=ANNOTATION_TYPES[kind], subject=service, since=since, until=until,
                             limit=MAX_ENTRIES)  # fmt: skip
    return [{"time": int(r.ts.timestamp() * 1000), "title": f"{r.type} {r.subject}",
             "text": summary(r.type, dict(r.data)), "tags": [kind, r.type, r.subject], "service": r.subject}
            for r in rows]  # fmt: skip
