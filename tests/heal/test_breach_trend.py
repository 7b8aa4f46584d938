from __future__ import annotations

import numpy as np

from hx.events import IncidentPredicted
from hx.heal.breach_trend import PredictiveEngine, predict_breach
from hx.sim import Fault
from tests.heal.conftest import HealWorld


def test_linear_growth_predicts_the_breach_and_noise_does_not() -> None:
    t = np.arange(0.0, 1800.0, 60.0)
    rng = np.random.default_rng(0)
    growing = 0.3 + t / 3600 * 0.6 + rng.normal(0, 0.003, t.size)
    p = predict_breach(t, growing, 0.95, 6 * 3600)
    assert p is not None and 1800 < p.eta_s < 2600  # (0.95 - 0.59) / 0.6 per hour = 0.6 h
    spiky = growing.copy()
    spiky[5] = 5.0  # one wild sample does not bend a Theil-Sen fit
    q = predict_breach(t, spiky, 0.95, 6 * 3600)
    assert q is not None and abs(q.eta_s - p.eta_s) < 600
    assert predict_breach(t, 0.4 + rng.normal(0, 0.01, t.size), 0.95, 6 * 3600) is None


def test_disk_filling_opens_a_predicted_incident_before_any_alert(hworld: HealWorld) -> None:
    svc = hworld.sim.names[2]
    hworld.sim.inject(Fault("disk_fill", service=svc, magnitude=0.005))
    pred = PredictiveEngine(hworld.platform, hworld.engine.manager, step_s=15.0)
    hworld.run(1500, alerts=False)
    pred.step(hworld.clock.now())
    incs = hworld.engine.incidents.list(kind="predicted")
    assert [(i.service, i.incident_class) for i in incs] == [(svc, "disk_full")]
    events = hworld.platform.bus.read(types=[IncidentPredicted])
    assert events and "predicted_breach_at" in events[0].data
