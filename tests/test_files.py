"""``hx.files``: input files read as UTF-8 text, or refused naming the file."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from hx.errors import BadInput, HxError
from hx.files import open_text, read_text, writing


def test_text_round_trips_with_its_line_endings(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_bytes(b'timestamp,value\r\n1,"x\r\ny"\r\n')
    assert read_text(f) == 'timestamp,value\r\n1,"x\r\ny"\r\n'
    assert list(csv.reader(open_text(f))) == [["timestamp", "value"], ["1", "x\r\ny"]]


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_bytes(b"\xff\xfe\x00t")
    with pytest.raises(BadInput, match="a.csv: not UTF-8 text") as caught:
        read_text(f)
    assert caught.value.exit_code == 2 and caught.value.data["file"] == str(f)


def test_a_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=f"cannot read {tmp_path}"):
        read_text(tmp_path)


def test_a_path_that_cannot_be_written_is_named_with_its_option(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(BadInput, match=f"--out {blocker / 'x.csv'}: cannot write") as caught, writing("--out"):
        (blocker / "x.csv").write_text("x")
    assert caught.value.field == "--out" and caught.value.exit_code == 2


def test_other_write_failures_are_failures_not_bad_input(tmp_path: Path) -> None:
    import errno

    with pytest.raises(HxError, match="--out /x: cannot write: No space left") as caught, writing("--out"):
        raise OSError(errno.ENOSPC, "No space left on device", "/x")
    assert not isinstance(caught.value, BadInput) and caught.value.exit_code == 1


def test_a_byte_order_mark_is_dropped_so_the_first_column_keeps_its_name(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" starts the file with a BOM: the time column was '\\ufefftime', found by no name."""
    from hx.readers import read_series

    f = tmp_path / "excel.csv"
    rows = "".join(f"2024-03-01T{h:02d}:{m:02d}:00Z,{100 + m}\r\n" for h in range(2) for m in range(0, 60, 5))
    f.write_bytes(b"\xef\xbb\xbf" + f"time,value\r\n{rows}".encode())
    assert read_text(f).startswith("time,value")
    ts, vs = read_series(f)
    assert ts.size == 24 and ts[1] - ts[0] == 300.0 and vs[0] == 100.0
