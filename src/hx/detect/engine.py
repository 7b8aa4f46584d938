"""The streaming anomaly engine: every configured signal of every service, scored as it arrives.

Each step reads the points since the last one from the signal source, scores each point before
learning it, and keeps one alert state per service/signal: ``normal``, ``anomalous`` (one open
anomaly until it clears; then a cool-down) or ``no_data`` (missing data is its own state, never
scored as normal or anomalous).  A signal that has never had any data is ``not_resolving`` instead:
logged once for all such signals and listed in ``/health``, not an ``anomaly.no_data`` per signal per
service.  Opening publishes ``anomaly.detected`` with the score, the expected range, the observed value
and the detectors that agreed; clearing publishes ``anomaly.resolved``.  A new signal learns from the
history the source already holds (``learn_history_s``), and until it has ``min_history_s`` of it (and its
detector's warm-up) the engine reports ``learning``, with what it waits for and until when.
Detector state is saved to the store, so a restart resumes without a new warm-up.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from hx.config import AnomalyDetection
from hx.detect.base import Detector, make
from hx.detect.calibrate import effective_threshold
from hx.detect.ensemble import Ensemble
from hx.detect.explain import Action, ActionLog
from hx.engine import Learning, step_time_left
from hx.errors import IntegrityError, NotFound, TelemetryError
from hx.events import AnomalyDetected, AnomalyExplained, AnomalyNoData, AnomalyResolved
from hx.platform import Platform
from hx.security.sealing import Sealer
from hx.store.state import EngineStateStore, pack, unpack
from hx.telemetry.base import CANONICAL_SIGNALS, SignalSource
from hx.telemetry.common import signal_step_s

log = logging.getLogger(__name__)

ENGINE = "anomaly-detector"
#: points below the threshold in a row that clear an open anomaly
CLEAR_POINTS = 5
#: the state key (beside the tracks' service/signal keys) of where a warm-up spread over steps ends its history
WARM_KEY = "_warm_end"
#: gaps in a row that make a signal ``no_data``
NO_DATA_POINTS = 5
TRACK_FIELDS = (
    "cursor",
    "state",
    "anomaly_id",
    "opened_at",
    "peak",
    "below",
    "gaps",
    "cooldown_until",
    "learned",
    "normal_low",
    "normal_high",
)


@dataclass
class Track:
    """One service/signal: its detector, cursor and alert state."""

    service: str
    signal: str
    detector: Detector
    cursor: float = 0.0
    state: str = "normal"
    anomaly_id: str | None = None
    opened_at: float | None = None
    peak: float = 0.0
    below: int = 0
    gaps: int = 0
    cooldown_until: float = 0.0
    learned: int = 0
    normal_low: float | None = None
    normal_high: float | None = None
    dirty: bool = False
    last: dict[str, Any] = field(default_factory=dict)
    #: the action event whose change this signal was last annotated with (one anomaly.explained per action)
    explained_by: int | None = None

    @property
    def key(self) -> str:
        return f"{self.service}/{self.signal}"

    def snapshot(self, sealer: Sealer) -> dict[str, Any]:
        blob = pack(self.detector.get_state(), sealer, f"{ENGINE}/{self.key}")
        meta = {k: getattr(self, k) for k in TRACK_FIELDS}
        return {"detector": type(self.detector).__name__, "params": self.detector.get_params(), "blob": blob, **meta}


class AnomalyEngine:
    name = ENGINE

    def __init__(self, platform: Platform, source: SignalSource, warmup_s: float | None = None) -> None:
        self.platform = platform
        self.source = source
        self.cfg: AnomalyDetection = platform.settings.intelligent_monitoring.anomaly_detection
        self.interval_s = self.cfg.interval_s
        self.step_s = signal_step_s(platform.settings)
        self.threshold = effective_threshold(self.cfg.alert_threshold, self.cfg.sensitivity)
        self.warmup_s = warmup_s if warmup_s is not None else max(self.cfg.learn_history_s, self.cfg.min_history_s)
        self.min_points = int(self.cfg.min_history_s // self.step_s)
        self.tracks: dict[str, Track] = {}
        self.state = EngineStateStore(platform.store, ENGINE)
        self._loaded = False
        self._saved_at = 0.0
        self._unresolved: list[str] = []
        #: signals left to warm at the next step: warming on hours of history is the slow part of a first step,
        #: and a step stops taking new signals when its time is up (at least one each step)
        self._deferred = 0
        #: where the warm-up history of signals left to a later step ends: where it ended for the first ones, so
        #: the points since are scored, not learned (a fault showing then would be learned as normal)
        self._warm_end: datetime | None = None
        self._warm_saved = True
        self.actions = ActionLog(platform.bus, self.cfg.action_window_s)

    # ---- state ---------------------------------------------------------------------------------

    def _detector_name(self, signal: str) -> str:
        per = self.cfg.per_signal.get(signal)
        return per.detector if per is not None else self.cfg.detector

    def _make(self, signal: str) -> Detector:
        det = make(self._detector_name(signal))
        self._couple(det)
        return det

    def _couple(self, det: Detector) -> None:
        """An ensemble folds its alerts at the threshold this engine alerts at (``alert_threshold`` shifted by
        ``sensitivity``): folding at its default 0.8 under a higher threshold halved incidents on their way up."""
        if isinstance(det, Ensemble):
            det.alert_threshold = self.threshold

    def _load(self) -> None:
        saved = self.state.all()
        warm = saved.pop(WARM_KEY, None)
        if warm is not None and warm.get("at") is not None:
            self._warm_end = datetime.fromtimestamp(float(warm["at"]), tz=UTC)
        for key, v in saved.items():
            service, _, signal = key.partition("/")
            det = self._make(signal)
            if type(det).__name__ != v.get("detector"):
                # the configured detector changed (e.g. the default became ensemble_resonance): start afresh
                log.warning(
                    "track %s was saved by detector %s, the configured one is %s (%s); it starts afresh",
                    key,
                    v.get("detector"),
                    type(det).__name__,
                    self._detector_name(signal),
                )
                continue
            try:
                det.set_state(unpack(v["blob"], self.platform.sealer, f"{ENGINE}/{key}"))
                self._couple(det)  # a track saved under another threshold folds at today's
            except IntegrityError as err:
                log.warning("%s; the track starts afresh", err)
                continue
            t = Track(service, signal, det)
            for k in TRACK_FIELDS:
                setattr(t, k, v.get(k, getattr(t, k)))
            self.tracks[t.key] = t
        self._loaded = True

    def save(self, now: datetime) -> int:
        dirty = [t for t in self.tracks.values() if t.dirty]
        values = {t.key: t.snapshot(self.platform.sealer) for t in dirty}
        if not self._warm_saved:
            values[WARM_KEY] = {"at": self._warm_end.timestamp() if self._warm_end is not None else None}
            self._warm_saved = True
        if not values:
            return 0
        self.state.put_many(values, now)
        for t in dirty:
            t.dirty = False
        return len(dirty)

    # ---- stepping ------------------------------------------------------------------------------

    def step(self, now: datetime) -> None:
        if not self._loaded:
            self._load()
        self.actions.refresh(now)
        warmed = deferred = 0
        warm_end = self._warm_end or now - timedelta(seconds=max(self.interval_s, self.step_s))
        for service in self.source.services():
            for signal in self.cfg.signals:
                key = f"{service}/{signal}"
                track = self.tracks.get(key)
                if track is None:
                    if warmed and step_time_left() <= 0:
                        deferred += 1
                        continue
                    track = self._new_track(service, signal, warm_end)
                    if track is None:
                        continue  # a signal the source has not got does not count as warmed
                    warmed += 1
                self._advance(track, now)
        if deferred:
            log.info("warmed %d signals on their history; %d more at the next step (the step's time is up)",
                     warmed, deferred)  # fmt: skip
        self._deferred = deferred
        if (warm_end if deferred else None) != self._warm_end:
            self._warm_end = warm_end if deferred else None
            self._warm_saved = False  # kept with the tracks: a restart mid-way warms the rest to the same end
        if self._unresolved:  # shown once, all together: what the source does not answer for yet
            log.warning("%d signals do not resolve yet (no data at all): %s", len(self._unresolved),
                        ", ".join(self._unresolved))  # fmt: skip
            self._unresolved = []
        if now.timestamp() - self._saved_at >= self.cfg.save_interval_s:
            self.save(now)
            self._saved_at = now.timestamp()

    def _new_track(self, service: str, signal: str, end: datetime) -> Track | None:
        """Warm a fresh detector on the history up to ``end`` (learn only: no alerts about the past).

        ``end`` is an interval before the step that first saw the signal (the first step of a warm-up spread over
        several): the points after it are left to :meth:`_advance`, which scores them: a fault already showing at
        the first step is scored, not learned as normal (learning it would also start the ensemble's alert folding
        and hide the fault's next points)."""
        det = self._make(signal)
        start = end - timedelta(seconds=self.warmup_s - max(self.interval_s, self.step_s))
        try:
            series = self.source.signal(service, signal, start, end, self.step_s)
        except NotFound:
            return None
        except TelemetryError as err:
            log.warning("no history for %s/%s: %s", service, signal, err)
            series = None
        track = Track(service, signal, det, cursor=start.timestamp(), dirty=True)
        if series is not None:
            for x, t in zip(series.values, series.timestamps, strict=True):
                det.learn_one(float(x), float(t))
            track.learned = int(np.isfinite(series.values).sum())
            track.cursor = float(series.timestamps[-1]) if len(series) else start.timestamp()
        self.tracks[track.key] = track
        return track

    def _advance(self, t: Track, now: datetime) -> None:
        start = datetime.fromtimestamp(t.cursor + self.step_s, tz=UTC)
        if start > now:
            return
        try:
            series = self.source.signal(t.service, t.signal, start, now, self.step_s)
        except TelemetryError as err:
            self._no_data(t, now.timestamp(), f"signal source: {err}")
            return
        for x, ts in zip(series.values, series.timestamps, strict=True):
            if ts <= t.cursor:
                continue
            self._point(t, float(x), float(ts))
            t.cursor = float(ts)
            t.dirty = True

    def _point(self, t: Track, x: float, ts: float) -> None:
        if math.isnan(x):
            t.gaps += 1
            t.detector.score_one(x, ts)  # a gap: the detector records it, nothing is learned
            if t.gaps >= NO_DATA_POINTS:
                self._no_data(t, ts, f"{t.gaps} points missing")
            return
        if t.state in ("no_data", "not_resolving"):
            t.state = "normal"
        t.gaps = 0
        score = t.detector.score_one(x, ts)
        explanation = t.detector.explain()
        t.detector.learn_one(x, ts)
        t.learned += 1
        t.last = {"score": score, "value": x, "ts": ts}
        self.platform.metrics.anomaly_score.labels(t.service, t.signal).set(score)
        if t.learned < max(self.min_points, t.detector.warmup):
            return  # still learning this signal: its scores do not alert yet
        if t.state == "anomalous":
            t.peak = max(t.peak, score)
            t.below = t.below + 1 if self._back_to_normal(t, x, score) else 0
            if t.below >= CLEAR_POINTS:
                self._resolve(t, ts, x)
        elif score >= self.threshold and ts >= t.cooldown_until:
            high = _finite(explanation.get("expected_high"))
            rises = high is None or x > high
            action = self.actions.explaining(t.service, t.signal, ts, rises=rises)
            if action is None:
                self._open(t, ts, x, score, explanation)
            elif t.explained_by != action.event_id:
                self._explained(t, ts, x, score, explanation, action)

    @staticmethod
    def _back_to_normal(t: Track, x: float, score: float) -> bool:
        """Cleared when the value is back inside the range expected when the anomaly opened (the detector keeps
        learning during an anomaly, so its own score alone would clear a persisting fault too early)."""
        if t.normal_low is None or t.normal_high is None:
            return False
        pad = 0.25 * max(t.normal_high - t.normal_low, 1e-9)
        return t.normal_low - pad <= x <= t.normal_high + pad

    def _open(self, t: Track, ts: float, x: float, score: float, exp: dict[str, Any]) -> None:
        aid = uuid.uuid4().hex[:12]
        t.state, t.anomaly_id, t.opened_at, t.peak, t.below = "anomalous", aid, ts, score, 0
        t.normal_low, t.normal_high = _finite(exp.get("expected_low")), _finite(exp.get("expected_high"))
        agreed = sorted(k for k, v in exp.get("components", {}).items() if v >= self.threshold)
        payload = AnomalyDetected(
            anomaly_id=aid,
            service=t.service,
            signal=t.signal,
            score=round(score, 4),
            threshold=self.threshold,
            observed=x,
            **_expected(t.signal, exp),
            detectors=agreed,
            components={k: round(v, 4) for k, v in exp.get("components", {}).items()},
            at=datetime.fromtimestamp(ts, tz=UTC),
        )
        self.platform.bus.publish(payload, source=ENGINE, subject=t.service)

    def _explained(self, t: Track, ts: float, x: float, score: float, exp: dict[str, Any], action: Action) -> None:
        """Annotate, do not alert: the change follows hx's own action on the service (once per action)."""
        t.explained_by = action.event_id
        payload = AnomalyExplained(
            service=t.service,
            signal=t.signal,
            score=round(score, 4),
            threshold=self.threshold,
            observed=x,
            **_expected(t.signal, exp),
            explained_by=action.what,
            action_event=action.event_id,
            until=datetime.fromtimestamp(action.until, tz=UTC),
            at=datetime.fromtimestamp(ts, tz=UTC),
        )
        self.platform.bus.publish(payload, source=ENGINE, subject=t.service)

    def _resolve(self, t: Track, ts: float, x: float) -> None:
        payload = AnomalyResolved(
            anomaly_id=t.anomaly_id,
            service=t.service,
            signal=t.signal,
            peak_score=round(t.peak, 4),
            observed=x,
            duration_s=ts - (t.opened_at or ts),
            at=datetime.fromtimestamp(ts, tz=UTC),
        )
        self.platform.bus.publish(payload, source=ENGINE, subject=t.service)
        t.state, t.anomaly_id, t.opened_at, t.below = "normal", None, None, 0
        t.cooldown_until = ts + self.cfg.cooldown_s

    def _no_data(self, t: Track, ts: float, why: str) -> None:
        if t.state in ("no_data", "not_resolving"):
            return
        if t.learned == 0:  # never had data: the signal does not resolve yet; not an anomaly of the service
            t.state, t.dirty = "not_resolving", True
            self._unresolved.append(f"{t.key} ({why})")
            return
        if t.state == "anomalous":
            self.platform.bus.publish(
                AnomalyResolved(anomaly_id=t.anomaly_id, service=t.service, signal=t.signal, reason="no_data"),
                source=ENGINE,
                subject=t.service,
            )
        t.state, t.anomaly_id = "no_data", None
        payload = AnomalyNoData(service=t.service, signal=t.signal, reason=why, at=datetime.fromtimestamp(ts, tz=UTC))
        self.platform.bus.publish(payload, source=ENGINE, subject=t.service)

    def _needed(self, t: Track) -> int:
        """Points a signal must have learned before it may alert: min_history_s at the signal step, and the
        detector's own warm-up (the ensemble's), counted the same way (points learned, backfilled ones included)."""
        return max(self.min_points, t.detector.warmup)

    def learning(self, now: datetime) -> Learning | None:
        """What the detector waits for before it can alert on every signal, and until when (None: it can)."""
        if self._deferred:
            return Learning(
                f"warming on their history: {len(self.tracks)} signals so far, {self._deferred} more at the next "
                "steps (each step stops taking new ones when its time is up)",
                None,
                {"signals_warmed": len(self.tracks), "signals_waiting": self._deferred},
            )
        if not self.tracks:
            return Learning("the first step: no signal read yet (history is backfilled from the signal source)")
        short = [t for t in self.tracks.values() if t.learned < self._needed(t) and t.state != "not_resolving"]
        if not short:
            return None
        worst = max(short, key=lambda t: self._needed(t) - t.learned)
        need = self._needed(worst)
        until = now + timedelta(seconds=(need - worst.learned) * self.step_s)
        text = (
            f"history for {len(short)} of {len(self.tracks)} signals: each needs {need} points "
            f"({need * self.step_s / 3600:.1f} h at {self.step_s:.0f} s: min_history_s and the detector's warm-up) "
            f"before it may alert; the shortest ({worst.key}) has {worst.learned}"
        )
        return Learning(text, until, {"signals_learning": len(short), "need_points": need, "least": worst.learned})

    def health(self) -> dict[str, Any]:
        learning = self.learning(self.platform.clock.now())
        states = [
            t.state if t.learned >= self._needed(t) or t.state == "not_resolving" else "learning"
            for t in self.tracks.values()
        ]
        return {
            "status": "ok" if learning is None else "learning",
            **(learning.to_json() if learning is not None else {}),
            "tracks": len(states),
            "anomalous": states.count("anomalous"),
            "no_data": states.count("no_data"),
            "learning": states.count("learning"),
            "not_resolving": sorted(t.key for t in self.tracks.values() if t.state == "not_resolving"),
            "threshold": self.threshold,
        }


def _expected(signal: str, exp: dict[str, Any]) -> dict[str, float | None]:
    """The detector's expected range as published: hx's own signals (rates, latencies, utilisations, counts) are
    never negative, so neither is their range (a band around an error rate near 0 reached below it).

    >>> _expected("error_rate", {"expected_low": -0.0009, "expected_high": 0.0038})
    {'expected_low': 0.0, 'expected_high': 0.0038}
    >>> _expected("temperature_delta", {"expected_low": -2.0, "expected_high": 1.0})
    {'expected_low': -2.0, 'expected_high': 1.0}
    """
    lo, hi = _finite(exp.get("expected_low")), _finite(exp.get("expected_high"))
    if signal in CANONICAL_SIGNALS:
        lo, hi = (None if v is None else max(v, 0.0) for v in (lo, hi))
    return {"expected_low": lo, "expected_high": hi}


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else None


def list_anomalies(
    platform: Platform,
    service: str | None = None,
    signal: str | None = None,
    state: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Anomalies reconstructed from their events (opened, and resolved when they cleared)."""
    events = platform.bus.read(
        types=[AnomalyDetected, AnomalyResolved], subject=service, since=since, until=until, limit=10000
    )
    opened: dict[str, dict[str, Any]] = {}
    for e in events:
        p = e.payload
        if isinstance(p, AnomalyDetected):
            opened[p.anomaly_id] = {**e.data, "state": "open", "opened_at": e.ts.isoformat(), "resolved_at": None}
        elif isinstance(p, AnomalyResolved) and p.anomaly_id in opened:
            opened[p.anomaly_id].update(state="resolved", resolved_at=e.ts.isoformat(), peak_score=p.peak_score)
    out = [
        a
        for a in opened.values()
        if (signal is None or a["signal"] == signal) and (state is None or a["state"] == state)
    ]
    return out[-limit:]


def score_series(
    values: np.ndarray,
    timestamps: np.ndarray,
    detector: str,
    threshold: float | None = None,
    params: dict[str, Any] | None = None,
) -> np.ndarray:
    """Ad-hoc scoring of a whole series as a stream (each point scored before it is learned), the detector built with
    ``params``.  With ``threshold`` (the one the scores will be cut at) an ensemble folds its alerts there, as the
    engine's do, unless ``params`` name its ``alert_threshold``."""
    params = params or {}
    det = make(detector, **params)
    if threshold is not None and isinstance(det, Ensemble) and "alert_threshold" not in params:
        det.alert_threshold = threshold
    return det.process(values, timestamps)
