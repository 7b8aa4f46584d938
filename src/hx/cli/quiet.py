"""``hx silence|maintenance|freeze add|list|remove``: quiet rules, through a running server's API (audited there)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer
from rich.table import Table

from hx.cli.client import ApiClient
from hx.cli.session import JSON, Ctx, ctx_of
from hx.cli.timeline import SPAN, TOKEN, URL, parse_since
from hx.errors import BadInput

#: command group -> (URL segment, what one rule does)
GROUPS = {
    "silence": ("silences", "hold notifications"),
    "maintenance": ("maintenance", "hold remediation (runbooks are not run; the incident says why)"),
    "freeze": ("freezes", "refuse new rollouts"),
}


def _span_s(text: str) -> float:
    """``--for 2h``: the length in seconds (parsed like --since), more than 0 and within the times hx takes."""
    ref = datetime(2900, 1, 1, tzinfo=UTC)  # late in the era: a long span is measured back from it
    if not SPAN.match(text.strip()):
        raise BadInput(f"--for {text!r}: expected a span such as 30m, 2h, 1d", field="--for")
    try:
        span = (ref - parse_since(text, ref, "--for")).total_seconds()
    except BadInput:  # it said "reaches before 1970-01-01" of a span too long
        raise BadInput(f"--for {text!r} is longer than the times hx takes (to the year 3000)", field="--for") from None
    if span <= 0:
        raise BadInput(f"--for {text!r}: a rule must last longer than 0", field="--for")
    return span


def _when(iso: str | None) -> str:
    """An ISO time as the table shows it: to the minute, in UTC (the full text cut the time off at 120 columns)."""
    if not iso:
        return ""
    t = datetime.fromisoformat(iso).astimezone(UTC)
    return t.strftime("%Y-%m-%d %H:%MZ")


def _table(c: Ctx, rules: list[dict[str, Any]], kind: str, segment: str) -> None:
    title = f"{len(rules)} {kind if len(rules) == 1 else segment}"
    table = Table("id", "service", "environment", "alert", "from", "until", "by", "reason", "removed", title=title)
    for r in rules:
        table.add_row(str(r["id"]), r["service"] or "*", r["environment"] or "*", r["alert"] or "*",
                      _when(r["starts_at"]), _when(r["ends_at"]), r["created_by"], r["reason"],
                      _when(r["removed_at"]))  # fmt: skip
    c.console.print(table)


def _group(kind: str, segment: str, does: str) -> typer.Typer:
    group = typer.Typer(help=f"A {kind}: scoped by service, environment and alert name, it will {does}.",
                        no_args_is_help=True)  # fmt: skip

    @group.command("add")
    def add(
        ctx: typer.Context,
        reason: str = typer.Option(..., "--reason", help="why (required, audited)"),
        for_: str | None = typer.Option(None, "--for", help="how long from the start: 30m, 2h, 1d"),
        until: str | None = typer.Option(None, "--until", help="the end, ISO-8601 with zone"),
        start: str | None = typer.Option(None, "--start", help="the start, ISO-8601 with zone (default now)"),
        service: str = typer.Option("", "--service", help="default: every service"),
        environment: str = typer.Option("", "--environment", "-e", help="default: every environment"),
        alert: str = typer.Option("", "--alert", help="alert name; default: every alert"),
        url: str | None = URL,
        token: str | None = TOKEN,
        as_json: bool = JSON,
    ) -> None:
        """Add a rule in force from --start (default now) for --for or until --until; it matches alerts of the
        --service, --environment and --alert given (each default: every one).

        Example: hx silence add --reason "disk swap" --for 2h --service db -e prod
        """
        c = ctx_of(ctx, as_json)
        if (for_ is None) == (until is None):
            raise BadInput("give exactly one of --for and --until", field="--for")
        now = datetime.now(UTC)  # only to read ISO times; the server's clock sets the default start
        body: dict[str, Any] = {"service": service, "environment": environment, "alert": alert, "reason": reason}
        if start:
            body["starts_at"] = parse_since(start, now, "--start").isoformat()
        if for_ is not None:
            body["duration_s"] = _span_s(for_)
        else:
            ends = parse_since(str(until), now, "--until")
            begins = parse_since(start, now, "--start") if start else now
            if ends <= begins:  # the server said "ends_at ... is not after starts_at", names the CLI never shows
                raise BadInput(f"--until {until} is not after the start ({begins.isoformat()})", field="--until")
            body["ends_at"] = ends.isoformat()
        rule = ApiClient.from_env(url, token, c.loaded.settings.data_dir).request("POST", f"/api/v1/{segment}",
                                                                               json=body)  # fmt: skip
        c.emit(rule, f"{kind} {rule['id']} added until {rule['ends_at']}")

    @group.command("list")
    def list_(
        ctx: typer.Context,
        active: bool = typer.Option(False, "--active", help="only those in force now"),
        url: str | None = URL,
        token: str | None = TOKEN,
        as_json: bool = JSON,
    ) -> None:
        """List the rules, removed ones too (--active: only those in force now)."""
        c = ctx_of(ctx, as_json)
        client = ApiClient.from_env(url, token, c.loaded.settings.data_dir)
        rules = client.request("GET", f"/api/v1/{segment}", params={"active": active})[segment]
        if c.as_json:
            c.emit(rules)
        else:
            _table(c, rules, kind, segment)

    @group.command("remove")
    def remove(
        ctx: typer.Context,
        rule_id: int = typer.Argument(..., help=f"the rule's id (hx {kind} list)"),
        url: str | None = URL,
        token: str | None = TOKEN,
        as_json: bool = JSON,
    ) -> None:
        """End a rule now (it stays listed, with who removed it and when; removing it again changes nothing)."""
        c = ctx_of(ctx, as_json)
        client = ApiClient.from_env(url, token, c.loaded.settings.data_dir)
        rule = client.request("DELETE", f"/api/v1/{segment}/{rule_id}")
        c.emit(rule, f"{kind} {rule['id']} removed at {_when(rule['removed_at'])} by {rule['removed_by']}")

    return group


def register(app: typer.Typer) -> None:
    for kind, (segment, does) in GROUPS.items():
        app.add_typer(_group(kind, segment, does), name=kind)
