"""The real path: a real Prometheus scrapes the simulated fleet served in real time (what `hx sim serve` runs),
and PrometheusSource returns the signals the sim recorded, within scrape resolution."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest

from hx.config import PrometheusSettings
from hx.sim import SimSource, Simulation, make_fleet, serve
from hx.telemetry.prometheus import PrometheusSource
from tests.integration.servers import prometheus_server
from tests.support.net import free_port, wait_http

pytestmark = pytest.mark.integration


def test_prometheus_source_matches_what_the_sim_recorded(tmp_path: Path) -> None:
    start = datetime.now(UTC)
    sim = Simulation(make_fleet(2, seed=3, step_s=1.0), step_s=1.0, start=start)
    server = serve(sim, host="127.0.0.1", port=0, speed=1.0, tick_s=0.2)  # simulated time = wall time
    try:
        with prometheus_server(tmp_path, [server.address]) as prom:
            source = PrometheusSource.from_settings(
                PrometheusSettings(url=prom.url, timeout_s=5, retries=1, window="5s")
            )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(source.services()) < 2:
                time.sleep(0.5)
            time.sleep(12)  # a dozen scrapes
            end = datetime.now(UTC) - timedelta(seconds=2)
            begin = end - timedelta(seconds=8)
            with server.lock:
                truth = SimSource(sim)
                assert sorted(source.services()) == sorted(truth.services())
                for service in truth.services():
                    for name in ("cpu_utilization", "memory_utilization", "replicas"):
                        got = source.signal(service, name, begin, end, 1.0).values
                        want = truth.signal(service, name, begin - timedelta(seconds=3), end, 1.0).values
                        assert np.isfinite(got).sum() >= 6, (service, name, got)
                        lo, hi = np.nanmin(want), np.nanmax(want)
                        pad = 0.02 * max(abs(hi), 1e-3)
                        ok = got[np.isfinite(got)]
                        assert ((ok >= lo - pad) & (ok <= hi + pad)).all(), (service, name, ok, lo, hi)
                    rate = source.signal(service, "request_rate", begin, end, 1.0).values
                    true_rate = truth.signal(service, "request_rate", begin - timedelta(seconds=5), end, 1.0).values
                    assert abs(np.nanmean(rate) / np.nanmean(true_rate) - 1) < 0.25, (service, rate, true_rate)
    finally:
        server.shutdown()


def test_hx_sim_serve_command_serves_the_fleet(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "HX_HOME": str(tmp_path)}
    cmd = [sys.executable, "-m", "hx.cli", "sim", "serve", "--port", str(port), "--services", "3", "--speed", "60"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_http(f"http://127.0.0.1:{port}/metrics", timeout=60)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert "hx_sim_requests_total" in text and 'service="frontend"' in text
        targets = httpx.get(f"http://127.0.0.1:{port}/targets").json()
        assert len(targets) >= 3 and all("targets" in t for t in targets)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
