"""Queueing maths of the simulator, pure and vectorised.

Each ready replica is an M/M/1 queue: requests arrive at rate ``lam``, it serves at rate ``mu``. While
``lam < mu`` the response time is exponential with rate ``mu - lam``, so its q-quantile is
``-ln(1 - q) / (mu - lam)``: flat at low utilisation and rising without bound as utilisation nears 1.
A replica admits at most ``RHO_MAX * mu`` requests/s (a bounded queue); the rest of the offered load is
dropped and counted as errors. A group of replicas (a version, a service) answers with the mixture of
its replicas' response-time distributions, weighted by throughput; its quantiles are found by bisection.

>>> q = mm1_quantile(np.array([10.0, 90.0]), np.array([100.0, 100.0]), 0.99)
>>> [round(float(x), 3) for x in q]
[0.051, 0.461]
"""

from __future__ import annotations

import numpy as np

from hx.telemetry.base import FloatArray

#: The highest utilisation a replica is run at: offered load beyond ``RHO_MAX * mu`` is dropped.
RHO_MAX = 0.98
QUANTILES: tuple[float, ...] = (0.5, 0.95, 0.99)
_NEWTON_ITERS = 20


def admit(offered: FloatArray, mu: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(admitted, dropped) request rates for replicas offered ``offered`` with service rate ``mu``.

    >>> a, d = admit(np.array([50.0, 150.0]), np.array([100.0, 100.0]))
    >>> a.tolist(), d.tolist()
    ([50.0, 98.0], [0.0, 52.0])
    """
    admitted = np.minimum(offered, RHO_MAX * mu)
    return admitted, offered - admitted


def mm1_quantile(lam: FloatArray, mu: FloatArray, q: float) -> FloatArray:
    """The q-quantile of the M/M/1 response time (seconds); ``lam`` is capped at ``RHO_MAX * mu``."""
    lam = np.minimum(lam, RHO_MAX * mu)
    return np.asarray(-np.log1p(-q) / (mu - lam), dtype=np.float64)


def mixture_quantiles(
    rate: FloatArray,
    delay: FloatArray,
    weight: FloatArray,
    group: np.ndarray,
    n_groups: int,
    qs: tuple[float, ...] = QUANTILES,
    iters: int = _NEWTON_ITERS,
) -> FloatArray:
    """Quantiles, shape ``[len(qs), n_groups]``, of per-group mixtures of shifted exponentials.

    Component ``i`` is ``delay[i] + Exp(rate[i])`` with mixing weight ``weight[i]`` in group ``group[i]``.
    Solved by Newton steps on the log survival function, kept inside a shrinking bracket (a step that
    would leave it bisects instead). Groups with zero total weight get NaN.

    >>> r = mixture_quantiles(np.array([10.0]), np.array([0.1]), np.array([1.0]), np.array([0]), 1)
    >>> [round(float(x), 4) for x in r[:, 0]]
    [0.1693, 0.3996, 0.5605]
    """
    nq = len(qs)
    log_tail = np.log(np.array([1.0 - q for q in qs]))[:, None]  # [nq, 1]
    total = np.bincount(group, weights=weight, minlength=n_groups)
    flat = (group[None, :] + n_groups * np.arange(nq)[:, None]).ravel()
    comp_q = delay[None, :] - log_tail / rate[None, :]  # each component's own quantile
    hi_flat = np.zeros(nq * n_groups)
    used = np.broadcast_to(weight > 0, comp_q.shape).ravel()
    np.maximum.at(hi_flat, flat[used], comp_q.ravel()[used])
    hi = hi_flat.reshape(nq, n_groups)
    lo = np.zeros_like(hi)
    live = total > 0
    size = nq * n_groups
    with np.errstate(invalid="ignore", divide="ignore"):
        wsum = np.maximum(total, 1e-300)
        mean_delay = np.bincount(group, weights=weight * delay, minlength=n_groups) / wsum
        mean_rate = np.bincount(group, weights=weight * rate, minlength=n_groups) / wsum
        t = mean_delay[None, :] - log_tail / np.where(live, mean_rate, 1.0)[None, :]  # exact if homogeneous
        log_target = log_tail + np.log(wsum)[None, :]
        for _ in range(iters):
            x = t[:, group] - delay[None, :]
            surv = weight[None, :] * np.exp(-rate[None, :] * np.maximum(x, 0.0))
            s = np.bincount(flat, weights=surv.ravel(), minlength=size).reshape(nq, n_groups)
            d = np.bincount(flat, weights=(surv * rate[None, :] * (x > 0)).ravel(), minlength=size)
            f = np.log(s) - log_target
            lo = np.where(f > 0, t, lo)
            hi = np.where(f > 0, hi, t)
            step = f * s / d.reshape(nq, n_groups)
            nxt = t + step
            done = np.abs(step) <= 1e-9 + 1e-7 * t
            newton = np.isfinite(nxt) & (nxt >= lo) & (nxt <= hi)
            t = np.where(done, t, np.where(newton, nxt, 0.5 * (lo + hi)))
            if (done | ~live[None, :]).all():
                break
    t[:, total <= 0] = np.nan
    return np.asarray(t, dtype=np.float64)


def erlang_c(c: int, a: float) -> float:
    """Probability of waiting in an M/M/c queue with offered load ``a = lam / mu`` Erlangs (``a < c``).

    Kept as a reference for the per-replica model: with one shared queue instead of round-robin,
    waiting is rarer. ``erlang_c(1, a) == a``.

    >>> round(erlang_c(2, 1.0), 4)
    0.3333
    """
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    rho = a / c
    return b / (1.0 - rho + rho * b)
