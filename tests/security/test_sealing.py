"""Sealed state: bytes from the store are unpickled only when their MAC (key outside the store) holds."""

from __future__ import annotations

import base64
import pickle
from pathlib import Path

import pytest

from hx.errors import IntegrityError
from hx.security.sealing import Sealer
from hx.store.state import pack, unpack

SEALER = Sealer.derive(b"k" * 32, "state")


class _Exploit:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, ...]:
        return (open, (self.path, "w"))


def test_pack_round_trips_under_its_context() -> None:
    text = pack({"mean": 1.5, "window": [1, 2, 3]}, SEALER, "anomaly/api/latency")
    assert unpack(text, SEALER, "anomaly/api/latency") == {"mean": 1.5, "window": [1, 2, 3]}


@pytest.mark.parametrize(
    "forge,message",
    [
        (lambda obj: base64.b64encode(pickle.dumps(obj)).decode(), "not sealed state"),
        (lambda obj: pack(obj, Sealer.derive(b"x" * 32, "state"), "anomaly/api/latency"), "MAC does not hold"),
        (lambda obj: pack(obj, SEALER, "anomaly/web/latency"), "MAC does not hold"),
        (lambda obj: "not base64 at all!", "not base64"),
    ],
    ids=["old-pickle", "other-key", "other-context", "garbage"],
)
def test_forged_state_is_refused_before_unpickling(tmp_path: Path, forge: object, message: str) -> None:
    marker = tmp_path / "pwned"
    text = forge(_Exploit(str(marker)))  # type: ignore[operator]
    with pytest.raises(IntegrityError, match=message):
        unpack(text, SEALER, "anomaly/api/latency")
    assert not marker.exists()


def test_a_flipped_byte_is_refused() -> None:
    blob = bytearray(SEALER.dumps([1, 2, 3], "c"))
    blob[-2] ^= 1
    with pytest.raises(IntegrityError, match="MAC does not hold"):
        SEALER.loads(bytes(blob), "c")
