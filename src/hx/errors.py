"""The one exceptions module of hx.

Exceptions carry data (what was wrong, where, what was expected) and are mapped to
HTTP problem+json or CLI exit codes only at the edges (``hx.api.problems`` and
``hx.cli``).  Messages say how to fix the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class HxError(Exception):
    """Base of every error hx raises on purpose.

    ``status`` is the HTTP status the API maps it to; ``exit_code`` the CLI exit code.
    """

    status: int = 500
    exit_code: int = 1
    title: str = "hx error"

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data: dict[str, Any] = data

    def __str__(self) -> str:
        return self.message


# ---- bad input (4xx / exit 2) ------------------------------------------------------


class BadInput(HxError):
    """Input that hx refuses; names the field or item that is wrong."""

    status = 422
    exit_code = 2
    title = "invalid input"

    def __init__(self, message: str, *, field: str | None = None, **data: Any) -> None:
        super().__init__(message, field=field, **data)
        self.field = field


class ConfigError(BadInput):
    """A configuration value is wrong: names the file, the key path and what was expected."""

    title = "invalid configuration"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        expected: str | None = None,
        errors: list[dict[str, str | None]] | None = None,
    ) -> None:
        where = f"{file}: " if file else ""
        at = f"{key}: " if key else ""
        full = f"{where}{at}{message}"
        if expected:
            full += f" (expected {expected})"
        extra: dict[str, Any] = {"errors": errors} if errors else {}
        super().__init__(full, field=key, file=file, expected=expected, **extra)
        self.file = file
        self.key = key
        self.expected = expected
        self.reason = message  # what is wrong, without the file, the key or the expectation
        self.detail = message if not expected else f"{message} (expected {expected})"

    @classmethod
    def several(cls, found: list[ConfigError]) -> ConfigError:
        """One error for a file with several wrong keys: each on its own line; ``field`` the first key, ``errors``
        every one."""
        first = found[0]
        out = cls(first.detail, file=first.file, key=first.key, errors=[e.as_item() for e in found])
        lines = "\n".join(f"  - {e}" for e in found)
        out.message = f"{len(found)} errors in the configuration:\n{lines}"
        out.args = (out.message,)
        return out

    def as_item(self) -> dict[str, str | None]:
        """This error as one entry of a list of them (``errors`` when a file has several)."""
        return {"file": self.file, "key": self.key, "message": self.detail, "expected": self.expected}


class UnknownName(BadInput):
    """A name that is not in a registry; lists the valid names.  ``field``: where it was given (default ``kind``)."""

    title = "unknown name"

    def __init__(self, kind: str, name: str, valid: list[str], *, field: str | None = None) -> None:
        super().__init__(
            f"unknown {kind} {name!r}; valid: {', '.join(sorted(valid)) or '(none registered)'}",
            field=field or kind,
            name=name,
            valid=sorted(valid),
        )


class TooLarge(BadInput):
    """An input over a size limit (413); ``limit`` names it and the message says how to send less."""

    status = 413
    title = "payload too large"


class NotFound(HxError):
    status = 404
    exit_code = 2
    title = "not found"


class Conflict(HxError):
    """The request clashes with the current state (a rollout already running, say)."""

    status = 409
    exit_code = 2
    title = "conflict"


class Cancelled(HxError):
    """A long operation (a drill job) was cancelled, by a user or because the server is stopping."""

    status = 409
    title = "cancelled"


class Unsupported(BadInput):
    """The request asks for something the configured backend cannot do."""

    title = "unsupported"


# ---- security ------------------------------------------------------------------------


class AuthError(HxError):
    status = 401
    exit_code = 2
    title = "authentication required"


class Forbidden(HxError):
    status = 403
    exit_code = 2
    title = "forbidden"


class MfaRequired(Forbidden):
    title = "second factor required"


class IntegrityError(HxError):
    """Stored data failed an integrity check (a broken audit chain, a secret that will not decrypt)."""

    title = "integrity check failed"


# ---- failures of the world ------------------------------------------------------------


class StoreError(HxError):
    status = 503
    title = "store unavailable"


class TelemetryError(HxError):
    status = 502
    title = "signal source error"


class SourceDown(TelemetryError):
    status = 503
    title = "signal source unreachable"


class BadQuery(TelemetryError):
    status = 422
    exit_code = 2
    title = "bad query"


class EmptyResult(TelemetryError):
    status = 404
    exit_code = 1
    title = "no data"


class ServerUnreachable(HxError):
    """The CLI could not reach the hx server it was pointed at (``--url``): not a signal source's failure."""

    status = 503
    title = "hx server unreachable"


class ActuatorError(HxError):
    status = 502
    title = "actuator failed"


class ActuatorTimeout(ActuatorError):
    status = 504
    title = "actuator timed out"


class NotifierError(HxError):
    status = 502
    title = "notifier failed"


class ModelError(HxError):
    """A model could not be trained, saved or loaded."""

    title = "model error"


class LearnerCheckFailed(HxError):
    """A learner broke its contract (:mod:`hx.improve.checks`); the message names the learner, the check and
    what was expected."""

    title = "learner contract broken"


class BadSignature(AuthError):
    """A signed webhook (PagerDuty, Slack) whose signature is missing, malformed, stale or wrong."""

    title = "bad signature"


def validation_message(error: Mapping[str, Any]) -> str:
    """One pydantic error's message, without the ``Value error, `` pydantic puts before a validator's own words.

    >>> validation_message({"type": "value_error", "msg": "Value error, 0001-01-01 is outside the times hx takes"})
    '0001-01-01 is outside the times hx takes'
    """
    return str(error.get("msg", "")).removeprefix("Value error, ")
