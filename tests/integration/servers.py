"""Start and stop real servers for integration tests (Prometheus here; others add theirs).

Every helper is a context manager that always stops what it started and, when the block fails,
prints the server's log (pytest shows it under "Captured stderr").
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml

from tests.support.net import free_port, stop_process

MAKE_HINT = "`make test` installs it (Debian package `prometheus`)"


def wait_until(what: str, check: Callable[[], object], timeout: float, interval: float = 0.2) -> None:
    """Poll ``check()`` until it is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def _dump_log(name: str, log: Path) -> None:
    text = log.read_text(errors="replace") if log.exists() else "(no log written)"
    print(f"----- {name} log ({log}) -----\n{text[-20000:]}\n----- end of {name} log -----", file=sys.stderr)


# ---- Prometheus ------------------------------------------------------------------------


def prometheus_binary() -> str:
    """The prometheus binary, or a test failure saying how to install it (CI must run these tests)."""
    found = os.environ.get("HX_PROMETHEUS_BIN") or shutil.which("prometheus")
    if not found and Path("/usr/bin/prometheus").exists():
        found = "/usr/bin/prometheus"
    if not found:
        pytest.fail(f"the prometheus binary is not installed; {MAKE_HINT}", pytrace=False)
    return found


@dataclass
class PrometheusHandle:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    config_path: Path
    data_dir: Path
    log_path: Path

    def stop(self) -> None:
        """Stop the server now (it is stopped at the end of the block in any case)."""
        stop_process(self.process, timeout=10.0)

    def targets_up(self) -> bool:
        """Every active scrape target is up."""
        resp = httpx.get(f"{self.url}/api/v1/targets", timeout=5)
        active = resp.json()["data"]["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)

    def wait_for_targets(self, timeout: float = 30.0) -> None:
        wait_until("every Prometheus scrape target to be up", self.targets_up, timeout)

    def wait_for_data(self, promql: str, timeout: float = 30.0) -> None:
        """Wait until an instant query returns at least one series."""

        def has_data() -> bool:
            resp = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
            return bool(resp.json()["data"]["result"])

        wait_until(f"data for {promql}", has_data, timeout)


def _write_prometheus_config(
    path: Path,
    scrape_targets: list[str],
    rules_file: Path | None,
    scrape_interval: str,
    honor_labels: bool,
    alertmanagers: list[str] | None = None,
    scrape_configs: list[dict[str, Any]] | None = None,
) -> None:
    lines = [
        "global:",
        f"  scrape_interval: {scrape_interval}",
        f"  evaluation_interval: {scrape_interval}",
    ]
    if rules_file is not None:
        lines += ["rule_files:", f"  - {str(rules_file)!r}"]
    if alertmanagers:
        lines += [
            "alerting:",
            "  alertmanagers:",
            "    - static_configs:",
            "        - targets: [" + ", ".join(repr(t) for t in alertmanagers) + "]",
        ]
    lines += ["scrape_configs:"]
    if scrape_targets:
        lines += [
            "  - job_name: hx",
            f"    scrape_interval: {scrape_interval}",
            f"    honor_labels: {'true' if honor_labels else 'false'}",
            "    static_configs:",
            "      - targets: [" + ", ".join(repr(t) for t in scrape_targets) + "]",
        ]
    if scrape_configs:  # further jobs, as Prometheus reads them (a list of scrape_config mappings)
        lines += ["  " + line for line in yaml.safe_dump(scrape_configs, sort_keys=False).splitlines()]
    path.write_text("\n".join(lines) + "\n")


@contextlib.contextmanager
def prometheus_server(
    tmp_path: Path,
    scrape_targets: list[str],
    rules_file: Path | None = None,
    *,
    scrape_interval: str = "1s",
    honor_labels: bool = True,
    startup_timeout: float = 30.0,
    alertmanagers: list[str] | None = None,
    extra_args: list[str] | None = None,
    scrape_configs: list[dict[str, Any]] | None = None,
) -> Iterator[PrometheusHandle]:
    """A real Prometheus on a free loopback port, scraping ``scrape_targets`` (``host:port``).

    ``honor_labels`` defaults to true because one exporter (the simulated fleet) speaks for many
    instances: its own ``instance`` label must win over the target address Prometheus would set.
    ``alertmanagers`` (``host:port``) receive the alerts of the rules in ``rules_file``; ``extra_args``
    are appended to the command line (e.g. ``--rules.alert.resend-delay=1s``); ``scrape_configs`` are further
    scrape jobs (each a Prometheus ``scrape_config`` mapping), after the ``hx`` job of ``scrape_targets`` (none when
    ``scrape_targets`` is empty).
    """
    binary = prometheus_binary()
    root = tmp_path / "prometheus"
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    config = root / "prometheus.yml"
    _write_prometheus_config(
        config, scrape_targets, rules_file, scrape_interval, honor_labels, alertmanagers, scrape_configs
    )
    port = free_port()
    log_path = root / "prometheus.log"
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=1d",
        "--log.level=info",
        *(extra_args or []),
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    handle = PrometheusHandle(f"http://127.0.0.1:{port}", port, proc, config, data_dir, log_path)
    ok = False
    try:
        _wait_ready(handle, startup_timeout)
        yield handle
        ok = True
    finally:
        stop_process(proc, timeout=10.0)
        if not ok:
            _dump_log("prometheus", log_path)


def _wait_ready(handle: PrometheusHandle, timeout: float) -> None:
    def ready() -> bool:
        if handle.process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {handle.process.returncode} during startup")
        try:
            return httpx.get(f"{handle.url}/-/ready", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_until("Prometheus to be ready", ready, timeout)


# ---- Alertmanager ----------------------------------------------------------------------

ALERTMANAGER_HINT = "`make test` installs it (Debian package `prometheus-alertmanager`)"


def alertmanager_binary() -> str:
    """The Alertmanager binary, or a test failure saying how to install it (CI must run these tests)."""
    found = os.environ.get("HX_ALERTMANAGER_BIN") or shutil.which("prometheus-alertmanager")
    found = found or shutil.which("alertmanager")
    if not found:
        pytest.fail(f"the Alertmanager binary (prometheus-alertmanager) is not installed; {ALERTMANAGER_HINT}",
                    pytrace=False)  # fmt: skip
    return found


@dataclass
class AlertmanagerHandle:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    config_path: Path
    log_path: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_process(self.process, timeout=10.0)

    def alerts(self) -> list[dict[str, object]]:
        """The alerts Alertmanager holds now (API v2)."""
        resp = httpx.get(f"{self.url}/api/v2/alerts", timeout=5)
        resp.raise_for_status()
        found = resp.json()
        return found if isinstance(found, list) else []


def _write_alertmanager_config(
    path: Path, webhook_url: str, bearer_token: str | None, group_by: list[str], timings: dict[str, str]
) -> None:
    lines = [
        "global:",
        f"  resolve_timeout: {timings['resolve_timeout']}",
        "route:",
        "  receiver: hx",
        "  group_by: [" + ", ".join(repr(g) for g in group_by) + "]",
        f"  group_wait: {timings['group_wait']}",
        f"  group_interval: {timings['group_interval']}",
        f"  repeat_interval: {timings['repeat_interval']}",
        "receivers:",
        "  - name: hx",
        "    webhook_configs:",
        f"      - url: {webhook_url!r}",
        "        send_resolved: true",
        "        max_alerts: 0",
    ]
    if bearer_token is not None:
        lines += [
            "        http_config:",
            "          authorization:",
            "            type: Bearer",
            f"            credentials: {bearer_token!r}",
        ]
    path.write_text("\n".join(lines) + "\n")


@contextlib.contextmanager
def alertmanager_server(
    tmp_path: Path,
    webhook_url: str,
    *,
    bearer_token: str | None = None,
    group_by: list[str] | None = None,
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "1m",
    resolve_timeout: str = "10s",
    startup_timeout: float = 30.0,
) -> Iterator[AlertmanagerHandle]:
    """A real Alertmanager on a free loopback port (no clustering) sending every group to one webhook.

    The webhook receiver sends resolved notifications too; ``bearer_token`` becomes the webhook's
    ``Authorization: Bearer`` header. Storage lives under ``tmp_path``.
    """
    binary = alertmanager_binary()
    root = tmp_path / "alertmanager"
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    config = root / "alertmanager.yml"
    timings = {"group_wait": group_wait, "group_interval": group_interval, "repeat_interval": repeat_interval,
               "resolve_timeout": resolve_timeout}  # fmt: skip
    _write_alertmanager_config(config, webhook_url, bearer_token, group_by or ["alertname", "service"], timings)
    port = free_port()
    log_path = root / "alertmanager.log"
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.path={data_dir}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=debug",
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    handle = AlertmanagerHandle(f"http://127.0.0.1:{port}", port, proc, config, log_path)
    ok = False
    try:
        _wait_http_ready("Alertmanager", handle.process, f"{handle.url}/-/ready", startup_timeout)
        yield handle
        ok = True
    finally:
        stop_process(proc, timeout=10.0)
        if not ok:
            _dump_log("alertmanager", log_path)


def _wait_http_ready(name: str, proc: subprocess.Popen[bytes], url: str, timeout: float) -> None:
    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode} during startup")
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(f"{name} to be ready", ready, timeout)


# ---- a scripted HTTP server (stands in for an API in unit tests; loopback only) -------------


@dataclass
class Reply:
    """One scripted answer: status, body (a dict is sent as JSON), headers, and a delay before it."""

    status: int = 200
    body: object = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Seen:
    """One request the scripted server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedServer:
    url: str
    replies: list[Reply]
    seen: list[Seen] = field(default_factory=list)
    default: Reply = field(default_factory=lambda: Reply(404, {"error": "no scripted reply left"}))

    def json_bodies(self) -> list[object]:
        return [json.loads(s.body) for s in self.seen]


def _handler(script: ScriptedServer, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with lock:
                script.seen.append(
                    Seen(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
                )
                reply = script.replies.pop(0) if script.replies else script.default
            if reply.delay_s:
                time.sleep(reply.delay_s)
            payload = reply.body
            if isinstance(payload, dict | list):
                payload = json.dumps(payload).encode()
            elif isinstance(payload, str):
                payload = payload.encode()
            assert isinstance(payload, bytes)
            try:
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def scripted_http_server(replies: list[Reply] | None = None) -> Iterator[ScriptedServer]:
    """An HTTP server on a free 127.0.0.1 port answering each request with the next scripted Reply."""
    script = ScriptedServer("", list(replies or []))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script, threading.Lock()))
    server.daemon_threads = True
    script.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="scripted-http", daemon=True)
    thread.start()
    try:
        yield script
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
