"""The configured call graph: inline edges and a YAML/JSON file, with errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hx.config import load_settings
from hx.errors import ConfigError
from hx.topology import StaticTopology, Topology, topology_from_settings


def _topology(home: Path, **overrides: object) -> Topology:
    return topology_from_settings(load_settings(environ={"HX_HOME": str(home)}, overrides=overrides).settings)


def test_inline_edges_are_added_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "g.json"
    path.write_text('{"web": ["api"], "api": ["db"]}')
    topo = _topology(tmp_path, **{"topology.file": str(path), "topology.edges": {"api": ["cache", "cache"]}})
    assert topo.edges() == {"web": ("api",), "api": ("cache",)}
    assert topo.callers("api") == ("web",) and topo.callees("db") == ()


def test_no_configuration_is_an_empty_graph(tmp_path: Path) -> None:
    assert _topology(tmp_path).edges() == {}


@pytest.mark.parametrize(
    ("text", "key"),
    [("[a, b]", "topology.file"), ("web: api", "topology.file.web"), ("web: [web]", "topology.file.web"),
     ("web: [", "topology.file")],
)  # fmt: skip
def test_a_bad_file_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "g.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        _topology(tmp_path, **{"topology.file": str(path)})
    assert err.value.key == key


def test_a_missing_file_and_a_self_loop_inline_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="topology.file"):
        _topology(tmp_path, **{"topology.file": str(tmp_path / "nope.yml")})
    with pytest.raises(ConfigError, match=r"topology\.edges\.api"):
        _topology(tmp_path, **{"topology.edges": {"api": ["api"]}})


def test_metrics_topology_refreshes_keeps_the_last_graph_on_failure_and_merges_the_configured() -> None:
    from hx.errors import SourceDown
    from hx.topology import MetricsTopology

    seen: list[dict[str, list[str]] | Exception] = [{"web": ["api"]}, SourceDown("down"), {"web": ["api", "cart"]}]
    clock = [0.0]

    def read() -> dict[str, list[str]]:
        got = seen.pop(0)
        if isinstance(got, Exception):
            raise got
        return got

    topo = MetricsTopology(read, static=StaticTopology({"api": ["db"]}), refresh_s=60, monotonic=lambda: clock[0])
    assert topo.callees("web") == ("api",) and topo.callees("api") == ("db",)
    clock[0] = 30.0
    assert topo.callees("web") == ("api",) and len(seen) == 2  # not due yet
    clock[0] = 61.0
    assert topo.callees("web") == ("api",) and topo.last_error == "down"  # kept the last graph
    clock[0] = 122.0
    assert topo.callers("cart") == ("web",) and topo.last_error is None


def test_topology_metrics_settings(tmp_path: Path) -> None:
    from hx.telemetry.prometheus import PrometheusSource
    from hx.topology import MetricsTopology, edge_metric

    s = load_settings(environ={"HX_HOME": str(tmp_path)}, overrides={"topology.metrics.preset": "istio"}).settings
    em = edge_metric(s.topology.metrics)
    assert em is not None and (em.metric, em.caller_label, em.callee_label) == (
        "istio_requests_total", "source_workload", "destination_workload",
    )  # fmt: skip
    own = {"topology.metrics.preset": "otel-servicegraph", "topology.metrics.caller_label": "from"}
    em = edge_metric(load_settings(environ={}, overrides=own).settings.topology.metrics)
    assert em is not None and (em.metric, em.caller_label, em.callee_label) == (
        "traces_service_graph_request_total", "from", "server",
    )  # fmt: skip
    with pytest.raises(ConfigError, match="topology.metrics needs metric, caller_label and callee_label"):
        load_settings(environ={}, overrides={"topology.metrics.metric": "calls_total"})
    src = PrometheusSource.from_settings(s.telemetry.prometheus)
    assert isinstance(topology_from_settings(s, src), MetricsTopology)
    assert isinstance(topology_from_settings(s), StaticTopology)  # no source to read from
    src.close()
