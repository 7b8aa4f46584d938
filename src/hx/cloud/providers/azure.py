"""Microsoft Azure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from hx.cloud.providers.base import Cloud, SkyPilotMapping, TerraformProvider, TerraformSchema, ident


def _nic(res: dict[str, Any], name: str, w: str, region: str, i: int) -> None:
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


def _replica(res: dict[str, Any], w: str, region: str, size: str, i: int, spot: bool) -> None:
    name = ident(w, region, str(i))
    _nic(res, name, w, region, i)
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


def _provider(regions: Sequence[str]) -> Any:
    return {"azurerm": {"features": {}}}


def _category(name: str) -> str:
    series = name.lower().removeprefix("standard_")[:1]
    return {"f": "compute", "e": "memory", "m": "memory"}.get(series, "general")


_VM = TerraformSchema(
    frozenset(
        {"name", "location", "resource_group_name", "size", "network_interface_ids", "os_disk", "admin_username"}
    ),
    nested={
        "os_disk": frozenset({"caching", "storage_account_type"}),
        "admin_ssh_key": frozenset({"username", "public_key"}),
        "source_image_reference": frozenset({"publisher", "offer", "sku", "version"}),
    },
    one_of=(frozenset({"admin_password", "admin_ssh_key"}), frozenset({"source_image_id", "source_image_reference"})),
)
_NIC = TerraformSchema(
    frozenset({"name", "location", "resource_group_name", "ip_configuration"}),
    nested={"ip_configuration": frozenset({"name", "private_ip_address_allocation"})},
)

CLOUD = Cloud(
    name="azure",
    catalog_file="catalog.json",
    terraform=TerraformProvider(
        name="azurerm",
        source="hashicorp/azurerm",
        schemas={"azurerm_linux_virtual_machine": _VM, "azurerm_network_interface": _NIC},
        variables={
            "azure_resource_group": {"type": "string", "description": "resource group for the VMs"},
            "azure_subnet_id": {"type": "map(string)", "description": "subnet id per region"},
            "admin_username": {"type": "string", "default": "hx"},
            "ssh_public_key": {"type": "string", "description": "SSH public key for admin_username"},
        },
        add_replica=_replica,
        provider_block=_provider,
    ),
    skypilot=SkyPilotMapping(
        name_rule=re.compile(r"^(Standard|Basic)_[A-Za-z0-9_-]+$"),
        family=lambda name: re.sub(r"\d+", "", name.removeprefix("Standard_")),
        arch=lambda name: "arm64" if re.search(r"\d+p[a-z]*_v\d", name) else "x86_64",
        category=_category,
    ),
)
