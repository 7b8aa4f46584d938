"""Run a detector over a corpus in the Numenta Anomaly Benchmark's layout, and score the results.

The layout: ``DIR/data/<category>/<name>.csv`` with ``timestamp,value`` columns, and (for scoring)
``DIR/labels/combined_windows.json``.  Each file is streamed through a fresh detector, every point
scored before it is learned, exactly as it would be live.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hx.detect.base import DETECTORS, FloatArray
from hx.detect.nabscore import FileLabels, load_windows
from hx.detect.validate import ValidatedSeries, read_series_csv
from hx.errors import BadInput
from hx.security.private import export_dir, open_private

#: the detector ``hx detect nab`` runs unless told otherwise
DEFAULT_DETECTOR = "ensemble_resonance"


@dataclass(frozen=True)
class NabFile:
    """One corpus file: its key ``category/name.csv``, its path and its validated series."""

    key: str
    path: Path
    series: ValidatedSeries
    raw_timestamps: list[str]


def corpus_files(data_dir: Path) -> list[Path]:
    """Every CSV under ``data_dir/data``, sorted."""
    root = data_dir / "data"
    if not root.is_dir():
        raise BadInput(
            f"{data_dir} has no data/ folder; expected NAB's layout data/<category>/<name>.csv", field="data"
        )
    files = sorted(root.glob("*/*.csv"))
    if not files:
        raise BadInput(f"{root} holds no <category>/<name>.csv files", field="data")
    return files


def load_file(path: Path, data_root: Path) -> NabFile:
    """Read and validate one corpus file, keeping the timestamps as written for the output."""
    series = read_series_csv(path, strict_order=False)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    stamps = [r["timestamp"] for r in rows if r.get("timestamp") is not None]
    return NabFile(path.relative_to(data_root).as_posix(), path, series, stamps)


def detect_series(detector: str, series: ValidatedSeries) -> FloatArray:
    """Stream one series through a fresh detector (score each point, then learn it)."""
    return DETECTORS.get(detector)().process(series.values, series.timestamps)


def run_nab(
    data_dir: Path,
    out_dir: Path,
    detector: str = DEFAULT_DETECTOR,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Run a fresh ``detector`` over every file of the corpus; write ``out/<category>/<name>.csv``.

    Each output has the columns ``timestamp,value,anomaly_score``.  Returns the paths written.
    """
    DETECTORS.get(detector)  # fail on an unknown name before any work
    written: list[Path] = []
    root = data_dir / "data"
    for path in corpus_files(data_dir):
        nab_file = load_file(path, root)
        if progress is not None:
            progress(nab_file.key)
        scores = detect_series(detector, nab_file.series)
        target = out_dir / nab_file.key
        export_dir(target.parent)
        with open_private(target, newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["timestamp", "value", "anomaly_score"])
            for stamp, value, score in zip(
                nab_file.raw_timestamps, nab_file.series.values.tolist(), scores.tolist(), strict=True
            ):
                writer.writerow([stamp, "" if value != value else repr(value), f"{score:.6f}"])
        written.append(target)
    return written


def corpus_labels(data_dir: Path, files: list[NabFile]) -> dict[str, FileLabels]:
    """The scoring layout of each file from ``labels/combined_windows.json`` (a file with no entry has none)."""
    windows = load_windows(data_dir / "labels" / "combined_windows.json")
    out: dict[str, FileLabels] = {}
    for f in files:
        stamps = (f.series.timestamps * 1e6).astype(np.int64).astype("datetime64[us]")
        out[f.key] = FileLabels.from_timestamps(stamps, windows.get(f.key, []))
    return out
