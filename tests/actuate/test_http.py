"""HttpActuator against a real local HTTP server: bodies, URL encoding, retries, Retry-After, timeouts."""

from __future__ import annotations

import json

import httpx
import pytest

from hx.actuate.base import Capability
from hx.actuate.http import HttpActuator, Webhook
from hx.errors import ActuatorError, ActuatorTimeout, BadInput, ConfigError, Unsupported
from tests.integration.servers import Reply, scripted_http_server
from tests.support.net import free_port


def actuator(url: str, **kw: object) -> HttpActuator:
    hooks = {
        "scale": Webhook(url + "/services/{service}/scale", headers={"Authorization": "Bearer t0ken"}),
        "set_traffic_split": Webhook(url + "/services/{service}/split", method="PUT"),
        "restart": Webhook(url + "/instances/{instance}/restart?reason=hx"),
    }
    return HttpActuator(hooks, actions={"flush": Webhook(url + "/actions/{action}")}, **{"backoff_s": 0.01, **kw})  # type: ignore[arg-type]


def test_capabilities_are_the_configured_hooks() -> None:
    act = actuator("http://127.0.0.1:1")
    assert act.capabilities() == {Capability.SCALE, Capability.TRAFFIC_SPLIT, Capability.RESTART, Capability.RUN}


def test_scale_posts_the_params_as_json() -> None:
    with scripted_http_server([Reply(200, {"changed": True})]) as server:
        result = actuator(server.url).scale("api", 3, timeout=5)
    assert result.ok and result.changed and result.verb == "scale" and result.target == "api"
    seen = server.seen[0]
    assert (seen.method, seen.path) == ("POST", "/services/api/scale")
    assert json.loads(seen.body) == {"verb": "scale", "service": "api", "replicas": 3}
    assert seen.headers["Authorization"] == "Bearer t0ken"
    assert seen.headers["Content-Type"] == "application/json"
    assert result.output["status"] == 200 and result.output["attempts"] == 1


def test_names_are_percent_encoded_into_one_path_segment() -> None:
    with scripted_http_server([Reply(200)]) as server:
        actuator(server.url).restart("a/../b?x=1#y", timeout=5)
    assert server.seen[0].path == "/instances/a%2F..%2Fb%3Fx%3D1%23y/restart"
    assert server.seen[0].query == {"reason": ["hx"]}


def test_changed_false_in_the_answer_means_idempotent_no_op() -> None:
    with scripted_http_server([Reply(200, {"changed": False})]) as server:
        result = actuator(server.url).set_traffic_split("api", {"v1": 0.9, "v2": 0.1}, timeout=5)
    assert result.ok and not result.changed
    assert server.seen[0].method == "PUT"
    assert json.loads(server.seen[0].body)["weights"] == {"v1": 0.9, "v2": 0.1}


def test_retries_5xx_with_the_same_idempotency_key() -> None:
    with scripted_http_server([Reply(500), Reply(503), Reply(200)]) as server:
        result = actuator(server.url, retries=3).scale("api", 2, timeout=5)
    assert result.ok and result.output["attempts"] == 3 and "after 3 attempts" in result.detail
    keys = {s.headers["Idempotency-Key"] for s in server.seen}
    assert len(server.seen) == 3 and len(keys) == 1


def test_honours_retry_after_on_429() -> None:
    waits: list[float] = []
    replies = [Reply(429, headers={"Retry-After": "1.5"}), Reply(200)]
    with scripted_http_server(replies) as server:
        result = actuator(server.url, sleep=waits.append).scale("api", 2, timeout=5)
    assert result.ok and waits == [1.5]


def test_a_retry_after_longer_than_the_time_left_is_not_waited_for() -> None:
    waits: list[float] = []
    with scripted_http_server([Reply(429, "slow down", headers={"Retry-After": "120"})]) as server:
        result = actuator(server.url, sleep=waits.append).scale("api", 2, timeout=5)
    assert not result.ok and waits == [] and "429" in result.detail


def test_gives_up_after_bounded_retries() -> None:
    with scripted_http_server([Reply(502, "bad gateway")] * 10) as server:
        result = actuator(server.url, retries=2).scale("api", 2, timeout=5)
    assert not result.ok and len(server.seen) == 3
    assert result.detail == "HTTP 502 Bad Gateway after 3 attempts: bad gateway"


def test_4xx_is_a_failed_result_without_retry() -> None:
    with scripted_http_server([Reply(409, {"error": "rollout in progress"})]) as server:
        result = actuator(server.url).scale("api", 2, timeout=5)
    assert not result.ok and not result.changed and len(server.seen) == 1
    assert "rollout in progress" in result.detail


def test_a_slow_server_times_out() -> None:
    with (
        scripted_http_server([Reply(200, delay_s=2.0)]) as server,
        pytest.raises(ActuatorTimeout, match="may have happened"),
    ):
        actuator(server.url).scale("api", 2, timeout=0.3)
    assert len(server.seen) == 1  # a request that may have been received is not sent again


def test_a_down_server_is_an_actuator_error_after_retries() -> None:
    waits: list[float] = []
    act = actuator(f"http://127.0.0.1:{free_port()}", retries=2, sleep=waits.append)
    with pytest.raises(ActuatorError, match="cannot connect"):
        act.scale("api", 2, timeout=5)
    assert waits == [0.01, 0.02]


def test_run_sends_action_and_params() -> None:
    with scripted_http_server([Reply(201)]) as server:
        result = actuator(server.url).run("flush", {"region": "eu", "ttl": 30}, timeout=5)
    assert result.ok and server.seen[0].path == "/actions/flush"
    assert json.loads(server.seen[0].body) == {"verb": "run", "action": "flush", "params": {"region": "eu", "ttl": 30}}
    act = HttpActuator({}, actions={"purge": Webhook("http://127.0.0.1:1/purge/{region}")})
    with pytest.raises(BadInput, match="needs parameter"):
        act.run("purge", {}, timeout=5)


def test_unconfigured_verbs_and_actions_are_unsupported() -> None:
    act = actuator("http://127.0.0.1:1")
    with pytest.raises(Unsupported, match="configured: restart, scale, set_traffic_split"):
        act.deploy("api", "v2", 2)
    with pytest.raises(Unsupported, match="configured: flush"):
        act.run("reboot", {})


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        (Webhook("ftp://x/y"), "http"),
        (Webhook("http://{service}.internal/scale"), "host"),
        (Webhook("http://x/{instance}"), "unknown placeholder"),
        (Webhook("http://x/y", method="GET"), "POST, PUT or PATCH"),
    ],
)
def test_bad_hooks_are_config_errors(hook: Webhook, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        HttpActuator({"scale": hook})


def test_secrets_stay_out_of_reprs_and_results() -> None:
    hook = Webhook("http://x/scale?token=abc", headers={"Authorization": "Bearer s3cret"})
    assert "s3cret" not in repr(hook)
    with scripted_http_server([Reply(200)]) as server:
        act = HttpActuator({"scale": Webhook(server.url + "/scale?token=abc")})
        result = act.scale("api", 1, timeout=5)
    assert "abc" not in result.output["url"]


def test_one_attempt_may_use_the_whole_call_timeout_and_redacts_credentials() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    client = httpx.Client(transport=httpx.MockTransport(answer))
    act = HttpActuator({"scale": Webhook("http://bob:pw@act.example/scale?api_key=k")}, client=client)
    result = act.scale("api", 2, timeout=120)
    assert seen[0].extensions["timeout"]["read"] == pytest.approx(120, abs=1)  # a slow action is not cut at 10 s
    assert result.output["url"] == "http://bob:***@act.example/scale?api_key=***"
