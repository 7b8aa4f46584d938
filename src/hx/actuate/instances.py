"""Instance names shared by the router and the instance manager: ``{service}--{version}--{index}``.

The HAProxy server name in the service's backend and the process manager's program name are both this string, so
everything the fleet actuator needs to know about an instance can be read back from either of them.

>>> instance_name("cart", "v2", 0)
'cart--v2--0'
>>> parse_instance("cart--v2--0")
InstanceName(service='cart', version='v2', index=0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hx.errors import BadInput

SEP = "--"
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]*(-[A-Za-z0-9_.]+)*$")


@dataclass(frozen=True, order=True)
class InstanceName:
    """The three parts of an instance name."""

    service: str
    version: str
    index: int

    def __str__(self) -> str:
        return f"{self.service}{SEP}{self.version}{SEP}{self.index}"


def check_part(field: str, value: str) -> str:
    """A service or version name usable inside an instance name (letters, digits, ``_.-``; no ``--``)."""
    if not isinstance(value, str) or not _PART.match(value) or SEP in value:
        raise BadInput(
            f"{field} {value!r} cannot name an instance: use letters, digits, '_', '.', single '-' (never '--')",
            field=field,
        )
    return value


def instance_name(service: str, version: str, index: int) -> str:
    return str(InstanceName(check_part("service", service), check_part("version", version), index))


def parse_instance(name: str) -> InstanceName:
    """The parts of ``name``; BadInput when it is not ``{service}--{version}--{index}``."""
    parts = name.split(SEP) if isinstance(name, str) else []
    if len(parts) != 3 or not parts[2].isdigit() or not all(_PART.match(p) for p in parts[:2]):
        raise BadInput(f"instance {name!r} is not named service--version--index", field="instance")
    return InstanceName(parts[0], parts[1], int(parts[2]))


def try_parse(name: str) -> InstanceName | None:
    """The parts of ``name``, or None for a name hx did not give (a server someone else added)."""
    try:
        return parse_instance(name)
    except BadInput:
        return None
