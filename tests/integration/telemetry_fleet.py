"""A small real fleet for the telemetry presets, started and stopped by the tests.

- HTTP services instrumented with prometheus-client in the OpenTelemetry naming of the shared contract
  (``http_server_request_duration_seconds`` with ``service_name``/``service_version``/``service_instance_id``,
  ``http_client_request_duration_seconds`` with ``peer_service`` for calls downstream, the process collector),
  each instance named ``{service}--{version}--{index}``; a version can be slower or fail a share of requests.
- HAProxy (Debian ``haproxy``) in front, one frontend and one backend per service (the backend named after the
  service, one server per instance named as the instance), its built-in Prometheus exporter on its own port
  (``http-request use-service prometheus-exporter``).
- ``prometheus-node-exporter`` on a free port.
- A load generator calling the first service through HAProxy.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge, Histogram, ProcessCollector, generate_latest

from tests.integration.servers import wait_until
from tests.support.net import free_port, stop_process

BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
SERVER_LABELS = [
    "http_request_method",
    "http_route",
    "http_response_status_code",
    "service_name",
    "service_version",
    "service_instance_id",
]
CLIENT_LABELS = ["service_name", "service_version", "peer_service", "http_response_status_code"]
#: requests an instance serves at once (its worker pool; more wait)
WORKERS = 16


@dataclass
class Spec:
    """One instance to run: ``latency_s`` per request, every ``fail_every``-th request a 500 (0: never)."""

    service: str
    version: str
    index: int = 0
    latency_s: float = 0.003
    fail_every: int = 0
    downstream: str | None = None  # the service it calls on each request

    @property
    def name(self) -> str:
        return f"{self.service}--{self.version}--{self.index}"


class InstrumentedService:
    """One instance: an HTTP server on a free port serving ``/api`` and its own ``/metrics``."""

    def __init__(self, spec: Spec, downstream_url: str | None = None) -> None:
        self.spec = spec
        self.port = free_port()
        self.downstream_url = downstream_url
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.server_hist = Histogram(
            "http_server_request_duration_seconds", "Duration of HTTP server requests.", SERVER_LABELS,
            registry=self.registry, buckets=BUCKETS,
        )  # fmt: skip
        self.client_hist = Histogram(
            "http_client_request_duration_seconds", "Duration of HTTP client requests.", CLIENT_LABELS,
            registry=self.registry, buckets=BUCKETS,
        )  # fmt: skip
        # OpenTelemetry's http.server.active_requests over a bounded worker pool: the preset's saturation
        resource = ("service_name", "service_version", "service_instance_id")
        self.active = Gauge("http_server_active_requests", "Active HTTP server requests.",
                            ("http_request_method", *resource), registry=self.registry)  # fmt: skip
        limit = Gauge("http_server_active_requests_limit", "Requests served at once.", resource, registry=self.registry)
        limit.labels(spec.service, spec.version, spec.name).set(WORKERS)
        self.pool = threading.BoundedSemaphore(WORKERS)
        self.count = 0
        self.lock = threading.Lock()
        self.http = httpx.Client(timeout=5)
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        svc = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    body = generate_latest(svc.registry)
                    self._reply(200, body, "text/plain; version=0.0.4")
                    return
                active = svc.active.labels("GET", svc.spec.service, svc.spec.version, svc.spec.name)
                active.inc()
                try:
                    with svc.pool:
                        code = svc.serve()
                finally:
                    active.dec()
                self._reply(code, b"ok\n" if code == 200 else b"failed\n", "text/plain")

            def _reply(self, code: int, body: bytes, ctype: str) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # HAProxy stopped first
                    self.send_response(code)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def serve(self) -> int:
        """Handle one request: call downstream, wait, answer 200 or (every fail_every-th) 500; record it."""
        t0 = time.perf_counter()
        s = self.spec
        if self.downstream_url and s.downstream:
            c0 = time.perf_counter()
            try:
                status = str(self.http.get(self.downstream_url).status_code)
            except httpx.HTTPError:
                status = "599"
            self.client_hist.labels(s.service, s.version, s.downstream, status).observe(time.perf_counter() - c0)
        time.sleep(s.latency_s)
        with self.lock:
            self.count += 1
            failed = bool(s.fail_every) and self.count % s.fail_every == 0
        code = 500 if failed else 200
        self.server_hist.labels("GET", "/api", str(code), s.service, s.version, s.name).observe(
            time.perf_counter() - t0
        )
        return code

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.http.close()


def _binary(name: str, package: str) -> str:
    found = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if Path(p).exists()), None)
    if not found:
        pytest.fail(f"{name} is not installed; `make system-deps` installs it (Debian package `{package}`)")
    return found


@dataclass
class Fleet:
    """What :func:`fleet` started: instances by name, HAProxy's ports, the node exporter's port."""

    instances: dict[str, InstrumentedService]
    frontends: dict[str, int]
    haproxy_metrics_port: int
    node_port: int
    requests_sent: list[int] = field(default_factory=lambda: [0])

    def scrape_configs(self, node_labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Prometheus jobs for the services (one target per instance, labelled as the contract names it), HAProxy's
        exporter and the node exporter (with ``node_labels`` as target labels)."""
        services = [
            {
                "targets": [f"127.0.0.1:{inst.port}"],
                "labels": {
                    "service_name": inst.spec.service,
                    "service_version": inst.spec.version,
                    "service_instance_id": inst.spec.name,
                },
            }
            for inst in self.instances.values()
        ]
        node: dict[str, Any] = {"targets": [f"127.0.0.1:{self.node_port}"]}
        if node_labels:
            node["labels"] = node_labels
        return [
            {"job_name": "services", "scrape_interval": "1s", "honor_labels": True, "static_configs": services},
            {"job_name": "haproxy", "scrape_interval": "1s",
             "static_configs": [{"targets": [f"127.0.0.1:{self.haproxy_metrics_port}"]}]},
            {"job_name": "node", "scrape_interval": "1s", "static_configs": [node]},
        ]  # fmt: skip


