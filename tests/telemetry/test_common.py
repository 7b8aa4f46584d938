"""The step grid and alignment every source shares."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hx.config import load_settings
from hx.errors import BadInput
from hx.telemetry.common import MAX_POINTS, align_to_grid, signal_step_s, step_grid, to_unix


def test_grid_includes_end_when_it_falls_on_a_step() -> None:
    assert step_grid(100.0, 160.0, 30.0).tolist() == [100.0, 130.0, 160.0]
    assert step_grid(100.0, 100.0, 30.0).tolist() == [100.0]


def test_grid_is_exact_for_large_unix_times() -> None:
    start = 1_795_821_391.437692
    grid = step_grid(start, start + 60.0, 1.0)
    assert len(grid) == 61
    assert grid[0] == pytest.approx(1_795_821_391.438, abs=1e-6)


@pytest.mark.parametrize(("start", "end", "step"), [(0, 10, 0), (0, 10, -1), (10, 0, 1), (0, 10, float("nan"))])
def test_bad_ranges_are_refused(start: float, end: float, step: float) -> None:
    with pytest.raises(BadInput):
        step_grid(start, end, step)


def test_too_many_points_is_refused_naming_the_fix() -> None:
    with pytest.raises(BadInput, match="larger step"):
        step_grid(0.0, float(MAX_POINTS) * 2, 1.0)


def test_gaps_are_nan_and_samples_snap_to_the_nearest_point() -> None:
    grid = step_grid(0.0, 300.0, 60.0)
    ts = np.array([0.0, 62.0, 170.0, 300.0])
    vs = np.array([1.0, 2.0, 3.0, 5.0])
    out = align_to_grid(grid, 60.0, ts, vs)
    assert out[0] == 1.0 and out[1] == 2.0 and out[3] == 3.0 and out[5] == 5.0
    assert np.isnan(out[2]) and np.isnan(out[4])


def test_the_closest_sample_wins_a_slot() -> None:
    grid = step_grid(0.0, 60.0, 60.0)
    out = align_to_grid(grid, 60.0, np.array([50.0, 61.0, 70.0]), np.array([1.0, 2.0, 3.0]))
    assert np.isnan(out[0]) and out[1] == 2.0
    tie = align_to_grid(grid, 60.0, np.array([55.0, 65.0]), np.array([1.0, 2.0]))
    assert tie[1] == 2.0  # equally close: the later sample wins


def test_samples_outside_the_grid_are_dropped() -> None:
    grid = step_grid(100.0, 200.0, 50.0)
    out = align_to_grid(grid, 50.0, np.array([0.0, 400.0]), np.array([1.0, 2.0]))
    assert np.isnan(out).all()


@settings(derandomize=True, database=None, max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=-50, max_value=650, allow_nan=False), max_size=40),
    st.sampled_from([1.0, 7.5, 60.0]),
)
def test_alignment_never_invents_values(times: list[float], step: float) -> None:
    grid = step_grid(0.0, 600.0, step)
    values = np.arange(len(times), dtype=np.float64)
    out = align_to_grid(grid, step, np.array(times, dtype=np.float64), values)
    assert out.shape == grid.shape
    kept = out[~np.isnan(out)]
    assert set(kept.tolist()) <= set(values.tolist())
    assert len(kept) == len(set(kept.tolist()))  # each sample lands on at most one point


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(BadInput, match="timezone"):
        to_unix(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("overrides", "step"),
    [
        ({"telemetry.source": "sim", "sim.step_s": 15.0}, 15.0),
        ({"telemetry.source": "prometheus"}, 60.0),
        ({"telemetry.source": "replay", "telemetry.step_s": 30.0}, 30.0),
    ],
)
def test_one_signal_step_rule(overrides: dict[str, object], step: float) -> None:
    assert signal_step_s(load_settings(environ={}, overrides=overrides).settings) == step
