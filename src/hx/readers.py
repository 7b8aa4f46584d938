"""Time series and usage files as users export them: CSV with a time column, an index column, or none.

A file's time axis is one of:

- a **timestamp column** (``timestamp``, ``time``, ``ts``, ``date``, ``datetime`` or ``--time-column``): Unix
  seconds, Unix milliseconds (values above 10^11) or ISO 8601;
- an **index column** (a name containing ``index``, ``minute``, ``step`` or ``row``; or integers counting
  0, 1, 2 ...), which needs a declared step (``--step 60``): row *i* is ``start + i * step``;
- **no time column** with a declared step: the file's rows in order, one step apart.

Without a declared start, an index or untimed series is laid so that its first row falls at midnight UTC
and its last row within the day before now: hour-of-day patterns keep their phase and a forecast lands on
real, upcoming dates rather than in 1970.  Every refusal names the file, the column and what was
expected (:class:`~hx.errors.BadInput`, exit 2 from the CLI).
"""

from __future__ import annotations

import csv
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hx.clock import LATEST, OutsideEra, in_era, seconds_in_era
from hx.errors import BadInput
from hx.files import is_json, open_text

FloatArray = npt.NDArray[np.float64]

TIME_NAMES = ("timestamp", "time", "ts", "date", "datetime", "timestamp [ms]", "timestamp [s]")
_INDEX_NAME = re.compile(r"(index|minute|step|row|^i$|^n$|^t$)", re.I)
#: Unix seconds before this (1973-03-03) are not plausible wall-clock times: an index read as time
MIN_UNIX_S = 1e8
#: values above this are Unix milliseconds
MS_ABOVE = 1e11
#: a Unix time's unit from its size: (above, per second, name), largest first; seconds below MS_ABOVE (year 5138)
UNITS = ((1e17, 1e9, "nanoseconds"), (1e14, 1e6, "microseconds"), (MS_ABOVE, 1e3, "milliseconds"))
#: no Unix time in any of those units is this large (1e20 ns is year 5138)
UNIX_MAX = 1e20
DAY_S = 86400.0


@dataclass(frozen=True)
class TimeAxis:
    """How to read a file's time axis (the CLI's ``--step``, ``--time-column``, ``--value-column``, ``--start``)."""

    step_s: float | None = None
    time_column: str | None = None
    value_column: str | None = None
    start: float | None = None

    def __post_init__(self) -> None:
        if self.step_s is not None and not (math.isfinite(self.step_s) and self.step_s > 0):
            raise BadInput(f"--step must be a positive number of seconds, got {self.step_s:g}", field="--step")


def parse_time(cell: str) -> float:
    """Unix seconds from Unix seconds, milliseconds, microseconds or nanoseconds (:data:`UNITS`) or ISO 8601
    (naive = UTC); ValueError otherwise, :class:`hx.clock.OutsideEra` for a time outside 1970..3000 UTC (a number
    is judged after its unit's conversion: ``-1`` is 1969, ``99999999999999`` milliseconds are year 5138).

    >>> [parse_time(c) for c in ("1700000000", "1700000000000", "1700000000000000", "2023-11-14T22:13:20Z")]
    [1700000000.0, 1700000000.0, 1700000000.0, 1700000000.0]
    >>> parse_time("0"), parse_time("60")
    (0.0, 60.0)
    """
    v = _number_time(cell)
    if v is None:
        return in_era(datetime.fromisoformat(cell.strip().replace("Z", "+00:00"))).timestamp()
    seconds, unit = v
    return seconds_in_era(seconds, cell.strip() if unit == "seconds" else f"{cell.strip()} read as {unit}")


def _number_time(cell: str) -> tuple[float, str] | None:
    """A numeric time cell as (seconds, the unit it was read in), not yet held to the era (an index or seconds from
    the start may be any number); ``None`` when the cell is not a number, ValueError when no Unix time is that large."""
    try:
        v = float(cell)
    except ValueError:
        return None
    if not math.isfinite(v) or abs(v) >= UNIX_MAX:
        raise ValueError(cell)
    per, unit = next(((per, name) for above, per, name in UNITS if abs(v) > above), (1.0, "seconds"))
    return v / per, unit


