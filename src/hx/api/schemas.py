"""Request bodies: unknown fields are rejected (422 naming the field); data series hold JSON numbers only."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, Strict

from hx.clock import in_era
from hx.security.roles import Role

#: a JSON number in a data series: ``true`` / ``false`` and numeric strings are refused (422 naming the point), not
#: read as 1 / 0 or parsed
Number = Annotated[float, Strict()]
#: a time given to the API: ISO 8601 with a zone, within :data:`hx.clock.EARLIEST` .. :data:`hx.clock.LATEST`
#: (422 naming the field otherwise: a time without a zone, or one that reckoning from would overflow, was a 500)
Instant = Annotated[AwareDatetime, AfterValidator(in_era)]


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
