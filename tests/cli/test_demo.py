"""``hx demo --help`` names the scenes ``--scene`` accepts."""

from __future__ import annotations

import pytest

from hx.cli.main import main
from hx.demo.scenes import SCENES


def test_help_names_every_scene(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["demo", "--help"]) == 0
    out = capsys.readouterr().out
    assert [name for name, _scene in SCENES if name not in out] == []
    assert "placement" not in out  # the multi-cloud scene's name is multi-cloud
