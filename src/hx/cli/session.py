"""What every command shares: the loaded settings, output mode, and the platform built lazily."""

from __future__ import annotations

import inspect
import json
import math
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console

from hx.config import LoadedSettings, load_settings
from hx.errors import BadInput, HxError
from hx.platform import Platform, build_platform


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``--set key.path=value`` pairs; values parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"--set expects key.path=value, got {pair!r}", field="--set")
        out[key.strip()] = _yaml_value(key.strip(), raw) if raw.strip() else raw
    return out


def _yaml_value(key: str, raw: str) -> Any:
    """One ``--set`` value parsed as YAML; a value YAML cannot read is refused naming its key (not a traceback).

    >>> _yaml_value("ai_orchestrator.canary.steps", "[5, 25]")
    [5, 25]
    """
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as err:
        reason = getattr(err, "problem", None) or getattr(err, "reason", None) or type(err).__name__
        hint = f"; quote a string as {key}='...'" if isinstance(err, yaml.MarkedYAMLError) else ""
        message = f"--set {key}: '{_printable(raw)}' is not a YAML value ({reason}){hint}"
        raise BadInput(message, field="--set") from None


def _printable(raw: str) -> str:
    """``raw`` with the bytes the shell passed undecoded (``\\xff``) and control characters escaped."""
    try:
        data = raw.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        data = raw.encode("utf-8", "backslashreplace")
    text = data.decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


#: the width of tables written to a file or a pipe (rich's 80 columns folded the canary's reasons into a column a
#: word wide); a terminal's own width, or ``COLUMNS``, wins
PIPED_WIDTH = 120


def piped_width(stream: Any) -> int | None:
    """:data:`PIPED_WIDTH` when ``stream`` is not a terminal and ``COLUMNS`` is unset; else None (rich decides)."""
    import os

    isatty = getattr(stream, "isatty", None)
    return None if (isatty is not None and isatty()) or os.environ.get("COLUMNS") else PIPED_WIDTH


class _Answered:
    """Whether this run of the CLI has printed its ``--json`` document: a command that fails after answering (as
    ``audit verify`` does) must not print a second one; one that fails before must print its error as JSON."""

    def __init__(self) -> None:
        self.done = False

    def set(self) -> None:
        self.done = True


ANSWERED = _Answered()


@dataclass
class Ctx:
    config_file: Path | None = None
    env_name: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    as_json: bool = False
    _loaded: LoadedSettings | None = None
    _platform: Platform | None = None
    console: Console = field(default_factory=lambda: Console(stderr=False, width=piped_width(sys.stdout)))
    err: Console = field(default_factory=lambda: Console(stderr=True, width=piped_width(sys.stderr)))

    @property
    def loaded(self) -> LoadedSettings:
        if self._loaded is None:
            self._loaded = load_settings(self.config_file, overrides=self.overrides, env_name=self.env_name)
        return self._loaded

    def override(self, values: dict[str, Any]) -> None:
        """Add ``--set``-style overrides (dotted keys); the settings are read again with them."""
        if self._platform is not None:
            raise RuntimeError("settings overridden after the platform was built")
        self.overrides = {**self.overrides, **values}
        self._loaded = None

    def platform(self, **kwargs: Any) -> Platform:
        if self._platform is None:
            self._platform = build_platform(self.loaded.settings, **kwargs)
        return self._platform

    def emit(self, data: Any, human: str | None = None) -> None:
        """``--json``: machine output on stdout; else the human text (or pretty JSON)."""
        if self.as_json:
            ANSWERED.set()
            try:  # NaN and Infinity are not JSON: a strict reader refused the whole document
                text = json.dumps(data, indent=2, default=str, allow_nan=False)
            except ValueError:
                from hx.jsontext import scrub

                text = json.dumps(scrub(data), indent=2, default=str, allow_nan=False)
            sys.stdout.write(text + "\n")
        elif human is not None:
            self.console.print(human)
        else:
            self.console.print_json(json.dumps(data, default=str))


