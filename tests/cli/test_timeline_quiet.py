"""`hx timeline` and `hx silence|maintenance|freeze` drive a running server through its API."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from hx.api.app import create_app
from hx.cli.main import main
from hx.events import AnomalyDetected
from hx.security.roles import Role
from tests.deploy.conftest import make_world
from tests.support.live import live_server


def _hx(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(args)
    return code, out.getvalue()


def test_timeline_shows_deploys_and_anomalies_in_order_with_the_key_signal(tmp_path: Path) -> None:
    w = make_world(tmp_path / "hx")
    op, _ = w.platform.tokens.create("cli", Role.OPERATOR)
    svc = w.sim.names[0]
    p = w.platform
    with live_server(create_app(p, runtime=w.runtime)) as url:
        auth = ["--url", url, "--token", op]
        code, out = _hx(["--json", "deploy", "create", svc, "v2", "-e", "dev", "--strategy", "canary", *auth])
        assert code == 0, out
        w.run(600)
        a = AnomalyDetected(anomaly_id="x1", service=svc, signal="latency_p95", score=0.93, threshold=0.8, observed=0.4,
                            expected_low=0.1, expected_high=0.2, detectors=["robust"], components={},
                            at=w.clock.now())  # fmt: skip
        p.bus.publish(a, source="anomaly-detector", subject=svc)
        code, out = _hx(["timeline", svc, "--since", "2026-03-03T08:00:00Z", "--json", *auth])
        assert code == 0, out
        data = json.loads(out)
        kinds = [e["kind"] for e in data["entries"]]
        assert kinds[0] == "deploy" and kinds[-1] == "anomaly" and data["counts"]["deploy"] >= 3
        assert [e["ts"] for e in data["entries"]] == sorted(e["ts"] for e in data["entries"])
        series = data["series"]
        assert series["signal"] == "latency_p95" and sum(v is not None for v in series["values"]) > 10
        code, text = _hx(["timeline", svc, "--since", "2026-03-03T08:00:00Z", *auth])
        assert code == 0 and "latency_p95" in text and any(ch in text for ch in "▁▂▃▄▅▆▇█")
        code, _ = _hx(["timeline", "nope", *auth])
        assert code == 2  # unknown service: bad input
        code, _ = _hx(["timeline", svc, "--since", "yesterday", *auth])
        assert code == 2
    p.store.dispose()


def test_quiet_commands_add_list_remove(tmp_path: Path) -> None:
    w = make_world(tmp_path / "hx")
    op, _ = w.platform.tokens.create("cli", Role.OPERATOR)
    viewer, _ = w.platform.tokens.create("ro", Role.VIEWER)
    with live_server(create_app(w.platform, runtime=w.runtime)) as url:
        auth = ["--url", url, "--token", op]
        code, out = _hx(["--json", "freeze", "add", "--service", "checkout", "-e", "prod", "--for", "2h",
                         "--reason", "black friday", *auth])  # fmt: skip
        assert code == 0, out
        rule = json.loads(out)
        assert rule["kind"] == "freeze" and rule["reason"] == "black friday"
        code, out = _hx(["--json", "freeze", "list", "--active", "--url", url, "--token", viewer])
        assert code == 0 and [r["id"] for r in json.loads(out)] == [rule["id"]]
        code, _ = _hx(["silence", "add", "--for", "1h", "--reason", "x", "--url", url, "--token", viewer])
        assert code == 2  # a viewer may not add: 403 -> exit 2
        code, _ = _hx(["silence", "add", "--for", "1h", "--until", "2030-01-01T00:00:00Z", "--reason", "x", *auth])
        assert code == 2
        code, out = _hx(["maintenance", "add", "--alert", "DiskFull", "--for", "30m", "--reason", "resize", *auth])
        assert code == 0 and "maintenance" in out
        code, out = _hx(["--json", "freeze", "remove", str(rule["id"]), *auth])
        assert code == 0 and json.loads(out)["removed_by"].endswith("cli")
        code, out = _hx(["freeze", "remove", str(rule["id"]), *auth])  # again: says when and by whom, changes nothing
        assert code == 0 and f"freeze {rule['id']} removed at " in out and "by token:" in out
        code, out = _hx(["freeze", "list", *auth])
        assert code == 0 and "1 freeze " in out  # not "1 freezes"
        # the CLI's own words, not the server's field names (duration_s, ends_at); a long span is not "before 1970"
        for args, says in (
            (["--for", "0m"], "longer than 0"),
            (["--for", "99999999999d"], "longer than the times"),
            (["--until", "2020-01-01T00:00:00Z"], "--until 2020-01-01T00:00:00Z is not after"),
        ):
            code, out = _hx(["--json", "silence", "add", *args, "--reason", "x", *auth])
            assert code == 2 and says in out, out
    w.platform.store.dispose()


def test_a_since_reaching_before_the_era_is_bad_input_not_an_overflow() -> None:
    from datetime import UTC, datetime

    from hx.cli.timeline import parse_since
    from hx.errors import BadInput

    now = datetime(2026, 1, 2, tzinfo=UTC)
    for text in ("1000000d", "99999999999999999999s", "0001-01-01T00:00:00+01:00"):
        with pytest.raises(BadInput) as err:
            parse_since(text, now)
        assert err.value.data["field"] == "--since", text


def test_an_onset_that_is_no_unix_time_is_shown_as_the_rows_number() -> None:
    from hx.readers_rca import iso_or_row as _iso

    assert _iso(-99_999_999_999.0) == "t=-1e+11"
    assert _iso(1_700_000_000.0) == "2023-11-14T22:13:20Z"
