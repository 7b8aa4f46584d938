"""Hand-computed cases of the Kubernetes HPA behaviour."""

from __future__ import annotations

import pytest

from hx.errors import BadInput
from hx.scale import HpaPolicy, hpa_desired


def test_formula_and_tolerance_band() -> None:
    # ratio = util / target; |ratio - 1| <= 0.1 keeps the replicas
    assert hpa_desired(10, 0.77, target=0.7) == 10  # ratio 1.10: inside the band
    assert hpa_desired(10, 0.64, target=0.7) == 10  # ratio 0.914: inside
    assert hpa_desired(10, 0.78, target=0.7) == 12  # ratio 1.114: ceil(11.14) = 12
    assert hpa_desired(10, 0.62, target=0.7) == 9  # ratio 0.886: ceil(8.86) = 9
    assert hpa_desired(3, 1.4, target=0.7) == 6  # exactly double
    assert hpa_desired(4, 0.0, target=0.7, min_replicas=2) == 2  # bounds apply
    assert hpa_desired(4, 5.0, target=0.5, max_replicas=10) == 10


def test_bad_input() -> None:
    with pytest.raises(BadInput):
        hpa_desired(-1, 0.5)
    with pytest.raises(BadInput):
        hpa_desired(1, 0.5, target=0.0)
    assert hpa_desired(3, float("nan")) == 3  # no metric: no change


def test_scale_up_limit_is_max_of_4_pods_and_100_percent() -> None:
    p = HpaPolicy(target=0.5, max_replicas=1000)
    # 2 replicas at 10x the target want 40; limit max(2 + 4, 2 x 2) = 6
    assert p.decide(0.0, 2, 5.0) == 6
    # next period from 6: limit max(10, 12) = 12
    assert p.decide(15.0, 6, 5.0) == 12
    # from 12: max(16, 24) = 24
    assert p.decide(30.0, 12, 5.0) == 24


def test_limit_counts_scale_ups_already_made_in_the_period() -> None:
    p = HpaPolicy(target=0.5, sync_period_s=5.0)
    assert p.decide(0.0, 2, 5.0) == 6  # +4 at t=0
    # t=5 is inside the same 15 s period: the period started at 2 replicas, so the cap is still 6
    assert p.decide(5.0, 6, 5.0) == 6
    # t=15: the t=0 event left the period; from 6 the cap is 12
    assert p.decide(15.0, 6, 5.0) == 12


def test_no_scale_up_stabilisation() -> None:
    p = HpaPolicy(target=0.5)
    assert p.decide(0.0, 4, 0.5) == 4
    assert p.decide(15.0, 4, 0.75) == 6  # ratio 1.5: acts at once


def test_scale_down_waits_for_the_300s_window() -> None:
    p = HpaPolicy(target=0.5)
    assert p.decide(0.0, 8, 0.5) == 8  # recommendation 8 at t=0
    assert p.decide(15.0, 8, 0.25) == 8  # wants 4, but 8 was recommended within 300 s
    assert p.decide(150.0, 8, 0.25) == 8
    assert p.decide(285.0, 8, 0.25) == 8
    assert p.decide(300.0, 8, 0.25) == 4  # the t=0 recommendation has left the window


def test_scale_down_takes_the_max_over_the_window() -> None:
    p = HpaPolicy(target=0.5)
    p.decide(0.0, 10, 0.5)  # rec 10
    p.decide(100.0, 10, 0.3)  # rec 6
    p.decide(200.0, 10, 0.2)  # rec 4
    assert p.decide(301.0, 10, 0.1) == 6  # window (1, 301]: max(6, 4, 2) = 6
    assert p.decide(401.0, 6, 0.1) == 4  # window (101, 401]: max(4, 2, 2) = 4


def test_calls_between_sync_periods_return_the_last_decision() -> None:
    p = HpaPolicy(target=0.5)
    assert p.decide(0.0, 2, 1.0) == 4
    assert p.decide(5.0, 4, 5.0) == 4  # 5 s later: no evaluation
    assert p.decide(15.0, 4, 5.0) == 8


def test_zero_replicas_disables_scaling() -> None:
    assert HpaPolicy().decide(0.0, 0, 1.0) == 0
