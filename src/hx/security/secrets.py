"""Secrets at rest: AES-GCM with a key from ``HX_SECRET_KEY`` or a 0600 key file.

The secret's name is bound to its ciphertext as associated data, so a ciphertext copied to
another name does not decrypt.  Plain values never leave this module except to the caller that
asked for one by name.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets as pysecrets
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, insert, select, update

from hx.clock import Clock, WallClock
from hx.errors import BadInput, IntegrityError, NotFound
from hx.security.private import private_dir
from hx.store import Store
from hx.store.tables import secrets as secrets_table


def key_from_string(value: str) -> bytes:
    """A 32-byte key: the value itself if it is base64 of 32 bytes, else its SHA-256."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        if len(raw) == 32:
            return raw
    except ValueError:
        pass
    return hashlib.sha256(value.encode()).digest()


def load_or_create_key_file(path: Path) -> bytes:
    """Read the key file, or create it (mode 0600) with a fresh random key."""
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise IntegrityError(f"key file {path} has mode {oct(mode)}; it must be 0600 (chmod 600 {path})")
        return key_from_string(path.read_text().strip())
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.urlsafe_b64encode(pysecrets.token_bytes(32)).decode())
    return key_from_string(path.read_text().strip())


class SecretBox:
    """Encrypt/decrypt bytes with AES-256-GCM."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise BadInput("secret key must be 32 bytes", field="security.secret_key")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def seal(self, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        nonce = pysecrets.token_bytes(12)
        return nonce, self._aead.encrypt(nonce, plaintext, aad)

    def open(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag as err:
            raise IntegrityError("a secret failed to decrypt: wrong key or tampered ciphertext") from err

    def seal_blob(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce, ct = self.seal(plaintext, aad)
        return nonce + ct

    def open_blob(self, blob: bytes, aad: bytes) -> bytes:
        return self.open(blob[:12], blob[12:], aad)


class SecretStore:
    """Named secrets in the store, encrypted at rest."""

    def __init__(self, store: Store, box: SecretBox, clock: Clock | None = None) -> None:
        self.store = store
        self.box = box
        self.clock = clock or WallClock()

    def put(self, name: str, value: str) -> None:
        if not name or len(name) > 200:
            raise BadInput("secret name must be 1-200 characters", field="name")
        nonce, ct = self.box.seal(value.encode(), name.encode())
        now: datetime = self.clock.now()
        with self.store.begin() as conn:
            exists = conn.execute(select(secrets_table.c.name).where(secrets_table.c.name == name)).first()
            if exists:
                conn.execute(
                    update(secrets_table)
                    .where(secrets_table.c.name == name)
                    .values(nonce=nonce, ciphertext=ct, updated_at=now)
                )
            else:
                conn.execute(
                    insert(secrets_table).values(name=name, nonce=nonce, ciphertext=ct, created_at=now, updated_at=now)
                )

    def get(self, name: str) -> str:
        with self.store.begin() as conn:
            row = conn.execute(select(secrets_table).where(secrets_table.c.name == name)).first()
        if row is None:
            raise NotFound(f"no secret named {name!r}; set it with `hx secret set {name}`", name=name)
        return self.box.open(row.nonce, row.ciphertext, name.encode()).decode()

    def get_optional(self, name: str) -> str | None:
        try:
            return self.get(name)
        except NotFound:
            return None

    def names(self) -> list[str]:
        with self.store.begin() as conn:
            return [r.name for r in conn.execute(select(secrets_table.c.name).order_by(secrets_table.c.name))]

    def delete(self, name: str) -> None:
        with self.store.begin() as conn:
            conn.execute(delete(secrets_table).where(secrets_table.c.name == name))
