"""``hx.demo.runner``: what the runner refuses before it builds anything."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from hx.demo import run_demo
from hx.errors import UnknownName


def test_an_unknown_scene_is_refused_before_the_platform_is_built(tmp_path: Path) -> None:
    with pytest.raises(UnknownName) as caught:
        run_demo(tmp_path / "home", only=["anomaly", "nope"])
    assert "'nope'" in str(caught.value) and "anomaly" in str(caught.value)
    assert caught.value.exit_code == 2
    assert not (tmp_path / "home").exists()


@pytest.mark.slow
def test_the_anomaly_scene_run_alone_detects_the_injected_fault(tmp_path: Path) -> None:
    results = run_demo(tmp_path / "home", console=Console(file=io.StringIO()), only=["anomaly"])
    anomaly = results["anomaly"]
    assert anomaly["detected"] >= 1, anomaly
    assert anomaly["resolved"] >= 1, anomaly


@pytest.mark.slow
def test_the_deployment_scene_run_alone_rolls_the_regression_back_at_its_first_analysis(tmp_path: Path) -> None:
    results = run_demo(tmp_path / "home", console=Console(file=io.StringIO()), only=["deployment"])
    deploy = results["deployment"]
    assert deploy["good"]["state"] == "promoted", deploy
    assert deploy["bad"]["state"] == "rolled_back", deploy
    assert deploy["bad"]["analyses"] == 1, deploy  # caught at 5 % of traffic, not at a later step
