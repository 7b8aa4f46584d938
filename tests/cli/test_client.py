"""``hx.cli.client``: the API client of the commands that act through a running server."""

from __future__ import annotations

from pathlib import Path

import pytest

from hx.cli.client import ApiClient
from hx.errors import BadInput


def test_a_url_without_a_scheme_is_bad_input_naming_the_option(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="--url 'localhost:8080'") as caught:
        ApiClient.from_env("localhost:8080", "hx_x", tmp_path)
    assert caught.value.exit_code == 2


def test_a_url_from_the_environment_is_named_by_its_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HX_URL", "ftp://host")
    with pytest.raises(BadInput, match=r"\$HX_URL 'ftp://host'"):
        ApiClient.from_env(None, "hx_x", tmp_path)
    monkeypatch.setenv("HX_URL", "https://hx.example:8443/")
    assert ApiClient.from_env(None, "hx_x", tmp_path).url == "https://hx.example:8443"


def test_a_server_that_answers_with_no_json_is_named(tmp_path: Path) -> None:
    from hx.errors import HxError
    from tests.integration.servers import Reply, scripted_http_server

    with scripted_http_server([Reply(200, b"<html>not hx</html>", {"content-type": "text/html"})]) as server:
        api = ApiClient.from_env(server.url, "hx_x", tmp_path)
        with pytest.raises(HxError, match=f"{server.url} answered GET /api/v1/deployments with no JSON"):
            api.request("GET", "/api/v1/deployments")


def test_a_server_that_is_down_is_named_as_the_hx_server_in_one_json_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # it was titled "signal source unreachable", and with --json a failure other than bad input printed nothing on
    # stdout: a script reading it got an empty document
    import json
    import socket

    from hx.cli.main import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once the socket is closed
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    code = main(["--json", "deploy", "status", "--url", f"http://127.0.0.1:{port}", "--token", "hx_x"])
    error = json.loads(capsys.readouterr().out)["error"]
    assert code == 1 and error["title"] == "hx server unreachable" and error["exit_code"] == 1
