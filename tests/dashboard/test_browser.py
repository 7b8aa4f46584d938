"""The four dashboards in headless Chromium (Debian's ``chromium`` and ``chromedriver``, driven by selenium) against
a real server holding the demo's scenes (``hx demo --serve``: the demo's store, fleet and clock behind the API).

Each dashboard must draw its charts with data and log no console error; approve (a rollout waiting in staging)
and acknowledge (the incident the demo leaves open) are clicked in the page and found in the audit log.
Screenshots go to the test's folder; ``HX_DASHBOARD_SCREENSHOTS=docs/screenshots`` also writes small PNGs there
for the README."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.net import free_port, stop_process, wait_http

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
#: charts each dashboard must draw with data from the demo's scenes
EXPECTED: dict[str, set[str]] = {
    "executive": {"kpi-deploy-change-failure-rate", "kpi-heal-open-incidents", "savings", "autonomy"},
    "operations": {"signals"},
    "aiml": {"examples", "forecast", "scores"},
    "cost": {"by-service", "by-cloud", "plans"},
}
#: screenshots kept for the README: test's name -> dashboard (operations with a rollout waiting, once one is; and
#: scrolled to a labelled anomaly and the quiet rules panel holding a freeze that refused a rollout)
DOCS = {"executive": "executive", "aiml": "aiml", "cost": "cost", "operations-actions": "operations",
        "operations-quiet": "operations-quiet"}  # fmt: skip
CHARTS_JS = """return [...document.querySelectorAll('.chart')].map((e) => ({id: e.id, points: e.dataset.points ?? null,
  traces: (e.data || []).length, container: !!e.querySelector('.plot-container')}));"""


@dataclass
class Server:
    url: str
    admin: str

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token or self.admin}"}, timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("demo") / "hx"
    port = free_port()
    proc = _serve_demo(home, port)
    try:
        yield Server(f"http://127.0.0.1:{port}", (home / "admin.token").read_text().strip())
    finally:
        stop_process(proc)


def _serve_demo(home: Path, port: int, *scenes: str) -> subprocess.Popen[bytes]:
    """``hx demo --serve`` (its scenes, or only those named) on a port, once it answers; its log beside ``home``."""
    only = [a for s in scenes for a in ("--scene", s)]
    with (home.parent / "demo.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hx.cli", "demo", "--data-dir", str(home), *only, "--serve", "--port", str(port)],
            env={**os.environ, "COLUMNS": "120"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_served(proc, f"http://127.0.0.1:{port}/health", home.parent / "demo.log")
    except BaseException:
        stop_process(proc)
        raise
    return proc


def _wait_served(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 900) -> None:
    """Wait for the demo to serve; fail at once, with the end of its log, when it exits before it does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            pytest.fail(f"hx demo --serve exited with {proc.returncode} before serving; its log ends:\n{tail}")
        try:
            wait_http(url, timeout=5)
            return
        except TimeoutError:
            continue
    pytest.fail(f"hx demo --serve did not answer {url} within {timeout} s")


@pytest.fixture
def driver() -> Iterator[Any]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.fail("chromium and chromedriver are needed (Debian packages chromium, chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,800"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    d.set_page_load_timeout(60)
    d.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1200, "height": 800, "deviceScaleFactor": 1, "mobile": False}
    )
    try:
        yield d
    finally:
        d.quit()


def _wait(driver: Any, cond: Any, what: str, timeout: float = 60) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.3).until(lambda d: cond(d))
    except TimeoutException as err:  # say what did not happen, and show the page's error
        shown = driver.execute_script("return (document.getElementById('hx-error') || {}).textContent || ''")
        raise AssertionError(f"timed out waiting for {what}; page error: {shown!r}") from err


def sign_in(driver: Any, url: str, token: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url)
    _wait(driver, lambda d: d.find_elements(By.ID, "hx-token"), "the sign-in form")
    driver.find_element(By.ID, "hx-token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#hx-signin button").click()
    _wait(driver, lambda d: d.find_elements(By.ID, "hx-me"), "the signed-in user")
    assert token not in driver.current_url


def charts(driver: Any) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in driver.execute_script(CHARTS_JS)}


