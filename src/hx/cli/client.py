"""A small HTTP client for commands that act through a running hx server (deploy, approve, ...)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from hx.errors import AuthError, BadInput, Conflict, Forbidden, HxError, NotFound, ServerUnreachable
from hx.http import redact_url


class ApiClient:
    def __init__(self, url: str, token: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)

    @classmethod
    def from_env(cls, url: str | None, token: str | None, data_dir: Path) -> ApiClient:
        where = "--url" if url else "$HX_URL"
        url = url or os.environ.get("HX_URL", "http://127.0.0.1:8080")
        if not url.startswith(("http://", "https://")):
            raise BadInput(f"{where} {url!r}: expected http://host:port or https://host:port", field=where)
        token = token or os.environ.get("HX_TOKEN")
        if not token:
            path = data_dir / "admin.token"
            if not path.exists():
                raise AuthError(f"no token: pass --token, set HX_TOKEN, or run where {path} exists")
            token = path.read_text().strip()
        return cls(url, token)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            r = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise ServerUnreachable(f"hx server at {redact_url(self.url)} is unreachable: {err}") from err
        if r.status_code >= 400:
            raise _error(r)
        try:
            return r.json() if r.content else None
        except ValueError as err:
            shown = redact_url(self.url)
            raise HxError(f"{shown} answered {method} {path} with no JSON; is --url an hx server?") from err


def _error(r: httpx.Response) -> HxError:
    try:
        body = r.json()
        detail = str(body.get("detail", r.text))
    except ValueError:
        detail = r.text
    kinds: dict[int, type[HxError]] = {401: AuthError, 403: Forbidden, 404: NotFound, 409: Conflict}
    if r.status_code in kinds:
        return kinds[r.status_code](detail)
    if 400 <= r.status_code < 500:
        return BadInput(detail)
    return HxError(f"server error {r.status_code}: {detail}")