def not_a_time(cell: object, err: ValueError) -> str:
    """What is wrong with a time :func:`parse_time` refused: outside the era (saying so), or not a time at all."""
    if isinstance(err, OutsideEra):
        return str(err)
    return f"{cell!r} is not a Unix time (seconds, milliseconds, microseconds or nanoseconds) or an ISO 8601 time"


def _per_second(largest: float) -> float:
    return next((per for above, per, _name in UNITS if largest > above), 1.0)


def unix_seconds(values: npt.ArrayLike, field: str = "timestamps") -> FloatArray:
    """A column of Unix times in seconds, from seconds, milliseconds, microseconds or nanoseconds (one unit for
    the column, judged by its largest value, :data:`UNITS`); a value no Unix time reaches is
    :class:`~hx.errors.BadInput` naming ``field``.

    >>> unix_seconds([1_700_000_000_000, 1_700_000_060_000]).tolist()
    [1700000000.0, 1700000060.0]
    >>> unix_seconds([1_700_000_000_000_000]).tolist()
    [1700000000.0]
    >>> unix_seconds([1_700_000_000.0]).tolist()
    [1700000000.0]
    """
    t = np.asarray(values, dtype=np.float64).ravel()
    if not t.size or not np.isfinite(t).any():
        return t
    largest = float(np.nanmax(np.abs(t[np.isfinite(t)])))
    if largest >= UNIX_MAX:
        raise BadInput(
            f"{field}: {largest:.6g} is not a Unix time in seconds, milliseconds, microseconds or nanoseconds",
            field=field,
            expected="Unix times (any of those units, one for the whole column)",
        )
    return t / _per_second(largest)


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Table:
    """A CSV file's header and rows (the header is made up, ``column1`` ..., when the file has none)."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    first_line: int

    def column(self, name: str) -> list[str]:
        """A column's cells, stripped; a row too short to have it is refused, naming the row and the column."""
        i = self.header.index(name)
        for n, r in enumerate(self.rows):
            if i >= len(r):
                raise BadInput(
                    f"{self.path}: row {self.first_line + n}, column {name!r}: missing (the row is short)",
                    field=name,
                    file=str(self.path),
                )
        return [r[i].strip() for r in self.rows]


def read_table(path: str | Path, *, delimiter: str | None = None) -> Table:
    """Rows of a CSV (comma, semicolon or tab separated: sniffed); blank lines are dropped."""
    p = Path(path)
    text = open_text(p).read()
    if is_json(text):
        raise BadInput(f"{p}: not a CSV file (it is JSON: give a CSV of times and values)", field="path", file=str(p))
    if delimiter is None:
        first = next((ln for ln in text.splitlines() if ln.strip()), "")
        delimiter = max((",", ";", "\t"), key=first.count)
    lines = [r for r in csv.reader(text.splitlines(), delimiter=delimiter) if any(c.strip() for c in r)]
    if not lines:
        raise BadInput(f"{p}: the file is empty", field="path", file=str(p))
    head = [c.strip() for c in lines[0]]
    if all(is_number(c) or not c for c in head):  # no header row
        return Table(p, [f"column{i + 1}" for i in range(len(head))], lines, 1)
    _no_cells_past_the_header(p, len(head), lines[1:])
    # an unnamed column (pandas writes its index so) is named by its place, as messages must name it
    return Table(p, [c or f"column{i + 1}" for i, c in enumerate(head)], lines[1:], 2)


def _no_cells_past_the_header(path: Path, width: int, rows: list[list[str]]) -> None:
    """A row with more filled cells than the header has names is refused, naming it (the extra cells were dropped
    and the row read as if they were not there: a value shifted by a stray comma went unseen).  Empty cells past
    the header (a trailing separator) are no data and pass."""
    for n, r in enumerate(rows):
        extra = [c for c in r[width:] if c.strip()]
        if extra:
            raise BadInput(
                f"{path}: row {n + 2} has {width + len(r[width:])} cells but the header names {width} columns "
                f"(extra: {', '.join(repr(c) for c in extra[:3])})",
                field="path",
                file=str(path),
            )


