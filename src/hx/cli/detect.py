"""``hx detect``: score a CSV file, run the NAB corpus."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress
from rich.table import Table

from hx.cli.session import JSON, ctx_of, error_object
from hx.files import writing
from hx.security.private import export_dir, open_private

detect_app = typer.Typer(help="Anomaly detection on files and benchmarks.", no_args_is_help=True)


@detect_app.command("run")
def run(
    ctx: typer.Context,
    file: Path = typer.Argument(
        ...,
        exists=True,
        help="a CSV (or .csv.gz) with a time column and a value column (timestamp,value as NAB's; other names: "
        "--time-column / --value-column), or a folder: every such file under it",
    ),
    detector: str | None = typer.Option(None, help="detector name (default from configuration)"),
    out: Path | None = typer.Option(
        None, help="write timestamp,value,anomaly_score here (a folder when FILE is a folder)"
    ),
    time_column: str | None = typer.Option(None, "--time-column", help="the CSV's time column (default: by name)"),
    value_column: str | None = typer.Option(
        None, "--value-column", help="the CSV's value column (default: 'value', else its only numeric one)"
    ),
    step: float | None = typer.Option(None, "--step", help="seconds between rows, for an index or no time column"),
    as_json: bool = JSON,
) -> None:
    """Score a series as a stream; print the points at or above the alert threshold.

    Scores are anomaly likelihoods from 0 to 1; a point is an anomaly at or above the configured threshold.
    Rows repeated exactly (same time, same value) count once; a time given twice with different values is refused.
    """
    from hx.detect import DETECTORS, effective_threshold
    from hx.readers import TimeAxis

    c = ctx_of(ctx, as_json)
    cfg = c.loaded.settings.intelligent_monitoring.anomaly_detection
    name = detector or cfg.detector
    DETECTORS.get(name)
    thr = effective_threshold(cfg.alert_threshold, cfg.sensitivity)
    axis = TimeAxis(step_s=step, time_column=time_column, value_column=value_column)
    if file.is_dir():
        _run_folder(c, file, out, name, thr, axis)
        return
    data = _score_file(file, out, name, thr, axis)
    if c.as_json:
        c.emit(data)
        return
    _print_hits(c, data)


def _series_of(file: Path, axis: Any) -> Any:
    """The file's series, validated as the detectors need it; exact repeated rows dropped, the rest named."""
    import numpy as np

    from hx.detect import ValidatedSeries, validate_series
    from hx.errors import BadInput
    from hx.readers import axis_times, numbers, read_table, time_column, value_column

    table = read_table(file)
    tcol = time_column(table, axis)
    vs = numbers(table, value_column(table, axis, tcol))
    ts, _ = axis_times(table, axis)
    same = np.r_[False, (ts[1:] == ts[:-1]) & ((vs[1:] == vs[:-1]) | (np.isnan(vs[1:]) & np.isnan(vs[:-1])))]
    try:
        series: ValidatedSeries = validate_series(ts[~same], vs[~same])
    except BadInput as err:
        raise BadInput(f"{file}: {err.message}", field=err.field, file=str(file)) from err
    if same.any():
        series.warnings.append(f"{int(same.sum())} repeated row(s) (same time and value) counted once")
    return series


def _score_file(file: Path, out: Path | None, name: str, thr: float, axis: Any) -> dict[str, Any]:
    from hx.detect.engine import score_series

    vs = _series_of(file, axis)
    scores = score_series(vs.values, vs.timestamps, name, thr)
    if out is not None:
        with writing("--out"), open_private(out, newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["timestamp", "value", "anomaly_score"])
            for t, v, s in zip(vs.timestamps, vs.values, scores, strict=True):
                w.writerow([f"{t:.0f}", v, f"{s:.6f}"])
    hits = [
        (float(t), float(v), float(s)) for t, v, s in zip(vs.timestamps, vs.values, scores, strict=True) if s >= thr
    ]
    return {
        "file": str(file),
        "detector": name,
        "threshold": thr,
        "points": len(scores),
        "notes": list(vs.warnings),
        "anomalies": [{"timestamp": t, "value": v, "score": s} for t, v, s in hits],
    }


def _iso(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, tz=UTC).isoformat()


