"""Terraform JSON (``*.tf.json``) for a placement: one file per cloud, with variables for what only the user knows.

>>> from hx.cloud.plan import Assignment, Placement, PlacementPlan
>>> p = PlacementPlan(assignments=[Assignment(workload="api", compute_usd_per_hour=0.1, placements=[
...     Placement(location="gcp:europe-west1", instance_type="e2-standard-2", replicas=1)])],
...     compute_usd_per_hour=0.1, egress_usd_per_hour=0, total_usd_per_hour=0.1)
>>> doc = terraform_documents(p)["gcp"]
>>> doc["resource"]["google_compute_instance"]["api_europe_west1_0"]["zone"]
'europe-west1-b'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hx.cloud.plan import PlacementPlan
from hx.cloud.providers import CLOUDS, get
from hx.cloud.providers.base import TerraformSchema
from hx.security.private import export_dir, write_export

#: every resource type hx writes, with the arguments it requires (from each cloud's provider module)
SCHEMAS: dict[str, TerraformSchema] = {rtype: sc for c in CLOUDS.values() for rtype, sc in c.terraform.schemas.items()}
#: required arguments per resource type
REQUIRED_ARGS: dict[str, set[str]] = {rtype: set(sc.required) for rtype, sc in SCHEMAS.items()}


def schema_errors(doc: dict[str, Any]) -> list[str]:
    """Resources of a Terraform JSON document that miss a required argument (empty when all are complete)."""
    out: list[str] = []
    for rtype, items in doc.get("resource", {}).items():
        schema = SCHEMAS.get(rtype)
        if schema is None:
            out.append(f"{rtype}: not a resource type hx knows")
            continue
        for name, body in items.items():
            out.extend(_missing(f"{rtype}.{name}", schema, body))
    return out


def _missing(where: str, schema: TerraformSchema, body: dict[str, Any]) -> list[str]:
    out = [f"{where}: missing {arg}" for arg in sorted(schema.required - set(body))]
    for block, args in schema.nested.items():
        if block in body:
            out.extend(f"{where}.{block}: missing {a}" for a in sorted(args - set(body[block])))
    out.extend(f"{where}: needs one of {sorted(group)}" for group in schema.one_of if not group & set(body))
    return out


def terraform_documents(plan: PlacementPlan) -> dict[str, dict[str, Any]]:
    """One Terraform JSON document per cloud used by ``plan``."""
    docs: dict[str, dict[str, Any]] = {}
    regions: dict[str, set[str]] = {}
    for a in plan.assignments:
        for p in a.placements:
            loc = p.loc
            doc = docs.setdefault(loc.cloud, {"resource": {}})
            regions.setdefault(loc.cloud, set()).add(loc.region)
            add = get(loc.cloud).terraform.add_replica
            for i in range(p.replicas):
                add(doc["resource"], a.workload, loc.region, p.instance_type, i, p.spot)
    for cloud, doc in docs.items():
        tf = get(cloud).terraform
        doc["terraform"] = {"required_providers": {tf.name: {"source": tf.source}}}
        doc["variable"] = {k: dict(v) for k, v in tf.variables.items()}
        doc["provider"] = tf.provider_block(sorted(regions[cloud]))
    return docs


def export_terraform(plan: PlacementPlan, out_dir: str | Path) -> list[Path]:
    """Write ``hx-<cloud>.tf.json`` per cloud into ``out_dir``; returns the paths written."""
    out = export_dir(Path(out_dir))
    paths = []
    for cloud, doc in sorted(terraform_documents(plan).items()):
        path = out / f"hx-{cloud}.tf.json"
        write_export(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
        paths.append(path)
    return paths
