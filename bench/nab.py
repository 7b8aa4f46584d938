"""NAB benchmark: hx's detectors on the Numenta Anomaly Benchmark, beside the published figures.

The figure that leads is leave-one-category-out (LOCO): every threshold and configuration choice is made on
the other four categories and scored on the held-out one (``leave_one_category_out`` in the results); the
all-files figures (``all_data``) sit beside it and are optimistic.

Usage: python bench/nab.py [--quick] [--data DIR] [--detector NAME ...] [--out bench/results/nab.json]

Each file is streamed through a fresh detector (every point scored before it is learned).  Each profile
is scored twice: with the single threshold that maximises the corpus score (as NAB's scoreboard does,
per profile) and with the shipped default threshold (the alert_threshold 0.8 -- a 1-in-10,000 tail
event -- never tuned on this data).  Throughput is points per second of ``Detector.process`` on one
core, measured both by wall clock and by this process's CPU time (the machine may be shared).  Scores
per category use the same thresholds, normalised over the category's own windows.  ``--quick`` runs
every fourth file and prints without writing the results file (unless ``--out`` is given).

Next to the all-files figures it reports leave-one-category-out cross-validated ones (``--no-cv`` skips
them): every configuration in ``CANDIDATES`` is run, and for each NAB category the configuration and
threshold are chosen on the other categories and scored on it; also the shipped configuration with only
its threshold chosen that way, and the configuration chosen at the fixed default threshold.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from hx.detect.base import DETECTORS, FloatArray
from hx.detect.ensemble import fold_alerts
from hx.detect.nab import DEFAULT_DETECTOR, NabFile, corpus_files, corpus_labels, load_file
from hx.detect.nabscore import (
    PROFILES,
    CrossValidation,
    FileLabels,
    cross_validate,
    cross_validate_transformed,
    optimise_threshold,
    score_corpus,
)

DEFAULT_THRESHOLD = 0.8
SHORT = {"standard": "standard", "reward_low_FP_rate": "low FP", "reward_low_FN_rate": "low FN"}

#: published scores on the same 41 files, threshold optimised as NAB does (standard, low FP, low FN)
PUBLISHED = {
    "ARTime": (74.6, 66.5, 79.4),
    "Numenta HTM": (75.5, 70.7, 79.0),
    "CAD OSE": (75.9, 72.4, 79.2),
    "KNN CAD": (58.5, 48.6, 63.5),
    "Random Cut Forest": (59.4, 49.1, 65.9),
    "Twitter ADVec": (46.6, 36.1, 52.4),
    "windowed Gaussian": (41.4, 26.5, 48.5),
}

#: issue 17's targets: leave-one-category-out (LOCO) figures, and throughput by CPU time
TARGETS = {"loco_standard": 72.0, "loco_low_FP": 65.0, "points_per_cpu_s": 20000}

METHOD = (
    "Default detector 'ensemble_resonance' (since issue 17; before it, 'ensemble') = max of five calibrated "
    "components, (5) being the adaptive-resonance member (hx.detect.resonance: fuzzy ART over windows of 8 "
    "quantised values, 80 levels, learned vigilance, novelty surprise tail-calibrated), and the four of 'ensemble': "
    "(1) the Numenta anomaly likelihood "
    "(mean of the last 10 raw scores vs. that mean's Gaussian over the last 8640 points, spread floored at "
    "0.03) over the seasonal "
    "baseline (median of the same time-of-day slot +-1 over the last 5 days, residual in units of a learned "
    "scale, tail-calibrated); (2) range novelty (a value beyond the seen range by more than 5 % of it, "
    "p = exp(-excess/margin)/(n+1)); (3) context novelty of the values and (4) of the steps x[t]-x[t-1]: "
    "each symbolised into 8 equal bins of the range learned so far, the raw score is the share of orders "
    "1..3 whose (last k symbols -> this symbol) transition was never learned (a neighbouring bin counts as "
    "known), read through the same anomaly likelihood. After a score >= 0.8 the next 100 scores are "
    "halved (one alert per incident). Scores: -log10(p)/5 clipped to [0, 1], so 0.8 = a 1e-4 tail event. "
    "Every point is scored before it is learned; no file-level min/max or other look-ahead is used."
)
SELECTION = (
    "Parameter selection: TUNED ON THESE 41 FILES (the only labelled data available), so the figures are "
    "optimistic for unseen data; the 17 held-out files are the honest check. Round 1 (previous helper): "
    "component choice (likelihood-over-seasonal + novelty, vs. adding robust z, forecast residual, or "
    "Bonferroni combination), the cooldown (0, 50, 100, 200, 400 points) and the likelihood's spread floor "
    "(1e-4, 0.01, 0.03; 0.03 kept); about 25 configurations. Round 2 (this change): 23 new configurations, "
    "listed under 'experiments' with their scores: the context detector's alphabet (5, 8, 12, 16 levels), "
    "depth (3, 4, 6) and bin tolerance (0, 1), and structural choices (likelihood tail model, history, learning "
    "period, gating, reinforcement, one or two context channels, step novelty). The values kept are principled "
    "defaults that also scored best here: likelihood history 8640 and short window 10 are Numenta's "
    "published defaults, 8 levels is CAD OSE's default alphabet (3 bits); depth 3 and tolerance 1 were "
    "picked by score. The default threshold 0.8 is the alert_threshold semantic, not fitted. Nothing is "
    "tuned per file. Round 3: every configuration compared is listed in CANDIDATES (re-run by this script, "
    "including the main alternatives of rounds 1-2) or OFFLINE (compared once, code not kept), and the "
    "choice among CANDIDATES is cross-validated leave-one-category-out ('cross_validated'): for each of the "
    "5 categories, the configuration and threshold that score best on the other 4 score the held-out one. "
    "That figure estimates the whole selection procedure on unseen files; it still inherits the structure "
    "chosen on all files in rounds 1-2 wherever a choice there is not among the candidates. Round 4 (issue 17): "
    "7 more candidates, each with its own LOCO figure (loco_threshold_only): the likelihoods' Gaussian tail "
    "floored by the empirical one (floor 1, 2, 3; with alerts folded at 0.75), and the adaptive-resonance "
    "member (hx.detect.resonance; its levels 80 and window 8 are ARTime's published values, its span, "
    "probation 600 and step 1 were picked on these files from 4-5 values each). Round 5 (issue 17): the "
    "procedure that chooses the configuration inside the training folds at the shipped threshold 0.8 picked "
    "'+ adaptive-resonance member' in 4 of 5 folds and on all 41 files, so it became the shipped default "
    "'ensemble_resonance' (the previous default stays available as 'ensemble' and is a candidate here); the "
    "resonance member was made faster without changing its outputs (tests/detect/test_resonance_fast.py)."
)

CV_NOTE = (
    "Why the cross-validated figures fall below the all-files ones: (1) the threshold. The ensemble halves "
    "the scores of the 100 points after its first score >= alert_threshold 0.8, and most incidents first "
    "cross 0.8 on the likelihood's ramp at 0.80-0.81, so a threshold a little above 0.8 loses whole "
    "incidents (all files at 0.81: 50 TP instead of 53). The other categories' best threshold for "
    "realTraffic is 0.829, which scores 1.8 there instead of 7.3 at 0.806 (9.1 at 0.8). The shipped 0.8 is "
    "not fitted, "
    "so the 'default threshold' column carries no threshold selection. (2) The configuration: choosing "
    "among the candidates on four categories picks another one than the shipped default for every "
    "held-out category; on the two artificial ones it scores the same, on the three real ones worse: on "
    "41 files, differences between candidates of 1-2 points are a window or two found by luck."
)

LOCO_NOTE = (
    "Leave one category out (LOCO) leads: for each of the 5 NAB categories the threshold (threshold_only: of the "
    "shipped configuration; configuration_and_threshold: the configuration among every candidate and its "
    "threshold) is chosen on the other 4 and scores the held-out one; the raw fold scores are summed and "
    "normalised over every window. all_data optimises the threshold on all 41 files, so it is optimistic. "
    "A change that raises all_data and not LOCO does not ship."
)

#: every configuration scored in round 2 (threshold optimised per profile; standard, low FP, low FN;
#: TP/FP/FN at the standard profile's optimum). 'context alone' runs had the ensemble's 100-point cooldown.
EXPERIMENTS: list[dict[str, object]] = [
    {
        "config": "round-1 default: likelihood(seasonal, history 2000) + novelty",
        "scores": [65.6, 62.4, 68.2],
        "tp_fp_fn": [47, 38, 17],
    },
    {
        "config": "context alone, levels 8, depth 6, tolerance 0, no cooldown",
        "scores": [6.5, 0.0, 13.2],
        "tp_fp_fn": [17, 242, 47],
    },
    {"config": "context alone, levels 8, depth 6, tolerance 0", "scores": [25.9, 22.7, 27.7], "tp_fp_fn": [20, 43, 44]},
    {"config": "context alone, levels 8, depth 3, tolerance 0", "scores": [37.8, 35.2, 40.1], "tp_fp_fn": [28, 33, 36]},
    {"config": "context alone, levels 5, depth 4, tolerance 0", "scores": [39.5, 34.6, 43.0], "tp_fp_fn": [32, 79, 32]},
    {
        "config": "context alone, levels 12, depth 3, tolerance 0",
        "scores": [33.0, 30.9, 35.0],
        "tp_fp_fn": [25, 43, 39],
    },
    {"config": "context alone, levels 8, depth 3, tolerance 1", "scores": [42.0, 39.7, 44.1], "tp_fp_fn": [31, 29, 33]},
    {
        "config": "context alone, levels 16, depth 3, tolerance 1",
        "scores": [34.3, 31.6, 37.4],
        "tp_fp_fn": [27, 55, 37],
    },
    {
        "config": "context alone, levels 16, depth 6, tolerance 1",
        "scores": [22.2, 20.0, 24.8],
        "tp_fp_fn": [17, 33, 47],
    },
    {"config": "round-1 default + context(8, 6, tol 0)", "scores": [67.1, 61.0, 70.8], "tp_fp_fn": [50, 77, 14]},
    {"config": "round-1 default + context(8, 3, tol 1)", "scores": [71.3, 66.6, 74.6], "tp_fp_fn": [52, 57, 12]},
    {"config": "round-1 default + context(8, 6, tol 1)", "scores": [66.5, 61.2, 69.9], "tp_fp_fn": [49, 66, 15]},
    {"config": "round-1 default + context(8, 3, tol 0)", "scores": [69.8, 64.9, 73.1], "tp_fp_fn": [51, 59, 13]},
    {
        "config": "as 'context(8, 3, tol 1)' but an empirical (peaks-over-threshold) tail instead of the Gaussian "
        "in both likelihoods",
        "scores": [62.3, 56.3, 68.1],
        "tp_fp_fn": [51, 152, 13],
    },
    {
        "config": "novelty + context(8, 3, tol 1), no seasonal likelihood",
        "scores": [63.6, 60.0, 66.9],
        "tp_fp_fn": [47, 53, 17],
    },
    {
        "config": "likelihood history 8640 (Numenta's default) + novelty + context(8, 3, tol 1)",
        "scores": [72.5, 69.2, 75.4],
        "tp_fp_fn": [52, 41, 12],
    },
    {
        "config": "as above, value and step channels in one context detector (raw novelty averaged)",
        "scores": [71.4, 68.1, 74.2],
        "tp_fp_fn": [51, 40, 13],
    },
    {
        "config": "as above (8640), seasonal likelihood alerts only if a context transition was new in the last 10 "
        "points",
        "scores": [69.3, 67.3, 71.7],
        "tp_fp_fn": [49, 25, 15],
    },
    {
        "config": "as SHIPPED, likelihoods ignore their first 288 raw scores (Numenta's learning period)",
        "scores": [69.9, 62.3, 74.2],
        "tp_fp_fn": [53, 93, 11],
    },
    {
        "config": "as SHIPPED, likelihoods silent for their first 388 raw scores (Numenta's learning + estimation)",
        "scores": [69.5, 65.8, 72.4],
        "tp_fp_fn": [50, 45, 14],
    },
    {
        "config": "as SHIPPED, seasonal likelihood alerts only if a value or step transition was new in the last 10",
        "scores": [70.1, 67.2, 72.8],
        "tp_fp_fn": [50, 35, 14],
    },
    {
        "config": "as SHIPPED, a context transition counts as known only once seen twice (reinforcement)",
        "scores": [69.4, 65.8, 72.3],
        "tp_fp_fn": [50, 45, 14],
    },
    {
        "config": "as SHIPPED + range novelty of the steps x[t]-x[t-1] (a jump larger than any seen)",
        "scores": [73.4, 69.2, 76.5],
        "tp_fp_fn": [53, 51, 11],
    },
    {
        "config": "SHIPPED: likelihood 8640 + novelty + context + context_step (separate components)",
        "scores": [73.5, 69.4, 76.6],
        "tp_fp_fn": [53, 49, 11],
    },
]


_SHIPPED = ("likelihood", "novelty", "context", "context_step")


def _floor(k: int) -> dict[str, dict[str, Any]]:
    """Ensemble options that floor each anomaly likelihood's Gaussian tail by its empirical one (count ``k``)."""
    return {"likelihood": {"floor": k}, "context": {"floor": k}, "context_step": {"floor": k}}


