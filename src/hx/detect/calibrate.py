"""Score calibration: one threshold that means the same on every signal.

A detector's raw *surprise* (a z-like, unitless number) is turned into a tail probability ``p`` against
the signal's own recent history of surprises, and ``p`` into a score::

    score = clip(-log10(p) / SCORE_DECADES, 0, 1)

so ``alert_threshold = 0.8`` means "as rare as one point in 10,000 of this signal's normal behaviour",
whatever the signal's units, noise or shape.  The tail beyond the 95th percentile of the history is
modelled as exponential (peaks over threshold, as in SPOT), so rarer events than any seen still get a
probability.  Until the history holds ``min_history`` surprises the surprise is read as a standard
normal |z|.

>>> round(p_to_score(1e-4), 6), effective_threshold(0.8, "high"), effective_threshold(0.8, "low")
(0.8, 0.7, 0.9)
"""

from __future__ import annotations

import bisect
import math

#: decades of tail probability that span the score range [0, 1]
SCORE_DECADES = 5.0

#: how ``sensitivity`` shifts the alert threshold (half a decade of rarity per step)
SENSITIVITY_SHIFT = {"low": 0.1, "medium": 0.0, "high": -0.1}

_MIN_P = 1e-300


def p_to_score(p: float) -> float:
    """A tail probability as a score in [0, 1]."""
    if p >= 1.0:
        return 0.0
    s = -math.log10(max(p, _MIN_P)) / SCORE_DECADES
    return 1.0 if s > 1.0 else s


def score_to_p(score: float) -> float:
    """The tail probability a score stands for (the inverse of :func:`p_to_score` below 1)."""
    return float(10.0 ** (-SCORE_DECADES * score))


def normal_tail(z: float) -> float:
    """Two-sided tail probability of a standard normal |z|."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def effective_threshold(alert_threshold: float, sensitivity: str) -> float:
    """The threshold actually applied: ``sensitivity`` low/medium/high shifts ``alert_threshold``.

    ``high`` alerts on events about 3x more common, ``low`` on events about 3x rarer.
    """
    if sensitivity not in SENSITIVITY_SHIFT:
        from hx.errors import BadInput

        raise BadInput(f"sensitivity {sensitivity!r} is not one of {', '.join(SENSITIVITY_SHIFT)}", field="sensitivity")
    if not 0.0 <= alert_threshold <= 1.0:
        from hx.errors import BadInput

        raise BadInput(f"alert_threshold {alert_threshold} is outside [0, 1]", field="alert_threshold")
    return min(1.0, max(0.0, round(alert_threshold + SENSITIVITY_SHIFT[sensitivity], 10)))


class TailCalibrator:
    """Tail probability of a surprise against the last ``history`` surprises (refit every ``refit``).

    >>> cal = TailCalibrator(history=200, refit=10, min_history=50)
    >>> for i in range(200):
    ...     cal.learn(abs(((i * 7919) % 100) / 50.0 - 1.0))
    >>> cal.p(0.5) > 0.3, cal.p(5.0) < 1e-4
    (True, True)
    """

    def __init__(
        self,
        history: int = 2000,
        refit: int = 50,
        min_history: int = 100,
        tail: float = 0.05,
        min_beta: float = 0.25,
        prior: bool = True,
    ) -> None:
        self.min_beta = min_beta
        self.prior = prior
        self.history = history
        self.refit = refit
        self.min_history = min_history
        self.tail = tail
        self._ring: list[float] = []
        self._live: list[float] = []  # the ring's values, sorted
        self._pos = 0
        self._since = 0
        self._sorted: list[float] = []
        self._u = math.inf
        self._beta = 1.0
        self._tail_p = 1.0

    def p(self, surprise: float) -> float:
        """Probability of a surprise at least this large in this signal's history."""
        srt = self._sorted
        n = len(srt)
        if n < self.min_history:
            return normal_tail(surprise) if self.prior else 1.0
        if surprise > self._u:
            return self._tail_p * math.exp(-(surprise - self._u) / self._beta)
        above = n - bisect.bisect_left(srt, surprise)
        return (above + 1.0) / (n + 1.0)

    def learn(self, surprise: float) -> None:
        ring = self._ring
        live = self._live
        if len(ring) < self.history:
            ring.append(surprise)
        else:
            del live[bisect.bisect_left(live, ring[self._pos])]
            ring[self._pos] = surprise
            self._pos = (self._pos + 1) % self.history
        bisect.insort(live, surprise)
        self._since += 1
        n = len(ring)
        if self._since >= self.refit or (n < self.min_history * 2 and n >= self.min_history):
            self._fit()

    def _fit(self) -> None:
        self._since = 0
        srt = self._live.copy()  # the history, kept sorted as it is learned (a frozen copy: p() reads it)
        n = len(srt)
        self._sorted = srt
        k = min(n - 1, int((1.0 - self.tail) * n))
        u = srt[k]
        excess = srt[k + 1 :]
        mean_excess = (sum(excess) / len(excess) - u) if excess else 0.0
        self._u = u
        self._beta = max(mean_excess, self.min_beta)
        self._tail_p = (n - k) / (n + 1.0)


