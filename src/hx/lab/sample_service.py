"""The shipped sample service: one program, three tiers (frontend -> cart -> inventory), instrumented for Prometheus.

Read it as the reference for instrumenting your own service the way hx's ``http-semconv`` preset reads it:

- ``http_server_request_duration_seconds`` (histogram): every request served, labelled ``http_request_method``,
  ``http_route``, ``http_response_status_code`` and the resource labels ``service_name``, ``service_version``,
  ``service_instance_id``;
- ``http_client_request_duration_seconds`` (histogram): every call to the downstream tier, labelled ``peer_service``
  (the callee) and ``http_response_status_code``: the caller -> callee edges hx's topology reads;
- ``http_server_active_requests`` (gauge, OpenTelemetry's ``http.server.active_requests``): requests in flight in
  the server (waiting for a worker or being served), labelled ``http_request_method`` and the resource labels; and
  ``http_server_active_requests_limit`` (gauge): the worker pool's size (0: unbounded).  Their ratio is the
  instance's saturation, which hx's ``http-semconv`` preset reads as ``saturation`` and the scaler turns into a
  per-instance capacity (:func:`hx.scale.component.estimate_capacity`);
- prometheus-client's process collector (CPU seconds, resident memory, start time).

Capacity: ``--workers N`` bounds the requests served at once (like gunicorn's sync workers; the others wait in a
queue) and ``--service-ms S`` is each request's own service time, spent waiting (a sleep standing for a database
call), not burning CPU.  One instance then serves about ``N / (S + the downstream call)`` requests per second
whatever else the machine runs, and load beyond that queues: p95 climbs, as on a saturated real service.

Each tier is a process of this program: ``python -m hx.lab.sample_service --tier cart --version v2 --port 8101
--downstream http://127.0.0.1:8200`` (the downstream is the next tier's HAProxy frontend).  ``GET /`` does the tier's
work and calls the downstream; ``GET /healthz`` answers 200 while the process is healthy; ``GET /metrics`` is the
Prometheus exposition; ``GET /faults`` shows and ``POST /faults`` (JSON) sets the fault switches, which can also be
given as flags: ``latency_ms`` added to each request, ``error_rate`` (0..1) of 500 answers, ``leak_kb`` kept per
request (a memory leak), ``cpu_ms`` of busy work per request, ``crash`` (exit at once with status 3).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector

TIERS = ("frontend", "cart", "inventory")
#: the tier each tier calls by default (the bottom tier calls nobody)
DOWNSTREAM = {"frontend": "cart", "cart": "inventory", "inventory": None}
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
SERVER_LABELS = ("http_request_method", "http_route", "http_response_status_code")
RESOURCE = ("service_name", "service_version", "service_instance_id")


@dataclass
class Faults:
    """The fault switches; every field can be set by flag or by ``POST /faults``."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    leak_kb: float = 0.0
    cpu_ms: float = 0.0
    crash: bool = False

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a JSON object of switches; ValueError names the first bad one."""
        known = {f.name: f.type for f in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown fault {key!r}; known: {', '.join(known)}")
            if key == "crash":
                if not isinstance(value, bool):
                    raise ValueError("crash must be true or false")
            elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{key} must be a number >= 0")
            elif key == "error_rate" and value > 1:
                raise ValueError("error_rate must be between 0 and 1")
        for key, value in changes.items():
            setattr(self, key, value)


@dataclass
class Metrics:
    """The service's instruments, in their own registry (a test can build several services in one process)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.server = Histogram(
            "http_server_request_duration_seconds",
            "Duration of HTTP server requests.",
            (*SERVER_LABELS, *RESOURCE),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.client = Histogram(
            "http_client_request_duration_seconds",
            "Duration of HTTP client requests to the downstream tier.",
            ("peer_service", "http_response_status_code", *RESOURCE),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.active = Gauge(
            "http_server_active_requests",
            "Number of active HTTP server requests (waiting for a worker or being served).",
            ("http_request_method", *RESOURCE),
            registry=self.registry,
        )
        self.limit = Gauge(
            "http_server_active_requests_limit",
            "Requests the server serves at once (its worker pool; 0: unbounded).",
            RESOURCE,
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)


class WorkerPool:
    """At most ``size`` requests served at once (0: unbounded); the others wait in FIFO-ish order."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError("workers must be >= 0")
        self.size = size
        self.busy = 0
        self._cond = threading.Condition()

    def __enter__(self) -> WorkerPool:
        with self._cond:
            while self.size and self.busy >= self.size:
                self._cond.wait()
            self.busy += 1
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self.busy -= 1
            self._cond.notify()


class SampleService:
    """One tier of the sample application: its work, its downstream call, its faults and its metrics."""

    def __init__(
        self,
        tier: str,
        version: str,
        instance: str,
        downstream: str | None = None,
        faults: Faults | None = None,
        *,
        service: str = "",
        peer: str | None = None,
        exit_fn: Any = os._exit,
        workers: int = 0,
        service_ms: float = 0.0,
    ) -> None:
        if service_ms < 0:
            raise ValueError("service_ms must be >= 0")
        self.tier = tier
        self.peer = peer or DOWNSTREAM.get(tier) or "downstream"
        self.version = version
        self.instance = instance
        self.downstream = downstream
        self.faults = faults or Faults()
        self.metrics = Metrics()
        self.resource = {"service_name": service or tier, "service_version": version, "service_instance_id": instance}
        self.leaked: list[bytearray] = []
        self._exit = exit_fn
        self._client = httpx.Client(timeout=10.0)
        self.pool = WorkerPool(workers)
        self.service_s = service_ms / 1000.0
        self.metrics.limit.labels(*self.resource.values()).set(workers)

    def serve_request(self) -> tuple[int, dict[str, Any]]:
        """``GET /``: wait for a worker (counted active meanwhile), then :meth:`handle` holding it."""
        active = self.metrics.active.labels("GET", *self.resource.values())
        active.inc()
        try:
            with self.pool:
                return self.handle()
        finally:
            active.dec()

    def handle(self) -> tuple[int, dict[str, Any]]:
        """The tier's work for ``GET /``: faults first, then the downstream call."""
        f = self.faults
        if f.crash:
            self._exit(3)
        if f.leak_kb:
            self.leaked.append(bytearray(int(f.leak_kb * 1024)))  # kept forever: the leak
        _burn(f.cpu_ms / 1000.0)
        if self.service_s:
            time.sleep(self.service_s)  # the tier's own work: waiting (a database call), not CPU
        if f.latency_ms:
            time.sleep(f.latency_ms / 1000.0)
        if f.error_rate and random.random() < f.error_rate:
            return 500, {"tier": self.tier, "error": "injected error"}
        below = self.call_downstream()
        status = 200 if below is None or below < 500 else 502
        return status, {"tier": self.tier, "version": self.version, "instance": self.instance, "downstream": below}

    def call_downstream(self) -> int | None:
        """GET the downstream tier's ``/`` and record the client metric; its status (599: unreachable)."""
        if not self.downstream:
            return None
        t0 = time.perf_counter()
        try:
            status = self._client.get(self.downstream.rstrip("/") + "/").status_code
        except httpx.HTTPError:
            status = 599
        self.metrics.client.labels(self.peer, str(status), *self.resource.values()).observe(time.perf_counter() - t0)
        return status

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.metrics.server.labels(method, route, str(status), *self.resource.values()).observe(seconds)


def _burn(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


class Handler(BaseHTTPRequestHandler):
    """Routes: ``/`` (work), ``/healthz``, ``/metrics``, ``/faults``."""

    service: SampleService
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        t0 = time.perf_counter()
        if self.path == "/metrics":
            self._send(200, generate_latest(self.service.metrics.registry), CONTENT_TYPE_LATEST)
            return
        if self.path == "/healthz":
            self._json(200, {"status": "ok", "version": self.service.version})
            return
        if self.path == "/faults":
            self._json(200, asdict(self.service.faults))
            return
        route = "/" if self.path.split("?")[0] == "/" else None
        status, body = self.service.serve_request() if route else (404, {"error": "not found"})
        self._json(status, body)
        self.service.observe("GET", route or "unknown", status, time.perf_counter() - t0)

    def do_POST(self) -> None:
        if self.path != "/faults":
            self._json(404, {"error": "not found"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            changes = json.loads(self.rfile.read(min(length, 65536)) or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object")
            self.service.faults.update(changes)
        except ValueError as err:  # json.JSONDecodeError is a ValueError
            self._json(400, {"error": str(err)})
            return
        self._json(200, asdict(self.service.faults))

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the metrics are the record."""


def serve(service: SampleService, host: str, port: int) -> ThreadingHTTPServer:
    """A server for ``service`` bound to ``host:port`` (port 0: any free one); call ``serve_forever`` on it."""
    handler = type("BoundHandler", (Handler,), {"service": service})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m hx.lab.sample_service", description=__doc__.split("\n\n")[0])
    p.add_argument("--tier", choices=TIERS, required=True, help="which tier this process is")
    p.add_argument("--service", default="", help="service_name (default: the tier)")
    p.add_argument("--peer", default=None, help="peer_service of the downstream (default: the next tier's name)")
    p.add_argument("--version", dest="service_version", default="v1", help="the version label (service_version)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free port)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--instance", default="", help="service_instance_id (default: tier--version--port)")
    p.add_argument("--downstream", default=None, help="URL of the next tier (its HAProxy frontend)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="added latency per request")
    p.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 500 (0..1)")
    p.add_argument("--leak-kb", type=float, default=0.0, help="memory kept per request")
    p.add_argument("--cpu-ms", type=float, default=0.0, help="busy CPU per request")
    p.add_argument("--workers", type=int, default=0, help="requests served at once, the rest queue (0: unbounded)")
    p.add_argument("--service-ms", type=float, default=0.0, help="each request's service time, spent waiting")
    p.add_argument("--faults-file", default=None, help="JSON {version: {switch: value}} applied at start (the lab)")
    p.add_argument("--crash-after-s", type=float, default=None, help="exit with status 3 after this many seconds")
    return p.parse_args(argv)


def _version_faults(path: str | None, version: str) -> dict[str, Any]:
    """This version's switches from a ``--faults-file`` (missing file or version: none)."""
    if not path or not os.path.exists(path):
        return {}
    with open(path) as fh:
        found = json.load(fh)
    chosen = found.get(version, {}) if isinstance(found, dict) else {}
    if not isinstance(chosen, dict):
        raise ValueError(f"{path}: faults of version {version!r} must be a JSON object")
    return chosen


def main(argv: Sequence[str] | None = None) -> None:
    a = parse_args(argv)
    faults = Faults()
    try:
        faults.update(
            {"latency_ms": a.latency_ms, "error_rate": a.error_rate, "leak_kb": a.leak_kb, "cpu_ms": a.cpu_ms}
        )
        faults.update(_version_faults(a.faults_file, a.service_version))
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    if a.workers < 0 or a.service_ms < 0:
        raise SystemExit("error: --workers and --service-ms must be >= 0")
    instance = a.instance or f"{a.tier}--{a.service_version}--{a.port}"
    service = SampleService(a.tier, a.service_version, instance, a.downstream, faults, service=a.service, peer=a.peer,
                            workers=a.workers, service_ms=a.service_ms)  # fmt: skip
    server = serve(service, a.host, a.port)
    if a.crash_after_s is not None:
        threading.Timer(a.crash_after_s, os._exit, (3,)).start()
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