#: the detector the candidates are built on (constructor arguments of ``ensemble``, the four classic members
#: unless ``components`` says otherwise), so each candidate means what it meant before the default changed
CANDIDATE_BASE = "ensemble"

#: Round 3: every ensemble configuration compared, as constructor arguments of the ``ensemble`` detector.
#: The first is the shipped default (``ensemble_resonance``, which is ``ensemble`` with components
#: ``(*_SHIPPED, "resonance")``; the previous default is a candidate of its own); the others re-create
#: the main alternatives of rounds 1-2 (so the cross-validation judges those choices too) and this round's new
#: ideas.  bench/nab.py runs
#: them all and chooses among them by leave-one-category-out cross-validation (``cross_validated`` in
#: the results), so the figures show how much of the all-files score is selection.
CANDIDATES: dict[str, dict[str, Any]] = {
    "shipped default": {},
    "round 1: likelihood (history 2000) + novelty": {
        "components": ("likelihood", "novelty"),
        "options": {"likelihood": {"long": 2000}},
    },
    "round 2: likelihood + novelty + context (values only)": {"components": ("likelihood", "novelty", "context")},
    "round 2: context depth 6, tolerance 0": {"options": {"context": {"depth": 6, "tolerance": 0}}},
    "round 1: cooldown 50": {"cooldown": 50},
    "round 1: cooldown 200": {"cooldown": 200},
    "round 1: no cooldown": {"cooldown": 0},
    "seasonal phase search +-1 slot": {"options": {"likelihood": {"base_params": {"phase": 1}}}},
    "seasonal phase search +-2 slots": {"options": {"likelihood": {"base_params": {"phase": 2}}}},
    "seasonal median over 3 days": {"options": {"likelihood": {"base_params": {"days": 3}}}},
    "seasonal median over 7 days": {"options": {"likelihood": {"base_params": {"days": 7}}}},
    "seasonal median over 10 days": {"options": {"likelihood": {"base_params": {"days": 10}}}},
    "likelihood short window 3": {"options": {"likelihood": {"short": 3}}},
    "likelihood short window 30": {"options": {"likelihood": {"short": 30}}},
    "likelihood over the robust rolling z instead of the seasonal baseline": {
        "options": {"likelihood": {"base": "robust"}}
    },
    "range novelty margin 0.01 of the range": {"options": {"novelty": {"margin": 0.01}}},
    "range novelty margin 0.02 of the range": {"options": {"novelty": {"margin": 0.02}}},
    "range novelty margin 0.1 of the range": {"options": {"novelty": {"margin": 0.1}}},
    "range novelty margin 0.2 of the range": {"options": {"novelty": {"margin": 0.2}}},
    "range novelty over the last 1000 points": {"options": {"novelty": {"window": 1000}}},
    "range novelty over the last 2000 points": {"options": {"novelty": {"window": 2000}}},
    "cooldown re-armed after 10 quiet points": {"rearm": 10},
    "cooldown re-armed after 20 quiet points": {"rearm": 20},
    "+ CUSUM level-shift detector": {"components": ("likelihood", "novelty", "context", "context_step", "cusum")},
    "alerts folded at 0.75": {"alert_threshold": 0.75},
    "alerts folded at 0.85": {"alert_threshold": 0.85},
    # round 4 (issue 17): the likelihoods' Gaussian tail floored by the empirical one, and the ART member
    "round 4: tail floor 1 (likelihood and both context channels)": {"options": _floor(1)},
    "round 4: tail floor 2": {"options": _floor(2)},
    "round 4: tail floor 3": {"options": _floor(3)},
    "round 4: tail floor 1, alerts folded at 0.75": {"options": _floor(1), "alert_threshold": 0.75},
    "round 4: tail floor 2, alerts folded at 0.75": {"options": _floor(2), "alert_threshold": 0.75},
    "previous default (issue 17 switched it): the four members without adaptive resonance": {"components": _SHIPPED},
    "round 4: tail floor 1, alerts folded at 0.75, + adaptive-resonance member": {
        "components": (*_SHIPPED, "resonance"),
        "options": _floor(1),
        "alert_threshold": 0.75,
    },
}

