"""``hx serve``: what it refuses before it builds the platform or binds a port."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hx.cli.main import main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HX_HOME", str(tmp_path / "home"))
    return tmp_path


def test_a_missing_tls_file_is_named_with_its_option(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = home / "key.pem"
    key.write_text("x")
    assert main(["serve", "--port", "1", "--tls-cert", str(home / "nope.pem"), "--tls-key", str(key)]) == 2
    err = capsys.readouterr().err
    assert "--tls-cert" in err and "nope.pem" in err
    assert not (home / "home").exists()


def test_a_file_that_is_no_certificate_is_refused(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cert, key = home / "cert.pem", home / "key.pem"
    cert.write_text("not a certificate\n")
    key.write_text("not a key\n")
    assert main(["serve", "--port", "1", "--tls-cert", str(cert), "--tls-key", str(key)]) == 2
    err = capsys.readouterr().err
    assert "cert.pem" in err and "key.pem" in err and "(None)" not in err  # OpenSSL's missing reason was shown


def test_a_port_in_use_is_named_before_the_platform_is_built(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["serve", "--no-engines", "--host", "127.0.0.1", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and "--port" in err
    assert not (home / "home").exists()


def test_real_telemetry_with_the_sim_actuator_is_refused_on_start(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = home / "c.yml"
    f.write_text("telemetry: {source: prometheus}\n")
    assert main(["--config", str(f), "serve", "--no-engines", "--host", "127.0.0.1", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "telemetry.source" in err and "actuator.kind" in err


def test_the_startup_heap_is_frozen_and_later_garbage_still_collected() -> None:
    import gc
    import weakref

    from hx.cli.serve import freeze_startup_heap

    class Node:
        pass

    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > 10_000  # everything imported so far is out of the collector's walk
        a, b = Node(), Node()
        a.other, b.other = b, a  # type: ignore[attr-defined]
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None  # a cycle made after the freeze is still collected
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("port", ["70000", "-1", "0"])
def test_a_port_out_of_range_is_refused_naming_port(home: Path, port: str, capsys: pytest.CaptureFixture[str]) -> None:
    """70000 and -1 were an OverflowError traceback; 0 silently meant the default port (hx serve binds the port it
    prints, so it does not pick a free one as hx sim serve does)."""
    assert main(["serve", "--no-engines", "--port", port]) == 2
    err = capsys.readouterr().err
    assert "--port" in err and "Traceback" not in err
    assert not (home / "home").exists()
