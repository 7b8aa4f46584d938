"""``/health``: a signal source's own probe decides its status, and a source that is down degrades the report."""

from __future__ import annotations

import httpx

from hx.api.app import create_app
from hx.platform import Platform
from hx.telemetry.prometheus import PrometheusConfig, PrometheusSource
from tests.integration.servers import Reply, free_port, scripted_http_server
from tests.support.live import live_server


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
