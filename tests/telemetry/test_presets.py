"""Signal presets: shipped files that parse, composition, discovery settings validated at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from hx.config import load_settings
from hx.errors import ConfigError
from hx.telemetry.base import CANONICAL_SIGNALS
from hx.telemetry.presets import Discovery, compose, load_preset, preset_names
from hx.telemetry.prometheus import DEFAULT_TEMPLATES, PrometheusSource, render_template


def test_the_shipped_presets() -> None:
    assert preset_names() == ["haproxy", "http-semconv", "hx-sim", "kube-prometheus", "node"]
    for name in preset_names():
        preset = load_preset(name)
        assert preset.description and preset.signals, name
    assert set(CANONICAL_SIGNALS) <= set(load_preset("hx-sim").signals)
    assert dict(DEFAULT_TEMPLATES) == dict(load_preset("hx-sim").signals)


def test_hx_sim_stays_the_default_and_renders_as_before() -> None:
    settings = load_settings(environ={}).settings
    src = PrometheusSource.from_settings(settings.telemetry.prometheus)
    assert src.render("cpu_utilization", "api") == 'avg by () (hx_sim_cpu_utilization{service="api"})'
    assert src.config.discovery.match == "hx_sim_requests_total"
    src.close()


def test_presets_compose_later_wins_and_overrides_win_over_all() -> None:
    c = compose(["http-semconv", "node"], {"service_label": "app"}, {"latency_p95": 'max(x{a="{service}"})'})
    assert c.origin["request_rate"] == "http-semconv" and c.origin["cpu_utilization"] == "node"
    assert c.origin["latency_p95"] == "templates"
    assert c.discovery.service_label == "app" and c.discovery.version_label == "service_version"
    assert c.presets == ("http-semconv", "node")


def test_label_parameters_follow_the_discovery() -> None:
    template = load_preset("http-semconv").signals["request_rate"]
    promql = render_template(template, service="shop", by="ver", discovery=Discovery(service_label="app"))
    assert 'app="shop"' in promql and "sum by (ver)" in promql


def test_haproxy_derives_the_version_from_the_server_name() -> None:
    c = compose("haproxy")
    assert (c.discovery.service_label, c.discovery.instance_label) == ("proxy", "server")
    assert '".+?--(.+?)--[0-9]+"' in c.templates["request_rate"]


def test_a_bad_template_names_the_signal_and_the_key() -> None:
    with pytest.raises(ConfigError, match=r"telemetry\.prometheus\.templates\.latency_p95: not valid PromQL"):
        load_settings(environ={}, overrides={"telemetry.prometheus.templates": {"latency_p95": "max(x"}})
    with pytest.raises(ConfigError, match=r"unknown placeholder \{svc\}"):
        load_settings(environ={}, overrides={"telemetry.prometheus.templates.cpu": 'x{a="{svc}"}'})


def test_discovery_keys_are_settings_and_validated() -> None:
    s = load_settings(environ={}, overrides={"telemetry.prometheus.discovery.service_label": "app"}).settings
    assert s.telemetry.prometheus.discovery.service_label == "app"
    with pytest.raises(ConfigError, match=r"telemetry\.prometheus\.discovery\.version_label"):
        load_settings(environ={}, overrides={"telemetry.prometheus.discovery.version_label": "not a label"})
    with pytest.raises(ConfigError, match=r"telemetry\.prometheus\.discovery\.match: not a series selector"):
        load_settings(environ={}, overrides={"telemetry.prometheus.discovery.match": "x{"})


def test_an_unknown_preset_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match=r"no preset 'istio'.*haproxy or http-semconv"):
        load_settings(environ={}, overrides={"telemetry.prometheus.preset": "istio"})


def test_a_copied_preset_file_is_a_preset(tmp_path: Path) -> None:
    own = tmp_path / "mine.yaml"
    own.write_text(load_preset("node").path.read_text().replace("job", "team"))
    s = load_settings(environ={}, overrides={"telemetry.prometheus.preset": ["http-semconv", str(own)]}).settings
    c = compose(s.telemetry.prometheus.preset)
    assert c.origin["cpu_utilization"] == "mine" and c.discovery.service_label == "service_name"
    own.write_text('description: x\nsignals:\n  cpu_utilization: avg(x{a="{service}"}[1m]\n')
    with pytest.raises(ConfigError, match=r"mine\.yaml: signals\.cpu_utilization: not valid PromQL"):
        load_preset(str(own))
