"""Adaptive resonance over quantised windows: a detector of the ARTime family (own implementation).

The stream is cut into blocks of ``step`` points; each block is reduced to one value (its mean, or its
most extreme point when that lies more than 10 % away from the mean, so a lone spike survives the
reduction), normalised into the range learned so far and quantised into ``levels`` levels (a level
within ``snap`` of the running median level is read as the median, so noise around the usual level is
one symbol).  The last ``window`` of those values form a pattern: their levels and their shape (the
same values less the window's minimum, over the window's span or ``span`` if that is larger, so small
wiggles keep a small shape), complement coded.

A small fuzzy-ART category learner holds the patterns seen.  A pattern's match to a category ``w`` is
``(|min(x, w)| / |x|) ** 3`` (high only for a small box close to the pattern).  With vigilance bounds
``rho_lb <= rho_ub``:

- match >= ``rho_ub``: the pattern resonates; the category learns it (``w <- min(x, w)``);
- ``rho_lb`` <= match < ``rho_ub``: familiar but distinct; a new category is made, nothing is flagged;
- match < ``rho_lb``: nothing known resembles it; a new category is made and the pattern is a
  *novelty* --- the detector's own threshold.

The vigilance is learned: during the warm-up (``probation`` points) categories are formed at a fixed
vigilance and ``rho_lb`` starts at the mean match seen there; afterwards, every half trend window (and
when an alert's mask ends) ``rho_lb`` moves up a little toward the lowest recent match when matches
have stayed above it, down by half the mean shortfall when they have not, never below the mean match of
past novelties; ``rho_ub`` follows the running mean match (capped at 0.97).  After an alert, further
novelties are masked for ``mask`` blocks unless they lie 1.5 times farther outside the learned boxes.

Only a novelty scores: its surprise -- how far the pattern lies outside the nearest category's box, as a
share of the pattern -- is read as a tail probability against the surprises of every block so far
(:class:`hx.detect.calibrate.TailCalibrator`), so the score has the shared calibrated meaning.
Everything is causal: the range, median, vigilance and calibration use only learned points, and the first
``probation`` points score 0.  ``explain()`` gives the value range the best-matching learned pattern
allows for the newest block (the category's box on its last level), in the signal's units.

>>> import numpy as np
>>> t = np.arange(3000.0) * 60
>>> v = np.sin(np.arange(3000) / 20.0)
>>> v[2500:2508] += 3.0
>>> s = Resonance().process(v, t)
>>> bool(s[2500:2520].max() > 0.5), bool(s[600:2500].max() < s[2500:2520].max())
(True, True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hx.detect.base import DETECTORS, Detector, FloatArray
from hx.detect.calibrate import TailCalibrator, p_to_score

_minimum, _subtract = np.minimum, np.subtract
_add_reduce, _minimum_reduce = np.add.reduce, np.minimum.reduce


@DETECTORS.register("resonance")
class Resonance(Detector):
    """Fuzzy-ART novelty over quantised windows of block-reduced values, with learned vigilance."""

    joins_late = True  # silent (scores 0) for ``probation`` points; the ensemble need not wait for it

    # scratch buffers, made on first use (class defaults, so a detector pickled before they existed loads)
    _fbuf: FloatArray | None = None
    _mbuf: FloatArray | None = None
    _best = 0.0
    _SCRATCH = ("_fbuf", "_mbuf", "_best")

    def __getstate__(self) -> dict[str, Any]:
        """The detector's state without the scratch buffers (so snapshots stay as they were)."""
        return {k: v for k, v in self.__dict__.items() if k not in self._SCRATCH}

    def __init__(
        self,
        window: int = 8,
        step: int = 1,
        levels: int = 80,
        snap: float = 0.075,
        probation: int = 600,
        mask: int = 12,
        max_categories: int = 256,
        reach: float = 0.0,
        settle: int = 0,
        span: float = 0.25,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.window = window
        self.step = step
        self.levels = levels
        self.snap = snap
        self.probation = probation
        self.mask = mask
        self.max_categories = max_categories
        self.reach = reach
        self.settle = settle
        self.span = span
        self.seed = seed
        self._block: list[float] = []
        self._n = 0  # points learned
        self._blocks = 0  # blocks learned
        self._lo = math.inf
        self._hi = -math.inf
        self._avg = math.nan  # moving average of block means
        self._hist = [0] * (levels + 1)  # how often each level was seen (for the running median)
        self._seen = 0
        self._med = -1
        self._below = 0
        self._above = 0
        self._pattern: list[float] = []  # the last ``window`` quantised values in [0, 1]
        self._w = np.ones((max_categories, 4 * window))  # the categories (the first ``_k`` rows)
        self._wsum = np.zeros(max_categories)
        self._used = np.zeros(max_categories)
        self._k = 0
        self._rho_lb = 0.8
        self._rho_ub = 0.8
        self._match_sum = 0.0
        self._match_n = 0
        self._recent: list[float] = []  # the matches of the last trend window of blocks
        self._novel_matches: list[float] = []
        self._last_novel = -(10**9)
        self._calm = 0  # blocks since the last novel pattern or vigilance move
        self._last_novel_far = 0.0
        self._last_update = 0
        self._cal = TailCalibrator(history=2000, refit=20, min_history=50, min_beta=0.005)
        self._cache: tuple[float, float, tuple[Any, ...]] | None = None

    @property
    def warmup(self) -> int:  # type: ignore[override]
        return self.probation

    @property
    def _trend(self) -> int:
        return max(2 * self.window, self.probation // self.step)

    # ---- reducing a block and building a pattern ------------------------------------------

    def _reduce(self, block: list[float]) -> tuple[float, float]:
        """The block's representative value and its mean."""
        mean = sum(block) / len(block)
        avg = mean if self._avg != self._avg else (self._avg + mean) / 2.0
        hi, lo = max(block), min(block)
        rep = lo if abs(lo - avg) > abs(hi - avg) else hi
        if abs(rep - mean) < 0.1 * abs(mean):
            rep = mean
        return rep, mean

    def _count_level(self, level: int) -> None:
        """Count a level and move the running median level (``_below``/``_above``: counts either side)."""
        hist = self._hist
        hist[level] += 1
        self._seen += 1
        if self._med < 0:
            self._med = level
            return
        if level < self._med:
            self._below += 1
        elif level > self._med:
            self._above += 1
        half = (self._seen + 1) // 2
        while self._below + hist[self._med] < half:
            self._below += hist[self._med]
            self._med += 1
            while not hist[self._med]:
                self._med += 1
            self._above -= hist[self._med]
        while self._below >= half:
            self._above += hist[self._med]
            self._med -= 1
            while not hist[self._med]:
                self._med -= 1
            self._below -= hist[self._med]

    def _quantise(self, rep: float, lo: float, hi: float) -> tuple[int, float]:
        span = hi - lo
        u = (rep - lo) / span if span > 0 else 0.5
        level = round(min(1.0, max(0.0, u)) * self.levels)
        med = self._med
        q = level / self.levels
        if med >= 0 and abs(q - med / self.levels) < self.snap:
            q = med / self.levels
        return level, q

    def _features(self, pattern: list[float]) -> FloatArray:
        lo = min(pattern)
        span = max(max(pattern) - lo, self.span)  # a window of small wiggles keeps a small shape
        x = [(v - lo) / span for v in pattern] + pattern
        return np.array(x + [1.0 - v for v in x])

    # ---- the category learner --------------------------------------------------------------

    def _match(self, x: FloatArray) -> tuple[int, float, float]:
        """The best category, its match and how far ``x`` lies outside the nearest category's box.

        With complement coding ``|min(x, w)| = |w| - d(x, box)`` (``d`` the L1 distance from ``x`` to the
        box), so the match ``(|min(x, w)| / |x|) ** 3`` is high only for a small box close to ``x``, and
        ``|w| - |min(x, w)|`` is the distance alone (0 inside the box).
        """
        n = self._k
        if not n:
            return -1, 0.0, 1.0
        buf = self._mbuf
        if buf is None or buf.shape != self._w.shape:
            buf = self._mbuf = np.empty_like(self._w)
        inter = _add_reduce(_minimum(x, self._w[:n], out=buf[:n]), axis=1)
        j = int(inter.argmax())
        half = 0.5 * len(x)
        best = self._best = inter.item(j)
        far = float(_minimum_reduce(_subtract(self._wsum[:n], inter, out=inter))) / half
        return j, (best / half) ** 3, far

    def _commit(self, x: FloatArray, j: int, m: float) -> None:
        if j >= 0 and m >= self._rho_ub:
            row = np.minimum(x, self._w[j])
            self._put(j, row)
            return
        if self._k < self.max_categories:
            self._k += 1
            self._put(self._k - 1, x)
            return
        self._put(int(self._used[: self._k].argmin()), x)  # full: the least recently used makes room

    def _put(self, j: int, row: FloatArray) -> None:
        self._w[j] = row
        self._wsum[j] = float(row.sum())
        self._used[j] = self._blocks

    def _box(self, j: int, lo: float, hi: float) -> tuple[float, float]:
        """The value range category ``j`` allows for the newest block, in the signal's units."""
        if j < 0 or not hi > lo:
            return math.nan, math.nan
        w, d = self._w, 2 * self.window
        a, b = w.item(j, d - 1), 1.0 - w.item(j, 2 * d - 1)
        a, b = min(a, b), max(a, b)
        half = 0.5 / self.levels
        return lo + (a - half) * (hi - lo), lo + (b + half) * (hi - lo)

    # ---- scoring ---------------------------------------------------------------------------

    def _evaluate(self, x: float) -> tuple[float, tuple[Any, ...]]:
        """The score of ``x`` if it completes a block, and what learning it needs; changes nothing."""
        block = [*self._block, x]
        if len(block) < self.step:
            return 0.0, ()
        rep, mean = self._reduce(block)
        lo, hi = min(self._lo, min(block)), max(self._hi, max(block))
        level, q = self._quantise(rep, lo, hi)
        pattern = [*self._pattern[1 - self.window :], q] if self.window > 1 else [q]
        if len(pattern) < self.window:
            return 0.0, (mean, level, pattern, None, -1, 0.0, 0.0, False)
        feats = self._features(pattern)
        j, m, far = self._match(feats)
        novel = far > self.reach and self._novel(m, far)
        s = p_to_score(self._cal.p(far)) if novel else 0.0
        self._exp = (s, *self._box(j, self._lo, self._hi))
        return s, (mean, level, pattern, feats, j, m, far, novel)

    def _live(self) -> bool:
        return self._n + 1 > self.probation and self._k > 0

    def _novel(self, m: float, far: float) -> bool:
        """Whether a pattern matching at ``m`` raises an alert: it must be novel (below ``rho_lb``) and,
        within ``mask`` blocks of an alert (or, with ``settle``, while the learner is unsettled: a novelty or
        a vigilance move in the last ``settle`` blocks), lie clearly farther outside the learned boxes than
        the pattern that raised the last alert."""
        if not self._live() or m >= self._rho_lb:
            return False
        after_alert = self._blocks - self._last_novel <= self.mask
        if after_alert or self._calm < self.settle:
            return far > (1.5 if after_alert else 2.0) * self._last_novel_far
        return True

    def _score(self, x: float, t: float) -> float:
        s, how = self._evaluate(x)
        self._cache = (x, s, how)
        if not how:
            self._exp = (0.0, *self._exp[1:])
        return s

    def _learn(self, x: float, t: float) -> None:
        cache = self._cache
        how = cache[2] if cache is not None and cache[0] == x else self._evaluate(x)[1]
        self._cache = None
        self._n += 1
        self._block.append(x)
        if len(self._block) < self.step:
            return
        self._close_block(how)

    def _step(self, x: float, t: float) -> float:
        if self.step == 1 and self.window > 1:
            return self._step_point(x)
        s, how = self._evaluate(x)
        if not how:
            self._exp = (0.0, *self._exp[1:])
        self._n += 1
        self._block.append(x)
        if len(self._block) >= self.step:
            self._close_block(how)
        return s

    def _step_point(self, x: float) -> float:
        """``_step`` with one point per block: the same arithmetic as ``_evaluate`` then ``_close_block``, inlined.

        It allocates no per-point arrays (the pattern's features and the category intersections go into
        reused buffers), so the member costs a few microseconds a point (see tests/detect/test_resonance_fast.py,
        which checks it against the general path bit for bit).
        """
        mean = 0.0 + x  # sum([x]) / 1, as _reduce computes it (the representative value is x itself)
        old_lo, old_hi = self._lo, self._hi
        lo = x if x < old_lo else old_lo  # min(old_lo, x) and max(old_hi, x), ties (+-0.0) included
        hi = x if x > old_hi else old_hi
        levels = self.levels
        span = hi - lo
        u = (x - lo) / span if span > 0 else 0.5
        level = round(min(1.0, max(0.0, u)) * levels)
        med = self._med
        q = level / levels
        if med >= 0 and abs(q - med / levels) < self.snap:
            q = med / levels
        pattern = self._pattern[1 - self.window :]
        pattern.append(q)
        s = 0.0
        if len(pattern) == self.window:
            feats = self._features_into(pattern)
            j, m, far = self._match(feats)
            novel = far > self.reach and self._novel(m, far)
            if novel:
                s = p_to_score(self._cal.p(far))
            self._exp = (s, *self._box(j, old_lo, old_hi))
        else:
            self._exp = (0.0, *self._exp[1:])
        self._n += 1
        self._lo, self._hi = lo, hi
        self._avg = mean if self._avg != self._avg else (self._avg + mean) / 2.0
        self._count_level(level)
        self._pattern = pattern
        self._blocks += 1
        if len(pattern) == self.window:
            if j >= 0 and m >= self._rho_ub and self._mbuf is not None:
                # resonance: min(x, w_j) and its sum are what _match just computed (in the buffer)
                self._w[j] = self._mbuf[j]
                self._wsum[j] = self._best
                self._used[j] = self._blocks
            else:
                self._commit(feats, j, m)
            self._cal.learn(far)
            self._track(m, far, novel)
        return s

    def _features_into(self, pattern: list[float]) -> FloatArray:
        """``_features(pattern)`` written into a reused buffer."""
        buf = self._fbuf
        if buf is None or len(buf) != 4 * len(pattern):
            buf = self._fbuf = np.empty(4 * len(pattern))
        lo = min(pattern)
        span = max(max(pattern) - lo, self.span)
        x = [(v - lo) / span for v in pattern] + pattern
        x += [1.0 - v for v in x]
        buf[:] = x
        return buf

    def _close_block(self, how: tuple[Any, ...]) -> None:
        mean, level, pattern, feats, j, m, far, novel = how
        block, self._block = self._block, []
        self._lo, self._hi = min(self._lo, min(block)), max(self._hi, max(block))
        self._avg = mean if self._avg != self._avg else (self._avg + mean) / 2.0
        self._count_level(level)
        self._pattern = pattern
        self._blocks += 1
        if feats is None:
            return
        self._commit(feats, j, m)
        self._cal.learn(far)
        self._track(m, far, novel)

    def _track(self, m: float, far: float, novel: bool) -> None:
        self._match_sum += m
        self._match_n += 1
        recent = self._recent
        recent.append(m)
        trend = self._trend
        if len(recent) > trend:
            del recent[0]
        self._calm = 0 if m < self._rho_lb else self._calm + 1
        if novel:
            self._novel_matches.append(m)
            self._last_novel, self._last_novel_far = self._blocks, far
        if self._n < self.probation:
            return
        if self._n - self.step < self.probation:  # the warm-up just ended: start from what it saw
            self._rho_lb = self._rho_ub = min(0.97, self._match_sum / self._match_n)
            self._last_update = self._blocks
            return
        mask_over = self._blocks - self._last_novel == self.mask
        if mask_over or self._blocks - self._last_update >= trend // 2:
            self._adapt()

    def _adapt(self) -> None:
        """Move the vigilance bounds after what the last trend window of matches showed."""
        self._last_update = self._blocks
        self._calm = 0
        ub = min(0.97, self._match_sum / self._match_n)
        lb, low = self._rho_lb, min(self._recent)
        if low >= lb:
            lb += 0.19 * (low - lb)
        else:
            short = [min(0.37, ub - r) for r in self._recent if ub - r > 0.05]
            lb -= max(0.01, sum(short) / len(short) if short else 0.0) / 2.0
            if self._novel_matches:
                lb = max(lb, sum(self._novel_matches) / len(self._novel_matches))
        self._rho_ub, self._rho_lb = ub, min(ub, lb)

    def _components(self) -> dict[str, float]:
        return {"resonance": self._exp[0]}
