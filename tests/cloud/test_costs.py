from hx.cloud.catalog import Catalog
from hx.cloud.costs import cost_report
from hx.cloud.workload import Estate, Workload

CAT = Catalog.builtin()


def test_report_current_vs_optimal_and_what_ifs() -> None:
    ws = [Workload(name="a", vcpus=2, memory_gib=8), Workload(name="b", vcpus=4, memory_gib=8, spot_ok=True)]
    est = Estate(workloads=ws, current={"a": "aws:ap-northeast-1", "b": "gcp:europe-west3"})
    r = cost_report(est, CAT, price_changes={"aws": -50})
    assert r.current_total_usd_per_hour is not None and r.savings_usd_per_hour is not None
    assert r.savings_usd_per_hour > 0
    names = [w.name for w in r.what_if]
    assert names[:3] == ["all on aws", "all on azure", "all on gcp"] and "all spot" in names
    cut = r.what_if[-1]
    assert cut.name == "aws prices -50%" and cut.total_usd_per_hour is not None
    assert cut.total_usd_per_hour < r.optimal_total_usd_per_hour
    assert set(r.per_cloud_optimal) <= {"aws", "azure", "gcp"}
    assert r.model_dump()["per_workload"][0]["workload"] == "a"
