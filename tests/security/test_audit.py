"""The audit chain: tampering with any stored record is caught and the record named."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from hx.security.audit import AuditLog
from hx.store import Store


def _log(store_url: str) -> AuditLog:
    store = Store(store_url)
    store.upgrade()
    return AuditLog(store)


def _drop_guards(log: AuditLog) -> None:
    with log.store.begin() as conn:
        if log.store.dialect == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))


def test_chain_verifies(store_url: str) -> None:
    log = _log(store_url)
    for i in range(5):
        log.append("alice", "deploy.create", f"svc-{i}", "ok", {"n": i})
    res = log.verify()
    assert res.ok and res.records == 5
    recs = log.records()
    assert recs[1].prev_hash == recs[0].hash


def test_table_refuses_updates(store_url: str) -> None:
    log = _log(store_url)
    log.append("alice", "x", "t", "ok")
    with pytest.raises(Exception, match="append-only"), log.store.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory'"))


@pytest.mark.parametrize("column,value", [("actor", "'mallory'"), ("outcome", "'failed'"), ("target", "'other'")])
def test_tampered_content_is_caught(store_url: str, column: str, value: str) -> None:
    log = _log(store_url)
    ids = [log.append("alice", "act", f"t{i}", "ok", {"i": i}).id for i in range(6)]
    _drop_guards(log)
    with log.store.begin() as conn:
        conn.execute(text(f"UPDATE audit_log SET {column} = {value} WHERE id = {ids[3]}"))
    res = log.verify()
    assert not res.ok
    assert res.first_broken == ids[3]
    assert "content" in res.reason


def test_deleted_record_is_caught(store_url: str) -> None:
    log = _log(store_url)
    ids = [log.append("alice", "act", f"t{i}", "ok").id for i in range(6)]
    _drop_guards(log)
    with log.store.begin() as conn:
        conn.execute(text(f"DELETE FROM audit_log WHERE id = {ids[2]}"))
    res = log.verify()
    assert not res.ok and res.first_broken == ids[3]
    assert "prev_hash" in res.reason


def test_rehashed_record_still_breaks_the_link(store_url: str) -> None:
    # An attacker who recomputes the edited record's own hash still breaks the next link.
    from hx.security.audit import record_hash

    log = _log(store_url)
    recs = [log.append("alice", "act", f"t{i}", "ok") for i in range(4)]
    _drop_guards(log)
    r = recs[1]
    forged = record_hash(r.prev_hash, r.ts, "mallory", r.action, r.target, r.outcome, r.detail)
    with log.store.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor='mallory', hash=:h WHERE id=:id"), {"h": forged, "id": r.id})
    res = log.verify()
    assert not res.ok and res.first_broken == recs[2].id
