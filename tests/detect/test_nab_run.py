"""run_nab on a small corpus in NAB's layout, made here."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from hx.detect.nab import corpus_files, corpus_labels, load_file, run_nab
from hx.errors import BadInput, UnknownName


def _corpus(root: Path) -> None:
    rng = np.random.default_rng(0)
    for cat, name, spike in (("catA", "one.csv", True), ("catB", "two.csv", False)):
        d = root / "data" / cat
        d.mkdir(parents=True)
        with (d / name).open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["timestamp", "value"])
            for i in range(600):
                v = 10 + rng.normal() + (30 if spike and i == 500 else 0)
                w.writerow([f"2024-01-{1 + i // 288:02d} {(i % 288) * 5 // 60:02d}:{(i % 288) * 5 % 60:02d}:00", v])
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(
        json.dumps({"catA/one.csv": [["2024-01-02 16:00:00.000000", "2024-01-02 18:00:00.000000"]], "catB/two.csv": []})
    )


def test_run_nab_writes_one_scored_csv_per_file(tmp_path: Path) -> None:
    _corpus(tmp_path / "nab")
    seen: list[str] = []
    paths = run_nab(tmp_path / "nab", tmp_path / "out", progress=seen.append)
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in paths) == ["catA/one.csv", "catB/two.csv"]
    assert seen == ["catA/one.csv", "catB/two.csv"]
    rows = list(csv.DictReader((tmp_path / "out" / "catA" / "one.csv").open()))
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score"]
    scores = np.array([float(r["anomaly_score"]) for r in rows])
    assert len(rows) == 600 and scores.argmax() == 500


def test_labels_locate_windows(tmp_path: Path) -> None:
    _corpus(tmp_path / "nab")
    files = [load_file(p, tmp_path / "nab" / "data") for p in corpus_files(tmp_path / "nab")]
    labels = corpus_labels(tmp_path / "nab", files)
    assert labels["catA/one.csv"].windows == ((480, 504),)
    assert labels["catB/two.csv"].windows == ()


def test_unknown_detector_and_missing_layout_are_bad_input(tmp_path: Path) -> None:
    _corpus(tmp_path / "nab")
    with pytest.raises(UnknownName):
        run_nab(tmp_path / "nab", tmp_path / "out", detector="nope")
    with pytest.raises(BadInput):
        run_nab(tmp_path / "empty", tmp_path / "out")