def require_rows(table: Table) -> None:
    """Refuse a file with a header and no data rows (or only blank ones), naming the file."""
    if not table.rows:
        header = ",".join(table.header)
        if len(header) > HEADER_SHOWN:
            header = f"{header[:HEADER_SHOWN]}... ({len(header):,} characters)"
        raise BadInput(
            f"{table.path}: no data rows (the file holds only its header: {header})",
            field="path",
            file=str(table.path),
        )


#: how much of a header a refusal quotes (a JSON document read as a CSV is one 50 KB "header")
HEADER_SHOWN = 200


def _lower(header: Sequence[str]) -> dict[str, str]:
    return {h.lower(): h for h in header}


def time_column(table: Table, axis: TimeAxis) -> str | None:
    """The column that holds time or an index (``None``: the file has none)."""
    if axis.time_column is not None:
        if axis.time_column not in table.header:
            raise BadInput(
                f"{table.path}: no column {axis.time_column!r} (columns: {', '.join(table.header)})",
                field="--time-column",
                file=str(table.path),
            )
        return axis.time_column
    names = _lower(table.header)
    for n in TIME_NAMES:
        if n in names:
            return names[n]
    for h in table.header:
        if _INDEX_NAME.search(h) and h != axis.value_column:
            return h
    return _counting_first_column(table, axis)


def _counting_first_column(table: Table, axis: TimeAxis) -> str | None:
    """A first column, whatever its name (``interval``, ``bucket``), that counts rows 0, 1, 2 ... beside other
    columns: an index, not a value."""
    first = table.header[0] if table.header else None
    if first is None or len(table.header) < 2 or first == axis.value_column or not table.rows:
        return None
    cells = [r[0].strip() if r else "" for r in table.rows]
    if not all(is_number(c) for c in cells if c):
        return None
    values = np.array([float(c) if c else math.nan for c in cells])
    ok = values[np.isfinite(values)]
    return first if ok.size >= 2 and ok[0] in (0.0, 1.0) and _looks_like_index(values) else None


def _looks_like_index(values: FloatArray) -> bool:
    """Integers counting up by one (0, 1, 2 ... or 1, 2, 3 ...), possibly with gaps."""
    ok = values[np.isfinite(values)]
    if ok.size < 2 or np.any(ok != np.round(ok)):
        return False
    d = np.diff(ok)
    return bool(np.all(d > 0) and np.median(d) == 1.0 and ok.max() < MIN_UNIX_S)


def _index_times(path: Path, column: str | None, index: FloatArray, axis: TimeAxis) -> FloatArray:
    what = (
        f"column {column!r} holds an index, not Unix seconds or ISO 8601 times"
        if column
        else "no time column (none named timestamp, time, ts, date or datetime)"
    )
    if axis.step_s is None:
        raise BadInput(
            f"{path}: {what}: give the step between rows (e.g. --step 60)",
            field="--step",
            file=str(path),
        )
    return index_seconds(index, axis.step_s, axis.start)


def index_seconds(index: FloatArray, step_s: float, start: float | None = None) -> FloatArray:
    """Unix seconds for rows numbered by ``index`` (0, 1, 2 ... or seconds from the start, already ``step_s``
    apart), ``step_s`` apart from ``start`` (default: so that the last row falls within the day before now).

    >>> index_seconds(np.array([0.0, 1.0, 2.0]), 60.0, start=1_700_000_000.0).tolist()
    [1700000000.0, 1700000060.0, 1700000120.0]
    """
    if index.size == 0:
        return index.copy()
    offsets = index - float(np.nanmin(index))
    d = np.diff(index[np.isfinite(index)])
    if d.size and float(np.median(d)) != 1.0 and math.isclose(float(np.median(d)), step_s):
        seconds = offsets  # seconds from the start, already ``step`` apart
    else:
        seconds = offsets * step_s
    if start is None:
        span = float(np.nanmax(seconds)) if seconds.size else 0.0
        start = math.floor((time.time() - span) / DAY_S) * DAY_S  # the last row within the day before now
    return start + seconds


