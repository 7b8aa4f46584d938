"""The shipped forecaster contract (hx.forecast.checks) run over every registered forecaster."""

from __future__ import annotations

import functools

import pytest

from hx.checks import check_name
from hx.forecast import FORECASTERS, Forecaster
from hx.forecast.checks import Check, check_forecaster, yield_checks

CASES = [(n, c) for n in FORECASTERS.names() for c in yield_checks()]


def factory(name: str) -> functools.partial[Forecaster]:
    if name == "lstm":
        pytest.importorskip("torch")
    cls = FORECASTERS.get(name)
    return functools.partial(cls, **cls._unit_test_params())


@pytest.mark.parametrize(("name", "check"), CASES, ids=[f"{n}-{check_name(c)}" for n, c in CASES])
def test_contract(name: str, check: Check) -> None:
    check(factory(name))


@pytest.mark.parametrize("name", FORECASTERS.names())
def test_registered_under_its_own_name(name: str) -> None:
    assert factory(name)().name == name


def test_registry_lists_the_models() -> None:
    assert {"naive", "seasonal_naive", "holt_winters", "gbt", "lstm", "combination"} <= set(FORECASTERS.names())


def test_the_shipped_check_catches_a_forecaster_that_forgets_to_refuse() -> None:
    cls = FORECASTERS.get("naive")

    class Lenient(cls):  # type: ignore[misc, valid-type]
        def forecast(self, horizon_steps: int):  # type: ignore[no-untyped-def]
            return super().forecast(max(horizon_steps, 1))

    with pytest.raises(AssertionError, match="a horizon of 0"):
        check_forecaster(Lenient)
