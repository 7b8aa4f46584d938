"""The production playbook (sprint4-final-production.yml): its tags, and a real run against a real host with systemd
as PID 1 (a systemd-nspawn container bootstrapped with debootstrap): check mode on the fresh host, the units started,
the validation passing over TLS, the privilege layout, a second run changing nothing, ``--tags self-healing``
touching only that role."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration import nspawn
from tests.support.net import free_port
from tests.support.postgres import create_database

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
PLAYBOOK = ROOT / "sprint4-final-production.yml"
BIN = Path(sys.executable).parent
PLUGINS = Path(__file__).parent / "ansible_plugins" / "connection"
COMPONENTS = ["ai-orchestrator", "anomaly-detector", "predictive-scaler", "cost-optimizer", "monitoring-dashboard",
              "self-healing", "multi-cloud", "continuous-improvement"]  # fmt: skip
PROD = ["-i", str(ROOT / "environments/prod/inventory"), "--vault-password-file", str(ROOT / ".vault_pass.example")]


def _run(args: list[str], tmp_path: Path, timeout: float = 1500) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ANSIBLE_HOME": str(tmp_path / "ansible"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_CONNECTION_PLUGINS": str(PLUGINS),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
    }
    argv = [str(BIN / "ansible-playbook"), str(PLAYBOOK), *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)


def test_an_unknown_tag_is_refused_and_the_tags_are_listed(tmp_path: Path) -> None:
    r = _run([*PROD, "--tags", "ai-orchestration,intelligent-monitorin"], tmp_path)
    assert r.returncode != 0
    assert "unknown tag(s) intelligent-monitorin" in r.stdout
    assert "all, base, ai-orchestration, intelligent-monitoring, self-healing, multi-cloud" in r.stdout


def test_the_prod_inventory_and_vault_are_valid(tmp_path: Path) -> None:
    r = _run([*PROD, "--syntax-check"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    inv = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(ROOT / "environments/prod/inventory"), "--vault-password-file",
         str(ROOT / ".vault_pass.example"), "--host", "hx-1.example.internal"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(inv.stdout)["vault_hx_database_url"].startswith("postgresql://")


def _pip_sources() -> tuple[str, list[str]]:
    """This machine's pip sources (a local wheel cache or index), to hand to pip in the container: args and binds."""
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    args: list[str] = []
    binds: list[str] = []
    for key, value in re.findall(r"^\S*?\.?(find-links|index-url|extra-index-url|cert)='([^']*)'", out, re.M):
        if key == "cert":
            args += ["--cert", value]
            binds.append(value)
            continue
        for item in value.split():
            path = item.removeprefix("file://")
            if path.startswith("/") and Path(path.split("/simple")[0]).exists():
                binds.append(path.split("/simple")[0])
            args += [f"--{key}", item]
    return " ".join(args), sorted(set(binds))


def _extra_vars(tmp_path: Path, db_url: str, prometheus_url: str, pip_args: str) -> Path:
    ports = {name: free_port() for name in COMPONENTS}
    data = {
        "hx_become": False,
        "hx_environment": "prod",
        "hx_bind_host": "127.0.0.1",
        "hx_ports": ports,
        "hx_database_url": db_url,
        "hx_secrets": {"webhook_url": "http://127.0.0.1:9/hx"},
        "hx_prometheus_url": prometheus_url,
        "hx_actuator": {"kind": "shell", "shell": {"restart": ["/bin/true", "{instance}"]}},
        "hx_notifiers": {name: {"enabled": name == "webhook"} for name in ("slack", "email", "pagerduty", "webhook")},
        "hx_config_overrides": {"server": {"step_interval_s": 5}},
        "hx_pip_extra_args": pip_args,
        "hx_install_system_packages": False,
        "hx_wheel_build_dir": str(tmp_path / "wheels"),
    }
    path = tmp_path / "vars.json"
    path.write_text(json.dumps(data))
    return path


def _changed(stdout: str) -> int:
    m = re.search(r"box\s*: ok=\d+\s+changed=(\d+)", stdout)
    assert m, stdout[-3000:]
    return int(m.group(1))


