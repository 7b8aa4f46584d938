"""``hx telemetry check`` without Prometheus: what the engines need, the check over the simulated fleet, the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hx.cli.main import main
from hx.config import load_settings
from hx.deploy.analysis import DEFAULT_JUDGE
from hx.sim import Simulation, make_fleet
from hx.sim.source import SimSource
from hx.telemetry.discovery import CANARY_SIGNALS, SCALER_SIGNALS, check_telemetry, needed_signals
from hx.topology import StaticTopology


def test_the_canary_signals_are_what_the_judge_reads() -> None:
    judged = {m.name for m in DEFAULT_JUDGE.metrics}
    derived = {"errors": {"request_rate", "error_rate"}, "requests": {"request_rate"}}
    expected = set().union(*(derived.get(m, {m}) for m in judged))
    assert expected == set(CANARY_SIGNALS)


def test_needs_follow_the_enabled_engines() -> None:
    s = load_settings(environ={}).settings
    engines = {n.engine for n in needed_signals(s)}
    assert engines == {"anomaly-detector", "predictive-scaler", "canary-analysis"}
    off = {"intelligent_monitoring.scaling.enabled": False, "ai_orchestrator.enabled": False}
    needs = needed_signals(load_settings(environ={}, overrides=off).settings)
    assert {n.engine for n in needs} == {"anomaly-detector"} and all(n.per == "service" for n in needs)
    assert set(SCALER_SIGNALS) == {"request_rate", "replicas"}


def test_check_over_the_simulated_fleet() -> None:
    sim = Simulation(make_fleet(2, seed=3))
    sim.run_until(sim.now + timedelta(hours=1))
    settings = load_settings(environ={}).settings
    report = check_telemetry(SimSource(sim), settings, sim.now, topology=StaticTopology({"a": ["b"]}))
    assert report.services and report.source == "SimSource"
    assert report.topology == {"source": "configuration", "edges": {"a": ["b"]}, "error": None}
    rows = {(r.service, r.signal, r.per): r for r in report.signals}
    first = report.services[0].name
    assert rows[(first, "request_rate", "service")].resolves
    assert report.to_dict()["ok"] == report.ok


def test_no_services_is_a_problem() -> None:
    sim = Simulation(make_fleet(1, seed=1))
    report = check_telemetry(SimSource(sim), load_settings(environ={}).settings, datetime.now(UTC), services=[])
    assert report.services  # the sim always has its services
    empty = check_telemetry(_Empty(), load_settings(environ={}).settings, datetime.now(UTC))
    assert not empty.ok and "no services discovered" in empty.problems[0]


class _Empty(SimSource):
    def __init__(self) -> None:
        super().__init__(Simulation(make_fleet(1, seed=1)))

    def services(self) -> list[str]:
        return []


def test_cli_presets_lists_and_shows(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--json", "telemetry", "presets"]) == 0
    names = [p["name"] for p in json.loads(capsys.readouterr().out)]
    assert names == ["haproxy", "http-semconv", "hx-sim", "kube-prometheus", "node"]
    assert main(["telemetry", "presets", "--show", "haproxy"]) == 0
    assert "label_replace" in capsys.readouterr().out
    assert main(["telemetry", "presets", "--show", "nope"]) == 2
