"""The shipped detector contract (hx.detect.checks) run over every registered detector: a new one gets it free."""

from __future__ import annotations

import pytest

from hx.checks import check_name
from hx.detect import DETECTORS
from hx.detect.base import Detector
from hx.detect.checks import Check, check_detector, yield_checks

#: detectors not meant to flag a lone spike (the forest scores window shapes; CUSUM sustained shifts)
NOT_SPIKE = ("iforest", "cusum")
CASES = [(n, c) for n in DETECTORS.names() for c in yield_checks(spikes=n not in NOT_SPIKE)]


@pytest.mark.parametrize(("name", "check"), CASES, ids=[f"{n}-{check_name(c)}" for n, c in CASES])
def test_contract(name: str, check: Check) -> None:
    check(DETECTORS.get(name))


class Broken(Detector):
    """Learns inside score_one: the shipped contract must catch it."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def _score(self, x: float, t: float) -> float:
        self.n += 1
        return min(1.0, self.n / 10_000)

    def _learn(self, x: float, t: float) -> None:
        return None


def test_the_shipped_check_catches_a_detector_that_learns_while_scoring() -> None:
    with pytest.raises(AssertionError, match="score_one must not change the detector"):
        check_detector(Broken, spikes=False)