#: Round 3 configurations compared offline (the ensemble re-computed from cached component scores, which
#: reproduces the shipped default exactly), not re-run here because they need code that was not kept: none
#: beat the shipped default on all files.  Scores: all-files optimised (standard, low FP, low FN); cv: the
#: standard score with the threshold chosen by leave-one-category-out cross-validation.
OFFLINE: list[dict[str, object]] = [
    {
        "config": "combination: max of the maximum and a Brown-style Fisher (statistic and df divided by 1.5)",
        "scores": [73.5, 69.4, 76.6],
        "tp_fp_fn": [53, 49, 11],
        "cv": 67.8,
    },
    {
        "config": "combination: max of the maximum and a Brown-style Fisher (statistic and df divided by 2.0)",
        "scores": [73.5, 69.4, 76.6],
        "tp_fp_fn": [53, 49, 11],
        "cv": 67.8,
    },
    {
        "config": "combination: max of the maximum and a Brown-style Fisher (statistic and df divided by 3.0)",
        "scores": [73.5, 69.4, 76.6],
        "tp_fp_fn": [53, 49, 11],
        "cv": 67.8,
    },
    {
        "config": "cooldown per component instead of one for the ensemble",
        "scores": [72.6, 68.0, 76.0],
        "tp_fp_fn": [53, 60, 11],
        "cv": 71.2,
    },
    {
        "config": "cooldown per component, then the ensemble's (+0.1: within noise, not kept)",
        "scores": [73.6, 69.8, 76.7],
        "tp_fp_fn": [53, 47, 11],
        "cv": 67.9,
    },
    {
        "config": "range novelty with its own cooldown, the other three sharing one",
        "scores": [73.4, 69.2, 76.5],
        "tp_fp_fn": [53, 50, 11],
        "cv": 69.1,
    },
    {
        "config": "+ silence novelty: a run below 0.1 of the seen range longer than any seen run by 0.05 of it",
        "scores": [69.0, 60.3, 74.1],
        "tp_fp_fn": [54, 107, 10],
        "cv": 67.5,
    },
    {
        "config": "+ silence novelty: a run below 0.1 of the seen range longer than any seen run by 0.2 of it",
        "scores": [71.6, 65.6, 75.3],
        "tp_fp_fn": [53, 74, 11],
        "cv": 65.8,
    },
    {
        "config": "+ silence novelty: a run below 0.25 of the seen range longer than any seen run by 0.05 of it",
        "scores": [62.3, 50.7, 68.1],
        "tp_fp_fn": [51, 144, 13],
        "cv": 51.9,
    },
    {
        "config": "+ silence novelty: a run below 0.25 of the seen range longer than any seen run by 0.2 of it",
        "scores": [66.0, 57.4, 70.5],
        "tp_fp_fn": [51, 106, 13],
        "cv": 60.3,
    },
    {
        "config": "+ silence novelty: a run below 0.5 of the seen range longer than any seen run by 0.05 of it",
        "scores": [57.0, 41.6, 64.1],
        "tp_fp_fn": [50, 190, 14],
        "cv": 49.7,
    },
    {
        "config": "+ silence novelty: a run below 0.5 of the seen range longer than any seen run by 0.2 of it",
        "scores": [59.1, 48.1, 64.4],
        "tp_fp_fn": [48, 134, 16],
        "cv": 53.4,
    },
    {"config": "seasonal phase search +-3 slots", "scores": [71.8, 67.3, 75.0], "tp_fp_fn": [52, 53, 12]},
    {
        "config": "likelihood over the Isolation Forest instead of the seasonal baseline",
        "scores": [61.9, 58.9, 66.7],
        "tp_fp_fn": [45, 49, 19],
    },
    {
        "config": "+ likelihood over the Isolation Forest (never reaches 0.8: no change)",
        "scores": [73.5, 69.4, 76.6],
        "tp_fp_fn": [53, 49, 11],
    },
    {
        "config": "+ rank-shift test (mean and spread of the last 12 points' ranks among the 288 before)",
        "scores": [71.7, 67.4, 74.9],
        "tp_fp_fn": [52, 54, 12],
    },
    {"config": "+ rank-shift test over the last 24 points", "scores": [71.8, 67.5, 74.9], "tp_fp_fn": [52, 53, 12]},
    {"config": "+ likelihood over the rank-shift test", "scores": [72.5, 66.0, 76.5], "tp_fp_fn": [54, 79, 10]},
    {"config": "+ likelihood over the robust rolling z", "scores": [71.9, 66.1, 75.5], "tp_fp_fn": [53, 71, 11]},
    {"config": "+ likelihood over the forecast residual", "scores": [71.2, 64.8, 75.1], "tp_fp_fn": [53, 78, 11]},
    {
        "config": "likelihood over the forecast residual instead of the seasonal baseline",
        "scores": [65.0, 59.8, 68.9],
        "tp_fp_fn": [49, 63, 15],
    },
    {
        "config": "likelihood over CUSUM instead of the seasonal baseline",
        "scores": [63.2, 55.3, 68.2],
        "tp_fp_fn": [50, 106, 14],
    },
    {"config": "+ likelihood over CUSUM", "scores": [68.2, 60.9, 73.1], "tp_fp_fn": [53, 109, 11]},
    {
        "config": "+ a second likelihood, short window 3 (multi-scale)",
        "scores": [65.7, 53.6, 71.4],
        "tp_fp_fn": [53, 145, 11],
    },
    {
        "config": "+ a second likelihood, short window 30 (multi-scale)",
        "scores": [73.5, 69.4, 76.6],
        "tp_fp_fn": [53, 49, 11],
        "cv": 67.8,
    },
    {
        "config": "+ a second likelihood, short window 1 (multi-scale)",
        "scores": [59.0, 41.9, 67.8],
        "tp_fp_fn": [54, 239, 10],
    },
    {"config": "+ range novelty over the last 288 points", "scores": [66.5, 58.1, 70.9], "tp_fp_fn": [51, 101, 13]},
    {"config": "+ range novelty over the last 1000 points", "scores": [72.9, 68.3, 76.2], "tp_fp_fn": [53, 56, 11]},
    {
        "config": "combination: Fisher's method over the four p-values instead of the maximum",
        "scores": [64.6, 60.7, 68.8],
        "tp_fp_fn": [49, 87, 15],
        "cv": 60.1,
    },
    {
        "config": "combination: max + 0.1 x the second score",
        "scores": [73.4, 69.2, 76.6],
        "tp_fp_fn": [53, 51, 11],
        "cv": 70.8,
    },
    {
        "config": "combination: max + 0.2 x the second score",
        "scores": [73.5, 69.3, 76.6],
        "tp_fp_fn": [53, 51, 11],
        "cv": 72.3,
    },
    {
        "config": "combination: max + 0.3 x the second score",
        "scores": [73.0, 68.3, 76.3],
        "tp_fp_fn": [53, 57, 11],
        "cv": 71.5,
    },
    {"config": "cooldown by time instead of points: 4 h", "scores": [71.7, 66.0, 75.4], "tp_fp_fn": [53, 70, 11]},
    {"config": "cooldown by time: 8 h", "scores": [72.5, 67.6, 76.0], "tp_fp_fn": [53, 60, 11]},
    {"config": "cooldown by time: 12 h", "scores": [72.8, 68.1, 76.1], "tp_fp_fn": [53, 57, 11]},
    {"config": "cooldown by time: 24 h", "scores": [71.9, 67.8, 75.0], "tp_fp_fn": [52, 49, 12]},
    {
        "config": "threshold-free fold: a score is halved unless it beats every raw score of the last 50 points",
        "scores": [70.2, 63.5, 74.4],
        "tp_fp_fn": [53, 88, 11],
        "cv": 69.0,
    },
    {
        "config": "threshold-free fold, last 100 points",
        "scores": [70.5, 63.9, 74.6],
        "tp_fp_fn": [53, 84, 11],
        "cv": 69.3,
    },
    {
        "config": "threshold-free fold, last 150 points",
        "scores": [64.9, 59.4, 68.8],
        "tp_fp_fn": [49, 82, 15],
        "cv": 62.1,
    },
    {
        "config": "threshold-free fold, last 200 points",
        "scores": [63.9, 59.2, 67.1],
        "tp_fp_fn": [47, 58, 17],
        "cv": 61.8,
    },
    {"config": "alerts folded at 0.7", "scores": [70.1, 65.4, 73.8], "tp_fp_fn": [51, 56, 13], "cv": 69.1},
    {"config": "alerts folded at 0.9", "scores": [70.9, 65.8, 74.8], "tp_fp_fn": [52, 63, 12], "cv": 68.4},
]


