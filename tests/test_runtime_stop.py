"""Stopping the wall-clock runtime (SIGTERM in `hx serve`): an engine step in progress does not hold it up."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime

from hx.platform import Platform
from hx.runtime import Runtime


class Stuck:
    """An engine whose step takes far longer than anyone waits for a stopping server."""

    name = "stuck"
    interval_s = 1.0

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def step(self, now: datetime) -> None:
        self.started.set()
        self.release.wait(30)


class Quick:
    name = "quick"
    interval_s = 0.01

    def __init__(self) -> None:
        self.steps = 0

    def step(self, now: datetime) -> None:
        self.steps += 1


def _run(runtime: Runtime, stop_when: threading.Event, grace_s: float) -> float:
    async def main() -> float:
        stop = asyncio.Event()
        task = asyncio.create_task(runtime.run_wall(stop, tick_s=0.01, grace_s=grace_s))
        while not stop_when.is_set():
            await asyncio.sleep(0.01)
        t0 = time.monotonic()
        stop.set()
        await task
        return time.monotonic() - t0

    return asyncio.run(main())


def test_a_stuck_step_is_left_behind_after_the_grace(platform: Platform) -> None:
    stuck = Stuck()
    took = _run(Runtime(platform, [stuck]), stuck.started, grace_s=0.5)
    assert 0.4 < took < 2.0
    stuck.release.set()


def test_a_quick_runtime_stops_at_once(platform: Platform) -> None:
    quick = Quick()
    began = threading.Event()
    threading.Timer(0.3, began.set).start()
    took = _run(Runtime(platform, [quick]), began, grace_s=5.0)
    assert took < 1.0 and quick.steps >= 1
