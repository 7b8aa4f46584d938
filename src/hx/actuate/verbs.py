"""What the real actuators share: verb names, argument checks, templates, and running a process.

Every verb's arguments are checked here, the same way for every actuator, before anything runs.
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hx.actuate.base import ActionResult, Capability
from hx.errors import ActuatorError, ActuatorTimeout, BadInput, ConfigError

#: Verb name -> the capability it needs.
VERB_CAPABILITY: Mapping[str, Capability] = {
    "scale": Capability.SCALE,
    "set_traffic_split": Capability.TRAFFIC_SPLIT,
    "deploy": Capability.DEPLOY,
    "restart": Capability.RESTART,
    "run": Capability.RUN,
}

#: The parameters a template of each verb may use (``run`` actions may use any of their params).
VERB_PARAMS: Mapping[str, frozenset[str]] = {
    "scale": frozenset({"service", "replicas"}),
    "set_traffic_split": frozenset({"service", "weights", "weights_json"}),
    "deploy": frozenset({"service", "version", "instances"}),
    "restart": frozenset({"instance"}),
}

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# ---- argument checks ---------------------------------------------------------------------


def check_timeout(timeout: float) -> float:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not (math.isfinite(timeout) and timeout > 0)
    ):
        raise BadInput(f"timeout must be a positive number of seconds, got {timeout!r}", field="timeout")
    return float(timeout)


def check_name(field: str, value: object) -> str:
    """A service, instance, version or action name: non-empty text, no control characters, no leading '-'.

    The leading '-' is refused so that a name can never be read as an option by the command it is
    passed to (``kubectl rollout restart --all``).

    >>> check_name("service", "api")
    'api'
    >>> check_name("service", "--all")
    Traceback (most recent call last):
    ...
    hx.errors.BadInput: service '--all' must not start with '-'
    """
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{field} must be a non-empty string, got {value!r}", field=field)
    if value.startswith("-"):
        raise BadInput(f"{field} {value!r} must not start with '-'", field=field)
    if _CONTROL.search(value):
        raise BadInput(f"{field} {value!r} contains control characters", field=field)
    return value


def check_count(field: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadInput(f"{field} must be an integer >= {minimum}, got {value!r}", field=field)
    return value


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Traffic weights: version -> finite, non-negative share; at least one positive."""
    if not isinstance(weights, Mapping) or not weights:
        raise BadInput("weights must be a non-empty mapping of version -> share", field="weights")
    out: dict[str, float] = {}
    for version, share in weights.items():
        check_name("weights version", version)
        if isinstance(share, bool) or not isinstance(share, int | float) or not math.isfinite(share) or share < 0:
            raise BadInput(f"weight of {version!r} must be a finite number >= 0, got {share!r}", field="weights")
        out[version] = float(share)
    if sum(out.values()) <= 0:
        raise BadInput("weights are all zero; at least one version must get traffic", field="weights")
    return dict(sorted(out.items()))


def check_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``run`` parameters: identifier names (not ``ansible_*`` / ``hx_*``), scalar or JSON-like values."""
    if not isinstance(params, Mapping):
        raise BadInput(f"params must be a mapping, got {type(params).__name__}", field="params")
    for key in params:
        if not isinstance(key, str) or not _PARAM_NAME.match(key):
            raise BadInput(f"parameter name {key!r} is not an identifier", field="params")
        if key.startswith(("ansible_", "hx_")):
            raise BadInput(f"parameter name {key!r} is reserved (ansible_* and hx_* are not allowed)", field="params")
    return dict(params)


def verb_params(verb: str, **args: Any) -> dict[str, Any]:
    """The checked parameters of a verb call (``run`` excepted: see :func:`check_params`)."""
    if verb == "scale":
        return {
            "service": check_name("service", args["service"]),
            "replicas": check_count("replicas", args["replicas"], minimum=0),
        }
    if verb == "set_traffic_split":
        return {"service": check_name("service", args["service"]), "weights": check_weights(args["weights"])}
    if verb == "deploy":
        return {
            "service": check_name("service", args["service"]),
            "version": check_name("version", args["version"]),
            "instances": check_count("instances", args["instances"], minimum=1),
        }
    if verb == "restart":
        return {"instance": check_name("instance", args["instance"])}
    raise ValueError(f"no such verb {verb!r}")  # pragma: no cover - a programming error


def check_verbs(kind: str, configured: Mapping[str, Any], *, allow_run: bool = False) -> None:
    valid = set(VERB_PARAMS) | ({"run"} if allow_run else set())
    for verb in configured:
        if verb not in valid:
            raise ConfigError(
                f"unknown verb {verb!r}", key=f"{kind}.{verb}", expected=f"one of {', '.join(sorted(valid))}"
            )


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace each ``{name}`` whose name is in ``values``; any other text stays literal.

    >>> fill("deployment/{service}", {"service": "api"})
    'deployment/api'
    >>> fill('{"a": {service}}', {})
    '{"a": {service}}'
    """
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def weights_text(weights: Mapping[str, float]) -> str:
    """``v1=0.9,v2=0.1`` (sorted by version)."""
    return ",".join(f"{version}={share:g}" for version, share in sorted(weights.items()))


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """The last ``limit`` characters of ``text`` (errors come at the end) and whether it was cut."""
    if len(text) <= limit:
        return text, False
    return f"[... {len(text) - limit} characters cut ...]\n" + text[-limit:], True


