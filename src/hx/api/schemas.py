"""Request bodies: unknown fields are rejected (422 naming the field)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hx.security.roles import Role


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenCreate(Body):
    name: str = Field(min_length=1, max_length=200)
    role: Role


class SecretPut(Body):
    value: str = Field(min_length=1, max_length=65536)


class StageChange(Body):
    stage: str = Field(pattern="^(candidate|shadow|promoted|retired)$")
    #: promote a version that skipped the shadow stage (audited as a forced promotion)
    force: bool = False
