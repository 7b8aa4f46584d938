from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from hx.sim.queueing import RHO_MAX, admit, erlang_c, mixture_quantiles, mm1_quantile


def test_mm1_latency_rises_steeply_near_full_utilisation() -> None:
    mu = np.full(5, 100.0)
    lam = np.array([10.0, 50.0, 80.0, 90.0, 97.0])
    p99 = mm1_quantile(lam, mu, 0.99)
    assert np.all(np.diff(p99) > 0)
    # from 50 % to 97 % utilisation the p99 grows more than 10x; from 10 % to 50 % less than 2x
    assert p99[4] / p99[1] > 10
    assert p99[1] / p99[0] < 2
    assert p99[0] == pytest.approx(-np.log(0.01) / 90.0)


def test_admit_drops_load_beyond_capacity() -> None:
    adm, drop = admit(np.array([50.0, 100.0, 300.0]), np.array([100.0, 100.0, 100.0]))
    assert adm.tolist() == [50.0, RHO_MAX * 100, RHO_MAX * 100]
    assert drop[0] == 0.0
    assert drop[2] == pytest.approx(300 - RHO_MAX * 100)


def test_mixture_of_identical_components_is_the_component() -> None:
    q = mixture_quantiles(np.full(3, 20.0), np.full(3, 0.01), np.ones(3), np.zeros(3, dtype=np.int64), 1)
    expect = 0.01 - np.log(1 - np.array([0.5, 0.95, 0.99])) / 20.0
    assert q[:, 0] == pytest.approx(expect, rel=1e-9)


def test_mixture_quantiles_match_root_finding() -> None:
    rng = np.random.default_rng(4)
    for _ in range(50):
        n = int(rng.integers(1, 6))
        rate = rng.uniform(0.5, 200, n)
        delay = rng.choice([0.005, 0.3, 1.0], n)
        w = rng.uniform(0.1, 1, n)
        got = mixture_quantiles(rate, delay, w, np.zeros(n, dtype=np.int64), 1)[:, 0]
        for k, q in enumerate((0.5, 0.95, 0.99)):

            def surv(
                t: float, q: float = q, w: np.ndarray = w, rate: np.ndarray = rate, delay: np.ndarray = delay
            ) -> float:
                return float((w * np.exp(-rate * np.maximum(t - delay, 0))).sum() / w.sum() - (1 - q))

            assert got[k] == pytest.approx(brentq(surv, 0, 100), rel=1e-4)


def test_mixture_groups_are_independent_and_empty_groups_are_nan() -> None:
    q = mixture_quantiles(
        np.array([10.0, 100.0]), np.zeros(2), np.ones(2), np.array([0, 2], dtype=np.int64), 3, qs=(0.5,)
    )
    assert q[0, 0] == pytest.approx(np.log(2) / 10)
    assert np.isnan(q[0, 1])
    assert q[0, 2] == pytest.approx(np.log(2) / 100)


def test_erlang_c_reference_values() -> None:
    assert erlang_c(1, 0.5) == pytest.approx(0.5)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(10, 5.0) < erlang_c(10, 9.0)
