"""self-healing route ``POST /api/v1/rca``: rank the likely root-cause services of an incident from metrics sent in
the body, with the evidence for each (the document ``hx rca --json`` prints, from :mod:`hx.heal.rca_report`).

It reads nothing stored and writes nothing but the audit row every authenticated POST gets, so a viewer may call
it.  The ranking is CPU work: the route is synchronous (FastAPI runs it in its thread pool, off the event loop), and
its input is bounded twice: by the body limit (``server.max_body_bytes``, 413) and by
:data:`hx.heal.rca_report.MAX_CELLS` values in all (413 naming the limit).
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StringConstraints

from hx.api.auth import authorize, register_roles
from hx.api.schemas import Number
from hx.errors import BadInput
from hx.heal.rca_report import MAX_CELLS, check_size, rca_document
from hx.readers import not_a_time, parse_time
from hx.security.roles import Role

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)], tags=["self-healing"])

register_roles({("POST", "/api/v1/rca"): Role.VIEWER, ("POST", "/api/v1/rca/files"): Role.VIEWER})

#: the most rows a series (and its timestamps) may have
MAX_ROWS = 100_000
#: the most services (and call-graph callers), and metrics per service, one request may name
MAX_SERVICES = 1000
MAX_METRICS = 1000
#: the most files one upload may hold (metrics and normal each)
MAX_FILES = 200
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _seconds(value: float | str) -> float:
    """A Unix time (seconds, or milli-, micro-, nanoseconds by its size: :func:`hx.readers.parse_time`) or an ISO
    8601 time (naive = UTC)."""
    try:
        return parse_time(value if isinstance(value, str) else repr(float(value)))
    except ValueError as err:
        raise ValueError(not_a_time(value, err)) from None


Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Time = Annotated[
    Annotated[float, Strict()] | Annotated[str, StringConstraints(min_length=1, max_length=64)],
    AfterValidator(_seconds),
]
Times = Annotated[list[Time], Field(min_length=1, max_length=MAX_ROWS)]
#: a reading, or null for a gap; a string ("NaN", "1.5") is refused
Value = Number | None
Series = Annotated[list[Value], Field(min_length=1, max_length=MAX_ROWS)]
ServiceMetrics = Annotated[dict[Name, Series], Field(min_length=1, max_length=MAX_METRICS)]
Metrics = Annotated[
    dict[Name, ServiceMetrics],
    Field(
        min_length=1,
        max_length=MAX_SERVICES,
        description="{service: {metric: [value or null, ...]}}, every series as long as `timestamps`; a metric's "
        "name says its direction and kind (latency, cpu, mem, error...: a rise is harmful; requests: load)",
    ),
]


class NormalData(BaseModel):
    """The same metrics in normal operation (any length; `timestamps` optional, checked when given)."""

    model_config = ConfigDict(extra="forbid")

    timestamps: Times | None = None
    metrics: Metrics


class RcaRequest(BaseModel):
    """An incident's metrics, and what is known of it."""

    model_config = ConfigDict(extra="forbid")

    timestamps: Times = Field(description="one per row: Unix seconds or ISO 8601 strings, strictly increasing")
    metrics: Metrics
    normal: NormalData | None = Field(None, description="baseline; default: the rows before the onset")
    graph: (
        Annotated[dict[Name, Annotated[list[Name], Field(max_length=MAX_SERVICES)]], Field(max_length=MAX_SERVICES)]
        | None
    ) = Field(None, description="call graph {caller: [callees]}")
    alert_time: Time | None = Field(None, description="when the incident was noticed")
    alert_service: Name | None = Field(None, description="the service whose alert fired (in metrics or graph)")
    top: int | None = Field(None, ge=1, le=MAX_SERVICES, description="answer only the first `top` candidates")


class Evidence(BaseModel):
    """How far one metric moved, in its own normal terms."""

    metric: str
    deviation_robust_sd: float | None
    onset: float | None = Field(description="when it first crossed 3 robust sd (Unix seconds)")
    change: float | None = Field(description="the move in the metric's own units")
    level: float | None = Field(description="its median while the incident lasts")
    expected: list[float | None] = Field(description="[low, high] expected from its normal data")
    window: list[float | None] = Field(description="[first, last] time judged")


