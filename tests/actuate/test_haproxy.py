"""HAProxyRouter against a real HAProxy 2.6 and real sample-service processes."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import httpx
import pytest

from hx.actuate.haproxy import Endpoint, HAProxyRouter
from hx.errors import ActuatorError, ConfigError
from tests.integration.servers import wait_until
from tests.support.fleet import HAProxyHandle, sample_command
from tests.support.net import free_port, stop_process

pytestmark = pytest.mark.integration


@pytest.fixture
def two_instances() -> Iterator[dict[str, int]]:
    """cart--v1--0 and cart--v2--0 as real sample-service processes: name -> port."""
    ports = {"cart--v1--0": free_port(), "cart--v2--0": free_port()}
    procs = []
    for name, port in ports.items():
        version = name.split("--")[1]
        values = {"{service}": "cart", "{version}": version, "{port}": str(port), "{instance}": name}
        argv = [values.get(a, a) for a in sample_command()]
        procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        for port in ports.values():
            wait_until(f"sample service on {port}", lambda p=port: _answers(p), 20)  # type: ignore[misc]
        yield ports
    finally:
        for proc in procs:
            stop_process(proc, timeout=10.0)


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.parametrize("api", ["unix", "tcp"])
def test_servers_added_weighted_and_read_back(haproxy: HAProxyHandle, two_instances: dict[str, int], api: str) -> None:
    router = HAProxyRouter(haproxy.unix_socket if api == "unix" else haproxy.tcp_socket)
    assert "cart" in router.backends()
    for name, port in two_instances.items():
        added = router.add_server("cart", name, "127.0.0.1", port)
        assert (added.weight, added.state, added.port) == (0, "ready", port)
    servers = router.set_weights("cart", {"cart--v1--0": 200, "cart--v2--0": 10})
    assert {s.name: s.weight for s in servers} == {"cart--v1--0": 200, "cart--v2--0": 10}
    fresh = HAProxyRouter(haproxy.tcp_socket)  # another client reads the same truth
    assert {s.name: s.weight for s in fresh.servers("cart")} == {"cart--v1--0": 200, "cart--v2--0": 10}
    wait_until("health checks to pass", lambda: all(s.up for s in router.servers("cart")), 10)


def test_drain_ready_and_remove(haproxy: HAProxyHandle, two_instances: dict[str, int]) -> None:
    router = HAProxyRouter(haproxy.unix_socket)
    router.add_server("cart", "cart--v1--0", "127.0.0.1", two_instances["cart--v1--0"], weight=5)
    router.set_state("cart", "cart--v1--0", "drain")
    assert router.server("cart", "cart--v1--0").state == "drain"
    assert router.wait_drained("cart", "cart--v1--0", 5) == 0
    router.set_state("cart", "cart--v1--0", "ready")
    assert router.server("cart", "cart--v1--0").state == "ready"
    router.remove_server("cart", "cart--v1--0")
    assert router.servers("cart") == []


def test_traffic_follows_the_weights_in_haproxys_counters(
    haproxy: HAProxyHandle, two_instances: dict[str, int]
) -> None:
    router = HAProxyRouter(haproxy.unix_socket)
    for name, port in two_instances.items():
        router.add_server("cart", name, "127.0.0.1", port)
    router.set_weights("cart", {"cart--v1--0": 243, "cart--v2--0": 13})
    wait_until("health checks to pass", lambda: all(s.up for s in router.servers("cart")), 10)
    with httpx.Client() as client:
        statuses = [client.get(haproxy.frontends["cart"] + "/").status_code for _ in range(400)]
    assert set(statuses) == {200}
    counts = {s.name: s.total for s in router.servers("cart")}
    share = counts["cart--v2--0"] / sum(counts.values())
    assert 0.03 <= share <= 0.07, counts


def test_unknown_backend_and_server_are_actuator_errors_with_haproxys_words(haproxy: HAProxyHandle) -> None:
    router = HAProxyRouter(haproxy.unix_socket)
    with pytest.raises(ActuatorError, match="no backend 'nope'"):
        router.servers("nope")
    with pytest.raises(ActuatorError, match="No such server"):
        router.set_weights("cart", {"cart--v9--0": 3})
    with pytest.raises(ActuatorError, match="Can't find backend|No such backend"):
        router.set_state("nope", "x", "drain")
    router.add_server("cart", "cart--v1--0", "127.0.0.1", free_port())
    with pytest.raises(ActuatorError, match="between 0 and 256"):
        router._expect("set server cart/cart--v1--0 weight 300")
    with pytest.raises(ActuatorError, match="Already exists"):
        router.add_server("cart", "cart--v1--0", "127.0.0.1", free_port())


def test_socket_down_is_an_actuator_error(haproxy: HAProxyHandle) -> None:
    dead = HAProxyRouter(f"tcp:127.0.0.1:{free_port()}", timeout_s=1)
    with pytest.raises(ActuatorError, match="does not answer"):
        dead.servers("cart")


def test_endpoint_parsing_names_the_key() -> None:
    assert Endpoint.parse("unix:/run/haproxy.sock").path == "/run/haproxy.sock"
    with pytest.raises(ConfigError, match="actuator.fleet.router.socket"):
        Endpoint.parse("localhost:9999")
