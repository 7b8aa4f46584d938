"""Secrets are encrypted at rest and never appear in logs, API responses or `hx config show`."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from sqlalchemy import select, text

from hx.errors import IntegrityError, NotFound
from hx.security.secrets import SecretBox, SecretStore, load_or_create_key_file
from hx.store import Store
from hx.store.tables import secrets as secrets_table

PLAIN = "https://hooks.slack.example/T000/B000/very-secret-value-42"


def _store(store_url: str) -> SecretStore:
    store = Store(store_url)
    store.upgrade()
    return SecretStore(store, SecretBox(os.urandom(32)))


def test_round_trip_and_ciphertext_at_rest(store_url: str) -> None:
    s = _store(store_url)
    s.put("slack_webhook_url", PLAIN)
    assert s.get("slack_webhook_url") == PLAIN
    with s.store.begin() as conn:
        row = conn.execute(select(secrets_table)).one()
    assert PLAIN.encode() not in bytes(row.ciphertext)
    s.put("slack_webhook_url", PLAIN + "x")
    assert s.get("slack_webhook_url") == PLAIN + "x"
    assert s.names() == ["slack_webhook_url"]


def test_wrong_key_and_swapped_ciphertext_fail(store_url: str) -> None:
    s = _store(store_url)
    s.put("a", "alpha")
    s.put("b", "beta")
    other = SecretStore(s.store, SecretBox(os.urandom(32)))
    with pytest.raises(IntegrityError):
        other.get("a")
    with s.store.begin() as conn:  # copy b's ciphertext onto a: the name is bound as associated data
        b = conn.execute(select(secrets_table).where(secrets_table.c.name == "b")).one()
        conn.execute(
            text("UPDATE secrets SET nonce=:n, ciphertext=:c WHERE name='a'"), {"n": b.nonce, "c": b.ciphertext}
        )
    with pytest.raises(IntegrityError):
        s.get("a")
    with pytest.raises(NotFound, match="hx secret set"):
        s.get("missing")


def test_key_file_is_created_0600_and_refused_when_open(tmp_path: Path) -> None:
    path = tmp_path / "k" / "secret.key"
    key = load_or_create_key_file(path)
    assert len(key) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_key_file(path) == key
    path.chmod(0o644)
    with pytest.raises(IntegrityError, match="chmod 600"):
        load_or_create_key_file(path)


def test_secret_never_leaks(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Through the API, the CLI's config show and the logs, the plain value never appears."""
    from hx.api.app import create_app
    from hx.cli.main import main
    from hx.config import load_settings
    from hx.platform import bootstrap_admin, build_platform
    from tests.support.live import live_server

    caplog.set_level(logging.DEBUG)
    home = tmp_path / "hx"
    secret_key = "k" * 40
    settings = load_settings(environ={"HX_HOME": str(home), "HX_SECRET_KEY": secret_key}).settings
    p = build_platform(settings)
    admin = (bootstrap_admin(p) or Path()).read_text().strip()
    import httpx

    seen: list[str] = []
    with live_server(create_app(p)) as url:
        h = {"Authorization": f"Bearer {admin}"}
        r = httpx.put(f"{url}/api/v1/secrets/slack_webhook_url", json={"value": PLAIN}, headers=h)
        assert r.status_code == 204
        for path in ("/api/v1/secrets", "/api/v1/audit", "/api/v1/events", "/health", "/metrics"):
            seen.append(httpx.get(url + path, headers=h).text)
    assert p.secrets.get("slack_webhook_url") == PLAIN
    os.environ["HX_HOME"] = str(home)
    os.environ["HX_SECRET_KEY"] = secret_key
    try:
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["--json", "config", "show"]) == 0
        seen.append(out.getvalue())
    finally:
        del os.environ["HX_HOME"], os.environ["HX_SECRET_KEY"]
    seen.append(caplog.text)
    blob = "\n".join(seen)
    assert "slack_webhook_url" in blob  # the name is visible ...
    assert "very-secret-value-42" not in blob  # ... the value never is
    assert secret_key not in blob
    assert repr(p.secrets.box) == "SecretBox(<key hidden>)"
