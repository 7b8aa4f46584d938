"""Input handling for root-cause analysis: turn the accepted shapes into one checked table.

The RCA entry point (:func:`hx.heal.rca.rank_root_causes`) accepts metrics as

* a nested mapping ``{service: {metric: values}}``,
* a flat mapping ``{"service_metric": values}``, or
* a 2-D frame (anything with ``columns`` and ``to_numpy()``, e.g. a pandas DataFrame) whose columns are
  named ``"service_metric"``.

Flat column names are split into service and metric by the longest known service name that prefixes the
column followed by ``_`` (known services come from the call graph or the ``services`` argument), else at
the first ``_`` -- so ``"carts-db_mem"`` is service ``carts-db``, metric ``mem``.

NaN values are gaps and are tolerated; infinite values, NaN timestamps, series of different lengths and
metrics with no value at all are refused with :class:`hx.errors.BadInput` naming the culprit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hx.errors import BadInput

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MetricTable:
    """Checked metrics: ``values[:, j]`` is metric ``metrics[j]`` of service ``services[j]``."""

    services: tuple[str, ...]
    metrics: tuple[str, ...]
    values: FloatArray

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    def keys(self) -> list[tuple[str, str]]:
        return list(zip(self.services, self.metrics, strict=True))


def split_column(column: str, known_services: Iterable[str] = ()) -> tuple[str, str]:
    """Split a ``"service_metric"`` column name into (service, metric).

    >>> split_column("carts-db_mem")
    ('carts-db', 'mem')
    >>> split_column("front_end_latency_p95", ["front_end"])
    ('front_end', 'latency_p95')
    """
    best = ""
    for svc in known_services:
        if len(svc) > len(best) and column.startswith(svc + "_") and len(column) > len(svc) + 1:
            best = svc
    if best:
        return best, column[len(best) + 1 :]
    if "_" not in column.strip("_"):
        raise BadInput(
            f"column {column!r} does not name a service and a metric; use 'service_metric' or a nested mapping",
            field=column,
        )
    head, _, tail = column.strip("_").partition("_")
    return head, tail


def _as_float_array(values: Any, where: str) -> FloatArray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise BadInput(f"{where}: values are not numbers ({err})", field=where) from err
    if arr.ndim != 1:
        raise BadInput(f"{where}: expected a 1-D series, got shape {arr.shape}", field=where)
    if np.isinf(arr).any():
        raise BadInput(f"{where}: contains infinite values; use NaN for a gap", field=where)
    return arr


def _flat_items(metrics: Any, known: Sequence[str]) -> list[tuple[str, str, Any]]:
    if hasattr(metrics, "columns") and hasattr(metrics, "to_numpy"):
        matrix = np.asarray(metrics.to_numpy(dtype=float))
        cols = [str(c) for c in metrics.columns]
        return [(*split_column(c, known), matrix[:, j]) for j, c in enumerate(cols)]
    if not isinstance(metrics, Mapping):
        raise BadInput(
            f"metrics must be a mapping or a 2-D frame with named columns, got {type(metrics).__name__}",
            field="metrics",
        )
    items: list[tuple[str, str, Any]] = []
    for key, val in metrics.items():
        if isinstance(val, Mapping):
            if not val:
                raise BadInput(f"service {key!r} has no metrics", field=str(key))
            items.extend((str(key), str(m), v) for m, v in val.items())
        else:
            items.append((*split_column(str(key), known), val))
    return items


def to_table(metrics: Any, known_services: Sequence[str] = (), *, name: str = "metrics") -> MetricTable:
    """Check ``metrics`` (any accepted shape) and return a :class:`MetricTable`.

    >>> t = to_table({"api": {"cpu": [1.0, 2.0]}, "db_mem": [3.0, 4.0]})
    >>> t.keys(), t.values.shape
    ([('api', 'cpu'), ('db', 'mem')], (2, 2))
    """
    items = _flat_items(metrics, known_services)
    if not items:
        raise BadInput(f"{name} is empty: give at least one service metric series", field=name)
    arrays = [_as_float_array(v, f"{name}[{s!r}][{m!r}]") for s, m, v in items]
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        first = len(arrays[0])
        odd = next(i for i, a in enumerate(arrays) if len(a) != first)
        raise BadInput(
            f"{name}: series have different lengths: {items[0][0]}/{items[0][1]} has {first} values but "
            f"{items[odd][0]}/{items[odd][1]} has {len(arrays[odd])}",
            field=f"{items[odd][0]}/{items[odd][1]}",
        )
    if lengths == {0}:
        raise BadInput(f"{name}: the series have no values", field=name)
    seen: set[tuple[str, str]] = set()
    for s, m, _ in items:
        if (s, m) in seen:
            raise BadInput(f"{name}: metric {m!r} of service {s!r} is given twice", field=f"{s}/{m}")
        seen.add((s, m))
    empty = [f"{s}/{m}" for (s, m, _), a in zip(items, arrays, strict=True) if np.isnan(a).all()]
    if len(empty) == len(arrays):
        raise BadInput(f"{name}: every series is all NaN; nothing to analyse", field=name)
    return MetricTable(
        services=tuple(s for s, _, _ in items),
        metrics=tuple(m for _, m, _ in items),
        values=np.column_stack(arrays),
    )


def _shown(keys: Sequence[tuple[str, str]], most: int = 8) -> str:
    names = [f"{s}_{m}" for s, m in keys]
    return ", ".join(names[:most]) + (f", ... ({len(names)} in all)" if len(names) > most else "")


def missing_from_normal(table: MetricTable, ref: MetricTable, name: str = "normal", field: str = "normal") -> list[str]:
    """The incident's metrics (``service_metric``) that the normal data ``ref`` lacks, in the incident's order;
    :class:`BadInput` naming ``name`` (the normal data, as the caller knows it) and ``field`` when it holds none of
    them: such a reference judges nothing, and every metric would be left out or judged without it.

    >>> incident = to_table({"api": {"cpu": [1.0], "mem": [2.0]}})
    >>> missing_from_normal(incident, to_table({"api": {"cpu": [1.0, 1.1]}}))
    ['api_mem']
    >>> missing_from_normal(incident, to_table({"zzz_cpu": [1.0]}), "--normal o.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hx.errors.BadInput: --normal o.csv: its metrics (zzz_cpu) match none of the incident's (api_cpu, api_mem); ...
    """
    have, want = set(ref.keys()), table.keys()
    if not have.intersection(want):
        raise BadInput(
            f"{name}: its metrics ({_shown(ref.keys())}) match none of the incident's ({_shown(want)}); "
            "give the same services' metrics in normal operation",
            field=field,
        )
    return [f"{s}_{m}" for s, m in want if (s, m) not in have]


def check_timestamps(timestamps: Any, n_rows: int) -> FloatArray:
    """Timestamps as floats (default ``0..n-1``): finite, strictly increasing, one per row."""
    if timestamps is None:
        return np.arange(n_rows, dtype=np.float64)
    ts = _as_float_array(timestamps, "timestamps")
    if len(ts) != n_rows:
        raise BadInput(f"timestamps: {len(ts)} timestamps but the series have {n_rows} values", field="timestamps")
    if np.isnan(ts).any():
        raise BadInput("timestamps: contains NaN; every row needs a time", field="timestamps")
    if n_rows > 1 and not np.all(np.diff(ts) > 0):
        raise BadInput("timestamps: must be strictly increasing", field="timestamps")
    return ts


def check_graph(graph: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    """The call graph as ``{caller: (callee, ...)}``; refuses a non-mapping or string callee lists."""
    if graph is None:
        return {}
    if not isinstance(graph, Mapping):
        raise BadInput("graph must map each service to the list of services it calls", field="graph")
    out: dict[str, tuple[str, ...]] = {}
    for caller, callees in graph.items():
        if isinstance(callees, str) or not isinstance(callees, Iterable):
            raise BadInput(f"graph[{caller!r}] must be a list of called services", field=f"graph.{caller}")
        out[str(caller)] = tuple(str(c) for c in callees if str(c) != str(caller))
    return out
