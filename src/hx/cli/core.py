"""Platform command groups: config, db, token, audit, events, secret, model."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from hx.cli.session import JSON, ctx_of
from hx.config import flatten, validate_file
from hx.errors import BadInput, IntegrityError
from hx.events import check_type_filter
from hx.ml.registry import FORCED_ACTION, promote_checked
from hx.security.roles import Role

config_app = typer.Typer(help="Show and validate configuration.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens and their second factor.", no_args_is_help=True)
mfa_app = typer.Typer(help="TOTP second factor for a token.", no_args_is_help=True)
token_app.add_typer(mfa_app, name="mfa")
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
events_app = typer.Typer(help="The event stream.", no_args_is_help=True)
secret_app = typer.Typer(help="Secrets encrypted at rest.", no_args_is_help=True)
model_app = typer.Typer(help="The model registry.", no_args_is_help=True)


@config_app.command("show")
def config_show(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Print the effective configuration with the source of each value (secrets masked)."""
    c = ctx_of(ctx, as_json)
    loaded = c.loaded
    flat = flatten(loaded.settings)
    rows = {k: {"value": v, "source": loaded.source_of(k)} for k, v in flat.items()}
    if c.as_json:
        c.emit(rows)
        return
    table = Table("key", "value", "source", title=f"hx configuration ({loaded.file or 'built-in defaults'})")
    for col in table.columns:  # keys are copied into --set: fold them, never cut them
        col.overflow = "fold"
    for k, row in rows.items():
        table.add_row(k, json.dumps(row["value"], default=str), row["source"])
    c.console.print(table)


@config_app.command("validate")
def config_validate(
    ctx: typer.Context, file: Path = typer.Argument(..., help="an ai-ml-config.yml file"), as_json: bool = JSON
) -> None:
    """Check a configuration file; exit 2 naming the file, key path and what was expected."""
    from hx.components import register_learners
    from hx.improve import gates, kpis
    from hx.ml.learners import LEARNERS

    register_learners()
    settings = validate_file(file)
    # what the server would refuse on start: a quality gate on a KPI nobody computes
    gates.check_metrics(settings.continuous_improvement.quality_gates, kpis.KPIS, LEARNERS.names(), file=str(file))
    ctx_of(ctx, as_json).emit({"file": str(file), "valid": True}, f"[green]{file}: valid[/green]")


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context, revision: str = typer.Option("head", help="target revision"), as_json: bool = JSON
) -> None:
    """Apply migrations (the server also applies them on start)."""
    c = ctx_of(ctx, as_json)
    p = c.platform(upgrade=False)
    p.store.upgrade(revision)
    rev = p.store.current_revision()
    c.emit({"revision": rev, "url": p.store.safe_url}, f"database at {rev}")


