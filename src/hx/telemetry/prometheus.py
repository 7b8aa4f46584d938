"""PrometheusSource: signals read over the Prometheus HTTP API (works with anything that speaks it).

Each canonical signal is a PromQL *template* from configuration, usually from a preset file
(:mod:`hx.telemetry.presets`: ``hx-sim``, ``http-semconv``, ``haproxy``, ``node``, ``kube-prometheus``).
Templates may use these placeholders, and no others:

``{service}``
    the service name, escaped for a PromQL double-quoted string literal; it must appear inside
    double quotes, e.g. ``hx_sim_cpu_utilization{service="{service}"}``.
``{by}``
    the grouping label list of an aggregation, e.g. ``sum by ({by}) (...)``: empty for a
    per-service read (``sum by () (x)`` is ``sum(x)``), the discovery's instance (or version) label for a
    per-instance read through :meth:`PrometheusSource.signal_by`.
``{window}``
    the range of ``rate()`` and friends (``PrometheusConfig.window``, e.g. ``1m``; make it at least
    four scrape intervals).
``{service_label}``, ``{version_label}``, ``{instance_label}``
    the label names of the discovery (:class:`~hx.telemetry.presets.Discovery`).

The default templates (:data:`DEFAULT_TEMPLATES`, the ``hx-sim`` preset) read the simulated fleet's
``hx_sim_*`` metrics, each labelled ``service``, ``instance`` and ``version``; scrape the fleet with
``honor_labels: true``.  ``error_rate`` is the *fraction* of requests that failed (errors/s over
requests/s; 0 when no error counter exists yet, NaN when there are no requests).

Services are the values of the discovery's ``service_label`` on the series ``match`` selects; a service's
versions and instances are the values of its ``version_label`` and ``instance_label`` on the series of the
discovery's ``series`` template (``count by (<label>) (<series>)``), so a version derived with ``label_replace``
(HAProxy server names) works too.  ``signal_by(service, name, "version")`` groups by the version label,
whatever it is called, and labels each Series ``version``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import numpy as np

from hx.errors import BadInput, BadQuery, ConfigError, EmptyResult, NotFound, SourceDown, TelemetryError, Unsupported
from hx.http import CONNECT_ERRORS, RETRY_STATUS, RetryPolicy, redact_url, retry_http
from hx.telemetry.base import FloatArray, Series, SourceCapability, SourceHealth
from hx.telemetry.common import align_to_grid, step_grid, to_unix
from hx.telemetry.presets import Discovery, compose, fill, load_preset
from hx.telemetry.presets import check_template as check_template  # re-exported: callers check templates here

#: the simulated fleet's templates (the ``hx-sim`` preset file)
DEFAULT_TEMPLATES: Mapping[str, str] = load_preset("hx-sim").signals

#: Prometheus refuses more than 11,000 points per series in one range query; reads are split below that.
MAX_POINTS_PER_QUERY = 10_000

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
_RETRY_ERRORS = (*CONNECT_ERRORS, httpx.ReadError, httpx.RemoteProtocolError)


def escape_label_value(value: str) -> str:
    """``value`` escaped for a PromQL double-quoted string literal (Go escaping rules).

    >>> print(escape_label_value('a"b\\\\c'))
    a\\"b\\\\c
    >>> escape_label_value("line\\nbreak")
    'line\\\\nbreak'
    """
    out: list[str] = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def render_template(
    template: str, *, service: str, by: str = "", window: str = "1m", discovery: Discovery | None = None
) -> str:
    """The template with its placeholders filled in (the service escaped; label names from ``discovery``).

    >>> t = 'sum by ({by}) (rate(x{{service_label}="{service}"}[{window}]))'
    >>> render_template(t, service='we"ird', by="instance")
    'sum by (instance) (rate(x{service="we\\\\"ird"}[1m]))'
    """
    labels = (discovery or Discovery()).labels()
    return fill(template, {"service": escape_label_value(service), "by": by, "window": window, **labels})


@dataclass(frozen=True)
class PrometheusConfig:
    """Where Prometheus is and how to talk to it.  ``templates`` replaces the defaults as a whole."""

    url: str
    templates: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))
    window: str = "1m"
    timeout_s: float = 10.0
    retries: int = 3
    backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    bearer_token: str | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    verify_tls: bool | str = True
    #: How services, versions and instances are found (label names, the series that carry them).
    discovery: Discovery = field(default_factory=lambda: compose("hx-sim").discovery)

    def __post_init__(self) -> None:
        key = "telemetry.prometheus"
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(
                f"url {redact_url(self.url)!r} is not an http(s) URL", key=f"{key}.url", expected="http://host:9090"
            )
        if not _DURATION.match(self.window):
            raise ConfigError(f"window {self.window!r}", key=f"{key}.window", expected="a PromQL duration such as 1m")
        if not (self.timeout_s > 0 and math.isfinite(self.timeout_s)):
            raise ConfigError(f"timeout_s {self.timeout_s!r}", key=f"{key}.timeout_s", expected="a positive number")
        if not 0 <= self.retries <= 10:
            raise ConfigError(f"retries {self.retries!r}", key=f"{key}.retries", expected="0..10")
        if self.bearer_token and self.basic_auth:
            raise ConfigError("set bearer_token or basic_auth, not both", key=f"{key}.bearer_token")
        for name, template in self.templates.items():
            check_template(name, template)


def _parse_value(raw: Any) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError) as err:
        raise TelemetryError(f"Prometheus sent a sample value {raw!r} that is not a number") from err


class PrometheusSource:
    """A SignalSource over the Prometheus HTTP API (``/api/v1/query``, ``/api/v1/query_range``).

    ``client`` is injectable (tests pass an ``httpx.Client`` with a mock transport); ``sleep`` too.

    >>> src = PrometheusSource(PrometheusConfig(url="http://127.0.0.1:9090"))
    >>> src.render("cpu_utilization", "api")
    'avg by () (hx_sim_cpu_utilization{service="api"})'
    >>> src.close()
    """

    def __init__(
        self,
        config: PrometheusConfig,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._base = config.url.rstrip("/")
        self._shown = redact_url(self._base)
        self._own_client = client is None
        self._client = client if client is not None else httpx.Client(verify=config.verify_tls)
        self._sleep = sleep
        self._auth: httpx.Auth | None = httpx.BasicAuth(*config.basic_auth) if config.basic_auth else None
        self._headers = {"Authorization": f"Bearer {config.bearer_token}"} if config.bearer_token else {}

    @classmethod
    def from_settings(cls, settings: Any, *, client: httpx.Client | None = None) -> PrometheusSource:
        """Build from a settings section with ``url``, ``bearer_token``, ``username``, ``password``,
        ``timeout_s``, ``retries``, ``preset``, ``discovery`` and ``templates`` (secrets may be pydantic
        ``SecretStr``).

        The presets compose (:func:`~hx.telemetry.presets.compose`); ``discovery`` keys and ``templates`` there
        override them by name (an empty mapping keeps the presets').
        """

        def secret(value: Any) -> str | None:
            if value is None:
                return None
            return str(value.get_secret_value() if hasattr(value, "get_secret_value") else value)

        username, password = getattr(settings, "username", None), secret(getattr(settings, "password", None))
        disc = getattr(settings, "discovery", None)
        found = compose(
            getattr(settings, "preset", "hx-sim"),
            disc.model_dump() if disc is not None else None,
            getattr(settings, "templates", None) or {},
        )
        config = PrometheusConfig(
            url=settings.url,
            templates=found.templates,
            discovery=found.discovery,
            timeout_s=float(getattr(settings, "timeout_s", 10.0)),
            retries=int(getattr(settings, "retries", 3)),
            window=str(getattr(settings, "window", "1m")),
            bearer_token=secret(getattr(settings, "bearer_token", None)),
            basic_auth=(username, password or "") if username else None,
        )
        return cls(config, client=client)

    # ---- lifecycle --------------------------------------------------------------------

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def __enter__(self) -> PrometheusSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- SignalSource -----------------------------------------------------------------

    def capabilities(self) -> frozenset[SourceCapability]:
        caps = SourceCapability
        return frozenset({caps.SIGNAL_BY, caps.HEALTH, caps.VERSIONS, caps.INSTANCES, caps.CALL_GRAPH})

    def services(self) -> list[str]:
        """Values of the service label on the discovery's series (``/api/v1/label/<service_label>/values``)."""
        disc = self.config.discovery
        params = {"match[]": disc.match} if disc.match else {}
        data = self._get(f"/api/v1/label/{disc.service_label}/values", params)
        if not isinstance(data, list):
            raise TelemetryError(f"Prometheus sent label values that are not a list: {str(data)[:200]}")
        return sorted(str(v) for v in data)

    def versions(self, service: str) -> list[str]:
        """The versions a service runs now: values of the version label on its discovery series."""
        return self.label_values(service, self.config.discovery.version_label)

    def instances(self, service: str) -> list[str]:
        """The instances of a service now: values of the instance label on its discovery series."""
        return self.label_values(service, self.config.discovery.instance_label)

    def series_query(self, service: str) -> str:
        """The PromQL of a service's discovery series."""
        return self._fill(self.config.discovery.series_template(), service)

    def label_values(self, service: str, label: str) -> list[str]:
        """Values of ``label`` on the service's discovery series (an instant ``count by (label) (...)``)."""
        if not _LABEL_NAME.match(label):
            raise BadInput(f"{label!r} is not a label name", field="label")
        rows = self.instant_query(f"count by ({label}) ({self.series_query(service)})")
        return sorted({row[0][label] for row in rows if row[0].get(label)})

    def edges(self, metric: str, caller_label: str, callee_label: str, window: str = "1h") -> dict[str, list[str]]:
        """Caller -> callees seen on ``metric`` over ``window`` (series with both labels set and different)."""
        for label in (caller_label, callee_label):
            if not _LABEL_NAME.match(label):
                raise BadInput(f"{label!r} is not a label name", field="label")
        promql = f"count by ({caller_label}, {callee_label}) (count_over_time({metric}[{window}]))"
        out: dict[str, list[str]] = {}
        for labels, _, _ in self.instant_query(promql):
            caller, callee = labels.get(caller_label, ""), labels.get(callee_label, "")
            if caller and callee and caller != callee:
                out.setdefault(caller, []).append(callee)
        return {k: sorted(set(v)) for k, v in sorted(out.items())}

    def instant_query(self, promql: str, at: datetime | None = None) -> list[tuple[dict[str, str], float, float]]:
        """An instant query's vector: (labels, sample time, value) per series."""
        params: dict[str, str] = {"query": promql}
        if at is not None:
            params["time"] = f"{to_unix(at, field='at'):.3f}"
        data = self._get("/api/v1/query", params)
        if not isinstance(data, dict) or not isinstance(data.get("result"), list):
            raise TelemetryError(f"Prometheus sent an instant result that is not an object: {str(data)[:200]}")
        if data.get("resultType") == "scalar":
            ts, raw = data["result"]
            return [({}, float(ts), _parse_value(raw))]
        out = []
        for item in data["result"]:
            ts, raw = item.get("value") or (0.0, "NaN")
            out.append(({str(k): str(v) for k, v in (item.get("metric") or {}).items()}, float(ts), _parse_value(raw)))
        return out

    def signal(self, service: str, name: str, start: datetime, end: datetime, step: float) -> Series:
        """The named canonical signal of a service, one value per step (NaN where Prometheus has none)."""
        promql = self.render(name, service)
        found = self._range(promql, start, end, step)
        if not found:
            raise EmptyResult(
                f"no data for signal {name!r} of service {service!r}; check the service name "
                f"(services() lists the known ones) and that it is scraped",
                service=service,
                signal=name,
                query=promql,
            )
        if len(found) > 1:
            raise BadQuery(
                f"the template for {name!r} returned {len(found)} series for service {service!r}; "
                f"it must aggregate to one, e.g. sum by ({{by}}) (...)",
                signal=name,
                query=promql,
            )
        grid, values = next(iter(found.values()))
        return Series(name, grid, values, {"service": service})

    def signal_by(self, service: str, name: str, by: str, start: datetime, end: datetime, step: float) -> list[Series]:
        """The named signal per value of label ``by``, sorted by that value.

        ``by="version"`` and ``by="instance"`` group by the discovery's version and instance labels, whatever they
        are called, and label each Series ``version`` or ``instance``; another name is used as it is.
        """
        if not _LABEL_NAME.match(by):
            raise BadInput(f"{by!r} is not a label name", field="by")
        label = self.grouping_label(by)
        template = self._template(name)
        if "{by}" not in template:
            raise Unsupported(
                f"the template for {name!r} has no {{by}} grouping, so it cannot be read per {by}; "
                f"write it as e.g. sum by ({{by}}) (...)",
                field="by",
            )
        promql = self._fill(template, service, by=label)
        found = self._range(promql, start, end, step)
        if not found:
            raise EmptyResult(
                f"no data for signal {name!r} of service {service!r} per {by} (label {label!r})",
                service=service,
                signal=name,
                query=promql,
            )
        out: list[Series] = []
        for labels, (grid, values) in found.items():
            label_map = dict(labels)
            if label not in label_map:
                raise BadQuery(f"the template for {name!r} returned a series without label {label!r}", query=promql)
            out.append(Series(name, grid, values, {"service": service, by: label_map[label]}))
        return sorted(out, key=lambda s: s.labels[by])

    def query(self, promql: str, start: datetime, end: datetime, step: float) -> list[Series]:
        """A raw PromQL range query; one Series per result series ([] when nothing matched)."""
        out: list[Series] = []
        for labels, (grid, values) in sorted(self._range(promql, start, end, step).items()):
            label_map = dict(labels)
            out.append(Series(label_map.pop("__name__", promql), grid, values, label_map))
        return out

    # ---- more -------------------------------------------------------------------------

    def instant(self, service: str, name: str, at: datetime | None = None) -> float:
        """The named signal's value now (or ``at``), from ``/api/v1/query``."""
        promql = self.render(name, service)
        params: dict[str, str] = {"query": promql}
        if at is not None:
            params["time"] = f"{to_unix(at, field='at'):.3f}"
        data = self._get("/api/v1/query", params)
        if not isinstance(data, dict):
            raise TelemetryError(f"Prometheus sent an instant result that is not an object: {str(data)[:200]}")
        result = data.get("result")
        if data.get("resultType") == "scalar" and isinstance(result, list):
            return _parse_value(result[1])
        if not result:
            raise EmptyResult(f"no data for signal {name!r} of service {service!r}", service=service, signal=name)
        if len(result) > 1:
            raise BadQuery(f"the template for {name!r} returned {len(result)} series; it must aggregate to one")
        return _parse_value(result[0]["value"][1])

    def health(self) -> SourceHealth:
        """One quick query (no retries): ok with the round-trip time, or the error."""
        t0 = time.monotonic()
        try:
            self._get("/api/v1/query", {"query": "1"}, retries=0)
        except TelemetryError as err:
            return SourceHealth(False, f"{self._shown}: {err}", time.monotonic() - t0)
        took = time.monotonic() - t0
        return SourceHealth(True, f"{self._shown} answered in {took * 1000:.0f} ms", took)

    def render(self, name: str, service: str, by: str = "") -> str:
        """The PromQL for a signal of a service (``by``: a canonical grouping, ``version`` or ``instance``)."""
        return self._fill(self._template(name), service, by=self.grouping_label(by) if by else "")

    def grouping_label(self, by: str) -> str:
        """The label a canonical grouping (``version``, ``instance``, ``service``) is read from."""
        disc = self.config.discovery
        return {"version": disc.version_label, "instance": disc.instance_label, "service": disc.service_label}.get(
            by, by
        )

    def _fill(self, template: str, service: str, by: str = "") -> str:
        return render_template(
            template, service=service, by=by, window=self.config.window, discovery=self.config.discovery
        )

    # ---- internals --------------------------------------------------------------------

    def _template(self, name: str) -> str:
        try:
            return self.config.templates[name]
        except KeyError:
            valid = ", ".join(sorted(self.config.templates)) or "(none configured)"
            raise NotFound(f"no template for signal {name!r}; configured: {valid}", signal=name) from None

    def _range(
        self, promql: str, start: datetime, end: datetime, step: float
    ) -> dict[tuple[tuple[str, str], ...], tuple[FloatArray, FloatArray]]:
        """Series of a range query keyed by sorted labels, each aligned on the step grid."""
        grid = step_grid(to_unix(start, field="start"), to_unix(end, field="end"), step)
        samples: dict[tuple[tuple[str, str], ...], tuple[list[float], list[float]]] = {}
        for lo in range(0, grid.size, MAX_POINTS_PER_QUERY):
            chunk = grid[lo : lo + MAX_POINTS_PER_QUERY]
            params = {
                "query": promql,
                "start": f"{chunk[0]:.3f}",
                "end": f"{chunk[-1]:.3f}",
                "step": f"{round(step * 1000) / 1000:.3f}",
            }
            data = self._get("/api/v1/query_range", params)
            for metric, ts, vs in _matrix(data):
                got = samples.setdefault(metric, ([], []))
                got[0].extend(ts)
                got[1].extend(vs)
        return {
            key: (grid, align_to_grid(grid, step, np.array(ts, dtype=np.float64), np.array(vs, dtype=np.float64)))
            for key, (ts, vs) in samples.items()
        }

    def _get(self, path: str, params: Mapping[str, str], *, retries: int | None = None) -> Any:
        """GET an API path and return its ``data``, retrying connection errors, 5xx and 429 with backoff."""
        url = self._base + path
        try:
            outcome = retry_http(
                lambda timeout: self._client.get(
                    url, params=params, headers=self._headers, auth=self._auth or httpx.USE_CLIENT_DEFAULT,
                    timeout=timeout,
                ),
                redact_url(url), self._policy(retries), retry_errors=_RETRY_ERRORS, sleep=self._sleep,
            )  # fmt: skip
        except httpx.TimeoutException as err:
            raise SourceDown(
                f"Prometheus at {self._shown} did not answer within {self.config.timeout_s} s; "
                f"raise telemetry.prometheus.timeout_s or ask for a shorter range",
                url=self._shown,
            ) from err
        except httpx.HTTPError as err:
            shown = redact_url(url)
            raise TelemetryError(f"request to {shown} failed: {type(err).__name__}: {err}", url=shown) from err
        if outcome.last.response is None:
            down = outcome.last.exc
            raise SourceDown(
                f"Prometheus at {self._shown} is unreachable ({type(down).__name__}: {down}) after "
                f"{outcome.attempts} attempt(s); check that it runs and that the URL is right",
                url=self._shown,
            ) from down
        return self._decode(outcome.last.response, redact_url(url), outcome.attempts)

    def _policy(self, retries: int | None) -> RetryPolicy:
        """Back-off and Retry-After both capped at ``max_backoff_s``; each attempt bounded by ``timeout_s``."""
        c = self.config
        attempts = 1 + (c.retries if retries is None else retries)
        total = attempts * c.timeout_s + (attempts - 1) * c.max_backoff_s
        return RetryPolicy(
            attempts, c.backoff_s, max_backoff_s=c.max_backoff_s, max_retry_after_s=c.max_backoff_s,
            max_total_s=total, timeout_s=c.timeout_s,
        )  # fmt: skip

    def _decode(self, resp: httpx.Response, url: str, attempts: int) -> Any:
        try:
            body = resp.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if resp.status_code == 200 and isinstance(body, dict) and body.get("status") == "success":
            return body.get("data")
        if resp.status_code in (400, 422) and error:
            raise BadQuery(f"Prometheus rejected the query: {error}", error_type=body.get("errorType"), url=url)
        if resp.status_code in (401, 403):
            raise TelemetryError(
                f"Prometheus at {self._shown} refused the request (HTTP {resp.status_code}); "
                "check telemetry.prometheus.bearer_token / basic_auth",
                status=resp.status_code,
            )
        if resp.status_code in RETRY_STATUS:
            what = f": {error}" if error else ""
            cls = TelemetryError if error else SourceDown
            raise cls(
                f"Prometheus at {self._shown} answered HTTP {resp.status_code}{what} after {attempts} attempt(s)",
                status=resp.status_code,
            )
        raise TelemetryError(
            f"{url} answered HTTP {resp.status_code} with {resp.text[:200]!r}; is {self._shown} a Prometheus API?",
            status=resp.status_code,
        )


def _matrix(data: Any) -> list[tuple[tuple[tuple[str, str], ...], list[float], list[float]]]:
    """(sorted labels, timestamps, values) of each series in a range-query result."""
    if not isinstance(data, dict) or data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
        raise TelemetryError(f"Prometheus sent a range result that is not a matrix: {str(data)[:200]}")
    out = []
    for item in data["result"]:
        metric = item.get("metric") or {}
        pairs = item.get("values") or []
        ts = [float(p[0]) for p in pairs]
        vs = [_parse_value(p[1]) for p in pairs]
        out.append((tuple(sorted((str(k), str(v)) for k, v in metric.items())), ts, vs))
    return out
