"""The simulation: one vectorised step of the whole fleet per call, in simulated time.

Per step (``dt`` seconds ending at ``t``): external traffic from the trace shape (with slow lognormal
deviations and Poisson counts), fan-out along the call graph, split by version weights, even balancing
over ready replicas, M/M/1 queueing per replica (``hx.sim.queueing``), drops beyond capacity, fault
effects, memory/disk/CPU, then health flowing back up the call graph (a caller's latency adds its
slowest dependency's, a caller fails when a dependency fails). Every array is ``[n_services]``,
``[n_versions]`` or ``[n_replicas]``: no Python object per replica.

>>> from hx.sim.spec import make_fleet
>>> sim = Simulation(make_fleet(3, seed=1))
>>> sim.run(steps=10)
>>> round(sim.series("frontend", "replicas")[1][-1])
3
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from hx.clock import SimClock
from hx.errors import BadInput, UnknownName
from hx.sim.history import INSTANCE_SIGNALS, SERVICE_SIGNALS, VERSION_SIGNALS, LevelHistory
from hx.sim.queueing import admit, mixture_quantiles
from hx.sim.spec import DEFAULT_START, FleetSpec
from hx.sim.world import World, not_found
from hx.telemetry.base import FloatArray

_Q = np.array([0.5, 0.95, 0.99])
_LN_TAIL = -np.log1p(-_Q)[:, None]
#: Error ratio of a replica whose disk is full (writes fail).
DISK_FULL_ERROR = 0.5
DISK_FULL = 0.98


@dataclass
class StepState:
    """The last step's arrays over the instances live at that step (``slots``, ascending)."""

    t: float
    slots: np.ndarray
    offered: FloatArray
    errors: FloatArray
    latency: FloatArray  # [3, n]
    cpu: FloatArray
    memory: FloatArray
    ready: np.ndarray
    utilization: FloatArray
    saturation: FloatArray

    def position(self, slot: int) -> int | None:
        """Index of an instance slot in this step's arrays, or None if it was not live then."""
        pos = int(np.searchsorted(self.slots, slot))
        return pos if pos < self.slots.size and self.slots[pos] == slot else None


