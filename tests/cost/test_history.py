from __future__ import annotations

import numpy as np
import pytest

from hx.cost.history import MIN_HISTORY_S, Grid, common_grid, screen, share_note
from hx.errors import BadInput

DAY = 86400.0


def test_a_workload_under_two_days_of_usable_samples_is_skipped_naming_counts() -> None:
    grid = Grid(0.0, 300.0, 3 * 288)
    cpu = np.full(grid.n, np.nan)
    cpu[:3] = 0.1  # three usable rows, the rest at zero capacity
    skip = screen("vm", "vm.csv", grid, cpu, cpu.copy(), rows=grid.n)
    assert skip is not None and skip.file == "vm.csv" and skip.usable_intervals == 3
    assert skip.needed_intervals == int(MIN_HISTORY_S / 300) and "576" in skip.reason and "3 usable" in skip.reason
    enough = np.full(grid.n, 0.1)
    assert screen("vm", "vm.csv", grid, enough, enough, rows=grid.n) is None
    memory_gaps = np.where(np.arange(grid.n) < 500, 1.0, np.nan)  # CPU everywhere, memory under two days
    assert screen("vm", "vm.csv", grid, enough, memory_gaps, rows=grid.n) is not None
    one = np.where(np.arange(grid.n) < 1, 0.1, np.nan)
    lone = screen("vm", "vm.csv", grid, one, one, rows=1)
    assert lone is not None and "1 usable 300 s interval (" in lone.reason and "of 1 row;" in lone.reason


def test_a_small_share_of_usable_rows_gets_a_note() -> None:
    note = share_note(1260, 23007)
    assert note is not None and "1,260 of its 23,007 rows" in note
    assert share_note(8000, 8262) is None


def test_the_grid_averages_duplicate_rows_and_reads_the_step_from_usable_rows() -> None:
    t = np.array([0.0, 0.0, 300.0, 600.0])
    assert Grid(0.0, 300.0, 3).place(t, np.array([1.0, 3.0, 5.0, np.nan])).tolist()[:2] == [2.0, 5.0]
    irregular = np.sort(np.r_[np.arange(0, DAY, 120.0), np.arange(DAY, 3 * DAY, 300.0)])
    assert common_grid([irregular], [np.arange(DAY, 3 * DAY, 300.0)]).step_s == 300.0
    with pytest.raises(BadInput, match="step"):
        common_grid([np.array([5.0])])
