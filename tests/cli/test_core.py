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
    plain = _hx(["secret", "list"], tmp_path, "")  # without --json: the names, one a line (it printed JSON)
    assert plain.stdout.split() == ["slack_webhook"]
    r = _hx(["secret", "set", "empty"], tmp_path, "")
    assert r.returncode == 2 and "no value for secret 'empty'" in r.stderr and "Traceback" not in r.stderr


def test_model_promote_needs_force_past_the_shadow_stage_and_publishes(tmp_path: Path) -> None:
    from hx.config import load_settings
    from hx.ml.registry import StageChange
    from hx.platform import build_platform
    from tests.ml.test_registry import TinyForest

    p = build_platform(load_settings(environ={"HX_HOME": str(tmp_path)}).settings)
    v1 = p.models.save("clf", TinyForest(), metrics={}, data_fingerprint="x", training_data="history").version
    v2 = p.models.save("clf", TinyForest(), metrics={}, data_fingerprint="x", training_data="history").version
    p.models.set_stage("clf", v2, "shadow", StageChange(actor="test"))
    r = _hx(["model", "promote", "clf", str(v1)], tmp_path, "")
    assert r.returncode != 0 and "not in shadow" in r.stderr and "Traceback" not in r.stderr
    r = _hx(["--json", "model", "promote", "clf", str(v1), "--force"], tmp_path, "")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["forced"] is True
    r = _hx(["--json", "model", "promote", "clf", str(v2)], tmp_path, "")
    assert r.returncode == 0 and json.loads(r.stdout)["forced"] is False
    seen = [(e.type, e.data["version"], e.data["forced"]) for e in p.bus.read(types=["model.*"])]
    assert seen == [("model.promoted", v1, True), ("model.retired", v1, False), ("model.promoted", v2, False)]
    actions = {r.action for r in p.audit.records(limit=50) if r.actor == "cli"}
    assert actions == {"model.promoted_forced", "model.promoted"}
    p.store.dispose()
