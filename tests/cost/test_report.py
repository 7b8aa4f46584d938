from __future__ import annotations

import numpy as np
import pytest

from hx.cost.fleet import WorkloadHistory
from hx.cost.history import Skipped
from hx.cost.report import rightsize_report, warnings
from hx.errors import BadInput

DAY = 86400.0


def _workloads(days: float) -> dict[str, WorkloadHistory]:
    t = 1.7e9 + np.arange(0, days * DAY, 300.0)
    rng = np.random.default_rng(2)
    spiky = np.where(rng.random(t.size) < 0.06, 4.0, 0.2)
    return {
        "flat": WorkloadHistory(t, np.full(t.size, 0.5), np.full(t.size, 1.0), 2.0, 4.0),
        "spiky": WorkloadHistory(t, spiky, 1.0 + spiky, 8.0, 16.0),
        "short": WorkloadHistory(t[:3], np.full(3, 0.1), np.full(3, 0.1), 8.0, 16.0),
    }


def test_a_workload_with_too_little_history_is_skipped_and_the_rest_recommended() -> None:
    files = {"flat": "a.csv", "spiky": "b.csv", "short": "c.csv"}
    bad = Skipped(None, "d.csv", "no row with a CPU capacity above 0")
    r = rightsize_report(_workloads(3), files, skipped=[bad]).to_dict()
    assert [x["workload"] for x in r["recommendations"]] == ["flat", "spiky"] and r["fleet"] is None
    assert [(s["file"], s["workload"]) for s in r["skipped"]] == [("d.csv", None), ("c.csv", "short")]
    assert r["skipped"][1]["usable_intervals"] == 3 and r["skipped"][1]["needed_intervals"] == 576
    with pytest.raises(BadInput, match=r"c\.csv \(short\): 3 usable"):
        rightsize_report({"short": _workloads(3)["short"]}, files)


def test_the_fleet_report_separates_in_sample_from_judged_days_and_warns() -> None:
    r = rightsize_report(_workloads(10), {"flat": "a", "spiky": "b", "short": "c"}, fleet=True).to_dict()
    fleet = r["fleet"]
    assert set(fleet) >= {"in_sample", "learn_judge", "warnings", "risk_budget_bounds"}
    assert (
        fleet["learn_judge"]["learn_days"] == pytest.approx(7.0, abs=0.01)
        and fleet["learn_judge"]["workloads_judged"] == 2
    )
    spiky = next(x for x in r["recommendations"] if x["workload"] == "spiky")
    assert spiky["cpu_risk"] > 0.04 and any("over the 4.0 % budget" in n for n in spiky["notes"])


def test_warnings_say_when_hx_is_exceeded_more_than_the_vpa_rule_or_its_budget() -> None:
    res = {"hx": 1.0, "vpa_p90x1.15": 2.0, "reduction_vs_vpa": 0.5, "exceed_hx": 0.05, "exceed_vpa": 0.03}
    ok = {"hx": 1.0, "vpa_p90x1.15": 2.0, "reduction_vs_vpa": 0.5, "exceed_hx": 0.01, "exceed_vpa": 0.03}
    out = warnings(
        {"cpu": res, "memory_gib": ok},
        {"cpu": {**res, "target_met": False}, "memory_gib": ok | {"target_met": True}},
        0.04,
    )
    assert any("in-sample" in w and "MORE often" in w for w in out)
    assert any("judged days" in w and "above the 4.0% budget" in w for w in out)
    assert any("target NOT met" in w for w in out) and not any(w.startswith("memory") for w in out)


def test_usage_beyond_any_machine_or_at_one_time_is_skipped_naming_the_file() -> None:
    """Memory in KB under memory_gib with no current size (no ratio to check): 2.6 million GiB was recommended;
    a one-row file was refused as "no two distinct times" without its name."""
    w = _workloads(3)
    flat = w["flat"]
    kb = WorkloadHistory(flat.timestamps, flat.cpu, np.full(flat.timestamps.size, 2.5e6), None, None)
    one = WorkloadHistory(flat.timestamps[:1], flat.cpu[:1], flat.memory_gib[:1], None, None)
    r = rightsize_report({"flat": flat, "kb": kb, "one": one}, {"flat": "a.csv", "kb": "kb.csv", "one": "one.csv"})
    out = r.to_dict()
    assert [x["workload"] for x in out["recommendations"]] == ["flat"]
    why = {s["file"]: s["reason"] for s in out["skipped"]}
    assert "more than any machine a cloud rents" in why["kb.csv"] and "1 row(s) at 1 distinct time" in why["one.csv"]
    with pytest.raises(BadInput, match=r"one\.csv \(one\): 1 row\(s\)"):
        rightsize_report({"one": one}, {"one": "one.csv"})


def test_a_huge_workload_with_a_current_size_that_holds_it_is_sized_not_skipped() -> None:
    """An aggregate service of 4,000 vCPU using 3,000: the ratio to its current size judges, not the largest VM."""
    t = 1.7e9 + np.arange(0, 3 * DAY, 300.0)
    big = WorkloadHistory(t, np.full(t.size, 3000.0), np.full(t.size, 40000.0), 4000.0, 60000.0)
    r = rightsize_report({"big": big}, {"big": "big.csv"}).to_dict()
    assert [x["workload"] for x in r["recommendations"]] == ["big"] and not r["skipped"]