def _times(table: Table, column: str, axis: TimeAxis) -> FloatArray:
    cells = table.column(column)
    out = np.full(len(cells), math.nan)
    for i, cell in enumerate(cells):
        if not cell:
            raise BadInput(
                f"{table.path}: row {table.first_line + i}, column {column!r}: empty time",
                field=column,
                file=str(table.path),
            )
        try:  # a number is held to the era below, once the column is known to hold Unix times, not an index
            number = _number_time(cell)
            out[i] = parse_time(cell) if number is None else number[0]
        except ValueError as err:
            raise _bad_time(table, column, i, cell, err) from None
    if out.size == 0:
        return out
    if axis.step_s is not None and out.max() < MIN_UNIX_S:  # an index, or seconds from the start
        return _index_times(table.path, column, out, axis)
    if out.min() < MIN_UNIX_S:
        if _looks_like_index(out) or _INDEX_NAME.search(column):
            return _index_times(table.path, column, out, axis)
        raise BadInput(
            f"{table.path}: column {column!r}: {out.min():g} is not a plausible Unix time (before 1973); "
            "if it holds an index or seconds from the start, give the step between rows (e.g. --step 60)",
            field=column,
            file=str(table.path),
        )
    late = np.nonzero(out > LATEST.timestamp())[0]
    if late.size:  # Unix times, so within the era like every time hx takes
        i = int(late[0])
        try:
            parse_time(cells[i])
        except ValueError as err:
            raise _bad_time(table, column, i, cells[i], err) from None
    if axis.step_s is not None:
        _check_declared_step(table.path, column, out, axis.step_s)
    return out


def _bad_time(table: Table, column: str, i: int, cell: str, err: ValueError) -> BadInput:
    return BadInput(
        f"{table.path}: row {table.first_line + i}, column {column!r}: {not_a_time(cell, err)}",
        field=column,
        file=str(table.path),
    )


def spacing(times: FloatArray) -> str:
    """How far apart distinct times are, in words: one spacing, or the range and the median of irregular ones.

    >>> spacing(np.arange(0.0, 3000.0, 300.0))
    '5 min apart'
    >>> spacing(np.array([0.0, 60.0, 660.0, 1260.0, 90000.0]))
    '60 s to 24.6 h apart (median 10 min)'
    """
    d = np.diff(np.unique(times[np.isfinite(times)]))
    if not d.size:
        return "a single time"
    lo, hi, mid = float(d.min()), float(d.max()), float(np.median(d))
    if math.isclose(lo, hi, rel_tol=1e-6):
        return f"{_span(mid)} apart"
    return f"{_span(lo)} to {_span(hi)} apart (median {_span(mid)})"


def _span(seconds: float) -> str:
    """``90 s``, ``10 min``, ``24.6 h``, ``3 d``."""
    for unit, size in (("d", DAY_S), ("h", 3600.0), ("min", 60.0)):
        if seconds >= 2 * size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def _check_declared_step(path: Path, column: str, times: FloatArray, step_s: float) -> None:
    """``--step`` beside real times: refused unless it agrees with them (it would be ignored)."""
    if step_contradicted(times, step_s):
        raise BadInput(
            f"{path}: column {column!r} holds times {spacing(times)}, but --step {step_s:g} was given; --step is "
            "for a file whose time column is an index or that has none: drop --step",
            field="--step",
            file=str(path),
        )


def step_contradicted(times: FloatArray, step_s: float) -> bool:
    """Whether real times' median spacing differs from a declared step by more than 1 %.

    >>> step_contradicted(np.array([0.0, 60.0, 120.0, 120.0, 181.0]), 60.0)
    False
    >>> step_contradicted(np.array([0.0, 300.0, 600.0]), 60.0)
    True
    """
    d = np.diff(np.unique(times[np.isfinite(times)]))
    return bool(d.size) and not math.isclose(float(np.median(d)), step_s, rel_tol=0.01)


