"""Runbooks: YAML files saying which incidents they fix and the ordered steps to fix them.

Shipped runbooks live in ``hx/runbooks/*.yml``; ``self_healing.runbook_dirs`` adds the user's.  Each
file is validated on load (pydantic, unknown keys refused); an error is a ConfigError naming the
file and the step.  A runbook matches an incident by class, labels and environment; the most
specific match (most label conditions, then user over shipped) is chosen.

Step kinds: ``restart`` (rolling, batch size bounded by the blast radius), ``scale`` (``factor``,
``replicas`` or ``target_saturation``: enough replicas to bring the current saturation down to it),
``rollback`` (the last deployment), ``drain_node``, ``clear_disk``, ``run`` (a named actuator action:
Ansible playbook, command), ``webhook``, ``wait``, ``verify`` (a signal back under a limit within
``timeout_s``) and ``approval``.  ``on_failure``: ``escalate`` (default), ``continue`` or ``abort``.
A runbook's ``match`` may also require a recent deployment or minimum incident features (``min_facts``).

>>> rb = Runbook.model_validate({"name": "r", "match": {"classes": ["memory_leak"]},
...                              "steps": [{"kind": "restart"}, {"kind": "verify", "signal": "memory_utilization",
...                                         "below": 0.8}]})
>>> rb.matches("memory_leak", {}, "dev"), rb.matches("disk_full", {}, "dev")
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hx.errors import ConfigError
from hx.http import is_http_url

StepKind = Literal["restart", "scale", "rollback", "drain_node", "clear_disk", "run", "webhook", "wait", "verify",
                   "approval"]  # fmt: skip
#: Steps that change the world (rate-limited, guarded, dry-run aware, audited).
ACTING = frozenset({"restart", "scale", "rollback", "drain_node", "clear_disk", "run", "webhook"})


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: StepKind
    name: str = ""
    # scale
    factor: float | None = Field(None, gt=0, le=10)
    replicas: int | None = Field(None, ge=0, le=10000)
    target_saturation: float | None = Field(None, gt=0, le=1)
    max_replicas: int = Field(100, ge=1)
    # run / webhook
    action: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    url: str | None = None
    # wait / verify / approval
    duration_s: float = Field(0.0, ge=0)
    signal: str | None = None
    below: float | None = None
    above: float | None = None
    for_s: float = Field(120.0, ge=0)
    timeout_s: float | None = Field(None, gt=0)
    reason: str = ""
    on_failure: Literal["escalate", "continue", "abort"] | None = None

    @model_validator(mode="after")
    def _check(self) -> Step:
        sizes = (self.factor, self.replicas, self.target_saturation)
        if self.kind == "scale" and sum(x is not None for x in sizes) != 1:
            raise ValueError("a scale step needs exactly one of factor, replicas or target_saturation")
        if self.kind == "run" and not self.action:
            raise ValueError("a run step needs action (the actuator action or playbook name)")
        if self.kind == "webhook" and not is_http_url(self.url or ""):
            raise ValueError("a webhook step needs url (http or https)")
        if self.kind == "verify" and (not self.signal or (self.below is None) == (self.above is None)):
            raise ValueError("a verify step needs signal and exactly one of below or above")
        if self.kind == "wait" and self.duration_s <= 0:
            raise ValueError("a wait step needs duration_s > 0")
        return self


class Match(BaseModel):
    model_config = ConfigDict(extra="forbid")

    classes: list[str] = Field(min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    environments: list[str] = Field(default_factory=list)
    recent_deployment: bool = False
    #: incident features that must be at least these values (e.g. ``request_rate_rel: 1.0``: requests doubled)
    min_facts: dict[str, float] = Field(default_factory=dict)


class Runbook(BaseModel):
    """One runbook (validated)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    match: Match
    steps: list[Step] = Field(min_length=1)
    on_failure: Literal["escalate", "abort"] = "escalate"
    verify_required: bool = True
    source: str = Field("", exclude=True)

    @model_validator(mode="after")
    def _verify_after_fix(self) -> Runbook:
        acting = [i for i, s in enumerate(self.steps) if s.kind in ACTING]
        if self.verify_required and acting and not any(s.kind == "verify" for s in self.steps[acting[-1] :]):
            raise ValueError("every runbook that acts must verify afterwards: add a verify step after the last fix")
        return self

    def matches(
        self, incident_class: str, labels: Mapping[str, str], environment: str, facts: Mapping[str, float] | None = None
    ) -> bool:
        if incident_class not in self.match.classes:
            return False
        if self.match.recent_deployment and not (facts or {}).get("deploy_recent"):
            return False
        if any(float((facts or {}).get(k, float("-inf"))) < v for k, v in self.match.min_facts.items()):
            return False
        if self.match.environments and environment not in self.match.environments:
            return False
        return all(labels.get(k) == v for k, v in self.match.labels.items())


