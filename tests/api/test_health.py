"""``/health``: a signal source's own probe decides its status, and a source that is down degrades the report."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from hx.actuate.shell import ShellActuator
from hx.api.app import create_app
from hx.api.health import HealthSnapshot, health_report
from hx.config import load_settings
from hx.platform import Platform, build_platform
from hx.telemetry.prometheus import PrometheusConfig, PrometheusSource
from tests.heal.notify.receivers import hanging_server
from tests.integration.servers import Reply, scripted_http_server
from tests.support.live import live_server
from tests.support.net import free_port


def _health(platform: Platform, prometheus_url: str) -> httpx.Response:
    platform.source = PrometheusSource(PrometheusConfig(url=prometheus_url, retries=0, timeout_s=2.0))
    with live_server(create_app(platform)) as url:
        return httpx.get(f"{url}/health", timeout=10)


def test_prometheus_that_answers_is_ok(platform: Platform) -> None:
    scalar = {"status": "success", "data": {"resultType": "scalar", "result": [0, "1"]}}
    with scripted_http_server([Reply(200, scalar)] * 3) as server:
        r = _health(platform, server.url)
    assert r.status_code == 200, r.text
    source = r.json()["checks"]["signal_source"]
    assert source["kind"] == "PrometheusSource" and source["status"] == "ok", source
    assert r.json()["status"] == "ok"


def test_prometheus_that_is_down_degrades_health_naming_it(platform: Platform) -> None:
    port = free_port()
    r = _health(platform, f"http://127.0.0.1:{port}")
    assert r.status_code == 200, r.text
    source = r.json()["checks"]["signal_source"]
    assert source["status"] == "down" and f"127.0.0.1:{port}" in source["detail"], source
    assert r.json()["status"] == "degraded"


def test_health_names_the_world_each_component_senses_and_acts_on(tmp_path: Path) -> None:
    settings = load_settings(
        environ={"HX_HOME": str(tmp_path / "hx")},
        overrides={
            "telemetry.source": "prometheus",
            "telemetry.prometheus.url": "http://hx:s3cret@prom.example:9090",
            "actuator.kind": "shell",
        },
    ).settings
    platform = build_platform(settings, actuator=ShellActuator({}))
    try:
        with live_server(create_app(platform)) as url:
            body = httpx.get(f"{url}/health", timeout=10).json()
    finally:
        platform.store.dispose()
    world = body["world"]
    assert world["senses"]["source"] == "prometheus"
    assert world["senses"]["url"].startswith("http://hx:") and "s3cret" not in world["senses"]["url"]
    assert "prom.example:9090" in world["senses"]["url"]
    assert world["acts_on"] == {"actuator": "shell", "kind": "ShellActuator"}
    assert world["simulated"] is False


def test_health_says_when_the_world_is_the_simulator(platform: Platform) -> None:
    with live_server(create_app(platform)) as url:
        world = httpx.get(f"{url}/health", timeout=10).json()["world"]
    assert world["senses"]["source"] == "sim" and world["acts_on"]["actuator"] == "sim" and world["simulated"] is True


def test_an_engine_still_learning_makes_the_report_learning_not_ok_nor_degraded(platform: Platform) -> None:
    learning = {"status": "learning", "waits_for": "history", "until": "2026-03-04T15:00:00+00:00"}
    code, body = health_report(platform, "all", {"anomaly-detector": learning, "predictive-scaler": {"status": "ok"}})
    assert code == 200 and body["status"] == "learning"
    _code, body = health_report(platform, "all", {"anomaly-detector": learning, "x": {"status": "failing"}})
    assert body["status"] == "degraded"


def test_health_answers_from_its_snapshot_while_a_dependency_hangs(platform: Platform) -> None:
    """A signal source that accepts and never answers holds each report for its 2 s time limit: only the first
    request (before any snapshot) waits for it; the next ones are answered at once, with the snapshot's age."""
    with hanging_server() as dead:
        platform.source = PrometheusSource(PrometheusConfig(url=dead.removesuffix("/hook"), retries=0, timeout_s=2.0))
        with live_server(create_app(platform)) as url:
            first = httpx.get(f"{url}/health", timeout=30).json()
            took = []
            for _ in range(5):
                t0 = time.monotonic()
                body = httpx.get(f"{url}/health", timeout=30).json()
                took.append(time.monotonic() - t0)
    assert first["checks"]["signal_source"]["status"] == "down"
    assert max(took) < 1.0, took  # before: every request waited for the source (2 s each)
    assert body["checks"]["signal_source"]["status"] == "down" and body["status"] == "degraded"
    assert 0 <= body["snapshot"]["age_s"] < 10 and body["snapshot"]["status"] == "ok", body["snapshot"]


def test_a_stale_snapshot_is_answered_as_degraded_with_its_age() -> None:
    now = [100.0]
    snap = HealthSnapshot(lambda: (200, {"status": "ok"}), refresh_s=1.0, clock=lambda: now[0])
    assert snap.current() is None  # nothing published yet: the route computes on the request
    snap.compute()
    now[0] += 0.5
    assert snap.current() == (200, {"status": "ok", "snapshot": {"age_s": 0.5, "refresh_s": 1.0, "status": "ok"}})
    now[0] += 30
    code, body = snap.current() or (0, {})
    assert code == 200 and body["status"] == "degraded" and body["snapshot"]["status"] == "stale"
    assert "30 s old" in body["snapshot"]["detail"]
