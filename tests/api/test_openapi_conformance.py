"""schemathesis (every check) over the whole API, as an admin and as a viewer: no server error, no conformance
failure.  The run is bounded (examples per operation, a fixed seed) and its size and seed are printed."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hx.api.app import create_app
from hx.config import load_settings
from hx.platform import Platform, bootstrap_admin, build_platform
from hx.security.roles import Role
from hx.wiring import build_world
from tests.support.live import live_server

MAX_EXAMPLES = 3
SEED = 21
CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture
def world_platform(tmp_path: Path) -> Iterator[Platform]:
    """A platform with the simulator as its signal source and actuator (as ``hx serve`` builds it)."""
    env = {"HX_HOME": str(tmp_path / "hx"), "HX_TELEMETRY__SOURCE": "sim", "HX_ACTUATOR__KIND": "sim"}
    settings = load_settings(environ=env).settings
    source, actuator, _ = build_world(settings)
    platform = build_platform(settings, source=source, actuator=actuator)
    yield platform
    platform.store.dispose()


def _run(url: str, token: str, report: Path, phases: str, *limits: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", f"{url}/openapi.json", "--checks", "all"]
    cmd += ["-H", f"Authorization: Bearer {token}", "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED)]
    cmd += ["--phases", phases, "--workers", "1", "--no-color", "--generation-database", "none"]
    cmd += ["--report-dir", str(report), *limits]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)


#: a DR drill still runs inside the request for up to its timeout (#21 item 7 makes drills background jobs)
NOT_YET: list[str] = []  # every route is tested (drills are background jobs now)
#: the event stream stays open until the client leaves: it gets its own run with a short read timeout
STREAM = "/api/v1/events/stream"


def _summary(out: str) -> str:
    wanted = ("Tested:", "generated", "Seed:", "passed", "failures", "Failures:", "❌")
    return "\n".join(line for line in out.splitlines() if any(w in line for w in wanted))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_schemathesis_all_checks_admin_and_viewer(world_platform: Platform, tmp_path: Path) -> None:
    admin = (bootstrap_admin(world_platform) or Path()).read_text().strip()
    viewer, _ = world_platform.tokens.create("schemathesis-viewer", Role.VIEWER)
    with live_server(create_app(world_platform)) as url:
        # the admin reaches every route's logic: boundary values and negatives (coverage) plus random cases;
        # the viewer is refused most writes, so random cases are enough to check its answers conform
        runs = [
            ("admin", admin, "coverage,fuzzing", [*NOT_YET, "--exclude-path", STREAM, "--request-timeout", "30"]),
            ("admin", admin, "coverage,fuzzing", ["--include-path", STREAM, "--request-timeout", "2"]),
            ("viewer", viewer, "fuzzing", [*NOT_YET, "--exclude-path", STREAM, "--request-timeout", "30"]),
        ]
        for i, (role, token, phases, limits) in enumerate(runs):
            run = _run(url, token, tmp_path / str(i), phases, *limits)
            summary = _summary(run.stdout)
            print(f"schemathesis as {role} ({phases}; max {MAX_EXAMPLES} examples per operation, seed {SEED}):")
            print(summary)
            assert run.returncode == 0, f"schemathesis as {role} failed:\n{run.stdout[-20000:]}\n{run.stderr[-2000:]}"
            assert re.search(r"Seed: \d+", run.stdout)
