"""A small typed registry: plugin families (detectors, forecasters, notifiers, ...) register here.

>>> r: Registry[type] = Registry("widget")
>>> @r.register("square")
... class Square: ...
>>> r.get("square").__name__
'Square'
>>> r.names()
['square']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from hx.errors import UnknownName

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to plugins; an unknown name raises :class:`UnknownName` listing the valid ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = item
            return item

        return deco

    def add(self, name: str, item: T) -> None:
        self.register(name)(item)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownName(self.kind, name, list(self._items)) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
