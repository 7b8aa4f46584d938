"""`hx deploy` drives a running server through its API."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from hx.api.app import create_app
from hx.cli.main import main
from hx.security.roles import Role
from tests.deploy.conftest import make_world
from tests.support.live import live_server


def _hx(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(args)
    return code, out.getvalue()


def test_deploy_create_status_abort_over_the_api(tmp_path: Path) -> None:
    w = make_world(tmp_path / "hx")
    op, _ = w.platform.tokens.create("cli", Role.OPERATOR)
    viewer, _ = w.platform.tokens.create("ro", Role.VIEWER)
    with live_server(create_app(w.platform, runtime=w.runtime)) as url:
        base = ["--json", "deploy"]
        code, out = _hx(
            [
                *base,
                "create",
                w.sim.names[0],
                "v2",
                "-e",
                "dev",
                "--strategy",
                "canary",
                "--lines-changed",
                "40",
                "--url",
                url,
                "--token",
                op,
            ]
        )
        assert code == 0, out
        dep = json.loads(out)
        assert dep["strategy"] == "canary" and dep["state"] == "running"
        code, out = _hx([*base, "status", "--url", url, "--token", viewer])
        assert code == 0 and json.loads(out)[0]["id"] == dep["id"]
        code, _ = _hx([*base, "abort", str(dep["id"]), "--url", url, "--token", viewer])
        assert code == 2  # a viewer may not abort: 403 maps to exit 2
        code, out = _hx([*base, "abort", str(dep["id"]), "--url", url, "--token", op])
        assert code == 0 and json.loads(out)["state"] in ("rolling_back", "aborted")
        code, _ = _hx([*base, "create", "nope", "v2", "-e", "dev", "--url", url, "--token", op])
        assert code == 2
    code, _ = _hx([*base, "status", "--url", "http://127.0.0.1:9", "--token", op])
    assert code == 1  # the server is down: a failure of the world, not bad input
    w.platform.store.dispose()


def _ar1(rng: np.random.Generator, n: int, phi: float = 0.7) -> np.ndarray:
    x = np.empty(n)
    x[0] = rng.standard_normal()
    for t in range(1, n):
        x[t] = phi * x[t - 1] + np.sqrt(1 - phi**2) * rng.standard_normal()
    return x


def test_canary_judge_takes_the_baselines_history(tmp_path: Path) -> None:
    """--history gives the judge the baseline's past, in blocks: it estimates autocorrelation from it."""
    rng = np.random.default_rng(5)
    past = 100 + 20 * _ar1(rng, 1440 + 30)
    files = {"history": past[:1440], "base": past[1440:], "canary": 100 + 20 * _ar1(rng, 30)}
    for name, values in files.items():
        (tmp_path / f"{name}.csv").write_text("latency\n" + "\n".join(f"{v:.4f}" for v in values) + "\n")
    cfg = tmp_path / "metrics.yml"
    cfg.write_text("metrics:\n  - {name: latency}\n")
    args = ["--json", "canary", "judge", "--baseline", str(tmp_path / "base.csv")]
    args += ["--canary", str(tmp_path / "canary.csv"), "--config", str(cfg)]
    code, out = _hx([*args, "--history", str(tmp_path / "history.csv")])
    assert code == 0
    (metric,) = json.loads(out)["metrics"]
    assert 0.6 < metric["autocorrelation"] < 0.8
    code, out = _hx(args)
    alone = json.loads(out)["metrics"][0]["autocorrelation"]
    assert abs(alone - 0.7) > abs(metric["autocorrelation"] - 0.7)  # 30 points alone estimate it worse
    assert _hx([*args, "--history", str(tmp_path / "history.csv"), "--history-block-points", "0"])[0] == 2
    # a history with none of the metrics' columns is refused, naming them; one missing some says so
    (tmp_path / "other.csv").write_text("lat,err\n1,0\n")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert _hx([*args, "--history", str(tmp_path / "other.csv")])[0] == 2
    assert "no series for any configured metric" in err.getvalue() and "it has err, lat" in err.getvalue()
    cfg.write_text("metrics:\n  - {name: latency}\n  - {name: errors}\n")
    for name in ("base", "canary"):
        rows = (tmp_path / f"{name}.csv").read_text().splitlines()
        text = "\n".join([rows[0] + ",errors", *(r + ",0" for r in rows[1:])])
        (tmp_path / f"{name}.csv").write_text(text + "\n")
    code, out = _hx([*args, "--history", str(tmp_path / "history.csv")])
    assert json.loads(out)["history_note"].endswith("has no series for errors: that metric is judged without history")


def test_train_refuses_fewer_scenarios_than_the_model_needs_before_running_any(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--scenarios 8 (the option's old minimum) simulated 8 scenarios for a minute, then the model refused 8 rows."""
    from hx.deploy.decision import StrategyModel
    from hx.deploy.risk import FEATURES, MIN_ROWS
    from hx.errors import ModelError

    monkeypatch.setenv("HX_HOME", str(tmp_path))
    code, out = _hx(["--json", "deploy", "train", "--scenarios", str(MIN_ROWS - 1)])
    assert code == 2 and json.loads(out)["error"]["field"] == "--scenarios"
    x = np.random.default_rng(0).uniform(size=(MIN_ROWS, len(FEATURES)))
    y = np.array(["canary", "blue_green"] * (MIN_ROWS // 2))
    assert StrategyModel().fit(x, y).model is not None  # the option's minimum is what the model trains on
    with pytest.raises(ModelError):
        StrategyModel().fit(x[:-1], y[:-1])
