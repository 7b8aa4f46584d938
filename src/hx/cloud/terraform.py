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
import re
from pathlib import Path
from typing import Any

from hx.cloud.plan import PlacementPlan

PROVIDERS = {
    "aws": ("aws", "hashicorp/aws"),
    "azure": ("azurerm", "hashicorp/azurerm"),
    "gcp": ("google", "hashicorp/google"),
}
#: required arguments per resource type, from the providers' documentation (Terraform Registry)
REQUIRED_ARGS: dict[str, set[str]] = {
    "aws_instance": {"ami", "instance_type"},  # ami required unless a launch template is given
    "azurerm_linux_virtual_machine": {
        "name",
        "location",
        "resource_group_name",
        "size",
        "network_interface_ids",
        "os_disk",
        "admin_username",
    },
    "azurerm_network_interface": {"name", "location", "resource_group_name", "ip_configuration"},
    "google_compute_instance": {"name", "machine_type", "zone", "boot_disk", "network_interface"},
}

#: required arguments of nested blocks, by resource type and block
REQUIRED_NESTED: dict[str, dict[str, set[str]]] = {
    "azurerm_linux_virtual_machine": {
        "os_disk": {"caching", "storage_account_type"},
        "admin_ssh_key": {"username", "public_key"},
        "source_image_reference": {"publisher", "offer", "sku", "version"},
    },
    "azurerm_network_interface": {"ip_configuration": {"name", "private_ip_address_allocation"}},
    "google_compute_instance": {},
}
#: at least one argument of each group must be set
ONE_OF: dict[str, list[set[str]]] = {
    "azurerm_linux_virtual_machine": [
        {"admin_password", "admin_ssh_key"},
        {"source_image_id", "source_image_reference"},
    ],
}


def schema_errors(doc: dict[str, Any]) -> list[str]:
    """Resources of a Terraform JSON document that miss a required argument (empty when all are complete)."""
    out: list[str] = []
    for rtype, items in doc.get("resource", {}).items():
        if rtype not in REQUIRED_ARGS:
            out.append(f"{rtype}: not a resource type hx knows")
            continue
        for name, body in items.items():
            out.extend(f"{rtype}.{name}: missing {arg}" for arg in sorted(REQUIRED_ARGS[rtype] - set(body)))
            for block, args in REQUIRED_NESTED.get(rtype, {}).items():
                if block in body:
                    out.extend(f"{rtype}.{name}.{block}: missing {a}" for a in sorted(args - set(body[block])))
            for group in ONE_OF.get(rtype, []):
                if not group & set(body):
                    out.append(f"{rtype}.{name}: needs one of {sorted(group)}")
    return out


def _ident(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(parts)).lower()


def _aws(res: dict[str, Any], w: str, region: str, itype: str, i: int, spot: bool) -> None:
    body: dict[str, Any] = {
        "provider": f"aws.{_ident(region)}",
        "ami": f'${{var.aws_ami["{region}"]}}',
        "instance_type": itype,
        "tags": {"Name": f"{w}-{i}", "hx_workload": w},
    }
    if spot:
        body["instance_market_options"] = {"market_type": "spot"}
    res.setdefault("aws_instance", {})[_ident(w, region, str(i))] = body


