"""The CLI through its real entry point: exit codes 0 ok / 1 failure / 2 bad usage or input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

HX = [sys.executable, "-m", "hx.cli"]


def run(args: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, "HX_HOME": str(home), **env}
    return subprocess.run(HX + args, capture_output=True, text=True, env=e, timeout=120)


def test_help_lists_the_groups(tmp_path: Path) -> None:
    r = run(["--help"], tmp_path)
    assert r.returncode == 0
    for group in ("serve", "demo", "config", "db", "token", "audit", "events"):
        assert group in r.stdout


def test_a_commands_help_paragraphs_wrap_evenly(tmp_path: Path) -> None:
    # typer kept the docstring's line breaks and wrapped again at the terminal's width: "memory: p98 of its working"
    # ended a line of 35 characters, "set, never below its peak ..." began the next
    r = run(["cost", "rightsize", "--help"], tmp_path, COLUMNS="200")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    assert "memory: p98 of its working set, never below its peak of the last day" in text
    lines = [ln.strip() for ln in r.stdout.splitlines() if ln.strip() and not ln.strip().startswith(("│", "╭", "╰"))]
    para = next(i for i, ln in enumerate(lines) if ln.startswith("Alone, each workload"))
    assert len(lines[para]) > 150  # one paragraph, wrapped by the terminal only


def test_config_validate_exit_codes(tmp_path: Path) -> None:
    good = Path(__file__).parents[2] / "environments" / "prod" / "ai-config" / "ai-ml-config.yml"
    assert run(["config", "validate", str(good)], tmp_path).returncode == 0
    bad = tmp_path / "bad.yml"
    bad.write_text("intelligent_monitoring:\n  anomaly_detection: {sensitivity: extreme}\n")
    r = run(["config", "validate", str(bad)], tmp_path)
    assert r.returncode == 2
    assert "intelligent_monitoring.anomaly_detection.sensitivity" in r.stderr
    assert str(bad) in r.stderr
    assert run(["config", "nope"], tmp_path).returncode == 2
    assert run(["--set", "novalue", "config", "show"], tmp_path).returncode == 2


def test_config_validate_names_every_wrong_key_not_only_the_first(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("intelligent_monitoring:\n  scaling: {target_utilization: lots, max_replicas: -3, bogus: 1}\n")
    r = run(["config", "validate", str(bad), "--json"], tmp_path)
    assert r.returncode == 2
    error = json.loads(r.stdout)["error"]
    keys = [e["key"] for e in error["errors"]]
    assert keys == [f"intelligent_monitoring.scaling.{k}" for k in ("target_utilization", "max_replicas", "bogus")]
    assert error["field"] == keys[0]
    assert "3 errors" in r.stderr and all(k in r.stderr for k in keys)
    assert "a value >= 1" in r.stderr  # pydantic's 'ge 1' said in words
    union = tmp_path / "union.yml"  # a setting that takes a string or a list: one error, not one per member
    union.write_text("telemetry:\n  prometheus: {preset: 5}\n")
    r = run(["config", "validate", str(union)], tmp_path)
    assert r.returncode == 2 and "telemetry.prometheus.preset: " in r.stderr and "errors in" not in r.stderr
    assert "expected a string or a list" in r.stderr


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_shipped_environments_pass_config_validate(tmp_path: Path, env: str) -> None:
    shipped = Path(__file__).parents[2] / "environments" / env / "ai-config" / "ai-ml-config.yml"
    r = run(["config", "validate", str(shipped)], tmp_path)
    assert r.returncode == 0, r.stderr


def test_config_validate_refuses_real_telemetry_acted_on_by_the_simulator(tmp_path: Path) -> None:
    f = tmp_path / "c.yml"
    f.write_text("telemetry: {source: prometheus}\n")
    r = run(["config", "validate", str(f)], tmp_path)
    assert r.returncode == 2
    assert "telemetry.source" in r.stderr and "actuator.kind" in r.stderr and str(f) in r.stderr


def test_config_show_json_with_sources(tmp_path: Path) -> None:
    r = run(["--json", "--set", "sim.seed=5", "config", "show"], tmp_path, HX_SELF_HEALING__DRY_RUN="true")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["sim.seed"] == {"value": 5, "source": "cli"}
    assert data["self_healing.dry_run"]["source"] == "env:HX_SELF_HEALING__DRY_RUN"
    assert data["server.host"]["source"] == "default"


def test_token_audit_round_trip_and_tamper(tmp_path: Path) -> None:
    r = run(["--json", "token", "create", "--role", "operator", "--name", "ci"], tmp_path)
    assert r.returncode == 0, r.stderr
    tok = json.loads(r.stdout)
    assert tok["token"].startswith("hx_")
    assert run(["token", "create", "--role", "root", "--name", "x"], tmp_path).returncode == 2
    r = run(["--json", "audit", "verify"], tmp_path)
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True
    from hx.store import Store

    store = Store(f"sqlite:///{tmp_path / 'hx.db'}")
    with store.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET actor='mallory' WHERE id=1"))
    store.dispose()
    r = run(["audit", "verify"], tmp_path)
    assert r.returncode == 1
    assert "record 1" in r.stderr


@pytest.mark.parametrize("args", [["db", "upgrade"], ["--json", "db", "current"]])
def test_db_commands(tmp_path: Path, args: list[str]) -> None:
    r = run(args, tmp_path)
    assert r.returncode == 0, r.stderr


def test_every_command_takes_json_after_its_name() -> None:
    import typer

    from hx.cli.main import app

    def leaves(cmd: Any, path: str) -> list[tuple[str, Any]]:
        subs = getattr(cmd, "commands", None)  # a group (typer's own click)
        if subs is not None:
            return [leaf for name, sub in subs.items() for leaf in leaves(sub, f"{path} {name}")]
        return [(path, cmd)]

    servers = {"hx serve", "hx sim serve"}  # they run until stopped and print no result
    commands = leaves(typer.main.get_command(app), "hx")
    assert len(commands) > 40
    missing = [p for p, cmd in commands if p not in servers and not any("--json" in o.opts for o in cmd.params)]
    assert missing == []


def test_json_after_the_command_is_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hx.cli.main import main

    monkeypatch.setenv("HX_HOME", str(tmp_path))
    assert main(["config", "show", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sim.seed"]["source"] == "default"
    assert main(["token", "mfa", "enroll", "7", "--json"]) == 2  # the option parses; the token does not exist
    assert "no token with id 7" in capsys.readouterr().err


def test_events_tail_json_is_one_json_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hx.cli.main import main
    from hx.config import load_settings
    from hx.events import CostReport
    from hx.platform import build_platform

    p = build_platform(load_settings(environ={"HX_HOME": str(tmp_path)}).settings)
    for services in (1, 2):
        p.bus.publish(CostReport(kind="rightsizing", services=services), source="test")
    p.store.dispose()
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    assert main(["events", "tail", "--json", "--type", "cost.*"]) == 0
    events = json.loads(capsys.readouterr().out)
    assert [e["data"]["services"] for e in events] == [1, 2]
    assert main(["events", "tail", "--type", "cost.*"]) == 0  # without --json: each event's data as JSON too
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "cost.report" in ln]
    assert len(lines) == 2 and json.loads(lines[0][lines[0].index("{") :])["services"] == 1


def test_version(tmp_path: Path) -> None:
    r = run(["--version"], tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("hx ")


def test_events_tail_names_an_unknown_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hx.cli.main import main

    monkeypatch.setenv("HX_HOME", str(tmp_path))
    assert main(["events", "tail", "-f", "--type", "deployment.promote"]) == 2  # refused before it follows
    assert "unknown event type 'deployment.promote'" in capsys.readouterr().err


def test_config_validate_refuses_a_gate_on_a_kpi_nobody_computes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hx.cli.main import main

    monkeypatch.setenv("HX_HOME", str(tmp_path))
    f = tmp_path / "gates.yml"
    gate = "{name: cfr, metric: deploy.change_fail_rate, max: 0.2}"
    f.write_text(f"continuous_improvement:\n  quality_gates:\n    - {gate}\n")
    assert main(["config", "validate", str(f)]) == 2
    err = capsys.readouterr().err
    assert str(f) in err and "continuous_improvement.quality_gates.0.metric" in err
    assert "deploy.change_failure_rate" in err  # among the valid names


@pytest.mark.parametrize(
    ("args", "field", "says"),
    [
        (["canary", "judge", "--baseline", "nope.csv", "--canary", "nope.csv", "--config", "c.yml"], "--baseline",
         "does not exist"),
        (["scale", "simulate", "--trace", "nasa", "--startup", "-1"], "--startup", "from 0 to 3600, got -1"),
        # typer's own bounds called nan "more than 3600", and let inf through where there was no upper bound
        (["scale", "simulate", "--trace", "nasa", "--startup", "nan"], "--startup", "from 0 to 3600, got nan"),
        (["sim", "run", "--days", "nan"], "--days", "from 0.01 to 366, got nan"),
        (["lab", "scenario", "good-rollout", "--timeout", "inf"], "--timeout", "a number at least 1, got inf"),
        (["validate", "--wait", "abc"], "--wait", "expected a number, got 'abc'"),
        (["canary", "judge", "--bogus"], "--bogus", "No such option: --bogus"),
        (["canary", "judge", "--baseline"], "--baseline", "requires an argument"),
    ],
)  # fmt: skip
def test_a_refusal_of_the_option_parser_is_json_on_stdout_with_json(
    tmp_path: Path, args: list[str], field: str | None, says: str
) -> None:
    r = run(["--json", *args], tmp_path)
    assert r.returncode == 2
    err = json.loads(r.stdout)["error"]
    assert err["exit_code"] == 2 and says in err["detail"] and err.get("field") == field
    assert "Error" in r.stderr  # the person still sees the message (and the usage line, where typer has it)
    plain = run(args, tmp_path)
    assert plain.returncode == 2 and plain.stdout == "" and "Error" in plain.stderr


def test_hx_alone_prints_its_help_once(tmp_path: Path) -> None:
    r = run([], tmp_path)
    assert r.returncode == 2 and r.stdout.count("Usage: hx") == 1 and r.stderr == ""


def test_an_internal_error_exits_70_not_a_verdicts_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug surfaces with its traceback and exit 70 (EX_SOFTWARE): ``hx canary judge`` uses 1 for "fail"."""
    import hx.cli.main as cli

    def broken(**_: object) -> None:
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(cli, "app", broken)
    assert cli.main(["canary", "judge", "--json"]) == 70
    out, err = capsys.readouterr()
    assert "Traceback" in err and "hx: internal error: ZeroDivisionError" in err
    assert json.loads(out)["error"] == {"title": "internal error", "detail": "ZeroDivisionError: float division by "
                                        "zero", "exit_code": 70}  # fmt: skip
