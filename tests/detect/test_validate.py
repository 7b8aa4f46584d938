"""Input validation: every bad input is rejected naming its row, or handled by a documented rule."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hx.detect import read_series_csv, validate_series
from hx.errors import BadInput


def test_non_numeric_value_names_the_row() -> None:
    with pytest.raises(BadInput) as err:
        validate_series([0, 60, 120], [1, "abc", 3])
    assert err.value.field == "row 2"


def test_infinite_value_is_rejected() -> None:
    with pytest.raises(BadInput) as err:
        validate_series([0, 60, 120], [1, 2, math.inf])
    assert err.value.field == "row 3"


def test_nan_is_a_gap() -> None:
    v = validate_series([0, 60, 120], [1, math.nan, 3])
    assert v.n_gaps == 1 and math.isnan(v.values[1])


def test_duplicate_and_out_of_order_timestamps_are_rejected() -> None:
    with pytest.raises(BadInput, match="duplicate") as dup:
        validate_series([0, 60, 60], [1, 2, 3])
    assert dup.value.field == "row 3"
    with pytest.raises(BadInput, match="earlier") as back:
        validate_series([0, 120, 60], [1, 2, 3])
    assert back.value.field == "row 3"


def test_replay_mode_keeps_file_order() -> None:
    v = validate_series([0, 60, 60, 120], [1, 2, 3, 4], strict_order=False)
    assert len(v) == 4 and any("file order" in w for w in v.warnings)


def test_irregular_spacing_is_accepted_and_counted() -> None:
    v = validate_series([0, 60, 120, 600, 660], [1, 2, 3, 4, 5])
    assert v.step == 60.0 and v.n_irregular == 1


def test_too_short_for_the_warmup_is_rejected() -> None:
    with pytest.raises(BadInput) as err:
        validate_series([0, 60], [1, 2], min_rows=30)
    assert err.value.field == "rows"


def test_constant_series_is_flagged() -> None:
    assert validate_series([0, 60, 120], [5, 5, 5]).constant


def test_bad_timestamp_names_the_row() -> None:
    with pytest.raises(BadInput) as err:
        validate_series(["2024-01-01T00:00:00", "yesterday"], [1, 2])
    assert err.value.field == "row 2"


def test_csv_reader_reports_the_bad_row(tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    f.write_text("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,oops\n")
    with pytest.raises(BadInput) as err:
        read_series_csv(f)
    assert err.value.field == "row 2" and "s.csv" in str(err.value)


def test_csv_reader_reads_a_good_file(tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    f.write_text("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,\n2024-01-01 00:10:00,3\n")
    v = read_series_csv(f)
    assert len(v) == 3 and v.n_gaps == 1 and v.step == 300.0


def test_csv_without_header_is_rejected(tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    f.write_text("1,2\n3,4\n")
    with pytest.raises(BadInput):
        read_series_csv(f)


def test_csv_that_is_not_text_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    f.write_bytes(b"\xff\xfetimestamp,value\n")
    with pytest.raises(BadInput, match="s.csv: not UTF-8 text"):
        read_series_csv(f)


def test_an_iso_time_outside_the_era_is_refused_naming_the_row() -> None:
    from datetime import datetime

    from hx.detect.validate import parse_timestamp

    for raw in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59", datetime(1900, 1, 1)):
        with pytest.raises(BadInput, match="outside the times hx takes") as err:
            parse_timestamp(raw, 3)
        assert err.value.data["field"] == "row 3"
    assert parse_timestamp("2026-01-01T00:00:00Z", 1) == 1_767_225_600.0
    assert parse_timestamp(5, 1) == 5.0  # a number is any time axis (an index too)
