"""The signal presets against a real Prometheus scraping real exporters.

A small fleet (tests/integration/telemetry_fleet.py): ``web`` v1 calling ``checkout``, which runs v1 and a slower,
failing v2 at once, each instance an HTTP service instrumented with prometheus-client in the OpenTelemetry naming;
HAProxy in front with its built-in exporter; prometheus-node-exporter.  ``hx telemetry check`` resolves every
signal of each preset; the anomaly engine, the forecaster and the canary analysis read through them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from hx.cli.main import main
from hx.config import Settings, load_settings
from hx.deploy.analysis import DEFAULT_JUDGE, analyse, metric_values
from hx.detect.engine import AnomalyEngine
from hx.forecast.series import forecast_series
from hx.platform import build_platform
from hx.telemetry.discovery import CANARY_SIGNALS, check_telemetry
from hx.telemetry.presets import load_preset
from hx.telemetry.prometheus import PrometheusSource
from hx.topology import topology_from_settings
from tests.integration.servers import PrometheusHandle, prometheus_server, wait_until
from tests.integration.telemetry_fleet import Fleet, Spec, fleet
from tests.support.net import free_port

pytestmark = pytest.mark.integration

SPECS = [
    Spec("web", "v1", downstream="checkout"),
    Spec("checkout", "v1", latency_s=0.003),
    Spec("checkout", "v2", latency_s=0.030, fail_every=5),
]
WINDOW = "10s"


@dataclass
class World:
    prom: PrometheusHandle
    fleet: Fleet
    tmp: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("presets")
    with fleet(tmp, SPECS, rps=10.0) as f:
        jobs = f.scrape_configs(node_labels={"service_name": "checkout"})
        with prometheus_server(tmp, [], scrape_configs=jobs) as prom:
            prom.wait_for_targets(30)
            prom.wait_for_data('http_server_request_duration_seconds_count{service_version="v2"}', 30)
            prom.wait_for_data('haproxy_server_http_responses_total{proxy="checkout",code="5xx"} > 0', 30)
            prom.wait_for_data('http_client_request_duration_seconds_count{peer_service="checkout"}', 30)
            time.sleep(12)  # a full rate() window of samples
            yield World(prom, f, tmp)


def settings_for(w: World, preset: str | list[str], **more: Any) -> Settings:
    overrides = {
        "telemetry.source": "prometheus",
        "telemetry.prometheus.url": w.prom.url,
        "telemetry.prometheus.preset": preset,
        "telemetry.prometheus.window": WINDOW,
        "telemetry.step_s": 5,
        "storage.data_dir": str(w.tmp / "hx"),
        **more,
    }
    return load_settings(environ={}, overrides=overrides).settings


def source_for(settings: Settings) -> PrometheusSource:
    return PrometheusSource.from_settings(settings.telemetry.prometheus)


def test_http_semconv_gives_the_canary_judge_per_version_series(world: World) -> None:
    src = source_for(settings_for(world, "http-semconv"))
    assert {"web", "checkout"} <= set(src.services())
    assert src.versions("checkout") == ["v1", "v2"]
    assert src.instances("checkout") == ["checkout--v1--0", "checkout--v2--0"]
    now = datetime.now(UTC)
    start = now - timedelta(seconds=30)
    per = src.signal_by("checkout", "request_rate", "version", start, now, 5)
    assert [s.labels["version"] for s in per] == ["v1", "v2"]
    assert all(np.nanmax(s.values) > 0 for s in per)
    # the canary analysis reads each version's judged metrics through the preset
    assert {m.name for m in DEFAULT_JUDGE.metrics} - {"errors"} <= set(CANARY_SIGNALS)
    p95 = {v: metric_values(src, "checkout", v, "latency_p95", start, now, 5) for v in ("v1", "v2")}
    errors = {v: metric_values(src, "checkout", v, "errors", start, now, 5) for v in ("v1", "v2")}
    assert np.nanmedian(p95["v2"]) > 2 * np.nanmedian(p95["v1"])  # v2 sleeps 30 ms, v1 3 ms
    assert np.nansum(errors["v2"]) > 0 and np.nansum(errors["v1"]) == 0


@pytest.mark.parametrize("preset", ["http-semconv", "haproxy"])
def test_the_canary_analysis_judges_v2_worse_through_the_preset(world: World, preset: str) -> None:
    src = source_for(settings_for(world, preset))
    now = datetime.now(UTC)
    verdict, record = analyse(src, "checkout", "v1", "v2", now - timedelta(seconds=40), now, 2.0)
    assert record["basis"] == "concurrent"
    assert verdict.status == "fail", verdict.reasons
    assert verdict.metric("latency_p95").status == "fail" or verdict.metric("errors").status == "fail"


@pytest.mark.parametrize(
    ("preset", "service", "more"),
    [
        ("http-semconv", "checkout", {}),
        ("haproxy", "checkout", {}),
        ("node", "node", {}),
        ("node", "checkout", {"telemetry.prometheus.discovery.service_label": "service_name"}),
    ],
)
def test_check_resolves_every_signal_of_each_preset(world: World, preset: str, service: str, more: Any) -> None:
    settings = settings_for(world, preset, **more)
    src = source_for(settings)
    assert service in src.services()
    report = check_telemetry(src, settings, datetime.now(UTC), services=[service])
    rows = {(r.signal, r.per): r for r in report.signals}
    for signal in load_preset(preset).signals:
        row = rows[(signal, "service")]
        assert row.resolves, (signal, row.status, row.why, row.promql)
        assert row.promql and row.age_s is not None and row.age_s < 60 and row.last_value is not None
    if preset == "haproxy":  # versions from the server names, per-version rows for the canary
        assert report.services[0].versions == ["v1", "v2"]
        assert all(rows[(s, "version")].resolves for s in CANARY_SIGNALS)
        assert not rows[("cpu_utilization", "service")].resolves  # the detector needs it: not in this preset
        assert rows[("cpu_utilization", "service")].status == "not defined" and not report.ok


def test_composed_presets_resolve_every_needed_signal_and_the_cli_exits_0(
    world: World, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # the table's rows on one line each
    settings = settings_for(world, ["http-semconv", "node"])
    report = check_telemetry(source_for(settings), settings, datetime.now(UTC), services=["checkout"])
    needed = [r for r in report.signals if r.needed_by]
    assert report.ok, [(r.signal, r.per, r.status, r.why) for r in needed if not r.resolves]
    origin = {r.signal: r.promql for r in needed}
    assert "node_cpu_seconds_total" in (origin["cpu_utilization"] or "")
    assert "http_server_request_duration_seconds" in (origin["request_rate"] or "")
    base = ["--set", "telemetry.source=prometheus", "--set", f"telemetry.prometheus.url={world.prom.url}",
            "--set", f"telemetry.prometheus.window={WINDOW}",
            "--set", f"storage.data_dir={world.tmp / 'cli'}"]  # fmt: skip
    capsys.readouterr()
    code = main([*base, "--set", "telemetry.prometheus.preset=[http-semconv, node]", "--json", "telemetry", "check",
                 "--service", "checkout"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["ok"] is True
    assert out["services"][0]["versions"] == ["v1", "v2"]
    code = main([*base, "--set", "telemetry.prometheus.preset=haproxy", "telemetry", "check", "--service", "checkout"])
    text = capsys.readouterr().out
    assert code == 1 and "not defined" in text and "haproxy_server_http_responses_total" in text


def test_a_missing_label_and_a_missing_metric_say_why(world: World) -> None:
    templates = {
        "latency_p95": 'max by ({by}) (no_such_metric_seconds{{service_label}="{service}"})',
        "request_rate": 'sum by ({by}) (rate(haproxy_server_http_responses_total{{service_label}="{service}"}[1m]))',
    }
    settings = settings_for(world, "http-semconv", **{"telemetry.prometheus.templates": templates})
    report = check_telemetry(source_for(settings), settings, datetime.now(UTC), services=["checkout"])
    rows = {(r.signal, r.per): r for r in report.signals}
    assert rows[("latency_p95", "service")].status == "no series"
    assert "no_such_metric_seconds is not scraped" in (rows[("latency_p95", "service")].why or "")
    assert rows[("request_rate", "service")].status == "label missing"
    assert "'service_name'" in (rows[("request_rate", "service")].why or "")
    assert not report.ok


def test_the_anomaly_engine_and_the_forecaster_read_through_the_preset(world: World) -> None:
    settings = settings_for(
        world,
        ["http-semconv", "node"],
        **{"intelligent_monitoring.anomaly_detection.signals": ["request_rate", "latency_p95", "cpu_utilization"],
           "intelligent_monitoring.anomaly_detection.min_history_s": 0},
    )  # fmt: skip
    src = source_for(settings)
    platform = build_platform(settings, source=src)
    engine = AnomalyEngine(platform, src, warmup_s=60)
    engine.step(datetime.now(UTC))
    for signal in ("request_rate", "latency_p95", "cpu_utilization"):
        assert engine.tracks[f"checkout/{signal}"].learned >= 2, signal
    now = datetime.now(UTC)
    history = src.signal("web", "request_rate", now - timedelta(seconds=60), now, 5)
    assert history.last() is not None and history.last() > 0  # type: ignore[operator]
    fc = forecast_series(history.timestamps, history.values, 30.0, model="seasonal_naive", grid_s=5.0)
    assert np.isfinite(fc.to_dict()["mean"]).all()


def test_the_call_graph_comes_from_caller_callee_metrics(world: World) -> None:
    settings = settings_for(world, "http-semconv", **{"topology.metrics.preset": "http-client",
                                                      "topology.edges": {"checkout": ["payments"]}})  # fmt: skip
    src = source_for(settings)
    topo = topology_from_settings(settings, src)
    assert topo.callees("web") == ("checkout",)
    assert topo.callers("checkout") == ("web",)
    assert topo.callees("checkout") == ("payments",)  # the configured edge is kept
    report = check_telemetry(src, settings, datetime.now(UTC), topology=topo, services=["web"])
    assert report.topology["edges"]["web"] == ["checkout"]
    assert "http_client_request_duration_seconds_count" in report.topology["source"]


def test_haproxy_traffic_weights_per_version(world: World) -> None:
    src = source_for(settings_for(world, "haproxy"))
    now = datetime.now(UTC)
    per = src.signal_by("checkout", "traffic_weight", "version", now - timedelta(seconds=20), now, 5)
    assert {s.labels["version"]: s.last() for s in per} == {"v1": 0.5, "v2": 0.5}
    wait_until("both checkout servers UP", lambda: src.instant("checkout", "ready_replicas") == 2, 20)


# ---- kube-prometheus on recorded exposition ---------------------------------------------------------------------

#: where the recorded exposition comes from: $HX_DATA_DIR/exposition/MANIFEST.md.  cAdvisor's golden output
#: (google/cadvisor lib/metrics/testdata/prometheus_metrics) and kube-state-metrics' test expectations
#: (pod_full_scrape.txt from pkg/app/server_test.go, deployment.txt from internal/store/deployment_test.go).  They come
#: from unrelated fixtures (a standalone cAdvisor container "testcontaineralias", pod "default/pod0", deployments
#: "ns1/depl1"...), so the scrape jobs relabel the container and pod series onto one pod of deployment depl1, with
#: the namespace/pod/container labels the kubelet adds on /metrics/cadvisor.  ingress-nginx publishes no exposition
#: fixture (MANIFEST: "Looked for and not included"), so the request signals have no series here.
POD = "depl1-5d4f8b6c9-x7k2p"
INGRESS_SIGNALS = ("request_rate", "error_rate", "latency_p95", "latency_p99")


def _relabel(**labels: str) -> list[dict[str, str]]:
    return [{"target_label": k, "replacement": v} for k, v in labels.items()]


def _kube_jobs(port: int) -> list[dict[str, Any]]:
    target = [{"targets": [f"127.0.0.1:{port}"]}]
    return [
        {"job_name": "cadvisor", "scrape_interval": "1s", "metrics_path": "/cadvisor/prometheus_metrics.txt",
         "honor_timestamps": False, "static_configs": target,
         "metric_relabel_configs": _relabel(namespace="ns1", pod=POD, container="app")},
        {"job_name": "ksm-pods", "scrape_interval": "1s", "metrics_path": "/kube-state-metrics/pod_full_scrape.txt",
         "static_configs": target, "metric_relabel_configs": _relabel(namespace="ns1", pod=POD)},
        {"job_name": "ksm-deployments", "scrape_interval": "1s", "metrics_path": "/kube-state-metrics/deployment.txt",
         "static_configs": target},
    ]  # fmt: skip


@contextlib.contextmanager
def _static_files(root: Path) -> Iterator[int]:
    """A static HTTP target serving ``root`` on a free loopback port (the recorded exposition, as .txt files)."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_kube_prometheus_preset_on_recorded_exposition(tmp_path: Path) -> None:
    root = Path(os.environ.get("HX_DATA_DIR", "/work/shared/data")) / "exposition"
    assert (root / "MANIFEST.md").is_file(), f"no recorded exposition under {root}"
    with _static_files(root) as port, prometheus_server(tmp_path, [], scrape_configs=_kube_jobs(port)) as prom:
        prom.wait_for_targets(30)
        prom.wait_for_data(f'container_memory_working_set_bytes{{pod="{POD}"}}', 30)
        time.sleep(12)  # a full rate() window of samples
        overrides = {"telemetry.source": "prometheus", "telemetry.prometheus.url": prom.url,
                     "telemetry.prometheus.preset": "kube-prometheus", "telemetry.prometheus.window": WINDOW,
                     "storage.data_dir": str(tmp_path / "hx")}  # fmt: skip
        settings = load_settings(environ={}, overrides=overrides).settings
        src = source_for(settings)
        assert {"depl1", "depl2", "depl3"} <= set(src.services())
        assert src.instances("depl1") == [POD]
        report = check_telemetry(src, settings, datetime.now(UTC), services=["depl1"])
    rows = {r.signal: r for r in report.signals if r.per == "service"}
    for signal in set(load_preset("kube-prometheus").signals) - set(INGRESS_SIGNALS):
        assert rows[signal].resolves, (signal, rows[signal].status, rows[signal].why)
    assert rows["replicas"].last_value == 10 and rows["desired_replicas"].last_value == 200
    assert rows["memory_utilization"].last_value is not None and 0 < rows["memory_utilization"].last_value < 1
    for signal in INGRESS_SIGNALS:
        assert rows[signal].status == "no series" and "is not scraped" in (rows[signal].why or ""), signal


