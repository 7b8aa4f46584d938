"""PrometheusSource against scripted servers: templates, escaping, alignment, retries, errors."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import numpy as np
import pytest

from hx.errors import BadQuery, ConfigError, EmptyResult, NotFound, SourceDown, TelemetryError, Unsupported
from hx.telemetry.prometheus import (
    DEFAULT_TEMPLATES,
    PrometheusConfig,
    PrometheusSource,
    check_template,
    escape_label_value,
    render_template,
)
from tests.integration.servers import Reply, scripted_http_server
from tests.support.net import free_port

T0 = datetime.fromtimestamp(1_700_000_000, UTC)
T1 = datetime.fromtimestamp(1_700_000_000 + 300, UTC)


def matrix(*series: tuple[dict[str, str], list[tuple[float, str]]]) -> dict[str, object]:
    result = [{"metric": m, "values": [[t, v] for t, v in pts]} for m, pts in series]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def source(url: str, **kw: object) -> PrometheusSource:
    config = PrometheusConfig(url=url, **{"retries": 2, "backoff_s": 0.01, "timeout_s": 2.0, **kw})  # type: ignore[arg-type]
    return PrometheusSource(config)


# ---- templates ---------------------------------------------------------------------------


def test_escaping_quotes_backslashes_and_newlines() -> None:
    assert escape_label_value('a"b') == 'a\\"b'
    assert escape_label_value("a\\b") == "a\\\\b"
    assert escape_label_value("a\nb\tc\x01") == "a\\nb\\tc\\x01"
    assert escape_label_value("plain-name_1.2") == "plain-name_1.2"


def test_rendering_substitutes_only_known_placeholders() -> None:
    template = 'sum by ({by}) (rate(x{service="{service}"}[{window}]))'
    assert render_template(template, service='a"\\b', by="", window="2m") == (
        'sum by () (rate(x{service="a\\"\\\\b"}[2m]))'
    )


def test_the_query_sent_carries_the_escaped_service() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.params["query"])
        return httpx.Response(200, json=matrix(({}, [(1_700_000_000, "1")])))

    client = httpx.Client(transport=httpx.MockTransport(handler))
    src = PrometheusSource(PrometheusConfig(url="http://prom:9090"), client=client)
    src.signal('we"ird\\svc', "cpu_utilization", T0, T1, 60)
    assert sent == ['avg by () (hx_sim_cpu_utilization{service="we\\"ird\\\\svc"})']


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("avg(x{service={service}})", "double-quoted"),
        ("avg(x{service='{service}'})", "double-quoted"),
        ('avg(x{service="{servce}"})', "unknown placeholder"),
        ('sum by ("{by}") (x{service="{service}"})', "string literal"),
        ("", "empty"),
    ],
)
def test_bad_templates_are_config_errors(template: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_template("cpu", template)


def test_default_templates_are_valid_and_cover_the_canonical_signals() -> None:
    from hx.telemetry.base import CANONICAL_SIGNALS

    assert set(CANONICAL_SIGNALS) <= set(DEFAULT_TEMPLATES)
    assert set(DEFAULT_TEMPLATES) - set(CANONICAL_SIGNALS) == {"disk_utilization", "ready_replicas", "restarts"}
    for name, template in DEFAULT_TEMPLATES.items():
        check_template(name, template)


@pytest.mark.parametrize(
    ("field", "value"),
    [("url", "prom:9090"), ("window", "5 minutes"), ("retries", 99), ("timeout_s", 0)],
)
def test_config_errors_name_the_key(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"telemetry.prometheus.{field}"):
        PrometheusConfig(**{"url": "http://prom:9090", field: value})  # type: ignore[arg-type]


def test_unknown_signal_lists_the_configured_ones() -> None:
    src = PrometheusSource(PrometheusConfig(url="http://prom:9090"))
    with pytest.raises(NotFound, match="configured: cpu_utilization, disk_utilization, error_rate"):
        src.signal("api", "cpu", T0, T1, 60)


def test_a_template_without_by_cannot_be_read_per_instance() -> None:
    config = PrometheusConfig(url="http://prom:9090", templates={"cpu": 'avg(x{service="{service}"})'})
    with pytest.raises(Unsupported, match="by"):
        PrometheusSource(config).signal_by("api", "cpu", "instance", T0, T1, 60)


# ---- alignment ---------------------------------------------------------------------------


def test_range_results_are_aligned_with_nan_for_missing_steps() -> None:
    t = 1_700_000_000
    body = matrix(({}, [(t, "1"), (t + 60, "2"), (t + 240, "5"), (t + 300, "NaN")]))
    with scripted_http_server([Reply(200, body)]) as server:
        s = source(server.url).signal("api", "cpu_utilization", T0, T1, 60)
    assert s.timestamps.tolist() == [t + 60.0 * k for k in range(6)]
    assert s.values[:2].tolist() == [1.0, 2.0]
    assert np.isnan(s.values[2]) and np.isnan(s.values[3]) and np.isnan(s.values[5])
    assert s.values[4] == 5.0
    q = server.seen[0].query
    assert q["start"] == ["1700000000.000"] and q["end"] == ["1700000300.000"] and q["step"] == ["60.000"]


def test_per_instance_reads_give_one_series_per_instance() -> None:
    t = 1_700_000_000
    body = matrix(({"instance": "b"}, [(t, "2")]), ({"instance": "a"}, [(t + 60, "1")]))
    with scripted_http_server([Reply(200, body)]) as server:
        series = source(server.url).signal_by("api", "cpu_utilization", "instance", T0, T1, 60)
    assert [s.labels for s in series] == [{"service": "api", "instance": "a"}, {"service": "api", "instance": "b"}]
    assert np.isnan(series[0].values[0]) and series[0].values[1] == 1.0
    assert "by (instance)" in server.seen[0].query["query"][0]


def test_long_ranges_are_split_under_the_point_limit() -> None:
    start = datetime.fromtimestamp(0, UTC)
    end = datetime.fromtimestamp(25_000, UTC)
    replies = [Reply(200, matrix(({}, [(float(k * 10_000), "1")]))) for k in range(3)]
    with scripted_http_server(replies) as server:
        s = source(server.url).signal("api", "cpu_utilization", start, end, 1)
    assert len(server.seen) == 3
    assert [r.query["start"][0] for r in server.seen] == ["0.000", "10000.000", "20000.000"]
    assert len(s) == 25_001 and s.n_gaps == 25_001 - 3


def test_a_template_that_does_not_aggregate_is_a_bad_query() -> None:
    body = matrix(({"instance": "a"}, [(1_700_000_000, "1")]), ({"instance": "b"}, [(1_700_000_000, "1")]))
    with scripted_http_server([Reply(200, body)]) as server, pytest.raises(BadQuery, match="aggregate"):
        source(server.url).signal("api", "cpu_utilization", T0, T1, 60)


# ---- errors, retries, timeouts -------------------------------------------------------------


def test_retries_a_500_then_succeeds() -> None:
    replies = [Reply(500, "oops"), Reply(502, "bad gateway"), Reply(200, matrix(({}, [(1_700_000_000, "3")])))]
    with scripted_http_server(replies) as server:
        s = source(server.url, retries=2).signal("api", "cpu_utilization", T0, T1, 60)
    assert s.values[0] == 3.0
    assert len(server.seen) == 3


def test_backoff_grows_and_honours_retry_after() -> None:
    waits: list[float] = []
    replies = [Reply(503), Reply(429, headers={"Retry-After": "0.3"}), Reply(200, matrix())]
    with scripted_http_server(replies) as server:
        config = PrometheusConfig(url=server.url, retries=3, backoff_s=0.1)
        PrometheusSource(config, sleep=waits.append).query("up", T0, T1, 60)
    assert waits == [0.1, 0.3]


def test_gives_up_after_bounded_retries_on_5xx() -> None:
    with scripted_http_server([Reply(503, "down")] * 5) as server, pytest.raises(SourceDown, match="3 attempt"):
        source(server.url, retries=2).signal("api", "cpu_utilization", T0, T1, 60)
    assert len(server.seen) == 3


def test_prometheus_errors_in_5xx_are_reported() -> None:
    body = {"status": "error", "errorType": "timeout", "error": "query timed out in expression evaluation"}
    with scripted_http_server([Reply(503, body)]) as server, pytest.raises(TelemetryError, match="timed out"):
        source(server.url, retries=0).query("up", T0, T1, 60)


def test_no_retry_on_a_bad_query() -> None:
    body = {"status": "error", "errorType": "bad_data", "error": 'parse error: unexpected "("'}
    with scripted_http_server([Reply(400, body)]) as server, pytest.raises(BadQuery, match="parse error") as err:
        source(server.url).query("sum(", T0, T1, 60)
    assert len(server.seen) == 1
    assert err.value.data["error_type"] == "bad_data"


def test_empty_result_names_service_and_signal() -> None:
    with scripted_http_server([Reply(200, matrix())]) as server, pytest.raises(EmptyResult) as err:
        source(server.url).signal("nope", "latency_p99", T0, T1, 60)
    assert "nope" in str(err.value) and "latency_p99" in str(err.value)


def test_a_down_server_is_source_down_after_retries() -> None:
    waits: list[float] = []
    config = PrometheusConfig(url=f"http://127.0.0.1:{free_port()}", retries=2, backoff_s=0.01)
    with pytest.raises(SourceDown, match="unreachable"):
        PrometheusSource(config, sleep=waits.append).services()
    assert waits == [0.01, 0.02]


def test_a_slow_server_times_out_as_source_down() -> None:
    with scripted_http_server([Reply(200, matrix(), delay_s=2.0)]) as server:
        src = source(server.url, timeout_s=0.3)
        with pytest.raises(SourceDown, match="did not answer within 0.3"):
            src.query("up", T0, T1, 60)
    assert len(server.seen) == 1  # a read timeout is not retried


def test_auth_is_sent_and_refusals_say_what_to_check() -> None:
    with scripted_http_server([Reply(200, {"status": "success", "data": ["a"]}), Reply(401, "no")]) as server:
        src = source(server.url, bearer_token="s3cret")
        assert src.services() == ["a"]
        with pytest.raises(TelemetryError, match="bearer_token"):
            src.services()
    assert server.seen[0].headers["Authorization"] == "Bearer s3cret"
    assert "s3cret" not in repr(src.config)


def test_basic_auth_is_sent() -> None:
    with scripted_http_server([Reply(200, {"status": "success", "data": []})]) as server:
        source(server.url, basic_auth=("u", "p")).services()
    assert server.seen[0].headers["Authorization"].startswith("Basic ")


def test_services_use_label_values_with_a_match() -> None:
    with scripted_http_server([Reply(200, {"status": "success", "data": ["web", "api"]})]) as server:
        assert source(server.url).services() == ["api", "web"]
    assert server.seen[0].path == "/api/v1/label/service/values"
    assert server.seen[0].query["match[]"] == ["hx_sim_requests_total"]


def test_health_reports_ok_and_errors_without_retrying() -> None:
    with scripted_http_server(
        [Reply(200, {"status": "success", "data": {"resultType": "scalar", "result": [0, "1"]}})]
    ) as server:
        assert source(server.url).health().ok
    with scripted_http_server([Reply(500, "x")] * 3) as server:
        health = source(server.url, retries=3).health()
    assert not health.ok and "500" in health.detail
    assert len(server.seen) == 1


def test_a_non_prometheus_server_is_named() -> None:
    with (
        scripted_http_server([Reply(200, "<html>hello</html>")]) as server,
        pytest.raises(TelemetryError, match="Prometheus API"),
    ):
        source(server.url).query("up", T0, T1, 60)


def test_instant_reads_one_value() -> None:
    body = {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "0.25"]}]}}
    with scripted_http_server(
        [Reply(200, body), Reply(200, {"status": "success", "data": {"resultType": "vector", "result": []}})]
    ) as server:
        src = source(server.url)
        assert src.instant("api", "cpu_utilization", at=T0) == 0.25
        with pytest.raises(EmptyResult):
            src.instant("api", "cpu_utilization")
    assert server.seen[0].query["time"] == ["1700000000.000"]


def test_from_settings_merges_templates_and_unwraps_secrets() -> None:
    from types import SimpleNamespace

    from pydantic import SecretStr

    settings = SimpleNamespace(
        url="http://prom:9090",
        bearer_token=SecretStr("tok"),
        username=None,
        password=None,
        timeout_s=3.0,
        retries=1,
        templates={"cpu_utilization": 'max(my_cpu{app="{service}"})'},
    )
    src = PrometheusSource.from_settings(settings)
    assert src.config.bearer_token == "tok" and src.config.timeout_s == 3.0 and src.config.retries == 1
    assert src.render("cpu_utilization", "api") == 'max(my_cpu{app="api"})'
    assert src.render("request_rate", "api") == render_template(DEFAULT_TEMPLATES["request_rate"], service="api")
    basic = PrometheusSource.from_settings(SimpleNamespace(url="http://p:9090", username="u", password=SecretStr("p")))
    assert basic.config.basic_auth == ("u", "p")
