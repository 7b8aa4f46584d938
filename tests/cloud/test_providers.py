"""The cloud registry: every registered cloud is complete (catalog data, Terraform, SkyPilot mapping)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hx.cloud import providers
from hx.cloud.catalog import Catalog
from hx.cloud.plan import Assignment, Placement, PlacementPlan
from hx.cloud.planning import catalog_for
from hx.cloud.terraform import schema_errors, terraform_documents
from hx.config import load_settings
from hx.errors import UnknownName

CAT = Catalog.builtin()


@pytest.mark.parametrize("name", providers.names())
def test_each_cloud_has_catalog_data_terraform_and_skypilot(name: str) -> None:
    cloud = providers.get(name)
    region = CAT.regions(cloud=name)[0].code
    types = CAT.instance_types(cloud=name)
    assert types and name in CAT.egress.internet
    assert all(cloud.skypilot.name_rule.match(t.name) for t in types)
    plan = PlacementPlan(
        assignments=[Assignment(workload="api", compute_usd_per_hour=0.1, placements=[
            Placement(location=f"{name}:{region}", instance_type=types[0].name, replicas=2, spot=True)])],
        compute_usd_per_hour=0.1, egress_usd_per_hour=0, total_usd_per_hour=0.1,
    )  # fmt: skip
    doc = terraform_documents(plan)[name]
    assert schema_errors(doc) == []
    assert doc["terraform"]["required_providers"] == {cloud.terraform.name: {"source": cloud.terraform.source}}


def test_an_unknown_cloud_lists_the_registered_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownName, match="valid: aws, azure, gcp"):
        providers.get("ibm")
    settings = load_settings(environ={"HX_HOME": str(tmp_path)}, overrides={"multi_cloud.clouds": ["aws", "ibm"]})
    with pytest.raises(UnknownName) as err:
        catalog_for(settings.settings)
    assert err.value.field == "multi_cloud.clouds"


def test_the_configured_clouds_restrict_the_catalog(tmp_path: Path) -> None:
    settings = load_settings(environ={"HX_HOME": str(tmp_path)}, overrides={"multi_cloud.clouds": ["gcp"]}).settings
    assert catalog_for(settings).clouds() == ["gcp"]
    default = load_settings(environ={"HX_HOME": str(tmp_path)}).settings
    assert catalog_for(default).clouds() == sorted(providers.names())
