import json
from pathlib import Path

import pytest

from hx.cloud.catalog import Catalog, Location, catalog_from_dict
from hx.cloud.geo import estimate_rtt_ms
from hx.errors import BadInput, UnknownName


def test_builtin_has_three_clouds_with_eu_us_uk_apac_regions() -> None:
    cat = Catalog.builtin()
    assert cat.clouds() == ["aws", "azure", "gcp"]
    for cloud in cat.clouds():
        jur = {r.jurisdiction for r in cat.regions(cloud=cloud)}
        assert {"EU", "US", "UK", "APAC"} <= jur
        assert 8 <= len(cat.regions(cloud=cloud)) <= 25
    assert cat.meta["taken"]


def test_offers_are_sane_and_spot_is_cheaper() -> None:
    cat = Catalog.builtin()
    assert len(cat.offers) > 1000
    for o in cat.offers.values():
        assert 0 < o.price < 20
        assert o.spot is None or 0 < o.spot < o.price
    assert cat.offer("azure", "eastus", "Standard_D4s_v5").price == pytest.approx(0.192)


def test_instance_type_filters() -> None:
    cat = Catalog.builtin()
    arm = cat.instance_types(arch="arm64")
    assert arm and all(t.arch == "arm64" for t in arm)
    big = cat.instance_types(cloud="gcp", min_memory_gib=500)
    assert {t.family for t in big} == {"m1"}


def test_egress_prices_grow_with_distance() -> None:
    cat = Catalog.builtin()
    a, b = Location("aws", "eu-west-1"), Location("aws", "eu-central-1")
    assert cat.egress_price(a, a) == 0
    assert 0 < cat.egress_price(a, b) < cat.egress_price(a, Location("gcp", "europe-west1"))


def test_unknown_region_and_junk_prices_are_rejected() -> None:
    cat = Catalog.builtin()
    with pytest.raises(UnknownName):
        cat.region(Location("aws", "mars-1"))
    doc = json.loads(json.dumps({"regions": [], "instance_types": [], "prices": {}, "egress": {}}))
    with pytest.raises(KeyError):
        catalog_from_dict(doc)
    from hx.cloud import catalog as mod

    good = mod._builtin_doc()
    good["prices"]["aws"]["m6i.large"]["us-east-1"] = ["cheap", None]
    with pytest.raises(BadInput, match="m6i.large"):
        catalog_from_dict(good)


def test_rtt_estimate_grows_with_distance() -> None:
    near = estimate_rtt_ms(51.5, 0, 50.1, 8.7)
    far = estimate_rtt_ms(51.5, 0, 35.7, 139.7)
    assert 5 < near < 20 < 100 < far


def test_catalog_round_trips_through_json(tmp_path: Path) -> None:
    from hx.cloud.catalog import load_catalog, save_catalog

    cat = Catalog.builtin()
    again = load_catalog(save_catalog(cat, tmp_path / "c.json"))
    assert again.offers == cat.offers and again.regions_by_loc == cat.regions_by_loc
    assert again.egress_price(Location("gcp", "us-east1"), Location("aws", "us-east-1")) == 0.12
    with pytest.raises(BadInput):
        load_catalog(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("cloud", "amd", "intel"),
    [
        ("aws", "m6a.xlarge", "m6i.xlarge"),
        ("aws", "c6a.xlarge", "c6i.xlarge"),
        ("aws", "r6a.xlarge", "r6i.xlarge"),
        ("azure", "Standard_D4as_v5", "Standard_D4s_v5"),
        ("azure", "Standard_E4as_v5", "Standard_E4s_v5"),
        ("gcp", "n2d-standard-4", "n2-standard-4"),
        ("gcp", "n2d-highmem-4", "n2-highmem-4"),
    ],
)
def test_amd_types_are_listed_below_their_intel_siblings_everywhere(cloud: str, amd: str, intel: str) -> None:
    cat = Catalog.builtin()
    a, i = cat.instance_type(cloud, amd), cat.instance_type(cloud, intel)
    assert (a.vcpus, a.memory_gib) == (i.vcpus, i.memory_gib)
    both = [(o.region, o.price) for o in cat.offers.values() if o.cloud == cloud and o.instance_type == amd]
    assert len(both) >= 6
    for region, price in both:
        assert price < cat.offer(cloud, region, intel).price, region


@pytest.mark.parametrize("doc", [{"a": 1}, [], {"regions": [{"cloud": "aws"}], "instance_types": [], "prices": {}}])
def test_a_json_file_that_is_no_catalog_is_named(tmp_path: Path, doc: object) -> None:
    from hx.cloud.catalog import load_catalog

    p = tmp_path / "catalog.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(BadInput, match=f"{p}: not a catalog"):
        load_catalog(p)
