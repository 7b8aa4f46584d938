"""The lab's generated configuration (no process started): hx's settings load, HAProxy and Prometheus accept their
files (their own checkers), the shipped rules parse; the load generator's ramp; the option bounds."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hx.config import load_settings
from hx.errors import BadInput
from hx.lab.agent import Ramp
from hx.lab.fleet_lab import (
    TIERS,
    Component,
    LabOptions,
    LabState,
    alertmanager_config,
    choose_ports,
    haproxy_config,
    hx_config,
    prometheus_config,
    rules_text,
)
from hx.lab.sample_service import _version_faults


@pytest.fixture
def state(tmp_path: Path) -> LabState:
    s = LabState(str(tmp_path), haproxy_socket=str(tmp_path / "h.sock"))
    choose_ports(s)
    return s


def test_ports_are_distinct_and_each_tier_has_its_own_range(state: LabState) -> None:
    singles = list(state.ports.values())
    ranges = [p for t in TIERS for p in state.tier_ports[t]]
    assert len(set(singles + ranges)) == len(singles) + len(ranges)


def test_hx_settings_of_the_lab_load_with_the_fleet_actuator_and_the_presets(state: LabState, tmp_path: Path) -> None:
    path = tmp_path / "hx.yml"
    path.write_text(yaml.safe_dump(hx_config(state, LabOptions())))
    s = load_settings(path, environ={"HX_HOME": str(tmp_path / "hx")}).settings
    assert s.actuator.kind == "fleet" and s.actuator.fleet is not None
    assert set(s.actuator.fleet.services) == set(TIERS)
    assert s.telemetry.source == "prometheus" and s.self_healing.triage_delay_s == 20.0
    cart = s.actuator.fleet.services["cart"].command
    assert "--downstream" in cart and cart[cart.index("--downstream") + 1] == state.url("lb_inventory")
    # only the pool tier has a bounded capacity; the scaler targets half of it and scales in after a minute
    inv = s.actuator.fleet.services["inventory"].command
    assert inv[inv.index("--workers") + 1] == "2" and inv[inv.index("--service-ms") + 1] == "50"
    assert "--workers" not in cart and "--workers" not in s.actuator.fleet.services["frontend"].command
    sc = s.intelligent_monitoring.scaling
    assert (sc.target_utilization, sc.scale_in_window_s) == (0.5, 60.0)


def test_triage_delay_is_validated_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "hx.yml"
    path.write_text("self_healing: {triage_delay_s: -1}\n")
    with pytest.raises(Exception, match="triage_delay_s"):
        load_settings(path, environ={"HX_HOME": str(tmp_path / "hx")})


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy not installed (make system-deps)")
def test_haproxy_accepts_the_lab_config(state: LabState, tmp_path: Path) -> None:
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(haproxy_config(state))
    done = subprocess.run(["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "prometheus-exporter" in cfg.read_text()


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed (Debian package prometheus)")
def test_prometheus_accepts_the_lab_config_and_the_shipped_rules(state: LabState, tmp_path: Path) -> None:
    (tmp_path / "prometheus").mkdir()
    (tmp_path / "prometheus" / "lab-alerts.yml").write_text(rules_text())
    (tmp_path / "prometheus" / "instances.json").write_text("[]")
    cfg = tmp_path / "prometheus" / "prometheus.yml"
    cfg.write_text(prometheus_config(state, 2.0))
    done = subprocess.run(["promtool", "check", "config", str(cfg)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    names = [r["alert"] for g in yaml.safe_load(rules_text())["groups"] for r in g["rules"]]
    assert names == ["InstanceCrashed", "HighErrorRate", "HighLatency"]


def test_alertmanager_sends_to_hx_intake_with_the_token(state: LabState) -> None:
    text = alertmanager_config(state, "hx_secret")
    cfg = yaml.safe_load(text)
    hook = cfg["receivers"][0]["webhook_configs"][0]
    assert hook["url"] == f"{state.url('hx')}/api/v1/alerts/alertmanager"
    assert hook["http_config"]["authorization"]["credentials"] == "hx_secret"


def test_ramp_moves_linearly_then_holds() -> None:
    r = Ramp(1.0, 3.0, t0=100.0, seconds=100.0)
    assert r.at(100.0) == 1.0 and r.at(150.0) == 2.0 and r.at(250.0) == 3.0


@pytest.mark.parametrize(
    "kw",
    [{"instances": 0}, {"rps": 0.0}, {"compression": 0.5}, {"workers": -1}, {"service_ms": -1.0}, {"pool_tier": "x"}],
)
def test_lab_options_are_bounded(kw: dict[str, object]) -> None:
    with pytest.raises(BadInput):
        LabOptions(**kw).check()  # type: ignore[arg-type]


def test_a_faults_file_gives_each_version_its_switches(tmp_path: Path) -> None:
    f = tmp_path / "faults.json"
    f.write_text(json.dumps({"v2": {"latency_ms": 20}}))
    assert _version_faults(str(f), "v2") == {"latency_ms": 20}
    assert _version_faults(str(f), "v1") == {} and _version_faults(None, "v2") == {}
    f.write_text(json.dumps({"v2": [1]}))
    with pytest.raises(ValueError, match="v2"):
        _version_faults(str(f), "v2")


def test_a_port_left_in_time_wait_counts_as_free() -> None:
    """After a busy run thousands of loopback ports wait in TIME_WAIT; a server binding with SO_REUSEADDR (all of
    the lab's do) can listen on them, so the port finder must not refuse them."""
    import socket

    from hx.lab.fleet_lab import _port_free

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = listener.accept()
    conn.close()  # the server side closes first: its end (local port ``port``) waits in TIME_WAIT
    client.recv(1)
    client.close()
    listener.close()
    plain = socket.socket()
    try:
        plain.bind(("127.0.0.1", port))
        in_time_wait = False
    except OSError:
        in_time_wait = True
    finally:
        plain.close()
    assert in_time_wait  # without SO_REUSEADDR the port looks taken
    assert _port_free(port)


def test_the_state_saved_loads_back(state: LabState, tmp_path: Path) -> None:
    """What ``save`` writes passes ``load``'s checks (a file that is no lab state is refused: tests/cli/test_lab.py)."""
    state.components["hx"] = Component("hx", pid=123, port=8080, url="http://127.0.0.1:8080", argv=["hx", "serve"])
    state.save()
    assert LabState.load(tmp_path) == state
