"""The fleet actuator (supervisord + HAProxy) on real servers and real sample-service processes."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from hx import validation
from hx.actuate.base import Capability
from hx.actuate.checks import Targets, check_actuator
from hx.actuate.fleet import FleetActuator, ServiceSpec
from hx.config import load_settings
from hx.deploy.strategies import check_capabilities
from hx.errors import ActuatorError, Unsupported
from hx.wiring import build_actuator
from tests.integration.servers import wait_until
from tests.support.fleet import HAProxyHandle, SupervisorHandle, pid_of
from tests.support.net import free_port

pytestmark = pytest.mark.integration

Make = Callable[..., FleetActuator]


def _all_up(fleet: FleetActuator) -> bool:
    return all(s.up for s in fleet.servers("cart") if s.state == "ready")


def test_the_shipped_actuator_contract(make_fleet: Make) -> None:
    make_fleet().deploy("cart", "v1", 1)
    check_actuator(make_fleet, Targets(service="cart", instance="cart--v1--0", version="v2"))


def test_deploy_starts_instances_that_answer_at_weight_zero(make_fleet: Make, haproxy: HAProxyHandle) -> None:
    fleet = make_fleet()
    first = fleet.deploy("cart", "v1", 2)
    assert (first.ok, first.output["before"], first.output["after"]) == (True, 0, 2)
    assert fleet.shares("cart") == {"v1": 1.0}  # the only version takes all the traffic
    fleet.deploy("cart", "v2", 1)
    weights = {s.name: s.weight for s in fleet.servers("cart")}
    assert weights["cart--v2--0"] == 0 and weights["cart--v1--0"] == weights["cart--v1--1"] > 0
    status = fleet.status("cart")
    assert [i["ready"] for i in status["instances"]] == [True, True, True]
    for inst in status["instances"]:
        assert httpx.get(f"http://127.0.0.1:{inst['port']}/healthz").json()["version"] == inst["name"].split("--")[1]


def test_a_port_another_program_listens_on_is_skipped_not_started_into_fatal(
    make_fleet: Make, cart_spec: ServiceSpec
) -> None:
    """The range's first port held by someone else's listener: the instance used to take it, fail to bind and
    go FATAL (the lab's setup met it when a connection's own port landed in the range)."""
    import socket

    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", cart_spec.ports[0]))
        other.listen()
        fleet = make_fleet()
        assert fleet.deploy("cart", "v1", 1).ok
        assert [i["port"] for i in fleet.status("cart")["instances"]] == [cart_spec.ports[0] + 1]


def test_a_5_95_split_shows_in_haproxys_per_server_counters(make_fleet: Make, haproxy: HAProxyHandle) -> None:
    fleet = make_fleet()
    fleet.deploy("cart", "v1", 1)
    fleet.deploy("cart", "v2", 1)
    result = fleet.set_traffic_split("cart", {"v1": 95, "v2": 5})
    assert result.ok and result.output["after"]["v2"] == pytest.approx(0.05, abs=0.003)
    wait_until("health checks to pass", lambda: _all_up(fleet), 10)
    before = {s.name: s.total for s in fleet.servers("cart")}
    with httpx.Client() as client:
        answers = [client.get(haproxy.frontends["cart"] + "/").json()["version"] for _ in range(400)]
    after = {s.name: s.total - before[s.name] for s in fleet.servers("cart")}
    assert after["cart--v2--0"] / sum(after.values()) == pytest.approx(0.05, abs=0.02), after
    assert answers.count("v2") / len(answers) == pytest.approx(0.05, abs=0.02)


def test_a_split_naming_a_version_without_servers_is_an_actuator_error(make_fleet: Make) -> None:
    fleet = make_fleet()
    fleet.deploy("cart", "v1", 1)
    with pytest.raises(ActuatorError, match="no server in rotation for version.*v3"):
        fleet.set_traffic_split("cart", {"v1": 50, "v3": 50})
    with pytest.raises(ActuatorError, match="no service 'shop'.*configured: cart"):
        fleet.deploy("shop", "v1", 1)


def test_scale_in_drains_before_stopping_without_failed_requests(make_fleet: Make, haproxy: HAProxyHandle) -> None:
    fleet = make_fleet()
    fleet.deploy("cart", "v1", 3)
    for inst in fleet.status("cart")["instances"]:  # slow requests: sessions are in flight while draining
        httpx.post(f"http://127.0.0.1:{inst['port']}/faults", json={"latency_ms": 100})
    wait_until("health checks to pass", lambda: _all_up(fleet), 10)
    failures: list[object] = []
    ok = [0]
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                try:
                    r = client.get(haproxy.frontends["cart"] + "/")
                    ok[0] += r.status_code == 200
                    if r.status_code != 200:
                        failures.append(r.status_code)
                except httpx.HTTPError as err:
                    failures.append(repr(err))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    result = fleet.scale("cart", 1)
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    assert result.output == {"version": "v1", "before": 3, "after": 1, "notes": []}
    assert failures == [] and ok[0] > 20
    assert [s.name for s in fleet.servers("cart")] == ["cart--v1--0"]
    assert [str(i.name) for i in fleet.manager.instances("cart")] == ["cart--v1--0"]


def test_restart_brings_a_killed_instance_back_into_rotation(
    make_fleet: Make, supervisord: SupervisorHandle, haproxy: HAProxyHandle
) -> None:
    fleet = make_fleet()
    fleet.deploy("cart", "v1", 2)
    wait_until("health checks to pass", lambda: _all_up(fleet), 10)
    os.kill(pid_of(supervisord, "cart--v1--0"), signal.SIGKILL)
    wait_until("HAProxy to mark it down", lambda: not fleet.router.server("cart", "cart--v1--0").up, 10)  # type: ignore[union-attr]
    result = make_fleet().restart("cart--v1--0")  # a fresh actuator: nothing was kept in memory
    assert result.ok
    wait_until("HAProxy to see it up", lambda: fleet.router.server("cart", "cart--v1--0").up, 10)  # type: ignore[union-attr]
    assert {i["name"]: i["ready"] for i in fleet.status("cart")["instances"]} == {
        "cart--v1--0": True,
        "cart--v1--1": True,
    }


def test_state_is_read_back_by_a_restarted_hx(make_fleet: Make) -> None:
    make_fleet().deploy("cart", "v1", 2)
    make_fleet().deploy("cart", "v2", 1)
    make_fleet().set_traffic_split("cart", {"v1": 75, "v2": 25})
    again = make_fleet()
    assert again.shares("cart") == pytest.approx({"v1": 0.75, "v2": 0.25}, abs=0.01)
    retire = again.deploy("cart", "v1", 0)  # the rollout's retire step
    assert retire.output["after"] == 0 and again.shares("cart") == {"v2": 1.0}
    assert again.scale("cart", 2).detail.startswith("cart: 1 -> 2")


def test_a_world_without_router_refuses_traffic_strategies_naming_both(make_fleet: Make) -> None:
    fleet = make_fleet(router=False)
    assert Capability.TRAFFIC_SPLIT not in fleet.capabilities()
    with pytest.raises(Unsupported, match="strategy 'canary'.*set_traffic_split.*actuator 'fleet'"):
        check_capabilities("canary", fleet.capabilities(), actuator=fleet.name)
    check_capabilities("recreate", fleet.capabilities(), actuator=fleet.name)
    with pytest.raises(Unsupported, match="no traffic router"):
        fleet.set_traffic_split("cart", {"v1": 1})


def test_built_from_settings_by_the_wiring(haproxy: HAProxyHandle, supervisord: SupervisorHandle) -> None:
    overrides = {
        "actuator": {
            "kind": "fleet",
            "fleet": {
                "router": {"socket": haproxy.tcp_socket},
                "manager": {"kind": "supervisor", "url": supervisord.url, "include_dir": str(supervisord.include_dir)},
                "services": {"cart": {"command": ["/bin/true", "{port}"], "ports": [20000, 20010]}},
            },
        }
    }
    settings = load_settings(environ={"HX_HOME": os.environ.get("TMPDIR", "/tmp")}, overrides=overrides).settings
    act = build_actuator(settings, None)
    assert isinstance(act, FleetActuator) and Capability.TRAFFIC_SPLIT in act.capabilities()
    assert act.servers("cart") == [] and act.backend("cart") == "cart"
    check = validation.check_actuator(settings, _no_fetch)
    assert check.ok and "fleet: supervisor, haproxy at tcp:" in check.detail
    overrides["actuator"]["fleet"]["router"] = {"socket": f"tcp:127.0.0.1:{free_port()}"}  # type: ignore[index]
    settings = load_settings(environ={"HX_HOME": os.environ.get("TMPDIR", "/tmp")}, overrides=overrides).settings
    check = validation.check_actuator(settings, _no_fetch)
    assert not check.ok and "cart: HAProxy runtime API at tcp:" in check.detail


def _no_fetch(url: str) -> httpx.Response:
    raise AssertionError(f"the fleet check fetched {url}")
