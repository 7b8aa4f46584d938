"""Background jobs (hx.lab.jobs): state in the store, cancellable while queued or running, stopped on shutdown."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hx.clock import WallClock
from hx.errors import Cancelled, NotFound, Unsupported
from hx.lab.jobs import JobControl, Jobs
from hx.platform import Platform
from hx.store.state import EngineStateStore


@pytest.fixture
def jobs(platform: Platform) -> Iterator[Jobs]:
    j = Jobs(platform.store, WallClock(), kind="test", workers=1)
    yield j
    j.shutdown(timeout_s=2)


def _until(jobs: Jobs, job_id: str, states: tuple[str, ...], timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (job := jobs.get(job_id))["state"] not in states:
        assert time.monotonic() < deadline, job
        time.sleep(0.02)
    return job


def _sleeper(seconds: float) -> Callable[[JobControl], dict[str, Any]]:
    def work(control: JobControl) -> dict[str, Any]:
        control.progress(phase="sleeping")
        control.sleep(seconds)
        return {"slept": seconds}

    return work


def test_a_job_runs_off_the_caller_and_records_its_result(jobs: Jobs) -> None:
    published: list[dict[str, Any]] = []
    t0 = time.monotonic()
    job = jobs.submit("nap", {"s": 0.2}, _sleeper(0.2), published.append)
    assert time.monotonic() - t0 < 0.2 and job["state"] == "queued"
    done = _until(jobs, job["id"], ("done",))
    assert done["result"] == {"slept": 0.2} and published == [{"slept": 0.2}]
    assert done["progress"] == {"phase": "sleeping"} and done["started_at"] <= done["finished_at"]
    assert [j["id"] for j in jobs.list("done")] == [job["id"]]


def test_a_running_job_is_cancelled_within_a_second_and_a_queued_one_at_once(jobs: Jobs) -> None:
    running = jobs.submit("long", {}, _sleeper(3600))
    queued = jobs.submit("next", {}, _sleeper(3600))  # one worker: waits behind the first
    _until(jobs, running["id"], ("running",))
    assert jobs.cancel(queued["id"])["state"] == "cancelled"
    t0 = time.monotonic()
    jobs.cancel(running["id"])
    job = _until(jobs, running["id"], ("cancelled",), timeout=3)
    assert time.monotonic() - t0 < 2.5 and job["error"] == "cancelled on request"
    assert jobs.get(queued["id"])["state"] == "cancelled"  # and the worker never ran it


def test_a_cancel_through_the_store_reaches_the_process_running_the_job(jobs: Jobs, platform: Platform) -> None:
    job = jobs.submit("long", {}, _sleeper(3600))
    _until(jobs, job["id"], ("running",))
    other = Jobs(platform.store, WallClock(), kind="test")  # another replica: it does not run the job
    other.cancel(job["id"])
    assert _until(jobs, job["id"], ("cancelled",), timeout=4)["state"] == "cancelled"


def test_errors_fail_the_job_with_their_message(jobs: Jobs) -> None:
    def bad(control: JobControl) -> dict[str, Any]:
        raise Unsupported("no such drill", field="workload")

    job = jobs.submit("bad", {}, bad)
    assert _until(jobs, job["id"], ("failed",))["error"] == "no such drill"
    with pytest.raises(NotFound):
        jobs.get("nope")


def test_shutdown_stops_a_running_job_within_seconds_and_refuses_new_ones(jobs: Jobs) -> None:
    job = jobs.submit("long", {}, _sleeper(3600))
    _until(jobs, job["id"], ("running",))
    t0 = time.monotonic()
    jobs.shutdown(timeout_s=5)
    assert time.monotonic() - t0 < 2.5
    stopped = jobs.get(job["id"])
    assert stopped["state"] == "cancelled" and stopped["error"] == "the server is stopping"
    with pytest.raises(Cancelled):
        jobs.submit("late", {}, _sleeper(1))


def test_jobs_left_by_a_dead_process_end_failed(platform: Platform) -> None:
    import socket

    state = EngineStateStore(platform.store, "jobs:test")
    orphan = {"id": "o1", "state": "running", "created_at": "2026-01-01T00:00:00+00:00",
              "owner": f"{socket.gethostname()}:999999999"}  # fmt: skip
    state.put("o1", orphan, WallClock().now())
    jobs = Jobs(platform.store, WallClock(), kind="test")
    assert jobs.get("o1")["state"] == "failed" and "stopped" in jobs.get("o1")["error"]


def test_too_many_waiting_jobs_are_refused(jobs: Jobs) -> None:
    from hx.errors import Conflict
    from hx.lab.jobs import MAX_QUEUED

    first = jobs.submit("long", {}, _sleeper(3600))
    _until(jobs, first["id"], ("running",))
    for _ in range(MAX_QUEUED):
        jobs.submit("wait", {}, _sleeper(3600))
    with pytest.raises(Conflict, match="already waiting"):
        jobs.submit("one too many", {}, _sleeper(1))
