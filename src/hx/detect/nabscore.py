"""The NAB scorer, written from the Numenta Anomaly Benchmark's published rules.

A labelled anomaly *window* of width ``w`` rows ending at row ``b`` rewards the earliest detection
at row ``i`` inside it with ``A_TP * sigma(-(b - i + 1) / w) / sigma(-1)``; a detection outside any
window after a window ending at ``b`` costs ``A_FP * sigma((i - b) / (w - 1))`` (negative), and
``-A_FP`` before any window; a missed window costs ``-A_FN``.  ``sigma(y) = 2 / (1 + e^{5y}) - 1``
for ``y < 3`` and ``-1`` beyond.  The first ``min(floor(0.15 n), 750)`` rows of a file are the
probationary period and are not scored.  A detection is a row whose anomaly score is ``>=`` the
threshold.  The corpus score is normalised as ``100 (S - S_null) / (S_perfect - S_null)`` with
``S_perfect = A_TP * windows`` and ``S_null = -A_FN * windows``, summed over every file.

>>> round(scaled_sigmoid(-1.0), 5), round(scaled_sigmoid(0.0), 5), scaled_sigmoid(3.0)
(0.98661, 0.0, -1.0)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hx.errors import BadInput

FloatArray = npt.NDArray[np.float64]

#: NAB's three scoring profiles (labels/profiles.json): A_TP, A_FP, A_FN.
PROFILES: dict[str, tuple[float, float, float]] = {
    "standard": (1.0, 0.11, 1.0),
    "reward_low_FP_rate": (1.0, 0.22, 1.0),
    "reward_low_FN_rate": (1.0, 0.11, 2.0),
}

PROBATION_PERCENT = 0.15


def scaled_sigmoid(y: float) -> float:
    """NAB's scaled sigmoid: 2 / (1 + e^{5y}) - 1, and -1 from y = 3 on."""
    if y >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation_length(n_rows: int) -> int:
    """Rows at the start of a file that are never scored: min(floor(15 % of rows), 750)."""
    return int(min(math.floor(PROBATION_PERCENT * n_rows), PROBATION_PERCENT * 5000))


def load_windows(path: Path) -> dict[str, list[tuple[np.datetime64, np.datetime64]]]:
    """Read labels/combined_windows.json: {"category/name.csv": [(start, end), ...]}."""
    raw = json.loads(path.read_text())
    return {
        key: [(np.datetime64(a.replace(" ", "T")), np.datetime64(b.replace(" ", "T"))) for a, b in wins]
        for key, wins in raw.items()
    }


@dataclass(frozen=True)
class FileLabels:
    """One file's scoring layout: its row count and its windows as (first row, last row), sorted.

    >>> lab = FileLabels(10, ((4, 6),))
    >>> lab.window.tolist()
    [-1, -1, -1, -1, 0, 0, 0, -1, -1, -1]
    """

    n_rows: int
    windows: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        cursor = 0
        for k, (a, b) in enumerate(self.windows):
            if not 0 <= a <= b < self.n_rows or a < cursor:
                raise BadInput(f"window {k} (rows {a}..{b}) is out of range or overlaps", field=f"window {k}")
            cursor = b + 1

    @classmethod
    def from_timestamps(
        cls, timestamps: npt.NDArray[np.datetime64], windows: Sequence[tuple[np.datetime64, np.datetime64]]
    ) -> FileLabels:
        """Locate each window's start and end timestamps among the file's rows (exact matches, as NAB)."""
        rows: list[tuple[int, int]] = []
        ts = timestamps.astype("datetime64[us]")
        for k, (a, b) in enumerate(windows):
            ia = np.flatnonzero(ts == np.asarray(a).astype("datetime64[us]"))
            ib = np.flatnonzero(ts == np.asarray(b).astype("datetime64[us]"))
            if ia.size == 0 or ib.size == 0:
                raise BadInput(f"window {k} boundary {a} / {b} is not a row timestamp", field=f"window {k}")
            rows.append((int(ia[0]), int(ib[0])))
        return cls(len(ts), tuple(rows))

    @property
    def probation(self) -> int:
        return probation_length(self.n_rows)

    @property
    def window(self) -> npt.NDArray[np.int64]:
        """Per row, the index of the window it lies in, or -1."""
        out = np.full(self.n_rows, -1, dtype=np.int64)
        for k, (a, b) in enumerate(self.windows):
            out[a : b + 1] = k
        return out

    def point_weights(self, a_tp: float, a_fp: float) -> FloatArray:
        """What a detection at each row would earn on its own (NAB's 'sweep score')."""
        out = np.empty(self.n_rows)
        max_tp = scaled_sigmoid(-1.0)
        prev_end, prev_width = -1, 0
        cursor = 0
        for a, b in (*self.windows, (self.n_rows, self.n_rows)):
            for i in range(cursor, min(a, self.n_rows)):
                pos = 3.0 if prev_end < 0 else abs(i - prev_end) / max(prev_width - 1, 1)
                out[i] = a_fp * scaled_sigmoid(pos)
            if a >= self.n_rows:
                break
            width = b - a + 1
            for i in range(a, b + 1):
                out[i] = a_tp * scaled_sigmoid(-(b - i + 1) / width) / max_tp
            prev_end, prev_width, cursor = b, width, b + 1
        return out

    def scored_windows(self) -> list[int]:
        """Windows with at least one row past the probationary period (only these count)."""
        return [k for k, (_, b) in enumerate(self.windows) if b >= self.probation]


