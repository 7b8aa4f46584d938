"""Root-cause inputs as systems export them: per-service metrics and a call graph, from CSV or JSON files.

Metric files (one or more; a folder is every ``*.csv`` / ``*.csv.gz`` in it), each in one of three shapes:

- **wide**: a time column and one column per metric named ``service_metric`` (``carts_cpu``,
  ``front-end_lat_90``), as RCAEval's Sock Shop ``normal.csv`` / ``anomalous.csv``;
- **multi-row header**: two or more header rows naming each column's service, metric (and statistic), the
  first column holding the time (PetShop's ``metrics.csv``: rows ``microservice``, ``metric``, ``statistic``);
- **long**: a service (or pod) column, a time column and one column per metric, possibly one file per pod
  (Nezha's ``<pod>_metric.csv``); a Kubernetes pod name counts for its workload (``cartservice-579f59597d-wc2lz``
  is ``cartservice``), and pods of one service are averaged.

Several files, or services of a long file, are laid on one grid: the median step of the first series, each row
falling into the step that holds it (means within a step), missing steps as gaps.

Call graph files: JSON ``{caller: [callee, ...]}`` or ``[[caller, callee], ...]``; a CSV edge list (columns
``source,target``, ``caller,callee``, ``from,to`` or ``parent,child``); or a CSV adjacency matrix (row calls
column, a non-zero cell is a call).  Every refusal names the file, the column and what was expected.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hx.clock import EARLIEST, LATEST
from hx.errors import BadInput
from hx.files import read_text
from hx.readers import Table, TimeAxis, axis_times, cells_to_floats, is_number, not_a_time, parse_time, read_table

FloatArray = npt.NDArray[np.float64]
Nested = dict[str, dict[str, FloatArray]]

#: columns that name the service (or pod) of each row in a long file
SERVICE_COLUMNS = ("service", "servicename", "service_name", "microservice", "pod", "podname", "pod_name", "node")
_POD_SUFFIX = re.compile(r"-[a-z0-9]{6,10}-[a-z0-9]{5}$|-[0-9]+$")
_EDGE_COLUMNS = (("source", "target"), ("caller", "callee"), ("from", "to"), ("parent", "child"))


@dataclass(frozen=True)
class MetricFrame:
    """Metrics on one time axis: ``flat`` (``{"service_metric": values}``, wide files) or ``nested``
    (``{service: {metric: values}}``), never both."""

    timestamps: FloatArray
    flat: dict[str, FloatArray]
    nested: Nested

    @property
    def series(self) -> dict[str, FloatArray] | Nested:
        """What :func:`hx.heal.rca.rank_root_causes` takes."""
        return self.nested or self.flat

    def clip(self, start: float | None, end: float | None) -> MetricFrame:
        """The rows from ``start`` to ``end`` (Unix seconds, both inclusive; ``None``: open)."""
        lo = -math.inf if start is None else start
        hi = math.inf if end is None else end
        keep = (self.timestamps >= lo) & (self.timestamps <= hi)
        if not keep.any():  # the times as times (it said "(1.89346e+09 .. inf)"), and what the files cover
            asked = f"{iso_or_row(start) if start is not None else 'the first row'} .. " + (
                iso_or_row(end) if end is not None else "the last row"
            )
            ts = self.timestamps
            have = (
                f"; the files cover {iso_or_row(float(ts.min()))} .. {iso_or_row(float(ts.max()))}" if ts.size else ""
            )
            raise BadInput(f"no metric rows between --start and --end ({asked}){have}", field="--start")
        return MetricFrame(
            self.timestamps[keep],
            {k: v[keep] for k, v in self.flat.items()},
            {s: {m: v[keep] for m, v in ms.items()} for s, ms in self.nested.items()},
        )


def workload_of(pod: str) -> str:
    """A Kubernetes pod's workload name (``cartservice-579f59597d-wc2lz`` -> ``cartservice``); others as given."""
    return _POD_SUFFIX.sub("", pod.strip()) or pod.strip()


