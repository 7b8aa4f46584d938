"""Workloads to place and the YAML estate file that holds them (``hx place FILE.yml``).

>>> w = Workload(name="api", vcpus=2, memory_gib=4, replicas=3, jurisdictions=["EU"])
>>> w.replicas, w.jurisdictions
(3, ['EU'])
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hx.errors import ConfigError
from hx.files import read_text


class LatencyTarget(BaseModel):
    """Users at (lat, lon) must see an estimated round trip of at most ``max_ms``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = ""
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    max_ms: float = Field(gt=0)


class Spread(BaseModel):
    """Availability rule: replicas over at least ``min`` distinct clouds or regions."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    across: Literal["cloud", "region"] = "region"
    min: int = Field(default=2, ge=1, le=50)


class Workload(BaseModel):
    """One service to place: shape per replica, replica count and the rules it must obey."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = Field(min_length=1)
    vcpus: float = Field(gt=0)
    memory_gib: float = Field(gt=0)
    replicas: int = Field(default=1, ge=1, le=10_000)
    arch: Literal["x86_64", "arm64", "any"] = "x86_64"
    jurisdictions: list[str] | None = None
    regions: list[str] | None = None
    clouds: list[str] | None = None
    latency: list[LatencyTarget] = Field(default_factory=list)
    spot_ok: bool = False
    spread: Spread | None = None
    max_hourly_usd: float | None = Field(default=None, gt=0)
    move_cost_usd: float = Field(default=0.0, ge=0)
    rpo_s: float | None = Field(default=None, gt=0)
    rto_s: float | None = Field(default=None, gt=0)
    data_gb: float = Field(default=50.0, ge=0)

    @model_validator(mode="after")
    def _spread_fits(self) -> Workload:
        if self.spread is not None and self.spread.min > self.replicas:
            raise ValueError(f"spread.min={self.spread.min} needs at least that many replicas (has {self.replicas})")
        return self


class EgressPair(BaseModel):
    """``gb_per_hour`` sent from workload ``src`` to workload ``dst`` (billed at the sender's cloud)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    src: str
    dst: str
    gb_per_hour: float = Field(gt=0)


class Estate(BaseModel):
    """Everything ``place`` needs besides the catalog: workloads, traffic between them, budget, quotas."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    workloads: list[Workload] = Field(min_length=1)
    egress: list[EgressPair] = Field(default_factory=list)
    budget_usd_per_hour: float | None = Field(default=None, gt=0)
    region_vcpu_quota: dict[str, Annotated[float, Field(ge=0.0, allow_inf_nan=False)]] = Field(default_factory=dict)
    current: dict[str, str | dict[str, int]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self) -> Estate:
        names = [w.name for w in self.workloads]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate workload names: {', '.join(dup)}")
        known = set(names)
        for i, p in enumerate(self.egress):
            for end in (p.src, p.dst):
                if end not in known:
                    raise ValueError(f"egress[{i}] names unknown workload {end!r}")
            if p.src == p.dst:
                raise ValueError(f"egress[{i}] sends from {p.src!r} to itself")
        for name in self.current:
            if name not in known:
                raise ValueError(f"current names unknown workload {name!r}")
        return self


def load_estate(path: str | Path) -> Estate:
    """Read an estate YAML file; errors are :class:`ConfigError` naming the file and the key."""
    p = Path(path)
    try:
        doc = yaml.safe_load(read_text(p))
    except yaml.YAMLError as err:
        raise ConfigError(f"not valid YAML: {err}", file=str(p)) from err
    return estate_from_dict(doc, source=str(p))


def estate_from_dict(doc: Any, source: str | None = None) -> Estate:
    if not isinstance(doc, dict):
        raise ConfigError("the file must be a mapping with a 'workloads' list", file=source, expected="mapping")
    try:
        return Estate.model_validate(doc)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or None
        key = _named_key(doc, key)
        raise ConfigError(first["msg"], file=source, key=key) from err


def _named_key(doc: dict[str, Any], key: str | None) -> str | None:
    """Turn ``workloads.3.vcpus`` into ``workloads[3](name=api).vcpus`` where the name is known."""
    if not key or not key.startswith("workloads."):
        return key
    parts = key.split(".")
    if len(parts) > 1 and parts[1].isdigit():
        idx = int(parts[1])
        wl = doc.get("workloads") or []
        name = wl[idx].get("name") if idx < len(wl) and isinstance(wl[idx], dict) else None
        head = f"workloads[{idx}]" + (f"(name={name})" if name else "")
        return ".".join([head, *parts[2:]])
    return key


def example_estate_path() -> Path:
    """The small example estate shipped for the demo."""
    return Path(__file__).parent / "data" / "example_estate.yml"


def single_cloud_variant(estate: Estate) -> Estate:
    """The same estate with cloud-spread rules turned into region spread (a single cloud cannot spread clouds)."""
    ws = [
        w.model_copy(update={"spread": Spread(across="region", min=w.spread.min)})
        if w.spread is not None and w.spread.across == "cloud"
        else w
        for w in estate.workloads
    ]
    return estate.model_copy(update={"workloads": ws})