def repeat_note(timestamps: FloatArray) -> str | None:
    """A note when rows repeat an earlier row's time (they are averaged with it on the grid).

    >>> repeat_note(np.array([0.0, 300.0, 300.0, 600.0]))
    "1 row repeats an earlier row's time: averaged with it"
    """
    t = np.asarray(timestamps, dtype=np.float64)
    t = t[np.isfinite(t)]
    repeats = int(t.size - np.unique(t).size)
    if not repeats:
        return None
    if repeats == 1:
        return "1 row repeats an earlier row's time: averaged with it"
    return f"{repeats:,} rows repeat earlier rows' times: averaged with them"


def cells_to_floats(path: str | Path, cells: Sequence[str], column: str, first_line: int) -> FloatArray:
    """Cells as floats (empty or ``nan`` = gap); a cell that is not a number names its file, row and column."""
    out = np.full(len(cells), math.nan)
    for i, raw in enumerate(cells):
        cell = raw.strip()
        if not cell or cell.lower() == "nan":
            continue
        try:
            out[i] = float(cell)
        except ValueError:
            raise BadInput(
                f"{path}: row {first_line + i}, column {column!r}: {cell!r} is not a number",
                field=column,
                file=str(path),
            ) from None
        if math.isinf(out[i]):
            raise BadInput(
                f"{path}: row {first_line + i}, column {column!r}: {cell!r} is not a finite number "
                "(a gap is an empty cell or nan)",
                field=column,
                file=str(path),
            )
    return out


def numbers(table: Table, column: str, *, allow_negative: bool = True) -> FloatArray:
    """A column as floats (empty or ``nan`` = gap); a cell that is not a number names its row."""
    cells = table.column(column)
    out = cells_to_floats(table.path, cells, column, table.first_line)
    for i, cell in enumerate(cells):
        if not allow_negative and out[i] < 0:
            raise BadInput(
                f"{table.path}: row {table.first_line + i}, column {column!r}: negative value {cell!r}",
                field=column,
                file=str(table.path),
            )
    return out


def axis_times(table: Table, axis: TimeAxis, *, exclude: Iterable[str] = ()) -> tuple[FloatArray, str | None]:
    """Each row's Unix time, and the column they came from (``None``: rows in order, ``axis.step_s`` apart)."""
    require_rows(table)
    col = time_column(table, axis)
    if col is not None and col not in exclude:
        return _times(table, col, axis), col
    return _index_times(table.path, None, np.arange(len(table.rows), dtype=float), axis), None


def value_column(table: Table, axis: TimeAxis, time_col: str | None) -> str:
    """The one value column: ``--value-column``, or the only numeric column besides time."""
    require_rows(table)
    if axis.value_column is not None:
        if axis.value_column not in table.header:
            raise BadInput(
                f"{table.path}: no column {axis.value_column!r} (columns: {', '.join(table.header)})",
                field="--value-column",
                file=str(table.path),
            )
        return axis.value_column
    others = [h for h in table.header if h != time_col]
    index = _counting_first_column(table, axis)
    if index is not None and index in others and len(others) > 1:
        others.remove(index)  # a first column counting 0, 1, 2 ... beside a time column: an index (pandas')
    named = [h for h in others if h.strip().lower() == "value"]
    if len(named) == 1:
        return named[0]  # NAB's and the KPI corpora's timestamp,value[,label]
    if len(others) == 1 and any(is_number(c) for c in table.column(others[0])[:50]):
        return others[0]  # the only other column: a bad cell in it is named by :func:`numbers`
    candidates = [h for h in others if _numeric_column(table, h)]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise BadInput(
            f"{table.path}: no numeric value column (columns: {', '.join(table.header)})",
            field="--value-column",
            file=str(table.path),
        )
    raise BadInput(
        f"{table.path}: several value columns ({', '.join(candidates)}): choose one with --value-column",
        field="--value-column",
        file=str(table.path),
    )


