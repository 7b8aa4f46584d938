"""Prometheus exposition of the simulated fleet, and a real-time HTTP server a Prometheus can scrape.

One series per live replica, labelled ``service``, ``instance``, ``version`` (and ``node``): counters
``hx_sim_requests_total``, ``hx_sim_errors_total``, ``hx_sim_restarts_total``; gauges
``hx_sim_cpu_utilization``, ``hx_sim_memory_utilization``, ``hx_sim_disk_utilization``, ``hx_sim_ready``,
``hx_sim_utilization``, ``hx_sim_saturation``, ``hx_sim_request_rate``; the summary
``hx_sim_latency_seconds`` (quantiles 0.5, 0.95, 0.99 of the last step, plus ``_count`` and ``_sum`` of
answered requests); and per version
``hx_sim_replicas``, ``hx_sim_desired_replicas``, ``hx_sim_traffic_weight``.

Per-instance targets: ``serve`` answers ``/metrics`` (the whole fleet), ``/metrics?instance=<id>`` and
``/instances/<id>/metrics`` (one replica's series only; 404 once it is gone), and ``/targets`` in the
Prometheus HTTP service-discovery format, one target per replica with ``__metrics_path__`` set, so a
Prometheus ``http_sd_configs`` entry (or a static config listing those paths) scrapes each replica as its
own target. The series carry their own ``instance`` label: scrape with ``honor_labels: true`` so
Prometheus keeps it (instead of renaming it ``exported_instance``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hx.errors import NotFound
from hx.sim.engine import Simulation

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LABELS = ["service", "version", "instance", "node"]  # the order of Simulation.instance_labels


class FleetCollector(Collector):
    """A prometheus_client collector reading the simulation's last step (optionally one instance)."""

    def __init__(self, sim: Simulation, instance: str | None = None) -> None:
        self.sim = sim
        self.instance = instance

    def _slots(self) -> np.ndarray:
        if self.instance is not None:
            return np.array([self.sim.instance_id(self.instance)])
        return self.sim.live()

    def collect(self) -> Iterator[Metric]:
        sim, inst = self.sim, self.sim.inst
        slots = self._slots()
        labels = [list(sim.instance_labels(int(k))) for k in slots]
        fams = {
            "req": CounterMetricFamily("hx_sim_requests", "Requests offered to the replica.", labels=_LABELS),
            "err": CounterMetricFamily("hx_sim_errors", "Requests that failed (dropped or errored).", labels=_LABELS),
            "rst": CounterMetricFamily("hx_sim_restarts", "Restarts of the replica.", labels=_LABELS),
        }
        cols = {"req": inst.col("req_total"), "err": inst.col("err_total"), "rst": inst.col("restarts")}
        for key, fam in fams.items():
            for lab, k in zip(labels, slots, strict=True):
                fam.add_metric(lab, float(cols[key][k]))
            yield fam
        last = sim.last
        pos = [None if last is None else last.position(int(k)) for k in slots]
        gauges = {
            "hx_sim_cpu_utilization": ("CPU utilisation of the replica (0-1).", None if last is None else last.cpu),
            "hx_sim_memory_utilization": ("Memory utilisation (0-1).", None if last is None else last.memory),
            "hx_sim_utilization": ("Served load over capacity (0-1).", None if last is None else last.utilization),
            "hx_sim_request_rate": ("Requests per second in the last step.", None if last is None else last.offered),
            "hx_sim_saturation": (
                "Offered load over capacity (above 1: overloaded).",
                None if last is None else last.saturation,
            ),
        }
        for name, (doc, arr) in gauges.items():
            g = GaugeMetricFamily(name, doc, labels=_LABELS)
            for lab, p in zip(labels, pos, strict=True):
                g.add_metric(lab, float(arr[p]) if arr is not None and p is not None else 0.0)
            yield g
        disk = GaugeMetricFamily("hx_sim_disk_utilization", "Disk utilisation (0-1).", labels=_LABELS)
        for lab, k in zip(labels, slots, strict=True):
            disk.add_metric(lab, float(inst.col("disk")[k]))
        yield disk
        yield from self._ready_and_latency(labels, slots, pos)
        if self.instance is None:
            yield from self._versions()

    def _ready_and_latency(self, labels: list[list[str]], slots: np.ndarray, pos: list[int | None]) -> Iterator[Metric]:
        sim, last = self.sim, self.sim.last
        ready = GaugeMetricFamily("hx_sim_ready", "1 when the replica is ready to serve.", labels=_LABELS)
        lat = Metric("hx_sim_latency_seconds", "Response time (M/M/1 model plus dependencies).", "summary")
        count, total = sim.inst.col("served_total"), sim.inst.col("latency_sum")
        for lab, k, p in zip(labels, slots, pos, strict=True):
            ok = last is not None and p is not None and bool(last.ready[p])
            ready.add_metric(lab, 1.0 if ok else 0.0)
            named = dict(zip(_LABELS, lab, strict=True))
            if last is not None and p is not None and ok:
                for qi, q in enumerate(("0.5", "0.95", "0.99")):
                    lat.add_sample("hx_sim_latency_seconds", {**named, "quantile": q}, float(last.latency[qi, p]))
            lat.add_sample("hx_sim_latency_seconds_count", named, float(count[k]))
            lat.add_sample("hx_sim_latency_seconds_sum", named, float(total[k]))
        yield ready
        yield lat

    def _versions(self) -> Iterator[Metric]:
        sim, grp = self.sim, self.sim.groups
        names = ["service", "version"]
        rep = GaugeMetricFamily("hx_sim_replicas", "Live replicas of a version.", labels=names)
        des = GaugeMetricFamily("hx_sim_desired_replicas", "Desired replicas of a version.", labels=names)
        wgt = GaugeMetricFamily("hx_sim_traffic_weight", "Share of the service's traffic (0-1).", labels=names)
        alive = np.bincount(sim.inst.col("group")[sim.inst.col("alive")], minlength=grp.n)
        for g in np.flatnonzero(grp.col("active")):
            lab = [sim.names[int(grp.col("service")[g])], grp.versions[g]]
            rep.add_metric(lab, float(alive[g]))
            des.add_metric(lab, float(grp.col("desired")[g]))
            wgt.add_metric(lab, float(grp.col("weight")[g]))
        yield rep
        yield des
        yield wgt


