"""Long operations (DR drills) as background jobs with their own state, never in an API worker thread.

A job is queued, runs in one of a few daemon worker threads, and ends ``done``, ``failed`` or ``cancelled``;
its state (progress, result or error, who owns it) is a row of the engine-state store, so every replica of
the API lists and reads the same jobs.  Cancelling sets the job's flag (in the store, so a replica that does
not run it can cancel it too); the job sees it at its next wait -- every wait is a :meth:`JobControl.sleep`
of at most a second at a time -- and stops.  :meth:`Jobs.shutdown` (on SIGTERM, from the app's lifespan)
cancels every job of this process and waits a few seconds at most, so the server stops within seconds with a
drill in flight.

>>> import tempfile, time
>>> from hx.clock import WallClock
>>> from hx.store import Store
>>> store = Store(f"sqlite:///{tempfile.mkdtemp()}/hx.db"); store.upgrade()
>>> jobs = Jobs(store, WallClock(), kind="example")
>>> job = jobs.submit("add", {"a": 1}, lambda control: {"sum": 1 + 1})
>>> for _ in range(200):
...     if jobs.get(job["id"])["state"] == "done":
...         break
...     time.sleep(0.01)
>>> jobs.get(job["id"])["result"]
{'sum': 2}
>>> jobs.shutdown()
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from hx.clock import Clock
from hx.errors import Cancelled, Conflict, HxError, NotFound
from hx.store import Store
from hx.store.state import EngineStateStore, StateValue

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
FINISHED = ("done", "failed", "cancelled")
#: the most finished jobs kept (older ones are dropped when a job is submitted)
KEEP_FINISHED = 200
#: the most jobs of one process waiting for a worker; more are refused (409) rather than piled up
MAX_QUEUED = 20


class JobControl:
    """What a running job uses to wait (cancellably), check for cancellation and report progress."""

    def __init__(self, jobs: Jobs, job_id: str, cancel: threading.Event) -> None:
        self.jobs, self.job_id, self.cancel = jobs, job_id, cancel
        self._polled = self._reported = -1.0

    def check(self) -> None:
        """Raise :class:`Cancelled` when the job was cancelled (here or through the store by another replica)."""
        if not self.cancel.is_set() and time.monotonic() - self._polled >= 1.0:
            self._polled = time.monotonic()
            if self.jobs.state.get(_cancel_key(self.job_id)) is not None:
                self.cancel.set()
        if self.cancel.is_set():
            raise Cancelled(f"job {self.job_id} cancelled", job=self.job_id)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of wall time, a second at a time, stopping at once when cancelled."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.check()
            self.cancel.wait(min(1.0, left))
        self.check()

    def progress(self, **fields: Any) -> None:
        """Record how far the job is (written at most once a second)."""
        if time.monotonic() - self._reported >= 1.0:
            self._reported = time.monotonic()
            self.jobs._update(self.job_id, progress=fields)


Work = Callable[[JobControl], dict[str, Any]]


@dataclass
class _Queued:
    job_id: str
    work: Work
    on_done: Callable[[dict[str, Any]], None] | None


class Jobs:
    """Background jobs of one ``kind`` (``dr-drill``): ``submit``, ``get``, ``list``, ``cancel``, ``shutdown``."""

    def __init__(self, store: Store, clock: Clock, *, kind: str, workers: int = 2) -> None:
        self.state = EngineStateStore(store, f"jobs:{kind}")
        self.clock, self.kind, self.workers = clock, kind, workers
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._queue: queue.Queue[_Queued | None] = queue.Queue()
        self._cancel: dict[str, threading.Event] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = False
        self._fail_orphans()

    # ---- state ------------------------------------------------------------------------------

    def _now(self) -> str:
        return self.clock.now().isoformat()

    def _update(self, job_id: str, **fields: Any) -> StateValue:
        with self._lock:
            job = self.state.get(job_id) or {}
            job.update(fields)
            self.state.put(job_id, job, self.clock.now())
        return job

    def _jobs(self) -> list[StateValue]:
        """Every job row (cancel requests are rows of their own, so that no write of a job's state loses one)."""
        return [v for k, v in self.state.all().items() if not k.endswith(CANCEL_SUFFIX)]

    def get(self, job_id: str) -> StateValue:
        job = self.state.get(job_id)
        if job is None:
            raise NotFound(f"no {self.kind} job {job_id!r}", job=job_id)
        return job

    def list(self, state: str | None = None) -> list[StateValue]:
        jobs = sorted(self._jobs(), key=lambda j: str(j.get("created_at")), reverse=True)
        return [j for j in jobs if state is None or j.get("state") == state]

    def _fail_orphans(self) -> None:
        """Jobs left queued or running by a process of this host that is gone end ``failed``."""
        host = socket.gethostname()
        for job in self._jobs():
            owner = str(job.get("owner", ""))
            name, _, pid = owner.rpartition(":")
            if job.get("state") in FINISHED or name != host or not pid.isdigit() or _alive(int(pid)):
                continue
            self._update(job["id"], state="failed", finished_at=self._now(), error="the server running it stopped")

    # ---- life of a job ------------------------------------------------------------------------

    def submit(
        self, title: str, params: dict[str, Any], work: Work, on_done: Callable[[dict[str, Any]], None] | None = None
    ) -> StateValue:
        """Queue ``work`` (called with a :class:`JobControl`; returns the result); return the job as stored."""
        if self._stopping:
            raise Cancelled("the server is stopping; no new jobs are taken")
        if self._queue.qsize() >= MAX_QUEUED:
            raise Conflict(
                f"{self._queue.qsize()} {self.kind} jobs are already waiting; try again when some have finished",
                queued=self._queue.qsize(),
            )
        job_id = uuid.uuid4().hex[:16]
        job: StateValue = {"id": job_id, "kind": self.kind, "title": title, "params": params, "state": "queued",
                           "created_at": self._now(), "owner": self.owner, "progress": {}}  # fmt: skip
        self.state.put(job_id, job, self.clock.now())
        self._cancel[job_id] = threading.Event()
        self._prune()
        self._ensure_workers()
        self._queue.put(_Queued(job_id, work, on_done))
        return job

    def cancel(self, job_id: str) -> StateValue:
        """Ask a job to stop; a queued one is cancelled at once, a running one at its next wait."""
        job = self.get(job_id)
        if job.get("state") in FINISHED:
            return job
        event = self._cancel.get(job_id)
        if event is not None:
            event.set()
        if job.get("state") == "queued" and event is not None:
            return self._update(job_id, state="cancelled", cancel_requested=True, finished_at=self._now())
        self.state.put(_cancel_key(job_id), {"requested_at": self._now(), "by": self.owner}, self.clock.now())
        return {**job, "cancel_requested": True}

    def _ensure_workers(self) -> None:
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            while len(self._threads) < self.workers:
                t = threading.Thread(target=self._work, name=f"hx-{self.kind}-job", daemon=True)
                t.start()
                self._threads.append(t)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            self._run(item)

    def _run(self, item: _Queued) -> None:
        cancel = self._cancel.setdefault(item.job_id, threading.Event())
        if cancel.is_set() or self.get(item.job_id).get("state") != "queued":
            return
        self._update(item.job_id, state="running", started_at=self._now())
        try:
            result = item.work(JobControl(self, item.job_id, cancel))
        except Cancelled:
            why = "the server is stopping" if self._stopping else "cancelled on request"
            fields = {"cancel_requested": True} if not self._stopping else {}
            self._update(item.job_id, state="cancelled", finished_at=self._now(), error=why, **fields)
        except HxError as err:
            self._update(item.job_id, state="failed", finished_at=self._now(), error=str(err))
        except Exception as err:
            log.exception("%s job %s failed", self.kind, item.job_id)
            self._update(item.job_id, state="failed", finished_at=self._now(), error=f"{type(err).__name__}: {err}")
            raise
        else:
            if item.on_done is not None:  # before "done": whoever sees the job done sees what it published
                item.on_done(result)
            self._update(item.job_id, state="done", finished_at=self._now(), result=result)
        finally:
            self._cancel.pop(item.job_id, None)

    def _prune(self) -> None:
        finished = [j for j in self.list() if j.get("state") in FINISHED]
        if len(finished) > KEEP_FINISHED:
            old = [str(j["id"]) for j in finished[KEEP_FINISHED:]]
            self.state.delete(old + [_cancel_key(k) for k in old])

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Cancel every job of this process and wait for the workers (at most ``timeout_s``)."""
        self._stopping = True
        for event in list(self._cancel.values()):
            event.set()
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        for job in self.list():
            if job.get("owner") == self.owner and job.get("state") not in FINISHED:
                self._update(job["id"], state="cancelled", finished_at=self._now(), error="the server is stopping")


CANCEL_SUFFIX = ".cancel"


def _cancel_key(job_id: str) -> str:
    return job_id + CANCEL_SUFFIX


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
