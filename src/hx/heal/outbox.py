"""The notification outbox: the self-healing step enqueues, a worker delivers, with retries, off the engine step.

Every message to every notifier is a row of ``heal_outbox`` with its delivery state: ``pending`` (due at
``next_attempt_at``), ``sending`` (claimed by one worker until ``claimed_until``), ``sent`` or ``failed``, plus
``attempts`` and ``last_error``.  :meth:`Outbox.enqueue` is the one place a notification enters (a silence or
maintenance-window check sits in front of it).  :class:`OutboxWorker` claims one due row at a time with a
conditional UPDATE, so with several replicas each row is delivered by one worker only, and makes one attempt per
claim (the notifier's own retries are off); a failure is retried after ``backoff_s``, doubling, up to
``max_attempts``.  A row that fails for good is escalated: a ``notification.failed`` event, a timeline entry, and
a message to the other notifiers naming the one that failed.  A notifier whose latest delivery failed shows as
failing in ``/health`` (:meth:`Outbox.health`).  A delivery pass that fails (the store unreachable, a bug) is
recorded by the worker (:class:`PassRecord`: last error, since when, failures in a row), shown in ``/health`` as
failing and published as a ``runtime.step_failed`` event (``engine`` = ``notify-outbox``) once per new error; the
thread stops on shutdown (:meth:`OutboxWorker.stop`, on the platform's ``on_shutdown`` list).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update

from hx.clock import Clock
from hx.events import NotificationFailed, NotificationSent, RuntimeStepFailed
from hx.events.bus import EventBus
from hx.heal.notify import Delivery, Notification, Notifier
from hx.heal.records import IncidentRepo
from hx.heal.tables import heal_outbox
from hx.severity import Severity
from hx.store import Store

log = logging.getLogger(__name__)

#: how long a claim lasts: longer than one attempt can take (the notifier's time limit), so no second worker
#: delivers a row while the first is still talking to the sink
CLAIM_MARGIN_S = 30.0
MAX_BACKOFF_S = 600.0
ESCALATION_EVENT = "notifier_failed"
#: the name the delivery thread's failures are published under (``runtime.step_failed``'s ``engine``)
WORKER_NAME = "notify-outbox"
#: while the same error repeats, log it once every this many passes
REPEAT_LOG_EVERY = 100


@dataclass
class PassRecord:
    """The delivery thread's passes: when the last one succeeded, and the failures in a row since then."""

    last_ok_at: datetime | None = None
    last_error: str | None = None
    failing_since: datetime | None = None
    consecutive_failures: int = 0
    failures: int = 0

    def succeeded(self, now: datetime) -> None:
        if self.consecutive_failures:
            log.warning("notification outbox recovered after %d failed passes", self.consecutive_failures)
        self.last_ok_at, self.consecutive_failures, self.failing_since = now, 0, None

    def failed(self, now: datetime, error: str) -> bool:
        """Count a failed pass; True when it is a new failure (the first in a row, or another error)."""
        new = self.consecutive_failures == 0 or error != self.last_error
        self.failures += 1
        self.consecutive_failures += 1
        self.last_error = error
        if self.failing_since is None:
            self.failing_since = now
        return new

    def to_json(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t is not None else None

        return {"last_ok_at": iso(self.last_ok_at), "last_error": self.last_error,
                "failing_since": iso(self.failing_since), "consecutive_failures": self.consecutive_failures,
                "failures": self.failures}  # fmt: skip


@dataclass(frozen=True)
class OutboxItem:
    """One queued notification to one notifier."""

    id: int
    incident_id: int | None
    notifier: str
    event: str
    level: int | None
    message: Notification
    attempts: int


class Outbox:
    """The ``heal_outbox`` table: enqueue, claim, and record each attempt's outcome."""

    def __init__(self, store: Store, clock: Clock, holder: str) -> None:
        self.store, self.clock, self.holder = store, clock, holder

    def enqueue(self, notifier: str, message: Notification, event: str, level: int | None) -> Delivery:
        """Queue ``message`` for ``notifier`` (the one entry point); the Delivery says it was queued, not sent."""
        now = self.clock.now()
        iid = int(message.incident_id) if message.incident_id.isdigit() else None
        values = {"incident_id": iid, "notifier": notifier, "event": event, "level": level, "state": "pending",
                  "message": message.to_dict(), "attempts": 0, "next_attempt_at": now, "created_at": now,
                  "updated_at": now}  # fmt: skip
        with self.store.begin() as conn:
            conn.execute(insert(heal_outbox).values(**values))
        return Delivery(notifier=notifier, ok=True, attempts=0, reply="queued", dedup_key=message.dedup_key,
                        incident_id=message.incident_id, event=event, level=level)  # fmt: skip

    def claim(self, claim_s: float) -> OutboxItem | None:
        """Take the oldest due row (pending and due, or a claim that ran out); None when nothing is due."""
        now = self.clock.now()
        c = heal_outbox.c
        due = or_(
            and_(c.state == "pending", c.next_attempt_at <= now), and_(c.state == "sending", c.claimed_until < now)
        )
        with self.store.begin() as conn:
            for row in conn.execute(select(heal_outbox).where(due).order_by(c.id).limit(5)):
                res = conn.execute(
                    update(heal_outbox).where(c.id == row.id, due)
                    .values(state="sending", claimed_by=self.holder, updated_at=now,
                            claimed_until=now + timedelta(seconds=claim_s))
                )  # fmt: skip
                if res.rowcount == 1:
                    return OutboxItem(int(row.id), row.incident_id, row.notifier, row.event, row.level,
                                      Notification.from_dict(row.message), int(row.attempts))  # fmt: skip
        return None

    def finish(self, item: OutboxItem, state: str, error: str | None, next_at: datetime | None = None) -> bool:
        """Record one attempt: ``sent``, ``pending`` again (``next_at``) or ``failed``; False if the claim was lost."""
        now = self.clock.now()
        values: dict[str, Any] = {"state": state, "attempts": item.attempts + 1, "last_error": error,
                                  "updated_at": now, "claimed_by": None, "claimed_until": None}  # fmt: skip
        if state == "sent":
            values["sent_at"] = now
        if next_at is not None:
            values["next_attempt_at"] = next_at
        c = heal_outbox.c
        with self.store.begin() as conn:
            res = conn.execute(update(heal_outbox).where(c.id == item.id, c.claimed_by == self.holder,
                                                         c.state == "sending").values(**values))  # fmt: skip
        return res.rowcount == 1

    def rows(self, incident_id: int | None = None) -> list[dict[str, Any]]:
        q = select(heal_outbox).order_by(heal_outbox.c.id)
        if incident_id is not None:
            q = q.where(heal_outbox.c.incident_id == incident_id)
        with self.store.begin() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def health(self, names: list[str]) -> dict[str, dict[str, Any]]:
        """Per notifier: ``failing`` when its latest attempt failed (with the error), else ``ok``; queue depth."""
        c = heal_outbox.c
        out: dict[str, dict[str, Any]] = {}
        with self.store.read() as conn:
            for name in names:
                tried = select(c.state, c.last_error).where(c.notifier == name, c.attempts > 0)
                last = conn.execute(tried.order_by(c.updated_at.desc(), c.id.desc()).limit(1)).first()
                queued = select(func.count()).where(c.notifier == name, c.state.in_(("pending", "sending")))
                waiting = int(conn.execute(queued).scalar_one())
                failing = last is not None and last.state != "sent" and last.last_error is not None
                out[name] = {"status": "failing" if failing else "ok", "queued": waiting,
                             "last_error": last.last_error if failing and last is not None else None}  # fmt: skip
        return out


class OutboxWorker:
    """Delivers queued notifications: one attempt per claim, retries with doubling back-off, escalation at the end.

    ``deliver_due`` drains what is due now (called by the engine step in simulated time, by the thread on the
    wall clock); :meth:`start` runs it in a daemon thread every ``poll_s`` until :meth:`stop`.
    """

    def __init__(self, outbox: Outbox, notifiers: Mapping[str, Notifier], bus: EventBus, incidents: IncidentRepo,
                 max_attempts: int, backoff_s: float, timeout_s: float, poll_s: float = 0.5) -> None:  # fmt: skip
        self.outbox, self.notifiers, self.bus, self.incidents = outbox, dict(notifiers), bus, incidents
        self.max_attempts, self.backoff_s, self.poll_s = max_attempts, backoff_s, poll_s
        self.claim_s = timeout_s + CLAIM_MARGIN_S
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.passes = PassRecord()

    # ---- the thread ----------------------------------------------------------------------------

    def ensure_running(self) -> None:
        """Start the delivery thread if it is not running (a crashed thread is started again)."""
        if self._closed:
            return
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="hx-notify-outbox", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop delivering for good (shutdown): the thread ends after the attempt in flight, if any, within
        ``timeout_s``; True when it has ended.  Later :meth:`ensure_running` calls start nothing."""
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            return not self._thread.is_alive()
        return True

    def close(self) -> None:
        """The shutdown hook: :meth:`stop`, saying so when an attempt in flight outlives the wait (a daemon thread,
        it ends with the process)."""
        if not self.stop():
            log.warning("notification outbox: the delivery thread is still in an attempt; left to end on its own")

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._one_pass():
                self._stop.wait(self.poll_s)

    def _one_pass(self) -> int:
        """One delivery pass of the thread; a failed pass is recorded (``/health``), escalated, retried next poll."""
        try:
            busy = self.deliver_due(limit=20)
        except Exception as err:  # the thread must outlive a store hiccup: recorded, shown, escalated, retried
            self._pass_failed(err)
            return 0
        self.passes.succeeded(self.outbox.clock.now())
        return busy

    def _pass_failed(self, err: Exception) -> None:
        error = f"{type(err).__name__}: {err}"[:2000]
        if not self.passes.failed(self.outbox.clock.now(), error):
            if self.passes.consecutive_failures % REPEAT_LOG_EVERY == 0:
                log.error("notification outbox still failing (%d passes in a row): %s",
                          self.passes.consecutive_failures, error)  # fmt: skip
            return
        log.exception("notification outbox: delivery pass failed")
        try:  # the usual path for a background failure: the runtime's step-failed event, once per new error
            self.bus.publish(RuntimeStepFailed(engine=WORKER_NAME, error=error), source="self-healing",
                             subject=WORKER_NAME)  # fmt: skip
        except Exception:  # the store that failed the pass may fail the event too: /health still shows it
            log.exception("notification outbox: its failure could not be published as an event")

    def health(self) -> dict[str, Any]:
        """The delivery thread: running or not, and its passes (last error, since when, failures in a row)."""
        out = self.passes.to_json()
        out["running"] = self.running()
        out["status"] = "failing" if self.passes.consecutive_failures else "ok"
        if self._closed:
            out["status"] = "stopped"
        return out

    # ---- one pass ------------------------------------------------------------------------------

    def deliver_due(self, limit: int = 100) -> int:
        """Deliver up to ``limit`` due rows; return how many were attempted."""
        done = 0
        while done < limit and not self._stop.is_set():
            item = self.outbox.claim(self.claim_s)
            if item is None:
                break
            self._attempt(item)
            done += 1
        return done

    def _attempt(self, item: OutboxItem) -> None:
        notifier = self.notifiers.get(item.notifier)
        if notifier is None:
            why = f"notifier {item.notifier!r} is not configured (enable notifiers.{item.notifier})"
            d = Delivery(notifier=item.notifier, ok=False, attempts=1, permanent=True, error=why)
        else:
            d = notifier.send(item.message)
        d = replace(d, attempts=item.attempts + 1, event=item.event, level=item.level,
                    incident_id=item.message.incident_id)  # fmt: skip
        if d.ok:
            if self.outbox.finish(item, "sent", None):
                self._record(item, d)
            return
        final = d.permanent or item.attempts + 1 >= self.max_attempts
        wait = min(MAX_BACKOFF_S, self.backoff_s * 2**item.attempts)
        next_at = None if final else self.outbox.clock.now() + timedelta(seconds=wait)
        if self.outbox.finish(item, "failed" if final else "pending", d.error or "failed", next_at) and final:
            self._record(item, d)
            self._escalate(item, d)

    def _record(self, item: OutboxItem, d: Delivery) -> None:
        detail = {k: v for k, v in d.to_dict().items()
                  if k in ("notifier", "ok", "attempts", "status", "error", "event", "level", "dedup_key")}  # fmt: skip
        if item.incident_id is not None:
            self.incidents.note(item.incident_id, self.outbox.clock.now(), "notification", detail)
        cls = NotificationSent if d.ok else NotificationFailed
        self.bus.publish(cls.model_validate({"incident": item.incident_id or 0, **detail}), source="self-healing",
                         subject=d.notifier)  # fmt: skip

    def _escalate(self, item: OutboxItem, d: Delivery) -> None:
        """Tell the other notifiers that this one failed for good (never about an escalation that failed)."""
        if item.event == ESCALATION_EVENT:
            return
        why = f"notifier {item.notifier} failed after {d.attempts} attempt(s): {d.error}"
        log.error("incident %s: %s", item.message.incident_id, why)
        message = replace(item.message, severity=Severity.CRITICAL, summary=why[:2000])
        for name in sorted(self.notifiers):
            if name != item.notifier:
                self.outbox.enqueue(name, message, ESCALATION_EVENT, item.level)


def run_until_drained(worker: OutboxWorker, advance: Callable[[float], None], rounds: int = 20) -> None:
    """Deliver, advancing a simulated clock past each back-off, until nothing is queued (tests, the demo)."""
    for _ in range(rounds):
        worker.deliver_due()
        if not [r for r in worker.outbox.rows() if r["state"] in ("pending", "sending")]:
            return
        advance(MAX_BACKOFF_S)
