"""Input validation for series handed to the detectors, and a ``timestamp,value`` CSV reader.

The rules (each problem is either rejected with :class:`~hx.errors.BadInput` naming the row, or handled
as written here; rows are numbered from 1, the first data row under the header being row 1):

* a value that is not a number (``"abc"``, ``True``) is rejected;
* an infinite value is rejected (no measurement is infinite);
* an empty value or NaN is a **gap**: kept as NaN; detectors neither score it (score 0) nor learn it;
* a timestamp that does not parse, or is NaN, is rejected;
* a duplicate timestamp, or one earlier than the row before it, is rejected (sort and de-duplicate
  upstream: hx will not guess which of two values is right) -- unless ``strict_order=False``, used
  to replay a benchmark corpus row by row as published (NAB's own files repeat a few timestamps),
  where such rows are kept in file order and counted in the warnings;
* irregular spacing is accepted: detectors are row-based, the seasonal profile uses the timestamps;
  the report counts the steps that differ from the median step by more than half of it;
* fewer rows than ``min_rows`` (the detector's warm-up) is rejected, as a score there would mean nothing;
* a constant series is accepted and flagged: it scores 0 until the value changes, and a change after a
  long constant stretch scores as highly anomalous.

>>> v = validate_series([0, 60, 120], [1.0, "", 3])
>>> v.n_gaps, v.step, v.constant
(1, 60.0, False)
>>> validate_series([0, 60, 60], [1, 2, 3])
Traceback (most recent call last):
...
hx.errors.BadInput: row 3: duplicate timestamp 60.0 (the row before has the same one); de-duplicate the series
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hx.clock import OutsideEra, in_era
from hx.errors import BadInput
from hx.files import open_text

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ValidatedSeries:
    """A series that passed validation: unix-second timestamps, float values (NaN = gap), and notes."""

    timestamps: FloatArray
    values: FloatArray
    step: float
    n_gaps: int
    n_irregular: int
    constant: bool
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.values.shape[0])


def parse_timestamp(raw: object, row: int) -> float:
    """Unix seconds from a number, a datetime or an ISO 8601 string (naive means UTC)."""
    if isinstance(raw, bool):
        raise BadInput(f"row {row}: timestamp {raw!r} is not a time", field=f"row {row}")
    if isinstance(raw, int | float | np.integer | np.floating):
        t = float(raw)
    elif isinstance(raw, datetime):
        t = _in_era(raw, raw, row)
    elif isinstance(raw, np.datetime64):
        t = float(raw.astype("datetime64[us]").astype(np.int64)) / 1e6
    elif isinstance(raw, str):
        text = raw.strip()
        try:
            t = float(text)
        except ValueError:
            try:
                d = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise BadInput(
                    f"row {row}: timestamp {raw!r} is neither ISO 8601 nor unix seconds", field=f"row {row}"
                ) from None
            t = _in_era(d, raw, row)
    else:
        raise BadInput(f"row {row}: timestamp {raw!r} is not a time", field=f"row {row}")
    if not math.isfinite(t):
        raise BadInput(f"row {row}: timestamp {raw!r} is not finite", field=f"row {row}")
    return t


def _in_era(d: datetime, raw: object, row: int) -> float:
    try:
        return in_era(d).timestamp()
    except OutsideEra as err:
        raise BadInput(f"row {row}: timestamp {raw!r}: {err}", field=f"row {row}") from None


def parse_value(raw: object, row: int) -> float:
    """A float from a number or numeric string; empty or NaN is a gap (NaN); anything else is rejected."""
    if raw is None:
        return math.nan
    if isinstance(raw, bool):
        raise BadInput(f"row {row}: value {raw!r} is not a number", field=f"row {row}")
    if isinstance(raw, str):
        text = raw.strip()
        if text == "" or text.lower() in ("nan", "null", "none"):
            return math.nan
        try:
            v = float(text)
        except ValueError:
            raise BadInput(f"row {row}: value {raw!r} is not a number", field=f"row {row}") from None
    elif isinstance(raw, int | float | np.integer | np.floating):
        v = float(raw)
    else:
        raise BadInput(f"row {row}: value {raw!r} is not a number", field=f"row {row}")
    if math.isinf(v):
        raise BadInput(f"row {row}: value {raw!r} is infinite; send a finite number or leave a gap", field=f"row {row}")
    return v


def validate_series(
    timestamps: Sequence[Any] | npt.NDArray[Any],
    values: Sequence[Any] | npt.NDArray[Any],
    *,
    min_rows: int = 2,
    strict_order: bool = True,
) -> ValidatedSeries:
    """Check a series against the rules of this module; return it as float arrays with notes."""
    if len(timestamps) != len(values):
        raise BadInput(f"{len(timestamps)} timestamps but {len(values)} values", field="values")
    n = len(values)
    ts = np.empty(n)
    vs = np.empty(n)
    disorder = 0
    for i in range(n):
        ts[i] = parse_timestamp(timestamps[i], i + 1)
        vs[i] = parse_value(values[i], i + 1)
        if i and ts[i] <= ts[i - 1] and not strict_order:
            disorder += 1
        elif i and ts[i] <= ts[i - 1]:
            if ts[i] == ts[i - 1]:
                raise BadInput(
                    f"row {i + 1}: duplicate timestamp {ts[i]} (the row before has the same one); "
                    "de-duplicate the series",
                    field=f"row {i + 1}",
                )
            raise BadInput(
                f"row {i + 1}: timestamp {ts[i]} is earlier than row {i}'s ({ts[i - 1]}); sort the series by time",
                field=f"row {i + 1}",
            )
    if n < min_rows:
        raise BadInput(
            f"the series has {n} rows; the detector needs at least {min_rows} to learn before it can score",
            field="rows",
        )
    return _describe(ts, vs, disorder)


def _describe(ts: FloatArray, vs: FloatArray, disorder: int) -> ValidatedSeries:
    warnings: list[str] = []
    if disorder:
        warnings.append(f"{disorder} row(s) repeat or go back in time; kept in file order")
    gaps = int(np.isnan(vs).sum())
    if gaps:
        warnings.append(f"{gaps} gap(s) (empty or NaN values): not scored, not learned")
    steps = np.diff(ts)
    steps = steps[steps > 0]
    step = float(np.median(steps)) if steps.size else 0.0
    irregular = int((np.abs(steps - step) > 0.5 * step).sum()) if steps.size else 0
    if irregular:
        warnings.append(f"{irregular} irregular step(s) around the median step of {step:g} s")
    finite = vs[~np.isnan(vs)]
    constant = bool(finite.size > 0 and np.all(finite == finite[0]))
    if constant:
        warnings.append("the series is constant: it scores 0 until the value changes")
    return ValidatedSeries(ts, vs, step, gaps, irregular, constant, warnings)


def read_series_csv(path: Path, *, min_rows: int = 2, strict_order: bool = True) -> ValidatedSeries:
    """Read and validate a ``timestamp,value`` CSV file (a header row naming both columns)."""
    with open_text(path) as handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader, [])]
        if "timestamp" not in header or "value" not in header:
            raise BadInput(f"{path}: the header must name the columns 'timestamp' and 'value'", field="row 0")
        it, iv = header.index("timestamp"), header.index("value")
        raw_t: list[str] = []
        raw_v: list[str] = []
        for row_no, row in enumerate(reader, start=1):
            if not row:
                continue
            if len(row) <= max(it, iv):
                raise BadInput(
                    f"{path}: row {row_no} has {len(row)} column(s); expected timestamp,value", field=f"row {row_no}"
                )
            raw_t.append(row[it])
            raw_v.append(row[iv])
    try:
        return validate_series(raw_t, raw_v, min_rows=min_rows, strict_order=strict_order)
    except BadInput as err:
        raise BadInput(f"{path}: {err.message}", field=err.field) from err
