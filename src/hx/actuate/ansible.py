"""AnsibleActuator: each verb runs a playbook (or one ad-hoc module) with ansible-core.

Configuration maps a verb to a playbook file (``playbooks``) or to an ad-hoc module call
(``modules``: module name plus an argument mapping whose string values may hold the verb's
placeholders, as in :mod:`hx.actuate.shell`); ``run`` actions map action names to playbooks.

The verb's parameters reach a playbook as extra vars, written as JSON to a private temporary file
and passed with ``-e @file`` (never on the command line):

- ``scale``: ``service``, ``replicas``
- ``set_traffic_split``: ``service``, ``weights`` (a mapping version -> share)
- ``deploy``: ``service``, ``version``, ``instances``
- ``restart``: ``instance``
- ``run``: ``hx_action`` and the call's parameters (names ``ansible_*`` / ``hx_*`` are refused, so a
  caller cannot switch the connection or become another user)

plus ``hx_verb``.  The outcome is read from hx's own ``hx_json`` callback (ansible-core no longer
ships a JSON one): ``ok`` when ansible exits 0, at least one host ran and none failed or was
unreachable; ``changed`` when any task on any host changed something (so a second identical run of
an idempotent playbook reports ``changed=False``).  Runs that outlive their timeout have their
process group killed (:class:`~hx.errors.ActuatorTimeout`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hx.actuate.base import ActionResult, Capability
from hx.actuate.verbs import (
    PLACEHOLDER,
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
from hx.errors import ConfigError, Unsupported

PLUGIN_DIR = Path(__file__).resolve().parent / "ansible_plugins"


@dataclass(frozen=True)
class AdHocModule:
    """One ad-hoc module call.

    For example ``AdHocModule("ansible.builtin.service", {"name": "{instance}", "state": "restarted"})``.

    A string argument that is exactly one placeholder takes the parameter's value with its type
    (``"{replicas}"`` -> 3); other strings have placeholders replaced as text.
    """

    module: str
    args: Mapping[str, Any] = field(default_factory=dict)
    pattern: str = "all"


def _find_bin(bin_dir: str | Path | None, program: str) -> str:
    candidates = [Path(bin_dir) / program] if bin_dir is not None else [Path(sys.executable).parent / program]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    found = shutil.which(program)
    if bin_dir is None and found:
        return found
    raise ConfigError(
        f"{program} not found" + (f" in {bin_dir}" if bin_dir else " next to Python or on PATH"),
        key="actuator.ansible.bin_dir",
        expected="ansible-core installed: pip install 'hx[ansible]'",
    )


def _fill_args(args: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    texts = {k: weights_text(v) if k == "weights" else str(v) for k, v in values.items()}
    out: dict[str, Any] = {}
    for key, value in args.items():
        whole = PLACEHOLDER.fullmatch(value) if isinstance(value, str) else None
        if whole and whole.group(1) in values:
            out[key] = values[whole.group(1)]  # keeps the type: "{replicas}" -> 3
        else:
            out[key] = fill(value, texts) if isinstance(value, str) else value
    return out


def decide(returncode: int, report: Mapping[str, Any] | None, stderr: str) -> tuple[bool, bool, str]:
    """(ok, changed, detail) of a run from its exit status and the hx_json report.

    >>> decide(0, {"stats": {"h": {"ok": 2, "changed": 1, "failures": 0, "unreachable": 0}}, "events": []}, "")
    (True, True, 'ok on 1 host(s), changed')
    >>> decide(0, {"stats": {}, "events": []}, "")
    (False, False, 'no hosts matched')
    """
    if report is None:
        return False, False, f"ansible exited {returncode} before running: {last_line(stderr) or 'no output'}"
    stats: Mapping[str, Mapping[str, int]] = report.get("stats", {})
    changed = any(s.get("changed", 0) > 0 for s in stats.values())
    bad = sorted(h for h, s in stats.items() if s.get("failures", 0) or s.get("unreachable", 0))
    if bad:
        events = [e for e in report.get("events", []) if e.get("status") in ("failed", "unreachable")]
        why = f"{events[0]['task']}: {events[0]['msg']}" if events else last_line(stderr)
        return False, changed, f"failed on {', '.join(bad)}: {why}"[:500]
    if not stats:
        return False, False, "no hosts matched"
    if returncode != 0:
        return False, changed, f"ansible exited {returncode}: {last_line(stderr)}"
    return True, changed, f"ok on {len(stats)} host(s)" + (", changed" if changed else ", no change")


class AnsibleActuator(VerbDispatch):
    """An Actuator that runs ansible-playbook / ansible against an inventory."""

    def __init__(
        self,
        *,
        inventory: str | Path,
        playbooks: Mapping[str, str | Path] | None = None,
        modules: Mapping[str, AdHocModule] | None = None,
        actions: Mapping[str, str | Path] | None = None,
        name: str = "ansible",
        bin_dir: str | Path | None = None,
        limit: str | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        max_output: int = 4000,
    ) -> None:
        playbooks, modules, actions = dict(playbooks or {}), dict(modules or {}), dict(actions or {})
        check_verbs("actuator.ansible.playbooks", playbooks)
        check_verbs("actuator.ansible.modules", modules)
        both = sorted(set(playbooks) & set(modules))
        if both:
            raise ConfigError(f"verb(s) {both} have both a playbook and a module", key="actuator.ansible.modules")
        self.name = name
        self._playbooks = {v: self._check_file(f"playbooks.{v}", p) for v, p in playbooks.items()}
        self._actions = {check_name("action", a): self._check_file(f"actions.{a}", p) for a, p in actions.items()}
        for verb, mod in modules.items():
            used = set().union(*(placeholders(v) for v in mod.args.values() if isinstance(v, str)))
            if used - VERB_PARAMS[verb]:
                raise ConfigError(
                    f"unknown placeholder(s) {sorted(used - VERB_PARAMS[verb])}",
                    key=f"actuator.ansible.modules.{verb}",
                    expected=f"only {sorted(VERB_PARAMS[verb])}",
                )
        self._modules = modules
        self._inventory = str(inventory)
        self._playbook_bin = _find_bin(bin_dir, "ansible-playbook") if (playbooks or actions) else ""
        self._adhoc_bin = _find_bin(bin_dir, "ansible") if modules else ""
        self._limit = limit
        self._extra_args = list(extra_args)
        self._env = dict(env or {})
        self._max_output = max_output

    @staticmethod
    def _check_file(key: str, path: str | Path) -> Path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"playbook {p} does not exist", key=f"actuator.ansible.{key}", expected="a playbook file")
        return p.resolve()

    def capabilities(self) -> frozenset[Capability]:
        caps = {VERB_CAPABILITY[v] for v in (*self._playbooks, *self._modules)}
        if self._actions:
            caps.add(Capability.RUN)
        return frozenset(caps)

    # ---- verbs ------------------------------------------------------------------------

    def run(self, action: str, params: Mapping[str, Any], *, timeout: float = 300.0) -> ActionResult:
        playbook = self._actions.get(action)
        if playbook is None:
            configured = ", ".join(sorted(self._actions)) or "(none)"
            raise Unsupported(
                f"{self.name}: no playbook for action {action!r}; configured: {configured}", field="action"
            )
        extra = {"hx_verb": "run", "hx_action": action, **check_params(params)}
        return self._execute("run", action, timeout, playbook=playbook, extra_vars=extra)

    # ---- internals --------------------------------------------------------------------

    def _verb(self, verb: str, target: str, params: dict[str, Any], timeout: float) -> ActionResult:
        if verb in self._playbooks:
            extra = {"hx_verb": verb, **params}
            return self._execute(verb, target, timeout, playbook=self._playbooks[verb], extra_vars=extra)
        if verb in self._modules:
            return self._execute(verb, target, timeout, module=self._modules[verb], extra_vars=params)
        configured = ", ".join(sorted((*self._playbooks, *self._modules))) or "(none)"
        raise Unsupported(f"{self.name}: no playbook or module for {verb!r}; configured: {configured}", field=verb)

    def _execute(
        self,
        verb: str,
        target: str,
        timeout: float,
        *,
        extra_vars: Mapping[str, Any],
        playbook: Path | None = None,
        module: AdHocModule | None = None,
    ) -> ActionResult:
        timeout = check_timeout(timeout)
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="hx-ansible-") as tmp:
            vars_file = Path(tmp) / "extra_vars.json"
            result_file = Path(tmp) / "result.json"
            fd = os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(extra_vars, fh)
            if module is not None:
                argv = [self._adhoc_bin, module.pattern, "-i", self._inventory, "-m", module.module]
                argv += ["-a", json.dumps(_fill_args(module.args, extra_vars)), "-e", f"@{vars_file}"]
            else:
                argv = [self._playbook_bin, "-i", self._inventory, "-e", f"@{vars_file}", str(playbook)]
            if self._limit:
                argv += ["--limit", self._limit]
            argv += self._extra_args
            done = run_process(
                argv, timeout=timeout, what=f"{self.name} {verb} {target}", env=self._environment(tmp, result_file)
            )
            report = json.loads(result_file.read_text(encoding="utf-8")) if result_file.is_file() else None
        ok, changed, detail = decide(done.returncode, report, done.stderr)
        stdout, cut_out = truncate(done.stdout, self._max_output)
        stderr, cut_err = truncate(done.stderr, self._max_output)
        output: dict[str, Any] = {
            "argv": [a if not a.startswith("@") else "@<extra vars>" for a in argv],
            "returncode": done.returncode,
            "stats": (report or {}).get("stats", {}),
            "events": (report or {}).get("events", [])[:50],
            "stdout": stdout,
            "stderr": stderr,
            "truncated": cut_out or cut_err,
        }
        return ActionResult(verb, target, ok, detail, changed, output, time.monotonic() - t0)

    def _environment(self, tmp: str, result_file: Path) -> dict[str, str]:
        env = {**os.environ, **self._env}
        enabled = [c for c in env.get("ANSIBLE_CALLBACKS_ENABLED", "").split(",") if c.strip()]
        plugin_dirs = [str(PLUGIN_DIR), *filter(None, env.get("ANSIBLE_CALLBACK_PLUGINS", "").split(os.pathsep))]
        env.update(
            ANSIBLE_CALLBACK_PLUGINS=os.pathsep.join(plugin_dirs),
            ANSIBLE_CALLBACKS_ENABLED=",".join([*enabled, "hx_json"]),
            ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
            HX_ANSIBLE_RESULT_FILE=str(result_file),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
            ANSIBLE_RETRY_FILES_ENABLED="0",
        )
        env.setdefault("ANSIBLE_LOCAL_TEMP", str(Path(tmp) / "local"))
        return env
