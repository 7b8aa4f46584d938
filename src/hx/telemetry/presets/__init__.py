"""Signal presets: files of PromQL templates for what teams already run, selected by ``telemetry.prometheus.preset``.

Each preset is a YAML file in this folder (``hx telemetry presets --show NAME`` prints one; copy it, edit it and
name the copy's path in ``telemetry.prometheus.preset``).  A file holds:

``description``
    one line;
``discovery`` (optional)
    ``match`` (a series selector whose ``service_label`` values are the services), ``series`` (a template of the
    series that carry a service's version and instance labels), ``service_label``, ``version_label``,
    ``instance_label``;
``signals``
    signal name -> PromQL template.

Templates use the placeholders ``{service}`` (inside double quotes), ``{by}`` (the grouping label list of an
aggregation), ``{window}`` (the range of ``rate()``), and the grouping-label parameters ``{service_label}``,
``{version_label}``, ``{instance_label}`` (the discovery's label names, so one preset serves whatever a team's
relabelling calls them).

Presets compose: ``preset: [http-semconv, node]`` takes the discovery of the first that has one and every signal of
each, a later preset's signal winning; explicit ``discovery`` keys and ``templates`` win over all presets.

>>> c = compose(["http-semconv", "node"])
>>> c.discovery.service_label, c.origin["request_rate"], c.origin["cpu_utilization"]
('service_name', 'http-semconv', 'node')
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from hx.errors import ConfigError
from hx.telemetry.promql import PromQLSyntaxError, parse_check

PLACEHOLDERS = ("service", "by", "window", "service_label", "version_label", "instance_label")
#: placeholders that may sit inside a string literal (label names are plain identifiers; ``{service}`` is escaped)
_IN_STRINGS = {"service", "service_label", "version_label", "instance_label"}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TOP_KEYS = {"description", "discovery", "signals"}
_DISCOVERY_KEYS = {"match", "series", "service_label", "version_label", "instance_label"}
KEY = "telemetry.prometheus"


@dataclass(frozen=True)
class Discovery:
    """How services, versions and instances are found: the label names and the series that carry them."""

    match: str | None = None
    series: str | None = None
    service_label: str = "service"
    version_label: str = "version"
    instance_label: str = "instance"

    def labels(self) -> dict[str, str]:
        return {
            "service_label": self.service_label,
            "version_label": self.version_label,
            "instance_label": self.instance_label,
        }

    def series_template(self) -> str:
        """The template of a service's series (``series``, else ``match`` narrowed to the service)."""
        if self.series:
            return self.series
        base = (self.match or "up").strip()
        matcher = '{service_label}="{service}"'
        if base.endswith("}"):
            inner = base[base.index("{") + 1 : -1].strip()
            return base[: base.index("{")] + "{" + (f"{inner}," if inner else "") + matcher + "}"
        return base + "{" + matcher + "}"


@dataclass(frozen=True)
class Preset:
    """One preset file: its name, description, discovery (if any) and signal templates."""

    name: str
    description: str
    discovery: Mapping[str, str]
    signals: Mapping[str, str]
    path: Path


@dataclass(frozen=True)
class Composition:
    """The effective discovery and templates, and which preset (or ``templates``) each signal came from."""

    discovery: Discovery
    templates: Mapping[str, str]
    origin: Mapping[str, str] = field(default_factory=dict)
    presets: tuple[str, ...] = ()


def presets_dir() -> Path:
    return Path(str(resources.files("hx.telemetry.presets")))


def preset_names() -> list[str]:
    """The shipped presets, by name."""
    return sorted(p.stem for p in presets_dir().glob("*.yaml"))


