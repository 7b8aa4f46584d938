from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hx.clock import SimClock
from hx.events import RuntimeStepFailed
from hx.platform import Platform
from hx.runtime import Runtime


class Counter:
    def __init__(self, name: str, interval_s: float, fail_at: set[int] | None = None) -> None:
        self.name = name
        self.interval_s = interval_s
        self.calls: list[datetime] = []
        self.fail_at = fail_at or set()

    def step(self, now: datetime) -> None:
        self.calls.append(now)
        if len(self.calls) in self.fail_at:
            raise RuntimeError(f"boom at call {len(self.calls)}")


def test_engines_step_on_their_interval_in_simulated_time(platform: Platform) -> None:
    fast, slow = Counter("fast", 60), Counter("slow", 300)
    rt = Runtime(platform, [fast, slow])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = SimClock(start)
    rt.run_simulated(clock, start + timedelta(minutes=10), tick_s=60)
    assert len(fast.calls) == 10
    assert len(slow.calls) == 2


def test_a_crashing_engine_is_isolated_recorded_and_published(platform: Platform) -> None:
    bad, good = Counter("bad", 60, fail_at={2, 3}), Counter("good", 60)
    rt = Runtime(platform, [bad, good])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = SimClock(start)
    rt.run_simulated(clock, start + timedelta(minutes=3), tick_s=60)
    assert len(good.calls) == 3
    h = rt.health()
    assert h["bad"]["errors"] == 2 and h["bad"]["status"] == "failing"
    assert "boom at call 3" in h["bad"]["last_error"]
    assert h["good"]["status"] == "ok"
    rt.run_simulated(clock, start + timedelta(minutes=4), tick_s=60)
    assert rt.health()["bad"]["status"] == "ok"
    stored = rt.persisted()
    assert stored["bad"]["errors"] == 2 and stored["good"]["steps"] == 4
    failed = platform.bus.read(types=[RuntimeStepFailed])
    assert [e.subject for e in failed] == ["bad", "bad"]
    assert platform.metrics.engine_errors.labels("bad")._value.get() == 2


def test_two_replicas_on_one_store_step_each_engine_once_and_fail_over(platform: Platform) -> None:
    from hx.store.leases import LeaseManager

    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = SimClock(start)
    a_eng, b_eng = Counter("cycle", 60), Counter("cycle", 60)
    a, b = Runtime(platform, [a_eng]), Runtime(platform, [b_eng])
    a.enable_leases(LeaseManager(platform.store, clock, "replica-a"), ttl_s=30)
    b.enable_leases(LeaseManager(platform.store, clock, "replica-b"), ttl_s=30)
    for _ in range(10):  # both tick every 15 s for 150 s
        now = clock.advance(15)
        a.step_due(now)
        b.step_due(now)
    assert len(a_eng.calls) == 3 and b_eng.calls == []
    assert a.health()["cycle"]["role"] == "leader" and b.health()["cycle"]["role"] == "standby"
    for _ in range(6):  # replica a dies; b takes over once a's lease has run out
        b.step_due(clock.advance(15))
    assert len(b_eng.calls) >= 1 and b.health()["cycle"]["role"] == "leader"
    assert not a.leases.acquire("engine:cycle", 30)  # type: ignore[union-attr]
    b.release_leases()
    assert a.leases.acquire("engine:cycle", 30)  # type: ignore[union-attr]


def test_per_process_engines_ignore_leases(platform: Platform) -> None:
    from hx.store.leases import LeaseManager

    clock = SimClock(datetime(2026, 1, 1, tzinfo=UTC))
    mine, theirs = Counter("sim", 60), Counter("sim", 60)
    mine.per_process = theirs.per_process = True  # type: ignore[attr-defined]
    a, b = Runtime(platform, [mine]), Runtime(platform, [theirs])
    a.enable_leases(LeaseManager(platform.store, clock, "a"), 30)
    b.enable_leases(LeaseManager(platform.store, clock, "b"), 30)
    now = clock.advance(60)
    a.step_due(now)
    b.step_due(now)
    assert len(mine.calls) == len(theirs.calls) == 1 and a.health()["sim"]["role"] == "single"


