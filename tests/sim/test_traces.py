from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hx.errors import NotFound, UnknownName
from hx.sim.traces import (
    MONDAY_EPOCH,
    TrafficShape,
    default_shape,
    derive_vendored_profile,
    load_trace,
    resample,
    shape_for,
    trace_shape,
)


def test_vendored_profile_needs_no_data() -> None:
    s = default_shape()
    assert s.values.size == 336 and s.values.mean() == pytest.approx(1.0, abs=1e-3)
    assert s.period_s == 7 * 86400
    # NASA traffic: weekday afternoons are busier than nights and weekends
    tue_3pm = MONDAY_EPOCH + 86400 + 15 * 3600
    assert s.at(np.array([tue_3pm]))[0] > 2 * s.at(np.array([tue_3pm - 12 * 3600]))[0]
    assert s.at(np.array([tue_3pm]))[0] > s.at(np.array([tue_3pm + 4 * 86400]))[0]  # Saturday


def test_shape_interpolates_and_cycles() -> None:
    s = TrafficShape(np.array([1.0, 3.0]), 60.0, origin=0.0)
    assert s.at(np.array([30.0, 60.0, 90.0, 150.0])).tolist() == [1.0, 2.0, 3.0, 1.0]


def test_unknown_or_missing_trace(tmp_path: Path) -> None:
    with pytest.raises(UnknownName, match="nasa"):
        load_trace("wikipedia", tmp_path)
    with pytest.raises(NotFound, match="HX_DATA_DIR"):
        load_trace("nasa", tmp_path)
    with pytest.raises(UnknownName):
        shape_for("wikipedia")


def test_resample_means_and_gaps() -> None:
    t, v = resample(np.arange(6, dtype=np.float64) * 30.0, np.array([1.0, 3.0, np.nan, np.nan, 5.0, 7.0]), 60.0)
    assert t.tolist() == [0.0, 60.0, 120.0]
    assert v[0] == 2.0 and np.isnan(v[1]) and v[2] == 6.0


def test_nasa_trace_flags_gap_and_outage(data_dir: Path) -> None:
    ts, v = load_trace("nasa", data_dir)
    assert ts.size == 89280 and np.all(np.diff(ts) == 60.0)
    assert ts[0] == pytest.approx(804571200.0)  # 1995-07-01T00:00-04:00
    assert int(np.isnan(v).sum()) == 4947 + 2263  # no_log_coverage + hurricane outage rows
    assert np.nanmin(v) >= 0 and 40 < np.nanmean(v) < 60
    shape = trace_shape("nasa", data_dir)
    assert not np.isnan(shape.values).any() and shape.anchored


def test_alibaba_and_azure_traces(data_dir: Path) -> None:
    ts, v = load_trace("alibaba", data_dir)
    assert ts.size == 2243 and np.all(np.diff(ts) == 300.0) and 0 < np.mean(v) < 100
    ts, v = load_trace("azure", data_dir)
    assert ts.size == 8640 and np.all(np.diff(ts) == 300.0) and not np.isnan(v).any()
    assert trace_shape("azure", data_dir).step_s == 300.0


def test_vendored_profile_is_what_the_derivation_gives(data_dir: Path) -> None:
    prof, sigma = derive_vendored_profile(data_dir)
    shipped = default_shape()
    assert shipped.values == pytest.approx(prof, abs=1e-4)
    assert shipped.sigma == pytest.approx(sigma, abs=1e-4)
