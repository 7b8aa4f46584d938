"""``hx validate``: options refused before any check runs (a traceback from httpx or ssl before)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hx.cli.main import main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HX_HOME", str(tmp_path / "home"))
    return tmp_path


def _refusal(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["--json", *args]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    error: dict[str, object] = json.loads(out)["error"]
    return error


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "0", "3601"])
def test_a_timeout_that_is_no_positive_number_of_seconds_is_refused(
    home: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    error = _refusal(["validate", "--timeout", value], capsys)
    assert error["field"] == "--timeout" and f"got {value}" in str(error["detail"])


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_a_wait_out_of_range_is_refused(home: Path, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _refusal(["validate", "--wait", value], capsys)["field"] == "--wait"


def test_a_ca_file_missing_a_folder_or_no_pem_is_named_with_its_path(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing --ca-file was FileNotFoundError without the path; a file of no certificate an ssl.SSLError."""
    nope = home / "nosuch.pem"
    error = _refusal(["validate", "--ca-file", str(nope)], capsys)
    assert error["field"] == "--ca-file" and error["detail"] == f"--ca-file {nope}: no such file"
    assert "a folder" in str(_refusal(["validate", "--ca-file", str(home)], capsys)["detail"])
    text = home / "text.pem"
    text.write_text("not a certificate\n")
    assert "not a PEM certificate bundle" in str(_refusal(["validate", "--ca-file", str(text)], capsys)["detail"])
    given = ["--set", f"server.tls_cert={nope}", "--set", f"server.tls_key={nope}", "validate"]
    error = _refusal(given, capsys)  # the default bundle is the server's certificate: named as the setting
    assert error["field"] == "server.tls_cert" and str(nope) in str(error["detail"])


def test_the_server_is_taken_from_url_or_hx_url(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # hx validate ignored $HX_URL, which every other command that talks to a server reads
    import socket

    assert _refusal(["validate", "--url", "ftp://x"], capsys)["field"] == "--url"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once closed
    monkeypatch.setenv("HX_URL", f"http://127.0.0.1:{port}/")
    assert main(["--json", "validate", "--component", "self-healing", "--timeout", "2"]) == 1
    checks = {x["name"]: x for x in json.loads(capsys.readouterr().out)["checks"]}
    health = checks["health self-healing"]
    assert not health["ok"] and f"http://127.0.0.1:{port}" in health["detail"], health
