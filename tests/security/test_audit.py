"""The audit chain: tampering with any stored record is caught and the record named, by an operator too."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from hx.security.audit import AuditAnchor, AuditLog, record_hash
from hx.store import Store

KEY = b"s" * 32


def _log(store_url: str, tmp_path: Path, interval_s: float = 0.0) -> AuditLog:
    store = Store(store_url)
    store.upgrade()
    head = tmp_path / "anchor" / "audit-head.json"
    return AuditLog(store, anchor=AuditAnchor(KEY, head, interval_s))


def _drop_guards(log: AuditLog) -> None:
    with log.store.begin() as conn:
        if log.store.dialect == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))


def test_chain_verifies(store_url: str, tmp_path: Path) -> None:
    log = _log(store_url, tmp_path)
    for i in range(5):
        log.append("alice", "deploy.create", f"svc-{i}", "ok", {"n": i})
    res = log.verify()
    assert res.ok and res.records == 5
    recs = log.records()
    assert recs[1].prev_hash == recs[0].hash


def test_table_refuses_updates(store_url: str, tmp_path: Path) -> None:
    log = _log(store_url, tmp_path)
    log.append("alice", "x", "t", "ok")
    with pytest.raises(Exception, match="append-only"), log.store.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory'"))


@pytest.mark.parametrize("column,value", [("actor", "'mallory'"), ("outcome", "'failed'"), ("target", "'other'")])
def test_tampered_content_is_caught(store_url: str, tmp_path: Path, column: str, value: str) -> None:
    log = _log(store_url, tmp_path)
    ids = [log.append("alice", "act", f"t{i}", "ok", {"i": i}).id for i in range(6)]
    _drop_guards(log)
    with log.store.begin() as conn:
        conn.execute(text(f"UPDATE audit_log SET {column} = {value} WHERE id = {ids[3]}"))
    res = log.verify()
    assert not res.ok
    assert res.first_broken == ids[3] and res.kind == "rewritten"
    assert "MAC does not hold" in res.reason


def test_deleted_record_is_caught(store_url: str, tmp_path: Path) -> None:
    log = _log(store_url, tmp_path)
    ids = [log.append("alice", "act", f"t{i}", "ok").id for i in range(6)]
    _drop_guards(log)
    with log.store.begin() as conn:
        conn.execute(text(f"DELETE FROM audit_log WHERE id = {ids[2]}"))
    res = log.verify()
    assert not res.ok and res.first_broken == ids[3]
    assert "prev_hash" in res.reason


def test_rehashed_record_still_breaks_the_link(store_url: str, tmp_path: Path) -> None:
    # An attacker who recomputes the edited record's own hash (without the key) is caught at that record.
    log = _log(store_url, tmp_path)
    recs = [log.append("alice", "act", f"t{i}", "ok") for i in range(4)]
    _drop_guards(log)
    r = recs[1]
    forged = record_hash(r.prev_hash, r.ts, "mallory", r.action, r.target, r.outcome, r.detail)
    with log.store.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor='mallory', hash=:h WHERE id=:id"), {"h": forged, "id": r.id})
    res = log.verify()
    assert not res.ok and res.first_broken == r.id and res.kind == "rewritten"


def _rewrite_from(log: AuditLog, first: int, actor: str) -> None:
    """What an operator with the database (and without hx's key) can do: change one record and recompute
    every later hash and link, so the SHA-256 chain holds again."""
    recs = log.records(limit=1000)
    prev = next(r.hash for r in reversed(recs) if r.id < first) if first > recs[0].id else recs[0].prev_hash
    with log.store.begin() as conn:
        for r in recs:
            if r.id < first:
                continue
            who = actor if r.id == first else r.actor
            h = record_hash(prev, r.ts, who, r.action, r.target, r.outcome, r.detail)
            conn.execute(
                text("UPDATE audit_log SET actor=:a, prev_hash=:p, hash=:h WHERE id=:id"),
                {"a": who, "p": prev, "h": h, "id": r.id},
            )
            prev = h


def test_a_rewritten_chain_with_every_later_hash_recomputed_is_caught(store_url: str, tmp_path: Path) -> None:
    log = _log(store_url, tmp_path)
    recs = [log.append("alice", "act", f"t{i}", "ok", {"i": i}) for i in range(8)]
    assert log.verify().ok and log.verify().anchored
    _drop_guards(log)
    _rewrite_from(log, recs[3].id, "mallory")
    res = log.verify()
    assert not res.ok and res.kind == "rewritten" and res.first_broken == recs[3].id
    assert "rewritten" in res.reason


def test_deleting_the_last_records_is_caught_by_the_exported_head(store_url: str, tmp_path: Path) -> None:
    log = _log(store_url, tmp_path)
    recs = [log.append("alice", "act", f"t{i}", "ok") for i in range(60)]
    _drop_guards(log)
    with log.store.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id > :id"), {"id": recs[9].id})
    res = log.verify()
    assert not res.ok and res.kind == "truncated" and res.first_broken == recs[10].id
    assert f"names record {recs[-1].id}" in res.reason and f"ends at record {recs[9].id}" in res.reason


def test_truncating_then_appending_again_is_caught(store_url: str, tmp_path: Path) -> None:
    log = _log(store_url, tmp_path)
    recs = [log.append("alice", "act", f"t{i}", "ok") for i in range(5)]
    _drop_guards(log)
    with log.store.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id > :id"), {"id": recs[1].id})
    fresh = Store(log.store.url)
    other = AuditLog(fresh, anchor=AuditAnchor(KEY, tmp_path / "elsewhere" / "head.json"))
    for i in range(5):  # a process whose own head is elsewhere appends over the gap
        other.append("bob", "act", f"u{i}", "ok")
    res = log.verify()
    assert not res.ok and res.kind == "truncated"
    fresh.dispose()


def test_the_head_is_signed_private_and_only_moves_forward(store_url: str, tmp_path: Path) -> None:
    log = _log(store_url, tmp_path)
    first = log.append("alice", "act", "t", "ok")
    second = log.append("alice", "act", "t", "ok")
    path = log.anchor.path
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    log.anchor.export(first.id, first.hash)  # an older head does not replace a newer one
    head = log.anchor.read()
    assert head is not None and head.id == second.id
    data = json.loads(path.read_text())
    data["id"] = first.id
    path.write_text(json.dumps(data))
    res = log.verify()
    assert not res.ok and res.kind == "head" and "signature" in res.reason


def test_an_old_unkeyed_chain_is_accepted_only_before_the_keyed_records(store_url: str, tmp_path: Path) -> None:
    log = _log(store_url, tmp_path)
    legacy = [log.append("alice", "act", f"t{i}", "ok") for i in range(3)]
    _drop_guards(log)
    _rewrite_from(log, legacy[0].id, "alice")  # as an older hx wrote them: plain SHA-256, no key
    log.anchor.path.unlink()
    assert log.verify().ok
    keyed = log.append("alice", "act", "after", "ok")
    assert log.verify().ok and log.anchor.read() is not None
    _rewrite_from(log, keyed.id, "mallory")
    res = log.verify()
    assert not res.ok and res.kind == "rewritten" and res.first_broken == keyed.id


def test_within_the_interval_the_head_catches_up_with_the_newest_record(store_url: str, tmp_path: Path) -> None:
    log = _log(store_url, tmp_path, interval_s=0.3)
    first = log.append("alice", "act", "t0", "ok")  # the first record is exported at once
    for i in range(5):
        last = log.append("alice", "act", f"t{i + 1}", "ok")
    head = log.anchor.read()
    assert head is not None and head.id == first.id
    time.sleep(0.6)  # the interval ends: the newest record is exported
    head = log.anchor.read()
    assert head is not None and head.id == last.id
    log.append("alice", "act", "late", "ok")
    log.anchor.flush()  # what the server does when it stops
    assert log.verify().head_id == last.id + 1
