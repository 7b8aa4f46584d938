from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hx.api.app import create_app
from hx.platform import Platform, bootstrap_admin
from hx.security.roles import Role
from tests.support.live import live_server


@dataclass
class Api:
    url: str
    platform: Platform
    tokens: dict[str, str]

    def client(self, role: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10.0)


@pytest.fixture
def api(platform: Platform) -> Iterator[Api]:
    admin = (bootstrap_admin(platform) or Path()).read_text().strip()
    tokens = {"admin": admin}
    for role in (Role.VIEWER, Role.OPERATOR, Role.APPROVER):
        tokens[role.value], _ = platform.tokens.create(f"test-{role.value}", role)
    with live_server(create_app(platform)) as url:
        yield Api(url, platform, tokens)
