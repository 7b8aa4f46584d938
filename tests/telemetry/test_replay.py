"""ReplaySource: both CSV layouts, gaps, garbage rows, unknown names."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from hx.errors import BadInput, EmptyResult, NotFound, Unsupported
from hx.telemetry.replay import ReplaySource


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def write(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n")
    return path


LONG = """
timestamp,service,signal,value
0,api,cpu_utilization,0.1
60,api,cpu_utilization,0.2
180,api,cpu_utilization,0.4
0,api,request_rate,100
1970-01-01T00:01:00Z,web,request_rate,7
"""


def test_long_layout_with_a_gap_for_a_missing_step(tmp_path: Path) -> None:
    src = ReplaySource([write(tmp_path / "x.csv", LONG)])
    assert src.services() == ["api", "web"]
    assert src.signals("api") == ["cpu_utilization", "request_rate"]
    s = src.signal("api", "cpu_utilization", at(0), at(180), 60)
    assert s.timestamps.tolist() == [0.0, 60.0, 120.0, 180.0]
    assert s.values[[0, 1, 3]].tolist() == [0.1, 0.2, 0.4] and np.isnan(s.values[2])
    assert s.labels == {"service": "api"}
    assert src.signal("web", "request_rate", at(0), at(60), 60).values[1] == 7.0


def test_samples_snap_to_the_nearest_step_within_half_a_step(tmp_path: Path) -> None:
    src = ReplaySource([write(tmp_path / "x.csv", "timestamp,service,signal,value\n5,a,s,1\n100,a,s,2\n")])
    assert src.signal("a", "s", at(0), at(120), 60).values.tolist()[:1] == [1.0]
    assert src.signal("a", "s", at(0), at(120), 60).values[2] == 2.0  # 100 is nearest 120


def test_wide_layout_with_service_from_the_file_name(tmp_path: Path) -> None:
    text = "timestamp,cpu_utilization,request_rate\n0,0.5,10\n60,,11\n120,NaN,12\n"
    src = ReplaySource([write(tmp_path / "checkout.csv", text)])
    assert src.services() == ["checkout"]
    cpu = src.signal("checkout", "cpu_utilization", at(0), at(120), 60)
    assert cpu.values[0] == 0.5 and np.isnan(cpu.values[1:]).all()
    assert src.signal("checkout", "request_rate", at(0), at(120), 60).values.tolist() == [10.0, 11.0, 12.0]


def test_wide_layout_with_service_and_instance_columns(tmp_path: Path) -> None:
    text = "timestamp,service,instance,cpu_utilization\n0,api,api-1,0.1\n0,api,api-2,0.3\n60,api,api-1,0.2\n"
    src = ReplaySource([write(tmp_path / "fleet.csv", text)])
    series = src.signal_by("api", "cpu_utilization", "instance", at(0), at(60), 60)
    assert [s.labels["instance"] for s in series] == ["api-1", "api-2"]
    assert series[0].values.tolist() == [0.1, 0.2]
    assert series[1].values[0] == 0.3 and np.isnan(series[1].values[1])
    with pytest.raises(NotFound, match="only per instance"):
        src.signal("api", "cpu_utilization", at(0), at(60), 60)
    with pytest.raises(Unsupported, match="instance"):
        src.signal_by("api", "cpu_utilization", "version", at(0), at(60), 60)


def test_gzip_files_are_read(tmp_path: Path) -> None:
    path = tmp_path / "api.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("timestamp,cpu_utilization\n0,0.5\n")
    assert ReplaySource([path]).services() == ["api"]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("yesterday,api,cpu_utilization,0.1", "timestamp"),
        ("nan,api,cpu_utilization,0.1", "timestamp 'nan' is not a Unix time"),  # was taken as a time
        ("1e300,api,cpu_utilization,0.1", "timestamp '1e300' is not a Unix time"),
        ("9999-12-31T23:59:59-23:59,api,cpu_utilization,0.1", "outside the times hx takes"),
        ("0,api,cpu_utilization,lots", "not a number"),
        ("0,,cpu_utilization,0.1", "empty service"),
        ("0,api,cpu utilization,0.1", "not a name"),
        ("0,api,cpu_utilization", "3 cells"),
    ],
)
def test_garbage_rows_name_file_and_line(tmp_path: Path, row: str, reason: str) -> None:
    path = write(tmp_path / "bad.csv", f"timestamp,service,signal,value\n0,api,cpu_utilization,0.1\n{row}\n")
    with pytest.raises(BadInput, match=reason) as err:
        ReplaySource([path])
    assert f"{path}, line 3" in str(err.value)
    assert err.value.data["line"] == 3


def test_garbage_rows_can_be_skipped_and_are_counted(tmp_path: Path) -> None:
    text = "timestamp,service,signal,value\n0,api,s,1\nnope,api,s,2\n\n60,api,s,x\n120,api,s,3\n"
    src = ReplaySource([write(tmp_path / "bad.csv", text)], on_bad_row="skip")
    assert [(r.line, r.reason.split()[0]) for r in src.skipped] == [(3, "timestamp"), (5, "value")]
    assert src.signal("api", "s", at(0), at(120), 60).values[[0, 2]].tolist() == [1.0, 3.0]


def test_a_later_duplicate_row_wins_and_is_counted(tmp_path: Path) -> None:
    src = ReplaySource([write(tmp_path / "d.csv", "timestamp,service,signal,value\n0,a,s,1\n0,a,s,2\n")])
    assert src.duplicates == 1
    assert src.signal("a", "s", at(0), at(0), 60).values.tolist() == [2.0]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("timestamp,service,signal,value,unit", "unknown column"),
        ("service,signal,value", "lacks"),
        ("time,cpu", "no 'timestamp'"),
        ("timestamp,service", "no signal columns"),
        ("timestamp,cpu load", "bad signal column"),
    ],
)
def test_bad_headers_always_raise(tmp_path: Path, header: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        ReplaySource([write(tmp_path / "h.csv", header + "\n")], on_bad_row="skip")


def test_unknown_service_and_signal_name_the_valid_ones(tmp_path: Path) -> None:
    src = ReplaySource([write(tmp_path / "x.csv", LONG)])
    with pytest.raises(NotFound, match="hold: api, web"):
        src.signal("nope", "cpu_utilization", at(0), at(60), 60)
    with pytest.raises(NotFound, match="hold: cpu_utilization, request_rate"):
        src.signal("api", "latency_p99", at(0), at(60), 60)


def test_a_range_without_data_is_empty_and_says_what_is_covered(tmp_path: Path) -> None:
    src = ReplaySource([write(tmp_path / "x.csv", LONG)])
    with pytest.raises(EmptyResult, match="cover 1970-01-01T00:00:00"):
        src.signal("api", "cpu_utilization", at(10_000), at(20_000), 60)


def test_missing_file_and_promql(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        ReplaySource([tmp_path / "nope.csv"])
    src = ReplaySource([write(tmp_path / "x.csv", LONG)])
    with pytest.raises(Unsupported, match="PromQL"):
        src.query("up", at(0), at(60), 60)
    assert src.health().ok


def test_from_path_reads_a_file_or_a_directory(tmp_path: Path) -> None:
    write(tmp_path / "api.csv", "timestamp,cpu_utilization\n0,0.5\n")
    write(tmp_path / "web.csv", "timestamp,cpu_utilization\n0,0.6\n")
    assert ReplaySource.from_path(tmp_path).services() == ["api", "web"]
    assert ReplaySource.from_path(tmp_path / "web.csv").services() == ["web"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NotFound, match="no \\*.csv"):
        ReplaySource.from_path(empty)


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [("api.csv", b"\xff\xfetimestamp,cpu\n", "not UTF-8 text"), ("api.csv.gz", b"not gzip at all", "not a gzip file")],
)
def test_a_file_that_cannot_be_decoded_is_named(tmp_path: Path, name: str, content: bytes, why: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(BadInput, match=f"{p}: {why}"):
        ReplaySource([p])
