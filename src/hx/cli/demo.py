"""``hx demo``: run the whole platform on the embedded default and print what happened; ``--serve`` then keeps
the demo's platform (its store, its simulated fleet and clock, stopped at the end of the last scene) behind the API
and the dashboards, so what the scenes did can be looked at and acted on."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hx.cli.session import JSON, ctx_of

if TYPE_CHECKING:
    from hx.demo.context import DemoContext


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        ctx: typer.Context,
        data_dir: Path | None = typer.Option(None, "--data-dir", help="where the demo's store goes (default: temp)"),
        scene: list[str] = typer.Option([], "--scene", help="run only these scenes (repeatable; names above)"),
        serve: bool = typer.Option(False, "--serve", help="then serve the API and dashboards on the demo's platform"),
        host: str = typer.Option("127.0.0.1", "--host", help="address to bind with --serve"),
        port: int = typer.Option(8080, "--port", min=1, max=65535, help="port with --serve"),
        as_json: bool = JSON,
    ) -> None:
        """Run every scene: platform, fleet, anomaly, deployment, healing, scaling, multi-cloud, improvement."""
        from hx.demo.runner import run_scenes, start_demo

        c = ctx_of(ctx, as_json)
        sock = _listen(host, port) if serve else None  # the port is the demo's from the start
        demo_ctx = start_demo(data_dir, console=c.err if c.as_json else c.console, only=scene or None)
        results = run_scenes(demo_ctx, only=scene or None)
        if c.as_json:
            c.emit(results)
        if sock is not None:
            _serve(demo_ctx, sock, host, port)


def _listen(host: str, port: int) -> socket.socket:
    """Bind before the scenes: a taken port is refused at once (with hx's message), and no other process can
    take the port while the scenes run (clients wait in the backlog until the API serves)."""
    from hx.cli.session import binding

    with binding(host, port):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family)


def _serve(demo_ctx: DemoContext, sock: socket.socket, host: str, port: int) -> None:
    """Every component's API and the dashboards on the demo's platform (no engine runs: time stands still)."""
    import uvicorn

    from hx.api.app import create_app
    from hx.components import COMPONENTS

    app = create_app(demo_ctx.platform, COMPONENTS, demo_ctx.runtime, run_engines=False)
    demo_ctx.console.print(
        f"serving the demo's platform on http://{host}:{port}/dashboard/operations "
        f"(sign in with the admin token in {demo_ctx.settings.data_dir}/admin.token); Ctrl-C stops"
    )
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
