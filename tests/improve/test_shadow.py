from __future__ import annotations

import pytest

from hx.improve.shadow import accuracy, judge_live, judge_shadow


def test_accuracy() -> None:
    assert accuracy([], []) is None
    assert accuracy(["a", "a"], ["a", "b"]) == 0.5
    with pytest.raises(ValueError, match="2 predictions for 1"):
        accuracy(["a", "b"], ["a"])


@pytest.mark.parametrize(
    ("n", "shadow", "incumbent", "margin", "verdict"),
    [
        (49, 0.9, 0.1, 0.0, "wait"),
        (50, 0.9, 0.1, 0.0, "promote"),
        (50, 0.5, 0.5, 0.0, "promote"),
        (50, 0.5, 0.5, 0.05, "retire"),
        (50, 0.4, 0.6, 0.0, "retire"),
        (80, None, 0.6, 0.0, "wait"),
    ],
)
def test_judge_shadow(n: int, shadow: float | None, incumbent: float, margin: float, verdict: str) -> None:
    assert judge_shadow(n=n, shadow_acc=shadow, incumbent_acc=incumbent, min_samples=50, margin=margin) == verdict


def test_judge_live() -> None:
    assert judge_live(n=10, model_acc=0.1, rules_acc=0.9, min_samples=50) == "keep"
    assert judge_live(n=50, model_acc=0.1, rules_acc=0.9, min_samples=50) == "fallback"
    assert judge_live(n=50, model_acc=0.9, rules_acc=0.9, min_samples=50) == "keep"