def _haproxy_config(instances: Sequence[InstrumentedService], frontends: dict[str, int], metrics_port: int) -> str:
    lines = [
        "global", "  maxconn 256",
        "defaults", "  mode http", "  timeout connect 2s", "  timeout client 10s", "  timeout server 10s",
        "frontend exporter", f"  bind 127.0.0.1:{metrics_port}",
        "  http-request use-service prometheus-exporter if { path /metrics }",
    ]  # fmt: skip
    for service, port in frontends.items():
        lines += [f"frontend fe_{service}", f"  bind 127.0.0.1:{port}", f"  default_backend {service}"]
        lines += [f"backend {service}", "  balance roundrobin"]
        lines += [
            f"  server {i.spec.name} 127.0.0.1:{i.port} check inter 1s" for i in instances if i.spec.service == service
        ]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def fleet(tmp_path: Path, specs: Sequence[Spec], rps: float = 10.0) -> Iterator[Fleet]:
    """Start the instances, HAProxy in front of them, the node exporter and the load; stop everything after."""
    services = list(dict.fromkeys(s.service for s in specs))
    frontends = {svc: free_port() for svc in services}
    instances = {
        s.name: InstrumentedService(s, f"http://127.0.0.1:{frontends[s.downstream]}/api" if s.downstream else None)
        for s in specs
    }
    metrics_port, node_port = free_port(), free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(_haproxy_config(list(instances.values()), frontends, metrics_port))
    logs = tmp_path / "fleet-logs"
    logs.mkdir(exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()
    made = Fleet(instances, frontends, metrics_port, node_port)
    try:
        for inst in instances.values():
            inst.start()
        procs.append(_start([_binary("haproxy", "haproxy"), "-db", "-f", str(cfg)], logs / "haproxy.log"))
        node = [
            _binary("prometheus-node-exporter", "prometheus-node-exporter"),
            f"--web.listen-address=127.0.0.1:{node_port}",
        ]
        procs.append(_start(node, logs / "node.log"))
        wait_until("haproxy's exporter", lambda: _up(f"http://127.0.0.1:{metrics_port}/metrics"), 20)
        wait_until("the node exporter", lambda: _up(f"http://127.0.0.1:{node_port}/metrics"), 20)
        loader = threading.Thread(target=_load, args=(frontends[services[0]], rps, stop, made), daemon=True)
        loader.start()
        yield made
    finally:
        stop.set()
        for proc in procs:
            stop_process(proc, timeout=10)
        for inst in instances.values():
            inst.stop()


def _start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _load(port: int, rps: float, stop: threading.Event, made: Fleet) -> None:
    with httpx.Client(timeout=5) as client:
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                client.get(f"http://127.0.0.1:{port}/api")
                made.requests_sent[0] += 1
            stop.wait(1.0 / rps)
