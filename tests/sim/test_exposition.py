from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hx.errors import NotFound
from hx.sim.engine import Simulation
from hx.sim.exposition import render_exposition, serve

Make = Callable[..., Simulation]


def test_exposition_parses_with_one_series_per_instance(make_sim: Make) -> None:
    sim = make_sim(rate=100.0)
    sim.run(steps=2)
    fams = {f.name: f for f in text_string_to_metric_families(render_exposition(sim))}
    assert fams["hx_sim_requests"].type == "counter"
    reqs = [s for s in fams["hx_sim_requests"].samples if s.name == "hx_sim_requests_total"]
    assert len(reqs) == 8
    assert {s.labels["instance"] for s in reqs} == set(sim.instances())
    web = [s for s in reqs if s.labels["service"] == "web"]
    assert sum(s.value for s in web) == pytest.approx(100.0 * 120)
    assert all(s.labels["version"] == "v1" for s in reqs)
    assert fams["hx_sim_latency_seconds"].type == "summary"
    lat = [s for s in fams["hx_sim_latency_seconds"].samples if "quantile" in s.labels]
    assert {s.labels["quantile"] for s in lat} == {"0.5", "0.95", "0.99"}
    assert {"hx_sim_cpu_utilization", "hx_sim_memory_utilization", "hx_sim_replicas", "hx_sim_ready"} <= set(fams)


def test_promtool_accepts_the_exposition(make_sim: Make) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: `make test` installs it (Debian package prometheus)")
    sim = make_sim()
    sim.step()
    out = subprocess.run([promtool, "check", "metrics"], input=render_exposition(sim), text=True, capture_output=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_exposition_of_one_instance(make_sim: Make) -> None:
    sim = make_sim()
    sim.step()
    inst = sim.instances("db")[0]
    fams = list(text_string_to_metric_families(render_exposition(sim, instance=inst)))
    assert {s.labels["instance"] for f in fams for s in f.samples} == {inst}
    with pytest.raises(NotFound):
        render_exposition(sim, instance="db-v1-77")


def test_serve_answers_prometheus_and_advances_with_wall_time(make_sim: Make) -> None:
    sim = make_sim()
    srv = serve(sim, host="127.0.0.1", port=0, speed=1200.0, tick_s=0.05)
    try:
        deadline = time.monotonic() + 10
        while sim.steps_done < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sim.steps_done >= 2
        base = f"http://{srv.address}"
        with httpx.Client(timeout=5) as client:
            r = client.get(f"{base}/metrics")
            assert r.status_code == 200 and "hx_sim_requests_total" in r.text
            targets = json.loads(client.get(f"{base}/targets").text)
            path = targets[0]["labels"]["__metrics_path__"]
            one = client.get(base + path)
            assert one.status_code == 200
            names = {s.labels.get("instance") for f in text_string_to_metric_families(one.text) for s in f.samples}
            assert len(names) == 1
            inst = sim.instances()[0]
            assert client.get(f"{base}/metrics", params={"instance": inst}).status_code == 200
            assert client.get(f"{base}/metrics", params={"instance": "nope"}).status_code == 404
            assert client.get(f"{base}/other").status_code == 404
    finally:
        srv.shutdown()
