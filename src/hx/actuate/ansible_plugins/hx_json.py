"""hx_json: an Ansible callback that writes the outcome of a run as JSON to ``$HX_ANSIBLE_RESULT_FILE``.

ansible-core no longer ships a JSON callback (it moved to the ansible.posix collection), so hx
brings this small one.  It runs beside the normal stdout callback (enable it with
``ANSIBLE_CALLBACKS_ENABLED=hx_json``; ad-hoc ``ansible`` also needs ``ANSIBLE_LOAD_CALLBACK_PLUGINS=1``).
The file holds::

    {"stats": {host: {"ok": n, "changed": n, "failures": n, "unreachable": n, "skipped": n, ...}},
     "events": [{"host": h, "task": name, "status": "ok|changed|failed|unreachable|skipped",
                 "msg": text}, ...]}
"""

from __future__ import annotations

import json
import os
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: hx_json
    type: aggregate
    short_description: write the outcome of a run as JSON to $HX_ANSIBLE_RESULT_FILE
    description:
      - Used by hx's AnsibleActuator to read ok/changed/failed per host without parsing screen output.
"""

_MAX_EVENTS = 500
_MAX_MSG = 2000


def _parts(result: Any) -> tuple[str, str, dict[str, Any]]:
    """(host, task name, result dict) for ansible-core 2.19+ (public names) and older (private ones)."""
    host = getattr(result, "host", None) or result._host
    task = getattr(result, "task", None) or result._task
    data = getattr(result, "result", None)
    if not isinstance(data, dict):
        data = result._result
    return host.get_name(), task.get_name(), data


class CallbackModule(CallbackBase):  # type: ignore[misc]
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "hx_json"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._events: list[dict[str, Any]] = []

    def _record(self, result: Any, status: str) -> None:
        host, task, data = _parts(result)
        if status == "ok" and data.get("changed"):
            status = "changed"
        msg = data.get("msg") or data.get("stderr") or data.get("reason") or ""
        if len(self._events) < _MAX_EVENTS:
            self._events.append({"host": host, "task": task, "status": status, "msg": str(msg)[:_MAX_MSG]})

    def v2_runner_on_ok(self, result: Any, **kwargs: Any) -> None:
        self._record(result, "ok")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False, **kwargs: Any) -> None:
        self._record(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_unreachable(self, result: Any, **kwargs: Any) -> None:
        self._record(result, "unreachable")

    def v2_runner_on_skipped(self, result: Any, **kwargs: Any) -> None:
        self._record(result, "skipped")

    def v2_playbook_on_stats(self, stats: Any) -> None:
        path = os.environ.get("HX_ANSIBLE_RESULT_FILE")
        if not path:
            return
        summary = {host: stats.summarize(host) for host in sorted(stats.processed)}
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"stats": summary, "events": self._events}, fh)