class AnomalyLikelihood:
    """Numenta's anomaly likelihood: how unusual the recent mean raw score is against its own history.

    The mean of the last ``short`` raw scores is compared with the mean and spread of that same
    average over the last ``long`` points; the Gaussian tail of the deviation is the probability
    that recent behaviour is normal (``short`` 10 and ``long`` 8640 -- 30 days of 5-minute points -- are
    Numenta's published defaults).  Returns that tail probability (1 until ``min_history`` averages
    are known).  The spread is floored at ``min_spread`` (a quiet history must not make a small rise
    look infinitely unusual).

    With ``floor`` (a count, 0 = off), the Gaussian tail is also floored by the empirical one: a recent
    mean that ``k >= floor`` of the ``n`` remembered means reached or passed has probability at least
    ``k / (n + 1)``.  On bursty counts
    and flat-then-spiky series the means are heavy-tailed, so the Gaussian calls a kind of burst the
    series has shown many times a 1e-6 event; the floor keeps such a burst as common as it has been.  A
    mean above every remembered one keeps its Gaussian tail.

    >>> al = AnomalyLikelihood(short=5, long=100, min_history=20)
    >>> ps = [al.update(0.1 + 0.01 * (i % 3)) for i in range(100)]
    >>> al.update(0.9) < 1e-3
    True
    """

    def __init__(
        self, short: int = 10, long: int = 8640, min_history: int = 100, min_spread: float = 0.03, floor: int = 0
    ) -> None:
        self.min_spread = min_spread
        self.floor = floor
        self._sorted: list[float] = []  # with ``floor``: the remembered means, sorted
        self.short = short
        self.long = long
        self.min_history = min_history
        self._recent: list[float] = []
        self._recent_sum = 0.0
        self._hist: list[float] = []
        self._hist_pos = 0
        self._s1 = 0.0
        self._s2 = 0.0

    def peek(self, raw: float) -> float:
        """The probability for a new raw score, without learning it."""
        recent = self._recent
        total = self._recent_sum + raw
        count = len(recent) + 1
        if count > self.short:
            total -= recent[0]
            count -= 1
        mean = total / count
        n = len(self._hist)
        if n < self.min_history:
            return 1.0
        mu = self._s1 / n
        var = max(self._s2 / n - mu * mu, 0.0)
        sd = max(math.sqrt(var), self.min_spread)
        if mean <= mu:
            return 1.0
        return self._floored(0.5 * math.erfc((mean - mu) / sd / math.sqrt(2.0)), mean)

    def _floored(self, p: float, mean: float) -> float:
        if not self.floor:
            return p
        srt = self._sorted
        above = len(srt) - bisect.bisect_left(srt, mean)
        return max(p, above / (len(srt) + 1.0)) if above >= self.floor else p

    def _remember(self, mean: float, old: float | None) -> None:
        if not self.floor:
            return
        if old is not None:
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        bisect.insort(self._sorted, mean)

    def learn(self, raw: float) -> None:
        recent = self._recent
        recent.append(raw)
        self._recent_sum += raw
        if len(recent) > self.short:
            self._recent_sum -= recent.pop(0)
        mean = self._recent_sum / len(recent)
        self._push(mean)

    def _push(self, mean: float) -> None:
        hist = self._hist
        old = None
        if len(hist) < self.long:
            hist.append(mean)
        else:
            old = hist[self._hist_pos]
            self._s1 -= old
            self._s2 -= old * old
            hist[self._hist_pos] = mean
            self._hist_pos = (self._hist_pos + 1) % self.long
        self._s1 += mean
        self._s2 += mean * mean
        self._remember(mean, old)

    def update(self, raw: float) -> float:
        """The probability for a new raw score (as :meth:`peek`), then learn it; one pass, for streaming."""
        recent = self._recent
        recent.append(raw)
        self._recent_sum += raw
        if len(recent) > self.short:
            self._recent_sum -= recent.pop(0)
        mean = self._recent_sum / len(recent)
        hist = self._hist
        n = len(hist)
        p = 1.0
        if n >= self.min_history:
            mu = self._s1 / n
            if mean > mu:
                var = self._s2 / n - mu * mu
                sd = math.sqrt(var) if var > 0.0 else 0.0
                if sd < self.min_spread:
                    sd = self.min_spread
                p = 0.5 * math.erfc((mean - mu) / sd / math.sqrt(2.0))
                if self.floor:
                    p = self._floored(p, mean)
        self._push(mean)
        return p
