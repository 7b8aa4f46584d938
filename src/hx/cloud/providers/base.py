"""What hx needs to know about one cloud, in one place: its catalog data, its Terraform provider and SkyPilot mapping.

A provider module (``hx/cloud/providers/<name>.py``) builds one :class:`Cloud`; the registry
(:mod:`hx.cloud.providers`) lists them, and the rest of :mod:`hx.cloud` reads only the registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Arch = Literal["x86_64", "arm64"]

#: adds the resources of replica ``i`` of a workload: (resources, workload, region, instance type, i, spot)
ResourceMaker = Callable[[dict[str, Any], str, str, str, int, bool], None]


def ident(*parts: str) -> str:
    """A Terraform identifier from free text: ``ident("api", "eu-west-1")`` -> ``api_eu_west_1``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(parts)).lower()


@dataclass(frozen=True)
class TerraformSchema:
    """Arguments a resource type requires, from the provider's documentation (Terraform Registry)."""

    required: frozenset[str]
    nested: Mapping[str, frozenset[str]] = field(default_factory=dict)
    one_of: Sequence[frozenset[str]] = ()


@dataclass(frozen=True)
class TerraformProvider:
    """The Terraform side of a cloud: provider name and source, the resources hx writes and their schema."""

    name: str
    source: str
    schemas: Mapping[str, TerraformSchema]
    variables: Mapping[str, Mapping[str, str]]
    add_replica: ResourceMaker
    provider_block: Callable[[Sequence[str]], Any]


@dataclass(frozen=True)
class SkyPilotMapping:
    """How a SkyPilot catalog row (``vms.csv``) of this cloud maps to hx's instance types."""

    name_rule: re.Pattern[str]
    family: Callable[[str], str]
    arch: Callable[[str], Arch]
    category: Callable[[str], str]
    gpu_host_families: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cloud:
    """One cloud provider: its name, the catalog file under ``hx/cloud/data`` with its regions, instance types,
    prices and egress, its Terraform provider and its SkyPilot mapping."""

    name: str
    catalog_file: str
    terraform: TerraformProvider
    skypilot: SkyPilotMapping