def _numeric_column(table: Table, name: str) -> bool:
    cells = [c for c in table.column(name)[:50] if c and c.lower() != "nan"]
    return bool(cells) and all(is_number(c) for c in cells)


def read_series(path: str | Path, axis: TimeAxis | None = None, *, min_rows: int = 4) -> tuple[FloatArray, FloatArray]:
    """One time series (Unix seconds, values) from a CSV; see the module's docstring for the time axis."""
    ts, vs, _laid = read_series_noted(path, axis, min_rows=min_rows)
    return ts, vs


def read_series_noted(
    path: str | Path, axis: TimeAxis | None = None, *, min_rows: int = 4
) -> tuple[FloatArray, FloatArray, str | None]:
    """:func:`read_series`, and a note when the file holds no dates (an index or no time column, with ``--step``):
    the times shown for it are laid by hx, not the file's, and a reader must be told so."""
    axis = axis or TimeAxis()
    table = read_table(path)
    tcol = time_column(table, axis)
    vcol = value_column(table, axis, tcol)  # refuses a file with no data rows
    vs = numbers(table, vcol)
    if not np.isfinite(vs).any():
        raise BadInput(
            f"{table.path}: column {vcol!r}: no numbers in its {vs.size} row(s) (every cell is empty or nan)",
            field=vcol,
            file=str(table.path),
        )
    ts, col = axis_times(table, axis)
    if len(table.rows) < min_rows:
        raise BadInput(
            f"{table.path}: {len(table.rows)} row(s) of data; at least {min_rows} are needed",
            field="path",
            file=str(table.path),
        )
    order = np.argsort(ts, kind="stable")
    return ts[order], vs[order], _laid_note(table, col, ts, axis)


def _laid_note(table: Table, col: str | None, ts: FloatArray, axis: TimeAxis) -> str | None:
    """Said when the rows were laid from ``--step`` (:func:`index_seconds`) rather than read from the file."""
    if axis.step_s is None or not ts.size:
        return None
    if col is not None:
        cells = [_number_time(c) for c in table.column(col)]
        if any(c is None for c in cells) or max(c[0] for c in cells if c is not None) >= MIN_UNIX_S:
            return None  # the file's own times, which --step agreed with
    what = f"column {col!r} is an index" if col else "no time column"
    first = datetime.fromtimestamp(float(np.nanmin(ts)), UTC).isoformat(timespec="minutes")
    return (f"the file holds no dates ({what}): its rows are laid {axis.step_s:g} s apart from {first}, so that the "
            "last falls within the day before now; the times shown are these")  # fmt: skip


#: the Bitbrains GWA-T-12 columns read (semicolon separated; "Timestamp [ms]" holds Unix seconds)
GWA_COLUMNS = (
    "Timestamp [ms]",
    "CPU cores",
    "CPU capacity provisioned [MHZ]",
    "CPU usage [MHZ]",
    "Memory capacity provisioned [KB]",
    "Memory usage [KB]",
)


#: provisioned memory under this (32 MiB) is no VM: the GWA columns were written in MB or GB, not KB
GWA_MIN_MEMORY_KB = 32 * 1024


@dataclass(frozen=True)
class Usage:
    """One workload's usage: times (Unix s), CPU (vCPU), memory (GiB) and, when the file says, what it has now."""

    timestamps: FloatArray
    cpu: FloatArray
    memory_gib: FloatArray
    provisioned_cpu: float | None = None
    provisioned_memory_gib: float | None = None


def is_gwa(table: Table) -> bool:
    """Whether a table is in the Bitbrains GWA-T-12 format."""
    return "CPU usage [MHZ]" in table.header and "Memory usage [KB]" in table.header