@dataclass
class CorpusResult:
    """A corpus score at one threshold for one profile."""

    profile: str
    threshold: float
    raw: float
    normalized: float
    tp: int
    fp: int
    fn: int
    per_file: dict[str, float] = field(default_factory=dict)


def score_file(labels: FileLabels, scores: FloatArray, threshold: float, profile: tuple[float, float, float]) -> float:
    """NAB's raw score of one file's anomaly scores at one threshold."""
    return _file_parts(labels, scores, threshold, profile)[0]


def _file_parts(
    labels: FileLabels, scores: FloatArray, threshold: float, profile: tuple[float, float, float]
) -> tuple[float, int, int, int]:
    a_tp, a_fp, a_fn = profile
    weights = labels.point_weights(a_tp, a_fp)
    live = np.arange(labels.n_rows) >= labels.probation
    hit = live & (np.asarray(scores) >= threshold)
    fp_rows = hit & (labels.window < 0)
    total = float(weights[fp_rows].sum())
    tp = fn = 0
    for k in labels.scored_windows():
        rows = hit & (labels.window == k)
        if rows.any():
            total += float(weights[rows].max())
            tp += 1
        else:
            total -= a_fn
            fn += 1
    return total, tp, int(fp_rows.sum()), fn


def normalize(raw: float, n_windows: int, profile: tuple[float, float, float]) -> float:
    """100 (S - S_null) / (S_perfect - S_null) with S_perfect = A_TP n and S_null = -A_FN n."""
    a_tp, _, a_fn = profile
    perfect, null = a_tp * n_windows, -a_fn * n_windows
    if perfect == null:
        return 0.0
    return 100.0 * (raw - null) / (perfect - null)


def score_corpus(
    labels: Mapping[str, FileLabels],
    scores: Mapping[str, FloatArray],
    threshold: float,
    profile_name: str,
    profile: tuple[float, float, float],
) -> CorpusResult:
    """Score every file at one threshold and normalise over the whole corpus."""
    raw = 0.0
    tp = fp = fn = 0
    per_file: dict[str, float] = {}
    n_windows = 0
    for key in sorted(labels):
        s, t, f, m = _file_parts(labels[key], scores[key], threshold, profile)
        per_file[key] = s
        raw += s
        tp, fp, fn = tp + t, fp + f, fn + m
        n_windows += len(labels[key].scored_windows())
    return CorpusResult(profile_name, threshold, raw, normalize(raw, n_windows, profile), tp, fp, fn, per_file)


