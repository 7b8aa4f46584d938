from pathlib import Path

import pytest

from hx.cloud.baselines import greedy
from hx.cloud.candidates import PlacementInfeasible
from hx.cloud.catalog import Catalog
from hx.cloud.placement import PlacementOptions, place
from hx.cloud.verify import plan_costs, violations
from hx.cloud.workload import EgressPair, Estate, LatencyTarget, Spread, Workload, example_estate_path, load_estate
from hx.errors import ConfigError
from hx.lab.workload_mix import standard_mix

CAT = Catalog.builtin()


def test_eu_only_workload_lands_in_eu_and_explains() -> None:
    plan = place([Workload(name="gdpr", vcpus=2, memory_gib=8, jurisdictions=["EU"])], CAT)
    a = plan.assignments[0]
    assert CAT.region(a.placements[0].loc).jurisdiction == "EU"
    ex = a.explanation
    assert ex is not None and ex.runner_up is not None and ex.runner_up_extra_usd_per_hour is not None
    assert ex.runner_up_extra_usd_per_hour >= 0
    assert ex.rejected["residency"] == len(CAT.regions_by_loc) - len(CAT.regions(jurisdiction="EU"))


def test_latency_target_is_respected() -> None:
    w = Workload(
        name="jp", vcpus=2, memory_gib=4, latency=[LatencyTarget(name="tokyo", lat=35.68, lon=139.69, max_ms=20)]
    )
    plan = place([w], CAT)
    assert plan.assignments[0].placements[0].location.endswith(("ap-northeast-1", "japaneast", "asia-northeast1"))
    explanation = plan.assignments[0].explanation
    assert explanation is not None and explanation.rejected["latency"] > 40


def test_cloud_spread_uses_two_clouds_and_beats_round_robin() -> None:
    w = Workload(name="s", vcpus=4, memory_gib=16, replicas=5, spread=Spread(across="cloud", min=2))
    plan = place([w], CAT)
    clouds = {p.loc.cloud for p in plan.assignments[0].placements}
    assert len(clouds) == 2
    assert plan.total_usd_per_hour < greedy([w], CAT).total_usd_per_hour


@pytest.mark.parametrize("across", ["cloud", "region"])
def test_a_spread_workloads_runner_up_keeps_the_spread_and_costs_more(across: str) -> None:
    # the demo's catalog-web (spread over 3 clouds) showed a runner-up 0.0212 USD/h *cheaper* than the plan: another
    # region of a cloud it already used, in place of its dearest replica, which left 2 clouds
    w = Workload(name="s", vcpus=2, memory_gib=8, replicas=4, spread=Spread(across=across, min=3))
    a = place([w], CAT).assignments[0]
    ex = a.explanation
    assert ex is not None and ex.runner_up is not None and ex.runner_up_extra_usd_per_hour is not None
    assert ex.runner_up_extra_usd_per_hour >= 0, ex  # the plan is optimal: no move that keeps the rule is cheaper
    replaced = ex.note.rsplit(" ", 1)[-1]
    assert replaced in {p.location for p in a.placements}
    runner = ex.runner_up.split(" ")[0]
    kept = {p.location for p in a.placements} - {replaced} | {runner}
    keys = {loc.split(":")[0] for loc in kept} if across == "cloud" else kept
    assert len(keys) >= 3, (kept, ex)


def test_egress_pulls_partners_together() -> None:
    a = Workload(name="a", vcpus=2, memory_gib=8, jurisdictions=["EU"])
    b = Workload(name="b", vcpus=8, memory_gib=16, clouds=["gcp"])
    est = Estate(workloads=[a, b], egress=[EgressPair(src="a", dst="b", gb_per_hour=100)])
    plan = place(est, CAT)
    pa, pb = (plan.by_workload()[n].placements[0].loc for n in "ab")
    assert pa == pb
    assert plan.total_usd_per_hour < greedy(est, CAT).total_usd_per_hour


@pytest.mark.parametrize(
    ("w", "constraint"),
    [
        (Workload(name="x", vcpus=2, memory_gib=4, jurisdictions=["MARS"]), "residency"),
        (
            Workload(
                name="x",
                vcpus=2,
                memory_gib=4,
                jurisdictions=["EU"],
                latency=[LatencyTarget(lat=35.7, lon=139.7, max_ms=30)],
            ),
            "latency",
        ),
        (Workload(name="x", vcpus=512, memory_gib=4), "capacity"),
        (Workload(name="x", vcpus=2, memory_gib=4, max_hourly_usd=0.001), "cost"),
        (
            Workload(name="x", vcpus=2, memory_gib=4, replicas=3, clouds=["aws"], spread=Spread(across="cloud", min=2)),
            "availability",
        ),
    ],
)
def test_infeasibility_names_constraint_and_workload(w: Workload, constraint: str) -> None:
    with pytest.raises(PlacementInfeasible) as info:
        place([w, Workload(name="ok", vcpus=1, memory_gib=1)], CAT)
    assert info.value.constraint == constraint and info.value.workload == "x"


def test_budget_infeasibility_is_joint() -> None:
    est = Estate(workloads=[Workload(name="a", vcpus=16, memory_gib=64)], budget_usd_per_hour=0.01)
    with pytest.raises(PlacementInfeasible) as info:
        place(est, CAT)
    assert info.value.constraint == "budget" and info.value.workload is None


