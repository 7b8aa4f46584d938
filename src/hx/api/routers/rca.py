"""self-healing route ``POST /api/v1/rca``: rank the likely root-cause services of an incident from metrics sent in
the body, with the evidence for each (the document ``hx rca --json`` prints, from :mod:`hx.heal.rca_report`).

It reads nothing stored and writes nothing but the audit row every authenticated POST gets, so a viewer may call
it.  The ranking is CPU work: the route is synchronous (FastAPI runs it in its thread pool, off the event loop), and
its input is bounded twice: by the body limit (``server.max_body_bytes``, 413) and by
:data:`hx.heal.rca_report.MAX_CELLS` values in all (413 naming the limit).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StringConstraints

from hx.api.auth import authorize, register_roles
from hx.errors import BadInput
from hx.heal.rca_report import MAX_CELLS, check_size, rca_document
from hx.readers import parse_time
from hx.security.roles import Role

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)], tags=["self-healing"])

register_roles({("POST", "/api/v1/rca"): Role.VIEWER})

#: the most rows a series (and its timestamps) may have
MAX_ROWS = 100_000
#: the most services (and call-graph callers), and metrics per service, one request may name
MAX_SERVICES = 1000
MAX_METRICS = 1000


def _seconds(value: float | str) -> float:
    """Unix seconds (milliseconds above 1e11 are read as such) or an ISO 8601 time (naive = UTC)."""
    try:
        return parse_time(value if isinstance(value, str) else repr(float(value)))
    except ValueError:
        raise ValueError(f"{value!r} is not Unix seconds or an ISO 8601 time") from None


Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Time = Annotated[
    Annotated[float, Strict()] | Annotated[str, StringConstraints(min_length=1, max_length=64)],
    AfterValidator(_seconds),
]
Times = Annotated[list[Time], Field(min_length=1, max_length=MAX_ROWS)]
#: a reading, or null for a gap; a string ("NaN", "1.5") is refused
Value = Annotated[float, Strict()] | None
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
    score: float | None
    metric: str = Field(description="the lead metric")
    deviation_robust_sd: float | None
    onset: float | None
    explanation: str
    evidence: list[Evidence]


class RcaAnswer(BaseModel):
    """The ranking, as ``hx rca --json`` prints it."""

    rows: int
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

Each candidate's deviation is in robust standard deviations of the metric's own normal data (`normal`, else the rows
before the alert); onset is when the metric first crossed 3 robust sd.  The answer is the document `hx rca --json`
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
    )
