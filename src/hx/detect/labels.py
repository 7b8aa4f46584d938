"""People's verdicts on anomalies: true or false positive, with a note.

A label is stored once per anomaly (a second label replaces the first, and both are audited) with what the
detector said when it opened the anomaly (service, signal, score, the detectors that agreed), so the improvement
cycle can evaluate the detector on labelled anomalies without reading this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import String, cast, insert, select, update

from hx.errors import NotFound
from hx.events import EventType
from hx.store.tables import anomaly_labels, events

if TYPE_CHECKING:
    from hx.platform import Platform
    from hx.store import Store


def find_anomaly(store: Store, anomaly_id: str) -> dict[str, Any]:
    """The ``anomaly.detected`` data of an anomaly, with its peak score when it has resolved."""
    found: dict[str, Any] | None = None
    q = select(events.c.type, events.c.data).where(
        events.c.type.in_((EventType.ANOMALY_DETECTED.value, EventType.ANOMALY_RESOLVED.value)),
        cast(events.c.data, String).contains(anomaly_id),
    )
    with store.begin() as conn:
        rows = conn.execute(q.order_by(events.c.id)).all()
    for r in rows:
        if r.data.get("anomaly_id") != anomaly_id:
            continue
        if r.type == EventType.ANOMALY_DETECTED.value:
            found = dict(r.data)
        elif found is not None and r.data.get("peak_score") is not None:
            found["peak_score"] = r.data["peak_score"]
    if found is None:
        raise NotFound(f"no anomaly {anomaly_id!r}; list them with GET /api/v1/anomalies")
    return found


def label_anomaly(platform: Platform, anomaly_id: str, true_positive: bool, note: str, actor: str) -> dict[str, Any]:
    """Record (or replace) the verdict on one anomaly; audited."""
    a = find_anomaly(platform.store, anomaly_id)
    now = platform.clock.now()
    score = a.get("peak_score", a.get("score"))
    values = dict(service=str(a["service"]), signal=str(a["signal"]), score=None if score is None else float(score),
                  detectors=list(a.get("detectors", [])), true_positive=true_positive, note=note, labelled_by=actor,
                  labelled_at=now)  # fmt: skip
    with platform.store.begin() as conn:
        prior = conn.execute(select(anomaly_labels.c.id).where(anomaly_labels.c.anomaly_id == anomaly_id)).first()
        if prior is None:
            conn.execute(insert(anomaly_labels).values(anomaly_id=anomaly_id, **values))
        else:
            conn.execute(update(anomaly_labels).where(anomaly_labels.c.id == prior.id).values(**values))
    verdict = "true_positive" if true_positive else "false_positive"
    platform.audit.append(actor, "anomaly.label", f"anomaly:{anomaly_id}", "ok",
                          {"verdict": verdict, "note": note, "replaced": prior is not None})  # fmt: skip
    return label_json({"anomaly_id": anomaly_id, **values})


def label_json(row: Any) -> dict[str, Any]:
    d = dict(row)
    d.pop("id", None)
    d["verdict"] = "true_positive" if d["true_positive"] else "false_positive"
    d["labelled_at"] = d["labelled_at"].isoformat()
    return d


def list_labels(store: Store, service: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    q = select(anomaly_labels)
    if service is not None:
        q = q.where(anomaly_labels.c.service == service)
    with store.begin() as conn:
        rows = conn.execute(q.order_by(anomaly_labels.c.id.desc()).limit(limit)).mappings().all()
    return [label_json(r) for r in rows]
