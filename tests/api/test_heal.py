"""self-healing routes: filters that name what they accept."""

from __future__ import annotations

from tests.api.conftest import Api


def test_remediations_refuse_an_unknown_state_naming_the_valid_ones(api: Api) -> None:
    with api.client("viewer") as c:
        r = c.get("/api/v1/remediations", params={"state": "nope"})
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == "state" and "awaiting_approval" in r.json()["detail"]
        r = c.get("/api/v1/remediations", params={"state": "awaiting_approval"})
        assert r.status_code == 200 and r.json() == {"remediations": []}
