"""Automation levels per environment, approvals, segregation of duties and TOTP for production."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest

from hx.deploy.service import DeploymentRequest
from hx.errors import Conflict, Forbidden, MfaRequired
from hx.security.roles import Role
from tests.deploy.conftest import World, make_world


def _req(w: World, env: str, version: str = "v2") -> DeploymentRequest:
    return DeploymentRequest(service=w.sim.names[0], version=version, environment=env, strategy="canary")


def test_full_auto_needs_no_approval(world: World) -> None:
    d = world.svc.create(_req(world, "dev"), world.principal(Role.OPERATOR, "ci"))
    assert d.state == "running" and all(s["kind"] != "approval" for s in d.plan)


def test_staging_waits_for_an_approver(world: World) -> None:
    op = world.principal(Role.OPERATOR, "ci")
    d = world.svc.create(_req(world, "staging"), op)
    assert d.state == "awaiting_approval"
    world.run(600)
    assert world.svc.repo.get(d.id).state == "awaiting_approval"  # nothing moves without a person
    with pytest.raises(Forbidden, match="approver"):
        world.svc.approve(d.id, op, None)
    d = world.svc.approve(d.id, world.principal(Role.APPROVER, "lead"), None)
    assert d.state == "running" and d.approvals[0]["by"].endswith(":lead")
    d = world.until(d.id)
    assert d.state == "promoted"


def test_prod_segregation_of_duties_and_totp(tmp_path: Path) -> None:
    w = make_world(tmp_path / "hx")
    # the requester holds the approver role too: still may not approve their own production change
    requester_token, _ = w.platform.tokens.create("release-manager", Role.APPROVER)
    requester = w.platform.tokens.authenticate(requester_token)
    d = w.svc.create(_req(w, "prod"), requester)
    assert d.state == "awaiting_approval"
    assert sum(1 for s in d.plan if s["kind"] == "approval") == 2  # before start and before the last shift
    with pytest.raises(Forbidden, match="segregation of duties"):
        w.svc.approve(d.id, requester, None)
    token, info = w.platform.tokens.create("lead", Role.APPROVER)
    lead = w.platform.tokens.authenticate(token)
    with pytest.raises(MfaRequired, match="no second factor"):
        w.svc.approve(d.id, lead, "123456")
    secret, _ = w.platform.tokens.enroll_mfa(info.id)
    lead = w.platform.tokens.authenticate(token)
    with pytest.raises(MfaRequired, match="wrong"):
        w.svc.approve(d.id, lead, "000000" if pyotp.TOTP(secret).at(w.clock.now()) != "000000" else "111111")
    d = w.svc.approve(d.id, lead, pyotp.TOTP(secret).at(w.clock.now()))
    assert d.state == "running"
    d = w.until(d.id)
    assert d.state == "awaiting_approval"  # the manual_only gate before the final traffic shift
    w.clock.advance(30)
    d = w.svc.approve(d.id, lead, pyotp.TOTP(secret).at(w.clock.now()))
    d = w.until(d.id)
    assert d.state == "promoted"
    with pytest.raises(Conflict, match="not awaiting approval"):
        w.svc.approve(d.id, lead, None)
    w.platform.store.dispose()
