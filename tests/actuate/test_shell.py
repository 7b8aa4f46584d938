"""ShellActuator with real commands: no shell, literal arguments, timeouts that kill the group."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from hx.actuate.base import Capability
from hx.actuate.shell import ShellActuator
from hx.errors import ActuatorError, ActuatorTimeout, BadInput, ConfigError, Unsupported

PRINT_ARGS = [sys.executable, "-c", "import json, sys; print(json.dumps(sys.argv[1:]))"]


def test_capabilities_are_the_configured_verbs() -> None:
    act = ShellActuator(
        {"scale": ["echo", "{service}"], "restart": ["echo", "{instance}"]}, actions={"flush": ["true"]}
    )
    assert act.capabilities() == {Capability.SCALE, Capability.RESTART, Capability.RUN}


def test_scale_runs_the_template_and_captures_output() -> None:
    act = ShellActuator({"scale": ["echo", "scale", "deployment/{service}", "--replicas={replicas}"]})
    result = act.scale("api", 4, timeout=10)
    assert result.ok and result.changed and result.verb == "scale" and result.target == "api"
    assert result.output["stdout"] == "scale deployment/api --replicas=4\n"
    assert result.output["argv"] == ["echo", "scale", "deployment/api", "--replicas=4"]
    assert result.duration_s > 0


def test_shell_metacharacters_stay_one_literal_argument(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    act = ShellActuator({"scale": [*PRINT_ARGS, "{service}", "{replicas}"]})
    hostile = f"; touch {marker}; $(touch {marker}) `touch {marker}` | rm -rf / && echo"
    result = act.scale(hostile, 1, timeout=10)
    assert result.ok
    assert result.output["stdout"].strip() == f'["{hostile}", "1"]'.replace("\\", "\\\\")
    assert not marker.exists()


def test_values_that_look_like_options_or_hold_control_characters_are_refused() -> None:
    act = ShellActuator({"scale": ["echo", "{service}"], "restart": ["echo", "{instance}"]})
    with pytest.raises(BadInput, match="must not start with '-'"):
        act.restart("--all")
    with pytest.raises(BadInput, match="control characters"):
        act.scale("api\nother", 1)
    with pytest.raises(BadInput, match="replicas"):
        act.scale("api", -1)
    with pytest.raises(BadInput, match="replicas"):
        act.scale("api", True)


def test_a_failing_command_is_a_result_not_an_exception() -> None:
    act = ShellActuator({"restart": ["sh", "-c", "echo working; echo 'no such pod' >&2; exit 3", "{instance}"]})
    result = act.restart("api-1", timeout=10)
    assert not result.ok and not result.changed
    assert result.detail == "exit 3: no such pod"
    assert result.output["returncode"] == 3


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    # The shell starts a background sleeper (a grandchild) and waits: both must die.
    script = f"sleep 30 & echo $! > {pidfile}; wait"
    act = ShellActuator({"restart": ["sh", "-c", script, "{instance}"]}, kill_grace_s=0.5)
    with pytest.raises(ActuatorTimeout, match="did not finish within 0.5 s") as err:
        act.restart("api-1", timeout=0.5)
    assert err.value.data["timeout"] == 0.5
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def test_the_plain_sleep_timeout() -> None:
    act = ShellActuator({"scale": ["sh", "-c", "sleep 5", "{service}", "{replicas}"]}, kill_grace_s=0.2)
    with pytest.raises(ActuatorTimeout):
        act.scale("api", 1, timeout=0.3)


def test_output_is_truncated_to_its_tail() -> None:
    act = ShellActuator({"scale": ["sh", "-c", "seq 1 5000", "{service}", "{replicas}"]}, max_output=100)
    result = act.scale("api", 1, timeout=10)
    assert result.output["truncated"]
    assert result.output["stdout"].endswith("4999\n5000\n")
    assert "characters cut" in result.output["stdout"]


def test_a_verb_without_template_is_unsupported() -> None:
    act = ShellActuator({"scale": ["echo", "{service}"]})
    with pytest.raises(Unsupported, match="configured: scale"):
        act.deploy("api", "v2", 3)


def test_a_missing_program_is_an_actuator_error() -> None:
    act = ShellActuator({"scale": ["/nonexistent/kubectl", "{service}"]})
    with pytest.raises(ActuatorError, match="not found"):
        act.scale("api", 1)


def test_traffic_split_and_deploy_placeholders() -> None:
    act = ShellActuator(
        {
            "set_traffic_split": [*PRINT_ARGS, "{service}", "{weights}", "{weights_json}"],
            "deploy": [*PRINT_ARGS, "{service}:{version}", "{instances}"],
        }
    )
    split = act.set_traffic_split("api", {"v2": 0.1, "v1": 0.9}, timeout=10)
    assert split.output["argv"][-3:] == ["api", "v1=0.9,v2=0.1", '{"v1": 0.9, "v2": 0.1}']
    deploy = act.deploy("api", "v2", 3, timeout=10)
    assert deploy.output["argv"][-2:] == ["api:v2", "3"]
    with pytest.raises(BadInput, match="weight"):
        act.set_traffic_split("api", {"v1": -0.5})


def test_run_actions_use_their_params() -> None:
    act = ShellActuator({}, actions={"flush-cache": ["echo", "{action}", "{region}", "{ttl}"]})
    result = act.run("flush-cache", {"region": "eu west; ls", "ttl": 30}, timeout=10)
    assert result.output["argv"] == ["echo", "flush-cache", "eu west; ls", "30"]
    with pytest.raises(BadInput, match="needs parameter"):
        act.run("flush-cache", {"region": "eu"})
    with pytest.raises(Unsupported, match="configured: flush-cache"):
        act.run("reboot", {})
    with pytest.raises(BadInput, match="reserved"):
        act.run("flush-cache", {"region": "eu", "ttl": 1, "ansible_become": True})


@pytest.mark.parametrize(
    ("templates", "message"),
    [
        ({"scale": "kubectl scale {service}"}, "not a list"),
        ({"scale": ["{service}", "x"]}, "program"),
        ({"scale": ["kubectl", "{instance}"]}, "unknown placeholder"),
        ({"reboot": ["true"]}, "unknown verb"),
        ({"scale": []}, "not a list"),
    ],
)
def test_bad_templates_are_config_errors(templates: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ShellActuator(templates)  # type: ignore[arg-type]


def test_bad_timeouts_are_refused() -> None:
    act = ShellActuator({"scale": ["true"]})
    with pytest.raises(BadInput, match="timeout"):
        act.scale("api", 1, timeout=0)