def default_data_dir() -> Path:
    root = os.environ.get("HX_DATA_DIR")
    if root:
        return Path(root) / "nab"
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nab"


def load_corpus(data_dir: Path, quick: bool = False) -> tuple[list[NabFile], dict[str, FileLabels]]:
    """The corpus files (every fourth with ``quick``) and their labels."""
    root = data_dir / "data"
    paths = corpus_files(data_dir)
    files = [load_file(p, root) for p in (paths[::4] if quick else paths)]
    return files, corpus_labels(data_dir, files)


def stream(name: str, params: dict[str, Any], files: list[NabFile]) -> tuple[dict[str, FloatArray], dict[str, int]]:
    """Every file through a fresh detector; the scores and the throughput (wall clock and CPU time)."""
    scores = {}
    elapsed = cpu = 0.0
    points = 0
    for f in files:
        det = DETECTORS.get(name)(**params)
        t0, c0 = time.perf_counter(), time.process_time()
        scores[f.key] = det.process(f.series.values, f.series.timestamps)
        elapsed += time.perf_counter() - t0
        cpu += time.process_time() - c0
        points += len(f.series)
    rate = {"points": points, "points_per_s": round(points / elapsed), "points_per_cpu_s": round(points / cpu)}
    return scores, rate


def summarise(
    name: str, labels: dict[str, FileLabels], scores: dict[str, FloatArray], rate: dict[str, int]
) -> dict[str, object]:
    """All-files figures of one detector's scores: each profile optimised and at the default, and per category."""
    out: dict[str, object] = {"detector": name, "files": len(labels), **rate}
    profiles: dict[str, object] = {}
    categories: dict[str, dict[str, object]] = {}
    cats = sorted({k.split("/")[0] for k in labels})
    for pname, prof in PROFILES.items():
        best = optimise_threshold(labels, scores, pname, prof)
        fixed = score_corpus(labels, scores, DEFAULT_THRESHOLD, pname, prof)
        profiles[pname] = {
            "optimised": {
                "score": round(best.normalized, 1),
                "threshold": round(best.threshold, 4),
                "tp": best.tp,
                "fp": best.fp,
                "fn": best.fn,
            },
            "default": {
                "score": round(fixed.normalized, 1),
                "threshold": DEFAULT_THRESHOLD,
                "tp": fixed.tp,
                "fp": fixed.fp,
                "fn": fixed.fn,
            },
        }
        for cat in cats:
            sub_l = {k: v for k, v in labels.items() if k.startswith(cat + "/")}
            sub_s = {k: scores[k] for k in sub_l}
            entry = categories.setdefault(
                cat, {"files": len(sub_l), "windows": sum(len(v.scored_windows()) for v in sub_l.values())}
            )
            a = score_corpus(sub_l, sub_s, best.threshold, pname, prof)
            b = score_corpus(sub_l, sub_s, DEFAULT_THRESHOLD, pname, prof)
            entry[pname] = {
                "optimised_threshold": round(a.normalized, 1) if entry["windows"] else None,
                "default_threshold": round(b.normalized, 1) if entry["windows"] else None,
                "fp_default": b.fp,
            }
    out["profiles"] = profiles
    out["categories"] = categories
    return out


