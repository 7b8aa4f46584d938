"""hx's own files are 0600 and its directories 0700, whatever the umask: the database (and its WAL), the key,
the admin token, the exported audit head, the sim checkpoint, and exports a user asks for."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hx.cloud.catalog import Catalog, save_catalog
from hx.config import load_settings
from hx.platform import bootstrap_admin, build_platform
from hx.security.private import export_dir, open_private, write_export, write_private
from hx.wiring import build_sim, sim_checkpoint


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: a mode that holds here is set by hx, not by the environment."""
    old = os.umask(0)
    yield
    os.umask(old)


@pytest.mark.usefixtures("open_umask")
def test_the_data_directory_and_everything_hx_keeps_in_it_are_private(tmp_path: Path) -> None:
    env = {"HX_HOME": str(tmp_path / "hx"), "HX_SIM__SERVICES": "2", "HX_SIM__WARMUP_S": "600"}
    settings = load_settings(environ=env).settings
    platform = build_platform(settings)
    bootstrap_admin(platform)
    platform.audit.append("alice", "act", "t", "ok")
    sim_checkpoint(settings).save(build_sim(settings))
    home = settings.data_dir
    assert _mode(home) == 0o700
    kept = {p.name: _mode(p) for p in home.iterdir() if p.is_file()}
    expected = {"hx.db", "hx.db-wal", "hx.db-shm", "secret.key", "admin.token", "audit-head.json", "sim.ckpt"}
    assert expected <= set(kept), kept
    assert {name: mode for name, mode in kept.items() if mode != 0o600} == {}
    platform.store.dispose()


@pytest.mark.usefixtures("open_umask")
def test_an_existing_world_readable_data_directory_and_database_are_narrowed(tmp_path: Path) -> None:
    home = tmp_path / "hx"
    home.mkdir(mode=0o755)
    (home / "hx.db").touch(mode=0o644)
    settings = load_settings(environ={"HX_HOME": str(home)}).settings
    platform = build_platform(settings)
    assert _mode(home) == 0o700 and _mode(home / "hx.db") == 0o600
    platform.store.dispose()


@pytest.mark.usefixtures("open_umask")
def test_exports_are_private(tmp_path: Path) -> None:
    out = export_dir(tmp_path / "exports" / "tf")
    assert _mode(out) == 0o700
    assert _mode(write_export(out / "a.json", "{}\n")) == 0o600
    with open_private(out / "b.csv", newline="") as fh:
        fh.write("x\n")
    assert _mode(out / "b.csv") == 0o600
    write_private(out / "c.bin", b"\x00")
    assert _mode(out / "c.bin") == 0o600 and sorted(p.name for p in out.iterdir()) == ["a.json", "b.csv", "c.bin"]
    assert _mode(save_catalog(Catalog.builtin(), out / "catalog.json")) == 0o600
    existing = tmp_path / "mine"
    existing.mkdir(mode=0o755)
    assert _mode(export_dir(existing)) == 0o755  # a directory the user named is left as it is
