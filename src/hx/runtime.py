"""The runtime steps engines: on a wall-clock schedule in ``hx serve``, in simulated time in ``hx demo``.

Every step is bounded in time (``server.step_bound_s``, at most half the lease's life): while a step runs, a
heartbeat renews the engine's lease, so no other replica takes the engine over mid-step; an engine asks
:func:`hx.engine.step_time_left` and stops its work (to go on at the next step) when the bound is near.  A step that
outlives its bound anyway is abandoned: its lease is no longer renewed (a healthy replica may take over), and it is
counted and shown in ``/health`` (``slow``) and published.  In simulated time (:meth:`Runtime.run_simulated`) steps
are not bounded: the simulated clock waits for them, so a simulated run does the same work on any machine.

A crash in one engine's step is logged, counted, recorded in ``engine_runs``, published as a
``runtime.step_failed`` event and shown in ``/health``; it does not stop the other engines.  While the same
error repeats (a server down), only its first occurrence is logged with the traceback and published; then one
log line every ``REPEAT_LOG_EVERY`` failures, and one when the engine recovers.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hx.clock import SimClock
from hx.engine import STEP_DEADLINE, WORK_SHARE, Engine, Learning, learning_of
from hx.events import RuntimeStarted, RuntimeStepFailed
from hx.platform import Platform
from hx.store.leases import LeaseManager
from hx.store.tables import engine_runs

log = logging.getLogger(__name__)

#: while an engine keeps failing with the same error, log it again (one line) every this many steps
REPEAT_LOG_EVERY = 20
#: how long a stopping server waits for an engine step in progress before leaving it behind
STOP_GRACE_S = 3.0


@dataclass
class EngineStatus:
    name: str
    steps: int = 0
    errors: int = 0
    consecutive_errors: int = 0
    last_step_at: datetime | None = None
    last_error: str | None = None
    last_duration_s: float | None = None
    next_due: datetime | None = None
    role: str = "single"  # "single" (no leases), "leader" (holds the engine's lease) or "standby"
    max_duration_s: float = 0.0
    over_bound: int = 0
    last_over_bound: bool = False

    def to_json(self, learning: Learning | None = None) -> dict[str, Any]:
        status = "failing" if self.consecutive_errors else "learning" if learning is not None else "ok"
        if status == "ok" and self.last_over_bound:
            status = "slow"
        extra = {"learning": learning.to_json()} if learning is not None else {}
        return {
            "max_duration_s": self.max_duration_s,
            "over_bound": self.over_bound,
            "status": status,
            **extra,
            "steps": self.steps,
            "errors": self.errors,
            "last_step_at": self.last_step_at.isoformat() if self.last_step_at else None,
            "last_error": self.last_error,
            "last_duration_s": self.last_duration_s,
            "role": self.role,
        }


class Runtime:
    """Steps engines.  With leases enabled (``hx serve`` on a shared store), each engine is stepped only by the
    replica holding its lease; the others stand by and take over when the holder stops renewing.  Engines that
    mark themselves ``per_process = True`` (the embedded sim) are stepped by every process."""

    def __init__(self, platform: Platform, engines: Sequence[Engine]) -> None:
        self.platform = platform
        self.engines = list(engines)
        self.status: dict[str, EngineStatus] = {e.name: EngineStatus(e.name) for e in self.engines}
        self.leases: LeaseManager | None = None
        self.lease_ttl_s = 30.0
        self._lease_until: dict[str, datetime] = {}
        self._lease_retry: dict[str, datetime] = {}
        self.step_bound_s = float(platform.settings.server.step_bound_s)

    def add(self, engine: Engine) -> None:
        self.engines.append(engine)
        self.status[engine.name] = EngineStatus(engine.name)

    def enable_leases(self, leases: LeaseManager, ttl_s: float) -> None:
        self.leases, self.lease_ttl_s = leases, ttl_s

    def step_due(self, now: datetime, bounded: bool = True) -> int:
        """Step every engine whose interval has elapsed (and whose lease this process holds); return how many ran.

        ``bounded=False`` (simulated time): no step is bounded in wall time (:meth:`run_simulated`)."""
        ran = 0
        for engine in self.engines:
            st = self.status[engine.name]
            if not self._leads(engine, st, now):
                continue
            if st.next_due is not None and now < st.next_due:
                continue
            self._step_one(engine, st, now, bounded)
            st.next_due = now + timedelta(seconds=engine.interval_s)
            ran += 1
        return ran

    def _leads(self, engine: Engine, st: EngineStatus, now: datetime) -> bool:
        """Hold (renewing at half its life) or try to take the engine's lease; standbys retry at a quarter."""
        if self.leases is None or getattr(engine, "per_process", False):
            return True
        ttl = self.lease_ttl_s
        held_until = self._lease_until.get(engine.name)
        if held_until is not None and now < held_until - timedelta(seconds=ttl / 2):
            return True
        retry = self._lease_retry.get(engine.name)
        if held_until is None and retry is not None and now < retry:
            return False
        if self.leases.acquire(f"engine:{engine.name}", ttl):
            self._lease_until[engine.name] = now + timedelta(seconds=ttl)
            if st.role != "leader":
                log.info("engine %s: this process (%s) leads", engine.name, self.leases.holder)
            st.role = "leader"
            return True
        if st.role == "leader":
            log.warning("engine %s: lost its lease to another replica", engine.name)
        self._lease_until.pop(engine.name, None)
        self._lease_retry[engine.name] = now + timedelta(seconds=ttl / 4)
        st.role = "standby"
        return False

    def release_leases(self) -> None:
        if self.leases is None:
            return
        for name in list(self._lease_until):
            self.leases.release(f"engine:{name}")
            self.status[name].role = "standby"
        self._lease_until.clear()

    def bound_s(self) -> float:
        """The time bound of one step: ``server.step_bound_s``, and at most half the lease's life with leases."""
        return min(self.step_bound_s, self.lease_ttl_s / 2) if self.leases is not None else self.step_bound_s

    def _heartbeat(self, engine: Engine, done: threading.Event) -> threading.Thread | None:
        """Renew the engine's lease every quarter of its life while the step runs, until the step's bound."""
        leases = self.leases
        if leases is None or getattr(engine, "per_process", False):
            return None
        ttl, bound, t0 = self.lease_ttl_s, self.bound_s(), time.monotonic()

        def beat() -> None:
            while not done.wait(ttl / 4) and time.monotonic() - t0 < bound:
                if leases.acquire(f"engine:{engine.name}", ttl):
                    self._lease_until[engine.name] = self.platform.clock.now() + timedelta(seconds=ttl)

        thread = threading.Thread(target=beat, name=f"hx-lease-{engine.name}", daemon=True)
        thread.start()
        return thread

    def _step_one(self, engine: Engine, st: EngineStatus, now: datetime, bounded: bool = True) -> None:
        m = self.platform.metrics
        t0 = time.perf_counter()
        done = threading.Event()
        beat = self._heartbeat(engine, done)
        token = STEP_DEADLINE.set(time.monotonic() + WORK_SHARE * self.bound_s() if bounded else None)
        try:
            engine.step(now)
        except Exception as err:  # isolation: recorded, counted, surfaced, published; others go on
            error = f"{type(err).__name__}: {err}"
            repeat = st.consecutive_errors > 0 and error == st.last_error
            st.errors += 1
            st.consecutive_errors += 1
            st.last_error = error
            m.engine_errors.labels(engine.name).inc()
            if not repeat:
                log.error("engine %s failed at %s:\n%s", engine.name, now.isoformat(), traceback.format_exc())
                self.platform.bus.publish(
                    RuntimeStepFailed(engine=engine.name, error=error), source="runtime", subject=engine.name
                )
            elif st.consecutive_errors % REPEAT_LOG_EVERY == 0:
                log.error("engine %s still failing (%d steps in a row): %s", engine.name, st.consecutive_errors, error)
        else:
            if st.consecutive_errors:
                log.warning("engine %s recovered after %d failed steps", engine.name, st.consecutive_errors)
            st.consecutive_errors = 0
        finally:
            STEP_DEADLINE.reset(token)
            done.set()
            if beat is not None:
                beat.join()
            dt = time.perf_counter() - t0
            st.steps += 1
            st.last_step_at = now
            st.last_duration_s = dt
            if bounded:
                self._check_bound(engine, st, dt)
            else:
                st.max_duration_s = max(st.max_duration_s, dt)
            m.engine_steps.labels(engine.name).inc()
            m.engine_step_seconds.labels(engine.name).observe(dt)
            self._record(st)

    def _check_bound(self, engine: Engine, st: EngineStatus, dt: float) -> None:
        st.max_duration_s = max(st.max_duration_s, dt)
        st.last_over_bound = dt > self.bound_s()
        if st.last_over_bound:
            st.over_bound += 1
            error = f"step took {dt:.1f} s, over its bound of {self.bound_s():.1f} s (lease no longer renewed)"
            log.error("engine %s: %s", engine.name, error)
            self.platform.bus.publish(RuntimeStepFailed(engine=engine.name, error=error), source="runtime",
                                      subject=engine.name)  # fmt: skip

    def _record(self, st: EngineStatus) -> None:
        store = self.platform.store
        values = {
            "engine": st.name,
            "steps": st.steps,
            "errors": st.errors,
            "last_step_at": st.last_step_at,
            "last_error": st.last_error,
            "last_duration_s": st.last_duration_s,
        }
        ins = sqlite_insert(engine_runs) if store.dialect == "sqlite" else pg_insert(engine_runs)
        stmt = ins.values(**values).on_conflict_do_update(
            index_elements=[engine_runs.c.engine], set_={k: v for k, v in values.items() if k != "engine"}
        )
        with store.begin() as conn:
            conn.execute(stmt)

    def health(self) -> dict[str, Any]:
        now = self.platform.clock.now()
        out = {}
        for e in self.engines:
            st = self.status[e.name]  # a standby learns nothing here: the leader's process reports it
            out[e.name] = st.to_json(None if st.role == "standby" else learning_of(e, now))
        return out

    def persisted(self) -> dict[str, dict[str, Any]]:
        """Engine run records as stored (what another process sees)."""
        with self.platform.store.begin() as conn:
            return {r.engine: dict(r._mapping) for r in conn.execute(select(engine_runs))}

    # ---- schedules -------------------------------------------------------------------------

    def run_simulated(
        self,
        clock: SimClock,
        until: datetime,
        tick_s: float,
        on_tick: Callable[[datetime], None] | None = None,
    ) -> int:
        """Advance simulated time to ``until`` in ``tick_s`` ticks, stepping due engines each tick.

        Steps are not bounded in wall time here: simulated time waits for them, so an engine never defers work to
        a later step because the machine is busy, and what a simulated run (the demo, a benchmark) does and
        measures does not depend on the machine's speed or load."""
        ticks = 0
        while clock.now() < until:
            now = clock.advance(tick_s)
            if on_tick is not None:
                on_tick(now)
            self.step_due(now, bounded=False)
            ticks += 1
        return ticks

    async def run_wall(self, stop: asyncio.Event, tick_s: float = 1.0, grace_s: float = STOP_GRACE_S) -> None:
        """Step due engines on wall-clock time until ``stop`` is set.

        Steps run in a daemon thread.  Once ``stop`` is set (SIGTERM), a step in progress gets ``grace_s`` to
        finish and is then left behind -- the process is exiting, as it would on a kill, and every write is a
        transaction -- so the server stops within seconds whatever an engine is doing.
        """
        self.platform.bus.publish(RuntimeStarted(engines=[e.name for e in self.engines]), source="runtime")
        while not stop.is_set():
            step = _in_daemon_thread(self.step_due, self.platform.clock.now())
            if not await _finished_or_abandoned(step, stop, grace_s):
                log.warning("stopping with an engine step still running after %.0f s; it is abandoned", grace_s)
                break
            try:
                await asyncio.wait_for(stop.wait(), timeout=tick_s)
            except TimeoutError:
                continue
        if not await _finished_or_abandoned(_in_daemon_thread(self.release_leases), None, grace_s):
            log.warning("engine leases not released in %.0f s; they expire on their own", grace_s)


def _in_daemon_thread(fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    """Run ``fn`` in a new daemon thread (which never holds up the interpreter's exit); its result as a future."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if fut.done():
            return
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(result)

    def run() -> None:
        result, error = None, None
        try:
            result = fn(*args)
        except BaseException as err:  # handed to the awaiting task, which re-raises it
            error = err
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:
            pass  # the loop has closed: nobody waits for this step any more

    threading.Thread(target=run, name="hx-runtime-step", daemon=True).start()
    return fut


async def _finished_or_abandoned(work: asyncio.Future[Any], stop: asyncio.Event | None, grace_s: float) -> bool:
    """Wait for ``work``; once ``stop`` is set (or at once when there is none) wait at most ``grace_s`` more.
    True when it finished (its error, if any, raised here), False when it was left behind."""
    if stop is not None:
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
    if not work.done():
        try:
            await asyncio.wait_for(asyncio.shield(work), timeout=grace_s)
        except TimeoutError:
            return False
    work.result()
    return True
