"""`hx audit verify` names an operator's tampering: the last records deleted, or a record rewritten with every
later hash recomputed (the database alone cannot hide either: the key and the exported head are outside it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from hx.config import load_settings
from hx.platform import Platform, build_platform
from hx.security.audit import record_hash

HX = [sys.executable, "-m", "hx.cli"]


def _hx(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HX_HOME": str(home)}
    return subprocess.run(HX + args, capture_output=True, text=True, env=env, timeout=120)


def _platform_with_records(home: Path, n: int) -> Platform:
    """A data directory whose audit log has ``n`` records, its append-only triggers dropped (as an operator
    with the database file can)."""
    p = build_platform(load_settings(environ={"HX_HOME": str(home)}).settings)
    for i in range(n):
        p.audit.append("alice", "deploy.create", f"svc-{i}", "ok", {"i": i})
    p.audit.anchor.flush()  # as the server does when it stops (the head lags by at most a second meanwhile)
    with p.store.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("DROP TRIGGER audit_log_no_delete"))
    return p


def test_verify_names_the_deletion_of_the_last_records(tmp_path: Path) -> None:
    p = _platform_with_records(tmp_path, 120)
    r = _hx(["--json", "audit", "verify"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["anchored"] is True
    with p.store.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id > 70"))
    p.store.dispose()
    r = _hx(["audit", "verify"], tmp_path)
    assert r.returncode == 1
    assert "audit chain truncated: broken at record 71" in r.stderr
    assert "names record 120" in r.stderr and "ends at record 70" in r.stderr


def test_verify_names_a_rewritten_record_whose_later_hashes_were_recomputed(tmp_path: Path) -> None:
    p = _platform_with_records(tmp_path, 20)
    recs = p.audit.records(limit=100)
    prev = recs[4].prev_hash
    with p.store.begin() as conn:
        for rec in recs[4:]:
            actor = "mallory" if rec.id == 5 else rec.actor
            h = record_hash(prev, rec.ts, actor, rec.action, rec.target, rec.outcome, rec.detail)
            conn.execute(
                text("UPDATE audit_log SET actor=:a, prev_hash=:p, hash=:h WHERE id=:id"),
                {"a": actor, "p": prev, "h": h, "id": rec.id},
            )
            prev = h
    p.store.dispose()
    r = _hx(["--json", "audit", "verify"], tmp_path)
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["kind"] == "rewritten" and out["first_broken"] == 5
    assert "rewritten" in out["reason"]
