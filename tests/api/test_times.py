"""Times given to the API: a time without a zone, or one outside the era hx takes, is 422 naming the field.

Each of these answered 500 (a naive time reaching the store, an OverflowError reckoning a UTC time or a window
from it), found by fuzzing the OpenAPI document."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import Api

FAR = "9999-12-31T23:59:59-23:59"  # a valid datetime whose UTC time is past year 9999
EARLY = "0001-01-01T00:00:00Z"


def _refused(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in {e["field"] for e in r.json().get("errors", [])} | {r.json().get("field")}, r.json()


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/events", {"since": "2026-01-01T00:00:00"}, "since"),
        ("/api/v1/events", {"until": FAR}, "until"),
        ("/api/v1/anomalies", {"since": "2026-01-01"}, "since"),
        ("/api/v1/anomalies", {"until": "0001-01-01T00:00:00+23:59"}, "until"),
        ("/api/v1/scaling/decisions", {"since": FAR}, "since"),
        ("/api/v1/dashboard/executive", {"until": EARLY}, "until"),
        ("/api/v1/dashboard/cost", {"until": FAR}, "until"),
        ("/api/v1/timeline", {"subject": "web", "until": EARLY}, "until"),
    ],
)
def test_query_times_outside_the_era_or_without_a_zone_are_422(
    api: Api, path: str, params: dict[str, str], field: str
) -> None:
    with api.client("admin") as c:
        _refused(c.get(path, params=params), field)
        ok = c.get(path, params={**params, field: "2026-01-01T00:00:00Z"})
        assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "x", "starts_at": "9999-12-31T23:59:59Z", "duration_s": 86400}, "starts_at"),
        ({"reason": "x", "ends_at": FAR}, "ends_at"),
        ({"reason": "x", "duration_s": True}, "duration_s"),
    ],
)
def test_quiet_rules_refuse_times_outside_the_era_and_a_boolean_duration(
    api: Api, body: dict[str, object], field: str
) -> None:
    with api.client("admin") as c:
        for kind in ("silences", "maintenance", "freezes"):
            _refused(c.post(f"/api/v1/{kind}", json=body), field)
            assert c.get(f"/api/v1/{kind}").json()[kind] == []


def test_rca_refuses_an_iso_time_past_the_era(api: Api) -> None:
    body = {"timestamps": ["2026-01-01T00:00:00Z", FAR], "metrics": {"api": {"latency": [1, 2]}}}
    with api.client("admin") as c:
        r = c.post("/api/v1/rca", json=body)
    assert r.status_code == 422, r.text
    assert "outside the times hx takes" in r.text


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/cost/report", {"price_changes": {"gcp": "NaN"}}, "price_changes.gcp"),
        ("/api/v1/cost/report", {"price_changes": {"gcp": -200}}, "price_changes.gcp"),
        ("/api/v1/placement", {"estate_quota": "-Infinity"}, "estate.region_vcpu_quota.gcp:us-central1"),
        ("/api/v1/placement", {"estate_quota": -4}, "estate.region_vcpu_quota.gcp:us-central1"),
    ],
)
def test_cost_and_placement_refuse_prices_and_quotas_that_are_no_numbers_or_negative(
    api: Api, path: str, body: dict[str, object], field: str
) -> None:
    estate: dict[str, object] = {
        "workloads": [{"name": "web", "vcpus": 2, "memory_gib": 4}],
        "current": {"web": "gcp:us-central1"},
    }
    if "estate_quota" in body:
        estate["region_vcpu_quota"] = {"gcp:us-central1": body.pop("estate_quota")}
    with api.client("admin") as c:
        _refused(c.post(path, json={"estate": estate, **body}), field)


def test_a_routes_own_refusal_of_a_query_parameter_says_it_is_in_the_query(api: Api) -> None:
    span = {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    with api.client("admin") as c:
        r = c.get("/api/v1/timeline", params={"subject": "web", **span})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "since", "in": "query", "message": r.json()["detail"]}]


def test_a_malformed_multipart_body_is_422_naming_the_body_and_other_http_errors_carry_their_phrase(api: Api) -> None:
    # the form parser's 400 was not in the operation's documented answers and was titled "error"
    with api.client("viewer") as c:
        for ctype, body in (("multipart/form-data", b"--x\r\n\r\n"), ("multipart/form-data; boundary=zzz", b"abc")):
            r = c.post("/api/v1/rca/files", content=body, headers={"content-type": ctype})
            _refused(r, "body")
        assert c.get("/api/v1/no-such-route").json()["title"] == "not found"
