from __future__ import annotations

import os
from datetime import UTC, datetime

import pyotp
import pytest

from hx.clock import SimClock
from hx.errors import AuthError, BadInput, Conflict, MfaRequired
from hx.security.roles import Role
from hx.security.secrets import SecretBox
from hx.security.tokens import TokenService, hash_token
from hx.store import Store


@pytest.fixture
def svc(store_url: str) -> TokenService:
    store = Store(store_url)
    store.upgrade()
    return TokenService(store, SecretBox(os.urandom(32)), SimClock(datetime(2026, 1, 1, tzinfo=UTC)))


def test_tokens_are_stored_hashed_and_authenticate(svc: TokenService) -> None:
    token, info = svc.create("ci", Role.OPERATOR)
    assert token.startswith("hx_") and len(token) > 40
    listed = svc.list()
    assert listed[0].prefix == token[:10] and hash_token(token) != token
    p = svc.authenticate(token)
    assert p.role is Role.OPERATOR and p.name == "ci"
    svc.revoke(info.id)
    with pytest.raises(AuthError, match="revoked"):
        svc.authenticate(token)
    with pytest.raises(AuthError):
        svc.authenticate("hx_wrong")
    with pytest.raises(BadInput, match="unknown role"):
        svc.create("x", "root")


def test_totp_second_factor(svc: TokenService) -> None:
    clock = svc.clock
    assert isinstance(clock, SimClock)
    token, info = svc.create("approver", Role.APPROVER)
    p = svc.authenticate(token)
    with pytest.raises(MfaRequired, match="no second factor"):
        svc.verify_mfa(p, "123456")
    secret, uri = svc.enroll_mfa(info.id)
    assert uri.startswith("otpauth://totp/")
    p = svc.authenticate(token)
    totp = pyotp.TOTP(secret)
    with pytest.raises(MfaRequired, match="needs the TOTP code"):
        svc.verify_mfa(p, None)
    with pytest.raises(MfaRequired, match="wrong"):
        svc.verify_mfa(p, "000000" if totp.at(clock.now()) != "000000" else "111111")
    svc.verify_mfa(p, totp.at(clock.now()))
    with pytest.raises(MfaRequired, match="already used"):
        svc.verify_mfa(p, totp.at(clock.now()))
    clock.advance(30)
    svc.verify_mfa(p, totp.at(clock.now()))
    # a second enrolment replaced the secret silently (the loaded app stopped working); a revoked token got one
    with pytest.raises(Conflict, match="already has a second factor"):
        svc.enroll_mfa(info.id)
    new, _ = svc.enroll_mfa(info.id, replace=True)
    clock.advance(30)
    svc.verify_mfa(p, pyotp.TOTP(new).at(clock.now()))
    svc.revoke(info.id)
    with pytest.raises(Conflict, match="revoked"):
        svc.enroll_mfa(info.id, replace=True)


def test_roles_are_ordered() -> None:
    assert Role.ADMIN.allows(Role.APPROVER)
    assert not Role.OPERATOR.allows(Role.APPROVER)