@contextmanager
def named_options(options: Mapping[str, str]) -> Iterator[None]:
    """Refusals of library code name its arguments (``days must be > 0``, field ``days``); the user gave options:
    name those (``--days must be > 0``, field ``--days``).  ``options``: argument name -> option.  The error keeps its
    type and data (an unknown name still lists the valid ones)."""
    try:
        yield
    except BadInput as err:
        field = str(err.data.get("field"))
        option = options.get(field)
        if option is None:
            raise
        if err.message.startswith(f"{field} "):
            err.message = option + err.message[len(field) :]
            err.args = (err.message,)
        err.field = err.data["field"] = option
        raise


def number(low: float, high: float = math.inf) -> Callable[[str], float]:
    """A parser for a float option's text: a number from ``low`` to ``high``, else a usage error (exit 2) that
    says the range and what was given.  Typer's own ``min``/``max`` read ``nan`` as out of range on the wrong
    side ("less than or equal to 3600" for ``--startup nan``), and let ``inf`` through where there is no
    ``max`` (a timeout of ``inf`` waits for ever).

    >>> number(0.0, 10.0)("2.5")
    2.5
    """

    def parse(text: str | float) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise typer.BadParameter(f"expected a number, got {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            span = f"at least {low:g}" if math.isinf(high) else f"from {low:g} to {high:g}"
            raise typer.BadParameter(f"expected a number {span}, got {text}")
        return value

    return parse


def reflow(text: str) -> str:
    r"""A docstring as help text: each paragraph's lines joined, so the terminal wraps it evenly (typer keeps a
    docstring's line breaks and wraps again at the terminal's width, which left every other line short); a line
    that starts a list item (``-``, ``*``, ``1.``) or is indented keeps its own line.

    >>> reflow("Size each workload\nby its history.\n\n- CPU: p90\n- memory: p98")
    'Size each workload by its history.\n\n- CPU: p90\n- memory: p98'
    """
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text.strip()):
        lines = para.split("\n")
        kept = [lines[0].strip()]
        for line in lines[1:]:
            if re.match(r"\s+|[-*]\s|\d+[.)]\s", line):
                kept.append(line.rstrip())
            else:
                kept[-1] = f"{kept[-1]} {line.strip()}"
        out.append("\n".join(kept))
    return "\n\n".join(out)


def reflow_help(app: typer.Typer) -> None:
    """Give every command of ``app`` (and of its groups) its docstring reflowed as help (:func:`reflow`), where it
    has no help of its own."""
    for command in app.registered_commands:
        doc = inspect.getdoc(command.callback) if command.callback else None
        if command.help is None and doc:
            command.help = reflow(doc)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            reflow_help(group.typer_instance)


#: the largest ``--seed``: scikit-learn's ``random_state`` (and numpy's legacy generator) take 0 .. 2**32 - 1
SEED_MAX = 2**32 - 1


def seed_option(default: int) -> Any:
    """``--seed``: a non-negative integer up to :data:`SEED_MAX` (numpy refused a negative one with a traceback)."""
    return typer.Option(default, "--seed", min=0, max=SEED_MAX, help="random seed (0 .. 2**32 - 1)")


#: ``--json`` after a command's name, as ``hx --json`` before it
JSON = typer.Option(False, "--json", help="machine-readable output on stdout (as hx --json)")


def ctx_of(typer_ctx: typer.Context, as_json: bool = False) -> Ctx:
    """The shared context; ``as_json``: the command's own ``--json`` was given."""
    obj = typer_ctx.find_root().obj
    if not isinstance(obj, Ctx):
        raise RuntimeError("hx CLI context missing")
    if as_json:
        obj.as_json = True
    return obj


@contextmanager
def binding(host: str, port: int) -> Iterator[None]:
    """Listening on ``host:port``: a port in use, or an address this host does not have, names both."""
    try:
        yield
    except OSError as err:
        raise BadInput(f"cannot listen on {host}:{port}: {err.strerror} (--host / --port)", field="--port") from err


def error_object(err: HxError) -> dict[str, object]:
    """An hx error as ``--json`` prints it (the API's problem+json fields, with the exit code).

    >>> from hx.errors import BadInput
    >>> error_object(BadInput("--step must be > 0", field="--step"))["field"]
    '--step'
    """
    data = {k: v for k, v in err.data.items() if v is not None and isinstance(v, (str, int, float, bool, list))}
    return {"title": err.title, "detail": err.message, "exit_code": err.exit_code, **data}