def drawn(driver: Any) -> dict[str, dict[str, Any]] | None:
    """The page's charts once every one has been drawn or said why not."""
    found = charts(driver)
    return found if found and all(c["points"] is not None for c in found.values()) else None


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def shoot(driver: Any, name: str, folder: Path) -> None:
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    target = os.environ.get("HX_DASHBOARD_SCREENSHOTS")
    if target and name in DOCS:
        from PIL import Image

        Path(target).mkdir(parents=True, exist_ok=True)
        with Image.open(path) as img:
            small = img.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
            small.save(Path(target) / f"dashboard-{DOCS[name]}.png", optimize=True)


@pytest.mark.timeout(1500)
def test_each_dashboard_draws_its_charts_with_data_and_no_console_error(
    server: Server, driver: Any, tmp_path: Path
) -> None:
    sign_in(driver, server.url + "/dashboard/executive", server.admin)
    for page, expected in EXPECTED.items():
        driver.get(f"{server.url}/dashboard/{page}?hours=6")  # the scenes span the demo's last hours
        found = _wait(driver, drawn, f"the {page} charts", timeout=90)
        empty = {k for k in expected if not (found.get(k) and int(found[k]["points"] or 0) > 0)}
        assert not empty, f"{page}: no data drawn in {sorted(empty)}: {found}"
        for k in expected:
            assert found[k]["container"] and found[k]["traces"] > 0, (page, k, found[k])
        assert driver.find_element("css selector", f'nav a[data-page="{page}"]').get_attribute("class") == "here"
        shoot(driver, page, tmp_path)
        assert driver.find_element("id", "hx-error").text == "", page
        assert console_errors(driver) == [], page
        assert server.admin not in driver.current_url


@pytest.mark.timeout(1500)
def test_approve_and_acknowledge_in_the_page_reach_the_audit_log(server: Server, driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    with server.client() as admin:
        approver = admin.post("/api/v1/tokens", json={"name": "dash-approver", "role": "approver"}).json()["token"]
        r = admin.post("/api/v1/deployments", json={"service": "search", "version": "v9", "environment": "staging"})
        assert r.status_code == 201, r.text
        dep = r.json()
        assert dep["state"] == "awaiting_approval", dep
        open_incidents = admin.get("/api/v1/incidents", params={"status": "open"}).json()["incidents"]
    assert open_incidents, "the demo leaves an incident open"
    inc = open_incidents[0]["id"]
    sign_in(driver, server.url + "/dashboard/operations?hours=6", approver)
    approve = f'button[data-path="/api/v1/deployments/{dep["id"]}/approve"]'
    ack = f'button[data-path="/api/v1/incidents/{inc}/acknowledge"]'
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, approve) and d.find_elements(By.CSS_SELECTOR, ack),
          "the approve and acknowledge buttons")  # fmt: skip
    shoot(driver, "operations-actions", tmp_path)
    driver.find_element(By.CSS_SELECTOR, approve).click()
    _wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, approve), "the rollout to leave awaiting approval")
    driver.find_element(By.CSS_SELECTOR, ack).click()
    _wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, ack), "the incident to be acknowledged")
    assert console_errors(driver) == []
    wanted = {
        ("POST /api/v1/deployments/{dep_id}/approve", f"/api/v1/deployments/{dep['id']}/approve", "ok"),
        ("POST /api/v1/incidents/{incident_id}/acknowledge", f"/api/v1/incidents/{inc}/acknowledge", "ok"),
    }
    actor = _actor(server, approver)
    # the API's audit record of a call is written once its answer is sent: wait for it
    done = _wait(driver, lambda _d: wanted <= _audited(server, actor) and wanted, "both calls in the audit log", 20)
    assert done == wanted
    with server.client() as admin:
        after = admin.get(f"/api/v1/deployments/{dep['id']}").json()
        incident = admin.get(f"/api/v1/incidents/{inc}").json()
    assert after["approvals"] and after["approvals"][0]["by"] == actor
    assert incident["status"] == "acknowledged"


def _audited(server: Server, actor: str) -> set[tuple[str, str, str]]:
    with server.client() as admin:
        records = admin.get("/api/v1/audit", params={"actor": actor, "limit": 1000}).json()["records"]
    return {(r["action"], r["target"], r["outcome"]) for r in records}


def _actor(server: Server, token: str) -> str:
    with server.client(token) as c:
        me = c.get("/api/v1/whoami").json()
    return f"token:{me['id']}:{me['name']}"


