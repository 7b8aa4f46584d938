from __future__ import annotations

from pathlib import Path

import pytest

from hx.errors import ConfigError
from hx.heal.runbooks import load_runbooks, select_runbook


def write(tmp_path: Path, text: str) -> Path:
    d = tmp_path / "rb"
    d.mkdir(exist_ok=True)
    (d / "mine.yml").write_text(text)
    return d


def test_shipped_runbooks_load_and_cover_the_fixable_classes() -> None:
    rbs = load_runbooks()
    for cls in ("memory_leak", "cpu_saturation", "latency_regression", "error_spike", "crash_loop", "disk_full",
                "traffic_surge", "node_failure"):  # fmt: skip
        rb, _ = select_runbook(rbs, cls, {}, "dev", {"deploy_recent": 1.0, "request_rate_rel": 5.0})
        assert rb is not None, cls
    assert select_runbook(rbs, "unknown", {}, "dev")[0] is None


def test_min_facts_keep_a_runbook_off_incidents_without_the_evidence() -> None:
    rbs = load_runbooks()
    rb, why = select_runbook(rbs, "traffic_surge", {}, "dev", {"request_rate_rel": 0.1})
    assert rb is None and "request_rate_rel >= 2" in why[0]
    assert select_runbook(rbs, "traffic_surge", {}, "dev", {})[0] is None  # no evidence at all: no action
    rb, _ = select_runbook(rbs, "traffic_surge", {}, "dev", {"request_rate_rel": 2.0})
    assert rb is not None and rb.name == "scale-out-surge"


def test_a_scale_step_sizes_by_one_of_factor_replicas_or_target_saturation(tmp_path: Path) -> None:
    both = "  - {kind: scale, factor: 2, target_saturation: 0.6}\n  - {kind: verify, signal: saturation, below: 0.7}\n"
    d = write(tmp_path, "name: bad\nmatch: {classes: [traffic_surge]}\nsteps:\n" + both)
    with pytest.raises(ConfigError, match="exactly one of factor, replicas or target_saturation"):
        load_runbooks([d], include_shipped=False)


def test_error_names_file_and_step(tmp_path: Path) -> None:
    d = write(tmp_path, "name: bad\nmatch: {classes: [memory_leak]}\nsteps:\n  - kind: restart\n  - kind: scale\n")
    with pytest.raises(ConfigError) as err:
        load_runbooks([d], include_shipped=False)
    text = str(err.value)
    assert "mine.yml" in text and "step 2 (scale)" in text and "factor, replicas" in text


def test_unknown_key_in_step_is_refused(tmp_path: Path) -> None:
    d = write(tmp_path, "name: bad\nmatch: {classes: [disk_full]}\nsteps:\n  - kind: clear_disk\n    force: yes\n"
                        "  - {kind: verify, signal: disk_utilization, below: 0.5}\n")  # fmt: skip
    with pytest.raises(ConfigError, match=r"step 1 \(clear_disk\), field force"):
        load_runbooks([d], include_shipped=False)


def test_a_fix_without_verification_is_refused(tmp_path: Path) -> None:
    d = write(tmp_path, "name: bad\nmatch: {classes: [disk_full]}\nsteps:\n  - kind: clear_disk\n")
    with pytest.raises(ConfigError, match="verify"):
        load_runbooks([d], include_shipped=False)


def test_most_specific_runbook_wins(tmp_path: Path) -> None:
    rbs = load_runbooks()
    assert select_runbook(rbs, "memory_leak", {}, "prod")[0].name == "restart-leaking-service-prod"  # type: ignore[union-attr]
    assert select_runbook(rbs, "memory_leak", {}, "dev")[0].name == "restart-leaking-service"  # type: ignore[union-attr]


def test_rollback_needs_a_recent_deployment() -> None:
    rbs = load_runbooks()
    rb, why = select_runbook(rbs, "latency_regression", {}, "dev", {"deploy_recent": 0.0})
    assert rb is None and "no recent deployment" in why[0]
