"""The one severity scale: parsing free-form words, ranking, and being a plain string where one is expected."""

from __future__ import annotations

import json

import pytest

from hx.errors import BadInput
from hx.heal.intake import severity_of
from hx.heal.notify.base import Notification
from hx.severity import SEVERITIES, Severity


@pytest.mark.parametrize(
    ("raw", "want"),
    [("critical", "critical"), ("Page", "critical"), ("HIGH", "error"), ("major", "error"), ("minor", "warning"),
     ("medium", "warning"), ("low", "info"), ("none", "info"), (" Info ", "info"), ("bogus", "warning"),
     (None, "warning"), ("P1", "critical"), ("SEV-1", "critical"), ("sev2", "error"), ("p3", "warning"),
     ("P4", "info"), ("P0", "critical"), ("SEV_0", "critical"), ("fatal", "critical"), ("warn", "warning"),
     ("err", "error")],
)  # fmt: skip
def test_parse_maps_words_onto_the_four_levels(raw: object, want: str) -> None:
    assert Severity.parse(raw) == want
    assert severity_of({"severity": str(raw)} if raw is not None else {}) == want


def test_parse_default_and_rank_order() -> None:
    assert Severity.parse("bogus", Severity.INFO) is Severity.INFO
    assert sorted(Severity, key=lambda s: s.rank, reverse=True) == list(Severity)
    assert SEVERITIES == ("critical", "error", "warning", "info")


def test_a_notification_holds_the_enum_and_serialises_its_value() -> None:
    n = Notification("1", "t", "error", "api", "prod", "latency")  # type: ignore[arg-type]
    assert n.severity is Severity.ERROR
    assert json.loads(json.dumps({"s": n.severity})) == {"s": "error"}
    with pytest.raises(BadInput, match="severity 'urgent'"):
        Notification("1", "t", "urgent", "api", "prod", "latency")  # type: ignore[arg-type]