class Simulation(World):
    """A deterministic, seeded, discrete-time fleet. ``step()`` advances ``step_s``; ``run_until(t)``
    steps up to ``t``. A given :class:`~hx.clock.SimClock` is moved forward with it (never back)."""

    def __init__(
        self,
        spec: FleetSpec,
        *,
        clock: SimClock | None = None,
        step_s: float = 60.0,
        start: datetime | None = None,
        history_mb: float = 256.0,
    ) -> None:
        start = start or (clock.now() if clock is not None else DEFAULT_START)
        super().__init__(spec, start, step_s)
        self.clock = clock if clock is not None else SimClock(self.start)
        self.rng = np.random.default_rng(spec.seed)
        self._noise = np.zeros(len(self.names))
        self.steps_done = 0
        self.last: StepState | None = None
        self._shares = np.zeros(0)
        self._init_history(history_mb)

    def _init_history(self, history_mb: float) -> None:
        budget = history_mb * 1e6 / 4  # float32 cells
        n_s, n_g, n_i = len(self.names), self.groups.n + 4, 2 * self.inst.n + 16
        year = int(366 * 86400 / self.step_s)
        svc_cells = len(SERVICE_SIGNALS) * n_s + len(VERSION_SIGNALS) * n_g
        keep = min(year, max(1440, int(0.6 * budget / svc_cells)))
        self.hist_service = LevelHistory(SERVICE_SIGNALS, keep)
        self.hist_version = LevelHistory(VERSION_SIGNALS, keep)
        inst_keep = min(year, max(60, int(0.4 * budget / (len(INSTANCE_SIGNALS) * n_i))))
        self.hist_instance = LevelHistory(INSTANCE_SIGNALS, inst_keep)

    # ---- time ----------------------------------------------------------------------------------

    def run(self, steps: int | None = None, seconds: float | None = None) -> None:
        """Run a number of steps, or as many as fit in ``seconds``."""
        if steps is None:
            if seconds is None:
                raise BadInput("give steps or seconds", field="steps")
            steps = int(seconds // self.step_s)
        for _ in range(steps):
            self.step()

    def run_until(self, when: datetime | float) -> int:
        """Step while a whole step fits before ``when``; returns the number of steps taken."""
        target = when.timestamp() if isinstance(when, datetime) else float(when)
        n = 0
        while self._t + self.step_s <= target + 1e-9:
            self.step()
            n += 1
        return n

    def step(self) -> None:
        """Simulate ``[t, t + step_s]``, record its signals at ``t + step_s``, advance the clock."""
        dt = self.step_s
        t0 = self._t
        if self._dirty:  # changes made since the last step take effect from t0
            self._reconcile()
        self._t = t0 + dt
        self.expire_faults()
        offered_s = self._propagate_load(self._external_load(t0, dt))
        self._advance_instances(dt)
        self._compute(offered_s, dt)
        self.steps_done += 1
        if self.clock.now().timestamp() < self._t:
            self.clock.set(self.now)

    # ---- traffic -------------------------------------------------------------------------------

    def _external_load(self, t0: float, dt: float) -> FloatArray:
        level = self.base_rate * self.shape.at(t0 + dt / 2 + self.phase) * self.surge
        sigma = self.shape.sigma * self.spec.noise_scale
        if sigma > 0:
            a = math.exp(-dt / self.spec.noise_tau_s)
            eps = self.rng.standard_normal(len(self.names))
            self._noise = a * self._noise + math.sqrt(1 - a * a) * sigma * eps
            level = level * np.exp(self._noise - sigma * sigma / 2)
        if not self.spec.poisson:
            return np.asarray(level, dtype=np.float64)
        return np.asarray(self.rng.poisson(level * dt) / dt, dtype=np.float64)

    def _propagate_load(self, ext: FloatArray) -> FloatArray:
        offered = ext.copy()
        for caller, callee, calls in self.down_levels:
            np.add.at(offered, callee, offered[caller] * calls)
        return offered

    # ---- replicas ------------------------------------------------------------------------------

    def _advance_instances(self, dt: float) -> None:
        """Leaks, disks and crash loops move on; an instance out of memory is killed and restarts."""
        inst, ix = self.inst, self.live()
        minutes = dt / 60.0
        inst.col("leak_mem")[ix] += inst.col("leak_rate")[ix] * minutes
        disk = inst.col("disk")
        disk[ix] = np.minimum(1.0, disk[ix] + inst.col("disk_rate")[ix] * minutes)
        inst.col("restarts")[ix[inst.col("crash")[ix]]] += minutes  # about one restart a minute under back-off
        oom = self.base_memory[inst.col("service")[ix]] + inst.col("leak_mem")[ix] >= 1.0
        if oom.any():
            self._restart_slots(ix[oom])

    def _compute(self, offered_s: FloatArray, dt: float) -> None:
        inst, grp, ix = self.inst, self.groups, self.live()
        svc, g = inst.col("service")[ix], inst.col("group")[ix]
        hog, crash = inst.col("hog")[ix], inst.col("crash")[ix]
        n_s, n_g = len(self.names), grp.n
        share = self._shares = self._version_shares()
        offered_g = offered_s[grp.col("service")] * share
        ready = (inst.col("ready_at")[ix] <= self._t) & ~crash
        n_ready_g = np.bincount(g[ready], minlength=n_g)
        mem_base = self.base_memory[svc] + inst.col("leak_mem")[ix]
        pressure = np.clip(1.0 - 3.0 * (mem_base - 0.9), 0.7, 1.0)
        mu = np.where(ready, self.cap[svc] * (1.0 - hog) / grp.col("slowdown")[g] * pressure, 0.0)
        offered_i = np.where(ready, offered_g[g] / np.maximum(n_ready_g[g], 1), 0.0)
        adm, drop = admit(offered_i, mu)
        unserved_g = np.where(n_ready_g == 0, offered_g, 0.0)
        safe_mu = np.where(ready, mu, 1.0)
        rho = np.where(ready, adm / safe_mu, 0.0)
        rate = np.where(ready, safe_mu - adm, 1.0)
        delay = self.base_latency[svc] + grp.col("extra_latency")[g] + self.dep_fail_lat[svc]
        weight = np.where(ready, adm + 1e-6 * safe_mu, 0.0)
        own_q = mixture_quantiles(
            np.concatenate([rate, rate]),
            np.concatenate([delay, delay]),
            np.concatenate([weight, weight]),
            np.concatenate([g, n_g + svc]),
            n_g + n_s,
        )
        disk_err = np.where(inst.col("disk")[ix] >= DISK_FULL, DISK_FULL_ERROR, 0.0)
        keep = (1.0 - self.base_error[svc] - grp.col("error_extra")[g]).clip(0, 1) * (1.0 - disk_err)
        e_i = 1.0 - keep * (1.0 - self.dep_fail_err[svc])
        own_err_n = np.bincount(svc, weights=drop + adm * e_i, minlength=n_s).astype(np.float64)
        own_err_n += np.bincount(grp.col("service"), weights=unserved_g, minlength=n_s)
        with np.errstate(invalid="ignore", divide="ignore"):
            own_err_s = np.where(offered_s > 0, own_err_n / offered_s, 0.0)
        dep_lat, dep_ok = self._health_up(own_q[:, n_g:], own_err_s)
        err_i = drop + adm * (1.0 - (1.0 - e_i) * dep_ok[svc])
        if self.spec.poisson:  # failures are counts too: Poisson around their expected number
            err_i = np.minimum(self.rng.poisson(err_i * dt) / dt, offered_i)
        lat_i = np.where(ready[None, :], delay[None, :] + _LN_TAIL / rate[None, :] + dep_lat[:, svc], np.nan)
        inst.col("req_total")[ix] += offered_i * dt
        inst.col("err_total")[ix] += err_i * dt
        inst.col("served_total")[ix] += adm * dt
        inst.col("latency_sum")[ix] += adm * dt * (delay + 1.0 / rate + dep_lat[0, svc])
        cpu = np.where(crash, 0.1, hog + (1.0 - hog) * (0.05 + 0.9 * rho))
        mem = np.minimum(mem_base + 0.25 * rho, 1.0)
        sat = np.where(ready, offered_i / safe_mu, 0.0)
        st = StepState(self._t, ix, offered_i, err_i, lat_i, cpu, mem, ready, rho, sat)
        self.last = st
        self._record(st, offered_s, offered_g, unserved_g, own_q, dep_lat, mu, adm, drop)

    def _version_shares(self) -> FloatArray:
        grp = self.groups
        w = np.where(grp.col("active"), grp.col("weight"), 0.0)
        tot = np.bincount(grp.col("service"), weights=w, minlength=len(self.names))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(np.where(tot[grp.col("service")] > 0, w / tot[grp.col("service")], 0.0))

    def _health_up(self, own_q: FloatArray, own_err: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(dependency latency [3, n_s], probability that all dependencies answer [n_s]), leaves first."""
        total_q = np.where(np.isnan(own_q), 0.0, own_q)
        dep_lat = np.zeros_like(total_q)
        log_ok_total = np.log(np.clip(1.0 - own_err, 1e-12, 1.0))
        dep_log_ok = np.zeros(len(self.names))
        for caller, callee, calls, callers in self.up_levels:
            for k in range(3):
                np.maximum.at(dep_lat[k], caller, total_q[k, callee])
            np.add.at(dep_log_ok, caller, calls * log_ok_total[callee])
            total_q[:, callers] += dep_lat[:, callers]
            log_ok_total[callers] += dep_log_ok[callers]
        return dep_lat, np.exp(dep_log_ok)

    # ---- recording -----------------------------------------------------------------------------

    def _record(
        self,
        st: StepState,
        offered_s: FloatArray,
        offered_g: FloatArray,
        unserved_g: FloatArray,
        own_q: FloatArray,
        dep_lat: FloatArray,
        mu: FloatArray,
        adm: FloatArray,
        drop: FloatArray,
    ) -> None:
        inst, grp, err_i, ix = self.inst, self.groups, st.errors, st.slots
        svc = inst.col("service")[ix]
        n_s, n_g = len(self.names), grp.n
        disk, restarts = inst.col("disk")[ix], inst.col("restarts")[ix]

        def by_s(x: np.ndarray) -> FloatArray:
            return np.asarray(np.bincount(svc, weights=x, minlength=n_s), dtype=np.float64)

        af = np.ones(ix.size)
        rf = st.ready.astype(np.float64)
        unserved_s = np.bincount(grp.col("service"), weights=unserved_g, minlength=n_s)
        err_s = by_s(err_i) + unserved_s
        n_alive_s, cap_s, adm_s = by_s(af), by_s(mu), by_s(adm)
        with np.errstate(invalid="ignore", divide="ignore"):
            err_ratio_s = np.where(offered_s > 0, err_s / offered_s, 0.0)
            sat_s = np.where(cap_s > 0, offered_s / cap_s, np.where(offered_s > 0, 10.0, 0.0))
            util_s = np.where(cap_s > 0, adm_s / cap_s, 0.0)
            cpu_s = by_s(st.cpu) / n_alive_s
            mem_s = by_s(st.memory) / n_alive_s
        lat_s = own_q[:, n_g:] + dep_lat
        disk_s = np.zeros(n_s)
        np.maximum.at(disk_s, svc, disk)
        desired = np.bincount(
            grp.col("service"), weights=np.where(grp.col("active"), grp.col("desired"), 0), minlength=n_s
        )
        slow = np.where(np.isnan(lat_s[2]), np.inf, lat_s[2]) > self.slo_p99
        slo = (slow & (offered_s > 0)) | (err_ratio_s > self.slo_err)
        self.hist_service.append(
            self._t,
            np.vstack(
                [
                    offered_s,
                    err_ratio_s,
                    lat_s,
                    cpu_s,
                    mem_s,
                    n_alive_s,
                    np.minimum(sat_s, 10.0),
                    by_s(rf),
                    desired,
                    util_s,
                    offered_s - err_s,
                    by_s(drop) + unserved_s,
                    disk_s,
                    by_s(restarts),
                    cap_s,
                    slo.astype(np.float64),
                ]
            ),
        )
        self._record_groups(st, offered_g, unserved_g, own_q[:, :n_g] + dep_lat[:, grp.col("service")], mu, adm)
        self.hist_instance.append(
            self._t,
            np.vstack(
                [
                    st.offered,
                    np.where(st.offered > 0, err_i / np.maximum(st.offered, 1e-12), 0.0),
                    st.latency,
                    st.cpu,
                    st.memory,
                    disk,
                    rf,
                    restarts,
                    st.utilization,
                ]
            ),
            rows=ix,
        )

    def _record_groups(
        self,
        st: StepState,
        offered_g: FloatArray,
        unserved_g: FloatArray,
        lat_g: FloatArray,
        mu: FloatArray,
        adm: FloatArray,
    ) -> None:
        inst, grp, err_i, ix = self.inst, self.groups, st.errors, st.slots
        g = inst.col("group")[ix]
        n_g = grp.n

        def by_g(x: np.ndarray) -> FloatArray:
            return np.asarray(np.bincount(g, weights=x, minlength=n_g), dtype=np.float64)

        n_alive = by_g(np.ones(ix.size))
        cap = by_g(mu)
        with np.errstate(invalid="ignore", divide="ignore"):
            err = np.where(offered_g > 0, (by_g(err_i) + unserved_g) / offered_g, 0.0)
            sat = np.where(cap > 0, offered_g / cap, np.where(offered_g > 0, 10.0, 0.0))
            util = np.where(cap > 0, by_g(adm) / cap, 0.0)
            cpu = by_g(st.cpu) / n_alive
            mem = by_g(st.memory) / n_alive
        frame = np.vstack(
            [
                offered_g,
                err,
                lat_g,
                cpu,
                mem,
                n_alive,
                np.minimum(sat, 10.0),
                by_g(st.ready.astype(np.float64)),
                util,
                self._shares,
                by_g(inst.col("restarts")[ix]),
            ]
        )
        self.hist_version.append(self._t, frame * np.where(grp.col("active"), 1.0, np.nan))

    # ---- reading -------------------------------------------------------------------------------

    def series(
        self,
        service: str,
        signal: str,
        version: str | None = None,
        instance: str | None = None,
        t_from: float = -np.inf,
        t_to: float = np.inf,
    ) -> tuple[FloatArray, FloatArray]:
        """Recorded ``(times, values)`` of a signal at service, version or instance level."""
        if instance is not None:
            slot = self.inst.index.get(instance)
            if slot is None or self.names[int(self.inst.col("service")[slot])] != service:
                raise not_found(f"instance of {service}", instance, self.instances(service))
            return self._column(self.hist_instance, signal, slot, t_from, t_to, "instance")
        if version is not None:
            return self._column(self.hist_version, signal, self.group_id(service, version), t_from, t_to, "version")
        return self._column(self.hist_service, signal, self.service_id(service), t_from, t_to, "service")

    @staticmethod
    def _column(
        h: LevelHistory, signal: str, row: int, t_from: float, t_to: float, level: str
    ) -> tuple[FloatArray, FloatArray]:
        if signal not in h.sig_index:
            raise UnknownName(f"{level} signal", signal, list(h.signals))
        return h.column(signal, row, t_from, t_to)
