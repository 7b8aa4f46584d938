"""Google Cloud."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from hx.cloud.providers.base import Cloud, SkyPilotMapping, TerraformProvider, TerraformSchema, ident


def _replica(res: dict[str, Any], w: str, region: str, mtype: str, i: int, spot: bool) -> None:
    body: dict[str, Any] = {
        "name": f"{w}-{i}".replace("_", "-").lower()[:63],
        "machine_type": mtype,
        "zone": f"{region}-b",
        "boot_disk": {"initialize_params": {"image": "${var.gcp_image}"}},
        "network_interface": {"network": "${var.gcp_network}"},
        "labels": {"hx_workload": ident(w)},
    }
    if spot:
        body["scheduling"] = {"provisioning_model": "SPOT", "preemptible": True, "automatic_restart": False}
    res.setdefault("google_compute_instance", {})[ident(w, region, str(i))] = body


def _provider(regions: Sequence[str]) -> Any:
    return {"google": {"project": "${var.gcp_project}"}}


def _category(name: str) -> str:
    low = name.lower()
    if "highcpu" in low or low.startswith(("c2-", "c2d-", "c3-")):
        return "compute"
    return "memory" if "highmem" in low or low.startswith(("m1-", "m2-", "m3-")) else "general"


CLOUD = Cloud(
    name="gcp",
    catalog_file="catalog.json",
    terraform=TerraformProvider(
        name="google",
        source="hashicorp/google",
        schemas={
            "google_compute_instance": TerraformSchema(
                frozenset({"name", "machine_type", "zone", "boot_disk", "network_interface"})
            )
        },
        variables={
            "gcp_project": {"type": "string"},
            "gcp_image": {"type": "string", "default": "debian-cloud/debian-12"},
            "gcp_network": {"type": "string", "default": "default"},
        },
        add_replica=_replica,
        provider_block=_provider,
    ),
    skypilot=SkyPilotMapping(
        name_rule=re.compile(r"^[a-z][a-z0-9]*-[a-z0-9-]+$"),
        family=lambda name: name.split("-")[0],
        arch=lambda name: "arm64" if name.startswith(("t2a-", "c4a-")) else "x86_64",
        category=_category,
        gpu_host_families=("a2-", "a3-", "g2-"),
    ),
)
