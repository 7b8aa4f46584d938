"""The PromQL syntax check that signal templates pass at load."""

from __future__ import annotations

import pytest

from hx.telemetry.promql import PromQLSyntaxError, metric_names, parse_check

VALID = [
    "up",
    'sum by (instance) (rate(x_total{service="a",code=~"5.."}[1m]))',
    "histogram_quantile(0.95, sum by (le, version) (rate(h_bucket[5m])))",
    "sum by (le, ) (rate(h_bucket[5m]))",  # Prometheus accepts a trailing comma in a grouping
    "a / on (job) group_left (team) b > bool 0.5 unless c offset 5m @ end()",
    'label_replace(w{proxy="c"}, "version", "$1", "server", ".+?--(.+?)--[0-9]+")',
    "rate(x[5m:30s]) or vector(0)",
    '-sum without (cpu) (rate(node_cpu_seconds_total{mode!="idle"}[1m])) * 100',
    "job:requests:rate5m",
    'count_values("v", x) # a comment',
    "topk(3, x) and quantile(0.9, y)",
    '{__name__=~"a|b"}',
]
INVALID = {
    "sum(rate(x[1m])": "unclosed '\\('",
    'x{a="1"': "unclosed '\\{'",
    "x{a=b}": "needs a quoted value",
    "x{a}": "expected =, !=, =~ or !~",
    "frobnicate(x)": "unknown function 'frobnicate'",
    "rate(x[5])": "expected a duration",
    "x +": "unexpected end",
    "x y": "unexpected 'y'",
    '"open': "unterminated string",
    "x $ y": "unexpected character",
    "": "empty expression",
    "sum by (a b) (x)": "unclosed",
}


@pytest.mark.parametrize("expr", VALID)
def test_valid_expressions_parse(expr: str) -> None:
    parse_check(expr)


@pytest.mark.parametrize(("expr", "message"), INVALID.items())
def test_invalid_expressions_say_where(expr: str, message: str) -> None:
    with pytest.raises(PromQLSyntaxError, match=message):
        parse_check(expr)


def test_metric_names_lists_the_selected_metrics_once() -> None:
    expr = "rate(a_total[1m]) / on (x) sum(rate(a_total[1m])) or histogram_quantile(0.5, b_bucket) + time()"
    assert metric_names(expr) == ["a_total", "b_bucket"]
