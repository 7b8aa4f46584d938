"""``hx validate``: check a deployment end to end (also ``scripts/validation/sprint4-validation.py``)."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from hx.cli.session import JSON, Ctx, ctx_of, number
from hx.components import COMPONENTS, get_component
from hx.errors import BadInput
from hx.validation import (
    Check,
    check_actuator,
    check_audit,
    check_components,
    check_database,
    check_notifiers,
    check_source,
    http_fetch,
)

#: the longest ``--timeout`` of one HTTP request, seconds
MAX_TIMEOUT_S = 3600.0


def register(app: typer.Typer) -> None:
    @app.command()
    def validate(
        ctx: typer.Context,
        component: list[str] = typer.Option([], "--component", help="check only these components (repeatable)"),
        ca_file: Path | None = typer.Option(None, "--ca-file", help="CA bundle (default: server.tls_cert)"),
        timeout_s: float = typer.Option(
            10.0, "--timeout", help=f"seconds per HTTP request (at most {MAX_TIMEOUT_S:g})"
        ),
        wait_s: float = typer.Option(
            0.0,
            "--wait",
            parser=number(0.0, 86400.0),
            help="retry for this long (seconds, at most a day) until every check passes",
        ),
        url: str | None = typer.Option(
            None,
            "--url",
            help="the hx server to check, serving every component (default $HX_URL; without either: "
            "server.component_urls, server.external_url, else this host's component ports)",
        ),
        as_json: bool = JSON,
    ) -> None:
        """Every component's /health (over TLS), the database revision, engines stepping, a real signal source and
        actuator, the enabled notifiers, the audit chain; exit 1 if any check fails."""
        c = ctx_of(ctx, as_json)
        _server(c, url)
        if not 0 < timeout_s <= MAX_TIMEOUT_S:  # nan too: httpx refused it with a traceback, as -1 and inf
            raise BadInput(f"--timeout must be in (0, {MAX_TIMEOUT_S:g}] seconds, got {timeout_s:g}", field="--timeout")
        ca_bundle(ca_file, c.loaded.settings.server.tls_cert)
        deadline = time.monotonic() + wait_s
        checks = run_checks(c, component, ca_file, timeout_s)
        while not all(x.ok for x in checks) and time.monotonic() < deadline:
            time.sleep(5.0)
            checks = run_checks(c, component, ca_file, timeout_s)
        if c.as_json:
            c.emit({"ok": all(x.ok for x in checks), "checks": [x.as_dict() for x in checks]})
        else:
            c.console.print(_table(checks))
        if not all(x.ok for x in checks):
            raise typer.Exit(1)


def _server(c: Ctx, url: str | None) -> None:
    """``--url`` or ``$HX_URL`` (as the other commands that talk to a server read it; validate ignored it): the one
    server every component is checked at, before the settings are read."""
    import os
    import re

    from hx.config import URL_PATTERN

    where = "--url" if url is not None else "$HX_URL"
    url = url if url is not None else os.environ.get("HX_URL")
    if not url:
        return
    if not re.match(URL_PATTERN, url):
        raise BadInput(f"{where} {url!r}: expected http://host:port or https://host:port", field=where)
    c.override({"server.external_url": url.rstrip("/"), "server.component_urls": {}})


def ca_bundle(ca_file: Path | None, tls_cert: str | None) -> None:
    """Load the CA bundle the checks verify with (``--ca-file``, else ``server.tls_cert``) once, so that a missing
    file or one that holds no certificate is named with the option that gave it, not met by httpx as a traceback."""
    import ssl

    if ca_file is None and not tls_cert:
        return
    path, option = (ca_file, "--ca-file") if ca_file is not None else (Path(str(tls_cert)), "server.tls_cert")
    if not path.is_file():
        what = "a folder, not a CA bundle" if path.is_dir() else "no such file"
        raise BadInput(f"{option} {path}: {what}", field=option, file=str(path))
    try:
        ssl.create_default_context(cafile=str(path))
    except ssl.SSLError as err:
        raise BadInput(f"{option} {path}: not a PEM certificate bundle ({err.reason})", field=option,
                       file=str(path)) from err  # fmt: skip


def run_checks(c: Ctx, names: list[str], ca_file: Path | None, timeout_s: float) -> list[Check]:
    settings = c.loaded.settings
    comps = [get_component(n) for n in names] if names else list(COMPONENTS)
    tls_cert = settings.server.tls_cert
    fetch = http_fetch(ca_file or (Path(tls_cert) if tls_cert else None), timeout_s)
    checks, bodies = check_components(settings, comps, fetch)
    platform = c.platform(upgrade=False)
    db = check_database(platform)
    audit = check_audit(platform) if db.ok else Check("audit chain", False, "not checked: the database is not migrated")
    checks += [db, check_source(settings, bodies), check_actuator(settings, fetch)]
    checks += [*check_notifiers(settings, bodies), audit]
    return checks


def _table(checks: list[Check]) -> Table:
    table = Table(title="hx validation")
    for col in ("check", "result", "detail"):
        table.add_column(col)
    for x in checks:
        table.add_row(x.name, "[green]ok[/green]" if x.ok else "[red]FAIL[/red]", x.detail)
    return table
