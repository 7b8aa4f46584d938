"""HttpActuator: each verb calls a configured webhook.

A :class:`Webhook` is a URL template (placeholders as in :mod:`hx.actuate.shell`, percent-encoded,
allowed only in the path and query, never in the host), a method (POST, PUT or PATCH) and headers.
The body is JSON: ``{"verb": ..., <the verb's parameters>}``; for ``run`` it is
``{"verb": "run", "action": ..., "params": {...}}``.  Every call carries an ``Idempotency-Key``
header that stays the same across its retries, so a receiver can drop a repeated delivery.

The call's ``timeout`` bounds the whole call, retries included.  Connection errors (the request was
never sent), 5xx and 429 are retried (``retries`` times, exponential backoff, or the server's
``Retry-After`` in seconds when it fits in the time left).  A 2xx answer is ``ok``; ``changed`` is
the answer's JSON ``"changed"`` field when it has one, else true.  Any other answer is a result with
``ok=False``; a server that cannot be reached raises :class:`~hx.errors.ActuatorError`, one that does
not answer in time :class:`~hx.errors.ActuatorTimeout`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

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

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_RETRY_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)
_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class Webhook:
    """Where and how one verb is delivered.  Headers may hold secrets and are kept out of repr."""

    url: str
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


def _check_hook(key: str, hook: Webhook, allowed: frozenset[str] | None) -> Webhook:
    parts = urlsplit(hook.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"url {hook.url!r} is not an http(s) URL", key=f"{key}.url", expected="https://host/path")
    if "{" in parts.netloc:
        raise ConfigError("placeholders may not appear in the host", key=f"{key}.url", expected="a fixed host")
    if hook.method.upper() not in _METHODS:
        raise ConfigError(f"method {hook.method!r}", key=f"{key}.method", expected="POST, PUT or PATCH")
    unknown = placeholders(hook.url) - allowed if allowed is not None else set()
    if unknown:
        raise ConfigError(
            f"unknown placeholder(s) {sorted(unknown)}", key=f"{key}.url", expected=f"{sorted(allowed or [])}"
        )
    return Webhook(hook.url, hook.method.upper(), dict(hook.headers))


def _retry_after(resp: httpx.Response) -> float | None:
    raw = resp.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def _public_url(url: str) -> str:
    """The URL without its query (which may carry a token), for results and errors."""
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, p.path, "", ""))


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
        self._own_client = client is None
        self._client = client if client is not None else httpx.Client()
        self._retries = retries
        self._backoff = backoff_s
        self._max_backoff = max_backoff_s
        self._max_output = max_output
        self._sleep = sleep
        self._clock = clock

    def close(self) -> None:
        if self._own_client:
            self._client.close()

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
        t0 = self._clock()
        deadline = t0 + timeout
        headers = {**hook.headers, "Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}
        content = json.dumps(body).encode()
        what = f"{self.name} {verb} {target}: {hook.method} {_public_url(url)}"
        attempts = 1 + self._retries
        for attempt in range(1, attempts + 1):
            left = deadline - self._clock()
            if left <= 0:
                raise ActuatorTimeout(f"{what}: no answer within {timeout:g} s ({attempt - 1} attempt(s))")
            try:
                resp = self._client.request(hook.method, url, content=content, headers=headers, timeout=left)
            except _RETRY_ERRORS as err:
                wait = self._wait(attempt, None)
                if attempt == attempts or self._clock() + wait >= deadline:
                    raise ActuatorError(
                        f"{what}: cannot connect ({err}) after {attempt} attempt(s)", url=_public_url(url)
                    ) from err
                self._sleep(wait)
                continue
            except httpx.TimeoutException as err:
                raise ActuatorTimeout(f"{what}: no answer within {timeout:g} s; the action may have happened") from err
            except httpx.HTTPError as err:
                raise ActuatorError(f"{what}: {type(err).__name__}: {err}", url=_public_url(url)) from err
            if resp.status_code in _RETRY_STATUS and attempt < attempts:
                wait = self._wait(attempt, _retry_after(resp))
                if self._clock() + wait < deadline:
                    self._sleep(wait)
                    continue
            return self._result(verb, target, url, resp, attempt, self._clock() - t0)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return float(min(self._max_backoff, self._backoff * 2 ** (attempt - 1)))

    def _result(
        self, verb: str, target: str, url: str, resp: httpx.Response, attempts: int, took: float
    ) -> ActionResult:
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
            "url": _public_url(url),
            "attempts": attempts,
            "body": text,
            "truncated": cut,
        }
        return ActionResult(verb, target, ok, detail, changed, output, took)
