"""Amazon Web Services."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from hx.cloud.providers.base import Arch, Cloud, SkyPilotMapping, TerraformProvider, TerraformSchema, ident


def _replica(res: dict[str, Any], w: str, region: str, itype: str, i: int, spot: bool) -> None:
    body: dict[str, Any] = {
        "provider": f"aws.{ident(region)}",
        "ami": f'${{var.aws_ami["{region}"]}}',
        "instance_type": itype,
        "tags": {"Name": f"{w}-{i}", "hx_workload": w},
    }
    if spot:
        body["instance_market_options"] = {"market_type": "spot"}
    res.setdefault("aws_instance", {})[ident(w, region, str(i))] = body


def _provider(regions: Sequence[str]) -> Any:
    return {"aws": [{"alias": ident(r), "region": r} for r in sorted(regions)]}


def _arch(name: str) -> Arch:
    return "arm64" if re.match(r"^(a1|[a-z]+\dg[a-z]*)\.", name) else "x86_64"


def _category(name: str) -> str:
    fam = name.lower().split(".")[0]
    return {"c": "compute", "r": "memory", "x": "memory"}.get(fam[0], "general")


CLOUD = Cloud(
    name="aws",
    catalog_file="catalog.json",
    terraform=TerraformProvider(
        name="aws",
        source="hashicorp/aws",
        # ami is required unless a launch template is given
        schemas={"aws_instance": TerraformSchema(frozenset({"ami", "instance_type"}))},
        variables={"aws_ami": {"type": "map(string)", "description": "AMI id per region (region -> ami-...)"}},
        add_replica=_replica,
        provider_block=_provider,
    ),
    skypilot=SkyPilotMapping(
        name_rule=re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$"),
        family=lambda name: name.split(".")[0],
        arch=_arch,
        category=_category,
    ),
)
