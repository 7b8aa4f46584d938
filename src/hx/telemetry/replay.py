"""ReplaySource: signals read from CSV files (a user's export, or test data).

Two layouts, told apart by the header (``.csv`` or ``.csv.gz``; the first row is the header):

**Long** (the header has ``signal`` and ``value``)::

    timestamp,service,signal,value[,instance]
    2026-01-01T00:00:00Z,api,cpu_utilization,0.42
    1767225660,api,cpu_utilization,0.44

**Wide** (any other header: ``timestamp``, optional ``service`` and ``instance``, then one column per
signal)::

    timestamp,service,cpu_utilization,request_rate
    1767225600,api,0.42,120

Without a ``service`` column the service is the file name without ``.csv`` / ``.csv.gz``.

Rules:

- ``timestamp``: unix seconds, or ISO-8601 (without an offset it is taken as UTC).
- a value that is empty, ``nan`` or ``NaN`` is an explicit gap; a row without an ``instance`` (or an
  empty one) is service-level, a row with one is per-instance (:meth:`ReplaySource.signal_by`).
- a *garbage row* (wrong number of cells, a timestamp or value that does not parse, an empty service
  or a bad signal name) raises :class:`~hx.errors.BadInput` naming the file and line; with
  ``on_bad_row="skip"`` it is skipped instead and listed in :attr:`ReplaySource.skipped`.
  A bad header always raises.
- when two rows give the same service, signal, instance and timestamp, the later row wins
  (counted in :attr:`ReplaySource.duplicates`).
- a read puts each sample on the nearest step-grid point within half a step; a step with no row is
  NaN, never an interpolated value.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hx.errors import BadInput, EmptyResult, NotFound, Unsupported
from hx.files import not_text
from hx.readers import not_a_time, parse_time
from hx.telemetry.base import FloatArray, Series, SourceCapability, SourceHealth
from hx.telemetry.common import align_to_grid, step_grid, to_unix

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]*$")
_LONG_COLUMNS = ("timestamp", "service", "signal", "value", "instance")
_GAPS = frozenset({"", "nan", "NaN", "NAN"})

#: (service, signal, instance or "") -> {timestamp: value}
_Key = tuple[str, str, str]


@dataclass(frozen=True)
class SkippedRow:
    """A garbage row that ``on_bad_row="skip"`` left out."""

    file: str
    line: int
    reason: str


class _BadRow(Exception):
    """Internal: a row that does not parse (turned into BadInput or a SkippedRow)."""


def _parse_time(raw: str) -> float:
    """Unix seconds (or milliseconds ... nanoseconds) or ISO 8601 (naive = UTC), within 1970..3000 UTC: a row
    timed ``nan``, ``1e300`` or in year 9999 was taken as it was and made every query of its series fail."""
    try:
        return parse_time(raw.strip())
    except ValueError as err:
        raise _BadRow(f"timestamp {not_a_time(raw, err)}") from None


def _parse_value(raw: str, column: str) -> float:
    text = raw.strip()
    if text in _GAPS:
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise _BadRow(f"{column} {raw!r} is not a number") from None


def _open(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _service_from_name(path: Path) -> str:
    name = path.name
    for suffix in (".csv.gz", ".csv"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


class ReplaySource:
    """A SignalSource over CSV files (layouts in the module docstring).

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = os.path.join(d, "api.csv")
    >>> _ = open(p, "w").write("timestamp,cpu_utilization\\n0,0.5\\n120,0.7\\n")
    >>> src = ReplaySource([p])
    >>> src.services()
    ['api']
    >>> s = src.signal("api", "cpu_utilization", datetime.fromtimestamp(0, UTC), datetime.fromtimestamp(120, UTC), 60)
    >>> s.values.tolist()
    [0.5, nan, 0.7]
    """

    def __init__(self, paths: Iterable[str | Path], *, on_bad_row: Literal["error", "skip"] = "error") -> None:
        if on_bad_row not in ("error", "skip"):
            raise BadInput(f"on_bad_row must be 'error' or 'skip', got {on_bad_row!r}", field="on_bad_row")
        self.on_bad_row = on_bad_row
        self.files = [Path(p) for p in paths]
        self.skipped: list[SkippedRow] = []
        self.duplicates = 0
        self._data: dict[_Key, dict[float, float]] = {}
        for path in self.files:
            self._load(path)
        self._arrays: dict[_Key, tuple[FloatArray, FloatArray]] = {}
        for key, points in self._data.items():
            ts = np.array(sorted(points), dtype=np.float64)
            self._arrays[key] = (ts, np.array([points[t] for t in ts.tolist()], dtype=np.float64))

    @classmethod
    def from_path(cls, path: str | Path, *, on_bad_row: Literal["error", "skip"] = "error") -> ReplaySource:
        """One CSV file, or every ``*.csv`` / ``*.csv.gz`` file in a directory (sorted by name)."""
        p = Path(path)
        if p.is_dir():
            files = sorted([*p.glob("*.csv"), *p.glob("*.csv.gz")])
            if not files:
                raise NotFound(f"no *.csv or *.csv.gz files in {p}", file=str(p))
            return cls(files, on_bad_row=on_bad_row)
        return cls([p], on_bad_row=on_bad_row)

    # ---- loading ----------------------------------------------------------------------

    def _load(self, path: Path) -> None:
        if not path.is_file():
            raise NotFound(f"replay file {path} does not exist", file=str(path))
        before = len(self.skipped)
        try:
            with _open(path) as fh:
                self._read(path, csv.reader(fh))
        except UnicodeDecodeError as err:
            raise BadInput(f"{path}: {not_text(err)}", file=str(path)) from err
        except (gzip.BadGzipFile, EOFError) as err:
            raise BadInput(f"{path}: not a gzip file, or a truncated one ({err})", file=str(path)) from err
        n_skipped = len(self.skipped) - before
        if n_skipped:
            log.warning("%s: skipped %d garbage row(s); first at line %d", path, n_skipped, self.skipped[before].line)

    def _read(self, path: Path, reader: Any) -> None:
        header = next(reader, None)
        if header is None:
            raise BadInput(f"{path}: empty file; expected a header row", file=str(path), line=1)
        columns = [c.strip() for c in header]
        rows = self._rows_long(path, columns, reader) if {"signal", "value"} <= set(columns) else None
        if rows is None:
            rows = self._rows_wide(path, columns, reader)
        for key, ts, value in rows:
            bucket = self._data.setdefault(key, {})
            if ts in bucket:
                self.duplicates += 1
            bucket[ts] = value

    def _bad(self, path: Path, line: int, reason: str) -> None:
        if self.on_bad_row == "error":
            raise BadInput(
                f"{path}, line {line}: {reason} (pass on_bad_row='skip' to skip such rows)",
                file=str(path),
                line=line,
            )
        self.skipped.append(SkippedRow(str(path), line, reason))

    def _records(self, path: Path, ncols: int, reader: Any) -> Iterator[tuple[int, list[str]]]:
        for row in reader:
            line: int = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != ncols:
                self._bad(path, line, f"{len(row)} cells, header has {ncols}")
                continue
            yield line, row

    def _rows_long(self, path: Path, columns: list[str], reader: Any) -> Iterator[tuple[_Key, float, float]]:
        unknown = sorted(set(columns) - set(_LONG_COLUMNS))
        missing = [c for c in ("timestamp", "service") if c not in columns]
        if unknown or missing:
            raise BadInput(
                f"{path}: long-format header {columns} "
                + (f"has unknown column(s) {unknown}" if unknown else f"lacks {missing}")
                + f"; expected {', '.join(_LONG_COLUMNS[:4])}[, instance]",
                file=str(path),
                line=1,
            )
        col = {c: i for i, c in enumerate(columns)}
        for line, row in self._records(path, len(columns), reader):
            try:
                service, signal = row[col["service"]].strip(), row[col["signal"]].strip()
                instance = row[col["instance"]].strip() if "instance" in col else ""
                if not service:
                    raise _BadRow("empty service")
                if not _NAME.match(signal):
                    raise _BadRow(f"signal {signal!r} is not a name")
                ts = _parse_time(row[col["timestamp"]])
                value = _parse_value(row[col["value"]], "value")
            except _BadRow as err:
                self._bad(path, line, str(err))
                continue
            yield (service, signal, instance), ts, value

    def _rows_wide(self, path: Path, columns: list[str], reader: Any) -> Iterator[tuple[_Key, float, float]]:
        if "timestamp" not in columns:
            raise BadInput(
                f"{path}: header {columns} has no 'timestamp' column; expected the long layout "
                "(timestamp,service,signal,value) or the wide one (timestamp[,service][,instance],<signal>...)",
                file=str(path),
                line=1,
            )
        fixed = {"timestamp", "service", "instance"}
        signals = [(i, c) for i, c in enumerate(columns) if c not in fixed]
        bad = [c for _, c in signals if not _NAME.match(c)]
        if bad or not signals or len(set(columns)) != len(columns):
            why = f"bad signal column name(s) {bad}" if bad else "no signal columns or a repeated column"
            raise BadInput(f"{path}: wide-format header {columns}: {why}", file=str(path), line=1)
        col = {c: i for i, c in enumerate(columns)}
        default_service = _service_from_name(path)
        for line, row in self._records(path, len(columns), reader):
            try:
                service = row[col["service"]].strip() if "service" in col else default_service
                instance = row[col["instance"]].strip() if "instance" in col else ""
                if not service:
                    raise _BadRow("empty service")
                ts = _parse_time(row[col["timestamp"]])
                values = [(name, _parse_value(row[i], name)) for i, name in signals]
            except _BadRow as err:
                self._bad(path, line, str(err))
                continue
            for name, value in values:
                yield (service, name, instance), ts, value

    # ---- SignalSource -----------------------------------------------------------------

    def capabilities(self) -> frozenset[SourceCapability]:
        return frozenset({SourceCapability.SIGNAL_BY, SourceCapability.HEALTH})

    def services(self) -> list[str]:
        return sorted({service for service, _, _ in self._arrays})

    def signals(self, service: str) -> list[str]:
        """The signals the files hold for a service."""
        self._check_service(service)
        return sorted({signal for svc, signal, _ in self._arrays if svc == service})

    def signal(self, service: str, name: str, start: datetime, end: datetime, step: float) -> Series:
        key = (service, name, "")
        if key not in self._arrays:
            self._check_signal(service, name)
            raise NotFound(
                f"the replay files hold {name!r} of {service!r} only per instance; use signal_by(..., 'instance')",
                service=service,
                signal=name,
            )
        grid = step_grid(to_unix(start, field="start"), to_unix(end, field="end"), step)
        values = self._aligned(key, grid, step)
        return Series(name, grid, values, {"service": service})

    def signal_by(self, service: str, name: str, by: str, start: datetime, end: datetime, step: float) -> list[Series]:
        """The named signal per instance (the only label replay files carry)."""
        if by != "instance":
            raise Unsupported(f"replay files carry only the 'instance' label, not {by!r}", field="by")
        self._check_signal(service, name)
        grid = step_grid(to_unix(start, field="start"), to_unix(end, field="end"), step)
        keys = sorted(k for k in self._arrays if k[0] == service and k[1] == name and k[2])
        if not keys:
            raise NotFound(f"the replay files hold no per-instance {name!r} of {service!r}", service=service)
        return [Series(name, grid, self._aligned(k, grid, step), {"service": service, "instance": k[2]}) for k in keys]

    def query(self, promql: str, start: datetime, end: datetime, step: float) -> list[Series]:
        raise Unsupported("a ReplaySource cannot run PromQL; read named signals with signal()", field="query")

    def health(self) -> SourceHealth:
        return SourceHealth(True, f"{len(self.files)} replay file(s), {len(self._arrays)} series")

    # ---- internals --------------------------------------------------------------------

    def _aligned(self, key: _Key, grid: FloatArray, step: float) -> FloatArray:
        ts, vs = self._arrays[key]
        values = align_to_grid(grid, step, ts, vs)
        if np.isnan(values).all():
            service, name, instance = key
            who = f"{service!r}" + (f" instance {instance!r}" if instance else "")
            raise EmptyResult(
                f"no data for signal {name!r} of service {who} in the requested range; "
                f"the replay files cover {_iso(ts[0])} to {_iso(ts[-1])}",
                service=service,
                signal=name,
            )
        return values

    def _check_service(self, service: str) -> None:
        known = self.services()
        if service not in known:
            raise NotFound(
                f"unknown service {service!r}; the replay files hold: {', '.join(known) or '(none)'}",
                service=service,
                valid=known,
            )

    def _check_signal(self, service: str, name: str) -> None:
        known = self.signals(service)
        if name not in known:
            raise NotFound(
                f"unknown signal {name!r} for service {service!r}; the replay files hold: {', '.join(known)}",
                service=service,
                signal=name,
                valid=known,
            )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()
