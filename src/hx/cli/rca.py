"""``hx rca``: rank the likely root-cause services of an incident from metric files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from hx.cli.session import JSON, ctx_of
from hx.readers import TimeAxis, not_a_time, parse_time
from hx.readers_rca import iso_or_row


def _when(value: str | None, option: str) -> float | None:
    from hx.errors import BadInput

    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as err:
        raise BadInput(f"{option}: {not_a_time(value, err)}", field=option) from None


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def rca(
    ctx: typer.Context,
    metrics: list[Path] = typer.Argument(
        ...,
        exists=True,
        help="metric files or folders around the incident: CSV with a time column and service_metric columns "
        "(carts_cpu), or a service/pod column and one column per metric, or header rows naming service, metric "
        "\\[and statistic] with the time in the first column; *.csv or *.csv.gz",
    ),
    normal: list[Path] = typer.Option(
        [], "--normal", exists=True, help="the same metrics in normal operation (same shapes; repeatable)"
    ),
    graph: Path | None = typer.Option(
        None,
        "--graph",
        exists=True,
        dir_okay=False,
        help="call graph: JSON {caller: \\[callees]}, CSV edge list (source,target) or CSV adjacency matrix (row "
        "calls column)",
    ),
    alert_time: str | None = typer.Option(
        None, "--alert-time", help="when the incident was noticed (Unix seconds or ISO 8601; naive = UTC)"
    ),
    alert_service: str | None = typer.Option(None, "--alert-service", help="the service whose alert fired"),
    start: str | None = typer.Option(None, "--start", help="use the metric rows from this time on"),
    end: str | None = typer.Option(None, "--end", help="use the metric rows up to this time"),
    step: float | None = typer.Option(None, "--step", help="seconds between rows, for a file with an index column"),
    time_column: str | None = typer.Option(None, "--time-column", help="the files' time column (default: by name)"),
    top: int = typer.Option(5, "--top", min=1, help="how many candidates to print"),
    as_json: bool = JSON,
) -> None:
    """Rank the services most likely to have caused an incident, with the evidence for each.

    Deviations are in robust standard deviations of each metric's own normal data (from --normal, else the rows
    before the alert): the service's (its metrics combined, near-copies such as P90/P95/P99 by their lower median;
    what its score builds on) and its lead metric's own; onset is when the lead metric first crossed 3 robust sd.
    """
    from hx.heal.rca_report import rca_document
    from hx.readers_rca import read_graph, read_metrics

    c = ctx_of(ctx, as_json)
    axis = TimeAxis(step_s=step, time_column=time_column)
    calls = read_graph(graph) if graph is not None else None
    skip = [graph] if graph is not None else []
    frame = read_metrics(metrics, axis, skip=skip).clip(_when(start, "--start"), _when(end, "--end"))
    base = read_metrics(normal, axis).series if normal else None
    doc = rca_document(
        frame.series,
        frame.timestamps,
        _when(alert_time, "--alert-time"),
        calls,
        normal=base,
        alert_service=alert_service,
        normal_name="--normal " + ", ".join(map(str, normal)),
        normal_field="--normal",
    )
    rows: list[dict[str, Any]] = doc["candidates"]
    if c.as_json:
        c.emit(doc)
        return
    _print(c.console, rows[:top], len(rows), len(frame.timestamps))
    if doc["note"] and (rows or doc["normal_missing"]):
        c.console.print(f"[yellow]{doc['note']}[/yellow]", soft_wrap=True)


def _print(console: Any, rows: list[dict[str, Any]], total: int, n_rows: int) -> None:
    if not rows:
        console.print(f"no service moved past 3 robust sd in {n_rows} rows: no candidate")
        return
    table = Table(
        "rank", "service", "score", "service sd", "lead metric", "lead sd", "lead onset (UTC)",
        title=f"root-cause candidates ({len(rows)} of {total}, {n_rows} rows; deviations in robust sd)",
        caption="service sd: its metrics combined (what the score builds on); lead sd: the lead metric's own",
    )  # fmt: skip
    for r in rows:
        table.add_row(str(r["rank"]), r["service"], _fmt(r["score"], ".3g"), _fmt(r["deviation_robust_sd"], ".1f"),
                      r["metric"], _fmt(r["lead_deviation_robust_sd"], ".1f"), iso_or_row(r["onset"]))  # fmt: skip
    console.print(table)
    for r in rows:
        console.print(f"{r['rank']}. {r['explanation']}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``hx rca`` to the root command."""
    app.command("rca")(rca)
