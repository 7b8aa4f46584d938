"""The lab agent: a load generator replaying the NASA trace (compressed in time) and the file_sd writer.

``python -m hx.lab.agent --lab DIR --target http://127.0.0.1:PORT --rps 60 --compression 144 --port P``

- **Load**: open loop (requests are sent on schedule whatever the answers), ``rps`` times the NASA trace's level
  (requests per minute, normalised to mean 1, gaps filled) at trace time ``compression`` times faster than the
  clock, times a multiplier that ``POST /rate {"multiplier": 3, "ramp_s": 180}`` ramps linearly (traffic-triple).
- **Targets**: every two seconds the lab's file_sd file is rewritten from supervisord's programs, so Prometheus
  scrapes exactly the instances hx started (a crashed one stays a target: its ``up`` is 0).
- ``GET /stats?last=N&slo=S``: totals by status, and one row per second (sent, answered by status class, p95 of
  the second, and with ``slo`` the requests slower than ``S`` seconds, so a window's p95 can be judged exactly).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np

from hx.sim.traces import fill_gaps, load_trace


def _done(inflight: list[int], k: int, _task: asyncio.Task[None]) -> None:
    inflight[k] -= 1


#: the load's HTTP clients, and the connections (and requests in flight) of each
POOLS = 8
POOL_CONNECTIONS = 16

#: start the replay at 08:00 on the trace's first day (local time), when traffic climbs
START_MINUTE = 8 * 60


def nasa_levels(data_dir: str | None) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The NASA trace per minute, gaps filled, normalised to mean 1."""
    ts, vals = load_trace("nasa", data_dir)
    filled = fill_gaps(ts, vals, -4 * 3600.0)
    return np.asarray(filled / float(np.mean(filled)), dtype=np.float64)


@dataclass
class Ramp:
    """A multiplier moving linearly from ``start`` to ``end`` over ``[t0, t0 + seconds]``."""

    start: float = 1.0
    end: float = 1.0
    t0: float = 0.0
    seconds: float = 0.0

    def at(self, now: float) -> float:
        if self.seconds <= 0 or now >= self.t0 + self.seconds:
            return self.end
        return self.start + (self.end - self.start) * max(0.0, now - self.t0) / self.seconds


@dataclass
class Second:
    """What happened in one second of load."""

    t: int
    sent: int = 0
    ok: int = 0
    failed: int = 0
    dropped: int = 0  #: due but not sent: every connection busy (the generator's limit, not the target's answer)
    latencies: list[float] = field(default_factory=list)

    def row(self, slo_s: float | None = None) -> dict[str, Any]:
        p95 = float(np.quantile(self.latencies, 0.95)) if self.latencies else None
        out = {"t": self.t, "sent": self.sent, "ok": self.ok, "failed": self.failed, "dropped": self.dropped,
               "p95_s": p95}  # fmt: skip
        if slo_s is not None:
            out["over_slo"] = sum(1 for x in self.latencies if x > slo_s)
        return out