class CandidateRow(BaseModel):
    """One candidate root cause (rank 1 is the most likely)."""

    rank: int
    service: str
    score: float | None = Field(description="the ranking score: the service's deviation after the call graph and "
                                "the kind weights")  # fmt: skip
    deviation_robust_sd: float | None = Field(
        description="the service's own deviation: its best kind of metric, near-copies (P90, P95, P99) counted by "
        "their lower median; past 3 the service is anomalous (`clear`)"
    )
    metric: str = Field(description="the lead metric: the first to move past 3 robust sd, else the largest move")
    lead_deviation_robust_sd: float | None = Field(description="the lead metric's own deviation (its evidence row)")
    onset: float | None = Field(description="when the lead metric first crossed 3 robust sd (Unix seconds)")
    explanation: str
    evidence: list[Evidence]


class RcaAnswer(BaseModel):
    """The ranking, as ``hx rca --json`` prints it."""

    rows: int
    clear: bool = Field(description="whether any service moved past 3 robust sd")
    note: str | None = Field(
        None,
        description="when none did: what the order is worth; when the normal data lacks some of the metrics: which, "
        "and what became of them",
    )
    normal_missing: list[str] = Field(
        [], description="the metrics (service_metric) the normal data lacks: judged against the rows before the "
        "alert time, or left out without one; normal data sharing none is 422 naming `normal`"
    )  # fmt: skip
    candidates: list[CandidateRow]


def _plain(metrics: dict[str, dict[str, list[float | None]]], n: int | None, where: str) -> dict[str, Any]:
    """``{service: {metric: [float]}}`` with null as NaN, each series checked to have ``n`` values."""
    out: dict[str, dict[str, list[float]]] = {}
    for svc, series in metrics.items():
        for name, values in series.items():
            if n is not None and len(values) != n:
                field = f"{where}.{svc}.{name}"
                raise BadInput(f"{field}: {len(values)} values but {n} timestamps; give one value (or null) per row",
                               field=field)  # fmt: skip
            out.setdefault(svc, {})[name] = [math.nan if v is None else v for v in values]
    return out


_DESCRIPTION = f"""Rank the services most likely to have caused an incident, with the evidence for each.

Deviations are in robust standard deviations of each metric's own normal data (`normal`, else the rows before the
alert): `deviation_robust_sd` is the service's (its metrics combined, near-copies such as P90/P95/P99 by their lower
median; what `score` and `clear` build on), `lead_deviation_robust_sd` its lead metric's own; onset is when the lead
metric first crossed 3 robust sd.  The answer is the document `hx rca --json`
prints.  At most {MAX_CELLS:,} values in all (rows x metrics, `normal` included): more is 413 naming the limit; a
series whose length differs from its `timestamps`, or an `alert_service` that names no service, is 422 naming the
field."""


@router.post("/rca", response_model=RcaAnswer, description=_DESCRIPTION)
def rank(body: RcaRequest) -> dict[str, Any]:
    """The ranking of :func:`hx.heal.rca_report.rca_document`, computed in FastAPI's thread pool."""
    check_size(body.metrics, body.normal.metrics if body.normal is not None else None)
    metrics = _plain(body.metrics, len(body.timestamps), "metrics")
    normal = None
    if body.normal is not None:
        n_normal = len(body.normal.timestamps) if body.normal.timestamps is not None else None
        normal = _plain(body.normal.metrics, n_normal, "normal.metrics")
    return rca_document(
        metrics,
        body.timestamps,
        None if body.alert_time is None else float(body.alert_time),
        body.graph,
        normal=normal,
        alert_service=body.alert_service,
        top=body.top,
        normal_name="normal.metrics",
        normal_field="normal.metrics",
    )


_FILES_DESCRIPTION = f"""The same ranking from the CSV files `hx rca` reads, uploaded as
`multipart/form-data`: `metrics` (one or more files: a time column and `service_metric` columns, a service or pod
column and one column per metric, or header rows naming service and metric; `.csv` or `.csv.gz`), optionally
`normal` (the same shapes), `graph` (JSON `{{caller: [callees]}}`, a CSV edge list or an adjacency matrix) and the
fields `alert_time`, `alert_service`, `start`, `end` (Unix seconds or ISO 8601), `top`, `step` and `time_column`.
The answer is what `hx rca --json` prints for the same files; a refusal names the form field and the file as
uploaded.  At most {MAX_FILES} files per field and {MAX_CELLS:,} values in all; the body limit applies."""


