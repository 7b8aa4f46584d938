"""``hx telemetry check`` (does every signal an enabled engine needs resolve?) and ``hx telemetry presets``."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table

from hx.cli.session import JSON, Ctx, ctx_of, number
from hx.config import Settings
from hx.telemetry.base import SignalSource
from hx.telemetry.discovery import TelemetryReport, check_telemetry
from hx.telemetry.presets import load_preset, preset_names
from hx.topology import Topology, topology_from_settings

telemetry_app = typer.Typer(help="What hx sees through its signal source: presets, discovery, signals.")


def register(app: typer.Typer) -> None:
    app.add_typer(telemetry_app, name="telemetry")


def _world(settings: Settings) -> tuple[SignalSource, Topology]:
    """The configured source and call graph (Prometheus directly; the sim or replay through the wiring)."""
    if settings.telemetry.source == "prometheus":
        from hx.telemetry.prometheus import PrometheusSource

        source = PrometheusSource.from_settings(settings.telemetry.prometheus)
        return source, topology_from_settings(settings, source)
    from hx.errors import ConfigError
    from hx.wiring import build_world, sim_topology

    built, _, sim = build_world(settings)
    if built is None:
        raise ConfigError("no signal source configured", key="telemetry.source")
    if sim is None:
        return built, topology_from_settings(settings, built)
    topology = sim_topology(sim)
    topology.described = "the simulated fleet"
    return built, topology


@telemetry_app.command("check")
def check(
    ctx: typer.Context,
    service: list[str] = typer.Option([], "--service", help="check only this service (repeatable)"),
    stale_after: float = typer.Option(
        300.0, "--stale-after", parser=number(1.0), help="seconds after which a value is stale"
    ),
    as_json: bool = JSON,
) -> None:
    """Discovered services, versions and instances; every signal each enabled engine needs; the call graph.

    Exits 1 when a signal an enabled engine needs does not resolve.
    """
    c = ctx_of(ctx, as_json)
    source, topology = _world(c.loaded.settings)
    _known(source, service)
    report = check_telemetry(
        source, c.loaded.settings, datetime.now(UTC), topology=topology, services=service, stale_after_s=stale_after
    )
    if c.as_json:
        c.emit(report.to_dict())
    else:
        _print(c, report)
    if not report.ok:
        raise typer.Exit(1)


def _known(source: SignalSource, given: list[str]) -> None:
    """A ``--service`` the source does not list is a mistake (exit 2 naming the ones it lists), not a table of
    "unknown service" for every signal with exit 1; when the listing itself fails, the check reports that."""
    from hx.errors import HxError, UnknownName

    if not given:
        return
    try:
        listed = list(source.services())
    except HxError:
        return
    for name in given:
        if name not in listed:
            raise UnknownName("service", name, listed, field="--service")


def _print(c: Ctx, report: TelemetryReport) -> None:
    disc = report.discovery
    if disc:
        c.console.print(
            f"presets {', '.join(report.presets)}; services by [bold]{disc['service_label']}[/] "
            f"(versions {disc['version_label']}, instances {disc['instance_label']})"
        )
    services = Table(title="discovered services")
    for col in ("service", "versions", "instances"):
        services.add_column(col)
    for v in report.services:
        services.add_row(v.name, v.error or ", ".join(v.versions) or "-", str(len(v.instances)))
    c.console.print(services)
    c.console.print(_signal_table(report))
    edges = report.topology["edges"]
    c.console.print(f"call graph ({report.topology['source']}): {sum(len(v) for v in edges.values())} edge(s)")
    for caller, callees in sorted(edges.items()):
        c.console.print(f"  {caller} -> {', '.join(callees)}")
    if report.topology.get("error"):
        c.console.print(f"[red]call graph read failed: {report.topology['error']}[/]")
    for problem in report.problems:
        c.console.print(f"[red]{problem}[/]")
    c.console.print(
        "[green]every needed signal resolves[/]" if report.ok else "[red]some needed signals do not resolve[/]"
    )


def _signal_table(report: TelemetryReport) -> Table:
    table = Table(title="signals")
    for col in ("service", "signal", "per", "needed by", "status", "last value", "age s", "PromQL / why not"):
        table.add_column(col, overflow="fold")
    for r in report.signals:
        mark = "[green]ok[/]" if r.resolves else f"[red]{r.status}[/]" if r.needed_by else f"[yellow]{r.status}[/]"
        value = "-" if r.last_value is None else f"{r.last_value:.4g}"
        age = "-" if r.age_s is None else f"{r.age_s:.0f}"
        detail = r.promql or ""
        if r.why:
            detail = f"{r.why}\n{detail}".strip()
        table.add_row(r.service, r.signal, r.per, ", ".join(r.needed_by) or "-", mark, value, age, detail)
    return table


@telemetry_app.command("presets")
def presets(
    ctx: typer.Context,
    show: str | None = typer.Option(None, "--show", help="print this preset's file (copy it and edit it)"),
    as_json: bool = JSON,
) -> None:
    """The shipped presets of signal templates, or one preset's file."""
    c = ctx_of(ctx, as_json)
    if show is not None:
        preset = load_preset(show)
        if c.as_json:
            c.emit({"name": preset.name, "path": str(preset.path), "description": preset.description,
                    "discovery": dict(preset.discovery), "signals": dict(preset.signals)})  # fmt: skip
        else:
            typer.echo(preset.path.read_text(encoding="utf-8"), nl=False)
        return
    rows = [load_preset(n) for n in preset_names()]
    if c.as_json:
        c.emit([{"name": p.name, "description": p.description, "signals": sorted(p.signals)} for p in rows])
        return
    table = Table(title="signal presets (telemetry.prometheus.preset)")
    for col in ("preset", "what it reads", "signals"):
        table.add_column(col, overflow="fold")
    for p in rows:
        table.add_row(p.name, p.description, ", ".join(sorted(p.signals)))
    c.console.print(table)
