"""Real traffic traces (NASA HTTP 1995, Alibaba 2018, Azure VM v2) and the traffic shapes built from them.

``load_trace(name, data_dir)`` reads one of the shared traces as ``(timestamps, values)`` (unix seconds, UTC;
NaN where the trace has no data: the NASA gap and outage rows flagged in its ``status`` column).
:class:`TrafficShape` turns a series into a cyclic, mean-1 multiplier of a service's base request rate.
``default_shape()`` is the small weekly profile vendored in ``hx/sim/data`` (derived from the public
NASA KSC HTTP 1995 log), so the simulator runs without the shared data folder.
"""

from __future__ import annotations

import csv
import gzip
import os
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

import numpy as np

from hx.errors import BadInput, NotFound, UnknownName
from hx.telemetry.base import FloatArray

TRACE_NAMES: tuple[str, ...] = ("nasa", "alibaba", "azure")
WEEK_S = 7 * 86400.0
#: 1970-01-05T00:00Z was a Monday: the origin of time-of-week.
MONDAY_EPOCH = 4 * 86400.0

_FILES = {
    "nasa": "traces/nasa-http-1995/nasa_http_1995_requests_per_minute.csv",
    "alibaba": "traces/alibaba2018/machine_usage_days_1_to_8_grouped_300_seconds.csv",
    "alibaba30": "traces/alibaba2018/machine_usage_days_1_to_8_grouped_30_seconds.csv",
    "azure": "traces/azure-vm-v2/vm_cpu_readings_month_aggregated_cpu_mem.csv",
}
#: Alibaba 2018 starts on day 1 of its 8 days; we anchor row 0 at an arbitrary Monday midnight UTC.
_ALIBABA_T0 = 1_514_764_800.0 + 0 * 86400.0  # 2018-01-01T00:00Z (a Monday); the trace has no absolute time
_AZURE_T0 = 1_572_825_600.0  # 2019-11-04T00:00Z (a Monday); the trace's timestamps are offsets in seconds


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The shared data folder: ``data_dir``, else ``$HX_DATA_DIR``, else ``<repo>/../shared/data``."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get("HX_DATA_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[3]
    return repo.parent / "shared" / "data"


def trace_path(name: str, data_dir: str | Path | None = None) -> Path:
    """The file of a named trace; NotFound (with a fix) when the data folder lacks it."""
    if name not in _FILES:
        raise UnknownName("trace", name, list(_FILES))
    path = resolve_data_dir(data_dir) / _FILES[name]
    if not path.exists():
        raise NotFound(
            f"trace {name!r} not found at {path}; set HX_DATA_DIR to the shared data folder "
            "or use the vendored profile (trace='profile')",
            path=str(path),
        )
    return path


def load_trace(name: str, data_dir: str | Path | None = None) -> tuple[FloatArray, FloatArray]:
    """``(timestamps, values)`` of a named trace: ``nasa`` (requests per minute), ``alibaba`` (cluster cpu %,
    300 s; ``alibaba30`` for 30 s) or ``azure`` (fleet cpu usage, 300 s). Flagged NASA rows are NaN."""
    path = trace_path(name, data_dir)
    if name == "nasa":
        return _load_nasa(path)
    if name.startswith("alibaba"):
        values = _read_column(path, "cpu_util_percent")
        step = 300.0 if name == "alibaba" else 30.0
        return _ALIBABA_T0 + step * np.arange(values.size, dtype=np.float64), values
    values = _read_column(path, "cpu_usage")
    offsets = _read_column(path, "timestamp")
    return _AZURE_T0 + offsets, values


