"""Escalation: who is told about an incident, when, and how repeats are kept quiet.

The policy is pure data and logic.  Levels come from ``self_healing.escalation`` (level 0 at 0 s:
slack + email; level 1 at 600 s without acknowledgement: pagerduty).  A :class:`SeverityRule` per
severity bends the levels: critical runs every level at once (``delay_factor=0``: straight to
paging), info never pages (``never={"pagerduty"}``).  :meth:`EscalationPolicy.due` says which
``(level, notifier)`` pairs are due for an incident's state at a time.

The :class:`Dispatcher` keeps one :class:`IncidentState` per incident and sends: a new incident
fires the due levels at once; a repeat within ``aggregate_window_s`` of the last message is only
counted, and the count rides on the next message (an escalation, the update sent when the window
has passed, the acknowledgement or the resolution); ``step()`` fires levels as time passes;
acknowledging stops escalation and tells every sink already contacted; resolving sends PagerDuty a
``resolve`` with the same ``dedup_key`` and the other sinks a resolved message.  It returns the
:class:`~hx.heal.notify.base.Delivery` records for the caller to persist.

>>> from datetime import UTC, datetime, timedelta
>>> policy = EscalationPolicy((Level(0, ("slack",)), Level(600, ("pagerduty",))))
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> st = IncidentState.open(_example(t0), t0)
>>> policy.due(st, t0)
[(0, 'slack')]
>>> policy.due(st, t0 + timedelta(seconds=600))
[(0, 'slack'), (1, 'pagerduty')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hx.errors import BadInput, NotFound
from hx.heal.notify.base import Delivery, Notification, Notifier, Status
from hx.severity import Severity

if TYPE_CHECKING:
    from hx.clock import Clock
    from hx.config import EscalationLevel


#: queue a message for a notifier: ``(notifier, message, event, level) -> Delivery`` (queued, not yet sent)
Enqueue = Callable[[str, Notification, str, "int | None"], Delivery]


@dataclass(frozen=True)
class Level:
    """Notify ``notifiers`` once the incident has gone ``after_s`` seconds without acknowledgement."""

    after_s: float
    notifiers: tuple[str, ...]

    def __post_init__(self) -> None:
        if isinstance(self.after_s, bool) or not isinstance(self.after_s, int | float) or not self.after_s >= 0:
            raise BadInput(f"escalation level after_s must be >= 0, got {self.after_s!r}", field="escalation.after_s")
        if not self.notifiers:
            raise BadInput("an escalation level needs at least one notifier", field="escalation.notifiers")


@dataclass(frozen=True)
class SeverityRule:
    """How a severity bends the levels.

    ``delay_factor`` scales every level's delay (0: all levels at once); ``never`` lists notifiers this
    severity never reaches; ``max_level`` stops escalating past that level (None: no limit).
    """

    delay_factor: float = 1.0
    never: frozenset[str] = frozenset()
    max_level: int | None = None

    def __post_init__(self) -> None:
        if not self.delay_factor >= 0:
            raise BadInput(f"delay_factor must be >= 0, got {self.delay_factor!r}", field="delay_factor")


#: Critical goes straight to paging; info never pages.  Data: pass your own ``rules`` to change it.
DEFAULT_RULES: Mapping[Severity, SeverityRule] = {
    Severity.CRITICAL: SeverityRule(delay_factor=0.0),
    Severity.ERROR: SeverityRule(),
    Severity.WARNING: SeverityRule(),
    Severity.INFO: SeverityRule(never=frozenset({"pagerduty"})),
}


@dataclass
class IncidentState:
    """What the dispatcher knows about one incident; ``to_dict``/``from_dict`` for persistence."""

    notification: Notification
    opened_at: datetime
    status: Status = "triggered"
    fired: set[tuple[int, str]] = field(default_factory=set)
    contacted: dict[str, datetime] = field(default_factory=dict)
    last_sent_at: datetime | None = None
    pending_repeats: int = 0
    total_repeats: int = 0
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None

    @classmethod
    def open(cls, notification: Notification, now: datetime) -> IncidentState:
        return cls(notification=notification, opened_at=notification.opened_at or now)

    @property
    def incident_id(self) -> str:
        return self.notification.incident_id

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t is not None else None

        return {
            "notification": self.notification.to_dict(),
            "opened_at": self.opened_at.isoformat(),
            "status": self.status,
            "fired": sorted([level, name] for level, name in self.fired),
            "contacted": {k: v.isoformat() for k, v in self.contacted.items()},
            "last_sent_at": iso(self.last_sent_at),
            "pending_repeats": self.pending_repeats,
            "total_repeats": self.total_repeats,
            "acknowledged_at": iso(self.acknowledged_at),
            "resolved_at": iso(self.resolved_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IncidentState:
        def when(key: str) -> datetime | None:
            value = data.get(key)
            return datetime.fromisoformat(value) if value else None

        try:
            return cls(
                notification=Notification.from_dict(data["notification"]),
                opened_at=datetime.fromisoformat(data["opened_at"]),
                status=data["status"],
                fired={(int(level), str(name)) for level, name in data.get("fired", [])},
                contacted={k: datetime.fromisoformat(v) for k, v in data.get("contacted", {}).items()},
                last_sent_at=when("last_sent_at"),
                pending_repeats=int(data.get("pending_repeats", 0)),
                total_repeats=int(data.get("total_repeats", 0)),
                acknowledged_at=when("acknowledged_at"),
                resolved_at=when("resolved_at"),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise BadInput(f"invalid escalation state: {err}", field="escalation_state") from err


@dataclass(frozen=True)
class EscalationPolicy:
    """Levels plus per-severity rules; pure."""

    levels: tuple[Level, ...]
    rules: Mapping[Severity, SeverityRule] = field(default_factory=lambda: dict(DEFAULT_RULES))

    def __post_init__(self) -> None:
        if not self.levels:
            raise BadInput("an escalation policy needs at least one level", field="self_healing.escalation")

    @classmethod
    def from_settings(
        cls, levels: Sequence[EscalationLevel], rules: Mapping[Severity, SeverityRule] | None = None
    ) -> EscalationPolicy:
        """From ``settings.self_healing.escalation``."""
        built = tuple(Level(lv.after_s, tuple(lv.notifiers)) for lv in levels)
        return cls(built, dict(rules) if rules is not None else dict(DEFAULT_RULES))

    def notifier_names(self) -> list[str]:
        return sorted({n for level in self.levels for n in level.notifiers})

    def rule(self, severity: Severity) -> SeverityRule:
        return self.rules.get(severity, SeverityRule())

    def schedule(self, severity: Severity) -> list[tuple[float, int, str]]:
        """Every ``(after_s, level, notifier)`` this severity may reach, in order (for docs and the UI)."""
        rule = self.rule(severity)
        out = [
            (level.after_s * rule.delay_factor, i, name)
            for i, level in enumerate(self.levels)
            if rule.max_level is None or i <= rule.max_level
            for name in level.notifiers
            if name not in rule.never
        ]
        return sorted(out)

    def due(self, state: IncidentState, now: datetime) -> list[tuple[int, str]]:
        """The ``(level, notifier)`` pairs due now and not yet fired; none once acknowledged or resolved."""
        if state.status != "triggered":
            return []
        elapsed = (now - state.opened_at).total_seconds()
        severity = state.notification.severity
        return [(i, name) for at, i, name in self.schedule(severity) if at <= elapsed and (i, name) not in state.fired]

    def next_due_at(self, state: IncidentState) -> datetime | None:
        """When the next level fires if nobody acknowledges (None: nothing left)."""
        if state.status != "triggered":
            return None
        pending = [at for at, i, name in self.schedule(state.notification.severity) if (i, name) not in state.fired]
        return state.opened_at + timedelta(seconds=min(pending)) if pending else None


class Dispatcher:
    """Decides and sends: escalation levels, quiet aggregation of repeats, acknowledgement, resolution.

    ``notifiers`` are the built sinks by name; a level naming a sink that is not there yields a failed
    Delivery saying so (never a silent drop).  ``states`` restores persisted :class:`IncidentState`.
    Not thread-safe: one engine loop drives it (``notify`` as incidents change, ``step`` on its tick).
    With ``enqueue`` (``(notifier, message, event, level) -> Delivery``, the outbox's one entry point) messages are
    queued for a delivery worker instead of sent in the caller's thread.
    """

    def __init__(
        self,
        policy: EscalationPolicy,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        *,
        aggregate_window_s: float = 300.0,
        states: Iterable[IncidentState] = (),
        enqueue: Enqueue | None = None,
    ) -> None:
        if not aggregate_window_s >= 0:
            raise BadInput(f"aggregate_window_s must be >= 0, got {aggregate_window_s!r}", field="aggregate_window_s")
        self.policy = policy
        self.notifiers = dict(notifiers)
        self.clock = clock
        self.aggregate_window_s = float(aggregate_window_s)
        self._states: dict[str, IncidentState] = {s.incident_id: s for s in states}
        self._enqueue = enqueue

    def missing_notifiers(self) -> list[str]:
        """Notifiers the policy names but that were not built (disabled or misconfigured)."""
        return [n for n in self.policy.notifier_names() if n not in self.notifiers]

    def state(self, incident_id: str) -> IncidentState:
        try:
            return self._states[incident_id]
        except KeyError:
            raise NotFound(f"no notification state for incident {incident_id!r}", incident_id=incident_id) from None

    def states(self) -> list[IncidentState]:
        return list(self._states.values())

    def forget(self, incident_id: str) -> None:
        """Drop a (resolved) incident's state."""
        self._states.pop(incident_id, None)

    # ---- the verbs -------------------------------------------------------------------------

    def notify(self, message: Notification) -> list[Delivery]:
        """Route by the notification's status: triggered opens or repeats, acknowledged, resolved."""
        if message.status == "acknowledged":
            return self._close(message, "acknowledged")
        if message.status == "resolved":
            return self._close(message, "resolved")
        return self._trigger(message)

    def acknowledge(self, incident_id: str) -> list[Delivery]:
        return self.notify(replace(self.state(incident_id).notification, status="acknowledged"))

    def resolve(self, incident_id: str, summary: str | None = None) -> list[Delivery]:
        latest = self.state(incident_id).notification
        return self.notify(
            replace(latest, status="resolved", summary=summary if summary is not None else latest.summary)
        )

    def step(self) -> list[Delivery]:
        """Fire the levels that came due and flush repeats whose quiet window has passed."""
        now = self.clock.now()
        out: list[Delivery] = []
        for st in list(self._states.values()):
            if st.status != "triggered":
                continue
            sent = self._escalate(st, now)
            if not sent and st.pending_repeats and self._window_passed(st, now):
                sent = self._update(st, now)
            out += sent
        return out

    # ---- internals ---------------------------------------------------------------------------

    def _trigger(self, message: Notification) -> list[Delivery]:
        now = self.clock.now()
        st = self._states.get(message.incident_id)
        if st is None or st.status == "resolved":
            # A first trigger escalates from when the incident opened; a re-opened one starts afresh.
            st = IncidentState.open(message, now) if st is None else IncidentState(message, opened_at=now)
            self._states[message.incident_id] = st
            return self._escalate(st, now)
        st.notification = message
        st.pending_repeats += 1
        st.total_repeats += 1
        if st.status != "triggered":
            return []  # acknowledged: someone is on it; the count rides on the resolution
        sent = self._escalate(st, now)
        if not sent and self._window_passed(st, now):
            sent = self._update(st, now)
        return sent

    def _window_passed(self, st: IncidentState, now: datetime) -> bool:
        return st.last_sent_at is None or (now - st.last_sent_at).total_seconds() >= self.aggregate_window_s

    def _escalate(self, st: IncidentState, now: datetime) -> list[Delivery]:
        first_level: dict[str, int] = {}
        for level, name in self.policy.due(st, now):
            first_level.setdefault(name, level)
            st.fired.add((level, name))
        if not first_level:
            return []
        out = [self._send(name, st, "trigger", level, now) for name, level in first_level.items()]
        self._sent(st, now)
        return out

    def _update(self, st: IncidentState, now: datetime) -> list[Delivery]:
        out = [self._send(name, st, "update", None, now) for name in st.contacted]
        self._sent(st, now)
        return out

    def _close(self, message: Notification, status: Status) -> list[Delivery]:
        now = self.clock.now()
        st = self._states.get(message.incident_id)
        if st is None:  # never triggered through this dispatcher: nobody to tell, remember it
            st = self._states[message.incident_id] = IncidentState.open(message, now)
        elif st.status == status or st.status == "resolved":
            return []
        st.status = status
        if status == "acknowledged":
            st.acknowledged_at = now
        else:
            st.resolved_at = now
        st.notification = message
        event = "acknowledge" if status == "acknowledged" else "resolve"
        out = [self._send(name, st, event, None, now) for name in st.contacted]
        self._sent(st, now)
        return out

    @staticmethod
    def _sent(st: IncidentState, now: datetime) -> None:
        st.pending_repeats = 0
        st.last_sent_at = now

    def _send(self, name: str, st: IncidentState, event: str, level: int | None, now: datetime) -> Delivery:
        message = replace(
            st.notification,
            repeat_count=st.pending_repeats,
            escalation_level=level if level is not None else max((lv for lv, _ in st.fired), default=0),
            opened_at=st.notification.opened_at or st.opened_at,
            updated_at=now,
        )
        notifier = self.notifiers.get(name)
        if notifier is None:
            delivery = Delivery(
                notifier=name,
                ok=False,
                attempts=0,
                error=f"notifier {name!r} is not configured (enable notifiers.{name} and set its secret)",
                permanent=True,
                dedup_key=message.dedup_key,
                incident_id=message.incident_id,
            )
        else:
            st.contacted.setdefault(name, now)
            delivery = self._enqueue(name, message, event, level) if self._enqueue else notifier.send(message)
        return replace(delivery, event=event, level=level)


def _example(t: datetime) -> Notification:
    return Notification("1", "api errors", Severity.ERROR, "api", "prod", "error_rate", opened_at=t, updated_at=t)