def _print_hits(c: Any, data: dict[str, Any]) -> None:
    hits = data["anomalies"]
    shown = ", the first 200 shown" if len(hits) > 200 else ""
    table = Table(
        "timestamp (UTC)", "value", "score (0-1)",
        title=f"{len(hits)} anomalies in {data['points']} points ({data['detector']}, >= {data['threshold']}{shown})",
    )  # fmt: skip
    for h in hits[:200]:
        table.add_row(_iso(h["timestamp"]), f"{h['value']:g}", f"{h['score']:.3f}")
    c.console.print(table)
    for note in data["notes"]:
        c.err.print(f"note: {note}", soft_wrap=True)


def _run_folder(c: Any, folder: Path, out: Path | None, name: str, thr: float, axis: Any) -> None:
    """Every CSV under ``folder``: one line each; a bad file is named and the others still run (exit 2 after)."""
    from hx.errors import BadInput

    files = sorted([*folder.rglob("*.csv"), *folder.rglob("*.csv.gz")])
    if not files:
        raise BadInput(f"{folder}: a folder with no *.csv or *.csv.gz files", field="file", file=str(folder))
    if out is not None:
        with writing("--out"):
            export_dir(out)
    results: list[dict[str, Any]] = []
    with Progress(console=c.err, transient=True) as bar:
        task = bar.add_task("scoring", total=len(files))
        for f in files:
            rel = f.relative_to(folder)
            target = None if out is None else out / rel.parent / (rel.name.removesuffix(".gz"))
            if target is not None:
                with writing("--out"):
                    export_dir(target.parent)
            try:
                results.append({"name": str(rel), **_score_file(f, target, name, thr, axis)})
            except BadInput as err:
                results.append({"name": str(rel), "file": str(f), "error": err.message})
            bar.advance(task)
    failed = [r for r in results if "error" in r]
    refusal = BadInput(f"{len(failed)} of {len(files)} file(s) could not be read (named above)", field="file")
    if not c.as_json:
        _print_folder(c, results, name, thr)
        if failed:
            raise refusal
        return
    # one document on stdout: the refusal goes in it (raised, main would print a second document after it)
    c.emit({"detector": name, "threshold": thr, "files": results,
            **({"error": error_object(refusal)} if failed else {})})  # fmt: skip
    if failed:
        c.err.print(f"hx: error: {refusal}", markup=False, highlight=False)
        raise typer.Exit(refusal.exit_code)


def _print_folder(c: Any, results: list[dict[str, Any]], name: str, thr: float) -> None:
    table = Table("file", "points", "anomalies", "first anomaly (UTC)", "max score", title=f"{name}, >= {thr}")
    for r in results:
        if "error" in r:
            table.add_row(r["name"], "-", "-", "-", f"error: {r['error']}")
            continue
        hits = r["anomalies"]
        first = _iso(hits[0]["timestamp"]) if hits else "-"
        top = f"{max(h['score'] for h in hits):.3f}" if hits else "-"
        table.add_row(r["name"], str(r["points"]), str(len(hits)), first, top)
    c.console.print(table)


@detect_app.command("nab")
def nab(
    ctx: typer.Context,
    data: Path = typer.Option(
        ...,
        exists=True,
        file_okay=False,
        help="NAB's checkout (holding data/<category>/<name>.csv) or its data/ folder",
    ),
    out: Path = typer.Option(..., file_okay=False, help="where result files go"),
    detector: str | None = typer.Option(None, help="detector name (default: the NAB default)"),
    as_json: bool = JSON,
) -> None:
    """Run a detector over every CSV under DATA/data as a stream; write OUT/<category>/<name>.csv."""
    from hx.detect.nab import DEFAULT_DETECTOR, corpus_files, run_nab

    c = ctx_of(ctx, as_json)
    if not (data / "data").is_dir() and data.resolve().name == "data":
        data = data.resolve().parent  # the corpus's data/ folder itself
    files = corpus_files(data)  # a corpus in the wrong layout is refused before --out is created
    with writing("--out"):
        export_dir(out)
    with Progress(console=c.err, transient=True) as bar:
        task = bar.add_task("NAB", total=len(files))
        written = run_nab(data, out, detector or DEFAULT_DETECTOR, progress=lambda _: bar.advance(task))
    c.emit({"written": [str(p) for p in written]}, f"wrote {len(written)} result files under {out}")