def print_tables(results: list[dict[str, object]], console: Console) -> None:
    n_files = results[0]["files"] if results else 0
    table = Table(title=f"NAB, {n_files} files (standard / low FP / low FN)")
    for col in ("detector", "threshold", "standard", "low FP", "low FN", "points/s", "points/CPU-s"):
        table.add_column(col, justify="right" if col not in ("detector", "threshold") else "left")
    for r in results:
        prof = r["profiles"]
        assert isinstance(prof, dict)
        for mode in ("optimised", "default"):
            vals = [prof[p][mode]["score"] for p in PROFILES]
            table.add_row(
                f"hx {r['detector']}",
                mode if mode == "optimised" else f"default {DEFAULT_THRESHOLD}",
                *(f"{v:.1f}" for v in vals),
                f"{r['points_per_s']:,}",
                f"{r['points_per_cpu_s']:,}",
            )
    for name, published in PUBLISHED.items():
        table.add_row(name, "optimised (published)", *(f"{v:.1f}" for v in published), "", "")
    console.print(table)
    for r in results:
        cat_table = Table(title=f"hx {r['detector']} per category (standard; optimised / default threshold)")
        for col in ("category", "files", "windows", "standard", "low FP", "low FN", "FP at default"):
            cat_table.add_column(col, no_wrap=True)
        cats = r["categories"]
        assert isinstance(cats, dict)
        for cat, entry in cats.items():
            cells = []
            for p in PROFILES:
                a, b = entry[p]["optimised_threshold"], entry[p]["default_threshold"]
                cells.append("n/a" if a is None else f"{a:.1f} / {b:.1f}")
            cat_table.add_row(
                cat, str(entry["files"]), str(entry["windows"]), *cells, str(entry["standard"]["fp_default"])
            )
        console.print(cat_table)


