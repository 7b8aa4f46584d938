"""Context novelty: an anomaly is a transition the signal has never made, not an unusual value.

The idea of the Contextual Anomaly Detector and of sequence memories (HTM, ARTime), written for hx.
Each value (``context``) or each step ``x[t] - x[t-1]`` (``context_step``) becomes one of ``levels``
symbols: equal-width bins over the range learned so far.  The *context* of order ``k`` of a point is the
``k`` symbols before it; the detector remembers every (context -> symbol) transition it has learned, for
orders 1..``depth``.  A transition counts as known when the context has been followed by this symbol
or one within ``tolerance`` bins of it (noise near a bin edge is not novelty).  The raw novelty of a
point is the share of its orders whose transition is new.  Noisy signals make some transitions new all
the time, so the raw novelty is read against its own history with Numenta's anomaly likelihood (see
:class:`hx.detect.calibrate.AnomalyLikelihood`): the score is high when transitions turn new more often
than this signal's usual rate, as happens when a learned rhythm breaks.

The memory holds at most ``max_transitions`` transitions; beyond that the oldest learned are forgotten.
With the defaults (8 levels, depth 3) there are only 8**2 + 8**3 + 8**4 = 4,672 possible transitions, so
the memory stays small whatever the stream's length.

>>> import numpy as np
>>> t = np.arange(3000.0)
>>> v = np.tile([0.0, 1.0, 2.0, 3.0, 2.0, 1.0], 500)
>>> v[2500:2510] = [0.0, 3.0, 0.0, 3.0, 0.0, 3.0, 0.0, 3.0, 0.0, 3.0]  # the old values, in a new order
>>> s = ContextNovelty().process(v, t)
>>> bool(s[2500:2510].max() >= 0.8), bool(s[:2500].max() < 0.5)
(True, True)
"""

from __future__ import annotations

import math

from hx.detect.base import DETECTORS, Detector
from hx.detect.calibrate import AnomalyLikelihood, p_to_score
from hx.errors import BadInput

#: what a context detector can symbolise
CHANNELS = ("value", "step")


def symbol(x: float, lo: float, hi: float, levels: int) -> int:
    """The bin of ``x`` among ``levels`` equal bins over ``[lo, hi]`` (widened to hold ``x``).

    >>> symbol(0.5, 0.0, 1.0, 8), symbol(2.0, 0.0, 1.0, 8), symbol(3.0, 3.0, 3.0, 8)
    (4, 7, 0)
    """
    if x < lo:
        lo = x
    if x > hi:
        hi = x
    width = hi - lo
    if width <= 0.0:
        return 0
    k = int((x - lo) / width * levels)
    return k if k < levels else levels - 1


def transition_codes(lead: int, hist: list[int], sym: int, base: int) -> list[int]:
    """One integer per order 1..len(hist): the last k symbols, then ``sym``, in base ``base``.

    ``lead`` (>= 1) starts every code, so channels with different leads never share a code, and the
    number of digits tells the order.

    >>> transition_codes(1, [3, 5], 2, 10)
    [162, 1642]
    """
    codes = []
    ctx = lead
    for j in range(len(hist) - 1, -1, -1):
        ctx = ctx * base + hist[j] + 1
        codes.append(ctx * base + sym)
    return codes


def shift_contexts(ctx: list[int], sym: int, base: int, depth: int) -> list[int]:
    """The context codes after ``sym``, from those before it: what ``transition_codes`` builds, kept incrementally.

    >>> ctx = shift_contexts(shift_contexts([], 3, 10, 2), 5, 10, 2)
    >>> [c * 10 + 2 for c in ctx] == transition_codes(1, [3, 5], 2, 10)
    True
    """
    out = [base + sym + 1]
    p = base
    for c in ctx[: depth - 1]:
        out.append(c + p * base - p + (sym + 1) * p)
        p *= base
    return out