def sweep_thresholds(
    labels: Mapping[str, FileLabels], scores: Mapping[str, FloatArray], profile: tuple[float, float, float]
) -> tuple[FloatArray, FloatArray]:
    """Raw corpus score at every distinct threshold, as NAB's sweeper computes it.

    Returns (thresholds descending, raw scores); the threshold ``t`` counts every row scoring ``>= t``.
    """
    a_tp, a_fp, a_fn = profile
    all_s: list[FloatArray] = []
    all_w: list[FloatArray] = []
    all_win: list[npt.NDArray[np.int64]] = []
    base = 0.0
    offset = 0
    for key in sorted(labels):
        lab = labels[key]
        live = slice(lab.probation, lab.n_rows)
        win = lab.window[live].copy()
        scored = lab.scored_windows()
        base -= a_fn * len(scored)
        win[win >= 0] += offset
        offset += len(lab.windows)
        all_s.append(np.asarray(scores[key], dtype=np.float64)[live])
        all_w.append(lab.point_weights(a_tp, a_fp)[live])
        all_win.append(win)
    s = np.concatenate(all_s)
    w = np.concatenate(all_w)
    win = np.concatenate(all_win)
    order = np.argsort(-s, kind="stable")
    best = np.full(offset, -a_fn)
    current = base
    # NAB starts above every score: no detection at all, every window missed.
    thresholds: list[float] = [max(1.1, float(np.nextafter(s.max(), np.inf)) if s.size else 1.1)]
    totals: list[float] = [base]
    for j, idx in enumerate(order):
        k = int(win[idx])
        if k < 0:
            current += float(w[idx])
        elif w[idx] > best[k]:
            current += float(w[idx]) - float(best[k])
            best[k] = w[idx]
        if j + 1 == len(order) or s[order[j + 1]] != s[idx]:
            thresholds.append(float(s[idx]))
            totals.append(current)
    return np.asarray(thresholds), np.asarray(totals)


def optimise_threshold(
    labels: Mapping[str, FileLabels],
    scores: Mapping[str, FloatArray],
    profile_name: str,
    profile: tuple[float, float, float],
) -> CorpusResult:
    """The single threshold that maximises the corpus score (NAB's scoreboard does this per profile)."""
    thresholds, totals = sweep_thresholds(labels, scores, profile)
    best = int(np.argmax(totals))
    return score_corpus(labels, scores, float(thresholds[best]), profile_name, profile)


@dataclass(frozen=True)
class FoldChoice:
    """One fold of :func:`cross_validate`: what was chosen without the fold's files, and how it did on them."""

    fold: str
    candidate: str
    threshold: float
    train_raw: float
    test_raw: float
    test_windows: int


@dataclass(frozen=True)
class CrossValidation:
    """A cross-validated corpus score: each fold scored at the candidate and threshold chosen on the other folds."""

    profile: str
    raw: float
    normalized: float
    folds: tuple[FoldChoice, ...]


def category_folds(labels: Mapping[str, FileLabels]) -> dict[str, str]:
    """Each file's fold: its NAB category (the folder of ``category/name.csv``)."""
    return {key: key.split("/", 1)[0] for key in labels}


def cross_validate(
    labels: Mapping[str, FileLabels],
    candidates: Mapping[str, Mapping[str, FloatArray]],
    profile_name: str,
    profile: tuple[float, float, float],
    folds: Mapping[str, str] | None = None,
    threshold: float | None = None,
) -> CrossValidation:
    """Leave-one-fold-out selection of a candidate (and, unless ``threshold`` is fixed, its threshold).

    For each fold, every candidate's scores are judged on the files of the *other* folds (at its best
    single threshold there, or at the fixed ``threshold``); the best candidate (the first listed on a
    tie) and its threshold then score the fold's own files.  The raw fold scores are summed and
    normalised over every window, so the figure says how well the *selection procedure* does on files
    it never saw.  ``folds`` maps each file to its fold (default: its NAB category).
    """
    if not candidates:
        raise BadInput("cross_validate needs at least one candidate", field="candidates")
    fold_of = dict(folds) if folds is not None else category_folds(labels)
    choices: list[FoldChoice] = []
    total = 0.0
    for fold in sorted(set(fold_of.values())):
        train = {k: v for k, v in labels.items() if fold_of[k] != fold}
        test = {k: v for k, v in labels.items() if fold_of[k] == fold}
        judged = []
        for order, (name, scores) in enumerate(candidates.items()):
            if threshold is None:
                ths, totals = sweep_thresholds(train, scores, profile)
                j = int(np.argmax(totals))
                judged.append((float(totals[j]), -order, name, float(ths[j])))
            else:
                raw = score_corpus(train, scores, threshold, profile_name, profile).raw
                judged.append((raw, -order, name, threshold))
        train_raw, _, chosen, th = max(judged)  # the first listed wins a tie
        got = score_corpus(test, candidates[chosen], th, profile_name, profile)
        n_win = sum(len(v.scored_windows()) for v in test.values())
        choices.append(FoldChoice(fold, chosen, th, train_raw, got.raw, n_win))
        total += got.raw
    n_windows = sum(len(v.scored_windows()) for v in labels.values())
    return CrossValidation(profile_name, total, normalize(total, n_windows, profile), tuple(choices))


