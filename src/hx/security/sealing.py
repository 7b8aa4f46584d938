"""Serialised state that is authenticated before it is loaded.

Detector state, trained models and the simulator checkpoint hold objects JSON cannot carry (fitted
scikit-learn estimators), so they are pickled; but bytes are unpickled only after an HMAC-SHA256 over them
(and over the context they were written for: a model's name and version, an engine's key) holds under a key
derived from hx's secret key, which never enters the database. Write access to the store (or to the data
directory) is then not code execution: a blob written by someone without the key is refused, not loaded.

>>> sealer = Sealer.derive(b"k" * 32, "example")
>>> blob = sealer.dumps({"a": [1, 2]}, "model:x:1")
>>> sealer.loads(blob, "model:x:1")
{'a': [1, 2]}
>>> try:
...     sealer.loads(blob, "model:x:2")  # the same bytes, read as another model's state
... except IntegrityError as err:
...     print(err.data["context"])
model:x:2
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
from typing import Any

from hx.errors import IntegrityError

#: the first bytes of a sealed blob (format version 1)
MAGIC = b"hxs1"
_MAC_LEN = 32


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose, derived from the secret key (so one use cannot stand in for another)."""
    return hmac.new(secret, b"hx-key:" + purpose.encode(), hashlib.sha256).digest()


class Sealer:
    """Seals bytes with an HMAC-SHA256 tag bound to a context string; opens them only when the tag holds."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a sealing key has at least 32 bytes")
        self._key = key

    @classmethod
    def derive(cls, secret: bytes, purpose: str) -> Sealer:
        return cls(derive_key(secret, purpose))

    def __repr__(self) -> str:
        return "Sealer(<key hidden>)"

    def mac(self, data: bytes, context: str) -> bytes:
        ctx = context.encode()
        msg = len(ctx).to_bytes(4, "big") + ctx + data
        return hmac.new(self._key, msg, hashlib.sha256).digest()

    def seal(self, data: bytes, context: str) -> bytes:
        return MAGIC + self.mac(data, context) + data

    def open(self, blob: bytes, context: str) -> bytes:
        """The sealed bytes; :class:`IntegrityError` naming ``context`` when the blob is not sealed or the MAC fails."""
        if not is_sealed(blob):
            raise IntegrityError(
                f"{context}: not sealed state (an old unauthenticated pickle, or not written by hx); "
                "refused to load it -- it is rebuilt or retrained instead",
                context=context,
            )
        tag, data = blob[len(MAGIC) : len(MAGIC) + _MAC_LEN], blob[len(MAGIC) + _MAC_LEN :]
        if not hmac.compare_digest(tag, self.mac(data, context)):
            raise IntegrityError(
                f"{context}: the sealed state's MAC does not hold (written without hx's key, altered, or copied "
                "from elsewhere); refused to load it",
                context=context,
            )
        return data

    def dumps(self, obj: object, context: str) -> bytes:
        return self.seal(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), context)

    def loads(self, blob: bytes, context: str) -> Any:
        return pickle.loads(self.open(blob, context))  # authenticated above: written by hx with its key


def is_sealed(blob: bytes) -> bool:
    return blob[: len(MAGIC)] == MAGIC and len(blob) >= len(MAGIC) + _MAC_LEN