FOLD_NOTE = (
    "The threshold with its fold: hx's anomaly engine folds the ensemble's alerts (halves the 100 scores after "
    "one at or above the threshold) at the threshold it alerts at. Before issue 17's last change the fold stayed "
    "at 0.8 whatever the threshold, and so did this benchmark's threshold sweep: a threshold above 0.8 then lost "
    "incidents whose scores crossed 0.8 on the way up and were halved before they reached it (the realTraffic "
    "folds above). Here the shipped configuration is streamed once without folding, and each threshold of a grid "
    "(0.700 to 0.950 by 0.0025) is scored with its own fold (hx.detect.ensemble.fold_alerts, equal to streaming "
    "with alert_threshold at that threshold). loco: the threshold chosen on the other 4 categories scores the "
    "held-out one (the highest on a tie); all_data: the best threshold on all 41 files (optimistic)."
)


def threshold_with_its_fold(labels: dict[str, FileLabels], raw: dict[str, FloatArray]) -> dict[str, object]:
    """Per profile, the shipped configuration's LOCO and all-files figures with the fold at the threshold."""
    out: dict[str, object] = {}
    for pname, prof in PROFILES.items():
        loco, th, score = cross_validate_transformed(labels, raw, pname, prof, fold_alerts, candidate="shipped default")
        out[pname] = {"loco": _cv_entry(loco), "all_data": {"threshold": th, "score": round(score, 1)}}
    return out