@pytest.mark.timeout(1800)
def test_the_playbook_runs_for_real_on_a_systemd_host(tmp_path: Path, pg_server: str) -> None:
    why = nspawn.unavailable()
    if why:
        pytest.skip(f"no container: {why}")
    from tests.integration.servers import prometheus_server

    pip_args, binds = _pip_sources()
    db_url = create_database(pg_server, "hx_playbook")
    with prometheus_server(tmp_path, []) as prom, nspawn.booted(tmp_path, binds) as box:
        inv = tmp_path / "inventory"
        inv.write_text(f"[hx]\nbox ansible_connection=nspawn hx_nspawn_pid={box.init_pid} "
                       "ansible_python_interpreter=/usr/bin/python3\n")  # fmt: skip
        base = ["-i", str(inv), "-e", f"@{_extra_vars(tmp_path, db_url, prom.url, pip_args)}"]
        check = _run([*base, "--check", "--tags", "all"], tmp_path)
        assert check.returncode == 0, check.stdout[-6000:] + check.stderr[-3000:]  # check mode on a fresh host
        first = _run([*base, "--tags", "all"], tmp_path)
        (tmp_path / "first.log").write_text(first.stdout + first.stderr)
        assert first.returncode == 0, first.stdout[-8000:] + first.stderr[-3000:]
        assert "hx validation" in first.stdout and "│ FAIL" not in first.stdout  # the validation table
        _assert_layout(box)
        _assert_validation_script(box, db_url)
        second = _run([*base, "--tags", "all"], tmp_path)
        assert second.returncode == 0 and _changed(second.stdout) == 0, second.stdout[-6000:]  # idempotent
        unit = box.root / "etc/systemd/system/hx-self-healing.service"
        unit.write_text(unit.read_text() + "# edited\n")
        only = _run([*base, "--tags", "self-healing"], tmp_path)
        assert only.returncode == 0, only.stdout[-6000:]
        tasks = re.findall(r"^TASK \[(.*?)\]", only.stdout, re.M)
        roles = {t.split(" : ")[0].rsplit("/", 1)[-1] for t in tasks[2:]}  # after the tag check and the facts
        assert tasks[1] == "Gathering Facts" and roles == {"hx_self_healing"}, tasks
        assert "# edited" not in unit.read_text() and _changed(only.stdout) >= 1


def _assert_layout(box: nspawn.Container) -> None:
    for name in COMPONENTS:
        assert box.run("systemctl", "is-active", f"hx-{name}", check=False).stdout.strip() == "active", name
    owned = box.run("find", "/", "-xdev", "-user", "hx").stdout.split()
    assert owned and all(p == "/var/lib/hx" or p.startswith("/var/lib/hx/") for p in owned), owned
    loose = box.run("find", "/var/lib/hx", "-type", "f", "-not", "-perm", "600").stdout.split()
    assert loose == [], loose  # hx's own files are 0600
    for path in ("/etc/hx", "/etc/systemd/system/hx-self-healing.service", "/opt/hx/bin/hx", "/etc/hx/tls/hx.key"):
        assert box.run("stat", "-c", "%U", path).stdout.strip() == "root", path
    assert box.run("runuser", "-u", "hx", "--", "cat", "/etc/hx/ai-ml-config.yml").returncode == 0
    assert box.run("runuser", "-u", "hx", "--", "cat", "/etc/hx/hx.env", check=False).returncode != 0
    assert box.run("runuser", "-u", "hx", "--", "touch", "/etc/hx/x", check=False).returncode != 0


def _assert_validation_script(box: nspawn.Container, db_url: str) -> None:
    script = box.root / "opt/hx/sprint4-validation.py"
    script.write_bytes((ROOT / "scripts/validation/sprint4-validation.py").read_bytes())
    r = box.run("runuser", "-u", "hx", "--", "env", f"HX_DATABASE_URL={db_url}", "HX_HOME=/var/lib/hx",
                "/opt/hx/bin/python3", "/opt/hx/sprint4-validation.py", "--json",
                check=False, timeout=180)  # fmt: skip
    report = json.loads(r.stdout)
    assert r.returncode == 0 and report["ok"], r.stdout + r.stderr
    health = [c for c in report["checks"] if c["name"].startswith("health ")]
    assert len(health) == 8 and all("https://127.0.0.1:" in c["detail"] for c in health)
