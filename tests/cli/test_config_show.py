"""`hx config show` never prints a credential from any URL-valued setting (#21 item 9)."""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from hx.config import Settings

PASSWORD = "S3cr3tPw"
TOKEN = "T0k3nVal"


def _url(scheme: str = "https") -> str:
    return f"{scheme}://hx:{PASSWORD}@127.0.0.1:1/path?token={TOKEN}&region=eu"


def url_settings(model: type[BaseModel] = Settings, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every setting whose name says it holds URLs (``*url``, ``*urls``), with its annotation."""
    found: dict[tuple[str, ...], Any] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        nested = [
            a for a in (annotation, *typing.get_args(annotation)) if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        if nested:
            found.update(url_settings(nested[0], (*prefix, name)))
        elif "url" in name:
            found[(*prefix, name)] = annotation
    return found


def _value(path: tuple[str, ...], annotation: Any) -> Any:
    if path[-1] == "database_url":
        return _url("postgresql")
    if typing.get_origin(annotation) is dict or annotation is dict:
        return {"self-healing": _url()}
    if typing.get_origin(annotation) is list:
        return [_url()]
    return _url()


def _config(tmp_path: Path) -> Path:
    tree: dict[str, Any] = {}
    for path, annotation in url_settings().items():
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _value(path, annotation)
    manager = tree.get("actuator", {}).get("fleet", {}).get("manager")
    if manager is not None:  # supervisord's XML-RPC url is valid only with the include dir beside it
        manager.setdefault("include_dir", str(tmp_path / "programs"))
    file = tmp_path / "ai-ml-config.yml"
    file.write_text(yaml.safe_dump(tree))
    return file


def _show(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HX_HOME": str(tmp_path / "hx"), "HX_CONFIG": str(_config(tmp_path))}
    env["HX_DATABASE_URL"] = _url("postgresql")
    cmd = [sys.executable, "-m", "hx.cli", *args, "config", "show"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_every_url_valued_setting_is_found() -> None:
    keys = {".".join(p) for p in url_settings()}
    assert {"storage.database_url", "telemetry.prometheus.url", "server.external_url", "server.component_urls"} <= keys


def test_config_show_prints_no_credential_from_any_url_setting(tmp_path: Path) -> None:
    for args in (("--json",), ()):
        r = _show(tmp_path, *args)
        assert r.returncode == 0, r.stderr
        out = r.stdout + r.stderr
        assert PASSWORD not in out and TOKEN not in out, out
        assert "127.0.0.1" in out  # the URLs are shown, without their secrets