def test_the_api_route_reports_the_same_check(world: World) -> None:
    from hx.api.app import create_app
    from hx.platform import bootstrap_admin
    from tests.support.live import live_server

    settings = settings_for(world, ["http-semconv", "node"], **{"topology.metrics.preset": "http-client"})
    src = source_for(settings)
    platform = build_platform(settings, source=src)
    admin = (bootstrap_admin(platform) or Path()).read_text().strip()
    with live_server(create_app(platform)) as url:
        resp = httpx.get(f"{url}/api/v1/telemetry/check", params={"service": "checkout"},
                         headers={"Authorization": f"Bearer {admin}"}, timeout=60)  # fmt: skip
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["ok"] is True and body["presets"] == ["http-semconv", "node"]
    assert body["discovery"]["service_label"] == "service_name"
    assert body["topology"]["edges"] == {"web": ["checkout"]}
    platform.store.dispose()


def test_check_resolves_every_signal_of_the_hx_sim_preset(tmp_path: Path) -> None:
    from hx.sim import Simulation, make_fleet, serve

    sim = Simulation(make_fleet(2, seed=3, step_s=1.0), step_s=1.0, start=datetime.now(UTC))
    server = serve(sim, host="127.0.0.1", port=0, speed=1.0, tick_s=0.2)  # simulated time = wall time
    try:
        with prometheus_server(tmp_path, [server.address]) as prom:
            prom.wait_for_data("hx_sim_requests_total", 30)
            time.sleep(12)  # a full rate() window of samples
            overrides = {"telemetry.source": "prometheus", "telemetry.prometheus.url": prom.url,
                         "telemetry.prometheus.window": WINDOW, "storage.data_dir": str(tmp_path / "hx")}  # fmt: skip
            settings = load_settings(environ={}, overrides=overrides).settings
            assert settings.telemetry.prometheus.preset == "hx-sim"  # the default
            src = source_for(settings)
            service = src.services()[0]
            assert src.versions(service) == ["v1"] and len(src.instances(service)) >= 1
            report = check_telemetry(src, settings, datetime.now(UTC), services=[service])
    finally:
        server.shutdown()
    bad = [(r.signal, r.per, r.status, r.why) for r in report.signals if not r.resolves]
    assert report.ok and not bad, bad
