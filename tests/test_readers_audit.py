"""Reader cases met on real files in the audit: an index column with an unfamiliar name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hx.errors import BadInput
from hx.readers import TimeAxis, read_series


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
