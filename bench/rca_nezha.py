"""Loader for Nezha's Online Boutique fault-injection data (metrics only) for ``bench/rca.py``.

Data: ``$HX_DATA_DIR/rca/nezha-ob`` (see its MANIFEST.md).  One case per injected fault in ``faults.csv``;
the ground truth is the fault's service (``root_cause_service``).  Per-pod metric files are mapped to their
service (the pod name without its two trailing hash parts) and joined on the minute (the floor of the
``Time`` column, which is right in every file; one adservice file has a shifted ``TimeStamp``).

For each fault the analysed window runs from 20 minutes before ``inject_time`` (never reaching back into the
previous fault's 3 minutes plus one minute) to 4 minutes after it; the alert time handed to the
ranking is ``inject_time``.  The normal-operation reference is the same day's fault-free part (from 30 minutes
after its last fault to the end of the day), as Sock Shop's ``normal.csv`` is for that dataset.  The call
graph is the service-to-service rows of ``dependency.csv``.  The callers' view of each call edge
(``source_50.csv``) is a metric of the callee.  Node-level columns are left out: several
services share a node, so a node metric names no single service.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: The per-pod metrics used (node-level columns are shared by co-located services and left out).
POD_METRICS = (
    "CpuUsageRate(%)",
    "MemoryUsageRate(%)",
    "SyscallRead",
    "SyscallWrite",
    "NetworkReceiveBytes",
    "NetworkTransmitBytes",
    "PodClientLatencyP90(s)",
    "PodServerLatencyP90(s)",
    "PodClientLatencyP95(s)",
    "PodServerLatencyP95(s)",
    "PodClientLatencyP99(s)",
    "PodServerLatencyP99(s)",
    "PodWorkload(Ops)",
    "PodSuccessRate(%)",
)
BEFORE_MIN = 20  # minutes of data before the injection in each case
AFTER_MIN = 4  # minutes of data after it (a fault lasts 3 minutes)
GAP_MIN = 4  # a case's window starts at least this long after the previous injection (a fault lasts 3 min)
NORMAL_AFTER_MIN = 30  # the normal reference starts this long after a day's last fault


@dataclass(frozen=True)
class NezhaDay:
    """One day's metrics as ``{service: {metric: values}}`` on a per-minute grid, and its call graph."""

    minutes: np.ndarray  # Unix seconds of each row (minute start)
    metrics: dict[str, dict[str, np.ndarray]]
    graph: dict[str, list[str]]


def service_of(pod: str) -> str:
    """``frontend-579b9bff58-t2dbm`` -> ``frontend`` (the two trailing hash parts removed, as Nezha does)."""
    return pod.rsplit("-", 2)[0]


def _minute(time_col: pd.Series) -> np.ndarray:
    stamps = pd.to_datetime(time_col.str.slice(0, 19), utc=True)
    secs = ((stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(dtype=np.int64)
    return np.asarray((secs // 60) * 60, dtype=np.int64)


def load_day(folder: Path) -> NezhaDay:
    """Read one ``<date>/metric`` folder into a :class:`NezhaDay` (rows: every minute the files cover)."""
    frames: dict[str, pd.DataFrame] = {}
    for path in sorted(folder.glob("*_metric.csv")):
        df = pd.read_csv(path)
        df.index = _minute(df["Time"])
        df = df[~df.index.duplicated(keep="last")]
        frames[service_of(path.name.removesuffix("_metric.csv"))] = df
    lo = min(int(f.index.min()) for f in frames.values())
    hi = max(int(f.index.max()) for f in frames.values())
    grid = np.arange(lo, hi + 60, 60, dtype=np.int64)
    metrics = {
        svc: {m: df[m].reindex(grid).to_numpy(dtype=float) for m in POD_METRICS if m in df.columns}
        for svc, df in frames.items()
    }
    for callee, series in _edge_latency(folder, grid).items():
        metrics.setdefault(callee, {}).update(series)
    dep = pd.read_csv(folder / "dependency.csv")
    graph: dict[str, list[str]] = {}
    for src, dst in zip(dep["Source"], dep["Target"], strict=True):
        if str(dst) in frames:
            graph.setdefault(str(src), []).append(str(dst))
    return NezhaDay(grid, metrics, graph)


def _edge_latency(folder: Path, grid: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """The callers' view of each call edge (``source_50.csv``, one ``caller_callee`` column per edge, most
    likely the median latency in seconds) as a metric of the callee, ``CallLatencyP50(s) from <caller>``: a
    network delay on a pod shows there, not in the pod's own metrics."""
    df = pd.read_csv(folder / "source_50.csv")
    df.index = _minute(df["time"])
    df = df[~df.index.duplicated(keep="last")].reindex(grid)
    out: dict[str, dict[str, np.ndarray]] = {}
    for col in df.columns:
        if "_" in col and col not in ("time", "timestamp"):
            caller, callee = col.split("_", 1)
            out.setdefault(callee, {})[f"CallLatencyP50(s) from {caller}"] = df[col].to_numpy(dtype=float)
    return out


def _slice(metrics: dict[str, dict[str, np.ndarray]], mask: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    return {s: {m: v[mask] for m, v in ms.items()} for s, ms in metrics.items()}


@dataclass(frozen=True)
class NezhaCase:
    """One fault: its window of metrics, the normal reference, the alert time and the truth."""

    fault_id: str
    fault_type: str
    truth: str
    metrics: dict[str, dict[str, np.ndarray]]
    timestamps: np.ndarray
    alert: float
    normal: dict[str, dict[str, np.ndarray]]
    graph: dict[str, list[str]]


def nezha_cases(root: Path) -> list[NezhaCase]:
    """Every fault of ``root/nezha-ob/faults.csv`` as a :class:`NezhaCase`, in time order."""
    base = root / "nezha-ob"
    faults = pd.read_csv(base / "faults.csv").sort_values("inject_time_unix")
    days = {d: load_day(base / d / "metric") for d in sorted(faults["date"].unique())}
    out: list[NezhaCase] = []
    prev: dict[str, float] = {}
    for _, f in faults.iterrows():
        day = days[f["date"]]
        t = float(f["inject_time_unix"])
        last = float(faults.loc[faults["date"] == f["date"], "inject_time_unix"].max())
        lo = max(t - BEFORE_MIN * 60, prev.get(f["date"], -np.inf) + GAP_MIN * 60)
        mask = (day.minutes >= lo) & (day.minutes <= t + AFTER_MIN * 60)
        normal = day.minutes >= last + NORMAL_AFTER_MIN * 60
        out.append(
            NezhaCase(
                str(f["fault_id"]),
                str(f["fault_type"]),
                str(f["root_cause_service"]),
                _slice(day.metrics, mask),
                day.minutes[mask].astype(float),
                t,
                _slice(day.metrics, normal),
                day.graph,
            )
        )
        prev[f["date"]] = t
    return out