#: the operating thresholds the benchmarks sweep with the fold that goes with each (ascending, 0.8 among them)
THRESHOLD_GRID = tuple(round(0.7 + 0.0025 * i, 4) for i in range(101))


def threshold_table(
    labels: Mapping[str, FileLabels],
    raw: Mapping[str, FloatArray],
    grid: Sequence[float],
    profile: tuple[float, float, float],
    transform: Callable[[FloatArray, float], FloatArray],
) -> dict[str, FloatArray]:
    """Each file's raw NAB score at every threshold of ``grid``, its scores ``transform(raw, threshold)`` there:
    for a detector whose scores depend on its operating threshold (the ensemble folds its alerts at it), where
    :func:`sweep_thresholds` (one set of scores cut at every level) does not apply."""
    return {
        key: np.array([_file_parts(lab, transform(raw[key], th), th, profile)[0] for th in grid])
        for key, lab in labels.items()
    }


def cross_validate_table(
    labels: Mapping[str, FileLabels],
    table: Mapping[str, FloatArray],
    grid: Sequence[float],
    profile_name: str,
    profile: tuple[float, float, float],
    candidate: str = "shipped",
    folds: Mapping[str, str] | None = None,
) -> CrossValidation:
    """Leave-one-fold-out choice of the threshold on ``grid`` (ascending) from a :func:`threshold_table`: the
    threshold that scores best on the other folds' files (the highest on a tie, as :func:`sweep_thresholds` gives
    it) scores the fold's own.  Normalised as :func:`cross_validate`."""
    fold_of = dict(folds) if folds is not None else category_folds(labels)
    choices: list[FoldChoice] = []
    total = 0.0
    for fold in sorted(set(fold_of.values())):
        train = sum((table[k] for k in labels if fold_of[k] != fold), np.zeros(len(grid)))
        test = sum((table[k] for k in labels if fold_of[k] == fold), np.zeros(len(grid)))
        j = len(grid) - 1 - int(np.argmax(train[::-1]))
        n_win = sum(len(v.scored_windows()) for k, v in labels.items() if fold_of[k] == fold)
        choices.append(FoldChoice(fold, candidate, float(grid[j]), float(train[j]), float(test[j]), n_win))
        total += float(test[j])
    n_windows = sum(len(v.scored_windows()) for v in labels.values())
    return CrossValidation(profile_name, total, normalize(total, n_windows, profile), tuple(choices))


def best_on_table(
    labels: Mapping[str, FileLabels], table: Mapping[str, FloatArray], grid: Sequence[float],
    profile: tuple[float, float, float],
) -> tuple[float, float]:  # fmt: skip
    """The threshold of ``grid`` that scores best over every file of a :func:`threshold_table` (the highest on a
    tie) and its normalised score: the all-data figure, optimistic beside :func:`cross_validate_table`'s."""
    total = sum((table[k] for k in labels), np.zeros(len(grid)))
    j = len(grid) - 1 - int(np.argmax(total[::-1]))
    n_windows = sum(len(v.scored_windows()) for v in labels.values())
    return float(grid[j]), normalize(float(total[j]), n_windows, profile)


def cross_validate_transformed(
    labels: Mapping[str, FileLabels],
    raw: Mapping[str, FloatArray],
    profile_name: str,
    profile: tuple[float, float, float],
    transform: Callable[[FloatArray, float], FloatArray],
    folds: Mapping[str, str] | None = None,
    grid: Sequence[float] = THRESHOLD_GRID,
    candidate: str = "shipped",
) -> tuple[CrossValidation, float, float]:
    """The threshold chosen in the folds on ``grid`` with each threshold's scores ``transform(raw, threshold)``
    (:func:`cross_validate_table`), and beside it the all-data best threshold and its normalised score."""
    table = threshold_table(labels, raw, grid, profile, transform)
    th, best = best_on_table(labels, table, grid, profile)
    return cross_validate_table(labels, table, grid, profile_name, profile, candidate, folds), th, best
