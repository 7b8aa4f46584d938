from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hx.errors import BadInput
from hx.lab.scaling_plot import plot_scaling


def test_plot_writes_a_png(tmp_path: Path) -> None:
    # matplotlib is a test (and demo) extra: this test must run in CI, not skip
    t = 1_700_000_000.0 + 60.0 * np.arange(120)
    demand = 100 + 50 * np.sin(t / 600.0)
    band = (demand * 0.9, demand * 1.1)
    out = plot_scaling(
        tmp_path / "s.png", t, demand, band, {"hpa": np.full(120, 3), "predictive": np.full(120, 4)}, capacity_rps=50.0
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(BadInput):
        plot_scaling(tmp_path / "bad.png", t, demand[:-1], None, {})


def test_plot_draws_what_was_provisioned_and_checks_its_shape(tmp_path: Path) -> None:
    t = 1_700_000_000.0 + 60.0 * np.arange(60)
    demand = np.full(60, 100.0)
    prov = np.where(np.arange(60) < 2, np.nan, 130.0)
    out = plot_scaling(tmp_path / "p.png", t, demand, None, {"predictive": np.full(60, 3)}, provisioned=prov)
    assert out.stat().st_size > 1000
    with pytest.raises(BadInput, match="provisioned"):
        plot_scaling(tmp_path / "bad.png", t, demand, None, {}, provisioned=prov[:-1])
