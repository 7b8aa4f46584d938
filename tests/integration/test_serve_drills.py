"""`hx serve` as a real process with DR drills in flight: a drill is a background job (202 + its URL),
cancellable, never holding an API worker; SIGTERM stops the server within seconds; a damaged simulator
checkpoint does not stop the server from starting."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hx.clock import WallClock
from hx.cloud.workload import example_estate_path
from hx.config import load_settings
from hx.lab.jobs import Jobs
from hx.platform import build_platform
from tests.integration.test_serve import FAST_SIM, hx_serve
from tests.support.net import free_port

pytestmark = pytest.mark.integration


def _until_state(c: httpx.Client, url: str, states: tuple[str, ...], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = c.get(url).json()
    while job["state"] not in states:
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
        job = c.get(url).json()
    return job


def _start_drill(c: httpx.Client) -> str:
    estate = yaml.safe_load(example_estate_path().read_text())
    body = {"estate": estate, "workload": "checkout-api", "promote_s": 3600, "failback": False}
    r = c.post("/api/v1/dr/drills", json=body)
    assert r.status_code == 202, r.text
    url: str = r.headers["location"]
    _until_state(c, url, ("running",), timeout=30)
    return url


def test_drills_are_cancellable_jobs_and_sigterm_stops_the_server_within_seconds(tmp_path: Path) -> None:
    home = tmp_path / "hx"
    home.mkdir()
    (home / "sim.ckpt").write_bytes(b"\x80\x04damaged by a full disk")
    port = free_port()
    with hx_serve(home, [], port, FAST_SIM) as proc:
        health = httpx.get(f"http://127.0.0.1:{port}/health").json()
        set_aside = health["checks"]["sim_checkpoint"]["set_aside"]
        assert len(set_aside) == 1 and "not sealed" in set_aside[0]["reason"]
        token = (home / "admin.token").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as c:
            first = _start_drill(c)
            assert c.delete(first).status_code == 202
            cancelled = _until_state(c, first, ("cancelled", "done", "failed"), timeout=5)
            assert cancelled["state"] == "cancelled", cancelled
            in_flight = _start_drill(c)
            t0 = time.monotonic()
            assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
            assert time.monotonic() - t0 < 2  # the drill holds no API worker
            job_id = in_flight.rsplit("/", 1)[1]
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        stopped_in = time.monotonic() - t0
    assert stopped_in < 8, f"hx serve took {stopped_in:.1f} s to stop after SIGTERM"
    settings = load_settings(environ={"HX_HOME": str(home)}).settings
    platform = build_platform(settings)
    job = Jobs(platform.store, WallClock(), kind="dr-drill").get(job_id)
    assert job["state"] == "cancelled" and job["error"] == "the server is stopping"
    platform.store.dispose()
