"""``hx detect``: score a CSV file, run the NAB corpus."""

from __future__ import annotations

import csv
from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table

from hx.cli.session import JSON, ctx_of
from hx.files import writing
from hx.security.private import export_dir, open_private

detect_app = typer.Typer(help="Anomaly detection on files and benchmarks.", no_args_is_help=True)


@detect_app.command("run")
def run(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with timestamp,value columns"),
    detector: str | None = typer.Option(None, help="detector name (default from configuration)"),
    out: Path | None = typer.Option(None, help="write timestamp,value,anomaly_score here"),
    as_json: bool = JSON,
) -> None:
    """Score a series as a stream; print the points at or above the alert threshold."""
    from hx.detect import DETECTORS, effective_threshold, read_series_csv
    from hx.detect.engine import score_series

    c = ctx_of(ctx, as_json)
    cfg = c.loaded.settings.intelligent_monitoring.anomaly_detection
    name = detector or cfg.detector
    DETECTORS.get(name)
    vs = read_series_csv(file)
    scores = score_series(vs.values, vs.timestamps, name)
    thr = effective_threshold(cfg.alert_threshold, cfg.sensitivity)
    if out is not None:
        with writing("--out"), open_private(out, newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["timestamp", "value", "anomaly_score"])
            for t, v, s in zip(vs.timestamps, vs.values, scores, strict=True):
                w.writerow([f"{t:.0f}", v, f"{s:.6f}"])
    hits = [
        (float(t), float(v), float(s)) for t, v, s in zip(vs.timestamps, vs.values, scores, strict=True) if s >= thr
    ]
    data = {
        "file": str(file),
        "detector": name,
        "threshold": thr,
        "points": len(scores),
        "anomalies": [{"timestamp": t, "value": v, "score": s} for t, v, s in hits],
    }
    if c.as_json:
        c.emit(data)
        return
    table = Table(
        "timestamp", "value", "score", title=f"{len(hits)} anomalies in {len(scores)} points ({name}, >= {thr})"
    )
    from datetime import UTC, datetime

    for t, v, s in hits[:200]:
        table.add_row(datetime.fromtimestamp(t, tz=UTC).isoformat(), f"{v:g}", f"{s:.3f}")
    c.console.print(table)


@detect_app.command("nab")
def nab(
    ctx: typer.Context,
    data: Path = typer.Option(..., exists=True, file_okay=False, help="a directory in NAB's layout (data/...)"),
    out: Path = typer.Option(..., file_okay=False, help="where result files go"),
    detector: str | None = typer.Option(None, help="detector name (default: the NAB default)"),
    as_json: bool = JSON,
) -> None:
    """Run a detector over every CSV under DATA/data as a stream; write OUT/<category>/<name>.csv."""
    from hx.detect.nab import DEFAULT_DETECTOR, corpus_files, run_nab

    c = ctx_of(ctx, as_json)
    files = corpus_files(data)  # a corpus in the wrong layout is refused before --out is created
    with writing("--out"):
        export_dir(out)
    with Progress(console=c.err, transient=True) as bar:
        task = bar.add_task("NAB", total=len(files))
        written = run_nab(data, out, detector or DEFAULT_DETECTOR, progress=lambda _: bar.advance(task))
    c.emit({"written": [str(p) for p in written]}, f"wrote {len(written)} result files under {out}")
