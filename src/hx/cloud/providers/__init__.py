"""The registry of clouds: one module per provider, each building one :class:`~hx.cloud.providers.base.Cloud`.

Adding a cloud is a module here (listed in ``_MODULES``) plus its catalog data under ``hx/cloud/data``.

>>> names()
('aws', 'azure', 'gcp')
>>> get("gcp").terraform.source
'hashicorp/google'
"""

from __future__ import annotations

from hx.cloud.providers import aws, azure, gcp
from hx.cloud.providers.base import Cloud
from hx.errors import UnknownName

_MODULES = (aws, azure, gcp)
CLOUDS: dict[str, Cloud] = {m.CLOUD.name: m.CLOUD for m in _MODULES}


def names() -> tuple[str, ...]:
    """Every registered cloud, in registration order."""
    return tuple(CLOUDS)


def get(name: str, *, field: str = "cloud") -> Cloud:
    """The cloud called ``name``; an unknown name lists the valid ones."""
    try:
        return CLOUDS[name]
    except KeyError:
        raise UnknownName("cloud", name, list(CLOUDS), field=field) from None


__all__ = ["CLOUDS", "Cloud", "get", "names"]
