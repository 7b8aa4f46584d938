from __future__ import annotations

import pytest
from pydantic import ValidationError

from hx.config import QualityGate, load_settings
from hx.errors import ConfigError
from hx.improve import gates, kpis
from hx.ml.learners import LEARNERS


def test_a_gate_passes_fails_or_has_no_data() -> None:
    g = [
        QualityGate(name="cfr", metric="deploy.change_failure_rate", max=0.15),
        QualityGate(name="auto", metric="heal.auto_resolved_rate", min=0.5, max=1.0),
    ]
    res = gates.evaluate(g, {"deploy.change_failure_rate": 0.1, "heal.auto_resolved_rate": 0.4})
    assert [r.status for r in res] == ["pass", "fail"]
    assert res[0].advice is None and res[1].advice and "runbooks" in res[1].advice
    res = gates.evaluate(g, {"deploy.change_failure_rate": 0.15})
    assert [r.status for r in res] == ["pass", "no_data"]
    assert res[0].note is None and res[1].note == "no incident was resolved in the KPI window"


def test_every_kpi_and_model_gate_says_why_it_has_no_data() -> None:
    # the demo's gates read "MTTR no_data" beside "healed automatically 1": the healed incident was a predicted one,
    # which MTTR does not count, and nothing said so
    g = [QualityGate(name=m, metric=m, max=1.0) for m in kpis.KPIS if m not in ("heal.open_incidents",)]
    g += [QualityGate(name="model", metric="model.deploy-strategy.live_accuracy", min=0.6)]
    counted = {"deploy.per_day", "detect.anomalies_per_day"}  # never without a value: a count over the window
    res = [r for r in gates.evaluate(g, {}) if r.metric not in counted]
    assert all(r.status == "no_data" and r.note for r in res), [r for r in res if not r.note]
    mttr = next(r for r in res if r.metric == "heal.mttr_median_s")
    assert mttr.note is not None and "predicted" in mttr.note


def test_a_gate_needs_a_bound_and_a_sane_range() -> None:
    with pytest.raises(ValidationError, match="needs max or min"):
        QualityGate(name="x", metric="deploy.change_failure_rate")
    with pytest.raises(ValidationError, match="above max"):
        QualityGate(name="x", metric="deploy.change_failure_rate", min=2, max=1)


def test_an_unknown_kpi_is_refused_naming_the_key() -> None:
    g = [QualityGate(name="ok", metric="heal.mttr_median_s", max=1), QualityGate(name="bad", metric="heal.mtbf", max=1)]
    with pytest.raises(ConfigError) as err:
        gates.check_metrics(g, kpis.KPIS, LEARNERS.names())
    msg = str(err.value)
    assert "continuous_improvement.quality_gates.1.metric" in msg and "heal.mttr_median_s" in msg
    model_gate = [QualityGate(name="m", metric="model.deploy-strategy.live_accuracy", min=0.6)]
    gates.check_metrics(model_gate, kpis.KPIS, LEARNERS.names())
    with pytest.raises(ConfigError, match="model.nope.live_accuracy"):
        gates.check_metrics([QualityGate(name="m", metric="model.nope.live_accuracy", min=0.6)], kpis.KPIS, ["x"])


def test_the_shipped_gates_name_real_kpis() -> None:
    for env in ("dev", "staging", "prod"):
        s = load_settings(environ={}, env_name=env).settings
        gates.check_metrics(s.continuous_improvement.quality_gates, kpis.KPIS, LEARNERS.names())
        assert s.continuous_improvement.quality_gates