def read_gwa(table: Table) -> Usage:
    """A Bitbrains GWA-T-12 VM file: MHz -> vCPU by the VM's MHz per core, KB -> GiB; zero capacity = gap."""
    missing = [c for c in GWA_COLUMNS if c not in table.header]
    if missing:
        raise BadInput(
            f"{table.path}: a GWA-T-12 file needs the column(s) {', '.join(repr(c) for c in missing)}",
            field=missing[0],
            file=str(table.path),
        )
    t = unix_seconds(numbers(table, "Timestamp [ms]"), field="Timestamp [ms]")
    cores, cap, used = (numbers(table, c, allow_negative=False) for c in GWA_COLUMNS[1:4])
    mcap, mused = (numbers(table, c, allow_negative=False) for c in GWA_COLUMNS[4:6])
    live = (cap > 0) & (cores > 0)
    if not live.any():
        raise BadInput(f"{table.path}: no row with a CPU capacity above 0", field=GWA_COLUMNS[2], file=str(table.path))
    mhz_per_core = float(np.median(cap[live] / cores[live]))
    cpu = np.where(live, used / mhz_per_core, math.nan)
    mem = np.where(mcap > 0, mused / 1024.0**2, math.nan)
    last_cores = float(cores[live][-1])
    last_mem = mcap[mcap > 0]
    if last_mem.size and float(np.median(last_mem)) < GWA_MIN_MEMORY_KB:
        kb = float(np.median(last_mem))
        raise BadInput(
            f"{table.path}: column {GWA_COLUMNS[4]!r} holds {kb:g} (median), {kb / 1024:.3g} MiB if KB as the format "
            f"says: no VM has so little (the smallest Bitbrains VM has 114 MiB); were the memory columns written in "
            "MB or GB? Give them in KB",
            field=GWA_COLUMNS[4],
            file=str(table.path),
        )
    order = np.argsort(t, kind="stable")
    return Usage(
        t[order], cpu[order], mem[order], last_cores, float(last_mem[-1]) / 1024.0**2 if last_mem.size else None
    )


def read_usage_table(table: Table, axis: TimeAxis) -> dict[str, Usage]:
    """hx's own usage CSV: a time axis, ``cpu`` (vCPU used), ``memory_gib`` and an optional ``workload`` column
    (named in any case, as the time column is: a spreadsheet's ``CPU``, ``Memory_GiB``)."""
    named = _lower(table.header)
    missing = {"cpu", "memory_gib"} - set(named)
    if missing:
        raise BadInput(
            f"{table.path}: missing column(s) {', '.join(sorted(missing))} (expected a time axis, cpu, memory_gib"
            "[, workload], or the Bitbrains GWA-T-12 format)",
            field=sorted(missing)[0],
            file=str(table.path),
        )
    cpu_col, mem_col, workload_col = named["cpu"], named["memory_gib"], named.get("workload")
    cpu = numbers(table, cpu_col, allow_negative=False)
    mem = numbers(table, mem_col, allow_negative=False)
    ts, _ = axis_times(table, axis, exclude=(cpu_col, mem_col, workload_col or "workload"))
    names = table.column(workload_col) if workload_col else [table.path.stem] * len(table.rows)
    out: dict[str, Usage] = {}
    for name in dict.fromkeys(names):
        pick = np.array([n == name for n in names])
        order = np.argsort(ts[pick], kind="stable")
        out[name or table.path.stem] = Usage(ts[pick][order], cpu[pick][order], mem[pick][order])
    return out


