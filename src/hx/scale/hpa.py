"""The Kubernetes Horizontal Pod Autoscaler as a reference scaling policy (pure: no I/O, no clock).

Reproduces the HPA controller's arithmetic (``pkg/controller/podautoscaler`` with the default
``behavior`` of autoscaling/v2):

- ``desired = ceil(current_replicas x utilization / target)``, left unchanged while
  ``|utilization / target - 1| <= tolerance`` (0.1);
- evaluated every ``sync_period_s`` (15 s); calls in between return the last decision;
- stabilisation: scale-up window 0 s (act at once); scale-down window 300 s: the recommendation is the
  *max* of the recommendations made over the last 300 s, so load must stay low for 5 minutes;
- scale-up rate limit per 15 s period: ``max(+4 pods, +100 %)`` of the replicas at the start of the
  period (``selectPolicy: Max``); scale-down limit 100 % per 15 s (none in effect);
- bounds ``[min_replicas, max_replicas]``; a workload scaled to 0 by hand is left alone.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from hx.errors import BadInput


def hpa_desired(
    current_replicas: int,
    current_utilization: float,
    target: float = 0.7,
    tolerance: float = 0.1,
    min_replicas: int = 1,
    max_replicas: int = 1_000_000,
) -> int:
    """One HPA recommendation without stabilisation or rate limits.

    >>> hpa_desired(4, 0.9)          # ratio 1.29 > 1.1: ceil(4 * 0.9 / 0.7) = 6
    6
    >>> hpa_desired(4, 0.75)         # ratio 1.07 within the 10 % tolerance band
    4
    >>> hpa_desired(10, 0.21)        # ceil(10 * 0.21 / 0.7) = 3
    3
    """
    _check(current_replicas, target, tolerance, min_replicas, max_replicas)
    if current_replicas == 0:
        return 0
    if not math.isfinite(current_utilization) or current_utilization < 0:
        return min(max(current_replicas, min_replicas), max_replicas)
    ratio = current_utilization / target
    # the band is inclusive, with a hair of slack so that float rounding (0.77 / 0.7) does not leave it
    in_band = abs(ratio - 1.0) <= tolerance + 1e-9
    desired = current_replicas if in_band else math.ceil(current_replicas * ratio - 1e-9)
    return min(max(desired, min_replicas), max_replicas)


def _check(replicas: int, target: float, tolerance: float, lo: int, hi: int) -> None:
    if replicas < 0:
        raise BadInput(f"replicas must be >= 0, got {replicas}", field="replicas")
    if not (math.isfinite(target) and target > 0):
        raise BadInput(f"target utilization must be > 0, got {target}", field="target")
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise BadInput(f"tolerance must be >= 0, got {tolerance}", field="tolerance")
    if not 0 <= lo <= hi:
        raise BadInput(f"need 0 <= min_replicas <= max_replicas, got {lo} and {hi}", field="min_replicas")


@dataclass
class _Rec:
    t: float
    replicas: int


class HpaPolicy:
    """The HPA control loop as an object: ``decide(now_s, replicas, utilization) -> replicas``.

    >>> p = HpaPolicy(target=0.5)
    >>> p.decide(0.0, 2, 1.0)     # wants 4; the limit allows max(2 + 4, 2 * 2) = 6
    4
    >>> p.decide(15.0, 4, 0.1)    # wants 1, but the 300 s window still holds the 4
    4
    >>> p.decide(315.0, 4, 0.1)   # five minutes later the low recommendation stands
    1
    """

    def __init__(
        self,
        *,
        target: float = 0.7,
        tolerance: float = 0.1,
        min_replicas: int = 1,
        max_replicas: int = 1_000_000,
        sync_period_s: float = 15.0,
        scale_up_window_s: float = 0.0,
        scale_down_window_s: float = 300.0,
        scale_up_pods: int = 4,
        scale_up_percent: float = 100.0,
        scale_up_period_s: float = 15.0,
        scale_down_percent: float = 100.0,
        scale_down_period_s: float = 15.0,
    ) -> None:
        _check(max(min_replicas, 0), target, tolerance, min_replicas, max_replicas)
        self.target = target
        self.tolerance = tolerance
        self.min_replicas = min_replicas
        self.max_replicas = max_replicas
        self.sync_period_s = sync_period_s
        self.scale_up_window_s = scale_up_window_s
        self.scale_down_window_s = scale_down_window_s
        self.scale_up_pods = scale_up_pods
        self.scale_up_percent = scale_up_percent
        self.scale_up_period_s = scale_up_period_s
        self.scale_down_percent = scale_down_percent
        self.scale_down_period_s = scale_down_period_s
        self._recs: deque[_Rec] = deque()
        self._events: deque[tuple[float, int]] = deque()  # (time, replica change) of actual scalings
        self._last_eval: float | None = None
        self._last: int | None = None

    def decide(self, now_s: float, replicas: int, utilization: float) -> int:
        """The replicas the HPA would set at ``now_s`` given the current replicas and mean utilisation."""
        if replicas < 0:
            raise BadInput(f"replicas must be >= 0, got {replicas}", field="replicas")
        if self._last_eval is not None and now_s - self._last_eval < self.sync_period_s - 1e-9:
            return self._last if self._last is not None else replicas
        self._last_eval = now_s
        if replicas == 0 and self.min_replicas != 0:  # scaled to zero by hand: HPA disabled
            self._last = 0
            return 0
        raw = hpa_desired(replicas, utilization, self.target, self.tolerance, 0, 1_000_000_000)
        stabilised = self._stabilise(now_s, replicas, raw)
        out = self._limit(now_s, replicas, stabilised)
        if out != replicas:
            self._events.append((now_s, out - replicas))
        self._last = out
        return out

    def _stabilise(self, now_s: float, replicas: int, raw: int) -> int:
        keep = max(self.scale_up_window_s, self.scale_down_window_s)
        while self._recs and self._recs[0].t <= now_s - keep:
            self._recs.popleft()
        up = down = raw
        for r in self._recs:
            if r.t > now_s - self.scale_up_window_s:
                up = min(up, r.replicas)
            if r.t > now_s - self.scale_down_window_s:
                down = max(down, r.replicas)
        self._recs.append(_Rec(now_s, raw))
        rec = replicas
        if rec < up:
            rec = up
        if rec > down:
            rec = down
        return rec

    def _limit(self, now_s: float, replicas: int, desired: int) -> int:
        horizon = max(self.scale_up_period_s, self.scale_down_period_s)
        while self._events and self._events[0][0] <= now_s - horizon:
            self._events.popleft()
        if desired > replicas:
            added = sum(d for t, d in self._events if d > 0 and t > now_s - self.scale_up_period_s)
            start = replicas - added
            cap = max(start + self.scale_up_pods, math.ceil(start * (1.0 + self.scale_up_percent / 100.0)))
            desired = min(desired, max(cap, replicas))
        elif desired < replicas:
            removed = -sum(d for t, d in self._events if d < 0 and t > now_s - self.scale_down_period_s)
            start = replicas + removed
            floor = math.ceil(start * (1.0 - self.scale_down_percent / 100.0))
            desired = max(desired, min(floor, replicas))
        return min(max(desired, self.min_replicas), self.max_replicas)
