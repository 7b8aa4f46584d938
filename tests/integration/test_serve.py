"""`hx serve` as a real process: health and metrics, one component on its own port, and a rollout that survives
the server being killed (SIGKILL) in the middle."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.net import free_port, stop_process, wait_http

pytestmark = pytest.mark.integration

FAST_SIM = {
    "HX_SIM__SERVICES": "2",
    "HX_SIM__STEP_S": "1",
    "HX_SIM__STARTUP_S": "2",
    "HX_SIM__WARMUP_S": "600",
    "HX_AI_ORCHESTRATOR__CANARY__ANALYSIS_INTERVAL_S": "8",
    "HX_AI_ORCHESTRATOR__CANARY__STEPS": "[20, 50, 100]",
}


@contextmanager
def hx_serve(
    home: Path, args: list[str], port: int, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    e = {**os.environ, "HX_HOME": str(home), **(env or {})}
    log = (home.parent / f"serve-{port}.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hx.cli", "serve", "--port", str(port), *args], env=e, stdout=log, stderr=log
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=60)
        yield proc
    finally:
        stop_process(proc)
        log.close()


def test_serve_all_in_one_health_metrics_auth(tmp_path: Path) -> None:
    port = free_port()
    with hx_serve(tmp_path / "hx", [], port, FAST_SIM):
        h = httpx.get(f"http://127.0.0.1:{port}/health").json()
        assert h["status"] in ("ok", "learning"), h  # up; an engine may still be learning its history
        assert h["checks"]["store"]["status"] == "ok"
        assert "ai-orchestrator" in h["components"] and "self-healing" in h["components"]
        assert "hx_http_requests_total" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/events").status_code == 401
        assert (tmp_path / "hx" / "admin.token").stat().st_mode & 0o777 == 0o600


def test_serve_one_component(tmp_path: Path) -> None:
    from hx.components import get_component

    assert get_component("self-healing").port == 8085
    port = free_port()
    with hx_serve(tmp_path / "hx", ["--component", "self-healing"], port, FAST_SIM):
        h = httpx.get(f"http://127.0.0.1:{port}/health").json()
        assert h["component"] == "self-healing" and h["components"] == ["self-healing"]


def _wait(cond: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_rollout_survives_kill_9(tmp_path: Path) -> None:
    home = tmp_path / "hx"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with hx_serve(home, [], port, FAST_SIM) as proc:
        admin = (home / "admin.token").read_text().strip()
        h = {"Authorization": f"Bearer {admin}"}
        r = httpx.post(
            f"{url}/api/v1/deployments",
            headers=h,
            json={"service": "frontend", "version": "v2", "environment": "dev", "strategy": "canary"},
        )
        assert r.status_code == 201, r.text
        dep = r.json()["id"]

        def mid_analysis() -> bool:
            d = httpx.get(f"{url}/api/v1/deployments/{dep}", headers=h).json()
            step = d["current_step"] or {}
            return bool(step.get("kind") == "analyze" and d["step_started_at"] and d["step_index"] > 3)

        _wait(mid_analysis, 90, "the rollout to reach its second analysis")
        before = httpx.get(f"{url}/api/v1/deployments/{dep}", headers=h).json()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert before["state"] == "running"
    with hx_serve(home, [], port, FAST_SIM):

        def finished() -> bool:
            d = httpx.get(f"{url}/api/v1/deployments/{dep}", headers=h).json()
            return d["state"] in ("promoted", "rolled_back", "failed", "aborted", "needs_person")

        _wait(finished, 120, "the resumed rollout to finish")
        d = httpx.get(f"{url}/api/v1/deployments/{dep}", headers=h).json()
    assert d["state"] == "promoted", d["reason"]
    steps = d["steps"]
    done = [(s["phase"], s["step_index"]) for s in steps if s["status"] == "done"]
    assert len(done) == len(set(done)), "a step was completed twice"
    forward_done = sorted(i for p, i in done if p == "forward")
    assert forward_done == list(range(len(d["plan"]))), "a step was skipped"
    interrupted = before["step_index"]
    started = [s for s in steps if s["step_index"] == interrupted and s["status"] == "started"]
    assert len(started) == 1  # the interrupted step kept its recorded start and resumed


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_serve_with_tls(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    port = free_port()
    home = tmp_path / "hx"
    e = {**os.environ, "HX_HOME": str(home), **FAST_SIM}
    cmd = [
        sys.executable,
        "-m",
        "hx.cli",
        "serve",
        "--component",
        "multi-cloud",
        "--port",
        str(port),
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
    ]
    proc = subprocess.Popen(cmd, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"https://127.0.0.1:{port}/health", verify=ssl.create_default_context(cafile=str(cert)))
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        assert r.status_code == 200 and r.json()["component"] == "multi-cloud"
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=3)  # plain HTTP is not served
        bad = subprocess.run([*cmd[:-2]], env=e, capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and "--tls-key" in bad.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def _roles(port: int) -> dict[str, str]:
    h = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()
    return {name: e["role"] for name, e in h["checks"]["engines"].items()}


def test_two_replicas_on_postgresql_share_each_engine_and_fail_over(tmp_path: Path, pg_server: str) -> None:
    import uuid

    from tests.integration.servers import wait_until
    from tests.support.postgres import create_database

    url = create_database(pg_server, f"hx_{uuid.uuid4().hex[:12]}")
    env = {**FAST_SIM, "HX_DATABASE_URL": url, "HX_SERVER__LEASE_TTL_S": "4"}
    comp = ["--component", "continuous-improvement"]
    pa, pb = free_port(), free_port()
    with hx_serve(tmp_path / "a", comp, pa, env) as a, hx_serve(tmp_path / "b", comp, pb, env) as b:

        def one_leader() -> bool:
            ra, rb = _roles(pa), _roles(pb)
            return sorted([ra["improvement"], rb["improvement"]]) == ["leader", "standby"]

        wait_until("one leader for the improvement engine", one_leader, timeout=30)
        ra, rb = _roles(pa), _roles(pb)
        assert ra["sim"] == rb["sim"] == "single"  # each process advances its own embedded sim
        assert sorted([ra["audit-watch"], rb["audit-watch"]]) == ["leader", "standby"]
        leader, other, other_port = (a, b, pb) if ra["improvement"] == "leader" else (b, a, pa)
        leader.kill()  # SIGKILL: no release, so the lease must run out before the standby takes over
        leader.wait(timeout=10)
        wait_until("the standby takes over", lambda: _roles(other_port)["improvement"] == "leader", timeout=30)
        assert other.poll() is None
