"""API tokens: random, stored hashed (SHA-256), each with a role; optional TOTP second factor."""

from __future__ import annotations

import hashlib
import os
import secrets as pysecrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyotp
from sqlalchemy import func, insert, select, update

from hx.clock import Clock, WallClock
from hx.errors import AuthError, BadInput, Conflict, MfaRequired, NotFound
from hx.security.private import private_dir
from hx.security.roles import Role
from hx.security.secrets import SecretBox
from hx.store import Store
from hx.store.tables import api_tokens

TOKEN_PREFIX = "hx_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, name and role."""

    token_id: int
    name: str
    role: Role
    has_mfa: bool

    @property
    def actor(self) -> str:
        return f"token:{self.token_id}:{self.name}"


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    created_by: str
    revoked: bool
    mfa: bool


class TokenService:
    def __init__(self, store: Store, box: SecretBox, clock: Clock | None = None) -> None:
        self.store = store
        self.box = box
        self.clock = clock or WallClock()

    def create(self, name: str, role: Role | str, created_by: str = "cli") -> tuple[str, TokenInfo]:
        """Create a token; the plain token is returned once and never stored."""
        try:
            role = Role(role)
        except ValueError:
            raise BadInput(f"unknown role {role!r}; valid: viewer, operator, approver, admin", field="role") from None
        if not name or len(name) > 200:
            raise BadInput("token name must be 1-200 characters", field="name")
        token = TOKEN_PREFIX + pysecrets.token_urlsafe(32)
        now = self.clock.now()
        with self.store.begin() as conn:
            row = conn.execute(
                insert(api_tokens)
                .values(
                    name=name,
                    role=role.value,
                    token_hash=hash_token(token),
                    prefix=token[:10],
                    created_at=now,
                    created_by=created_by,
                )
                .returning(api_tokens.c.id)
            ).one()
        return token, TokenInfo(int(row.id), name, role, token[:10], now, created_by, False, False)

    def count_active(self) -> int:
        with self.store.begin() as conn:
            q = select(func.count()).select_from(api_tokens).where(api_tokens.c.revoked_at.is_(None))
            return int(conn.execute(q).scalar_one())

    def authenticate(self, token: str) -> Principal:
        if not token.startswith(TOKEN_PREFIX):
            raise AuthError("malformed token: hx tokens start with 'hx_'")
        with self.store.read() as conn:  # a read: on SQLite it must not queue for the write lock
            row = conn.execute(select(api_tokens).where(api_tokens.c.token_hash == hash_token(token))).first()
        if row is None or row.revoked_at is not None:
            raise AuthError("unknown or revoked token")
        return Principal(int(row.id), row.name, Role(row.role), row.totp_secret is not None)

    def list(self) -> list[TokenInfo]:
        with self.store.begin() as conn:
            rows = conn.execute(select(api_tokens).order_by(api_tokens.c.id)).all()
        return [
            TokenInfo(
                int(r.id),
                r.name,
                Role(r.role),
                r.prefix,
                r.created_at,
                r.created_by,
                r.revoked_at is not None,
                r.totp_secret is not None,
            )
            for r in rows
        ]

    def revoke(self, token_id: int) -> None:
        with self.store.begin() as conn:
            res = conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=self.clock.now())
            )
        if res.rowcount == 0:
            raise NotFound(f"no active token with id {token_id}")

    # ---- TOTP second factor (RFC 6238) --------------------------------------------------

    def enroll_mfa(self, token_id: int, issuer: str = "hx", replace: bool = False) -> tuple[str, str]:
        """Give a token a TOTP secret; returns (base32 secret, otpauth:// URI) to load in an app.

        A revoked token gets none; one that has a secret keeps it unless ``replace`` (a second enrolment silently
        replaced the secret, and the authenticator app already loaded stopped working)."""
        secret = pyotp.random_base32()
        blob = self.box.seal_blob(secret.encode(), f"totp:{token_id}".encode())
        with self.store.begin() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).one_or_none()
            if row is None:
                raise NotFound(f"no token with id {token_id}")
            if row.revoked_at is not None:
                raise Conflict(f"token {token_id} is revoked: it gets no second factor", field="token_id")
            if row.totp_secret is not None and not replace:
                raise Conflict(
                    f"token {token_id} already has a second factor; replace it explicitly (hx token mfa enroll "
                    f"{token_id} --replace, or ?replace=true): the app holding the old one stops working",
                    field="token_id",
                )
            conn.execute(
                update(api_tokens).where(api_tokens.c.id == token_id).values(totp_secret=blob, totp_last_step=None)
            )
        uri = pyotp.TOTP(secret).provisioning_uri(name=f"token-{token_id}", issuer_name=issuer)
        return secret, uri

    def verify_mfa(self, principal: Principal, code: str | None) -> None:
        """Check a TOTP code for the calling token; each time step is accepted once (no replay)."""
        if not code:
            raise MfaRequired("this action needs the TOTP code of your token (X-HX-OTP header or --otp)")
        with self.store.begin() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.id == principal.token_id)).one()
            if row.totp_secret is None:
                raise MfaRequired(
                    f"token {principal.name!r} has no second factor; enrol with `hx token mfa enroll {row.id}`"
                )
            secret = self.box.open_blob(row.totp_secret, f"totp:{row.id}".encode()).decode()
            now = self.clock.now()
            totp = pyotp.TOTP(secret)
            step = int(now.timestamp()) // totp.interval
            for candidate in (step, step - 1, step + 1):
                if pyotp.utils.strings_equal(totp.generate_otp(candidate), code.strip()):
                    if row.totp_last_step is not None and candidate <= row.totp_last_step:
                        raise MfaRequired("this TOTP code was already used; wait for the next one")
                    conn.execute(update(api_tokens).where(api_tokens.c.id == row.id).values(totp_last_step=candidate))
                    return
        raise MfaRequired("wrong TOTP code")


def write_admin_token_file(path: Path, token: str) -> None:
    """Write the bootstrap admin token to a 0600 file."""
    private_dir(path.parent)
    if path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
