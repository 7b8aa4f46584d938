"""The production playbook: syntax, and a real run against localhost that renders one unit per component and a
configuration that hx itself validates."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
PLAYBOOK = ROOT / "deploy" / "ansible" / "site.yml"
BIN = Path(sys.executable).parent


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ANSIBLE_HOME": str(tmp_path / "ansible"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
    }
    return subprocess.run([str(BIN / "ansible-playbook"), *args], capture_output=True, text=True, env=env, timeout=300)


def test_playbook_renders_one_service_per_component(tmp_path: Path) -> None:
    inv = tmp_path / "inventory.ini"
    inv.write_text("[hx]\nlocalhost ansible_connection=local\n")
    prefix = Path(sys.prefix)
    extra = [
        "-e",
        "hx_become=false",
        "-e",
        "hx_manage_services=false",
        "-e",
        f"hx_prefix={prefix}",
        "-e",
        f"hx_home={tmp_path / 'home'}",
        "-e",
        f"hx_config_dir={tmp_path / 'etc'}",
        "-e",
        f"hx_unit_dir={tmp_path / 'units'}",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
    ]
    r = _run(["-i", str(inv), "--syntax-check", str(PLAYBOOK)], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    r = _run(["-i", str(inv), str(PLAYBOOK), *extra], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    units = sorted((tmp_path / "units").glob("hx-*.service"))
    assert len(units) == 8
    text = (tmp_path / "units" / "hx-self-healing.service").read_text()
    assert "serve --component self-healing" in text and "--port 8085" in text
    env_file = tmp_path / "etc" / "hx.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "home" / "hx.db").exists()  # migrations ran
    r = _run(["-i", str(inv), str(PLAYBOOK), *extra], tmp_path)
    assert r.returncode == 0 and "changed=0" in r.stdout  # idempotent
