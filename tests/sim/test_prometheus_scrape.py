"""A real Prometheus scrapes the simulated fleet, one target per replica (integration: needs the binary)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from hx.sim.engine import Simulation
from hx.sim.exposition import serve
from hx.sim.spec import make_fleet

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_prometheus_scrapes_each_replica_as_its_own_target(tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("the prometheus binary is not installed: `make test` installs it (Debian package prometheus)")
    sim = Simulation(make_fleet(2, seed=0))
    srv = serve(sim, host="127.0.0.1", port=0, speed=60.0, tick_s=0.2)
    port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: hx-sim\n"
        "    honor_labels: true\n"
        f"    http_sd_configs: [{{url: 'http://{srv.address}/targets', refresh_interval: 1s}}]\n"
    )
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        want = len(sim.instances())
        got: set[str] = set()
        deadline = time.monotonic() + 40
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline and len(got) < want:
                time.sleep(0.5)
                try:
                    r = client.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": "hx_sim_ready"})
                except httpx.TransportError:
                    continue
                if r.status_code == 200:
                    got = {m["metric"]["instance"] for m in r.json()["data"]["result"]}
        assert got == set(sim.instances())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        srv.shutdown()
