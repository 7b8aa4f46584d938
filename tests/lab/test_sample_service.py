"""The shipped sample service: contract metric names and labels, fault switches by flag and by POST /faults."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hx.lab.sample_service import Faults, SampleService, parse_args, serve


class Exited(Exception):
    pass


def _exit(code: int) -> None:
    raise Exited(code)


@pytest.fixture
def tiers() -> Iterator[dict[str, tuple[SampleService, str]]]:
    """inventory <- cart, two real HTTP servers in threads: tier -> (service, URL)."""
    out: dict[str, tuple[SampleService, str]] = {}
    servers = []
    downstream = None
    for tier in ("inventory", "cart"):
        svc = SampleService(tier, "v2", f"{tier}--v2--0", downstream, exit_fn=_exit)
        srv = serve(svc, "127.0.0.1", 0)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        downstream = f"http://127.0.0.1:{srv.server_address[1]}"
        out[tier] = (svc, downstream)
    yield out
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _samples(url: str) -> dict[str, list[dict[str, str]]]:
    """Sample name -> the label sets exposed under it."""
    out: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(httpx.get(url + "/metrics").text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample.labels)
    return out


def test_metrics_follow_the_contract_names_and_labels(tiers: dict[str, tuple[SampleService, str]]) -> None:
    _, cart = tiers["cart"]
    assert httpx.get(cart + "/").json()["downstream"] == 200
    samples = _samples(cart)
    [server] = samples["http_server_request_duration_seconds_count"]
    assert server == {
        "http_request_method": "GET", "http_route": "/", "http_response_status_code": "200",
        "service_name": "cart", "service_version": "v2", "service_instance_id": "cart--v2--0",
    }  # fmt: skip
    [client] = samples["http_client_request_duration_seconds_count"]
    assert (client["service_name"], client["peer_service"], client["http_response_status_code"]) == (
        "cart", "inventory", "200"
    )  # fmt: skip
    assert "http_server_request_duration_seconds_bucket" in samples
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds"} <= set(samples)
    inventory = _samples(tiers["inventory"][1])
    assert "http_client_request_duration_seconds_count" not in inventory  # the bottom tier calls nobody


def test_error_rate_switched_on_at_run_time_reaches_the_caller(tiers: dict[str, tuple[SampleService, str]]) -> None:
    _, inventory = tiers["inventory"]
    _, cart = tiers["cart"]
    assert httpx.post(inventory + "/faults", json={"error_rate": 1.0}).json()["error_rate"] == 1.0
    assert httpx.get(inventory + "/").status_code == 500
    r = httpx.get(cart + "/")
    assert (r.status_code, r.json()["downstream"]) == (502, 500)
    codes = {lb["http_response_status_code"] for lb in _samples(cart)["http_client_request_duration_seconds_count"]}
    assert codes == {"500"}
    httpx.post(inventory + "/faults", json={"error_rate": 0})
    assert httpx.get(cart + "/").status_code == 200


def test_latency_leak_and_cpu_switches(tiers: dict[str, tuple[SampleService, str]]) -> None:
    svc, url = tiers["inventory"]
    httpx.post(url + "/faults", json={"latency_ms": 150, "leak_kb": 64, "cpu_ms": 5})
    r = httpx.get(url + "/")
    assert r.elapsed.total_seconds() >= 0.15
    assert len(svc.leaked) == 1 and len(svc.leaked[0]) == 64 * 1024
    assert httpx.get(url + "/faults").json() == {
        "latency_ms": 150, "error_rate": 0.0, "leak_kb": 64, "cpu_ms": 5, "crash": False
    }  # fmt: skip


def test_crash_switch_exits(tiers: dict[str, tuple[SampleService, str]]) -> None:
    svc, _ = tiers["inventory"]
    svc.faults.update({"crash": True})
    with pytest.raises(Exited):
        svc.handle()


@pytest.mark.parametrize(
    "body", [{"error_rate": 2}, {"latency_ms": -1}, {"nope": 1}, {"crash": "yes"}, [1, 2], "not json"]
)
def test_bad_fault_switches_are_400(tiers: dict[str, tuple[SampleService, str]], body: object) -> None:
    _, url = tiers["inventory"]
    content = body if isinstance(body, str) else None
    r = httpx.post(url + "/faults", content=content) if content else httpx.post(url + "/faults", json=body)
    assert r.status_code == 400 and r.json()["error"]
    assert httpx.get(url + "/faults").json()["error_rate"] == 0.0


def test_flags() -> None:
    a = parse_args(["--tier", "frontend", "--version", "v3", "--port", "0", "--error-rate", "0.5"])
    assert (a.tier, a.service_version, a.error_rate) == ("frontend", "v3", 0.5)
    with pytest.raises(SystemExit):
        parse_args(["--tier", "payments"])
    f = Faults()
    with pytest.raises(ValueError, match="error_rate"):
        f.update({"error_rate": 1.5})


def test_worker_pool_bounds_concurrency_and_exports_saturation() -> None:
    """Two workers, 100 ms of waiting each: six requests at once take three rounds; the gauges say so."""
    import time

    svc = SampleService("inventory", "v1", "inventory--v1--0", workers=2, service_ms=100.0, exit_fn=_exit)
    labels = {"service_name": "inventory", "service_version": "v1", "service_instance_id": "inventory--v1--0"}
    reg = svc.metrics.registry
    gate = threading.Barrier(7)
    seen: list[float] = []

    def one() -> None:
        gate.wait()
        assert svc.serve_request()[0] == 200

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    gate.wait()
    t0 = time.perf_counter()
    while any(t.is_alive() for t in threads):
        seen.append(reg.get_sample_value("http_server_active_requests", {"http_request_method": "GET", **labels}) or 0)
        time.sleep(0.01)
    elapsed = time.perf_counter() - t0
    assert reg.get_sample_value("http_server_active_requests_limit", labels) == 2.0
    assert 0.29 <= elapsed < 2.0, elapsed  # 3 rounds of 100 ms, not 1 (unbounded)
    assert max(seen) > 2.0  # in flight beyond the pool: requests waiting for a worker are active too
    assert seen[-1] <= 2.0 and svc.pool.busy == 0
    assert reg.get_sample_value("http_server_active_requests", {"http_request_method": "GET", **labels}) == 0.0


def test_worker_flags_are_checked() -> None:
    a = parse_args(["--tier", "cart", "--workers", "3", "--service-ms", "80"])
    assert (a.workers, a.service_ms) == (3, 80.0)
    with pytest.raises(ValueError, match="service_ms"):
        SampleService("cart", "v1", "cart--v1--0", service_ms=-1.0)
