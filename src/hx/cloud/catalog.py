"""The cloud catalog: regions, instance types, per-region prices and egress prices.

The built-in catalog (``data/catalog.json``) holds public list prices of AWS, Azure and GCP with the
date they were taken; ``hx catalog import`` merges SkyPilot-format CSVs into it (:mod:`hx.cloud.skypilot`).

>>> cat = Catalog.builtin()
>>> cat.clouds()
['aws', 'azure', 'gcp']
>>> [r.code for r in cat.regions(cloud="gcp", jurisdiction="UK")]
['europe-west2']
>>> cat.offer("aws", "us-east-1", "m6i.large").price
0.096
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict

from hx.cloud import providers
from hx.cloud.providers.base import Arch
from hx.errors import BadInput, UnknownName
from hx.security.private import write_export

#: the registered clouds (:mod:`hx.cloud.providers`)
CLOUDS = providers.names()


class Region(BaseModel):
    """A cloud region with where it is (for residency and latency estimates)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    cloud: str
    code: str
    name: str = ""
    country: str
    jurisdiction: str
    continent: str
    lat: float
    lon: float

    @property
    def location(self) -> Location:
        return Location(self.cloud, self.code)


class InstanceType(BaseModel):
    """A VM shape of one cloud."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    cloud: str
    name: str
    family: str
    category: str = "general"
    vcpus: float
    memory_gib: float
    arch: Arch = "x86_64"


class Location(NamedTuple):
    """A (cloud, region) pair: the unit placement decides on (a tuple: hashed and compared fast)."""

    cloud: str
    region: str

    def __str__(self) -> str:
        return f"{self.cloud}:{self.region}"

    @classmethod
    def parse(cls, text: str) -> Location:
        cloud, sep, region = text.partition(":")
        if not sep or not cloud or not region:
            raise BadInput(f"location {text!r} must look like 'cloud:region', e.g. 'aws:eu-west-1'", field="location")
        return cls(cloud, region)


@dataclass(frozen=True)
class Offer:
    """The price of one instance type in one region (USD/hour); ``spot`` is None where there is no spot offer."""

    cloud: str
    region: str
    instance_type: str
    price: float
    spot: float | None

    def hourly(self, spot: bool) -> float:
        return self.spot if spot and self.spot is not None else self.price


@dataclass
class OfferTable:
    """All offers as arrays, grouped by location (rows ``starts[i]:starts[i+1]`` belong to ``locations[i]``)
    and sorted by instance type name inside each location, for fast "cheapest fitting type" queries."""

    locations: list[Location]
    starts: np.ndarray
    names: list[str]
    vcpus: np.ndarray
    memory: np.ndarray
    arm: np.ndarray
    price: np.ndarray
    spot: np.ndarray  # NaN where there is no spot offer
    _memo: dict[tuple[float, float, str, bool], dict[Location, tuple[str, float, bool, float]]] = field(
        default_factory=dict, repr=False
    )

    @classmethod
    def build(cls, cat: Catalog) -> OfferTable:
        offers = sorted(cat.offers.values(), key=lambda o: (o.cloud, o.region, o.instance_type))
        types = [cat.types[(o.cloud, o.instance_type)] for o in offers]
        locs = [Location(o.cloud, o.region) for o in offers]
        firsts = [i for i in range(len(locs)) if i == 0 or locs[i] != locs[i - 1]]
        return cls(
            [locs[i] for i in firsts],
            np.array(firsts, dtype=int),
            [o.instance_type for o in offers],
            np.array([t.vcpus for t in types], dtype=float),
            np.array([t.memory_gib for t in types], dtype=float),
            np.array([t.arch == "arm64" for t in types], dtype=bool),
            np.array([o.price for o in offers], dtype=float),
            np.array([np.nan if o.spot is None else o.spot for o in offers], dtype=float),
        )

    def cheapest(
        self, vcpus: float, memory: float, arch: str, spot_ok: bool
    ) -> dict[Location, tuple[str, float, bool, float]]:
        """Per location: (type, hourly price, on spot, on-demand price) of the cheapest type fitting one replica."""
        key = (vcpus, memory, arch, spot_ok)
        if key not in self._memo:
            self._memo[key] = self._cheapest(vcpus, memory, arch, spot_ok)
        return self._memo[key]

    def _cheapest(
        self, vcpus: float, memory: float, arch: str, spot_ok: bool
    ) -> dict[Location, tuple[str, float, bool, float]]:
        ok = (self.vcpus >= vcpus) & (self.memory >= memory)
        if arch != "any":
            ok &= self.arm == (arch == "arm64")
        on_spot = spot_ok & ~np.isnan(self.spot)
        hourly = np.where(ok, np.where(on_spot, self.spot, self.price), np.inf)
        best = np.minimum.reduceat(hourly, self.starts)
        out: dict[Location, tuple[str, float, bool, float]] = {}
        ends = [*self.starts[1:].tolist(), len(hourly)]
        for k in np.flatnonzero(np.isfinite(best)).tolist():
            lo = int(self.starts[k])
            i = lo + int(np.argmin(hourly[lo : ends[k]]))
            out[self.locations[k]] = (self.names[i], float(hourly[i]), bool(on_spot[i]), float(self.price[i]))
        return out


@dataclass
class EgressPrices:
    """Egress USD/GB by source cloud and source continent, at three levels of distance."""

    internet: dict[str, dict[str, float]]
    inter_region_same_continent: dict[str, dict[str, float]]
    inter_region_other_continent: dict[str, dict[str, float]]

    def tiers(self, src: Region) -> tuple[float, float, float]:
        """(same continent, other continent, other cloud) prices for traffic leaving ``src``."""
        get = _tier_getter(src)
        return (get(self.inter_region_same_continent), get(self.inter_region_other_continent), get(self.internet))


def _tier_getter(src: Region) -> Any:
    def get(table: dict[str, dict[str, float]]) -> float:
        try:
            return table[src.cloud][src.continent]
        except KeyError:
            raise BadInput(f"no egress price for {src.cloud} {src.continent}", field="egress") from None

    return get


@dataclass
class Catalog:
    """Regions, instance types, offers and egress prices; queried by placement, DR and cost analysis."""

    regions_by_loc: dict[Location, Region]
    types: dict[tuple[str, str], InstanceType]
    offers: dict[tuple[str, str, str], Offer]
    egress: EgressPrices
    meta: dict[str, Any] = field(default_factory=dict)
    _tables: OfferTable | None = field(default=None, repr=False, compare=False)

    @classmethod
    def builtin(cls) -> Catalog:
        """The catalog shipped with hx (a fresh copy each call, so callers may modify it)."""
        return catalog_from_dict(_builtin_doc())

    # ---- queries -------------------------------------------------------------------------
    def clouds(self) -> list[str]:
        return sorted({loc.cloud for loc in self.regions_by_loc})

    def region(self, loc: Location) -> Region:
        try:
            return self.regions_by_loc[loc]
        except KeyError:
            raise UnknownName("region", str(loc), [str(k) for k in self.regions_by_loc]) from None

    def regions(
        self, cloud: str | None = None, jurisdiction: str | None = None, country: str | None = None
    ) -> list[Region]:
        out = [
            r
            for r in self.regions_by_loc.values()
            if (cloud is None or r.cloud == cloud)
            and (jurisdiction is None or r.jurisdiction == jurisdiction)
            and (country is None or r.country == country)
        ]
        return sorted(out, key=lambda r: (r.cloud, r.code))

    def instance_types(
        self,
        cloud: str | None = None,
        min_vcpus: float = 0,
        min_memory_gib: float = 0,
        arch: str | None = None,
        category: str | None = None,
    ) -> list[InstanceType]:
        out = [
            t
            for t in self.types.values()
            if (cloud is None or t.cloud == cloud)
            and t.vcpus >= min_vcpus
            and t.memory_gib >= min_memory_gib
            and (arch is None or t.arch == arch)
            and (category is None or t.category == category)
        ]
        return sorted(out, key=lambda t: (t.cloud, t.vcpus, t.memory_gib, t.name))

    def offer(self, cloud: str, region: str, instance_type: str) -> Offer:
        try:
            return self.offers[(cloud, region, instance_type)]
        except KeyError:
            valid = [k[2] for k in self.offers if k[0] == cloud and k[1] == region]
            raise UnknownName(f"instance type in {cloud}:{region}", instance_type, valid) from None

    def offer_table(self) -> OfferTable:
        """Every offer as arrays (for fast fitting queries); built once per catalog."""
        if self._tables is None:
            self._tables = OfferTable.build(self)
        return self._tables

    def instance_type(self, cloud: str, name: str) -> InstanceType:
        try:
            return self.types[(cloud, name)]
        except KeyError:
            raise UnknownName(f"{cloud} instance type", name, [k[1] for k in self.types if k[0] == cloud]) from None

    def egress_price(self, src: Location, dst: Location) -> float:
        """USD per GB sent from ``src`` to ``dst``."""
        if src == dst:
            return 0.0
        s, d = self.region(src), self.region(dst)
        same_cont, other_cont, internet = self.egress.tiers(s)
        if s.cloud != d.cloud:
            return internet
        return same_cont if s.continent == d.continent else other_cont

    def restricted(self, clouds: Iterable[str]) -> Catalog:
        """A view holding only the given clouds (for single-cloud what-ifs)."""
        keep = set(clouds)
        return Catalog(
            {k: v for k, v in self.regions_by_loc.items() if k.cloud in keep},
            {k: v for k, v in self.types.items() if k[0] in keep},
            {k: v for k, v in self.offers.items() if k[0] in keep},
            self.egress,
            dict(self.meta),
        )

    def with_price_factor(self, cloud: str, factor: float) -> Catalog:
        """A copy with every instance price of ``cloud`` multiplied by ``factor`` (price-change what-ifs)."""
        offers = {
            k: (
                Offer(o.cloud, o.region, o.instance_type, o.price * factor, None if o.spot is None else o.spot * factor)
                if k[0] == cloud
                else o
            )
            for k, o in self.offers.items()
        }
        return Catalog(dict(self.regions_by_loc), dict(self.types), offers, self.egress, dict(self.meta))

    def summary(self) -> dict[str, Any]:
        return {
            "taken": self.meta.get("taken"),
            "clouds": {
                c: {
                    "regions": len(self.regions(cloud=c)),
                    "instance_types": len(self.instance_types(cloud=c)),
                    "offers": sum(1 for k in self.offers if k[0] == c),
                }
                for c in self.clouds()
            },
        }


# ---- loading ---------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _data_text(name: str) -> str:
    return resources.files("hx.cloud").joinpath(f"data/{name}").read_text(encoding="utf-8")


def _builtin_doc() -> dict[str, Any]:
    """The catalog files the registered clouds name, merged (a file shared by several clouds is read once)."""
    files = list(dict.fromkeys(c.catalog_file for c in providers.CLOUDS.values()))
    doc: dict[str, Any] = json.loads(_data_text(files[0]))
    for name in files[1:]:
        _merge_doc(doc, json.loads(_data_text(name)))
    return doc


def _merge_doc(doc: dict[str, Any], more: dict[str, Any]) -> None:
    """Add another cloud's catalog document (regions, instance types, prices, egress) to ``doc``."""
    doc["regions"] = [*doc["regions"], *more["regions"]]
    doc["instance_types"] = [*doc["instance_types"], *more["instance_types"]]
    doc["prices"] = {**doc["prices"], **more["prices"]}
    doc["egress"] = {**doc["egress"], **more["egress"]}