def test_a_repeating_failure_is_published_once_and_counted_every_time(platform: Platform) -> None:
    """A server down for ten steps: one event and one traceback, ten errors counted; the recovery is seen."""
    down = Counter("down", 60, fail_at=set(range(1, 11)))
    down.step = lambda now: _fail_same(down, now)  # type: ignore[method-assign]
    rt = Runtime(platform, [down])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = SimClock(start)
    rt.run_simulated(clock, start + timedelta(minutes=10), tick_s=60)
    h = rt.health()["down"]
    assert h["errors"] == 10 and h["status"] == "failing"
    assert len(platform.bus.read(types=[RuntimeStepFailed])) == 1
    rt.run_simulated(clock, start + timedelta(minutes=11), tick_s=60)
    assert rt.health()["down"]["status"] == "ok"


def _fail_same(c: Counter, now: datetime) -> None:
    c.calls.append(now)
    if len(c.calls) in c.fail_at:
        raise ConnectionError("prometheus at 127.0.0.1:9 is down")


class Sleeper:
    """An engine whose step takes ``seconds`` of wall time, or stops early when the runtime says time is up."""

    def __init__(self, name: str, seconds: float, cooperative: bool = False) -> None:
        self.name, self.interval_s, self.seconds, self.cooperative = name, 1.0, seconds, cooperative
        self.left: list[float] = []

    def step(self, now: datetime) -> None:
        import time

        from hx.engine import step_time_left

        end = time.monotonic() + self.seconds
        while time.monotonic() < end:
            self.left.append(step_time_left())
            if self.cooperative and step_time_left() <= 0:
                return
            time.sleep(0.05)


def test_a_step_over_its_bound_is_shown_slow_and_published(platform: Platform) -> None:
    rt = Runtime(platform, [Sleeper("slow", 1.3), Sleeper("polite", 5.0, cooperative=True)])
    rt.step_bound_s = 1.0
    rt.step_due(datetime(2026, 1, 1, tzinfo=UTC))
    h = rt.health()
    assert h["slow"]["status"] == "slow" and h["slow"]["over_bound"] == 1 and h["slow"]["max_duration_s"] >= 1.3
    assert h["polite"]["status"] == "ok" and h["polite"]["max_duration_s"] < 1.0  # it stopped before its bound
    failed = platform.bus.read(types=[RuntimeStepFailed])
    assert [e.subject for e in failed] == ["slow"] and "over its bound" in failed[0].data["error"]


def test_the_lease_is_renewed_during_a_step_until_its_bound(platform: Platform) -> None:
    import threading
    import time

    from hx.clock import WallClock
    from hx.store.leases import LeaseManager

    rt = Runtime(platform, [Sleeper("long", 5.5)])
    rt.enable_leases(LeaseManager(platform.store, WallClock(), "replica-a"), ttl_s=3)  # bound: 1.5 s
    other = LeaseManager(platform.store, WallClock(), "replica-b")
    seen: dict[str, bool] = {}

    def probe() -> None:
        time.sleep(3.3)  # past the lease's first life: held only because the step renewed it
        seen["mid_step"] = other.acquire("engine:long", 3)
        time.sleep(1.7)  # renewals stopped at the bound, so the lease has lapsed: another replica may take over
        seen["after_bound"] = other.acquire("engine:long", 3)

    t = threading.Thread(target=probe)
    t.start()
    rt.step_due(datetime.now(UTC))
    t.join()
    assert seen == {"mid_step": False, "after_bound": True}
    assert rt.health()["long"]["status"] == "slow"


def test_simulated_time_does_not_bound_a_step_so_no_work_is_deferred_on_a_busy_machine(platform: Platform) -> None:
    # the demo and the benchmarks run in simulated time: a step taking long in wall time delays nothing there, and
    # deferring work because the machine is busy made their figures depend on its load
    slow, polite = Sleeper("slow", 1.3), Sleeper("polite", 1.3, cooperative=True)
    rt = Runtime(platform, [slow, polite])
    rt.step_bound_s = 1.0
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rt.run_simulated(SimClock(start), start + timedelta(seconds=1), tick_s=1)
    h = rt.health()
    assert h["slow"]["status"] == "ok" and h["slow"]["over_bound"] == 0 and h["slow"]["max_duration_s"] >= 1.3
    assert h["polite"]["max_duration_s"] >= 1.3 and math.inf in polite.left  # it was never told time is up
    assert platform.bus.read(types=[RuntimeStepFailed]) == []
