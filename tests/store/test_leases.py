"""Leader leases on SQLite and on a real PostgreSQL server, including two processes racing for one."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from hx.clock import SimClock
from hx.errors import BadInput
from hx.store import Store
from hx.store.leases import LeaseManager


@pytest.fixture
def store(store_url: str) -> Store:
    s = Store(store_url)
    s.upgrade()
    return s


def test_one_holder_at_a_time_and_takeover_after_expiry(store: Store) -> None:
    clock = SimClock(datetime(2026, 1, 1, tzinfo=UTC))
    a, b = LeaseManager(store, clock, "a"), LeaseManager(store, clock, "b")
    assert a.acquire("engine:x", 30) and not b.acquire("engine:x", 30)
    assert b.acquire("engine:y", 30)  # leases are per name
    clock.advance(20)
    assert a.acquire("engine:x", 30)  # renewed: now valid until t+50
    clock.advance(20)
    assert not b.acquire("engine:x", 30)
    assert a.holder_of("engine:x") is not None and a.holder_of("engine:x")[0] == "a"  # type: ignore[index]
    clock.advance(31)  # a stopped renewing
    assert a.holder_of("engine:x") is None
    assert b.acquire("engine:x", 30) and not a.acquire("engine:x", 30)
    b.release("engine:x")
    assert b.acquire("engine:y", 30)
    a.release("engine:y")  # not a's to release: nothing happens
    assert b.holder_of("engine:y") is not None
    assert a.acquire("engine:x", 30)
    with pytest.raises(BadInput, match="positive"):
        a.acquire("engine:x", 0)
    store.dispose()


def test_racing_replicas_never_both_win(store: Store) -> None:
    clock = SimClock(datetime(2026, 1, 1, tzinfo=UTC))
    winners: list[str] = []
    lock = threading.Lock()

    def race(holder: str) -> None:
        if LeaseManager(store, clock, holder).acquire("engine:race", 30):
            with lock:
                winners.append(holder)

    threads = [threading.Thread(target=race, args=(f"r{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    store.dispose()