def _check_price(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise BadInput(f"{where}: price {value!r} is not a finite non-negative number", field=where)
    return float(value)


def _egress_from_doc(eg: dict[str, Any]) -> EgressPrices:
    levels = ("inter_region_same_continent", "inter_region_other_continent", "internet")
    tables: dict[str, dict[str, dict[str, float]]] = {lv: {} for lv in levels}
    for cloud in CLOUDS:
        for lv in levels:
            tables[lv][cloud] = {k: _check_price(v, f"egress.{cloud}.{lv}.{k}") for k, v in eg[cloud][lv].items()}
        for cont in tables["internet"][cloud]:
            a, b, c = (tables[lv][cloud][cont] for lv in levels)
            if not a <= b <= c:
                raise BadInput(f"egress.{cloud}.{cont}: prices must grow with distance ({a} <= {b} <= {c})")
    return EgressPrices(tables["internet"], tables[levels[0]], tables[levels[1]])


def catalog_from_dict(doc: dict[str, Any]) -> Catalog:
    """Build a :class:`Catalog` from the JSON document format of ``data/catalog.json``."""
    regions = {Location(r["cloud"], r["code"]): Region(**r) for r in doc["regions"]}
    types = {(t["cloud"], t["name"]): InstanceType(**t) for t in doc["instance_types"]}
    offers: dict[tuple[str, str, str], Offer] = {}
    for cloud, by_type in doc["prices"].items():
        for tname, by_region in by_type.items():
            if (cloud, tname) not in types:
                raise UnknownName(f"{cloud} instance type", tname, [k[1] for k in types if k[0] == cloud])
            for region, (od, spot) in by_region.items():
                if Location(cloud, region) not in regions:
                    raise UnknownName("region", f"{cloud}:{region}", [str(k) for k in regions])
                where = f"prices.{cloud}.{tname}.{region}"
                offers[(cloud, region, tname)] = Offer(
                    cloud, region, tname, _check_price(od, where), None if spot is None else _check_price(spot, where)
                )
    meta = {k: doc.get(k) for k in ("taken", "source", "currency", "reference_regions")}
    return Catalog(regions, types, offers, _egress_from_doc(doc["egress"]), meta)


def catalog_to_dict(cat: Catalog) -> dict[str, Any]:
    """The JSON document form of ``cat`` (the format of ``data/catalog.json``; round-trips through
    :func:`catalog_from_dict`), e.g. to save a catalog merged with ``hx catalog import``."""
    prices: dict[str, dict[str, dict[str, list[float | None]]]] = {}
    for (cloud, region, tname), o in sorted(cat.offers.items()):
        prices.setdefault(cloud, {}).setdefault(tname, {})[region] = [o.price, o.spot]
    eg: dict[str, Any] = {}
    for cloud in CLOUDS:
        eg[cloud] = {
            "internet": cat.egress.internet.get(cloud, {}),
            "inter_region_same_continent": cat.egress.inter_region_same_continent.get(cloud, {}),
            "inter_region_other_continent": cat.egress.inter_region_other_continent.get(cloud, {}),
        }
    return {
        "schema": 1,
        **{k: v for k, v in cat.meta.items() if k in ("taken", "source", "currency", "reference_regions")},
        "regions": [r.model_dump() for r in sorted(cat.regions_by_loc.values(), key=lambda r: (r.cloud, r.code))],
        "instance_types": [t.model_dump() for _, t in sorted(cat.types.items())],
        "prices": prices,
        "egress": eg,
    }


def save_catalog(cat: Catalog, path: str | Path) -> Path:
    p = Path(path)
    write_export(p, json.dumps(catalog_to_dict(cat), indent=1) + "\n")
    return p


def load_catalog(path: str | Path | None = None) -> Catalog:
    """A catalog saved with :func:`save_catalog`, or the built-in one when ``path`` is None."""
    if path is None:
        return Catalog.builtin()
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise BadInput(f"cannot read catalog {p}: {err}", field="catalog") from err
    try:
        return catalog_from_dict(doc)
    except (KeyError, TypeError, AttributeError, ValueError) as err:  # the document's shape, not hx's code
        raise BadInput(
            f"{p}: not a catalog saved by hx catalog import ({type(err).__name__}: {err}); remove it or import again",
            field="catalog",
        ) from err