def _form_time(value: str | None, field: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as err:
        raise BadInput(f"{field}: {not_a_time(value, err)}", field=field) from None


def _save(files: Sequence[UploadFile], folder: Path, field: str) -> list[Path]:
    """Each upload under ``folder/field/`` by its own (made safe) name; ``field/i/`` when a name repeats."""
    if len(files) > MAX_FILES:
        raise BadInput(f"{field}: {len(files)} files; at most {MAX_FILES}", field=field)
    out: list[Path] = []
    for i, upload in enumerate(files):
        name = _UNSAFE.sub("_", Path(upload.filename or "").name).strip("._")[:120] or f"{field}.csv"
        path = folder / field / name
        if path.exists():
            path = folder / field / str(i) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(upload.file.read())
        out.append(path)
    return out


@contextmanager
def _named_as_uploaded(folder: Path) -> Iterator[None]:
    """A refusal names ``metrics/anomalous.csv``, not the server's temporary path."""
    try:
        yield
    except BadInput as err:
        prefix = f"{folder}/"
        err.message = err.message.replace(prefix, "")
        for option in _OPTIONS:  # the readers speak of the CLI's options; here they are form fields
            err.message = err.message.replace(option, _field(option))
        err.args = (err.message,)
        if isinstance(err.data.get("file"), str):
            err.data["file"] = err.data["file"].replace(prefix, "")
        if isinstance(err.field, str) and err.field in _OPTIONS:
            err.field = err.data["field"] = _field(err.field)
        raise


_OPTIONS = ("--start", "--end", "--step", "--time-column", "--graph")


def _field(option: str) -> str:
    return option.removeprefix("--").replace("-", "_")


@router.post("/rca/files", response_model=RcaAnswer, description=_FILES_DESCRIPTION)
def rank_files(
    metrics: Annotated[list[UploadFile], File(description="metric files around the incident")],
    normal: Annotated[list[UploadFile] | None, File(description="the same metrics in normal operation")] = None,
    graph: Annotated[UploadFile | None, File(description="call graph: .json or .csv")] = None,
    alert_time: Annotated[str | None, Form(min_length=1, max_length=64)] = None,
    alert_service: Annotated[str | None, Form(min_length=1, max_length=200)] = None,
    start: Annotated[str | None, Form(min_length=1, max_length=64)] = None,
    end: Annotated[str | None, Form(min_length=1, max_length=64)] = None,
    top: Annotated[int | None, Form(ge=1, le=MAX_SERVICES)] = None,
    step: Annotated[float | None, Form(gt=0, le=86400 * 366, description="seconds between rows (index column)")] = None,
    time_column: Annotated[str | None, Form(min_length=1, max_length=200)] = None,
) -> dict[str, Any]:
    """Uploads read with :mod:`hx.readers_rca` (as ``hx rca`` reads them) and ranked by ``rca_document``."""
    from hx.readers import TimeAxis
    from hx.readers_rca import read_graph, read_metrics

    axis = TimeAxis(step_s=step, time_column=time_column)
    with tempfile.TemporaryDirectory(prefix="hx-rca-") as tmp, _named_as_uploaded(Path(tmp)):
        folder = Path(tmp)
        calls = read_graph(_save([graph], folder, "graph")[0]) if graph is not None else None
        frame = read_metrics(_save(metrics, folder, "metrics"), axis)
        frame = frame.clip(_form_time(start, "start"), _form_time(end, "end"))
        saved = _save(normal, folder, "normal") if normal else []
        base = read_metrics(saved, axis).series if saved else None
        return rca_document(
            frame.series,
            frame.timestamps,
            _form_time(alert_time, "alert_time"),
            calls,
            normal=base,
            alert_service=alert_service,
            top=top,
            normal_name=", ".join(map(str, saved)),
            normal_field="normal",
        )
