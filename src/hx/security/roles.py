"""Roles, ordered by what they may do."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        """A role allows everything a lower-ranked role may do.

        >>> Role.APPROVER.allows(Role.OPERATOR), Role.VIEWER.allows(Role.OPERATOR)
        (True, False)
        """
        return self.rank >= needed.rank


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.APPROVER: 2, Role.ADMIN: 3}
