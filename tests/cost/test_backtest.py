from __future__ import annotations

import numpy as np

from hx.cost.backtest import LEARN_SHARE, backtest
from hx.cost.fleet import fleet_levels, pooled, vpa_level
from hx.cost.history import Grid

DAY = 86400.0


def _fleet(grid: Grid, grows: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(1)
    later = np.arange(grid.n) >= int(LEARN_SHARE * grid.n)
    cpu = [1.0 + 0.1 * rng.random(grid.n) + np.where(later, grows, 0.0) for _ in range(4)]
    cpu.append(np.where(rng.random(grid.n) < 0.05, 10.0, 0.5))  # a spiky one
    memory = [np.full(grid.n, 2.0) + 0.05 * rng.random(grid.n) for _ in range(5)]
    return cpu, memory


def test_exceed_is_counted_on_the_judged_days_with_levels_learned_before_them() -> None:
    grid = Grid(0.0, 300.0, 10 * 288)
    cpu, memory = _fleet(grid, grows=0.5)  # usage grows after the learning part: out-of-sample exceed is high
    b = backtest(grid, [str(i) for i in range(5)], cpu, memory, 0.04).to_dict()
    split = int(LEARN_SHARE * grid.n)
    assert b["learn_days"] == split * 300 / DAY and b["workloads_judged"] == 5
    ours = fleet_levels("cpu", [c[:split] for c in cpu], [grid.times[:split]] * 5, 0.04).levels
    assert b["cpu"]["hx"] == ours.sum()
    assert b["cpu"]["exceed_hx"] == pooled([c[split:] for c in cpu], ours) > 0.5
    assert b["cpu"]["exceed_hx_learning"] < 0.1  # the same levels on the days they were learned from
    assert b["cpu"]["vpa_p90x1.15"] == sum(vpa_level(c[:split]) for c in cpu)


def test_a_workload_without_a_day_on_each_side_is_not_judged() -> None:
    grid = Grid(0.0, 300.0, 10 * 288)
    cpu, memory = _fleet(grid, grows=0.0)
    cpu[0] = np.where(np.arange(grid.n) < 2000, cpu[0], np.nan)  # nothing in the judged part
    b = backtest(grid, [str(i) for i in range(5)], cpu, memory, 0.04)
    assert b.excluded == {"0": "less than a day of samples while judging"} and "0" not in b.judged
