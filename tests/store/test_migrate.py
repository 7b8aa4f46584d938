"""``hx.store.migrate``: migrations to a named revision."""

from __future__ import annotations

from pathlib import Path

import pytest

from hx.errors import BadInput
from hx.store import Store


def test_an_unknown_revision_is_named_with_the_valid_ones(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'hx.db'}")
    with pytest.raises(BadInput) as caught:
        store.upgrade("nope")
    assert caught.value.exit_code == 2
    assert "'nope'" in str(caught.value) and "0001" in str(caught.value) and "head" in str(caught.value)
    assert store.current_revision() is None
    store.dispose()