@DETECTORS.register("context")
class ContextNovelty(Detector):
    """Share of never-seen (last ``k`` symbols -> this symbol) transitions, as an anomaly likelihood.

    ``channel`` is what is symbolised: ``"value"`` (the values) or ``"step"`` (``x[t] - x[t-1]``).
    """

    warmup = 100

    def __init__(
        self,
        channel: str = "value",
        levels: int = 8,
        depth: int = 3,
        tolerance: int = 1,
        short: int = 10,
        long: int = 8640,
        max_transitions: int = 100_000,
        seed: int = 0,
        floor: int = 0,
    ) -> None:
        super().__init__()
        if channel not in CHANNELS:
            raise BadInput(f"channel {channel!r} is not one of {', '.join(CHANNELS)}", field="channel")
        if levels < 2 or depth < 1 or tolerance < 0 or max_transitions < 1:
            raise BadInput(
                "context needs levels >= 2, depth >= 1, tolerance >= 0 and max_transitions >= 1", field="levels"
            )
        self.channel = channel
        self.levels = levels
        self.depth = depth
        self.tolerance = tolerance
        self.short = short
        self.long = long
        self.max_transitions = max_transitions
        self.seed = seed
        self.floor = floor
        self._steps = channel == "step"
        #: per symbol, the offsets of the other symbols within ``tolerance`` bins (a code + offset is theirs)
        self._near = [
            tuple(d for d in range(-tolerance, tolerance + 1) if d and 0 <= k + d < levels) for k in range(levels)
        ]
        self._lo = math.inf  # range of the symbolised input learned so far
        self._hi = -math.inf
        self._vlo = math.inf  # range of the values (the expected range explain() shows)
        self._vhi = -math.inf
        self._prev = math.nan
        self._n = 0
        self._ctx: list[int] = []  # the context codes of orders 1..depth, for the next point
        self._seen: dict[int, None] = {}  # transition codes, oldest learned first
        self._al = AnomalyLikelihood(short=short, long=long, floor=floor)

    def _input(self, x: float) -> float:
        """The symbolised input of ``x``: itself, or its step from the previous value (NaN at the start)."""
        return x - self._prev if self._steps else x

    def _raw(self, codes: list[int], sym: int) -> float:
        if not codes:
            return 1.0
        seen = self._seen
        near = self._near[sym]
        new = 0
        for c in codes:
            if c in seen:
                continue
            for d in near:
                if c + d in seen:
                    break
            else:
                new += 1
        return new / len(codes)

    def _remember(self, x: float, u: float, sym: int, codes: list[int]) -> None:
        seen = self._seen
        for c in codes:
            seen[c] = None
        excess = len(seen) - self.max_transitions
        if excess > 0:
            for c in list(seen)[: max(excess, self.max_transitions // 4)]:
                del seen[c]
        if u == u:
            self._ctx = shift_contexts(self._ctx, sym, self.levels + 1, self.depth)
            if u < self._lo:
                self._lo = u
            if u > self._hi:
                self._hi = u
        if x < self._vlo:
            self._vlo = x
        if x > self._vhi:
            self._vhi = x
        self._prev = x
        self._n += 1

    def _step(self, x: float, t: float) -> float:
        u = self._input(x)
        if u == u:
            sym = symbol(u, self._lo, self._hi, self.levels)
            base = self.levels + 1
            codes = [c * base + sym for c in self._ctx]
            raw = self._raw(codes, sym)
        else:
            sym, codes, raw = -1, [], 1.0
        s = p_to_score(self._al.update(raw)) if self._n >= self.warmup else 0.0
        self._exp = (s, self._vlo, self._vhi) if self._n else (s, math.nan, math.nan)
        self._remember(x, u, sym, codes)
        return s

    def _score(self, x: float, t: float) -> float:
        u = self._input(x)
        raw = 1.0
        if u == u:
            sym = symbol(u, self._lo, self._hi, self.levels)
            base = self.levels + 1
            raw = self._raw([c * base + sym for c in self._ctx], sym)
        s = p_to_score(self._al.peek(raw)) if self._n >= self.warmup else 0.0
        self._exp = (s, self._vlo, self._vhi) if self._n else (s, math.nan, math.nan)
        return s

    def _learn(self, x: float, t: float) -> None:
        self._step(x, t)


@DETECTORS.register("context_step")
class StepContextNovelty(ContextNovelty):
    """:class:`ContextNovelty` over the steps ``x[t] - x[t-1]``: a new rhythm of rises and falls."""

    def __init__(
        self,
        channel: str = "step",
        levels: int = 8,
        depth: int = 3,
        tolerance: int = 1,
        short: int = 10,
        long: int = 8640,
        max_transitions: int = 100_000,
        seed: int = 0,
        floor: int = 0,
    ) -> None:
        super().__init__(channel, levels, depth, tolerance, short, long, max_transitions, seed, floor)
