"""``hx cost rightsize`` as a first-time user reads it: units in every header, small sizes not rounded to 0,
fleet totals that name their budget, and a progress bar while many VM files are read."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from hx.cli.main import main
from hx.readers import read_usage

GWA_HEADER = (
    "Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\t"
    "Memory capacity provisioned [KB];\tMemory usage [KB];\tDisk read throughput [KB/s];\t"
    "Disk write throughput [KB/s];\tNetwork received throughput [KB/s];\tNetwork transmitted throughput [KB/s]"
)


def _gwa(folder: Path, n: int, cpu_mhz: float) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(3)
    for vm in range(1, n + 1):
        rows = [GWA_HEADER]
        for i in range(2 * 288):
            used = cpu_mhz * (1 + 0.3 * rng.random())
            rows.append(
                f"{1376314846 + 300 * i};\t2;\t5851.99;\t{used:.3f};\t{used / 58.5:.3f};\t"
                f"4194304;\t{1048576 * (1 + 0.1 * rng.random()):.1f};\t0;\t0;\t0;\t0"
            )
        (folder / f"{vm}.csv.gz").write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    return folder


def test_headers_carry_units_and_small_sizes_are_not_rounded_to_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    vms = _gwa(tmp_path / "vms", 3, cpu_mhz=5.0)  # about 0.002 vCPU each
    assert main(["cost", "rightsize", "--fleet", str(vms)]) == 0
    out = capsys.readouterr().out
    for header in ("vCPU", "GiB", "USD/month", "exceed", "CPU (vCPU)", "memory (GiB)"):
        assert header in out, out
    assert "risk budget" in out
    rows = [ln for ln in out.splitlines() if ln.startswith("  1 ")]
    assert rows and " 0.00 " not in rows[0], out


def test_reading_many_usage_files_reports_progress(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    read_usage([_gwa(tmp_path / "vms", 3, cpu_mhz=500.0)], progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
