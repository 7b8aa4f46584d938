"""The pure rules of shadow evaluation: accuracy on live outcomes and what to do about it.

>>> accuracy(["a", "b", "b"], ["a", "b", "a"])
0.6667
>>> judge_shadow(n=10, shadow_acc=0.9, incumbent_acc=0.5, min_samples=50, margin=0.0)
'wait'
>>> judge_shadow(n=60, shadow_acc=0.9, incumbent_acc=0.5, min_samples=50, margin=0.0)
'promote'
>>> judge_live(n=60, model_acc=0.4, rules_acc=0.7, min_samples=50)
'fallback'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal


def accuracy(pred: Sequence[str], truth: Sequence[str]) -> float | None:
    if len(pred) != len(truth):
        raise ValueError(f"{len(pred)} predictions for {len(truth)} labels")
    return round(sum(p == t for p, t in zip(pred, truth, strict=True)) / len(truth), 4) if truth else None


def judge_shadow(
    *, n: int, shadow_acc: float | None, incumbent_acc: float | None, min_samples: int, margin: float
) -> Literal["wait", "promote", "retire"]:
    """After ``min_samples`` live outcomes, a shadow that is at least ``margin`` better than the incumbent
    (the promoted model, or the rules when none is) is promoted; otherwise it is retired."""
    if n < min_samples or shadow_acc is None or incumbent_acc is None:
        return "wait"
    return "promote" if shadow_acc >= incumbent_acc + margin else "retire"


def judge_live(
    *, n: int, model_acc: float | None, rules_acc: float | None, min_samples: int
) -> Literal["keep", "fallback"]:
    """A promoted model that does worse than the rules on its own live outcomes gives way to the rules."""
    if n < min_samples or model_acc is None or rules_acc is None:
        return "keep"
    return "fallback" if model_acc < rules_acc else "keep"
