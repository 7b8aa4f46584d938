"""The dashboards' route tests use the API tests' live server with a token per role."""

from __future__ import annotations

from tests.api.conftest import api

__all__ = ["api"]
