from __future__ import annotations

import pytest

from hx.errors import BadInput
from hx.sim.spec import FleetSpec, ServiceSpec, make_fleet, topo_order


def test_make_fleet_is_seeded_and_a_dag() -> None:
    a, b = make_fleet(40, seed=2), make_fleet(40, seed=2)
    assert a.services == b.services and a.nodes == b.nodes
    assert make_fleet(40, seed=3).services != a.services
    order = topo_order(a.services)
    pos = {a.services[i].name: k for k, i in enumerate(order)}
    for s in a.services:
        for dep, calls in s.dependencies:
            assert pos[s.name] < pos[dep] and calls > 0
    assert any(s.base_rate_rps > 0 for s in a.services)
    assert all(s.replicas >= 2 for s in a.services)


def test_fleet_validation() -> None:
    with pytest.raises(BadInput, match="cycle"):
        FleetSpec((ServiceSpec("a", dependencies=(("b", 1.0),)), ServiceSpec("b", dependencies=(("a", 1.0),))))
    with pytest.raises(BadInput, match="unknown dependency"):
        FleetSpec((ServiceSpec("a", dependencies=(("zzz", 1.0),)),))
    with pytest.raises(BadInput, match="unique"):
        FleetSpec((ServiceSpec("a"), ServiceSpec("a")))
    with pytest.raises(BadInput):
        ServiceSpec("a b")
    with pytest.raises(BadInput):
        ServiceSpec("a", capacity_rps=0)
    with pytest.raises(BadInput):
        make_fleet(0)
