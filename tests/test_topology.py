"""The configured call graph: inline edges and a YAML/JSON file, with errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hx.config import load_settings
from hx.errors import ConfigError
from hx.topology import StaticTopology, topology_from_settings


def _topology(home: Path, **overrides: object) -> StaticTopology:
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