def run_candidates(
    files: list[NabFile], labels: dict[str, FileLabels], shipped: dict[str, FloatArray], console: Console
) -> dict[str, dict[str, FloatArray]]:
    """Scores of every candidate configuration (the shipped default's are given, not recomputed)."""
    out = {}
    for label, params in CANDIDATES.items():
        if not params:
            out[label] = shipped
            continue
        console.print(f"  candidate {label} ...")
        out[label] = stream(CANDIDATE_BASE, params, files)[0]
    return out


def _cv_entry(cv: CrossValidation) -> dict[str, object]:
    return {
        "score": round(cv.normalized, 1),
        "folds": [
            {
                "held_out": f.fold,
                "chosen": f.candidate,
                "threshold": round(f.threshold, 4),
                "held_out_raw": round(f.test_raw, 3),
                "held_out_windows": f.test_windows,
            }
            for f in cv.folds
        ],
    }


def cross_validated(
    labels: dict[str, FileLabels], candidates: dict[str, dict[str, FloatArray]]
) -> dict[str, dict[str, object]]:
    """Leave-one-category-out figures per profile: the shipped configuration with its threshold chosen on
    the other categories; the configuration and threshold both chosen there; and the configuration chosen
    there at the fixed default threshold."""
    shipped = next(iter(candidates))
    out: dict[str, dict[str, object]] = {}
    for pname, prof in PROFILES.items():
        out[pname] = {
            "threshold_only": _cv_entry(cross_validate(labels, {shipped: candidates[shipped]}, pname, prof)),
            "configuration_and_threshold": _cv_entry(cross_validate(labels, candidates, pname, prof)),
            "configuration_at_default_threshold": _cv_entry(
                cross_validate(labels, candidates, pname, prof, threshold=DEFAULT_THRESHOLD)
            ),
        }
    return out


def candidate_experiments(
    labels: dict[str, FileLabels], candidates: dict[str, dict[str, FloatArray]]
) -> list[dict[str, object]]:
    """This round's experiment log: every candidate's all-files scores (optimised and default threshold)."""
    log: list[dict[str, object]] = []
    for label, scores in candidates.items():
        opt = [optimise_threshold(labels, scores, p, prof) for p, prof in PROFILES.items()]
        fixed = [score_corpus(labels, scores, DEFAULT_THRESHOLD, p, prof) for p, prof in PROFILES.items()]
        loco = [cross_validate(labels, {label: scores}, p, prof).normalized for p, prof in PROFILES.items()]
        log.append(
            {
                "config": label if label.startswith("round") else f"round 3: {label}",
                "params": _jsonable(CANDIDATES[label]),
                "scores": [round(r.normalized, 1) for r in opt],
                "scores_default_threshold": [round(r.normalized, 1) for r in fixed],
                "loco_threshold_only": [round(v, 1) for v in loco],
                "tp_fp_fn": [opt[0].tp, opt[0].fp, opt[0].fn],
            }
        )
    return log


def best_on_all_files(log: list[dict[str, object]]) -> dict[str, str]:
    """Per profile, the candidate with the best all-files optimised score (the first listed on a tie)."""
    out: dict[str, str] = {}
    for j, pname in enumerate(PROFILES):
        best = max(log, key=lambda e: e["scores"][j], default=None)  # type: ignore[index]
        if best is not None:
            out[pname] = str(best["config"])
    return out


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = json.loads(json.dumps(params))
    return plain


def print_cv(cv: dict[str, dict[str, object]], default: dict[str, object], console: Console) -> None:
    table = Table(title="all files vs leave-one-category-out cross-validation (hx default detector)")
    cols = (
        "profile",
        "all files, optimised",
        "CV: threshold",
        "CV: config + threshold",
        "all files, 0.8",
        "CV: config at 0.8",
    )
    for col in cols:
        table.add_column(col, justify="left" if col == "profile" else "right")
    prof = default["profiles"]
    assert isinstance(prof, dict)
    for pname, entry in cv.items():
        cells = [entry[k]["score"] for k in ("threshold_only", "configuration_and_threshold")]  # type: ignore[index]
        table.add_row(
            SHORT[pname],
            f"{prof[pname]['optimised']['score']:.1f}",
            *(f"{c:.1f}" for c in cells),
            f"{prof[pname]['default']['score']:.1f}",
            f"{entry['configuration_at_default_threshold']['score']:.1f}",  # type: ignore[index]
        )
    console.print(table)


def print_folded(folded: dict[str, object], console: Console) -> None:
    table = Table(title="the threshold with its fold (what hx runs): LOCO, and all files beside it")
    for col in ("profile", "LOCO", "thresholds chosen (held-out category)", "all files", "at"):
        table.add_column(col)
    for pname, entry in folded.items():
        e: Any = entry
        chosen = ", ".join(f"{f['held_out'][:12]} {f['threshold']:.4f}" for f in e["loco"]["folds"])
        table.add_row(SHORT[pname], f"{e['loco']['score']:.1f}", chosen, f"{e['all_data']['score']:.1f}",
                      f"{e['all_data']['threshold']:.4f}")  # fmt: skip
    console.print(table)


