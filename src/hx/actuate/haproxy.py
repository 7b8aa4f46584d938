"""A traffic router through HAProxy's runtime API (the stats socket, ``level admin``), Unix or TCP.

Every change is one runtime command (``set server B/S weight N``, ``set server B/S state drain``, ``add server``,
``del server``) and every change of weights is read back from ``show servers state`` and verified; an answer that
is not the expected one (``No such server.``, ``Can't find backend.``) or a socket that does not answer raises
:class:`~hx.errors.ActuatorError` carrying the command and HAProxy's own words.  Nothing is kept in memory: the
backend's servers, weights, states and counters are read from HAProxy each time.

A backend the router manages needs a dynamic balance algorithm (``balance roundrobin``, the default) so that
weights change at run time; :func:`backend_config` writes one.
"""

from __future__ import annotations

import csv
import io
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass

from hx.errors import ActuatorError, BadInput, ConfigError

#: HAProxy's bound on a server weight
MAX_WEIGHT = 256
#: srv_admin_state bits (``show servers state``)
_FMAINT, _IMAINT, _CMAINT, _FDRAIN, _IDRAIN, _RMAINT, _HMAINT = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40
_MAINT = _FMAINT | _IMAINT | _CMAINT | _RMAINT | _HMAINT
STATES = ("ready", "drain", "maint")


@dataclass(frozen=True)
class Endpoint:
    """Where the runtime API listens: ``unix:/run/haproxy/admin.sock`` or ``tcp:127.0.0.1:9999``."""

    family: str
    path: str = ""
    host: str = ""
    port: int = 0

    @classmethod
    def parse(cls, text: str, key: str = "actuator.fleet.router.socket") -> Endpoint:
        kind, _, rest = text.partition(":") if isinstance(text, str) else ("", "", "")
        if kind == "unix" and rest.startswith("/"):
            return cls("unix", path=rest)
        host, _, port = rest.rpartition(":")
        if kind == "tcp" and host and port.isdigit() and 0 < int(port) < 65536:
            return cls("tcp", host=host.strip("[]"), port=int(port))
        raise ConfigError(f"{text!r} is not a runtime API address", key=key, expected='"unix:/path" or "tcp:HOST:PORT"')

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.family == "unix" else f"tcp:{self.host}:{self.port}"


@dataclass(frozen=True)
class Server:
    """One server of a backend as HAProxy reports it."""

    backend: str
    name: str
    address: str
    port: int
    weight: int
    state: str  #: ready, drain or maint (the admin state)
    up: bool  #: operational state running and (if checked) health check passing
    sessions: int = 0  #: current sessions (scur)
    total: int = 0  #: sessions served so far (stot)
    responses_5xx: int = 0