class Load:
    """Open-loop load on one URL at ``rps x trace level x ramp``."""

    def __init__(self, target: str, rps: float, compression: float, levels: np.ndarray[Any, Any]) -> None:
        self.target = target
        self.rps = rps
        self.compression = compression
        self.levels = levels
        self.ramp = Ramp()
        self.t0 = time.time()
        self.seconds: dict[int, Second] = {}
        self.totals: dict[str, int] = {}
        self.lock = threading.Lock()

    def level(self, now: float) -> float:
        minute = START_MINUTE + (now - self.t0) * self.compression / 60.0
        return float(self.levels[int(minute) % self.levels.size])

    def rate(self, now: float) -> float:
        return self.rps * self.level(now) * self.ramp.at(now)

    def set_ramp(self, multiplier: float, ramp_s: float) -> None:
        now = time.time()
        with self.lock:
            self.ramp = Ramp(self.ramp.at(now), multiplier, now, ramp_s)

    def record(self, sent_at: float, status: int, seconds: float) -> None:
        key = "failed" if status == 0 or status >= 500 else "ok"
        with self.lock:
            sec = self.seconds.setdefault(int(sent_at), Second(int(sent_at)))
            setattr(sec, key, getattr(sec, key) + 1)
            sec.latencies.append(seconds)
            cls = f"{status // 100}xx" if status else "error"
            self.totals[cls] = self.totals.get(cls, 0) + 1

    def drop(self, due_at: float) -> None:
        with self.lock:
            self.seconds.setdefault(int(due_at), Second(int(due_at))).dropped += 1
            self.totals["dropped"] = self.totals.get("dropped", 0) + 1

    def stats(self, last_s: int, slo_s: float | None = None) -> dict[str, Any]:
        now = int(time.time())
        with self.lock:
            rows = [s.row(slo_s) for t, s in sorted(self.seconds.items()) if t >= now - last_s and t < now]
            for t in [t for t in self.seconds if t < now - 3600]:
                del self.seconds[t]
            totals = dict(self.totals)
        return {"target": self.target, "rate": self.rate(time.time()), "multiplier": self.ramp.at(time.time()),
                "totals": totals, "seconds": rows}  # fmt: skip

    async def run(self) -> None:
        """Send on schedule over :data:`POOLS` clients of :data:`POOL_CONNECTIONS` connections each, at most that many
        requests in flight (past it a request is counted ``dropped``, not queued).  One client with one big pool
        spent most of the generator's CPU matching queued requests to connections (httpcore's assignment walks
        every pending request for every connection): 93 req/s at one core when 300 were asked."""
        limits = httpx.Limits(max_connections=POOL_CONNECTIONS, max_keepalive_connections=POOL_CONNECTIONS)
        clients = [httpx.AsyncClient(timeout=10.0, limits=limits) for _ in range(POOLS)]
        inflight = [0] * POOLS
        try:
            credit = 0.0
            last = time.time()
            tasks: set[asyncio.Task[None]] = set()
            while True:
                await asyncio.sleep(0.01)
                now = time.time()
                credit += self.rate(now) * (now - last)
                last = now
                while credit >= 1.0:
                    credit -= 1.0
                    k = min(range(POOLS), key=inflight.__getitem__)
                    if inflight[k] >= POOL_CONNECTIONS:
                        self.drop(now)
                        continue
                    inflight[k] += 1
                    task = asyncio.create_task(self._one(clients[k], now))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    task.add_done_callback(functools.partial(_done, inflight, k))
                credit = min(credit, 50.0)
        finally:
            for c in clients:
                await c.aclose()

    async def _one(self, client: httpx.AsyncClient, now: float) -> None:
        with self.lock:
            self.seconds.setdefault(int(now), Second(int(now))).sent += 1
        t0 = time.perf_counter()
        try:
            status = (await client.get(self.target + "/")).status_code
        except httpx.HTTPError:
            status = 0
        self.record(now, status, time.perf_counter() - t0)


def sync_targets(lab: Path, stop: threading.Event) -> None:
    """Rewrite the file_sd file every two seconds (errors are retried: supervisord may be restarting)."""
    from hx.lab.fleet_lab import LabState, write_targets

    state = LabState.load(lab)
    while not stop.wait(2.0):
        try:
            write_targets(state)
        except (OSError, ValueError) as err:
            print(f"targets: {err}", flush=True)


def control_server(load: Load, port: int) -> ThreadingHTTPServer:
    """``GET /stats?last=N``, ``POST /rate {"multiplier": m, "ramp_s": s}``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if not self.path.startswith("/stats"):
                self._send(404, {"error": "not found"})
                return
            query = parse_qs(urlsplit(self.path).query)
            last, slo = query.get("last", ["60"])[0], query.get("slo", [""])[0]
            try:
                slo_s = float(slo) if slo else None
            except ValueError:
                self._send(400, {"error": f"bad slo {slo!r}: a number of seconds"})
                return
            self._send(200, load.stats(int(last) if last.isdigit() else 60, slo_s))

        def do_POST(self) -> None:
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                mult, ramp = float(body["multiplier"]), float(body.get("ramp_s", 0))
                if not (0 <= mult <= 20 and 0 <= ramp <= 3600):
                    raise ValueError("multiplier must be 0..20 and ramp_s 0..3600")
            except (ValueError, KeyError, TypeError) as err:
                self._send(400, {"error": f"bad rate request: {err}"})
                return
            load.set_ramp(mult, ramp)
            self._send(200, {"multiplier": mult, "ramp_s": ramp})

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m hx.lab.agent", description=__doc__.split("\n\n")[0])
    p.add_argument("--lab", required=True, help="the lab directory (lab.json)")
    p.add_argument("--target", required=True, help="URL of the top tier's HAProxy frontend")
    p.add_argument("--port", type=int, required=True, help="control port (/stats, /rate)")
    p.add_argument("--rps", type=float, default=60.0, help="mean requests per second")
    p.add_argument("--compression", type=float, default=144.0, help="trace seconds per second")
    p.add_argument("--data-dir", default=None, help="where traces/nasa-http-1995 is (default $HX_DATA_DIR)")
    a = p.parse_args(argv)
    load = Load(a.target.rstrip("/"), a.rps, a.compression, nasa_levels(a.data_dir))
    stop = threading.Event()
    threading.Thread(target=sync_targets, args=(Path(a.lab), stop), daemon=True).start()
    server = control_server(load, a.port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        asyncio.run(load.run())
    finally:
        stop.set()
        server.shutdown()


if __name__ == "__main__":
    main()
