"""ShellActuator: each verb runs a configured command, as a list of arguments, never through a shell.

A template is a list of strings; ``{name}`` placeholders inside an element are replaced by the verb's
parameters, element by element, so a value is always exactly one argument (``"; rm -rf /"`` stays a
literal).  The first element (the program) may not contain a placeholder.  Placeholders per verb:

=====================  ==========================================================
``scale``              ``{service}``, ``{replicas}``
``set_traffic_split``  ``{service}``, ``{weights}`` (``v1=0.9,v2=0.1``), ``{weights_json}``
``deploy``             ``{service}``, ``{version}``, ``{instances}``
``restart``            ``{instance}``
``run`` actions        ``{action}`` and the call's own parameters
=====================  ==========================================================

Names that start with ``-`` or hold control characters are refused (they could be read as an
option).  Exit status 0 is success; anything else is a result with ``ok=False`` and the tail of
stderr; a command that outlives its timeout has its whole process group killed and raises
:class:`~hx.errors.ActuatorTimeout`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hx.actuate.base import ActionResult, Capability
from hx.actuate.verbs import (
    VERB_CAPABILITY,
    VERB_PARAMS,
    VerbDispatch,
    check_name,
    check_params,
    check_timeout,
    check_verbs,
    fill,
    last_line,
    placeholders,
    run_process,
    truncate,
    weights_text,
)
from hx.errors import BadInput, ConfigError, Unsupported


def _check_template(key: str, template: Sequence[str], allowed: frozenset[str] | None) -> tuple[str, ...]:
    if isinstance(template, str) or not isinstance(template, Sequence) or not template:
        raise ConfigError(
            f"{template!r} is not a list of arguments",
            key=key,
            expected='a list such as ["kubectl", "scale", "deployment/{service}", "--replicas={replicas}"]',
        )
    if not all(isinstance(arg, str) for arg in template):
        raise ConfigError("every argument must be a string", key=key)
    if placeholders(template[0]):
        raise ConfigError(f"the program {template[0]!r} may not contain a placeholder", key=key)
    if allowed is not None:
        unknown = set().union(*(placeholders(arg) for arg in template)) - allowed
        if unknown:
            raise ConfigError(
                f"unknown placeholder(s) {', '.join(sorted(unknown))}",
                key=key,
                expected=f"only {', '.join('{' + p + '}' for p in sorted(allowed))}",
            )
    return tuple(template)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise BadInput(f"parameter value {value!r} is not a string or a number", field="params")


class ShellActuator(VerbDispatch):
    """An Actuator whose verbs run configured commands.

    >>> act = ShellActuator({"scale": ["echo", "scale", "{service}", "{replicas}"]})
    >>> sorted(c.value for c in act.capabilities())
    ['scale']
    >>> r = act.scale("api", 3, timeout=10)
    >>> (r.ok, r.output["stdout"])
    (True, 'scale api 3\\n')
    """

    def __init__(
        self,
        templates: Mapping[str, Sequence[str]],
        *,
        actions: Mapping[str, Sequence[str]] | None = None,
        name: str = "shell",
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        max_output: int = 4000,
        kill_grace_s: float = 2.0,
    ) -> None:
        check_verbs("actuator.shell.templates", templates)
        self.name = name
        self._templates = {
            verb: _check_template(f"actuator.shell.templates.{verb}", t, VERB_PARAMS[verb])
            for verb, t in templates.items()
        }
        self._actions = {
            action: _check_template(f"actuator.shell.actions.{action}", t, None)
            for action, t in (actions or {}).items()
        }
        for action in self._actions:
            check_name("action", action)
        self._env = {**os.environ, **env} if env is not None else None
        self._cwd = str(cwd) if cwd is not None else None
        self._max_output = max_output
        self._grace = kill_grace_s

    def capabilities(self) -> frozenset[Capability]:
        caps = {VERB_CAPABILITY[verb] for verb in self._templates}
        if self._actions:
            caps.add(Capability.RUN)
        return frozenset(caps)

    # ---- verbs ------------------------------------------------------------------------

    def _traffic_params(self, params: dict[str, Any]) -> dict[str, Any]:
        params["weights_json"] = json.dumps(params["weights"], sort_keys=True)
        params["weights"] = weights_text(params["weights"])
        return params

    def run(self, action: str, params: Mapping[str, Any], *, timeout: float = 300.0) -> ActionResult:
        if action not in self._actions:
            configured = ", ".join(sorted(self._actions)) or "(none)"
            raise Unsupported(
                f"{self.name}: no command for action {action!r}; configured: {configured}", field="action"
            )
        values = {k: _text(v) for k, v in check_params(params).items()}
        for key, value in values.items():
            check_name(f"parameter {key}", value)
        values["action"] = action
        template = self._actions[action]
        missing = set().union(*(placeholders(arg) for arg in template)) - set(values)
        if missing:
            raise BadInput(f"action {action!r} needs parameter(s) {', '.join(sorted(missing))}", field="params")
        return self._execute("run", action, [fill(arg, values) for arg in template], timeout)

    # ---- internals --------------------------------------------------------------------

    def _verb(self, verb: str, target: str, params: dict[str, Any], timeout: float) -> ActionResult:
        template = self._templates.get(verb)
        if template is None:
            configured = ", ".join(sorted(self._templates)) or "(none)"
            raise Unsupported(f"{self.name}: no command template for {verb!r}; configured: {configured}", field=verb)
        values = {k: str(v) for k, v in params.items()}
        return self._execute(verb, target, [fill(arg, values) for arg in template], timeout)

    def _execute(self, verb: str, target: str, argv: list[str], timeout: float) -> ActionResult:
        timeout = check_timeout(timeout)
        t0 = time.monotonic()
        done = run_process(
            argv,
            timeout=timeout,
            what=f"{self.name} {verb} {target}",
            env=self._env,
            cwd=self._cwd,
            grace_s=self._grace,
        )
        stdout, cut_out = truncate(done.stdout, self._max_output)
        stderr, cut_err = truncate(done.stderr, self._max_output)
        ok = done.returncode == 0
        detail = "exit 0" if ok else f"exit {done.returncode}: {last_line(done.stderr) or last_line(done.stdout)}"
        return ActionResult(
            verb=verb,
            target=target,
            ok=ok,
            detail=detail,
            changed=ok,
            output={
                "argv": list(argv),
                "returncode": done.returncode,
                "stdout": stdout,
                "stderr": stderr,
                "truncated": cut_out or cut_err,
            },
            duration_s=time.monotonic() - t0,
        )