class HAProxyRouter:
    """Reads and changes one HAProxy's backends through its runtime API.

    >>> HAProxyRouter("tcp:127.0.0.1:9999").endpoint
    Endpoint(family='tcp', path='', host='127.0.0.1', port=9999)
    """

    def __init__(self, socket_address: str, *, timeout_s: float = 5.0) -> None:
        self.endpoint = Endpoint.parse(socket_address)
        self.timeout_s = timeout_s

    # ---- the wire -----------------------------------------------------------------------

    def command(self, line: str) -> str:
        """Send one command, return HAProxy's whole answer (the connection closes after it)."""
        if "\n" in line or ";" in line:
            raise BadInput(f"one runtime command per call, without ';' or newlines: {line!r}", field="command")
        try:
            with self._connect() as sock:
                sock.sendall(line.encode() + b"\n")
                return self._read_all(sock)
        except OSError as err:
            raise ActuatorError(
                f"HAProxy runtime API at {self.endpoint} does not answer ({err}); is haproxy running with "
                f"'stats socket ... level admin'?",
                command=line,
                endpoint=str(self.endpoint),
            ) from err

    def _connect(self) -> socket.socket:
        if self.endpoint.family == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout_s)
            sock.connect(self.endpoint.path)
            return sock
        return socket.create_connection((self.endpoint.host, self.endpoint.port), timeout=self.timeout_s)

    @staticmethod
    def _read_all(sock: socket.socket) -> str:
        chunks: list[bytes] = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks).decode("utf-8", "replace")

    def _expect(self, line: str, ok: str = "") -> None:
        """Run a command whose success answer is ``ok`` (empty for most ``set`` commands)."""
        answer = self.command(line).strip()
        if answer != ok:
            raise ActuatorError(f"HAProxy refused {line!r}: {answer or '(no answer)'}", command=line, answer=answer)

    # ---- reading ------------------------------------------------------------------------

    def backends(self) -> list[str]:
        lines = self.command("show backend").splitlines()
        return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]

    def servers(self, backend: str) -> list[Server]:
        """Every server of ``backend`` with weight, state and counters; ActuatorError for an unknown backend."""
        state = self._state_rows(backend)
        stats = self._stat_rows(backend)
        return [_server(backend, row, stats.get(row["srv_name"], {})) for row in state]

    def server(self, backend: str, name: str) -> Server:
        for s in self.servers(backend):
            if s.name == name:
                return s
        raise ActuatorError(f"HAProxy backend {backend!r} has no server {name!r}", backend=backend, server=name)

    def _state_rows(self, backend: str) -> list[dict[str, str]]:
        answer = self.command(f"show servers state {backend}")
        lines = [ln for ln in answer.splitlines() if ln.strip()]
        header = next((ln for ln in lines if ln.startswith("# be_id")), None)
        if header is None:
            raise ActuatorError(
                f"HAProxy has no backend {backend!r}: {answer.strip() or '(no answer)'}", backend=backend
            )
        names = header[2:].split()
        rows = [dict(zip(names, ln.split(), strict=False)) for ln in lines if not ln.startswith("#")]
        return [r for r in rows if len(r) == len(names) and r.get("be_name") == backend]

    def _stat_rows(self, backend: str) -> dict[str, dict[str, str]]:
        text = self.command("show stat").lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {r["svname"]: r for r in rows if r.get("pxname") == backend}

    # ---- changing -----------------------------------------------------------------------

    def set_weights(self, backend: str, weights: Mapping[str, int]) -> list[Server]:
        """Set each named server's weight, then read them all back and verify."""
        for name, weight in weights.items():
            if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
                raise BadInput(f"weight of {name!r} must be an integer 0..{MAX_WEIGHT}, got {weight!r}")
            self._expect(f"set server {backend}/{name} weight {weight}")
        servers = self.servers(backend)
        got = {s.name: s.weight for s in servers}
        wrong = {n: (w, got.get(n)) for n, w in weights.items() if got.get(n) != w}
        if wrong:
            raise ActuatorError(f"HAProxy backend {backend!r} reads back other weights: {wrong}", wrong=wrong)
        return servers

    def set_state(self, backend: str, name: str, state: str) -> None:
        if state not in STATES:
            raise BadInput(f"server state must be one of {', '.join(STATES)}, got {state!r}", field="state")
        self._expect(f"set server {backend}/{name} state {state}")
        seen = self.server(backend, name).state
        if seen != state:
            raise ActuatorError(f"{backend}/{name} reads back state {seen!r} after setting {state!r}")

    def add_server(self, backend: str, name: str, address: str, port: int, *, weight: int = 0) -> Server:
        """Add a health-checked server at ``weight`` (0: no traffic yet) and enable it."""
        line = f"add server {backend}/{name} {address}:{port} weight {weight} check inter 1s fall 2 rise 1"
        self._expect(line, "New server registered.")
        self._expect(f"enable health {backend}/{name}")
        self._expect(f"enable server {backend}/{name}")
        return self.server(backend, name)

    def remove_server(self, backend: str, name: str) -> None:
        """Put the server in maintenance and delete it (drain it first to lose no request)."""
        self._expect(f"set server {backend}/{name} state maint")
        deadline = time.monotonic() + self.timeout_s
        while True:
            answer = self.command(f"del server {backend}/{name}").strip()
            if answer == "Server deleted.":
                return
            if "still" not in answer.lower() or time.monotonic() > deadline:  # "still has connections" and so on
                raise ActuatorError(f"HAProxy refused to delete {backend}/{name}: {answer}", answer=answer)
            time.sleep(0.1)

    def wait_drained(self, backend: str, name: str, timeout_s: float) -> int:
        """Wait until the server has no current session; the sessions left when ``timeout_s`` ran out."""
        deadline = time.monotonic() + timeout_s
        while (left := self.server(backend, name).sessions) > 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        return left


def _num(row: Mapping[str, str], key: str) -> int:
    value = row.get(key, "")
    return int(value) if value.lstrip("-").isdigit() else 0


def _server(backend: str, row: Mapping[str, str], stat: Mapping[str, str]) -> Server:
    admin = _num(row, "srv_admin_state")
    state = "maint" if admin & _MAINT else "drain" if admin & (_FDRAIN | _IDRAIN) else "ready"
    check_down = stat.get("status", "").startswith(("DOWN", "MAINT"))
    return Server(
        backend=backend,
        name=row["srv_name"],
        address=row.get("srv_addr", ""),
        port=_num(row, "srv_port"),
        weight=_num(row, "srv_uweight"),
        state=state,
        up=_num(row, "srv_op_state") == 2 and not check_down,
        sessions=_num(stat, "scur"),
        total=_num(stat, "stot"),
        responses_5xx=_num(stat, "hrsp_5xx"),
    )


def backend_config(backend: str, *, frontend_port: int | None = None, host: str = "127.0.0.1") -> str:
    """A backend (and, with ``frontend_port``, a frontend) HAProxy section the router can manage.

    >>> print(backend_config("cart").splitlines()[0])
    backend cart
    """
    lines = [
        f"backend {backend}",
        "  balance roundrobin",
        "  option redispatch",
        "  retries 3",
        "  retry-on conn-failure empty-response",
        "  default-server check inter 1s fall 2 rise 1",
    ]
    if frontend_port is not None:
        lines += [f"frontend {backend}", f"  bind {host}:{frontend_port}", f"  default_backend {backend}"]
    return "\n".join(lines) + "\n"
