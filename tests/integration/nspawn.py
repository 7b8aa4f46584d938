"""A throwaway Debian host with systemd as PID 1: ``debootstrap`` once (cached under the temporary directory), a copy
per test, booted with ``systemd-nspawn --register=no --keep-unit`` (this machine's PID 1 is not systemd).

The mirror is the one in this machine's own apt configuration, read at run time.  The container shares the host's
network, so services on 127.0.0.1 (PostgreSQL, Prometheus) are reachable from both sides.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PACKAGES = "systemd,systemd-sysv,dbus,python3,python3-venv,openssl,ca-certificates"
CACHE = Path(tempfile.gettempdir()) / "hx-nspawn-cache" / "bookworm"


def apt_mirror() -> str:
    """The first Debian mirror of this machine's apt sources (deb822 or one-line format)."""
    files = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for f in files:
        if not f.is_file() or f.suffix not in (".list", ".sources", ""):
            continue
        for m in re.finditer(r"(?:^URIs:\s*|^deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", f.read_text(), re.M):
            url = m.group(1)
            if "security" not in url and "debian" in url:
                return url
    raise RuntimeError("no Debian mirror in /etc/apt/sources.list{,.d}")


def unavailable() -> str:
    """Why a container cannot run here ('' when it can)."""
    if os.geteuid() != 0:
        return "systemd-nspawn needs root"
    for tool in ("debootstrap", "systemd-nspawn", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (make system-deps installs debootstrap and systemd-container)"
    return ""


def bootstrapped_root() -> Path:
    """The cached pristine root, bootstrapped on first use (about 40 s)."""
    done = CACHE / ".complete"
    if not done.exists():
        shutil.rmtree(CACHE, ignore_errors=True)
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        argv = ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", "bookworm", str(CACHE), apt_mirror()]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise RuntimeError(f"debootstrap failed ({r.returncode}): {r.stdout[-2000:]}{r.stderr[-2000:]}")
        done.touch()
    return CACHE


class Container:
    """A booted container: its root on the host and the host PID of its init."""

    def __init__(self, root: Path, process: subprocess.Popen[bytes], log: Path) -> None:
        self.root = root
        self.process = process
        self.log = log
        self.init_pid = 0

    def run(self, *argv: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = ["nsenter", "-t", str(self.init_pid), "-m", "-u", "-i", "-n", "-p", "--", "env", "-i",
               "PATH=/usr/sbin:/usr/bin:/sbin:/bin", *argv]  # fmt: skip
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=timeout)

    def wait_booted(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited {self.process.returncode}: {self.log.read_text()[-3000:]}")
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            pids = children.read_text().split() if children.exists() else []
            if pids:
                self.init_pid = int(pids[0])
                state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
                if state in ("running", "degraded"):
                    return
            time.sleep(1)
        raise RuntimeError(f"the container did not boot in {timeout} s: {self.log.read_text()[-3000:]}")


@contextmanager
def booted(workdir: Path, binds: list[str]) -> Iterator[Container]:
    """A fresh copy of the cached root, booted; powered off and removed afterwards."""
    root = workdir / "root"
    subprocess.run(["cp", "-a", str(bootstrapped_root()), str(root)], check=True)
    log = workdir / "nspawn.log"
    argv = ["systemd-nspawn", "--register=no", "--keep-unit", "-q", "-D", str(root), "--console=pipe",
            *[f"--bind-ro={b}" for b in binds], "-b"]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    box = Container(root, proc, log)
    try:
        box.wait_booted()
        yield box
    finally:
        if box.init_pid:
            box.run("systemctl", "poweroff", check=False)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)