def _where(loc: tuple[Any, ...], data: Any) -> str:
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        steps = data.get("steps") if isinstance(data, dict) else None
        kind = ""
        if isinstance(steps, list) and loc[1] < len(steps) and isinstance(steps[loc[1]], dict):
            kind = f" ({steps[loc[1]].get('kind', '?')})"
        rest = ".".join(str(p) for p in loc[2:])
        return f"step {loc[1] + 1}{kind}" + (f", field {rest}" if rest else "")
    return "field " + ".".join(str(p) for p in loc) if loc else "the runbook"


def parse_runbook(data: Any, source: str) -> Runbook:
    """Validate one runbook mapping; a ConfigError names the file and the step."""
    if not isinstance(data, dict):
        raise ConfigError("a runbook must be a mapping", file=source, expected="name, match, steps")
    try:
        rb = Runbook.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = _where(tuple(first["loc"]), data)
        raise ConfigError(f"{source}: {where}: {first['msg']}", file=source, key=where) from err
    return rb.model_copy(update={"source": source})


def load_file(path: Path) -> list[Runbook]:
    try:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read runbook: {err}", file=str(path)) from err
    return [parse_runbook(d, str(path)) for d in docs if d is not None]


def shipped_dir() -> Path:
    return Path(str(resources.files("hx") / "runbooks"))


def load_runbooks(dirs: Iterable[str | Path] = (), include_shipped: bool = True) -> list[Runbook]:
    """Shipped runbooks, then those in ``dirs`` (a user runbook with a shipped one's name replaces it)."""
    folders = ([shipped_dir()] if include_shipped else []) + [Path(d).expanduser() for d in dirs]
    by_name: dict[str, Runbook] = {}
    for folder in folders:
        if not folder.is_dir():
            raise ConfigError(f"runbook folder {folder} does not exist", key="self_healing.runbook_dirs")
        for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
            for rb in load_file(path):
                by_name[rb.name] = rb
    return list(by_name.values())


def select_runbook(
    runbooks: Iterable[Runbook],
    incident_class: str,
    labels: Mapping[str, str],
    environment: str,
    facts: Mapping[str, float] | None = None,
) -> tuple[Runbook | None, list[str]]:
    """The most specific matching runbook, and why each other one was not chosen.

    ``facts`` are the incident's features (``deploy_recent`` for runbooks that need a recent deployment).
    """
    found = [rb for rb in runbooks if rb.matches(incident_class, labels, environment, facts)]
    if not found:
        extra = "" if (facts or {}).get("deploy_recent") else " (and no recent deployment to roll back)"
        unmet = [f"{k} >= {v:g}" for rb in runbooks if incident_class in rb.match.classes
                 for k, v in rb.match.min_facts.items() if float((facts or {}).get(k, float("-inf"))) < v]  # fmt: skip
        if unmet:
            extra += f" (unmet: {', '.join(unmet)})"
        return None, [f"no runbook matches class {incident_class!r} in {environment}{extra}"]
    found.sort(key=lambda rb: (len(rb.match.labels) + len(rb.match.environments), rb.source), reverse=True)
    return found[0], [f"{rb.name}: less specific than {found[0].name}" for rb in found[1:]]
