"""Ansible connection into a booted systemd-nspawn container, by entering the namespaces of its init (the host has
no systemd as PID 1, so the container is not registered with machined and ``machinectl`` cannot reach it)."""

from __future__ import annotations

import subprocess
from typing import Any

from ansible.plugins.connection import ConnectionBase

DOCUMENTATION = """
name: nspawn
short_description: run tasks in a systemd-nspawn container through nsenter
description: Enters the mount, UTS, IPC, network and PID namespaces of the container's init.
options:
  nspawn_pid:
    description: PID (on the host) of the container's init
    vars: [{name: hx_nspawn_pid}]
"""

CLEAN_ENV = ["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
             "LANG=C.UTF-8"]  # fmt: skip


class Connection(ConnectionBase):  # type: ignore[misc]  # ansible-core ships no type information
    """Each command runs as ``nsenter -t PID ... env -i ... /bin/sh -c CMD``; files go through ``cat``."""

    transport = "nspawn"
    has_pipelining = True

    def _connect(self) -> Connection:
        self._connected = True
        return self

    def _enter(self, argv: list[str]) -> list[str]:
        pid = str(self.get_option("nspawn_pid"))
        return ["nsenter", "-t", pid, "-m", "-u", "-i", "-n", "-p", "--", *CLEAN_ENV, *argv]

    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple[int, bytes, bytes]:
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        p = subprocess.run(self._enter(["/bin/sh", "-c", cmd]), input=in_data or b"", capture_output=True)
        return p.returncode, p.stdout, p.stderr

    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)
        with open(in_path, "rb") as src:
            subprocess.run(self._enter(["/bin/sh", "-c", 'cat > "$1"', "sh", out_path]), stdin=src, check=True)

    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)
        with open(out_path, "wb") as dst:
            subprocess.run(self._enter(["cat", in_path]), stdout=dst, check=True)

    def close(self, *args: Any) -> None:
        self._connected = False
