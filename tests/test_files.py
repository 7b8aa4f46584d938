"""``hx.files``: input files read as UTF-8 text, or refused naming the file."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from hx.errors import BadInput
from hx.files import open_text, read_text


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