@db_app.command("current")
def db_current(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Show the applied migration revision."""
    c = ctx_of(ctx, as_json)
    p = c.platform(upgrade=False)
    revision, url = p.store.current_revision(), p.store.safe_url
    c.emit({"revision": revision, "url": url}, f"revision {revision or '(none: run hx db upgrade)'} at {url}")


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    role: Role = typer.Option(..., "--role", help="viewer, operator, approver or admin"),
    name: str = typer.Option(..., "--name", help="who or what will use the token"),
    as_json: bool = JSON,
) -> None:
    """Create a token and print it once (it is stored hashed)."""
    c = ctx_of(ctx, as_json)
    p = c.platform()
    token, info = p.tokens.create(name, role, created_by="cli")
    p.audit.append("cli", "token.create", f"token:{info.id}", "ok", {"role": role.value, "name": name})
    c.emit({"id": info.id, "name": name, "role": role.value, "token": token}, f"{token}\n(id {info.id}; shown once)")


@token_app.command("list")
def token_list(ctx: typer.Context, as_json: bool = JSON) -> None:
    """List tokens (never the tokens themselves)."""
    c = ctx_of(ctx, as_json)
    infos = c.platform().tokens.list()
    data = [
        {"id": t.id, "name": t.name, "role": t.role.value, "prefix": t.prefix, "revoked": t.revoked, "mfa": t.mfa}
        for t in infos
    ]
    if c.as_json:
        c.emit(data)
        return
    table = Table("id", "name", "role", "prefix", "revoked", "mfa")
    for d in data:
        table.add_row(*(str(d[k]) for k in ("id", "name", "role", "prefix", "revoked", "mfa")))
    c.console.print(table)


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, token_id: int = typer.Argument(...), as_json: bool = JSON) -> None:
    """Revoke a token."""
    c = ctx_of(ctx, as_json)
    p = c.platform()
    p.tokens.revoke(token_id)
    p.audit.append("cli", "token.revoke", f"token:{token_id}", "ok")
    c.emit({"revoked": token_id}, f"revoked token {token_id}")


@mfa_app.command("enroll")
def mfa_enroll(
    ctx: typer.Context,
    token_id: int = typer.Argument(..., help="the token's id"),
    replace: bool = typer.Option(False, "--replace", help="replace the token's second factor (the old app stops)"),
    as_json: bool = JSON,
) -> None:
    """Give a token a TOTP secret; load the printed URI into an authenticator app."""
    c = ctx_of(ctx, as_json)
    p = c.platform()
    secret, uri = p.tokens.enroll_mfa(token_id, replace=replace)
    p.audit.append("cli", "token.mfa_enroll", f"token:{token_id}", "ok", {"replaced": replace})
    c.emit({"token_id": token_id, "secret": secret, "otpauth_uri": uri}, f"secret: {secret}\nuri: {uri}")


@audit_app.command("verify")
def audit_verify(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Check every record's MAC and link, and the database against the exported head; exit 1 naming the first
    broken record and what happened (rewritten, truncated, ...)."""
    c = ctx_of(ctx, as_json)
    p = c.platform()
    res = p.audit.verify()
    data = res.to_json()
    if not res.ok:
        message = f"audit chain {res.kind}: broken at record {res.first_broken}: {res.reason}"
        c.emit(data, f"[red]{message}[/red]")
        raise IntegrityError(message, kind=res.kind, first_broken=res.first_broken)
    anchored = (
        f"; head at record {res.head_id} matches"
        if res.anchored
        else f"; no exported head at {p.audit.anchor.path} yet"
    )
    c.emit(data, f"[green]audit chain intact ({res.records} records{anchored})[/green]")


@audit_app.command("list")
def audit_list(ctx: typer.Context, limit: int = typer.Option(20, min=1, max=1000), as_json: bool = JSON) -> None:
    """Show the latest audit records."""
    c = ctx_of(ctx, as_json)
    recs = c.platform().audit.records(limit=100000)[-limit:]
    if c.as_json:
        c.emit([r.to_json() for r in recs])
        return
    table = Table("id", "ts", "actor", "action", "target", "outcome")
    for r in recs:
        table.add_row(str(r.id), r.ts.isoformat(timespec="seconds"), r.actor, r.action, r.target, r.outcome)
    c.console.print(table)


@events_app.command("tail")
def events_tail(
    ctx: typer.Context,
    type: list[str] = typer.Option([], "--type", help="event type or family (deployment.*)"),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep reading new events"),
    limit: int = typer.Option(20, min=1, max=1000),
    as_json: bool = JSON,
) -> None:
    """Print recent events (and follow new ones with -f).

    With --json: a JSON list of the events; with -f as well, one JSON object per line as they arrive."""
    c = ctx_of(ctx, as_json)
    types = check_type_filter(type) if type else None
    bus = c.platform().bus
    cursor = max(0, bus.last_id() - limit)
    if c.as_json and not follow:
        c.emit([e.to_json() for e in bus.rows(after=cursor, types=types, limit=limit)])
        return
    while True:
        for e in bus.rows(after=cursor, types=types, limit=limit):
            cursor = e.id
            if c.as_json:
                sys.stdout.write(json.dumps(e.to_json(), default=str) + "\n")
                sys.stdout.flush()
            else:
                when = e.ts.isoformat(timespec="seconds")
                data = json.dumps(dict(e.data), default=str)
                c.console.print(f"{when} [bold]{e.type}[/bold] {e.subject} ", escape(data), sep="", soft_wrap=True)
        if not follow:
            return
        time.sleep(1.0)


@secret_app.command("set")
def secret_set(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    value: str | None = typer.Option(
        None, help="the value (default: asked for without echo, or read from stdin when stdin is not a terminal)"
    ),
    as_json: bool = JSON,
) -> None:
    """Store a secret, encrypted (notifier URLs and keys, cloud credentials)."""
    c = ctx_of(ctx, as_json)
    if value is None:
        value = typer.prompt("Value", hide_input=True) if sys.stdin.isatty() else sys.stdin.read().rstrip("\r\n")
    if not value:
        raise BadInput(
            f"no value for secret {name!r}: give --value, type it at the prompt or pipe it on stdin", field="value"
        )
    p = c.platform()
    p.secrets.put(name, value)
    p.audit.append("cli", "secret.set", f"secret:{name}", "ok")
    c.emit({"name": name, "stored": True}, f"stored secret {name}")


@secret_app.command("list")
def secret_list(ctx: typer.Context, as_json: bool = JSON) -> None:
    """List secret names (never values)."""
    c = ctx_of(ctx, as_json)
    names = c.platform().secrets.names()
    c.emit({"names": names}, "\n".join(names) if names else "no secrets stored (hx secret set NAME)")


@model_app.command("list")
def model_list(ctx: typer.Context, name: str | None = typer.Argument(None), as_json: bool = JSON) -> None:
    """List model versions with their stage, metrics and training data."""
    c = ctx_of(ctx, as_json)
    versions = c.platform().models.versions(name)
    if c.as_json:
        c.emit([v.to_json() for v in versions])
        return
    table = Table("name", "version", "stage", "training_data", "metrics")
    for v in versions:
        table.add_row(v.name, str(v.version), v.stage, v.training_data, json.dumps(dict(v.metrics), default=str)[:80])
    c.console.print(table)


@model_app.command("promote")
def model_promote(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    version: int = typer.Argument(...),
    force: bool = typer.Option(False, "--force", help="promote a version that skipped the shadow stage (audited)"),
    as_json: bool = JSON,
) -> None:
    """Promote a model version (the previous promoted one is retired; engines everywhere pick it up).

    Only a version in shadow is promoted unless --force (audited as a forced promotion)."""
    c = ctx_of(ctx, as_json)
    p = c.platform()
    action = promote_checked(p.models, name, version, actor="cli", force=force)
    p.audit.append("cli", action, f"model:{name}:{version}", "ok")
    c.emit({"name": name, "version": version, "stage": "promoted", "forced": action == FORCED_ACTION})