def render_exposition(sim: Simulation, instance: str | None = None) -> str:
    """The fleet's (or one replica's) metrics in the Prometheus text format.

    >>> from hx.sim.spec import make_fleet
    >>> sim = Simulation(make_fleet(2, seed=0)); sim.step()
    >>> "hx_sim_requests_total{" in render_exposition(sim)
    True
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(sim, instance))
    return generate_latest(registry).decode()


def http_sd_targets(sim: Simulation, address: str) -> list[dict[str, object]]:
    """Prometheus HTTP service-discovery groups: one target per live replica."""
    out: list[dict[str, object]] = []
    for name in sim.instances():
        service, version, instance, node = sim.instance_labels(sim.inst.index[name])
        out.append(
            {
                "targets": [address],
                "labels": {
                    "__metrics_path__": f"/instances/{instance}/metrics",
                    "service": service,
                    "version": version,
                    "node": node,
                },
            }
        )
    return out


@dataclass
class SimServer:
    """A running ``serve``: the HTTP server, the thread advancing the simulation, and how to stop them."""

    sim: Simulation
    httpd: ThreadingHTTPServer
    speed: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def address(self) -> str:
        host, port = self.httpd.server_address[:2]
        host_s = host.decode() if isinstance(host, bytes) else str(host)
        return f"{host_s}:{port}"

    def advance(self, wall_elapsed: float, sim_start: float) -> None:
        with self.lock:
            self.sim.run_until(sim_start + wall_elapsed * self.speed)

    def shutdown(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        for t in self._threads:
            t.join(timeout=5)


def _handler(server: SimServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            parts = [p for p in url.path.split("/") if p]
            instance = parse_qs(url.query).get("instance", [None])[0]
            if parts == ["targets"]:
                with server.lock:
                    body = json.dumps(http_sd_targets(server.sim, server.address)).encode()
                return self._send(200, body, "application/json")
            if len(parts) == 3 and parts[0] == "instances" and parts[2] == "metrics":
                instance = parts[1]
            elif parts != ["metrics"]:
                return self._send(404, b"not found: try /metrics, /instances/<id>/metrics or /targets\n")
            try:
                with server.lock:
                    text = render_exposition(server.sim, instance)
            except NotFound as err:
                return self._send(404, (str(err) + "\n").encode())
            return self._send(200, text.encode(), CONTENT_TYPE)

        def _send(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

    return Handler


def serve(
    sim: Simulation, host: str = "127.0.0.1", port: int = 9464, speed: float = 1.0, tick_s: float = 0.5
) -> SimServer:
    """Serve the fleet's metrics over HTTP in background threads, advancing the simulation with wall
    time times ``speed`` (60 = a simulated minute per second). ``port=0`` picks a free port. Call
    ``.shutdown()`` on the result to stop."""
    server = SimServer(sim, ThreadingHTTPServer((host, port), BaseHTTPRequestHandler), speed)
    server.httpd.RequestHandlerClass = _handler(server)
    sim_start, wall_start = sim.t, time.monotonic()

    def ticker() -> None:
        while not server._stop.wait(tick_s):
            server.advance(time.monotonic() - wall_start, sim_start)

    for target in (server.httpd.serve_forever, ticker):
        t = threading.Thread(target=target, daemon=True, name=f"hx-sim-{target.__name__}")
        t.start()
        server._threads.append(t)
    return server