def _anomaly_to_label(server: Server) -> tuple[str, str]:
    """(service, anomaly id) of an anomaly the operations page lists in the demo's last 6 hours."""
    with server.client() as admin:
        services = admin.get("/api/v1/dashboard/operations", params={"hours": 6}).json()["services"]
        for svc in services:
            found = admin.get("/api/v1/dashboard/operations", params={"hours": 6, "service": svc}).json()["anomalies"]
            if found:
                return svc, found[0]["anomaly_id"]
    raise AssertionError(f"the demo leaves no anomaly in its last 6 hours on any of {services}")


def _audit_actions(server: Server, actor: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    with server.client() as admin:
        records = admin.get("/api/v1/audit", params={"actor": actor, "limit": 1000}).json()["records"]
    return [(r["action"], r["target"], r["outcome"], r["detail"]) for r in records]


def _label_in_the_page(driver: Any, anomaly: str) -> None:
    from selenium.webdriver.common.by import By

    item = f'li.anomaly[data-anomaly-id="{anomaly}"]'
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"{item} span.anomaly-actions button"), "label buttons")
    driver.find_element(By.CSS_SELECTOR, f"{item} input.label-note").send_keys("dashboard: a load test, not a fault")
    driver.find_element(By.CSS_SELECTOR, f'{item} button[data-verdict="false_positive"]').click()
    shown = f'{item}[data-label="false_positive"] span.anomaly-label'
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, shown), "the label shown on the anomaly")
    assert "a load test" in driver.find_element(By.CSS_SELECTOR, shown).text


def _freeze_in_the_page(driver: Any, reason: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, "quiet-kind")).select_by_value("freezes")
    for field, value in (("quiet-service", "search"), ("quiet-environment", "staging")):
        driver.find_element(By.ID, field).send_keys(value)
    driver.find_element(By.CSS_SELECTOR, "#quiet-add button[type=submit]").click()  # no reason: refused, and why
    _wait(driver, lambda d: "422" in d.find_element(By.ID, "quiet-error").text, "the refusal shown in the panel")
    assert "reason" in driver.find_element(By.ID, "quiet-error").text
    driver.find_element(By.ID, "quiet-reason").send_keys(reason)
    driver.find_element(By.CSS_SELECTOR, "#quiet-add button[type=submit]").click()
    _wait(driver, lambda d: reason in d.find_element(By.ID, "quiet").text, "the freeze in the quiet rules panel")


@pytest.mark.timeout(1500)
def test_label_and_freeze_from_the_page_reach_the_api_and_the_audit_log(
    server: Server, driver: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    service, anomaly = _anomaly_to_label(server)
    with server.client() as admin:
        operator = admin.post("/api/v1/tokens", json={"name": "dash-operator", "role": "operator"}).json()["token"]
    actor = _actor(server, operator)  # a fresh token: its audit records are all this test's
    sign_in(driver, f"{server.url}/dashboard/operations?hours=6&service={service}", operator)
    _label_in_the_page(driver, anomaly)
    with server.client() as admin:
        labels = admin.get("/api/v1/anomaly-labels").json()["labels"]
    assert [(x["verdict"], x["labelled_by"], x["note"]) for x in labels if x["anomaly_id"] == anomaly] == [
        ("false_positive", actor, "dashboard: a load test, not a fault")
    ]
    assert ("anomaly.label", f"anomaly:{anomaly}", "ok") in {a[:3] for a in _audit_actions(server, actor)}

    reason = "dashboard test: release freeze"
    _freeze_in_the_page(driver, reason)
    with server.client(operator) as op:
        frozen = op.get("/api/v1/freezes", params={"active": True}).json()["freezes"]
        fid = next(f["id"] for f in frozen if f["reason"] == reason)
        r = op.post("/api/v1/deployments", json={"service": "search", "version": "v10", "environment": "staging"})
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert r.json()["freeze"] == fid and f"freeze {fid}" in r.json()["detail"] and reason in r.json()["detail"]
    refused = [a for a in _audit_actions(server, actor) if a[0] == "deployment.refused"]
    assert [(a[1], a[2], a[3]["freeze"]) for a in refused] == [("search@staging", "refused", fid)]
    shown = f'li.refusal[data-freeze="{fid}"]'
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, shown), "the refusal on the page, naming the freeze", 20)
    driver.execute_script("document.getElementById('anomalies').scrollIntoView()")
    shoot(driver, "operations-quiet", tmp_path)

    remove = f'#quiet button[data-path="/api/v1/freezes/{fid}"]'
    driver.find_element(By.CSS_SELECTOR, remove).click()
    _wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, remove), "the freeze to leave the panel")
    with server.client() as admin:
        assert fid not in [f["id"] for f in admin.get("/api/v1/freezes", params={"active": True}).json()["freezes"]]
    done = {(a[0], a[1]) for a in _audit_actions(server, actor) if a[2] == "ok"}
    assert {("freeze.add", f"freeze:{fid}"), ("freeze.remove", f"freeze:{fid}")} <= done
    assert driver.find_element(By.ID, "quiet-error").text == ""  # cleared by the add that held
    assert driver.find_element(By.ID, "timeline").find_elements(By.CSS_SELECTOR, "li.entry"), "the timeline list"
    refused_add = "/api/v1/freezes - Failed to load resource: the server responded with a status of 422"
    assert [e for e in console_errors(driver) if refused_add not in e] == []

    driver.get(f"{server.url}/dashboard/executive?hours=6")  # precision from the label just given, against its gate
    found = _wait(driver, drawn, "the executive charts", timeout=90)
    assert int(found["kpi-detect-precision"]["points"] or 0) > 0, found.get("kpi-detect-precision")
    now = driver.find_element(By.CSS_SELECTOR, "#kpi-detect-precision").find_element(By.XPATH, "..").text
    assert "gate detection precision: >= 0.95" in now and "fail" in now, now


