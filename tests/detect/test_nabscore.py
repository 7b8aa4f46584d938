"""The NAB scorer on hand-made cases whose scores are worked out by hand here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hx.detect.nabscore import (
    PROFILES,
    FileLabels,
    cross_validate,
    normalize,
    optimise_threshold,
    probation_length,
    scaled_sigmoid,
    score_corpus,
    score_file,
)
from hx.errors import BadInput

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


def _two_folds() -> dict[str, FileLabels]:
    return {"A/a.csv": FileLabels(100, ((40, 49),)), "B/b.csv": FileLabels(100, ((40, 49),))}


def test_cross_validation_exposes_a_choice_that_does_not_generalise() -> None:
    # X finds only a's window (at its first row: reward 1), Y only b's (at row 45: y = -0.5).
    labels = _two_folds()
    x = {"A/a.csv": np.zeros(100), "B/b.csv": np.zeros(100)}
    y = {"A/a.csv": np.zeros(100), "B/b.csv": np.zeros(100)}
    x["A/a.csv"][40] = 1.0
    y["B/b.csv"][45] = 1.0
    cv = cross_validate(labels, {"X": x, "Y": y}, "standard", STANDARD, threshold=0.5)
    # without a, Y looks best (0.857 vs -1) and misses a; without b, X looks best and misses b
    assert [(f.fold, f.candidate) for f in cv.folds] == [("A", "Y"), ("B", "X")]
    assert cv.folds[0].train_raw == pytest.approx(sig(-0.5) / sig(-1.0))
    assert cv.raw == pytest.approx(-2.0)
    assert cv.normalized == pytest.approx(0.0)
    # chosen on all files, X would claim 100 * (0 + 2) / 4 = 50
    assert score_corpus(labels, x, 0.5, "standard", STANDARD).normalized == pytest.approx(50.0)


def test_cross_validation_chooses_the_threshold_on_the_other_folds() -> None:
    # one candidate: 0.9 at each window's row 42, background 0.3 with a 0.6 blip at row 20 of a only
    labels = _two_folds()
    z = {"A/a.csv": np.full(100, 0.3), "B/b.csv": np.full(100, 0.3)}
    z["A/a.csv"][42] = z["B/b.csv"][42] = 0.9
    z["A/a.csv"][20] = 0.6
    cv = cross_validate(labels, {"Z": z}, "standard", STANDARD)
    # on b alone the best threshold is 0.9 (0.6 is not a score there), applied to a: the TP, not the blip
    assert [f.threshold for f in cv.folds] == [0.9, 0.9]
    reward = sig(-0.8) / sig(-1.0)
    assert cv.raw == pytest.approx(2 * reward)
    assert cv.normalized == pytest.approx(100.0 * (2 * reward + 2) / 4)


def test_cross_validation_needs_candidates() -> None:
    with pytest.raises(BadInput):
        cross_validate(_two_folds(), {}, "standard", STANDARD)


def test_a_threshold_table_agrees_with_cross_validate_when_scores_do_not_depend_on_the_threshold() -> None:
    from hx.detect.nabscore import cross_validate_table, cross_validate_transformed, threshold_table

    labels = _two_folds()
    z = {"A/a.csv": np.full(100, 0.3), "B/b.csv": np.full(100, 0.3)}
    z["A/a.csv"][42] = z["B/b.csv"][42] = 0.9
    z["A/a.csv"][20] = 0.6
    grid = [0.5, 0.6, 0.9]
    table = threshold_table(labels, z, grid, STANDARD, lambda s, _th: s)
    cv = cross_validate_table(labels, table, grid, "standard", STANDARD)
    ref = cross_validate(labels, {"Z": z}, "standard", STANDARD)
    assert [f.threshold for f in cv.folds] == [f.threshold for f in ref.folds] == [0.9, 0.9]
    assert cv.normalized == pytest.approx(ref.normalized)
    again, th, best = cross_validate_transformed(labels, z, "standard", STANDARD, lambda s, _th: s, grid=grid)
    assert again == cv and th == optimise_threshold(labels, z, "standard", STANDARD).threshold == 0.9
    assert best == pytest.approx(optimise_threshold(labels, z, "standard", STANDARD).normalized)


def test_a_threshold_table_scores_what_the_transform_gives_at_each_threshold() -> None:
    """A transform that halves the scores under 0.7 (as a fold at a lower level would): at 0.5 the window's 0.9
    becomes 0.45 and both windows are missed, so the other fold's choice is 0.9."""
    from hx.detect.nabscore import cross_validate_table, threshold_table

    labels = _two_folds()
    z = {"A/a.csv": np.full(100, 0.3), "B/b.csv": np.full(100, 0.3)}
    z["A/a.csv"][42] = z["B/b.csv"][42] = 0.9

    def hide(s: np.ndarray, th: float) -> np.ndarray:
        return s * 0.5 if th < 0.7 else s

    grid = [0.5, 0.9]
    table = threshold_table(labels, z, grid, STANDARD, hide)
    assert all(t[0] < t[1] for t in table.values())
    assert [f.threshold for f in cross_validate_table(labels, table, grid, "standard", STANDARD).folds] == [0.9, 0.9]
