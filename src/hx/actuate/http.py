"""HttpActuator: each verb calls a configured webhook.

A :class:`Webhook` is a URL template (placeholders as in :mod:`hx.actuate.shell`, percent-encoded,
allowed only in the path and query, never in the host), a method (POST, PUT or PATCH) and headers.
The body is JSON: ``{"verb": ..., <the verb's parameters>}``; for ``run`` it is
``{"verb": "run", "action": ..., "params": {...}}``.  Every call carries an ``Idempotency-Key``
header that stays the same across its retries, so a receiver can drop a repeated delivery.

The call's ``timeout`` bounds the whole call, retries included.  Connection errors (the request was
never sent), 5xx and 429 are retried (``retries`` times, exponential backoff, or the server's
``Retry-After``, in seconds or as an HTTP date, when it fits in the time left), through the one
:class:`hx.http.WebhookSender`.  A 2xx answer is ``ok``; ``changed`` is the answer's JSON
``"changed"`` field when it has one, else true.  Any other answer is a result with ``ok=False``;
a server that cannot be reached raises :class:`~hx.errors.ActuatorError`, one that does not
answer in time :class:`~hx.errors.ActuatorTimeout`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

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
    placeholders,
    truncate,
    weights_text,
)
from hx.errors import ActuatorError, ActuatorTimeout, BadInput, ConfigError, Unsupported
from hx.http import CONNECT_ERRORS, Outcome, RetryPolicy, WebhookSender, check_url, redact_url

_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class Webhook:
    """Where and how one verb is delivered.  Headers may hold secrets and are kept out of repr."""

    url: str
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


def _check_hook(key: str, hook: Webhook, allowed: frozenset[str] | None) -> Webhook:
    check_url(hook.url, f"{key}.url")
    if "{" in urlsplit(hook.url).netloc:
        raise ConfigError("placeholders may not appear in the host", key=f"{key}.url", expected="a fixed host")
    if hook.method.upper() not in _METHODS:
        raise ConfigError(f"method {hook.method!r}", key=f"{key}.method", expected="POST, PUT or PATCH")
    unknown = placeholders(hook.url) - allowed if allowed is not None else set()
    if unknown:
        raise ConfigError(
            f"unknown placeholder(s) {sorted(unknown)}", key=f"{key}.url", expected=f"{sorted(allowed or [])}"
        )
    return Webhook(hook.url, hook.method.upper(), dict(hook.headers))


class HttpActuator(VerbDispatch):
    """An Actuator that calls webhooks.  ``client``, ``sleep`` and ``clock`` are injectable."""

    def __init__(
        self,
        hooks: Mapping[str, Webhook],
        *,
        actions: Mapping[str, Webhook] | None = None,
        name: str = "http",
        client: httpx.Client | None = None,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
        max_output: int = 4000,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_verbs("actuator.http.hooks", hooks)
        if not 0 <= retries <= 10:
            raise ConfigError(f"retries {retries!r}", key="actuator.http.retries", expected="0..10")
        self.name = name
        self._hooks = {v: _check_hook(f"actuator.http.hooks.{v}", h, VERB_PARAMS[v]) for v, h in hooks.items()}
        self._actions = {
            check_name("action", a): _check_hook(f"actuator.http.actions.{a}", h, None)
            for a, h in (actions or {}).items()
        }
        # the call's timeout bounds each attempt and a server's Retry-After (see _send), not caps of their own
        unbounded = 86400.0
        policy = RetryPolicy(
            1 + retries, backoff_s, max_backoff_s=max_backoff_s, max_retry_after_s=unbounded, timeout_s=unbounded
        )
        self._sender = WebhookSender(policy, client=client, retry_errors=CONNECT_ERRORS, sleep=sleep, monotonic=clock)
        self._max_output = max_output

    def close(self) -> None:
        self._sender.close()

    def capabilities(self) -> frozenset[Capability]:
        caps = {VERB_CAPABILITY[v] for v in self._hooks}
        if self._actions:
            caps.add(Capability.RUN)
        return frozenset(caps)

    # ---- verbs ------------------------------------------------------------------------

    def run(self, action: str, params: Mapping[str, Any], *, timeout: float = 300.0) -> ActionResult:
        hook = self._actions.get(action)
        if hook is None:
            configured = ", ".join(sorted(self._actions)) or "(none)"
            raise Unsupported(
                f"{self.name}: no webhook for action {action!r}; configured: {configured}", field="action"
            )
        checked = check_params(params)
        values = {"action": action, **{k: v for k, v in checked.items() if isinstance(v, str | int | float)}}
        missing = placeholders(hook.url) - set(values)
        if missing:
            raise BadInput(f"action {action!r} needs parameter(s) {', '.join(sorted(missing))}", field="params")
        url = self._url(hook, values)
        return self._send("run", action, hook, url, {"verb": "run", "action": action, "params": checked}, timeout)

    # ---- internals --------------------------------------------------------------------

    def _verb(self, verb: str, target: str, params: dict[str, Any], timeout: float) -> ActionResult:
        hook = self._hooks.get(verb)
        if hook is None:
            configured = ", ".join(sorted(self._hooks)) or "(none)"
            raise Unsupported(f"{self.name}: no webhook for {verb!r}; configured: {configured}", field=verb)
        texts = dict(params, weights=weights_text(params["weights"])) if "weights" in params else params
        return self._send(verb, target, hook, self._url(hook, texts), {"verb": verb, **params}, timeout)

    @staticmethod
    def _url(hook: Webhook, values: Mapping[str, Any]) -> str:
        return fill(hook.url, {k: quote(str(v), safe="") for k, v in values.items()})

    def _send(
        self, verb: str, target: str, hook: Webhook, url: str, body: Mapping[str, Any], timeout: float
    ) -> ActionResult:
        timeout = check_timeout(timeout)
        what = f"{self.name} {verb} {target}: {hook.method} {redact_url(url)}"
        try:
            outcome = self._sender.send(
                url, body, method=hook.method, headers=hook.headers, idempotency_key=str(uuid.uuid4()),
                budget_s=timeout,
            )  # fmt: skip
        except httpx.TimeoutException as err:
            raise ActuatorTimeout(f"{what}: no answer within {timeout:g} s; the action may have happened") from err
        except httpx.HTTPError as err:
            raise ActuatorError(f"{what}: {type(err).__name__}: {err}", url=redact_url(url)) from err
        resp = outcome.last.response
        if resp is None:
            raise ActuatorError(
                f"{what}: cannot connect ({outcome.last.exc}) after {outcome.attempts} attempt(s)", url=redact_url(url)
            ) from outcome.last.exc
        return self._result(verb, target, url, resp, outcome)

    def _result(self, verb: str, target: str, url: str, resp: httpx.Response, outcome: Outcome) -> ActionResult:
        attempts = outcome.attempts
        ok = 200 <= resp.status_code < 300
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        changed = ok
        if ok and isinstance(answer, dict) and isinstance(answer.get("changed"), bool):
            changed = answer["changed"]
        text, cut = truncate(resp.text, self._max_output)
        reason = resp.reason_phrase or ""
        detail = f"HTTP {resp.status_code} {reason}".strip() + (f" after {attempts} attempts" if attempts > 1 else "")
        if not ok and text:
            detail += f": {text.strip().splitlines()[-1][:300] if text.strip() else ''}"
        output = {
            "status": resp.status_code,
            "url": redact_url(url),
            "attempts": attempts,
            "body": text,
            "truncated": cut,
        }
        return ActionResult(verb, target, ok, detail, changed, output, outcome.latency_s)
