"""``hx telemetry check --service``: a name the source does not list is a mistake, named once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hx.cli.main import main


def test_an_unknown_service_exits_2_naming_the_known_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # it printed a table with "unknown service 'nosuch'" for every signal and exited 1, the code of a signal down
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    assert main(["--json", "telemetry", "check", "--service", "nosuch"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["field"] == "--service" and "api" in error["valid"]
    assert main(["--json", "telemetry", "check", "--service", "api"]) == 0
    assert [r["service"] for r in json.loads(capsys.readouterr().out)["signals"]][:1] == ["api"]
