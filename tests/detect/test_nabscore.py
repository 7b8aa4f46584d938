"""The NAB scorer on hand-made cases whose scores are worked out by hand here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hx.detect.nabscore import (
    PROFILES,
    FileLabels,
    normalize,
    optimise_threshold,
    probation_length,
    scaled_sigmoid,
    score_corpus,
    score_file,
)

STANDARD = PROFILES["standard"]


def sig(y: float) -> float:
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def test_probation_is_15_percent_capped_at_750() -> None:
    assert probation_length(100) == 15
    assert probation_length(4032) == 604
    assert probation_length(10000) == 750


def test_scaled_sigmoid_edges() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(3.0) == -1.0


def test_earliest_detection_in_window_counts_once() -> None:
    # 100 rows, probation 15; one window at rows 40..49 (w = 10, b = 49).
    lab = FileLabels(100, ((40, 49),))
    scores = np.zeros(100)
    scores[42] = 1.0  # earliest detection: y = -(49 - 42 + 1) / 10 = -0.8
    scores[47] = 1.0  # later detection in the same window: ignored
    expected = 1.0 * sig(-0.8) / sig(-1.0)
    assert score_file(lab, scores, 0.5, STANDARD) == pytest.approx(expected)


def test_false_positive_before_any_window_costs_a_fp() -> None:
    lab = FileLabels(100, ((60, 69),))
    scores = np.zeros(100)
    scores[20] = 1.0  # FP before the window: -A_FP
    scores[61] = 1.0  # TP: y = -(69 - 61 + 1) / 10 = -0.9
    expected = -0.11 + sig(-0.9) / sig(-1.0)
    assert score_file(lab, scores, 0.5, STANDARD) == pytest.approx(expected)


def test_false_positive_after_a_window_decays_with_distance() -> None:
    lab = FileLabels(100, ((30, 39),))  # w = 10, b = 39
    scores = np.zeros(100)
    scores[44] = 1.0  # y = (44 - 39) / (10 - 1) = 5/9
    scores[90] = 1.0  # y = 51/9 > 3: -1
    missed = -1.0  # the window itself is missed
    expected = missed + 0.11 * sig(5 / 9) + 0.11 * -1.0
    assert score_file(lab, scores, 0.5, STANDARD) == pytest.approx(expected)


def test_probationary_rows_are_not_scored() -> None:
    lab = FileLabels(100, ((40, 49),))
    scores = np.zeros(100)
    scores[5] = 1.0  # in probation (first 15 rows): no FP
    assert score_file(lab, scores, 0.5, STANDARD) == pytest.approx(-1.0)  # only the miss


def test_low_fn_profile_doubles_a_miss() -> None:
    lab = FileLabels(100, ((40, 49),))
    assert score_file(lab, np.zeros(100), 0.5, PROFILES["reward_low_FN_rate"]) == pytest.approx(-2.0)


def test_normalisation_over_the_corpus() -> None:
    # two files, three windows: one detected at its first row (+1), two missed (-1 each)
    a = FileLabels(100, ((40, 49),))
    b = FileLabels(200, ((60, 69), (120, 129)))
    sa = np.zeros(100)
    sa[40] = 1.0
    res = score_corpus({"a": a, "b": b}, {"a": sa, "b": np.zeros(200)}, 0.5, "standard", STANDARD)
    raw = 1.0 - 2.0
    assert res.raw == pytest.approx(raw)
    assert res.normalized == pytest.approx(100 * (raw + 3) / (3 + 3))
    assert (res.tp, res.fn, res.fp) == (1, 2, 0)
    assert normalize(3.0, 3, STANDARD) == 100.0 and normalize(-3.0, 3, STANDARD) == 0.0


def test_optimised_threshold_is_the_best_single_threshold() -> None:
    a = FileLabels(100, ((40, 49),))
    s = np.zeros(100)
    s[40] = 0.9  # TP at the window start: +1
    s[20] = 0.7  # FP: -0.11 if the threshold admits it
    s[30] = 0.5
    res = optimise_threshold({"a": a}, {"a": s}, "standard", STANDARD)
    assert res.threshold == pytest.approx(0.9)
    assert res.normalized == pytest.approx(100.0)
    # nothing detected at all scores 0 (the null detector)
    null = optimise_threshold({"a": a}, {"a": np.zeros(100) - 1}, "standard", STANDARD)
    assert null.normalized >= 0.0


def test_window_in_probation_is_not_counted() -> None:
    lab = FileLabels(100, ((2, 8), (40, 49)))
    assert lab.scored_windows() == [1]
