"""``hx demo --serve``: the port is taken before any scene runs, and a taken one is refused at once."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hx.cli.main import main


def test_a_taken_port_is_refused_before_any_scene(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code = main(["demo", "--data-dir", str(tmp_path / "demo"), "--serve", "--port", str(port)])
    assert code == 2
    assert f"127.0.0.1:{port}" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()  # refused before the platform was built