def usage_files(paths: Iterable[str | Path]) -> list[Path]:
    """The usage files to read: each file given, and every ``*.csv`` / ``*.csv.gz`` of each folder (one per VM)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted([*p.glob("*.csv"), *p.glob("*.csv.gz")], key=lambda f: (len(f.name), f.name))
            if not found:
                raise BadInput(f"{p}: a folder with no *.csv or *.csv.gz files", field="path", file=str(p))
            files.extend(found)
        else:
            files.append(p)
    return files


def read_usage(
    paths: Iterable[str | Path], axis: TimeAxis | None = None, *, progress: Callable[[int, int], None] | None = None
) -> dict[str, Usage]:
    """Usage per workload from files or folders (a folder: every ``*.csv`` and ``*.csv.gz`` in it, each a VM);
    ``progress(done, total)`` after each file."""
    axis = axis or TimeAxis()
    files = usage_files(paths)
    out: dict[str, Usage] = {}
    for i, f in enumerate(files, 1):
        table = read_table(f)
        if not table.rows:
            raise BadInput(f"{f}: no usage rows after the header", field="path", file=str(f))
        if is_gwa(table):
            out[f.name.split(".")[0]] = read_gwa(table)
        else:
            out.update(read_usage_table(table, axis))
        if progress is not None:
            progress(i, len(files))
    return out


def _window_values(p: Path, name: str, raw: object) -> FloatArray:
    """One metric's window: a list of numbers (``null`` = gap) or of ``[time, value]`` pairs."""
    if not isinstance(raw, list) or not raw:
        raise BadInput(
            f"{p}: metric {name!r}: expected a non-empty list of numbers (or [time, value] pairs)",
            field=name,
            file=str(p),
        )
    out = np.full(len(raw), math.nan)
    for i, cell in enumerate(raw):
        v = cell[-1] if isinstance(cell, list) and len(cell) == 2 else cell
        if v is None:
            continue
        try:
            if isinstance(v, bool):  # JSON true/false: float() would read them as 1 and 0
                raise TypeError(v)
            out[i] = float(v)
        except (TypeError, ValueError):
            raise BadInput(
                f"{p}: metric {name!r}, point {i + 1}: {json_text(v)} is not a number", field=name, file=str(p)
            ) from None
        if math.isinf(out[i]):
            raise BadInput(
                f"{p}: metric {name!r}, point {i + 1}: {json_text(v)} is not a finite number (a gap is null)",
                field=name,
                file=str(p),
            )
    return out


def json_text(v: object) -> str:
    """A JSON value as the file spells it (``true``, ``"x"``), for messages.

    >>> json_text(True), json_text("5 ms")
    ('true', '"5 ms"')
    """
    import json

    try:
        return json.dumps(v)
    except (TypeError, ValueError):
        return repr(v)


def _window_rows(p: Path, rows: list[object]) -> dict[str, FloatArray]:
    """``[{metric: value, ...}, ...]``: one object per interval (``timestamp``/``time``/``ts`` keys skipped)."""
    names: dict[str, None] = {}
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            raise BadInput(f"{p}: row {i + 1}: expected an object {{metric: value}}", field="rows", file=str(p))
        names.update(dict.fromkeys(k for k in r if str(k).lower() not in ("timestamp", "time", "ts")))
    cols = {n: [r.get(n) if isinstance(r, dict) else None for r in rows] for n in names}
    return {n: _window_values(p, n, v) for n, v in cols.items()}


def read_windows(path: str | Path, side: str) -> dict[str, FloatArray]:
    """A canary judge window from JSON: ``{metric: [values]}``, ``[{metric: value}, ...]``, or either under a
    ``side`` key (``baseline`` / ``canary``), so one file can hold both windows, or under ``metrics``."""
    import json

    p = Path(path)
    try:
        data = json.loads(open_text(p).read())
    except json.JSONDecodeError as err:
        raise BadInput(f"{p}: not valid JSON ({err})", field="path", file=str(p)) from err
    for key in (side, "metrics"):
        if isinstance(data, dict) and isinstance(data.get(key), dict | list):
            data = data[key]
            break
    else:
        if isinstance(data, dict) and data and set(data) <= {"baseline", "canary"}:
            held = ", ".join(repr(k) for k in sorted(data) if isinstance(data[k], dict | list))
            fix = (
                "--history takes the baseline's values from before the canary started, not a baseline/canary pair"
                if side == "history"
                else f"give the {side}'s window, or one file with both windows"
            )
            raise BadInput(f"{p}: no {side!r} window (the file holds {held or 'none'}): {fix}", field=side, file=str(p))
    if isinstance(data, list):
        return _window_rows(p, data)
    if isinstance(data, dict) and data:
        return {str(k): _window_values(p, str(k), v) for k, v in data.items()}
    raise BadInput(
        f"{p}: expected {{metric: [values]}}, [{{metric: value}}, ...] or either under a {side!r} key",
        field="path",
        file=str(p),
    )
