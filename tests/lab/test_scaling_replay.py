"""Reading a user's trace file for a replay (the rest of the replay is covered by the scaling bench smoke test)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hx.errors import BadInput
from hx.lab.scaling_replay import read_csv_trace, split_trace


def test_read_csv_trace(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("timestamp,value\n1700000000,1.5\n1700000060,\n2023-11-14T22:15:20+00:00,3\n1700000180,4\n")
    ts, vs = read_csv_trace(f)
    assert ts.tolist() == [1700000000.0, 1700000060.0, 1700000120.0, 1700000180.0]
    assert vs[0] == 1.5 and vs[1] != vs[1] and vs[2] == 3.0  # an empty cell is a gap (NaN)


def test_a_trace_that_is_not_text_is_named(tmp_path: Path) -> None:
    f = tmp_path / "bin.csv"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    with pytest.raises(BadInput, match="bin.csv: not UTF-8"):
        read_csv_trace(f)


def test_a_trace_too_coarse_to_replay_says_why_and_what_would_do() -> None:
    hourly = np.arange(0.0, 10 * 86400.0, 3600.0)
    with pytest.raises(BadInput, match=r"hourly: rows 60 min apart: too coarse to replay.*5 minutes apart or finer"):
        split_trace("hourly", hourly, np.ones(hourly.size), test_days=1.0)
    odd = np.arange(0.0, 10 * 86400.0, 70.0)
    with pytest.raises(BadInput, match=r"the step \(70 s\) must divide 300 s; replay bucket means with --resolution"):
        split_trace("odd", odd, np.ones(odd.size), test_days=1.0)
    with pytest.raises(BadInput, match="rows over 5 minutes apart cannot be replayed"):
        split_trace("hourly", hourly, np.ones(hourly.size), test_days=1.0, resolution_s=3600.0)


def test_a_gap_in_the_replayed_rows_is_said_not_silently_interpolated() -> None:
    # four hours missing from the replayed day were replayed as a straight line between their ends, and the SLO
    # minutes and replica-hours counted over them, without a word
    t = np.arange(0.0, 3 * 86400.0, 60.0)
    v = 100.0 + 50.0 * np.sin(t / 86400.0 * 2 * np.pi)
    keep = (t < 2.5 * 86400.0) | (t >= 2.5 * 86400.0 + 4 * 3600.0)
    tr = split_trace("gap.csv", t[keep], v[keep], test_days=1.0)
    assert tr.describe()["notes"] == [
        "the replayed rows have 4 h without data (the longest gap 4 h): demand is interpolated across them"
    ]
    history_gap = (t < 0.5 * 86400.0) | (t >= 0.5 * 86400.0 + 4 * 3600.0)  # before the replay: no note
    assert "notes" not in split_trace("gap.csv", t[history_gap], v[history_gap], test_days=1.0).describe()