def test_quota_forces_second_region() -> None:
    ws = [Workload(name=f"w{i}", vcpus=2, memory_gib=8, regions=["aws:us-east-1", "aws:us-east-2"]) for i in range(3)]
    est = Estate(workloads=ws, region_vcpu_quota={"aws:us-east-1": 4, "aws:us-east-2": 2})
    plan = place(est, CAT)
    assert violations(plan.assignments, est, CAT) == []
    with pytest.raises(PlacementInfeasible) as info:
        place(est.model_copy(update={"region_vcpu_quota": {"aws:us-east-1": 2, "aws:us-east-2": 2}}), CAT)
    assert info.value.constraint == "quota"


def test_move_cost_keeps_workload_in_place() -> None:
    w = Workload(name="a", vcpus=2, memory_gib=8, move_cost_usd=1000)
    est = Estate(workloads=[w], current={"a": "aws:eu-west-1"})
    kept = place(est, CAT)
    assert kept.assignments[0].placements[0].location == "aws:eu-west-1" and not kept.assignments[0].moved
    cheap = place(est.model_copy(update={"workloads": [w.model_copy(update={"move_cost_usd": 0.0})]}), CAT)
    assert cheap.assignments[0].moved


def test_mix_plan_is_valid_costs_match_and_beats_greedy() -> None:
    est = standard_mix(10, seed=3)
    plan = place(est, CAT, PlacementOptions(mip_rel_gap=1e-3))
    assert violations(plan.assignments, est, CAT) == []
    compute, egress, _, _ = plan_costs(plan.assignments, est, CAT)
    assert plan.total_usd_per_hour == pytest.approx(compute + egress)
    assert plan.dual_bound_usd_per_hour is not None and plan.dual_bound_usd_per_hour <= plan.total_usd_per_hour + 1e-6
    g = greedy(est, CAT)
    assert violations(g.assignments, est, CAT) == []
    assert plan.total_usd_per_hour <= g.total_usd_per_hour + 1e-9


def test_example_estate_loads_and_places() -> None:
    est = load_estate(example_estate_path())
    plan = place(est, CAT)
    assert violations(plan.assignments, est, CAT) == []
    gdpr = plan.by_workload()["checkout-api"]
    assert all(CAT.region(p.loc).jurisdiction == "EU" for p in gdpr.placements)


def test_yaml_errors_name_file_and_key(tmp_path: Path) -> None:
    p = tmp_path / "estate.yml"
    p.write_text("workloads:\n  - name: api\n    vcpus: -1\n    memory_gib: 2\n")
    with pytest.raises(ConfigError) as info:
        load_estate(p)
    assert "estate.yml" in str(info.value) and "workloads[0](name=api).vcpus" in str(info.value)
    p.write_text("workloads:\n  - name: api\n    vcpus: 1\n    memory_gib: 2\n    colour: red\n")
    with pytest.raises(ConfigError, match="colour"):
        load_estate(p)
    p.write_text("workloads: [\n")
    with pytest.raises(ConfigError, match="YAML"):
        load_estate(p)


def test_pruning_keeps_the_optimum() -> None:
    est = standard_mix(12, seed=5)
    pruned = place(est, CAT, PlacementOptions(mip_rel_gap=1e-6, explain=False))
    full = place(est, CAT, PlacementOptions(mip_rel_gap=1e-6, explain=False, prune=False))
    assert pruned.total_usd_per_hour == pytest.approx(full.total_usd_per_hour, rel=1e-6)
    assert pruned.variables < full.variables


def test_joint_model_with_budget_matches_decomposed_optimum() -> None:
    est = standard_mix(8, seed=9)
    free = place(est, CAT, PlacementOptions(explain=False))
    capped = place(est.model_copy(update={"budget_usd_per_hour": free.total_usd_per_hour * 1.01}), CAT)
    assert capped.total_usd_per_hour == pytest.approx(free.total_usd_per_hour, rel=0.006)
    with pytest.raises(PlacementInfeasible) as info:
        place(est.model_copy(update={"budget_usd_per_hour": free.total_usd_per_hour * 0.97}), CAT)
    assert info.value.constraint == "budget"


def test_spread_workload_has_one_primary_for_traffic() -> None:
    w = Workload(name="s", vcpus=2, memory_gib=4, replicas=3, spread=Spread(across="cloud", min=2))
    est = Estate(
        workloads=[w, Workload(name="t", vcpus=2, memory_gib=4, clouds=["azure"])],
        egress=[EgressPair(src="s", dst="t", gb_per_hour=50)],
    )
    plan = place(est, CAT)
    s = plan.by_workload()["s"]
    assert sum(p.primary for p in s.placements) == 1
    assert s.primary() == plan.by_workload()["t"].placements[0].loc  # traffic stays local


def test_an_estate_without_workloads_is_refused_naming_the_key(tmp_path: Path) -> None:
    p = tmp_path / "estate.yml"
    p.write_text("workloads: []\n")
    with pytest.raises(ConfigError, match="estate.yml: workloads: .*at least 1"):
        load_estate(p)