def print_candidates(log: list[dict[str, object]], console: Console) -> None:
    table = Table(title="every candidate: LOCO (threshold chosen on the other categories) beside all files")
    for col in ("configuration", "LOCO standard", "LOCO low FP", "all files standard", "all files low FP", "at 0.8"):
        table.add_column(col, justify="left" if col == "configuration" else "right", overflow="fold")
    for e in log:
        loco, allf, fixed = e["loco_threshold_only"], e["scores"], e["scores_default_threshold"]
        table.add_row(
            str(e["config"]).removeprefix("round 3: "),
            *(f"{v:.1f}" for v in (loco[0], loco[1], allf[0], allf[1], fixed[0])),  # type: ignore[index]
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--detector", action="append", help=f"detector name (default {DEFAULT_DETECTOR}); repeatable")
    parser.add_argument("--out", type=Path, default=None, help="results file (default bench/results/nab.json)")
    parser.add_argument("--quick", action="store_true", help="every fourth file; print only unless --out is given")
    parser.add_argument("--no-cv", action="store_true", help="skip the candidate configurations and cross-validation")
    args = parser.parse_args()
    if args.out is None and not args.quick:
        args.out = Path(__file__).resolve().parent / "results" / "nab.json"
    names = args.detector or [DEFAULT_DETECTOR]
    started = time.perf_counter()
    console = Console(width=max(Console().width, 120))
    files, labels = load_corpus(args.data, args.quick)
    results = []
    shipped: dict[str, FloatArray] | None = None
    raw: dict[str, FloatArray] | None = None
    for name in names:
        console.print(f"running {name} ...")
        if name == DEFAULT_DETECTOR:  # streamed once without folding; folded at 0.8 it is the shipped stream
            raw, rate = stream(name, {"cooldown": 0}, files)
            scores = {k: fold_alerts(v, DEFAULT_THRESHOLD) for k, v in raw.items()}
            shipped = scores
        else:
            scores, rate = stream(name, {}, files)
        results.append(summarise(name, labels, scores, rate))
    folded: dict[str, object] = {}
    if raw is not None:
        console.print("the threshold with its fold ...")
        folded = threshold_with_its_fold(labels, raw)
        print_folded(folded, console)
    cv: dict[str, dict[str, object]] = {}
    round3: list[dict[str, object]] = []
    if shipped is not None and not args.no_cv:
        console.print(f"cross-validation over {len(CANDIDATES)} candidate configurations ...")
        candidates = run_candidates(files, labels, shipped, console)
        cv = cross_validated(labels, candidates)
        round3 = candidate_experiments(labels, candidates)
        print_cv(cv, results[names.index(DEFAULT_DETECTOR)], console)
        print_candidates(round3, console)
    print_tables(results, console)
    if args.out is None:
        return
    default = next((r for r in results if r["detector"] == DEFAULT_DETECTOR), None)
    met: dict[str, float] = {}
    all_data: dict[str, object] = {}
    load = os.getloadavg()[0]
    cpu_rate: object = None
    if default is not None:
        prof = default["profiles"]
        assert isinstance(prof, dict)
        all_data = {
            "standard_optimised": prof["standard"]["optimised"]["score"],
            "standard_default": prof["standard"]["default"]["score"],
            "low_FP_optimised": prof["reward_low_FP_rate"]["optimised"]["score"],
            "points_per_s": default["points_per_s"],
        }
        cpu_rate = default["points_per_cpu_s"]
        met["points_per_cpu_s"] = float(default["points_per_cpu_s"])  # type: ignore[arg-type]
    if folded:  # what the product does: the fold at the threshold it alerts at
        met["loco_standard"] = folded["standard"]["loco"]["score"]  # type: ignore[index]
        met["loco_low_FP"] = folded["reward_low_FP_rate"]["loco"]["score"]  # type: ignore[index]
    payload = {
        "benchmark": "NAB (41 of 58 files; realKnownCause and realTweets held out)",
        "leave_one_category_out": {
            p: {k: v["score"] for k, v in entry.items()}  # type: ignore[index]
            for p, entry in cv.items()
        },
        "all_data": all_data,
        "threshold_with_its_fold": folded,
        "threshold_with_its_fold_note": FOLD_NOTE,
        "targets": TARGETS,
        "targets_measured": met,
        "loco_note": LOCO_NOTE,
        "elapsed_s": round(time.perf_counter() - started),
        "data": str(args.data),
        "default_threshold": DEFAULT_THRESHOLD,
        "method": METHOD,
        "parameter_selection": SELECTION,
        "best_candidate_on_all_files": best_on_all_files(round3),
        "cross_validation_note": CV_NOTE,
        "targets_met": {k: bool(met[k] >= v) for k, v in TARGETS.items() if k in met},
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {load:.1f} at the end of the run",
        "throughput_note": (
            f"points_per_s is wall-clock on a {os.cpu_count()}-core machine shared with other jobs (load average "
            f"{load:.1f}), so it understates one core's rate; by this process's CPU time the default detector ran "
            f"{cpu_rate:,} points/s."
            if cpu_rate is not None
            else ""
        ),
        "quick": args.quick,
        "cross_validated": cv,
        "experiments": EXPERIMENTS + [{**e, "round": "3, offline"} for e in OFFLINE] + round3,
        "published": {k: dict(zip(SHORT.values(), v, strict=True)) for k, v in PUBLISHED.items()},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
