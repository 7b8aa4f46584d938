"""Real HAProxy and supervisord for the fleet tests (and the lab's): each a context manager that stops what it started.

- :func:`haproxy_server` runs HAProxy 2.6 with an admin runtime API on a Unix socket and on a loopback TCP port, and
  one frontend + backend per service (empty backends: the fleet actuator adds the servers);
- :func:`supervisord_server` runs supervisord with ``[inet_http_server]`` on a free loopback port and an
  ``[include]`` directory, its children inheriting ``env`` (PYTHONPATH, so they import this checkout's hx);
- :func:`sample_command` is the argv template of the shipped sample service for ``actuator.fleet.services``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import xmlrpc.client
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from hx.actuate.haproxy import backend_config
from tests.integration.servers import _dump_log, wait_until
from tests.support.net import free_port, stop_process

SRC = Path(__file__).resolve().parents[2] / "src"


def free_port_range(count: int) -> tuple[int, int]:
    """``count`` consecutive loopback ports that were free a moment ago."""
    for _ in range(50):
        first = free_port()
        if first + count >= 65000:
            continue
        ports = range(first, first + count)
        if all(_is_free(p) for p in ports):
            return first, first + count - 1
    raise RuntimeError(f"no {count} consecutive free ports found")


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def sample_command(tier: str | None = None, *extra: str) -> list[str]:
    """The shipped sample service as a fleet command template (``--tier`` is the service name unless given)."""
    argv = [sys.executable, "-m", "hx.lab.sample_service", "--tier", tier or "{service}", "--service", "{service}"]
    return [*argv, "--version", "{version}", "--port", "{port}", "--instance", "{instance}", *extra]


def _binary(name: str, package: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if not found:
        pytest.fail(f"{name} is not installed; `make system-deps` installs it (Debian package `{package}`)")
    return found


@dataclass
class HAProxyHandle:
    process: subprocess.Popen[bytes]
    unix_socket: str
    tcp_socket: str
    frontends: dict[str, str]  #: service -> frontend URL
    log_path: Path
    config_path: Path


@contextlib.contextmanager
def haproxy_server(tmp_path: Path, services: list[str], *, startup_timeout: float = 15.0) -> Iterator[HAProxyHandle]:
    """HAProxy with an admin runtime API (Unix + TCP) and one frontend/backend pair per service."""
    binary = _binary("haproxy", "haproxy")
    root = tmp_path / "haproxy"
    root.mkdir(parents=True)
    short = Path(tempfile.mkdtemp(prefix="hxh-", dir="/tmp"))  # a Unix socket path must stay under 108 bytes
    sock = short / "admin.sock"
    api_port = free_port()
    frontends = {s: free_port() for s in services}
    text = [
        "global",
        f"  stats socket {sock} mode 600 level admin",
        f"  stats socket ipv4@127.0.0.1:{api_port} level admin",
        "defaults",
        "  mode http",
        "  timeout connect 2s",
        "  timeout client 30s",
        "  timeout server 30s",
        *(backend_config(s, frontend_port=port) for s, port in frontends.items()),
    ]
    config = root / "haproxy.cfg"
    config.write_text("\n".join(text) + "\n")
    log_path = root / "haproxy.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([binary, "-f", str(config), "-db"], stdout=log, stderr=subprocess.STDOUT)
    handle = HAProxyHandle(
        proc, f"unix:{sock}", f"tcp:127.0.0.1:{api_port}",
        {s: f"http://127.0.0.1:{p}" for s, p in frontends.items()}, log_path, config,
    )  # fmt: skip
    ok = False
    try:
        wait_until("the HAProxy runtime API", lambda: _alive(proc) and sock.exists(), startup_timeout)
        yield handle
        ok = True
    finally:
        stop_process(proc, timeout=10.0)
        shutil.rmtree(short, ignore_errors=True)
        if not ok:
            _dump_log("haproxy", log_path)


def _alive(proc: subprocess.Popen[bytes]) -> bool:
    if proc.poll() is not None:
        raise RuntimeError(f"haproxy exited with {proc.returncode} during startup")
    return True


@dataclass
class SupervisorHandle:
    process: subprocess.Popen[bytes]
    url: str
    include_dir: Path
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def supervisord_server(
    tmp_path: Path, env: Mapping[str, str] | None = None, *, startup_timeout: float = 15.0
) -> Iterator[SupervisorHandle]:
    """supervisord on a free loopback port with an include directory; children get ``env`` (PYTHONPATH by default)."""
    binary = _binary("supervisord", "supervisor")
    root = tmp_path / "supervisor"
    include = root / "programs"
    include.mkdir(parents=True)
    port = free_port()
    config = root / "supervisord.conf"
    config.write_text(
        "\n".join([
            "[supervisord]", "nodaemon = true", f"logfile = {root / 'supervisord.log'}",
            f"pidfile = {root / 'supervisord.pid'}", f"childlogdir = {root}", "loglevel = info",
            "[inet_http_server]", f"port = 127.0.0.1:{port}",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "[include]", f"files = {include}/*.conf",
        ]) + "\n"
    )  # fmt: skip
    child_env = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    log_path = root / "supervisord.log"
    with open(root / "stdout.log", "wb") as log:
        proc = subprocess.Popen([binary, "-c", str(config), "-n"], stdout=log, stderr=subprocess.STDOUT, env=child_env)
    handle = SupervisorHandle(proc, f"http://127.0.0.1:{port}/RPC2", include, log_path, child_env)
    ok = False
    try:
        wait_until("supervisord's XML-RPC", lambda: _alive_rpc(proc, port), startup_timeout)
        yield handle
        ok = True
    finally:
        stop_process(proc, timeout=20.0)
        if not ok:
            _dump_log("supervisord", log_path)


def _alive_rpc(proc: subprocess.Popen[bytes], port: int) -> bool:
    if proc.poll() is not None:
        raise RuntimeError(f"supervisord exited with {proc.returncode} during startup")
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def pid_of(handle: SupervisorHandle, program: str) -> int:
    """The pid supervisord reports for a program (to kill it as a crash would)."""
    info = xmlrpc.client.ServerProxy(handle.url).supervisor.getProcessInfo(f"{program}:{program}")
    if not isinstance(info, dict) or not isinstance(info.get("pid"), int):
        raise RuntimeError(f"supervisord reports no pid for {program}: {info!r}")
    return int(info["pid"])