def _azure(res: dict[str, Any], w: str, region: str, size: str, i: int, spot: bool) -> None:
    name = _ident(w, region, str(i))
    res.setdefault("azurerm_network_interface", {})[name] = {
        "name": f"{w}-{i}-nic".replace("_", "-"),
        "location": region,
        "resource_group_name": "${var.azure_resource_group}",
        "ip_configuration": {
            "name": "primary",
            "subnet_id": f'${{var.azure_subnet_id["{region}"]}}',
            "private_ip_address_allocation": "Dynamic",
        },
    }
    body: dict[str, Any] = {
        "name": f"{w}-{i}".replace("_", "-")[:64],
        "location": region,
        "resource_group_name": "${var.azure_resource_group}",
        "size": size,
        "network_interface_ids": [f"${{azurerm_network_interface.{name}.id}}"],
        "os_disk": {"caching": "ReadWrite", "storage_account_type": "Standard_LRS"},
        "source_image_reference": {
            "publisher": "Canonical",
            "offer": "ubuntu-24_04-lts",
            "sku": "server",
            "version": "latest",
        },
        "admin_username": "${var.admin_username}",
        "admin_ssh_key": {"username": "${var.admin_username}", "public_key": "${var.ssh_public_key}"},
        "tags": {"hx_workload": w},
    }
    if spot:
        body.update({"priority": "Spot", "eviction_policy": "Deallocate"})
    res.setdefault("azurerm_linux_virtual_machine", {})[name] = body


def _gcp(res: dict[str, Any], w: str, region: str, mtype: str, i: int, spot: bool) -> None:
    body: dict[str, Any] = {
        "name": f"{w}-{i}".replace("_", "-").lower()[:63],
        "machine_type": mtype,
        "zone": f"{region}-b",
        "boot_disk": {"initialize_params": {"image": "${var.gcp_image}"}},
        "network_interface": {"network": "${var.gcp_network}"},
        "labels": {"hx_workload": _ident(w)},
    }
    if spot:
        body["scheduling"] = {"provisioning_model": "SPOT", "preemptible": True, "automatic_restart": False}
    res.setdefault("google_compute_instance", {})[_ident(w, region, str(i))] = body


def _variables(cloud: str) -> dict[str, Any]:
    if cloud == "aws":
        return {"aws_ami": {"type": "map(string)", "description": "AMI id per region (region -> ami-...)"}}
    if cloud == "azure":
        return {
            "azure_resource_group": {"type": "string", "description": "resource group for the VMs"},
            "azure_subnet_id": {"type": "map(string)", "description": "subnet id per region"},
            "admin_username": {"type": "string", "default": "hx"},
            "ssh_public_key": {"type": "string", "description": "SSH public key for admin_username"},
        }
    return {
        "gcp_project": {"type": "string"},
        "gcp_image": {"type": "string", "default": "debian-cloud/debian-12"},
        "gcp_network": {"type": "string", "default": "default"},
    }


def terraform_documents(plan: PlacementPlan) -> dict[str, dict[str, Any]]:
    """One Terraform JSON document per cloud used by ``plan``."""
    docs: dict[str, dict[str, Any]] = {}
    regions: dict[str, set[str]] = {}
    for a in plan.assignments:
        for p in a.placements:
            loc = p.loc
            doc = docs.setdefault(loc.cloud, {"resource": {}})
            regions.setdefault(loc.cloud, set()).add(loc.region)
            make = {"aws": _aws, "azure": _azure, "gcp": _gcp}[loc.cloud]
            for i in range(p.replicas):
                make(doc["resource"], a.workload, loc.region, p.instance_type, i, p.spot)
    for cloud, doc in docs.items():
        name, source = PROVIDERS[cloud]
        doc["terraform"] = {"required_providers": {name: {"source": source}}}
        doc["variable"] = _variables(cloud)
        if cloud == "aws":
            doc["provider"] = {"aws": [{"alias": _ident(r), "region": r} for r in sorted(regions[cloud])]}
        elif cloud == "azure":
            doc["provider"] = {"azurerm": {"features": {}}}
        else:
            doc["provider"] = {"google": {"project": "${var.gcp_project}"}}
    return docs


def export_terraform(plan: PlacementPlan, out_dir: str | Path) -> list[Path]:
    """Write ``hx-<cloud>.tf.json`` per cloud into ``out_dir``; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for cloud, doc in sorted(terraform_documents(plan).items()):
        path = out / f"hx-{cloud}.tf.json"
        path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        paths.append(path)
    return paths
