"""Demo scene: a memory leak detected, classified, fixed by a restart runbook, verified and resolved -- with the
Slack message and email it sent -- and an unknown incident escalated to PagerDuty.

Slack and PagerDuty are stood in for by a tiny local HTTP server, email by a local aiosmtpd server,
both started by the scene; what arrived is printed.  Alerts come from hx's threshold rules on the
sim's signals (the anomaly-detection engine is not wired into the demo yet).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rich.table import Table

from hx.demo.context import DemoContext
from hx.heal.component import heal_engine
from hx.heal.engine import HealEngine
from hx.heal.notifications import Escalator, build_notifiers
from hx.lab.alert_rules import RuleAlerter
from hx.sim import Fault


@contextmanager
def _http_receiver() -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    got: list[tuple[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.append((self.path, json.loads(body or b"{}")))
            self.send_response(202 if self.path == "/pd" else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", got
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def _smtp_receiver() -> Iterator[tuple[int, list[bytes]]]:
    import socket

    from aiosmtpd.controller import Controller

    mails: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            mails.append(envelope.original_content or envelope.content)
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    ctrl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctrl.start()
    try:
        yield port, mails
    finally:
        ctrl.stop()


def _wire(ctx: DemoContext, base: str, smtp_port: int) -> HealEngine:
    n = ctx.settings.notifiers
    n.slack.enabled = n.email.enabled = n.pagerduty.enabled = True
    n.email.smtp_port, n.email.to, n.pagerduty.url, n.max_attempts = smtp_port, ["oncall@example.com"], f"{base}/pd", 2
    ctx.platform.secrets.put("slack_webhook_url", f"{base}/slack")
    ctx.platform.secrets.put("pagerduty_routing_key", "demo-routing-key-0000000000000000")
    engine = heal_engine(ctx.platform)
    engine.escalator = Escalator(ctx.platform, build_notifiers(ctx.platform)[0], base_url="http://127.0.0.1:8085")
    if not any(e is engine for e in ctx.runtime.engines):
        ctx.runtime.add(engine)
    return engine


def _run(ctx: DemoContext, engine: HealEngine, alerter: RuleAlerter, seconds: float) -> None:
    end = ctx.clock.now() + timedelta(seconds=seconds)
    while ctx.clock.now() < end:
        ctx.run_for(60)
        engine.intake.accept(alerter.evaluate(ctx.sim.names, ctx.clock.now()))


def _show(ctx: DemoContext, engine: HealEngine, incident_id: int) -> None:
    inc = engine.incidents.get(incident_id)
    table = Table("time", "what", "detail", title=f"incident {inc.id}: {inc.title} [{inc.status}]")
    for e in engine.incidents.timeline(inc.id):
        d = e["detail"]
        text = d.get("reason") or d.get("detail") or d.get("alert") or d.get("class") or d.get("notifier") or ""
        if e["kind"] == "notification":
            text = f"{d['notifier']} {d['event']} ok={d['ok']}"
        table.add_row(e["ts"][11:19], e["kind"], str(text)[:90])
    ctx.console.print(table)


def scene_heal(ctx: DemoContext) -> dict[str, Any]:
    with _http_receiver() as (base, got), _smtp_receiver() as (smtp_port, mails):
        engine = _wire(ctx, base, smtp_port)
        alerter = RuleAlerter(ctx.platform.source, step_s=float(ctx.settings.sim.step_s),  # type: ignore[arg-type]
                              environment=ctx.settings.environment)  # fmt: skip
        target = ctx.sim.names[2]
        ctx.sim.inject(Fault("memory_leak", service=target, magnitude=0.02))
        ctx.console.print(f"injected a memory leak into [bold]{target}[/bold] (2 % of memory per minute)")
        injected_at = ctx.clock.now()
        _run(ctx, engine, alerter, 3600)
        # the newest incident on the target since the fault (earlier scenes' incidents may be on it too)
        leak = [i for i in engine.incidents.list(limit=50) if i.service == target and i.opened_at >= injected_at]
        if leak:
            _show(ctx, engine, leak[0].id)
        body = {"alerts": [{"name": "MysteryBehaviour", "service": ctx.sim.names[0], "severity": "error",
                            "starts_at": ctx.clock.now().isoformat()}]}  # fmt: skip
        engine.intake.hx_alerts(json.dumps(body).encode(), ctx.clock.now())
        _run(ctx, engine, alerter, 120)
        unknown = engine.incidents.list(limit=1)[0]
        for _ in range(30):  # triage waits for the picture, then the policy pages on-call after its delay
            if any(p == "/pd" for p, _ in got):
                break
            _run(ctx, engine, alerter, 60)
        _show(ctx, engine, unknown.id)
        for path, payload in got:
            text = payload.get("text") or payload.get("payload", {}).get("summary") or payload.get("event_action")
            ctx.console.print(f"[cyan]{'Slack' if path == '/slack' else 'PagerDuty'}[/cyan] received: {text}")
        for raw in mails:
            subject = next((ln for ln in raw.decode(errors="replace").splitlines() if ln.startswith("Subject:")), "")
            ctx.console.print(f"[cyan]email[/cyan] received: {subject}")
        return {
            "leak_incident": leak[0].to_json() if leak else None,
            "unknown_incident": unknown.to_json(),
            "slack_messages": sum(1 for p, _ in got if p == "/slack"),
            "pagerduty_events": sum(1 for p, _ in got if p == "/pd"),
            "emails": len(mails),
        }
