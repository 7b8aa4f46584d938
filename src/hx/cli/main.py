"""The ``hx`` command line.  Exit codes: 0 ok, 1 failure, 2 bad usage or input, 70 an internal error (a bug in
hx: the traceback is on stderr).  ``hx canary judge`` adds 3: inconclusive."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import typer

from hx.cli import core
from hx.cli.session import ANSWERED, Ctx, error_object, parse_overrides, reflow_help
from hx.errors import HxError

app = typer.Typer(
    name="hx",
    help="hx: an AIOps control plane -- deploy safely, detect anomalies, scale ahead, heal, place across clouds.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        from hx import __version__

        typer.echo(f"hx {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    config: Path | None = typer.Option(None, "--config", "-c", help="configuration file (ai-ml-config.yml)"),
    env: str | None = typer.Option(None, "--env", help="use the shipped configuration of dev, staging or prod"),
    set_: list[str] = typer.Option([], "--set", help="override a setting: key.path=value (repeatable)"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output on stdout"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="log at debug level"),
    version: bool = typer.Option(
        False, "--version", help="print hx's version and exit", is_eager=True, callback=_print_version
    ),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    ctx.obj = Ctx(config_file=config, env_name=env, overrides=parse_overrides(set_), as_json=as_json)


app.add_typer(core.config_app, name="config")
app.add_typer(core.db_app, name="db")
app.add_typer(core.token_app, name="token")
app.add_typer(core.audit_app, name="audit")
app.add_typer(core.events_app, name="events")
app.add_typer(core.secret_app, name="secret")
app.add_typer(core.model_app, name="model")

from hx.cli import cloud as _cloud  # noqa: E402
from hx.cli import cost as _cost  # noqa: E402
from hx.cli import demo as _demo  # noqa: E402  (command modules register on `app`)
from hx.cli import deploy as _deploy  # noqa: E402
from hx.cli import detect as _detect  # noqa: E402
from hx.cli import improve as _improve  # noqa: E402
from hx.cli import lab as _lab  # noqa: E402
from hx.cli import quiet as _quiet  # noqa: E402
from hx.cli import rca as _rca  # noqa: E402
from hx.cli import scale as _scale  # noqa: E402
from hx.cli import serve as _serve  # noqa: E402
from hx.cli import sim as _sim  # noqa: E402
from hx.cli import telemetry as _telemetry  # noqa: E402
from hx.cli import timeline as _timeline  # noqa: E402
from hx.cli import validate as _validate  # noqa: E402

app.add_typer(_deploy.deploy_app, name="deploy")
app.add_typer(_cost.cost_app, name="cost")
app.add_typer(_improve.improve_app, name="improve")
app.add_typer(_detect.detect_app, name="detect")
app.add_typer(_sim.sim_app, name="sim")
app.add_typer(_deploy.canary_app, name="canary")
_serve.register(app)
_validate.register(app)
_cloud.register(app)
_scale.register(app)
_demo.register(app)
_telemetry.register(app)
_timeline.register(app)
_quiet.register(app)
_lab.register(app)
_rca.register(app)
reflow_help(app)  # after every command is registered


def main(argv: list[str] | None = None) -> int:
    """Entry point: usage errors exit 2 (click's own), hx errors map to their exit codes here.

    With ``--json`` a refusal is also printed on stdout as ``{"error": {...}}`` (a script reads stdout), whether
    hx refused the input or the option parser did (a missing file, an unknown option, a value out of range)."""
    args = sys.argv[1:] if argv is None else argv
    ANSWERED.done = False
    try:
        rv = app(args=argv, prog_name="hx", standalone_mode=False)
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        return 1
    except typer.TyperException as err:  # the option parser's refusals (typer's own click)
        code = int(getattr(err, "exit_code", 2))
        if type(err).__name__ == "NoArgsIsHelpError":  # ``hx`` or a group alone: typer has printed its help
            return code
        _show_usage_error(err)
        if "--json" in args:
            typer.echo(json.dumps({"error": usage_error_object(err)}))
        return code
    except HxError as err:
        typer.echo(f"hx: error: {err}", err=True)
        # with --json a script reads stdout, so the failure goes there too, as JSON (bad input, a server down, a
        # lab not running); a command that fails after answering, as audit verify does, has printed its JSON
        if "--json" in args and not ANSWERED.done:
            typer.echo(json.dumps({"error": error_object(err)}))
        return err.exit_code
    except Exception as err:  # a bug: never exit 1, which a command may use for its verdict ("fail")
        import traceback

        traceback.print_exc()
        typer.echo(f"hx: internal error: {type(err).__name__}: {err} (a bug in hx; the traceback is above)", err=True)
        if "--json" in args and not ANSWERED.done:
            detail = f"{type(err).__name__}: {err}"
            typer.echo(json.dumps({"error": {"title": "internal error", "detail": detail, "exit_code": INTERNAL}}))
        return INTERNAL
    return rv if isinstance(rv, int) else 0


#: the exit code of an internal error (EX_SOFTWARE of sysexits.h)
INTERNAL = 70


def _show_usage_error(err: typer.TyperException) -> None:
    """As typer shows it in standalone mode: the usage line and the message, on stderr."""
    from typer import rich_utils

    rich_utils.rich_format_error(err)  # type: ignore[arg-type]


def usage_error_object(err: typer.TyperException) -> dict[str, object]:
    """An option parser's refusal as ``--json`` prints it: the title, the message, the option, the exit code.

    >>> usage_error_object(typer.BadParameter("must be >= 1", param_hint="'--history-block-points'"))["field"]
    '--history-block-points'
    """
    detail = err.format_message() if hasattr(err, "format_message") else str(err)
    code = int(getattr(err, "exit_code", 2))
    out: dict[str, object] = {"title": "bad usage" if code == 2 else "error", "detail": detail, "exit_code": code}
    param = getattr(err, "param", None)
    hint = getattr(err, "param_hint", None)
    option = getattr(err, "option_name", None)  # an unknown option, or one given without its value
    if param is not None and getattr(param, "opts", None):
        out["field"] = max(param.opts, key=len)
    elif isinstance(hint, str):
        out["field"] = hint.strip("'\"")
    elif isinstance(option, str) and option:
        out["field"] = option
    return out


if __name__ == "__main__":
    sys.exit(main())
