"""What the contract checks of every plugin family share (river's ``river/checks`` habit).

Each family ships its checks with the library: ``hx.detect.checks``, ``hx.forecast.checks``,
``hx.actuate.checks``, ``hx.telemetry.checks``, ``hx.heal.notify.checks``.  Each has ``yield_checks(...)``,
which yields one check function at a time (a test suite parametrises over them), and ``check_<family>(...)``,
which runs them all, so a plugin author runs the same contract on their own class::

    from hx.detect.checks import check_detector
    check_detector(MyDetector)

A failed check raises :class:`AssertionError` with a message that says what the contract asks for; the checks never
use ``assert`` statements, so they still check under ``python -O``.

>>> expect(1 + 1 == 2, "arithmetic")
>>> expect(False, "scores must lie in [0, 1]")
Traceback (most recent call last):
...
AssertionError: scores must lie in [0, 1]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def expect(ok: bool, message: str) -> None:
    """Raise :class:`AssertionError` with ``message`` unless ``ok``."""
    if not ok:
        raise AssertionError(message)


def expect_raises(
    kind: type[BaseException] | tuple[type[BaseException], ...], call: Callable[[], object], what: str
) -> BaseException:
    """Call ``call`` and return the error it raised, which must be a ``kind``; AssertionError otherwise."""
    try:
        call()
    except kind as err:
        return err
    except Exception as err:  # a wrong error is a contract failure, reported with the error seen
        raise AssertionError(f"{what}: expected {_names(kind)}, got {type(err).__name__}: {err}") from err
    raise AssertionError(f"{what}: expected {_names(kind)}, nothing was raised")


def run_all(checks: Iterable[Callable[[T], None]], subject: T) -> None:
    """Run every check on ``subject`` (the first failure propagates)."""
    for check in checks:
        check(subject)


def check_name(check: Callable[..., None]) -> str:
    """A short id for a check (its function name without ``check_``), for test ids."""
    name = getattr(check, "__name__", None) or getattr(getattr(check, "func", None), "__name__", repr(check))
    return str(name).removeprefix("check_")


def _names(kind: type[BaseException] | tuple[type[BaseException], ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)
