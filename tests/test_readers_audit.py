"""Reader cases met on real files in the audits: an index column with an unfamiliar name, a file with no data
rows, a column with no numbers, a --step that real times contradict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hx.errors import BadInput
from hx.readers import (
    TimeAxis,
    axis_times,
    read_series,
    read_series_noted,
    read_table,
    read_usage,
    time_column,
    value_column,
)


def test_a_counting_first_column_of_any_name_is_the_index_not_a_second_value(tmp_path: Path) -> None:
    f = tmp_path / "five_minute.csv"
    f.write_text("interval,events\n" + "".join(f"{i},{10 + i % 3}\n" for i in range(12)))
    ts, vs = read_series(f, TimeAxis(step_s=300))
    assert np.allclose(np.diff(ts), 300.0) and vs[:3].tolist() == [10.0, 11.0, 12.0]
    with pytest.raises(BadInput, match=r"column 'interval' holds an index.*--step"):
        read_series(f)


def test_a_first_column_of_values_is_not_taken_for_an_index(tmp_path: Path) -> None:
    f = tmp_path / "two_values.csv"
    f.write_text("requests,errors\n" + "".join(f"{100 + i * 7 % 5},{i % 2}\n" for i in range(12)))
    with pytest.raises(BadInput, match="several value columns"):
        read_series(f, TimeAxis(step_s=60))


@pytest.mark.parametrize(
    "text",
    ["timestamp,value\n", "timestamp,value\n\n", "timestamp,value\n,\n , \n", "value\n", "a,b,c\n"],
    ids=["header", "header-blank", "empty-cells", "value-only", "three-columns"],
)
def test_a_file_with_a_header_and_no_data_rows_is_refused_naming_it(tmp_path: Path, text: str) -> None:
    f = tmp_path / "hdr_only.csv"
    f.write_text(text)
    for axis in (TimeAxis(), TimeAxis(step_s=60)):
        with pytest.raises(BadInput, match=r"hdr_only\.csv: no data rows") as err:
            read_series(f, axis)
        assert err.value.field == "path"
    table = read_table(f)  # the detector's and the RCA reader's path: value column, then time axis
    with pytest.raises(BadInput, match=r"hdr_only\.csv: no data rows"):
        value_column(table, TimeAxis(), time_column(table, TimeAxis()))
    with pytest.raises(BadInput, match=r"hdr_only\.csv: no data rows"):
        axis_times(table, TimeAxis(step_s=60))


def test_one_row_and_a_column_without_numbers_are_refused_naming_the_file(tmp_path: Path) -> None:
    one = tmp_path / "one.csv"
    one.write_text("timestamp,value\n1700000000,5\n")
    with pytest.raises(BadInput, match=r"one\.csv: 1 row\(s\) of data; at least 4"):
        read_series(one)
    gaps = tmp_path / "gaps.csv"
    gaps.write_text("timestamp,value\n" + "".join(f"{1_700_000_000 + 60 * i},\n" for i in range(6)))
    with pytest.raises(BadInput, match=r"gaps\.csv: column 'value': no numbers in its 6 row") as err:
        read_series(gaps)
    assert err.value.field == "value"
    words = tmp_path / "words.csv"
    words.write_text("timestamp,value\n" + "".join(f"{1_700_000_000 + 60 * i},n/a{i}\n" for i in range(6)))
    with pytest.raises(BadInput, match=r"words\.csv: row 2, column 'value': 'n/a0' is not a number"):
        read_series(words)


def test_a_step_that_disagrees_with_real_times_is_refused_not_ignored(tmp_path: Path) -> None:
    f = tmp_path / "five_minutes.csv"
    f.write_text("timestamp,value\n" + "".join(f"{1_700_000_000 + 300 * i},{i}\n" for i in range(12)))
    with pytest.raises(BadInput, match=r"five_minutes\.csv: column 'timestamp' holds times 5 min apart.*--step 60"):
        read_series(f, TimeAxis(step_s=60))
    ts, _ = read_series(f, TimeAxis(step_s=300))  # agrees: nothing is lost
    assert np.allclose(np.diff(ts), 300.0) and ts[0] == 1_700_000_000


def test_a_usage_export_names_its_columns_in_any_case(tmp_path: Path) -> None:
    # a spreadsheet's "CPU" and "Memory_GiB" were refused as "missing column(s) cpu, memory_gib", while its
    # "Timestamp" was found in any case
    f = tmp_path / "usage.csv"
    rows = "".join(f"{1_700_000_000 + 300 * i},{w},{0.5 + i % 3 / 10},2.5\n" for w in ("api", "db") for i in range(6))
    f.write_text(" Timestamp , Workload , CPU , Memory_GiB \n" + rows + "\n", encoding="utf-8-sig")
    usage = read_usage([f])
    assert sorted(usage) == ["api", "db"]
    assert usage["api"].cpu.tolist()[:3] == [0.5, 0.6, 0.7] and usage["db"].memory_gib[0] == 2.5
    assert np.allclose(np.diff(usage["api"].timestamps), 300.0)


def test_rows_laid_from_a_step_are_said_to_be_laid(tmp_path: Path) -> None:
    # the times of an index or untimed file are hx's (the last row within the day before now): shown bare, they
    # read as the file's own
    untimed = tmp_path / "untimed.csv"
    untimed.write_text("requests\n" + "".join(f"{10 + i % 3}\n" for i in range(12)))
    ts, _, laid = read_series_noted(untimed, TimeAxis(step_s=300))
    assert laid is not None and laid.startswith("the file holds no dates (no time column): its rows are laid 300 s")
    assert ts[0] % 86400 == 0 and "times shown are these" in laid
    timed = tmp_path / "timed.csv"
    timed.write_text("timestamp,requests\n" + "".join(f"{1_700_000_000 + 300 * i},{i}\n" for i in range(12)))
    assert read_series_noted(timed, TimeAxis(step_s=300))[2] is None
    assert read_series_noted(timed)[2] is None
