"""``hx lab`` without a running lab: clear errors and exit codes (the lab: tests/integration/test_lab_fleet.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HX = [sys.executable, "-m", "hx.cli"]


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        HX + args, capture_output=True, text=True, env={**os.environ, "HX_HOME": str(home)}, timeout=120
    )


def test_status_without_a_lab_says_how_to_start_one(tmp_path: Path) -> None:
    r = run(["lab", "status", "--lab-dir", str(tmp_path / "lab")], tmp_path)
    assert r.returncode == 1 and "hx lab up" in r.stderr


def test_down_without_a_lab_stops_nothing(tmp_path: Path) -> None:
    r = run(["--json", "lab", "down", "--lab-dir", str(tmp_path / "lab")], tmp_path)
    assert r.returncode == 0 and '"stopped": []' in r.stdout


def test_bad_options_are_bad_input(tmp_path: Path) -> None:
    r = run(["lab", "up", "--lab-dir", str(tmp_path / "lab"), "--rps", "0"], tmp_path)
    assert r.returncode == 2 and "--rps" in r.stderr
    r = run(["lab", "up", "--lab-dir", str(tmp_path / "lab"), "--workers", "65"], tmp_path)
    assert r.returncode == 2 and "--workers 65" in r.stderr


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "Expecting value"),
        (b'{"bogus": 1}', "unknown keys 'bogus'"),
        (b"[1]", "a JSON object was expected"),
        (b'{"root": "/x", "components": {"hx": {"name": "hx", "pid": "x"}}}', "pid and port must be integers"),
        (bytes(range(256)), "can't decode"),
    ],
)
@pytest.mark.parametrize("command", [["status"], ["down"], ["scenario", "good-rollout"], ["tour"]])
def test_a_file_that_is_no_lab_state_is_named(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    says: str,
    command: list[str],
) -> None:
    """An empty, foreign or binary lab.json was a JSONDecodeError, TypeError or UnicodeDecodeError traceback (and
    ``down`` must not answer 'stopped 0' for it: a lab may be running)."""
    from hx.cli.main import main

    monkeypatch.setenv("HX_HOME", str(tmp_path))
    lab = tmp_path / "fakelab"
    lab.mkdir()
    (lab / "lab.json").write_bytes(content)
    assert main(["--json", "lab", *command, "--lab-dir", str(lab)]) == 2
    out, err = capsys.readouterr()
    error = json.loads(out)["error"]
    assert error["detail"].startswith(f"{lab / 'lab.json'}: not a lab state file (") and says in error["detail"]
    assert error["field"] == "--lab-dir" and "Traceback" not in err
