"""Platform commands of `hx` (hx.cli.core) through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _hx(args: list[str], home: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HX_HOME": str(home)}
    cmd = [sys.executable, "-m", "hx.cli", *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env, timeout=120)


def test_secret_set_reads_a_piped_value_and_refuses_none(tmp_path: Path) -> None:
    r = _hx(["--json", "secret", "set", "slack_webhook"], tmp_path, "https://hooks.example/abc\n")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"name": "slack_webhook", "stored": True}
    listed = _hx(["--json", "secret", "list"], tmp_path, "")
    assert "slack_webhook" in json.loads(listed.stdout)["names"]
    assert "hooks.example" not in listed.stdout
    r = _hx(["secret", "set", "empty"], tmp_path, "")
    assert r.returncode == 2 and "no value for secret 'empty'" in r.stderr and "Traceback" not in r.stderr
