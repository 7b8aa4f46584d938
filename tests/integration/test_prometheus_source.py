"""PrometheusSource against a real Prometheus scraping a real exposition served by this test."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from hx.checks import check_name
from hx.errors import BadQuery, EmptyResult, NotFound, SourceDown
from hx.telemetry.checks import Check, Probe, yield_checks
from hx.telemetry.prometheus import DEFAULT_TEMPLATES, PrometheusConfig, PrometheusSource
from tests.integration.servers import PrometheusHandle, prometheus_server, wait_until
from tests.support.net import free_port

pytestmark = pytest.mark.integration

WEIRD = 'we"ird\\svc'
LABELS = ["service", "instance", "version"]


@dataclass
class Instance:
    service: str
    name: str
    requests_per_s: float
    errors_per_s: float
    cpu: float
    p99: float


class Fleet:
    """A tiny exporter: counters grow at fixed rates from t0, gauges are whatever the test sets."""

    def __init__(self) -> None:
        self.t0 = time.time()
        self.lock = threading.Lock()
        self.instances = [
            Instance("api", "api-1", 10.0, 2.0, 0.2, 0.300),
            Instance("api", "api-2", 30.0, 0.0, 0.6, 0.120),
            Instance(WEIRD, "w-1", 5.0, 0.0, 0.9, 0.050),
        ]

    def set_cpu(self, name: str, cpu: float) -> None:
        with self.lock:
            next(i for i in self.instances if i.name == name).cpu = cpu

    def collect(self) -> Iterator[Metric]:
        elapsed = time.time() - self.t0
        requests = CounterMetricFamily("hx_sim_requests", "requests", labels=LABELS)
        errors = CounterMetricFamily("hx_sim_errors", "errors", labels=LABELS)
        cpu = GaugeMetricFamily("hx_sim_cpu_utilization", "cpu", labels=LABELS)
        utilization = GaugeMetricFamily("hx_sim_utilization", "served load over capacity", labels=LABELS)
        latency = GaugeMetricFamily("hx_sim_latency_seconds", "latency", labels=[*LABELS, "quantile"])
        replicas = GaugeMetricFamily("hx_sim_replicas", "replicas", labels=["service", "version"])
        with self.lock:
            for i in self.instances:
                labels = [i.service, i.name, "v1"]
                requests.add_metric(labels, i.requests_per_s * elapsed)
                if i.errors_per_s:
                    errors.add_metric(labels, i.errors_per_s * elapsed)
                cpu.add_metric(labels, i.cpu)
                utilization.add_metric(labels, i.cpu / 2)
                latency.add_metric([*labels, "0.99"], i.p99)
        replicas.add_metric(["api", "v1"], 2.0)
        replicas.add_metric(["api", "v2"], 1.0)
        yield from (requests, errors, cpu, utilization, latency, replicas)


@dataclass
class Setup:
    prom: PrometheusHandle
    fleet: Fleet
    source: PrometheusSource
    started: datetime


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    fleet = Fleet()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(fleet)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    started = datetime.now(UTC)
    try:
        with prometheus_server(tmp_path_factory.mktemp("prom"), [f"127.0.0.1:{port}"]) as prom:
            prom.wait_for_targets(timeout=30)
            # rate() over 5s is only steady once it has 5s of scrapes behind it.
            prom.wait_for_data('count_over_time(hx_sim_cpu_utilization{instance="api-1"}[6s]) >= 6', timeout=30)
            config = PrometheusConfig(url=prom.url, window="5s", retries=1, backoff_s=0.05, timeout_s=5)
            with PrometheusSource(config) as source:
                yield Setup(prom, fleet, source, started)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _window(seconds: float = 30) -> tuple[datetime, datetime]:
    end = datetime.now(UTC)
    return end - timedelta(seconds=seconds), end


def test_services_come_from_label_values(setup: Setup) -> None:
    assert setup.source.services() == sorted(["api", WEIRD])


def test_gauges_and_rates_match_what_was_exposed(setup: Setup) -> None:
    start, end = _window()
    src = setup.source
    cpu = src.signal("api", "cpu_utilization", start, end, 1.0)
    assert cpu.labels == {"service": "api"}
    assert cpu.last() == pytest.approx(0.4)
    rate = src.signal("api", "request_rate", start, end, 1.0)
    assert rate.last() == pytest.approx(40.0, rel=0.1)  # scrape-time jitter under load
    errors = src.signal("api", "error_rate", start, end, 1.0)
    assert errors.last() == pytest.approx(2.0 / 40.0, rel=0.05)
    p99 = src.signal("api", "latency_p99", start, end, 1.0)
    assert p99.last() == pytest.approx(0.300)
    assert src.signal("api", "replicas", start, end, 1.0).last() == 3.0  # summed over versions
    # No hx_sim_saturation gauge: the template falls back to hx_sim_utilization.
    assert src.signal("api", "saturation", start, end, 1.0).last() == pytest.approx(0.2)
    assert src.instant("api", "cpu_utilization") == pytest.approx(0.4)


def test_grid_and_gaps_before_the_first_scrape(setup: Setup) -> None:
    start = setup.started - timedelta(seconds=20)
    end = datetime.now(UTC)
    s = setup.source.signal("api", "cpu_utilization", start, end, 2.0)
    expected = start.timestamp() + 2.0 * np.arange(len(s))
    np.testing.assert_allclose(s.timestamps, expected, atol=1e-3)
    assert s.timestamps[-1] <= end.timestamp()
    present = ~np.isnan(s.values)
    first = int(np.argmax(present))
    # Nothing was exposed in the 20 s before the test started: those steps are NaN, never a made-up value;
    # from the first scrape on, every step has its value.
    assert present.any() and first >= 9
    assert present[first:].all()


def test_a_service_name_with_quotes_and_backslashes(setup: Setup) -> None:
    start, end = _window()
    assert setup.source.signal(WEIRD, "cpu_utilization", start, end, 1.0).last() == pytest.approx(0.9)
    # No error counter at all for this service: error_rate is 0, not missing.
    assert setup.source.signal(WEIRD, "error_rate", start, end, 1.0).last() == 0.0


def test_per_instance_series(setup: Setup) -> None:
    start, end = _window()
    series = setup.source.signal_by("api", "cpu_utilization", "instance", start, end, 1.0)
    assert [s.labels["instance"] for s in series] == ["api-1", "api-2"]
    assert [s.last() for s in series] == pytest.approx([0.2, 0.6])
    by_version = setup.source.signal_by("api", "request_rate", "version", start, end, 1.0)
    assert [s.labels["version"] for s in by_version] == ["v1"]


def test_values_that_change_over_time_are_seen(setup: Setup) -> None:
    setup.fleet.set_cpu("api-1", 0.8)
    try:
        wait_until("the new cpu value", lambda: setup.source.instant("api", "cpu_utilization") > 0.65, 15)
        start, end = _window(60)
        s = setup.source.signal("api", "cpu_utilization", start, end, 1.0)
        seen = s.values[~np.isnan(s.values)]
        assert seen[-1] == pytest.approx(0.7)
        assert np.any(np.isclose(seen, 0.4))  # the old value is still in the range
    finally:
        setup.fleet.set_cpu("api-1", 0.2)


def test_bad_promql_is_a_bad_query_with_prometheus_message(setup: Setup) -> None:
    start, end = _window()
    with pytest.raises(BadQuery, match="parse error"):
        setup.source.query("sum(", start, end, 1.0)
    broken = PrometheusConfig(
        url=setup.prom.url,
        templates={**DEFAULT_TEMPLATES, "request_rate": 'rate(hx_sim_requests_total{service="{service}"})'},
    )
    with PrometheusSource(broken) as src, pytest.raises(BadQuery, match="range vector"):
        src.signal("api", "request_rate", start, end, 1.0)


def test_unknown_service_and_signal(setup: Setup) -> None:
    start, end = _window()
    with pytest.raises(EmptyResult) as err:
        setup.source.signal("no-such-service", "cpu_utilization", start, end, 1.0)
    assert "no-such-service" in str(err.value) and "cpu_utilization" in str(err.value)
    with pytest.raises(NotFound, match=r"configured: .*cpu_utilization"):
        setup.source.signal("api", "no_such_signal", start, end, 1.0)


@pytest.mark.parametrize("check", list(yield_checks()), ids=check_name)
def test_the_shipped_signal_source_contract(setup: Setup, check: Check) -> None:
    check(setup.source, Probe("api", "cpu_utilization", setup.started, datetime.now(UTC), 1.0))


def test_raw_query_returns_one_series_per_instance(setup: Setup) -> None:
    start, end = _window()
    series = setup.source.query('hx_sim_cpu_utilization{service="api"}', start, end, 1.0)
    assert sorted(s.labels["instance"] for s in series) == ["api-1", "api-2"]
    assert all(s.name == "hx_sim_cpu_utilization" for s in series)
    assert setup.source.health().ok


def test_a_stopped_server_is_source_down(tmp_path: Path) -> None:
    with prometheus_server(tmp_path, []) as prom:
        config = PrometheusConfig(url=prom.url, retries=1, backoff_s=0.05, timeout_s=2)
        with PrometheusSource(config) as src:
            assert src.health().ok
            prom.stop()
            start, end = _window()
            with pytest.raises(SourceDown, match="unreachable"):
                src.signal("api", "cpu_utilization", start, end, 1.0)
            health = src.health()
            assert not health.ok and "unreachable" in health.detail


def test_rules_files_are_loaded(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n  - name: hx\n    rules:\n      - record: hx_test_constant\n        expr: vector(42)\n")
    with prometheus_server(tmp_path, [], rules_file=rules) as prom:
        prom.wait_for_data("hx_test_constant", timeout=30)
        with PrometheusSource(PrometheusConfig(url=prom.url)) as src:
            start, end = _window(5)
            (series,) = src.query("hx_test_constant", start, end, 1.0)
            assert series.name == "hx_test_constant" and series.last() == 42.0


def test_a_server_that_cannot_start_fails_with_its_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "broken.yml"
    rules.write_text("groups: [{name: hx, rules: [{record: x, expr: 'sum('}]}]\n")
    with pytest.raises(RuntimeError, match="exited"), prometheus_server(tmp_path, [], rules_file=rules):
        pass
    assert "prometheus log" in capsys.readouterr().err
