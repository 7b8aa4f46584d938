"""``hx serve``: all components in one process on 8080, or one component on its own port."""

from __future__ import annotations

import gc
import json
import logging
import socket
from pathlib import Path

import typer

from hx.cli.session import binding, ctx_of
from hx.components import ALL_IN_ONE_PORT, COMPONENTS, get_component
from hx.config import check_world
from hx.errors import BadInput


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        ctx: typer.Context,
        component: str | None = typer.Option(None, "--component", help="run one component on its own port"),
        host: str | None = typer.Option(None, "--host", help="address to bind (default from server.host)"),
        port: int | None = typer.Option(
            None, "--port", min=1, max=65535, help="port (default: the component's port, or 8080)"
        ),
        tls_cert: Path | None = typer.Option(None, "--tls-cert", help="serve HTTPS with this certificate"),
        tls_key: Path | None = typer.Option(None, "--tls-key", help="private key for --tls-cert"),
        engines: bool = typer.Option(True, "--engines/--no-engines", help="run the component's engines"),
    ) -> None:
        """Run the API server (and the engines, stepped on the wall clock)."""
        import uvicorn

        from hx.api.app import create_app
        from hx.platform import bootstrap_admin
        from hx.wiring import build_runtime, build_world, embed_sim

        c = ctx_of(ctx)
        settings = c.loaded.settings
        check_world(settings, file=str(c.loaded.file) if c.loaded.file else None)  # before binding or building
        if settings.server.log_format == "json":
            _json_logs()
        comps = [get_component(component)] if component else list(COMPONENTS)
        cert = tls_cert or (Path(settings.server.tls_cert) if settings.server.tls_cert else None)
        key = tls_key or (Path(settings.server.tls_key) if settings.server.tls_key else None)
        if (cert is None) != (key is None):
            raise BadInput("--tls-cert and --tls-key go together", field="--tls-key" if cert else "--tls-cert")
        if cert is not None and key is not None:
            _check_tls(
                (cert, "--tls-cert" if tls_cert else "server.tls_cert"),
                (key, "--tls-key" if tls_key else "server.tls_key"),
            )
        bind_host = host or settings.server.host
        bind_port = port or settings.server.port or (comps[0].port if component else ALL_IN_ONE_PORT)
        with binding(bind_host, bind_port):  # fail here, with hx's message and exit code, not in uvicorn (exit 3)
            family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
            socket.create_server((bind_host, bind_port), family=family).close()
        source, actuator, sim = build_world(settings)
        platform = c.platform(source=source, actuator=actuator)
        embed_sim(platform, sim)
        token_file = bootstrap_admin(platform)
        if token_file is not None:
            c.err.print(f"[yellow]first start: admin token written to {token_file} (mode 0600)[/yellow]")
        runtime = build_runtime(platform, comps)
        if settings.server.leader_election:
            from hx.store.leases import LeaseManager

            runtime.enable_leases(LeaseManager(platform.store, platform.clock), settings.server.lease_ttl_s)
        app_ = create_app(platform, comps, runtime, run_engines=engines)
        c.err.print(f"hx serving {', '.join(x.name for x in comps)} on {bind_host}:{bind_port}")
        freeze_startup_heap()
        uvicorn.run(
            app_,
            host=bind_host,
            port=bind_port,
            ssl_certfile=str(cert) if cert else None,
            ssl_keyfile=str(key) if key else None,
            log_level="warning",
            log_config=None if settings.server.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        )


def freeze_startup_heap() -> None:
    """Move everything built so far (modules, settings, the app, the engines: about 240,000 objects) out of the
    cyclic garbage collector's reach.  A full collection walks every tracked object with the interpreter lock held:
    about 130 ms here, which stalled ``/health`` (and every request) whenever an alert burst triggered one.  The
    frozen objects live as long as the process anyway; what is allocated later is still collected."""
    gc.collect()
    gc.freeze()


class JsonFormatter(logging.Formatter):
    """One JSON object per record (time, level, logger, message, exception), for journald or a log shipper."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def _json_logs() -> None:
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())


def _check_tls(cert: tuple[Path, str], key: tuple[Path, str]) -> None:
    """Load the certificate and key (each with the option or key that gave it) once, so a wrong file is
    named before anything is built or bound."""
    import ssl

    for path, option in (cert, key):
        if not path.is_file():
            raise BadInput(f"{option} {path}: no such file", field=option)
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert[0], key[0])
    except ssl.SSLError as err:  # OpenSSL gives no reason for a file that is no PEM at all: "(None)" was shown
        why = err.reason or err.strerror or str(err)
        raise BadInput(
            f"{cert[1]} {cert[0]} / {key[1]} {key[0]}: not a PEM certificate and its private key ({why})",
            field=cert[1],
        ) from err