# ---- processes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessOutcome:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float


def _kill_group(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM the process group, give it ``grace_s``, then SIGKILL whatever is left of it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        if sig == signal.SIGTERM:
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
    proc.wait()


def _drain(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """Whatever output is left after a kill, without hanging on a pipe an escaped child holds."""
    try:
        return proc.communicate(timeout=5.0)
    except subprocess.TimeoutExpired:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()
        return b"", b""


def run_process(
    argv: Sequence[str],
    *,
    timeout: float,
    what: str,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    grace_s: float = 2.0,
) -> ProcessOutcome:
    """Run ``argv`` without a shell in its own process group; on timeout kill the group.

    Raises :class:`ActuatorError` when the program cannot be started and :class:`ActuatorTimeout`
    (with the output so far) when it outlives ``timeout``.
    """
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
    except FileNotFoundError as err:
        raise ActuatorError(
            f"{what}: program {argv[0]!r} not found; install it or fix the command template", argv=list(argv)
        ) from err
    except OSError as err:
        raise ActuatorError(f"{what}: cannot start {argv[0]!r}: {err}", argv=list(argv)) from err
    try:
        out, err_bytes = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc, grace_s)
        out, err_bytes = _drain(proc)
        raise ActuatorTimeout(
            f"{what}: {argv[0]} did not finish within {timeout:g} s and was killed; the action may be half-done",
            argv=list(argv),
            stdout=out.decode("utf-8", "replace")[-2000:],
            stderr=err_bytes.decode("utf-8", "replace")[-2000:],
            timeout=timeout,
        ) from None
    except BaseException:
        _kill_group(proc, 0.0)
        _drain(proc)
        raise
    return ProcessOutcome(
        tuple(argv),
        proc.returncode,
        out.decode("utf-8", "replace"),
        err_bytes.decode("utf-8", "replace"),
        time.monotonic() - t0,
    )


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


class VerbDispatch:
    """The four typed verbs of the Actuator protocol, checked and funnelled into one ``_verb`` hook.

    Shell, Ansible and HTTP actuators differ only in how they carry out a verb; the checks and the
    parameter names are the same for all of them, so they live here once.
    """

    def _verb(self, verb: str, target: str, params: dict[str, Any], timeout: float) -> ActionResult:
        raise NotImplementedError

    def _traffic_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Adapt the checked traffic-split parameters (the shell actuator adds text forms)."""
        return params

    def scale(self, service: str, replicas: int, *, timeout: float = 60.0) -> ActionResult:
        return self._verb("scale", service, verb_params("scale", service=service, replicas=replicas), timeout)

    def set_traffic_split(self, service: str, weights: Mapping[str, float], *, timeout: float = 60.0) -> ActionResult:
        params = self._traffic_params(verb_params("set_traffic_split", service=service, weights=weights))
        return self._verb("set_traffic_split", service, params, timeout)

    def deploy(self, service: str, version: str, instances: int, *, timeout: float = 300.0) -> ActionResult:
        params = verb_params("deploy", service=service, version=version, instances=instances)
        return self._verb("deploy", service, params, timeout)

    def restart(self, instance: str, *, timeout: float = 60.0) -> ActionResult:
        return self._verb("restart", instance, verb_params("restart", instance=instance), timeout)