def _open_text(path: Path) -> list[list[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        return list(csv.reader(fh))


def _read_column(path: Path, column: str) -> FloatArray:
    rows = _open_text(path)
    header = [h.strip() for h in rows[0]]
    if column not in header:
        raise BadInput(f"{path}: no column {column!r} (has {header})", field=column)
    k = header.index(column)
    out = np.full(len(rows) - 1, np.nan)
    for i, row in enumerate(rows[1:]):
        cell = row[k].strip() if k < len(row) else ""
        if cell and cell.lower() != "nan":
            out[i] = float(cell)
    return out


def _load_nasa(path: Path) -> tuple[FloatArray, FloatArray]:
    rows = _open_text(path)[1:]
    ts = np.empty(len(rows))
    vals = np.full(len(rows), np.nan)
    for i, (stamp, requests, status) in enumerate(r[:3] for r in rows):
        ts[i] = datetime.fromisoformat(stamp.strip()).timestamp()
        if status.strip() == "ok" and requests.strip():
            vals[i] = float(requests)
    return ts, vals


def resample(timestamps: FloatArray, values: FloatArray, step: float) -> tuple[FloatArray, FloatArray]:
    """Mean of the non-NaN values in each ``step``-second bucket (NaN where a bucket has none).

    >>> t, v = resample(np.arange(4) * 60.0, np.array([1.0, 3.0, np.nan, 5.0]), 120.0)
    >>> v.tolist()
    [2.0, 5.0]
    """
    if step <= 0:
        raise BadInput("step must be > 0 seconds", field="step")
    start = float(timestamps[0])
    idx = ((timestamps - start) // step).astype(np.int64)
    n = int(idx[-1]) + 1
    ok = ~np.isnan(values)
    sums = np.bincount(idx[ok], weights=values[ok], minlength=n)
    counts = np.bincount(idx[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return start + step * np.arange(n, dtype=np.float64), out


def weekly_profile(
    timestamps: FloatArray, values: FloatArray, bins: int = 336, utc_offset_s: float = 0.0
) -> FloatArray:
    """Mean value per time-of-week bin (Monday 00:00 first, in local time = UTC + ``utc_offset_s``), mean 1."""
    tow = np.mod(timestamps + utc_offset_s - MONDAY_EPOCH, WEEK_S)
    idx = np.minimum((tow / (WEEK_S / bins)).astype(np.int64), bins - 1)
    ok = ~np.isnan(values)
    sums = np.bincount(idx[ok], weights=values[ok], minlength=bins)
    counts = np.bincount(idx[ok], minlength=bins)
    if (counts == 0).any():
        raise BadInput(f"trace does not cover every one of the {bins} time-of-week bins", field="bins")
    prof = sums / counts
    return np.asarray(prof / prof.mean(), dtype=np.float64)


def noise_sigma(timestamps: FloatArray, values: FloatArray, profile: FloatArray, utc_offset_s: float = 0.0) -> float:
    """Std of log(value / profile level): how far the trace strays from its weekly shape (the simulation adds
    it back as a slowly varying lognormal factor)."""
    shape = TrafficShape(profile, WEEK_S / profile.size, origin=MONDAY_EPOCH - utc_offset_s)
    ok = ~np.isnan(values) & (values > 0)
    level = shape.at(timestamps[ok]) * np.nanmean(values)
    resid = np.log(values[ok] / level)
    return float(np.std(resid - np.mean(resid)))


@dataclass(frozen=True, eq=False)
class TrafficShape:
    """A cyclic, mean-1 multiplier of a base rate, linearly interpolated between samples.

    ``values[k]`` is the level at ``origin + k * step_s`` (bin centres are shifted by half a step);
    the cycle length is ``len(values) * step_s``; ``sigma`` is the lognormal per-step noise to add.

    >>> s = TrafficShape(np.array([0.5, 1.5]), 3600.0, origin=0.0)
    >>> [round(float(x), 2) for x in s.at(np.array([1800.0, 3600.0, 5400.0]))]
    [0.5, 1.0, 1.5]
    """

    values: FloatArray
    step_s: float
    origin: float = MONDAY_EPOCH
    sigma: float = 0.0
    name: str = "custom"
    #: True for a replayed trace: the simulation moves ``origin`` to its start time so replay starts there.
    anchored: bool = False

    def __post_init__(self) -> None:
        if self.values.ndim != 1 or self.values.size < 2:
            raise BadInput("a traffic shape needs at least two values", field="values")
        if np.isnan(self.values).any():
            raise BadInput("a traffic shape cannot hold NaN; fill gaps first (fill_gaps)", field="values")
        if self.step_s <= 0:
            raise BadInput("step_s must be > 0", field="step_s")

    @property
    def period_s(self) -> float:
        return float(self.values.size * self.step_s)

    def at(self, t: FloatArray) -> FloatArray:
        """The level at unix times ``t`` (any shape)."""
        pos = np.mod(np.asarray(t, dtype=np.float64) - self.origin - self.step_s / 2.0, self.period_s) / self.step_s
        lo = np.floor(pos).astype(np.int64)
        frac = pos - lo
        hi = (lo + 1) % self.values.size
        return np.asarray(self.values[lo] * (1.0 - frac) + self.values[hi] * frac, dtype=np.float64)


def fill_gaps(timestamps: FloatArray, values: FloatArray, utc_offset_s: float = 0.0) -> FloatArray:
    """Replace NaN samples by the trace's own time-of-week mean level (hourly bins) at that time."""
    if not np.isnan(values).any():
        return values
    prof = weekly_profile(timestamps, values, bins=168, utc_offset_s=utc_offset_s) * np.nanmean(values)
    shape = TrafficShape(prof, 3600.0, origin=MONDAY_EPOCH - utc_offset_s)
    return np.where(np.isnan(values), shape.at(timestamps), values)


_NATIVE_STEP = {"nasa": 60.0, "alibaba": 300.0, "alibaba30": 30.0, "azure": 300.0}


def trace_shape(name: str, data_dir: str | Path | None = None, step_s: float = 60.0) -> TrafficShape:
    """A replayable shape from a whole trace, resampled to ``step_s`` (at least the trace's own step), gaps
    filled, normalised to mean 1.

    The shape is anchored: the simulation replays it from its own start time. The NASA trace (which has
    real dates) is rotated to begin on its first Monday 00:00 local time, so a simulation that starts on
    a Monday keeps weekdays and weekends where they were.
    """
    ts, vals = load_trace(name, data_dir)
    offset = -4 * 3600.0 if name == "nasa" else 0.0
    step = max(step_s, _NATIVE_STEP[name])
    rt, rv = resample(ts, vals, step)
    filled = np.maximum(fill_gaps(rt, rv, utc_offset_s=offset), 0.0)
    if name == "nasa":
        tow = np.mod(rt + offset - MONDAY_EPOCH, WEEK_S)
        first_monday = int(np.argmax(tow < step))
        filled = np.roll(filled, -first_monday)
    return TrafficShape(filled / filled.mean(), step, origin=0.0, sigma=0.0, name=name, anchored=True)


def _vendored_path() -> Path:
    return Path(str(resources.files("hx.sim") / "data" / "nasa_weekly_profile.csv"))


def default_shape() -> TrafficShape:
    """The vendored weekly profile (336 half-hour levels, mean 1; derived from the public NASA KSC HTTP 1995 log)."""
    sigma = 0.0
    levels: list[float] = []
    with _vendored_path().open() as fh:
        for line in fh:
            line = line.strip()
            if line.startswith("# sigma="):
                sigma = float(line.split("=", 1)[1])
            elif line and not line.startswith("#") and not line.startswith("bin"):
                levels.append(float(line.split(",")[1]))
    return TrafficShape(np.array(levels), WEEK_S / len(levels), origin=MONDAY_EPOCH, sigma=sigma, name="profile")


def shape_for(trace: str, data_dir: str | Path | None = None, step_s: float = 60.0) -> TrafficShape:
    """``"profile"`` (vendored, no data needed) or one of :data:`TRACE_NAMES` replayed from the shared data."""
    if trace == "profile":
        return default_shape()
    if trace not in TRACE_NAMES:
        raise UnknownName("trace", trace, ["profile", *TRACE_NAMES])
    return trace_shape(trace, data_dir, step_s=step_s)


def derive_vendored_profile(data_dir: str | Path | None = None, bins: int = 336) -> tuple[FloatArray, float]:
    """Recompute the vendored profile and noise figure from the NASA trace (what ``data/`` was built with)."""
    ts, vals = load_trace("nasa", data_dir)
    offset = -4 * 3600.0  # the log is in US Eastern daylight time
    prof = weekly_profile(ts, vals, bins=bins, utc_offset_s=offset)
    rt, rv = resample(ts, vals, 600.0)  # deviations from the weekly shape that last, not per-minute count noise
    return prof, noise_sigma(rt, rv, prof, utc_offset_s=offset)


def write_vendored_profile(path: Path, profile: FloatArray, sigma: float) -> None:
    lines = [
        "# Weekly request-rate profile, 336 half-hour bins from Monday 00:00, normalised to mean 1.",
        "# Derived from the public NASA KSC HTTP 1995 log (requests per minute, Jul-Aug 1995, US Eastern time;",
        "# gap and outage minutes excluded) by hx.sim.traces.derive_vendored_profile.",
        "# sigma = std of log(10-minute rate / profile level), the trace's departures from its weekly shape.",
        f"# sigma={sigma:.4f}",
        "bin,level",
        *(f"{k},{v:.4f}" for k, v in enumerate(profile)),
    ]
    path.write_text("\n".join(lines) + "\n")
