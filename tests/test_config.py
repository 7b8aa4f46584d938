from __future__ import annotations

from pathlib import Path

import pytest

from hx.config import environment_file, flatten, load_settings, validate_file
from hx.errors import ConfigError


def test_defaults_match_the_original_platform() -> None:
    s = load_settings(environ={}).settings
    assert s.ai_orchestrator.decision_engine.confidence_threshold == 0.85
    assert s.ai_orchestrator.decision_engine.fallback_strategy == "conservative"
    assert s.intelligent_monitoring.anomaly_detection.alert_threshold == 0.8
    assert s.intelligent_monitoring.scaling.prediction_horizon == 3600
    assert s.automation_level("prod") == "manual_only"
    assert s.automation_level("dev") == "full_auto"
    assert s.automation_level("unknown-env") == "manual_only"


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_shipped_environments_validate(env: str) -> None:
    s = validate_file(environment_file(env))
    assert s.environment == env


def test_precedence_file_env_cli(tmp_path: Path) -> None:
    f = tmp_path / "c.yml"
    f.write_text("self_healing: {max_runs_per_hour: 5, dry_run: true}\nsim: {seed: 7}\n")
    loaded = load_settings(
        f,
        environ={"HX_SELF_HEALING__MAX_RUNS_PER_HOUR": "6", "HX_SIM__SEED": "8"},
        overrides={"sim.seed": 9},
    )
    s = loaded.settings
    assert s.self_healing.dry_run is True
    assert s.self_healing.max_runs_per_hour == 6
    assert s.sim.seed == 9
    assert loaded.source_of("self_healing.dry_run") == f"file:{f}"
    assert loaded.source_of("self_healing.max_runs_per_hour") == "env:HX_SELF_HEALING__MAX_RUNS_PER_HOUR"
    assert loaded.source_of("sim.seed") == "cli"
    assert loaded.source_of("server.host") == "default"


def test_unknown_key_names_file_and_path(tmp_path: Path) -> None:
    f = tmp_path / "bad.yml"
    f.write_text("ai_orchestrator:\n  decision_engine: {confidence_treshold: 0.9}\n")
    with pytest.raises(ConfigError) as err:
        validate_file(f)
    msg = str(err.value)
    assert str(f) in msg
    assert "ai_orchestrator.decision_engine.confidence_treshold" in msg
    assert "unknown key" in msg


def test_wrong_type_names_expected(tmp_path: Path) -> None:
    f = tmp_path / "bad.yml"
    f.write_text("intelligent_monitoring:\n  scaling: {prediction_horizon: soon}\n")
    with pytest.raises(ConfigError) as err:
        validate_file(f)
    assert "intelligent_monitoring.scaling.prediction_horizon" in str(err.value)
    assert "an integer" in str(err.value)
    assert err.value.exit_code == 2


def test_env_error_names_the_variable() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(environ={"HX_SIM__SEED": "abc"})
    assert "$HX_SIM__SEED" in str(err.value)
    with pytest.raises(ConfigError, match="unknown section"):
        load_settings(environ={"HX_NOPE__X": "1"})


def test_unrelated_hx_variables_are_ignored() -> None:
    # HX_DATA_DIR points the benchmarks at their data; it is not a setting.
    s = load_settings(environ={"HX_DATA_DIR": "/data"}).settings
    assert s.storage.data_dir == ".hx"


def test_secrets_are_masked_in_flatten() -> None:
    s = load_settings(environ={"HX_SECRET_KEY": "hunter2-super-secret"}).settings
    flat = flatten(s)
    assert flat["security.secret_key"] == "**********"
    assert "hunter2" not in repr(flat)


