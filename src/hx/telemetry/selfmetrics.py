"""hx's own metrics (requests, latencies, engine steps, errors) in an injectable registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class HxMetrics:
    """One registry per platform (no hidden global): tests can build as many as they like."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
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
        self.up = Gauge("hx_component_up", "component is serving", ["component"], registry=r)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
