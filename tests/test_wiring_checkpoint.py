"""The simulator checkpoint (hx.wiring.SimCheckpoint): sealed, written atomically under a lock, 0600; a damaged
one is set aside, noted and shown, and the fleet starts fresh instead of hx failing to start."""

from __future__ import annotations

import json
import pickle
import threading
from pathlib import Path

import pytest

from hx.config import Settings, load_settings
from hx.platform import build_platform
from hx.sim import Simulation
from hx.wiring import build_sim, embed_sim, sim_checkpoint


@pytest.fixture
def small(tmp_path: Path) -> Settings:
    env = {"HX_HOME": str(tmp_path / "hx"), "HX_SIM__SERVICES": "2", "HX_SIM__WARMUP_S": "600"}
    return load_settings(environ=env).settings


class _Exploit:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, ...]:
        return (open, (self.path, "w"))


def test_a_saved_fleet_is_resumed_and_private(small: Settings) -> None:
    sim = build_sim(small)
    ckpt = sim_checkpoint(small)
    ckpt.save(sim)
    assert ckpt.path.stat().st_mode & 0o777 == 0o600
    assert small.data_dir.stat().st_mode & 0o777 == 0o700
    again = build_sim(small)
    assert again.t >= sim.t and again.names == sim.names
    assert sorted(p.name for p in small.data_dir.iterdir() if p.name.startswith(".")) == []  # no temp files left


def test_concurrent_saves_never_collide(small: Settings) -> None:
    sim = build_sim(small)
    errors: list[BaseException] = []

    def save_many() -> None:
        ckpt = sim_checkpoint(small)  # each writer its own instance, as the actuator and the engine have
        try:
            for _ in range(15):
                ckpt.save(sim)
        except BaseException as err:  # collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=save_many) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert isinstance(sim_checkpoint(small).load(), Simulation)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "old-pickle", "other-key"])
def test_a_damaged_checkpoint_is_set_aside_and_the_fleet_starts_fresh(
    small: Settings, tmp_path: Path, damage: str
) -> None:
    ckpt = sim_checkpoint(small)
    ckpt.save(build_sim(small))
    marker = tmp_path / "pwned"
    good = ckpt.path.read_bytes()
    bad = {
        "truncated": good[: len(good) // 2],
        "garbage": b"\x00not a checkpoint",
        "old-pickle": pickle.dumps({"fingerprint": ckpt.fingerprint, "sim": _Exploit(str(marker))}),
        "other-key": b"hxs1" + b"\x01" * 32 + pickle.dumps(_Exploit(str(marker))),
    }[damage]
    ckpt.path.write_bytes(bad)
    sim = build_sim(small)  # does not raise
    assert isinstance(sim, Simulation) and not marker.exists()
    assert not ckpt.path.exists()
    kept = list(small.data_dir.glob("sim.ckpt.damaged-*"))
    assert len(kept) == 2 and any(p.read_bytes() == bad for p in kept)
    platform = build_platform(small)
    embed_sim(platform, sim)
    shown = platform.health_checks["sim_checkpoint"]()
    assert shown["status"] == "ok" and len(shown["set_aside"]) == 1
    note = shown["set_aside"][0]
    assert note["file"].startswith(str(ckpt.path) + ".damaged-")
    assert "IntegrityError" in note["reason"]
    assert damage != "old-pickle" or "not sealed" in note["reason"]
    assert json.loads(Path(note["file"] + ".json").read_text())["reason"] == note["reason"]
    platform.store.dispose()


def test_actuator_calls_engine_steps_and_saves_from_many_threads_do_not_interfere(small: Settings) -> None:
    from datetime import timedelta

    from hx.sim import SimActuator
    from hx.wiring import CheckpointedActuator, SimEngine

    sim = build_sim(small)
    actuator = CheckpointedActuator(SimActuator(sim), sim, sim_checkpoint(small))
    engine = SimEngine(sim, checkpoint=sim_checkpoint(small))
    errors: list[BaseException] = []
    service = sim.names[0]

    def act(n: int) -> None:
        try:
            for i in range(10):
                actuator.scale(service, 2 + (n + i) % 3)
        except BaseException as err:  # collected and asserted below
            errors.append(err)

    def advance() -> None:
        try:
            for i in range(20):
                engine.step(sim.now + timedelta(seconds=60 * (i + 1)))
        except BaseException as err:  # collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=act, args=(n,)) for n in range(4)] + [threading.Thread(target=advance)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    resumed = sim_checkpoint(small).load()
    assert resumed is not None and resumed.names == sim.names
