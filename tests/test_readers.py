"""Reading users' files: each time-axis form, the GWA format, and a refusal per way a file can be wrong."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np
import pytest

from hx.errors import BadInput
from hx.readers import TimeAxis, read_series, read_table, read_usage


def _write(tmp_path: Path, name: str, text: str) -> Path:
    f = tmp_path / name
    f.write_text(text)
    return f


def test_unix_seconds_milliseconds_and_iso_8601(tmp_path: Path) -> None:
    s = _write(tmp_path, "s.csv", "timestamp,v\n1700000000,1\n1700000060,2\n1700000120,3\n1700000180,4\n")
    ms = _write(tmp_path, "ms.csv", "time,v\n1700000000000,1\n1700000060000,2\n1700000120000,3\n1700000180000,4\n")
    iso = _write(
        tmp_path,
        "iso.csv",
        "date,v\n2023-11-14T22:13:20Z,1\n2023-11-14T22:14:20Z,2\n2023-11-14 22:15:20,3\n2023-11-14T22:16:20+00:00,4\n",
    )
    us = _write(tmp_path, "us.csv", "time,v\n" + "".join(f"{1700000000 + 60 * i}000000,{i + 1}\n" for i in range(4)))
    ns = _write(tmp_path, "ns.csv", "time,v\n" + "".join(f"{1700000000 + 60 * i}000000000,{i + 1}\n" for i in range(4)))
    for f in (s, ms, us, ns, iso):
        ts, vs = read_series(f)
        assert ts.tolist() == [1700000000.0, 1700000060.0, 1700000120.0, 1700000180.0], f
        assert vs.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_an_index_column_needs_a_step_and_then_lands_on_recent_dates(tmp_path: Path) -> None:
    f = _write(tmp_path, "m.csv", "minute_index,requests\n" + "".join(f"{i},{i * 2}\n" for i in range(1440)))
    with pytest.raises(BadInput, match=r"m\.csv: column 'minute_index' holds an index.*--step 60") as err:
        read_series(f)
    assert err.value.field == "--step"
    ts, vs = read_series(f, TimeAxis(step_s=60))
    assert np.all(np.diff(ts) == 60.0) and vs[-1] == 2878.0
    assert time.time() - 3 * 86400 < ts[0] < time.time() and ts[0] % 86400 == 0  # midnight UTC, not 1970


def test_a_timestamp_column_holding_an_index_is_not_read_as_1970(tmp_path: Path) -> None:
    f = _write(tmp_path, "t.csv", "timestamp,value\n" + "".join(f"{i},{i}\n" for i in range(100)))
    with pytest.raises(BadInput, match="holds an index"):
        read_series(f)
    rel = _write(tmp_path, "rel.csv", "timestamp,value\n" + "".join(f"{i * 300},{i}\n" for i in range(100)))
    with pytest.raises(BadInput, match=r"'timestamp': 0 is not a plausible Unix time.*--step"):
        read_series(rel)
    ts, _ = read_series(rel, TimeAxis(step_s=300))  # seconds from the start, 300 apart
    assert np.all(np.diff(ts) == 300.0)


def test_no_time_column_with_a_declared_step(tmp_path: Path) -> None:
    f = _write(tmp_path, "n.csv", "".join(f"{i % 7}\n" for i in range(50)))
    with pytest.raises(BadInput, match=r"n\.csv: no time column.*--step"):
        read_series(f)
    ts, vs = read_series(f, TimeAxis(step_s=30))
    assert ts.size == 50 and np.all(np.diff(ts) == 30.0) and vs[8] == 1.0


@pytest.mark.parametrize(
    ("text", "axis", "named"),
    [
        ("timestamp,a,b\n1700000000,1,2\n1700000060,1,2\n", TimeAxis(), ["several value columns", "a, b"]),
        ("timestamp,a\n1700000000,1\n1700000060,1\n", TimeAxis(value_column="x"), ["no column 'x'", "timestamp, a"]),
        ("timestamp,a\n1700000000,1\n1700000060,1\n", TimeAxis(time_column="when"), ["no column 'when'"]),
        ("timestamp,a\n1700000000,1\nyesterday,1\n", TimeAxis(), ["row 3", "'timestamp'", "'yesterday'"]),
        ("timestamp,a\n1700000000,1\n1700000060,lots\n", TimeAxis(), ["row 3", "'a'", "'lots'"]),
        ("timestamp,a\n1700000000,1\n1700000060\n", TimeAxis(), ["row 3", "'a'", "the row is short"]),
        ("timestamp,a\n1700000000,1\n1700000060,2\n", TimeAxis(), ["2 row(s)", "at least 4"]),
        ("timestamp,name\n1700000000,x\n1700000060,y\n", TimeAxis(), ["no numeric value column"]),
    ],
)
def test_refusals_name_the_file_and_the_column(tmp_path: Path, text: str, axis: TimeAxis, named: list[str]) -> None:
    f = _write(tmp_path, "bad.csv", text)
    with pytest.raises(BadInput) as err:
        read_series(f, axis)
    assert str(f) in str(err.value) and all(n in str(err.value) for n in named), err.value


def test_a_pandas_export_with_its_unnamed_index_column(tmp_path: Path) -> None:
    """``df.to_csv()`` writes the index as a first column with no name: it is an index beside the time column,
    not a second value column; an unnamed column is named by its place in messages."""
    f = tmp_path / "pd.csv"
    f.write_text(",time,rps\n" + "".join(f"{i},2026-01-01T00:{5 * i:02d}:00Z,{5 + i}\n" for i in range(6)))
    ts, vs = read_series(f)
    assert vs.tolist() == [5.0, 6.0, 7.0, 8.0, 9.0, 10.0] and ts[1] - ts[0] == 300.0
    g = tmp_path / "two.csv"
    g.write_text(",time,rps,errors\n" + "".join(f"{i},2026-01-01T00:{5 * i:02d}:00Z,{i},1\n" for i in range(6)))
    with pytest.raises(BadInput, match=r"several value columns \(rps, errors\)"):
        read_series(g)


def test_a_step_must_be_positive() -> None:
    with pytest.raises(BadInput, match="--step"):
        TimeAxis(step_s=0)


GWA_HEADER = (
    "Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\t"
    "Memory capacity provisioned [KB];\tMemory usage [KB];\tDisk read throughput [KB/s]\n"
)


def _gwa(path: Path, rows: int, mhz: float, kb: float) -> None:
    lines = [GWA_HEADER]
    for i in range(rows):
        lines.append(f"{1372629804 + 300 * i};\t2;\t5200.0;\t{mhz};\t10;\t8388608.0;\t{kb};\t0.0\n")
    data = "".join(lines).encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


def test_bitbrains_gwa_files_and_folders(tmp_path: Path) -> None:
    vms = tmp_path / "vms"
    vms.mkdir()
    _gwa(vms / "1.csv.gz", 20, 1300.0, 1048576.0)
    _gwa(vms / "2.csv", 20, 2600.0, 2097152.0)
    usage = read_usage([vms])
    assert sorted(usage) == ["1", "2"]
    one = usage["1"]
    assert one.cpu[0] == pytest.approx(0.5) and one.memory_gib[0] == pytest.approx(1.0)  # 2600 MHz per core
    assert one.provisioned_cpu == 2.0 and one.provisioned_memory_gib == pytest.approx(8.0)
    assert usage["2"].cpu[0] == pytest.approx(1.0)


def test_gwa_memory_written_in_mb_or_gb_is_refused_not_read_as_an_8_kb_vm(tmp_path: Path) -> None:
    """The format says KB: a file whose provisioned memory is 8 (GB) or 8192 (MB) sized an "8 KB VM" silently."""
    for unit, cap in (("GB", 8.0), ("MB", 8192.0)):
        f = tmp_path / f"vm_{unit}.csv"
        f.write_text(GWA_HEADER + "".join(
            f"{1372629804 + 300 * i};\t2;\t5200.0;\t1300;\t10;\t{cap};\t{cap / 2};\t0.0\n" for i in range(20)
        ))  # fmt: skip
        with pytest.raises(BadInput, match=r"'Memory capacity provisioned \[KB\]' holds .*MB or GB") as err:
            read_usage([f])
        assert err.value.data["field"] == "Memory capacity provisioned [KB]", unit


def test_a_gwa_file_missing_a_column_is_named(tmp_path: Path) -> None:
    f = tmp_path / "3.csv"
    f.write_text("Timestamp [ms];CPU usage [MHZ];Memory usage [KB]\n1372629804;100;1000\n")
    with pytest.raises(BadInput, match=r"3\.csv: a GWA-T-12 file needs the column\(s\) 'CPU cores'"):
        read_usage([f])


def test_an_empty_folder_and_a_broken_gzip_are_named(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="no \\*.csv"):
        read_usage([tmp_path / "empty"])
    bad = tmp_path / "4.csv.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(BadInput, match=r"4\.csv\.gz: not a readable gzip file"):
        read_usage([bad])


def test_a_time_beyond_any_unix_unit_is_refused_naming_the_column(tmp_path: Path) -> None:
    from hx.readers import unix_seconds

    f = _write(tmp_path, "far.csv", "time,v\n1e21,1\n2e21,2\n")
    with pytest.raises(BadInput, match=r"far\.csv: row 2, column 'time': '1e21' is not a Unix time") as err:
        read_series(f)
    assert err.value.field == "time"
    with pytest.raises(BadInput, match="not a Unix time") as err:
        unix_seconds([1e21], field="workloads.0.timestamps")
    assert err.value.field == "workloads.0.timestamps"


def test_a_numeric_time_outside_1970_to_3000_is_refused_after_its_unit_is_read() -> None:
    """ISO times were held to the era, numbers were not: -1 (1969) passed, and 99999999999999 was read as
    milliseconds of year 5138 and changed an RCA answer."""
    from hx.clock import OutsideEra
    from hx.readers import not_a_time, parse_time

    assert parse_time("0") == 0.0 and parse_time("60") == 60.0  # the era starts at 1970-01-01, included
    assert parse_time("32503680000") == 32503680000.0  # 3000-01-01, included
    for cell, said in (("-1", "-1 (1969-12-31T23:59:59Z)"), ("99999999999999", "read as milliseconds (5138-")):
        with pytest.raises(OutsideEra) as err:
            parse_time(cell)
        assert said in not_a_time(cell, err.value) and "outside the times hx takes" in str(err.value)


def test_a_file_of_unix_times_past_3000_is_refused_but_an_index_still_reads(tmp_path: Path) -> None:
    far = _write(tmp_path, "far.csv", "time,v\n1700000000,1\n1700000060,2\n99999999999,3\n1700000180,4\n")
    with pytest.raises(BadInput, match=r"far\.csv: row 4, column 'time': 99999999999 \(5138-.*outside the times"):
        read_series(far)
    relative = _write(tmp_path, "rel.csv", "t,v\n" + "".join(f"{i},{i}\n" for i in range(-3, 3)))
    ts, _ = read_series(relative, TimeAxis(step_s=60.0, start=1_700_000_000.0))
    assert ts.tolist() == [1_700_000_000.0 + 60 * i for i in range(6)]


def test_a_json_document_given_as_a_csv_is_named_as_json_not_quoted_whole(tmp_path: Path) -> None:
    """Prometheus' range-query JSON read as a CSV was one 53 KB header, quoted whole in the refusal."""
    from hx.readers import read_series

    f = tmp_path / "matrix.json"
    values = ",".join(f'[{1700000000 + 60 * i},"{i}"]' for i in range(3000))
    f.write_text(
        '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[' + values + "]}]}}"
    )
    with pytest.raises(BadInput, match="not a CSV file \\(it is JSON") as err:
        read_series(f)
    assert len(str(err.value)) < 300
    pretty = tmp_path / "pretty.json"  # as jq . writes it: one value a line
    pretty.write_text('{\n  "status": "success",\n  "data": {\n    "result": []\n  }\n}\n')
    with pytest.raises(BadInput, match="not a CSV file \\(it is JSON"):
        read_series(pretty)
    bracket = tmp_path / "bracket.csv"  # a header that starts with '[' is still a CSV header
    bracket.write_text("[time],value\n")
    with pytest.raises(BadInput, match="only its header"):
        read_series(bracket)
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"column_{i}" for i in range(500)) + "\n")
    with pytest.raises(BadInput, match=r"only its header: column_0,.*\.\.\. \(\d{1,3},\d{3} characters\)"):
        read_series(wide)


def test_a_row_with_more_filled_cells_than_the_header_is_refused_naming_it(tmp_path: Path) -> None:
    # the extra cell was dropped and the row read as if it were not there
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("timestamp,value\n2015-01-01 00:00:00,1,5\n2015-01-01 00:05:00,2\n")
    with pytest.raises(BadInput, match=r"row 2 has 3 cells but the header names 2 columns \(extra: '5'\)"):
        read_table(ragged)
    ragged.write_text("timestamp,value\n2015-01-01 00:00:00,1,\n2015-01-01 00:05:00,2\n")  # a trailing comma: no data
    assert len(read_table(ragged).rows) == 2
