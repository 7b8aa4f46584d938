"""What every command shares (:mod:`hx.cli.session`): ``--set`` values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("pair", "says"),
    [
        ("ai_orchestrator.canary.steps=[5, 25", "'[5, 25' is not a YAML value"),
        ("ai_orchestrator.enabled=\udcff", "'\\xff' is not a YAML value (special characters are not allowed)"),
    ],
)
def test_a_set_value_yaml_cannot_read_is_refused_naming_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], pair: str, says: str
) -> None:
    """A malformed value (or a byte the shell passed undecoded) is bad input naming the key, not a traceback."""
    from hx.cli.main import main

    monkeypatch.setenv("HX_HOME", str(tmp_path))
    assert main(["--set", pair, "--json", "config", "show"]) == 2
    out, err = capsys.readouterr()
    key = pair.partition("=")[0]
    assert f"hx: error: --set {key}: {says}" in err and "Traceback" not in err
    assert json.loads(out)["error"]["field"] == "--set"


def test_a_set_value_is_parsed_as_yaml() -> None:
    from hx.cli.session import parse_overrides

    assert parse_overrides(["a.b=[5, 25]", "c=yes", "d="]) == {"a.b": [5, 25], "c": True, "d": ""}


@pytest.mark.parametrize(
    "command",
    [
        ["scale", "simulate", "--trace", "nasa", "--days", "0.1"],
        ["sim", "run", "--days", "0.1"],
        ["sim", "serve", "--port", "0"],
        ["deploy", "train"],
    ],
)
@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_a_seed_out_of_range_is_refused_naming_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str], seed: str
) -> None:
    """numpy refused a negative seed with a traceback (and scikit-learn one past 2**32 - 1)."""
    from hx.cli.main import main

    monkeypatch.setenv("HX_HOME", str(tmp_path))
    assert main(["--json", *command, "--seed", seed]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["error"]["field"] == "--seed" and "Traceback" not in err


def test_named_options_renames_the_argument_and_keeps_the_error() -> None:
    from hx.cli.session import named_options
    from hx.errors import BadInput, UnknownName

    with pytest.raises(BadInput) as caught, named_options({"days": "--days"}):
        raise BadInput("days must be > 0, got inf", field="days")
    assert str(caught.value) == "--days must be > 0, got inf" and caught.value.field == "--days"
    with pytest.raises(UnknownName) as unknown, named_options({"trace": "--trace"}):
        raise UnknownName("trace", "x", ["nasa"])
    assert unknown.value.data["field"] == "--trace" and unknown.value.data["valid"] == ["nasa"]
    with pytest.raises(BadInput) as other, named_options({"days": "--days"}):
        raise BadInput("values must be finite", field="values")
    assert other.value.data["field"] == "values"  # an argument no option sets is left as it is