HEIGHTS_JS = """return Object.fromEntries([...document.querySelectorAll('.chart')].filter((e) => e._fullLayout)
  .map((e) => [e.id, e._fullLayout.height]));"""


def _viewport(driver: Any, width: int) -> None:
    metrics = {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


@pytest.mark.timeout(1500)
def test_a_narrow_window_keeps_each_chart_s_height_and_each_page_within_its_width(
    server: Server, driver: Any, tmp_path: Path
) -> None:
    sign_in(driver, server.url + "/dashboard?hours=6", server.admin)
    for page in ("", *EXPECTED):
        _viewport(driver, 1200)
        driver.get(f"{server.url}/dashboard/{page}?hours=6")
        _wait(driver, lambda d: d.execute_script("return document.getElementById('hx-status').textContent"), page)
        if page:
            _wait(driver, drawn, f"the {page} charts", timeout=90)
        wide = driver.execute_script(HEIGHTS_JS)
        _viewport(driver, 800)  # a resize: plotly's autosize takes the element's height, not the one asked for
        time.sleep(1.5)
        assert driver.execute_script(HEIGHTS_JS) == wide, page
        shoot(driver, f"narrow-{page or 'overview'}", tmp_path)
        width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{page or 'overview'}: the page is wider than the window: {width}"


SERIES_JS = """return [...document.querySelectorAll('.chart')].filter((e) => e.data).flatMap((e) => e.data
  .filter((t) => !(t.y || t.x || []).some((v) => v !== null && v !== undefined)).map((t) => e.id + ': ' + t.name));"""


@pytest.mark.timeout(1500)
def test_figures_read_plainly_with_their_units_and_no_series_without_data(server: Server, driver: Any) -> None:
    from selenium.webdriver.common.by import By

    sign_in(driver, server.url + "/dashboard?hours=6", server.admin)
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#anomalies td"), "the open anomalies")
    observed = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#anomalies td")]
    assert not [t for t in observed if "." in t and len(t.split(".")[1]) > 4], observed  # 3 significant digits
    event = _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#events div"), "the live events")[0].text
    assert datetime.fromisoformat(event.split()[0]).utcoffset() == timedelta(0), (
        event
    )  # its date and zone, not 14:25:30
    driver.get(f"{server.url}/dashboard/executive?hours=6")
    found = _wait(driver, drawn, "the executive charts", timeout=90)
    assert driver.execute_script(SERIES_JS) == []  # a legend entry or gate line alone is not data
    status = driver.find_element(By.ID, "hx-status").text
    assert status.startswith("updated ") and status.endswith(" UTC") and len(status) == len("updated 00:00:00 UTC")
    now = {k: driver.find_element(By.ID, k).find_element(By.XPATH, "..").find_element(By.CSS_SELECTOR, ".now").text
           for k in found if k.startswith("kpi-")}  # fmt: skip
    assert not [t for t in now.values() if "e+" in t], now
    timed = {k: t for k, t in now.items() if k.endswith("-s") and not t.startswith("now -")}
    assert timed and all(t.split()[2] == "s" for t in timed.values()), now
    assert found["kpi-heal-mttr-median-s"]["points"] == "0", found  # the demo resolves no reactive incident: no data
    mttr = driver.find_element(By.ID, "kpi-heal-mttr-median-s").text  # and the chart says why
    assert "no reactive incident" in mttr, mttr


@pytest.mark.timeout(1500)
def test_a_page_before_sign_in_says_so_and_signing_out_leaves_nothing_shown(server: Server, driver: Any) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{server.url}/dashboard/cost?hours=6")
    notice = _wait(driver, lambda d: d.find_element(By.ID, "hx-notice").text, "a notice before sign-in")
    assert "Sign in with an API token" in notice
    driver.find_element(By.ID, "hx-token").send_keys(server.admin)
    driver.find_element(By.CSS_SELECTOR, "#hx-signin button").click()
    _wait(driver, drawn, "the cost charts", timeout=90)
    assert not driver.find_element(By.ID, "hx-notice").is_displayed()
    driver.find_element(By.ID, "hx-signout").click()
    _wait(driver, lambda d: d.find_elements(By.ID, "hx-token"), "the sign-in form again")
    assert "Sign in with an API token" in driver.find_element(By.ID, "hx-notice").text
    assert not [c for c in charts(driver).values() if c["traces"]], "a chart still shown after sign-out"


@pytest.mark.timeout(600)
def test_a_page_says_when_the_server_is_unreachable_and_its_events_resume_with_it(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    home, port = tmp_path / "hx", free_port()
    proc = _serve_demo(home, port, "platform")
    try:
        sign_in(driver, f"http://127.0.0.1:{port}/dashboard", (home / "admin.token").read_text().strip())
        _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#events div"), "the live events")
        stop_process(proc)
        error = _wait(driver, lambda d: d.find_element(By.ID, "hx-error").text, "the page to say something", 30)
        assert error.startswith("hx server unreachable (GET /health"), error
        assert "the figures shown are from " in error and error.endswith(" UTC"), error
        assert driver.find_element(By.ID, "status").text == "unreachable"  # not the health last read
        shoot(driver, "unreachable", tmp_path)
        driver.execute_script("document.getElementById('events').replaceChildren()")
        proc = _serve_demo(home, port, "platform")  # the same store and token, served again
        _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#events div"), "the live events again", 60)
        _wait(driver, lambda d: d.find_element(By.ID, "hx-error").text == "", "the error to clear", 30)
    finally:
        stop_process(proc)


@pytest.mark.timeout(1500)
def test_a_refused_rollout_action_stays_shown_beside_the_rollouts_after_the_page_refreshes(
    server: Server, driver: Any
) -> None:
    from selenium.webdriver.common.by import By

    with server.client() as admin:
        r = admin.post("/api/v1/deployments", json={"service": "catalog", "version": "v7", "environment": "staging"})
        assert r.status_code == 201 and r.json()["state"] == "awaiting_approval", r.text
        dep = r.json()["id"]
        sign_in(driver, server.url + "/dashboard/operations?hours=6", server.admin)
        approve = f'button[data-path="/api/v1/deployments/{dep}/approve"]'
        _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, approve), "the approve button")
        driver.execute_script("for (let i = 1; i < 100000; i++) clearInterval(i);")  # the page refreshes on our word
        assert admin.post(f"/api/v1/deployments/{dep}/approve").status_code == 200  # meanwhile, elsewhere
    driver.find_element(By.CSS_SELECTOR, approve).click()
    said = f"POST /api/v1/deployments/{dep}/approve: 409 deployment {dep} is running, not awaiting approval"
    rollouts = driver.find_element(By.ID, "rollouts").find_element(By.XPATH, "..")
    _wait(driver, lambda _d: said in rollouts.text, "the refusal beside the rollouts", 20)
    # the refresh that follows clears the header's error, not this
    driver.execute_async_script("HX.tick().then(arguments[arguments.length - 1]);")
    assert not driver.find_elements(By.CSS_SELECTOR, approve)
    assert said in rollouts.text
