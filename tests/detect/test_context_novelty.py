"""Context novelty: symbols, transition codes, and what the detector flags (contract tests cover the rest)."""

from __future__ import annotations

import numpy as np
import pytest

from hx.detect.context_novelty import ContextNovelty, StepContextNovelty, shift_contexts, symbol, transition_codes
from hx.errors import BadInput


def test_symbol_bins_and_widens_the_range() -> None:
    assert [symbol(x, 0.0, 8.0, 8) for x in (0.0, 0.99, 1.0, 7.5, 8.0)] == [0, 0, 1, 7, 7]
    assert symbol(-5.0, 0.0, 8.0, 8) == 0 and symbol(100.0, 0.0, 8.0, 8) == 7
    assert symbol(4.0, 4.0, 4.0, 8) == 0  # a flat range has one symbol


def test_transition_codes_are_distinct_per_order_and_channel() -> None:
    value = transition_codes(1, [0, 1, 2], 3, 9)
    step = transition_codes(2, [0, 1, 2], 3, 9)
    assert len(value) == 3 and len(set(value) | set(step)) == 6
    assert transition_codes(1, [5, 1, 2], 3, 9)[:2] == value[:2]  # orders 1 and 2 ignore the oldest symbol
    assert transition_codes(1, [5, 1, 2], 3, 9)[2] != value[2]


def test_shift_contexts_matches_the_direct_codes() -> None:
    rng = np.random.default_rng(0)
    ctx: list[int] = []
    hist: list[int] = []
    for sym in rng.integers(0, 8, 200).tolist():
        ctx = shift_contexts(ctx, sym, 9, 4)
        hist = [*hist, sym][-4:]
        assert [c * 9 + 5 for c in ctx] == transition_codes(1, hist, 5, 9)


def _rhythm(n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    v = np.tile([0.0, 1.0, 2.0, 3.0, 2.0, 1.0], n // 6) + rng.normal(0, 0.05, n)
    return v, np.arange(n, dtype=np.float64) * 60.0


def test_a_broken_rhythm_within_the_old_range_is_flagged() -> None:
    v, t = _rhythm()
    v[2500:2512] = np.tile([0.0, 3.0], 6)  # values seen before, in an order never seen
    s = ContextNovelty().process(v, t)
    assert s[2500:2515].max() >= 0.8
    assert s[300:2500].max() < 0.8


def test_step_channel_flags_a_new_slope() -> None:
    v, t = _rhythm()
    v[2500:2520] = 1.5 + np.arange(20) * 0.3  # a steady climb: steps never made before
    s = StepContextNovelty().process(v, t)
    assert s[2500:2520].max() >= 0.8
    assert s[300:2500].max() < 0.8


def test_memory_is_bounded() -> None:
    rng = np.random.default_rng(2)
    v = rng.normal(size=3000)
    det = ContextNovelty(levels=16, depth=4, max_transitions=500)
    det.process(v, np.arange(3000.0))
    assert len(det._seen) <= 500


def test_step_context_is_a_context_over_steps() -> None:
    assert StepContextNovelty().get_params()["channel"] == "step"
    v, t = _rhythm(600)
    np.testing.assert_array_equal(StepContextNovelty().process(v, t), ContextNovelty(channel="step").process(v, t))


@pytest.mark.parametrize(
    "params", [{"levels": 1}, {"depth": 0}, {"tolerance": -1}, {"max_transitions": 0}, {"channel": "both"}]
)
def test_bad_parameters_are_bad_input(params: dict[str, object]) -> None:
    with pytest.raises(BadInput):
        ContextNovelty(**params)  # type: ignore[arg-type]
