"""``hx.cost.fleet``: the fleet budget and its cap at the VPA-style rule's exceed rate."""

from __future__ import annotations

import numpy as np

from hx.cost.fleet import WorkloadHistory, fleet_levels, pooled, rightsize_fleet, vpa_level

DAY = 86400.0


def _noisy(n_workloads: int = 4, days: float = 4.0, seed: int = 3) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, days * DAY, 300.0)
    return [10.0 + 2.0 * rng.standard_normal(t.size) for _ in range(n_workloads)], [t] * n_workloads


def test_a_generous_budget_is_held_where_hx_would_be_exceeded_more_often_than_the_vpa_rule() -> None:
    cpu, times = _noisy()
    vpa = pooled(cpu, np.array([vpa_level(h) for h in cpu]))
    free = fleet_levels("cpu", cpu, times, 0.2, vpa_cap=False, floors=False)
    capped = fleet_levels("cpu", cpu, times, 0.2, floors=False)
    assert pooled(cpu, free.levels) > vpa and free.budget == 0.2  # the whole budget: more often exceeded than VPA
    assert pooled(cpu, capped.levels) <= vpa and 0.0 < capped.budget < 0.2
    assert capped.levels.sum() > free.levels.sum()
    # the largest budget that keeps to the rule's rate: a little more would exceed it
    over = fleet_levels("cpu", cpu, times, capped.budget * 1.05, vpa_cap=False, floors=False)
    assert pooled(cpu, over.levels) > vpa


def test_a_budget_already_within_the_vpa_rule_is_spent_whole() -> None:
    cpu, times = _noisy()
    small = fleet_levels("cpu", cpu, times, 0.001, floors=False)
    assert small.budget == 0.001
    assert np.array_equal(small.levels, fleet_levels("cpu", cpu, times, 0.001, vpa_cap=False, floors=False).levels)


def test_the_plan_reports_the_budget_allowed_per_resource() -> None:
    cpu, times = _noisy()
    memory, _ = _noisy(seed=4)
    fleet = {str(i): WorkloadHistory(times[i], cpu[i], memory[i]) for i in range(4)}
    plan = rightsize_fleet(fleet, 0.2)
    for res in ("cpu", "memory_gib"):
        t = plan.totals[res]
        assert t["budget_allowed"] < 0.2 and t["exceed_hx"] <= t["exceed_vpa"]
    free = rightsize_fleet(fleet, 0.2, vpa_cap=False)
    assert (
        free.totals["cpu"]["budget_allowed"] == 0.2
        and free.totals["cpu"]["exceed_hx"] > free.totals["cpu"]["exceed_vpa"]
    )


def test_the_memory_cap_keeps_a_spiky_workload_out_of_the_pooled_budgets_oom_risk() -> None:
    """Nine flat workloads and one at 8 GiB a fifth of the time: the pooled budget (10 %) sizes the spiky one at its
    low level (above it 20 % of the time, out of memory); the cap holds every workload to <= 10 %, and the totals
    count the workloads beyond it for hx and for the VPA-style rule."""
    t = np.arange(0.0, 3 * DAY, 300.0)
    rng = np.random.default_rng(2)
    flat = [4.0 + 0.05 * rng.standard_normal(t.size) for _ in range(9)]
    spiky = np.where(np.arange(t.size) % 5 == 0, 8.0, 1.0)
    memory = [*flat, spiky]
    free = fleet_levels("memory", memory, [t] * 10, 0.1, vpa_cap=False, floors=False)
    capped = fleet_levels("memory", memory, [t] * 10, 0.1, vpa_cap=False, floors=False, memory_cap=True)
    assert float(np.mean(spiky > free.levels[-1])) > 0.15
    assert all(float(np.mean(h > lv)) <= 0.1 for h, lv in zip(memory, capped.levels, strict=True))
    assert capped.levels.sum() > free.levels.sum()
    fleet = {str(i): WorkloadHistory(t, flat[0], m) for i, m in enumerate(memory)}
    plan = rightsize_fleet(fleet, 0.1, vpa_cap=False)
    assert plan.totals["memory_gib"]["workloads_over_tail_hx"] == 1
    assert plan.totals["memory_gib"]["workloads_over_tail_vpa"] == 0
    capped_plan = rightsize_fleet(fleet, 0.1, vpa_cap=False, memory_cap=True)
    assert capped_plan.totals["memory_gib"]["workloads_over_tail_hx"] == 0
