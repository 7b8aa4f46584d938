"""hx's own metrics in an injectable registry: requests, latencies, engine steps and errors, and hx's state
(anomaly scores, open incidents by class, rollouts and canary scores, scaling decisions, model accuracy) for
Prometheus and the Grafana dashboard in ``deploy/grafana/``.

The state is read from the store at scrape time by :class:`StateCollector` (client_python's one-method
``Collector``), so every component's ``/metrics`` shows the platform's state whichever process changed it; the live
anomaly score is a gauge the detector sets as it scores each point (it lives in the detector's memory only).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select

from hx.store.tables import (
    DEPLOYMENT_ACTIVE,
    INCIDENT_OPEN,
    anomaly_labels,
    deployments,
    events,
    heal_incidents,
    models,
)

if TYPE_CHECKING:
    from hx.store import Store

#: every state a rollout can be in, each a series of hx_rollout_state (1 for the current one)
ROLLOUT_STATES = (*DEPLOYMENT_ACTIVE, "promoted", "rolled_back", "aborted", "failed")


class HxMetrics:
    """One registry per platform (no hidden global): tests can build as many as they like."""

    def __init__(self, registry: CollectorRegistry | None = None, state: Store | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "hx_http_requests", "API requests", ["component", "method", "route", "status"], registry=r
        )
        self.http_latency = Histogram(
            "hx_http_request_duration_seconds", "API request latency", ["component", "route"], registry=r
        )
        self.engine_steps = Counter("hx_engine_steps", "engine steps run", ["engine"], registry=r)
        self.engine_errors = Counter("hx_engine_errors", "engine steps that raised", ["engine"], registry=r)
        self.engine_step_seconds = Histogram(
            "hx_engine_step_duration_seconds", "engine step duration", ["engine"], registry=r
        )
        self.events_published = Counter("hx_events_published", "events published", ["type"], registry=r)
        self.actions = Counter("hx_actions", "actuator calls", ["verb", "ok"], registry=r)
        self.alerts_refused = Counter(
            "hx_alerts_refused", "malformed alerts left out of a stored group, by source and faulty field",
            ["source", "field"], registry=r,
        )  # fmt: skip
        self.up = Gauge("hx_component_up", "component is serving", ["component"], registry=r)
        self.anomaly_score = Gauge(
            "hx_anomaly_score", "the detector's latest calibrated score (0..1)", ["service", "signal"], registry=r
        )
        if state is not None:
            r.register(StateCollector(state))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class StateCollector(Collector):
    """hx's state from the store, read at each scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def describe(self) -> list[Any]:
        return []  # no describe-time read of the store: the families are built at collect time

    def collect(self) -> Iterator[Any]:
        with self.store.begin() as conn:
            yield _incidents(conn)
            yield from _rollouts(conn)
            yield from _scaling(conn)
            yield from _models(conn)


def _incidents(conn: Any) -> GaugeMetricFamily:
    """Open incidents by class; every class hx has seen has a series (0 when none is open)."""
    g = GaugeMetricFamily("hx_open_incidents", "incidents open or acknowledged, by class", labels=["class"])
    i = heal_incidents.c
    is_open = case((i.status.in_(INCIDENT_OPEN), 1), else_=0)
    for cls, n in conn.execute(select(i.incident_class, func.sum(is_open)).group_by(i.incident_class)):
        g.add_metric([cls], float(n or 0))
    return g


def _latest_deployments(conn: Any) -> list[Any]:
    d = deployments.c
    latest = select(func.max(d.id)).group_by(d.service, d.environment)
    return list(conn.execute(select(d.id, d.service, d.environment, d.state, d.analyses).where(d.id.in_(latest))))


def _rollouts(conn: Any) -> Iterator[Any]:
    state = GaugeMetricFamily("hx_rollout_state", "1 for the state of each service's latest rollout",
                              labels=["service", "environment", "state"])  # fmt: skip
    score = GaugeMetricFamily("hx_canary_score", "the latest canary analysis score of each service's latest rollout",
                              labels=["service", "environment"])  # fmt: skip
    dep_id = GaugeMetricFamily(
        "hx_rollout_id", "the id of each service's latest rollout", labels=["service", "environment"]
    )
    for r in _latest_deployments(conn):
        for s in ROLLOUT_STATES:
            state.add_metric([r.service, r.environment, s], 1.0 if r.state == s else 0.0)
        dep_id.add_metric([r.service, r.environment], float(r.id))
        scores = [a["score"] for a in (r.analyses or []) if isinstance(a, dict) and a.get("score") is not None]
        if scores:
            score.add_metric([r.service, r.environment], float(scores[-1]))
    yield from (state, score, dep_id)


def _scaling(conn: Any) -> Iterator[Any]:
    decided = CounterMetricFamily("hx_scaling_decisions", "scaling decisions published", labels=["service"])
    replicas = GaugeMetricFamily("hx_scaling_replicas", "the replicas of each service's latest scaling decision",
                                 labels=["service"])  # fmt: skip
    e = events.c
    q = select(e.subject, func.count(), func.max(e.id)).where(e.type == "scaling.decided").group_by(e.subject)
    rows = list(conn.execute(q))
    last = {int(r[2]) for r in rows}
    data = {r.id: r.data for r in conn.execute(select(e.id, e.data).where(e.id.in_(last)))} if last else {}
    for service, n, last_id in rows:
        decided.add_metric([service], float(n))
        value = (data.get(last_id) or {}).get("replicas")
        if value is not None:
            replicas.add_metric([service], float(value))
    yield from (decided, replicas)


def _models(conn: Any) -> Iterator[Any]:
    acc = GaugeMetricFamily("hx_model_accuracy", "each model version's accuracy at training (holdout, else cross-"
                            "validation)", labels=["model", "version", "stage", "measure"])  # fmt: skip
    live = GaugeMetricFamily("hx_model_live_accuracy", "the model in use on live outcomes (the last cycle)",
                             labels=["model", "in_use"])  # fmt: skip
    m = models.c
    for name, version, stage, metrics in conn.execute(select(m.name, m.version, m.stage, m.metrics)):
        measure = next((k for k in ("holdout_accuracy", "cv_accuracy") if (metrics or {}).get(k) is not None), None)
        if measure is not None:
            acc.add_metric([name, str(version), stage, measure], float(metrics[measure]))
    e = events.c
    last = conn.execute(select(e.data).where(e.type == "improvement.cycle").order_by(e.id.desc()).limit(1)).first()
    for review in last.data.get("models", []) if last is not None else []:
        seen = review.get("live") or {}
        in_use = "model" if seen.get("accuracy") is not None else "rules"
        value = seen.get("accuracy") if in_use == "model" else seen.get("rules_accuracy")
        if value is not None:
            live.add_metric([review["model"], in_use], float(value))
    yield from (acc, live)
    yield _precision(conn)


def _precision(conn: Any) -> GaugeMetricFamily:
    g = GaugeMetricFamily("hx_detection_precision", "share of labelled anomalies that were true positives",
                          labels=["signal"])  # fmt: skip
    c = anomaly_labels.c
    tp = func.sum(case((c.true_positive.is_(True), 1), else_=0))
    for signal, n, hits in conn.execute(select(c.signal, func.count(), tp).group_by(c.signal)):
        g.add_metric([signal], float(hits or 0) / float(n))
    return g