def preset_path(name: str) -> Path:
    """The file of a shipped preset, or a path to a user's own preset file."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        return Path(name).expanduser()
    path = presets_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"no preset {name!r}", key=f"{KEY}.preset", expected=" or ".join(preset_names()))
    return path


def load_preset(name: str) -> Preset:
    """Read and check one preset (a shipped name or a file path); a bad template names the signal and the file."""
    path = preset_path(name)
    if path.parent == presets_dir():
        return _shipped(path)
    return _read(path)


@functools.lru_cache(maxsize=32)
def _shipped(path: Path) -> Preset:
    return _read(path)


def _read(path: Path) -> Preset:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read preset {path}: {err.strerror}", key=f"{KEY}.preset") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"preset {path} is not YAML: {err}", key=f"{KEY}.preset") from err
    return _preset_from(raw, path)


def _preset_from(raw: Any, path: Path) -> Preset:
    where = str(path)
    if not isinstance(raw, dict) or not set(raw) <= _TOP_KEYS or not isinstance(raw.get("signals"), dict):
        raise ConfigError("a preset is a mapping of description, discovery, signals", file=where, key="signals")
    disc = raw.get("discovery") or {}
    if not isinstance(disc, dict) or not set(disc) <= _DISCOVERY_KEYS:
        raise ConfigError(f"unknown discovery keys {sorted(set(disc) - _DISCOVERY_KEYS)}", file=where, key="discovery")
    signals = {str(k): str(v).strip() for k, v in raw["signals"].items()}
    for name, template in signals.items():
        check_template(name, template, key=f"signals.{name}", file=where)
    check_discovery(disc, key="discovery", file=where)
    return Preset(path.stem, str(raw.get("description", "")), {k: str(v) for k, v in disc.items()}, signals, path)


def check_discovery(disc: Mapping[str, Any], *, key: str, file: str | None = None) -> None:
    """Label names must be label names; ``series`` must be a valid template."""
    for label in ("service_label", "version_label", "instance_label"):
        value = disc.get(label)
        if value is not None and not _LABEL_NAME.match(str(value)):
            raise ConfigError(f"{value!r} is not a label name", file=file, key=f"{key}.{label}", expected="a label")
    if disc.get("series"):
        check_template("series", str(disc["series"]), key=f"{key}.series", file=file)
    if disc.get("match"):
        try:
            parse_check(str(disc["match"]))
        except PromQLSyntaxError as err:
            raise ConfigError(f"not a series selector: {err}", file=file, key=f"{key}.match") from err


def _quoted_spans(template: str) -> list[tuple[int, int, str]]:
    """(start, end, quote) of each string literal in a PromQL expression."""
    spans: list[tuple[int, int, str]] = []
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "#":  # a comment runs to the end of the line
            nl = template.find("\n", i)
            i = len(template) if nl < 0 else nl
            continue
        if ch in "\"'`":
            j = i + 1
            while j < len(template) and template[j] != ch:
                j += 2 if (template[j] == "\\" and ch != "`") else 1
            spans.append((i, j, ch))
            i = j + 1
            continue
        i += 1
    return spans


def check_template(signal: str, template: str, *, key: str | None = None, file: str | None = None) -> None:
    """Refuse a template with an unknown or misplaced placeholder, or one that is not valid PromQL.

    >>> check_template("cpu", 'avg by ({by}) (cpu{{service_label}="{service}"})')
    >>> try:
    ...     check_template("cpu", 'avg(cpu{service="{service}"}')
    ... except ConfigError as err:
    ...     print(err)
    telemetry.prometheus.templates.cpu: not valid PromQL: unclosed '(' at offset 3 (expected a PromQL template)
    """
    key = key or f"{KEY}.templates.{signal}"
    if not isinstance(template, str) or not template.strip():
        raise ConfigError("empty template", file=file, key=key, expected="a PromQL template")
    spans = _quoted_spans(template)
    for m in _PLACEHOLDER.finditer(template):
        name = m.group(1)
        if name not in PLACEHOLDERS:
            known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            raise ConfigError(f"unknown placeholder {{{name}}}; templates may use {known}", file=file, key=key,
                              expected="a PromQL template")  # fmt: skip
        quote = next((q for s, e, q in spans if s < m.start() < e), None)
        if name == "service" and quote != '"':
            raise ConfigError('{service} must sit inside a double-quoted label value, e.g. service="{service}"',
                              file=file, key=key, expected="a PromQL template")  # fmt: skip
        if name not in _IN_STRINGS and quote is not None:
            raise ConfigError(f"{{{name}}} must not sit inside a string literal", file=file, key=key,
                              expected="a PromQL template")  # fmt: skip
    for by in ("", "instance"):
        try:
            parse_check(fill(template, {"service": "svc", "by": by, "window": "1m", **Discovery().labels()}))
        except PromQLSyntaxError as err:
            raise ConfigError(f"not valid PromQL: {err}", file=file, key=key, expected="a PromQL template") from err


def fill(template: str, values: Mapping[str, str]) -> str:
    """The template with its placeholders replaced (values must already be escaped)."""

    def sub(m: re.Match[str]) -> str:
        return values.get(m.group(1), m.group(0))

    return _PLACEHOLDER.sub(sub, template)


def compose(
    names: str | Sequence[str],
    discovery: Mapping[str, Any] | None = None,
    templates: Mapping[str, str] | None = None,
) -> Composition:
    """The effective discovery and templates of presets ``names`` plus explicit overrides (which win)."""
    listed = [names] if isinstance(names, str) else list(names)
    if not listed:
        raise ConfigError("no preset selected", key=f"{KEY}.preset", expected=" or ".join(preset_names()))
    merged: dict[str, str] = {}
    origin: dict[str, str] = {}
    disc: Mapping[str, str] | None = None
    for name in listed:
        preset = load_preset(name)
        if disc is None and preset.discovery:
            disc = preset.discovery
        merged.update(preset.signals)
        origin.update(dict.fromkeys(preset.signals, preset.name))
    for signal, template in (templates or {}).items():
        check_template(signal, template)
        merged[signal] = template
        origin[signal] = "templates"
    given = {k: v for k, v in (discovery or {}).items() if v is not None}
    check_discovery(given, key=f"{KEY}.discovery")
    found = replace(Discovery(), **{**(disc or {}), **given})
    return Composition(found, merged, origin, tuple(load_preset(n).name for n in listed))
