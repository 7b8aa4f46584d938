"""``hx demo``: run the whole platform on the embedded default and print what happened."""

from __future__ import annotations

from pathlib import Path

import typer

from hx.cli.session import JSON, ctx_of


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        ctx: typer.Context,
        data_dir: Path | None = typer.Option(None, "--data-dir", help="where the demo's store goes (default: temp)"),
        scene: list[str] = typer.Option([], "--scene", help="run only these scenes (repeatable; names above)"),
        as_json: bool = JSON,
    ) -> None:
        """Run every scene: platform, fleet, anomaly, deployment, healing, scaling, multi-cloud, improvement."""
        from hx.demo import run_demo

        c = ctx_of(ctx, as_json)
        results = run_demo(data_dir, console=c.err if c.as_json else c.console, only=scene or None)
        if c.as_json:
            c.emit(results)