def test_not_yaml_and_not_mapping(tmp_path: Path) -> None:
    f = tmp_path / "x.yml"
    f.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        validate_file(f)
    f.write_text("a: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        validate_file(f)


def test_a_file_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "x.yml"
    f.write_bytes(b"\xff\xfe\x00sim: {}\n")
    with pytest.raises(ConfigError, match=f"{f}: not UTF-8 text"):
        validate_file(f)


def test_an_unknown_key_under_a_flag_or_variable_names_where_it_came_from() -> None:
    with pytest.raises(ConfigError, match="^command line: nosuch: unknown key"):
        load_settings(environ={}, overrides={"nosuch.key": 1})
    with pytest.raises(ConfigError, match=r"^\$HX_SIM__NOSUCH__KEY: sim.nosuch: unknown key"):
        load_settings(environ={"HX_SIM__NOSUCH__KEY": "1"})


def test_a_rule_across_keys_is_said_once(tmp_path: Path) -> None:
    f = tmp_path / "x.yml"
    f.write_text("continuous_improvement:\n  quality_gates:\n    - {name: g, metric: deploy.per_day, min: 5, max: 1}\n")
    with pytest.raises(ConfigError) as err:
        validate_file(f)
    assert str(err.value) == f"{f}: continuous_improvement.quality_gates.0: min 5.0 is above max 1.0"


@pytest.mark.parametrize(
    ("text", "key", "says"),
    [
        # YAML's .inf and .nan passed every gt=0 bound: an analysis interval of .inf validated
        ("ai_orchestrator:\n  canary: {analysis_interval_s: .inf}\n", "ai_orchestrator.canary.analysis_interval_s",
         "finite"),
        ("ai_orchestrator: {rollout_timeout_s: .inf}\n", "ai_orchestrator.rollout_timeout_s", "finite"),
        ("intelligent_monitoring:\n  anomaly_detection: {alert_threshold: .nan}\n",
         "intelligent_monitoring.anomaly_detection.alert_threshold", "finite"),
        # steps the rollout planner refuses only when a deployment is planned
        ("ai_orchestrator:\n  canary: {steps: [-5, 500]}\n", "ai_orchestrator.canary.steps",
         "increasing percentages in (0, 100]"),
        ("ai_orchestrator:\n  canary: {steps: [50, 25]}\n", "ai_orchestrator.canary.steps", "increasing"),
    ],
)  # fmt: skip
def test_infinite_numbers_and_impossible_canary_steps_are_refused_naming_the_key(
    tmp_path: Path, text: str, key: str, says: str
) -> None:
    f = tmp_path / "x.yml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        validate_file(f)
    assert f"{f}: {key}: " in str(err.value) and says in str(err.value)
    assert "Value error" not in str(err.value)


def test_old_scaling_key_still_works_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    f = tmp_path / "old.yml"
    f.write_text("intelligent_monitoring:\n  predictive_scaling: {prediction_horizon: 1800, mode: recommend}\n")
    with caplog.at_level("WARNING", logger="hx.config"):
        loaded = load_settings(f, environ={"HX_INTELLIGENT_MONITORING__PREDICTIVE_SCALING__SCALING_BUFFER": "0.5"})
    cfg = loaded.settings.intelligent_monitoring.scaling
    assert (cfg.prediction_horizon, cfg.mode, cfg.scaling_buffer) == (1800, "recommend", 0.5)
    assert loaded.source_of("intelligent_monitoring.scaling.prediction_horizon") == f"file:{f}"
    warned = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert len(warned) == 1
    assert "'intelligent_monitoring.predictive_scaling'" in warned[0]
    assert "'intelligent_monitoring.scaling'" in warned[0]


def test_new_scaling_key_wins_over_the_old_one() -> None:
    overrides = {"intelligent_monitoring.predictive_scaling.mode": "recommend",
                 "intelligent_monitoring.predictive_scaling.max_replicas": 7,
                 "intelligent_monitoring.scaling.mode": "act"}  # fmt: skip
    cfg = load_settings(environ={}, overrides=overrides).settings.intelligent_monitoring.scaling
    assert (cfg.mode, cfg.max_replicas) == ("act", 7)


def test_current_scaling_key_loads_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="hx.config"):
        load_settings(environ={}, overrides={"intelligent_monitoring.scaling.mode": "recommend"})
    assert not [r for r in caplog.records if "deprecated" in r.getMessage()]


# ---- no silent simulator: real telemetry is never acted on by the simulated actuator ---------------------------


@pytest.mark.parametrize("source", ["prometheus", "replay"])
def test_real_telemetry_with_the_sim_actuator_is_refused(tmp_path: Path, source: str) -> None:
    f = tmp_path / "c.yml"
    f.write_text(f"telemetry: {{source: {source}}}\n")
    with pytest.raises(ConfigError) as info:
        validate_file(f)
    message = str(info.value)
    assert "telemetry.source" in message and "actuator.kind" in message
    assert "ansible" in message  # the fix: a real actuator
    assert info.value.key == "actuator.kind" and info.value.file == str(f)


def test_real_telemetry_with_a_real_actuator_or_sim_with_sim_is_accepted(tmp_path: Path) -> None:
    f = tmp_path / "c.yml"
    f.write_text("telemetry: {source: prometheus}\nactuator: {kind: shell}\n")
    assert validate_file(f).actuator.kind == "shell"
    f.write_text("telemetry: {source: sim}\n")
    assert validate_file(f).actuator.kind == "sim"


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_shipped_real_environments_name_a_real_actuator(env: str) -> None:
    s = validate_file(environment_file(env))
    assert s.telemetry.source == "prometheus"
    assert s.actuator.kind == "ansible" and s.actuator.ansible_inventory
    assert set(s.actuator.ansible_playbooks) >= {"restart", "scale"}
