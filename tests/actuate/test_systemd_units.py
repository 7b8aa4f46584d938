"""The systemd variant of the instance manager: the hx-app@ template with an instance's drop-in verified by
``systemd-analyze verify`` offline, the playbooks syntax-checked by ansible-playbook, ``systemctl show`` parsed.

(No systemd runs as PID 1 on the test machines, so starting units is left to production hosts.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hx.actuate.instances import InstanceName
from hx.actuate.manager import InstanceSpec
from hx.actuate.systemd_units import PLAYBOOK_DIR, SystemdManager, parse_show, render_dropin
from hx.config import FleetManager
from hx.errors import ActuatorError

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy/systemd/hx-app@.service"
NAME = InstanceName("cart", "v2", 1)


def _spec(argv: list[str], env: dict[str, str] | None = None) -> InstanceSpec:
    return InstanceSpec(NAME, 8102, argv, env or {})


def _verify(tmp_path: Path, dropin: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is not installed; `make system-deps` installs it (Debian package systemd)")
    shutil.copy(TEMPLATE, tmp_path / TEMPLATE.name)
    unit = tmp_path / f"hx-app@{NAME}.service"
    (tmp_path / f"{unit.name}.d").mkdir()
    (tmp_path / f"{unit.name}.d" / "hx.conf").write_text(dropin)
    env = {"SYSTEMD_UNIT_PATH": f"{tmp_path}:", "PATH": "/usr/bin:/bin"}
    argv = ["systemd-analyze", "verify", "--man=no", str(unit)]
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False)


def test_dropin_quotes_every_word_for_systemd() -> None:
    text = render_dropin(_spec(["/usr/bin/app", "--name", 'a "b" 50% $HOME'], {"TIER": "cart"}))
    assert 'ExecStart="/usr/bin/app" "--name" "a \\"b\\" 50%% $$HOME"' in text
    assert 'Environment="HX_INSTANCE=cart--v2--1" "HX_PORT=8102" "TIER=cart"' in text
    with pytest.raises(ActuatorError, match="absolute program path"):
        render_dropin(_spec(["python3", "-m", "app"]))


@pytest.mark.integration
def test_template_and_dropin_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    good = _verify(tmp_path, render_dropin(_spec([sys.executable, "-m", "hx.lab.sample_service", "--tier", "cart"])))
    assert good.returncode == 0, good.stdout + good.stderr


@pytest.mark.integration
def test_systemd_analyze_catches_a_broken_dropin(tmp_path: Path) -> None:
    """The check above can fail: two ExecStart= lines without the reset are refused."""
    bad = _verify(tmp_path, "[Service]\nExecStart=/bin/true\nExecStart=/bin/false\n")
    assert bad.returncode != 0 and "ExecStart" in bad.stdout + bad.stderr


@pytest.mark.integration
@pytest.mark.parametrize("playbook", ["instance.yml", "status.yml"])
def test_playbooks_pass_the_syntax_check(playbook: str) -> None:
    ansible = Path(sys.executable).parent / "ansible-playbook"
    argv = [str(ansible), "--syntax-check", "-i", "localhost,", str(PLAYBOOK_DIR / playbook)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_systemctl_show_is_read_back_into_instances() -> None:
    text = (
        "Id=hx-app@cart--v2--1.service\nActiveState=active\nEnvironment=HX_INSTANCE=cart--v2--1 HX_PORT=8102\n\n"
        "Id=hx-app@cart--v1--0.service\nActiveState=failed\nEnvironment=HX_PORT=8101\n\n"
        "Id=hx-app@inventory--v1--0.service\nActiveState=active\nEnvironment=HX_PORT=8201\n"
    )
    got = [(str(i.name), i.port, i.running, i.state) for i in parse_show(text, "cart")]
    assert got == [("cart--v1--0", 8101, False, "failed"), ("cart--v2--1", 8102, True, "active")]


def test_built_from_settings_with_hxs_playbooks(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("localhost ansible_connection=local\n")
    mgr = SystemdManager.from_settings(FleetManager(kind="systemd", ansible_inventory=str(inventory)))
    assert mgr.kind == "systemd" and sorted(mgr.ansible._actions) == ["fleet_instance", "fleet_status"]
