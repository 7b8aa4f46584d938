"""Import SkyPilot-format catalog CSVs (``vms.csv``) into a :class:`~hx.cloud.catalog.Catalog`.

Column sets differ by cloud and catalog version: AWS/GCP rows are per availability zone (on-demand
equal across the zones of a region, spot per zone: the cheapest zone's spot price is kept), Azure rows
are per region (no ``AvailabilityZone``), AWS has ``Arch`` and v9 adds local-disk columns (ignored).
Rows with accelerators, and GCP accelerator-host families (a2/a3/g2, whose price lacks the GPUs),
are skipped and counted in ``catalog.meta["imports"]``.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import replace
from pathlib import Path

from hx.cloud.catalog import Catalog, InstanceType, Location, Offer
from hx.cloud.providers import get
from hx.errors import BadInput
from hx.files import is_json, open_text

REQUIRED = ("InstanceType", "vCPUs", "MemoryGiB", "Price", "SpotPrice", "Region")


def import_skypilot_csv(
    path: str | Path, cloud: str, base: Catalog | None = None, *, unknown_regions: str = "error"
) -> Catalog:
    """Merge the CSV's offers into ``base`` (the built-in catalog by default) and return the new catalog.

    Regions must be known to ``base`` (coordinates and jurisdiction come from there): an unknown region
    raises :class:`BadInput` naming the row, or is skipped and counted with ``unknown_regions="skip"``.
    """
    get(cloud)  # an unknown cloud is an error listing the registered ones
    if unknown_regions not in ("error", "skip"):
        raise BadInput("unknown_regions must be 'error' or 'skip'", field="unknown_regions")
    cat = base if base is not None else Catalog.builtin()
    p = Path(path)
    text = open_text(p).read()
    if is_json(text):  # it said "missing column(s) InstanceType, ..."
        raise BadInput(f"{p.name}: not a CSV file (it is JSON: give a CSV with {', '.join(REQUIRED)})", field="path",
                       file=str(p))  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(text)))
    header = list(rows[0].keys()) if rows else []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise BadInput(f"{p.name}: missing column(s) {', '.join(missing)}", field=missing[0], file=str(p))
    return _merge(cat, rows, cloud, p.name, skip_unknown=unknown_regions == "skip")


def _merge(cat: Catalog, rows: list[dict[str, str]], cloud: str, fname: str, *, skip_unknown: bool) -> Catalog:
    types = dict(cat.types)
    best: dict[tuple[str, str, str], Offer] = {}
    skipped = {"accelerator": 0, "unknown_region": 0}
    mapping = get(cloud).skypilot
    for i, row in enumerate(rows, start=2):  # line numbers: header is line 1
        where = f"{fname} line {i}"
        name = (row.get("InstanceType") or "").strip()
        if row.get("AcceleratorName") or name.startswith(mapping.gpu_host_families):
            skipped["accelerator"] += 1
            continue
        if not mapping.name_rule.match(name):
            raise BadInput(f"{where}: InstanceType {name!r} is not a {cloud} instance type", field="InstanceType")
        loc = Location(cloud, (row.get("Region") or "").strip())
        if loc not in cat.regions_by_loc:
            if skip_unknown:
                skipped["unknown_region"] += 1
                continue
            raise BadInput(
                f"{where}: unknown region {loc.region!r} for {cloud}; known: "
                + ", ".join(r.code for r in cat.regions(cloud=cloud)),
                field="Region",
            )
        types[(cloud, name)] = _instance_type(row, cloud, name, where, types.get((cloud, name)))
        price = _number(row, "Price", where, required=True)
        spot = _number(row, "SpotPrice", where, required=False)
        offer = Offer(cloud, loc.region, name, price if price is not None else 0.0, spot)
        best[(cloud, loc.region, name)] = _cheaper(best.get((cloud, loc.region, name)), offer)
    offers = {**cat.offers, **best}
    meta = dict(cat.meta)
    meta["imports"] = [
        *meta.get("imports", []),
        {"file": fname, "cloud": cloud, "offers": len(best), "skipped": skipped},
    ]
    return replace(cat, types=types, offers=offers, meta=meta, _tables=None)


def _cheaper(old: Offer | None, new: Offer) -> Offer:
    """Merge two zone rows of one region: lowest on-demand and lowest spot price."""
    if old is None:
        return new
    spots = [s for s in (old.spot, new.spot) if s is not None]
    return replace(old, price=min(old.price, new.price), spot=min(spots) if spots else None)


def _number(row: dict[str, str], col: str, where: str, *, required: bool) -> float | None:
    text = (row.get(col) or "").strip()
    if not text:
        if required:
            raise BadInput(f"{where}: column {col} is empty", field=col)
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadInput(f"{where}: column {col} = {text!r} is not a number", field=col) from None
    if not math.isfinite(value) or value < 0:
        raise BadInput(f"{where}: column {col} = {text!r} must be a finite non-negative number", field=col)
    return value


def _instance_type(row: dict[str, str], cloud: str, name: str, where: str, known: InstanceType | None) -> InstanceType:
    vcpus = _number(row, "vCPUs", where, required=True) or 0.0
    mem = _number(row, "MemoryGiB", where, required=True) or 0.0
    if vcpus <= 0 or mem <= 0:
        raise BadInput(f"{where}: vCPUs and MemoryGiB must be positive", field="vCPUs" if vcpus <= 0 else "MemoryGiB")
    arch_text = (row.get("Arch") or "").strip()
    if arch_text not in ("", "x86_64", "arm64"):
        raise BadInput(f"{where}: column Arch = {arch_text!r} (expected x86_64 or arm64)", field="Arch")
    mapping = get(cloud).skypilot
    arch = arch_text or (known.arch if known else mapping.arch(name))
    family = known.family if known else mapping.family(name)
    category = known.category if known else mapping.category(name)
    return InstanceType(
        cloud=cloud,
        name=name,
        family=family,
        category=category,
        vcpus=vcpus,
        memory_gib=mem,
        arch=arch,
    )
