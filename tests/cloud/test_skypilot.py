import csv
import os
from pathlib import Path

import pytest

from hx.cloud.catalog import Catalog
from hx.cloud.skypilot import import_skypilot_csv
from hx.errors import BadInput

DATA = (
    Path(os.environ.get("HX_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))
    / "catalog"
    / "catalogs"
)
needs_data = pytest.mark.skipif(not DATA.exists(), reason="shared catalog data not present")


@needs_data
def test_import_aws_v8_subset_merges_per_region() -> None:
    cat = import_skypilot_csv(DATA / "v8/aws/vms.subset.csv", "aws")
    o = cat.offer("aws", "us-east-1", "m5a.large")
    assert o.price == pytest.approx(0.086)
    assert o.spot is not None and o.spot <= o.price
    assert cat.instance_type("aws", "a1.large").arch == "arm64"
    assert cat.offer("aws", "us-east-1", "m6i.large").price == pytest.approx(0.096)  # built-in kept


@needs_data
def test_import_azure_v6_subset_without_zone_column() -> None:
    cat = import_skypilot_csv(DATA / "v6/azure/vms.subset.csv", "azure")
    assert cat.offer("azure", "westus3", "Standard_E8as_v5").price == pytest.approx(0.452)
    assert cat.instance_type("azure", "Standard_D4ps_v5").arch == "arm64"


@needs_data
def test_import_gcp_skips_gpu_hosts_and_can_skip_unknown_regions() -> None:
    with pytest.raises(BadInput, match="unknown region"):
        import_skypilot_csv(DATA / "v8/gcp/vms.subset.csv", "gcp")
    cat = import_skypilot_csv(DATA / "v8/gcp/vms.subset.csv", "gcp", unknown_regions="skip")
    info = cat.meta["imports"][-1]
    assert info["skipped"]["accelerator"] > 0 and info["skipped"]["unknown_region"] > 0
    assert cat.offer("gcp", "us-central1", "n2d-highcpu-16").price == pytest.approx(0.49901)
    assert ("gcp", "a2-highgpu-1g") not in cat.types
    v9 = import_skypilot_csv(DATA / "v9/aws/vms.subset.csv", "aws", unknown_regions="skip")
    assert ("aws", "c3.2xlarge") in v9.types


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "vms.csv"
    p.write_text(text)
    return p


HEADER = "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region\n"


def test_missing_column_is_named(tmp_path: Path) -> None:
    p = _write(tmp_path, "InstanceType,vCPUs,Price,SpotPrice,Region\nm6i.large,2,0.1,,us-east-1\n")
    with pytest.raises(BadInput, match="MemoryGiB"):
        import_skypilot_csv(p, "aws", Catalog.builtin())


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ("m6i.large,,,2,8,,abc,,us-east-1", "line 2: column Price"),
        ("m6i.large,,,2,8,,-1,,us-east-1", "Price"),
        ("m6i.large,,,2,8,,0.1,nan,us-east-1", "SpotPrice"),
        ("m6i.large,,,2,8,,0.1,,mars-1", "unknown region 'mars-1'"),
        ("n2-standard-2,,,2,8,,0.1,,us-east-1", "not a aws instance type"),
        ("m6i.large,,,0,8,,0.1,,us-east-1", "vCPUs"),
    ],
)
def test_junk_rows_are_rejected_with_row_and_column(tmp_path: Path, row: str, match: str) -> None:
    with pytest.raises(BadInput, match=match):
        import_skypilot_csv(_write(tmp_path, HEADER + row + "\n"), "aws")


@needs_data
def test_builtin_on_demand_prices_agree_with_skypilot_rows() -> None:
    """Where the built-in catalog and SkyPilot's real rows hold the same offer, the list prices agree."""
    builtin = Catalog.builtin()
    devs = []
    for path, cloud in [("v6/azure", "azure"), ("v8/gcp", "gcp"), ("v8/aws", "aws")]:
        with (DATA / path / "vms.subset.csv").open(newline="") as f:
            for row in csv.DictReader(f):
                o = builtin.offers.get((cloud, row["Region"], row["InstanceType"]))
                if o is not None:
                    devs.append(abs(o.price / float(row["Price"]) - 1))
    assert len(devs) >= 50  # Azure D4s/D4as/D4ps/E8as_v5 in 9 US regions, GCP n2d-highcpu-16 in 19
    assert sum(d <= 0.01 for d in devs) >= 0.95 * len(devs)