def _files(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted([*p.glob("*.csv"), *p.glob("*.csv.gz")])
            if not found:
                raise BadInput(f"{p}: a folder with no *.csv or *.csv.gz files", field="path", file=str(p))
            out.extend(found)
        else:
            out.append(p)
    return out


def _cells_to_floats(table: Table, rows: Sequence[Sequence[str]], j: int, name: str, first: int) -> FloatArray:
    return cells_to_floats(table.path, [r[j] if j < len(r) else "" for r in rows], name, first)


def _header_rows(table: Table) -> int:
    """How many of the rows after the header are further header rows (no number after their first cell)."""
    n = 0
    for r in table.rows:
        cells = [c.strip() for c in r[1:] if c.strip()]
        if any(is_number(c) for c in cells):
            break
        n += 1
    return n if n < len(table.rows) else 0


def _numeric(table: Table, j: int, rows: Sequence[Sequence[str]]) -> bool:
    """A metric column: numbers among its first cells (a stray word in it is then named by its row)."""
    cells = [r[j].strip() for r in rows[:50] if j < len(r) and r[j].strip()]
    return any(is_number(c) for c in cells)


def _multi_header(table: Table, extra: int) -> tuple[FloatArray, Nested]:
    """PetShop's shape: header rows service / metric [/ statistic ...] and the time in the first column."""
    heads = [table.header, *table.rows[:extra]]
    data = table.rows[extra:]
    first = table.first_line + extra
    ts = np.full(len(data), math.nan)
    for i, r in enumerate(data):
        try:
            ts[i] = parse_time(r[0])
        except ValueError as err:
            raise BadInput(
                f"{table.path}: row {first + i}, column 1: {not_a_time(r[0], err)} "
                "(the first column holds the time under header rows)",
                field="column 1",
                file=str(table.path),
            ) from None
    nested: Nested = {}
    for j in range(1, len(table.header)):
        parts = [h[j].strip() if j < len(h) else "" for h in heads]
        service, metric = parts[0], "_".join(p for p in parts[1:] if p)
        if not service or not metric:
            raise BadInput(
                f"{table.path}: column {j + 1}: the header rows give service {service!r} and metric {metric!r}; "
                "expected both (rows: service, metric[, statistic])",
                field=f"column {j + 1}",
                file=str(table.path),
            )
        nested.setdefault(service, {})[metric] = _cells_to_floats(table, data, j, f"{service}/{metric}", first)
    return ts, nested


def _long(table: Table, axis: TimeAxis, svc_col: str) -> list[tuple[FloatArray, Nested]]:
    """A service (or pod) column: one group of rows per workload."""
    ts, tcol = axis_times(table, axis, exclude=(svc_col,))
    s = table.header.index(svc_col)
    rows = table.rows
    cols = [(j, h) for j, h in enumerate(table.header) if h not in (svc_col, tcol) and _numeric(table, j, rows)]
    if not cols:
        raise BadInput(
            f"{table.path}: no numeric metric column beside {svc_col!r} and the time",
            field="columns",
            file=str(table.path),
        )
    names = [workload_of(r[s]) if s < len(r) else "" for r in rows]
    out: list[tuple[FloatArray, Nested]] = []
    for name in dict.fromkeys(names):
        pick = np.array([n == name for n in names])
        sub = [r for r, k in zip(rows, pick, strict=True) if k]
        metrics = {h: _cells_to_floats(table, sub, j, h, table.first_line) for j, h in cols}
        out.append((ts[pick], {name or table.path.stem: metrics}))
    return out


def _wide(table: Table, axis: TimeAxis) -> tuple[FloatArray, dict[str, FloatArray]]:
    ts, tcol = axis_times(table, axis)
    flat = {
        h: _cells_to_floats(table, table.rows, j, h, table.first_line)
        for j, h in enumerate(table.header)
        if h != tcol and _numeric(table, j, table.rows)
    }
    if not flat:
        raise BadInput(
            f"{table.path}: no numeric metric columns (columns: {', '.join(table.header)}); expected a time "
            "column and service_metric columns",
            field="columns",
            file=str(table.path),
        )
    return ts, flat


def _service_column(table: Table) -> str | None:
    low = {h.lower(): h for h in table.header}
    return next((low[n] for n in SERVICE_COLUMNS if n in low), None)


def _step(ts: FloatArray) -> float:
    d = np.diff(np.unique(ts[np.isfinite(ts)]))
    return float(np.median(d)) if d.size else 1.0


def _on_grid(
    groups: Sequence[tuple[FloatArray, dict[str, FloatArray]]], step: float
) -> tuple[FloatArray, list[dict[str, FloatArray]]]:
    """Each group's columns averaged into the ``step`` that holds each row, on the union of steps."""
    keys = [np.floor(ts / step) for ts, _ in groups]
    grid = np.unique(np.concatenate(keys))
    out: list[dict[str, FloatArray]] = []
    for k, (_, cols) in zip(keys, groups, strict=True):
        idx = np.searchsorted(grid, k)
        laid: dict[str, FloatArray] = {}
        for name, v in cols.items():
            ok = np.isfinite(v)
            total = np.bincount(idx[ok], weights=v[ok], minlength=grid.size)
            count = np.bincount(idx[ok], minlength=grid.size)
            laid[name] = np.where(count > 0, total / np.maximum(count, 1), math.nan)
        out.append(laid)
    return grid * step, out


def read_metrics(
    paths: Iterable[str | Path], axis: TimeAxis | None = None, *, skip: Iterable[str | Path] = ()
) -> MetricFrame:
    """Per-service metrics from files or folders in any of the module's three shapes; ``skip``: files of a folder
    that are not metrics (the call graph given beside them)."""
    axis = axis or TimeAxis()
    flat_groups: list[tuple[FloatArray, dict[str, FloatArray]]] = []
    nested_groups: list[tuple[FloatArray, Nested]] = []
    shapes: dict[str, Path] = {}
    leave = {Path(p).resolve() for p in skip}
    for f in _files(paths):
        if f.resolve() in leave:
            continue
        table = read_table(f)
        if not table.rows:
            raise BadInput(f"{f}: no metric rows after the header", field="path", file=str(f))
        extra = _header_rows(table)
        svc = _service_column(table)
        if extra:
            nested_groups.append(_multi_header(table, extra))
        elif svc is not None:
            nested_groups.extend(_long(table, axis, svc))
        else:
            flat_groups.append(_wide(table, axis))
        shapes.setdefault("service_metric columns" if not extra and svc is None else "per-service rows", f)
    if not flat_groups and not nested_groups:
        raise BadInput("no metric files given (only the call graph)", field="path")
    if flat_groups and nested_groups:
        named = "; ".join(f"{shape} in {f}" for shape, f in shapes.items())
        raise BadInput(f"metric files mix two shapes ({named}); give files of one shape", field="path")
    if flat_groups:
        step = _step(flat_groups[0][0])
        if len(flat_groups) == 1:
            ts, cols = flat_groups[0]
            order = np.argsort(ts, kind="stable")
            return MetricFrame(ts[order], {k: v[order] for k, v in cols.items()}, {})
        grid, laid = _on_grid(flat_groups, step)
        return MetricFrame(grid, {k: v for cols in laid for k, v in cols.items()}, {})
    return _nested_frame(nested_groups)


def _nested_frame(groups: list[tuple[FloatArray, Nested]]) -> MetricFrame:
    step = _step(groups[0][0])
    pooled: dict[str, list[tuple[FloatArray, dict[str, FloatArray]]]] = {}
    for ts, nested in groups:
        for svc, metrics in nested.items():
            pooled.setdefault(svc, []).append((ts, metrics))
    flat_in = [(ts, {f"{svc}\x00{m}": v for m, v in ms.items()}) for svc, parts in pooled.items() for ts, ms in parts]
    grid, laid = _on_grid(flat_in, step)
    sums: dict[str, list[FloatArray]] = {}
    for cols in laid:
        for k, v in cols.items():
            sums.setdefault(k, []).append(v)
    out: Nested = {}
    for k, vs in sums.items():
        svc, _, m = k.partition("\x00")
        with np.errstate(all="ignore"):
            stack = np.vstack(vs)
            n = np.isfinite(stack).sum(axis=0)
            mean = np.where(n > 0, np.nansum(stack, axis=0) / np.maximum(n, 1), math.nan)
        out.setdefault(svc, {})[m] = mean
    return MetricFrame(grid, {}, out)


def read_graph(path: str | Path) -> dict[str, list[str]]:
    """A call graph ``{caller: [callees]}`` from JSON, a CSV edge list or a CSV adjacency matrix."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        return _graph_json(p)
    table = read_table(p)
    low = {h.lower(): h for h in table.header}
    for a, b in _EDGE_COLUMNS:
        if a in low and b in low:
            graph: dict[str, list[str]] = {}
            for caller, callee in zip(table.column(low[a]), table.column(low[b]), strict=True):
                if caller and callee:
                    graph.setdefault(caller, []).append(callee)
            return graph
    return _graph_matrix(table)


def _graph_json(p: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(read_text(p))
    except json.JSONDecodeError as err:
        raise BadInput(f"{p}: not JSON ({err})", field="--graph", file=str(p)) from err
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        return {str(k): [str(c) for c in v] for k, v in data.items()}
    if isinstance(data, list) and all(isinstance(e, list) and len(e) >= 2 for e in data):
        graph: dict[str, list[str]] = {}
        for e in data:
            graph.setdefault(str(e[0]), []).append(str(e[1]))
        return graph
    raise BadInput(f"{p}: expected {{caller: [callee, ...]}} or [[caller, callee], ...]", field="--graph", file=str(p))


def _graph_matrix(table: Table) -> dict[str, list[str]]:
    callees = table.header[1:]
    rows = {r[0].strip(): r[1:] for r in table.rows if r}
    if not callees or not set(rows) & set(callees):
        raise BadInput(
            f"{table.path}: not a call graph: expected an edge list (columns source,target / caller,callee / "
            "from,to) or an adjacency matrix (first column and header naming the same services, row calls column)",
            field="--graph",
            file=str(table.path),
        )
    graph: dict[str, list[str]] = {}
    for caller, cells in rows.items():
        for callee, cell in zip(callees, cells, strict=False):
            try:
                called = float(cell or 0) != 0
            except ValueError:
                raise BadInput(
                    f"{table.path}: row {caller!r}, column {callee!r}: {cell!r} is not a number (0 = no call)",
                    field=callee,
                    file=str(table.path),
                ) from None
            if called and callee != caller:
                graph.setdefault(caller, []).append(callee)
    return graph


def iso_or_row(t: float | None) -> str:
    """A time as RCA shows it: ISO 8601 in UTC, ``t=N`` when it is no Unix time (a row number), ``-`` when none.

    >>> iso_or_row(1_700_000_000.0), iso_or_row(-99_999_999_999.0), iso_or_row(None)
    ('2023-11-14T22:13:20Z', 't=-1e+11', '-')
    """
    if t is None or not math.isfinite(t):
        return "-"
    if not EARLIEST.timestamp() <= t <= LATEST.timestamp():
        return f"t={t:g}"
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
