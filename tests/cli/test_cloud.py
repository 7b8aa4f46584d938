"""``hx catalog``, ``hx place``, ``hx dr`` and ``hx terraform`` through the real entry point: a subprocess for the
exit codes of ``place``, then ``hx.cli.main.main`` in-process (the same code path, without paying the start-up of
a new interpreter each time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from hx.cloud.catalog import Catalog
from hx.cloud.terraform import schema_errors
from hx.cloud.workload import example_estate_path

#: hx's main(), with the multi-cloud commands registered if the lead has not wired them into main.py yet
DRIVER = (
    "import sys\n"
    "from hx.cli.main import app, main\n"
    "from hx.cli import cloud\n"
    "if not any(c.name == 'place' for c in app.registered_commands):\n"
    "    cloud.register(app)\n"
    "sys.exit(main(sys.argv[1:]))\n"
)
ESTATE = str(example_estate_path())
EU = {str(r.location) for r in Catalog.builtin().regions(jurisdiction="EU")}


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HX_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", DRIVER, *args], capture_output=True, text=True, env=env, timeout=120)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def hx(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[[list[str], Path], Result]:
    from hx.cli import cloud
    from hx.cli.main import app, main

    if not any(c.name == "place" for c in app.registered_commands):
        cloud.register(app)
    monkeypatch.setenv("COLUMNS", "200")

    def call(args: list[str], home: Path) -> Result:
        monkeypatch.setenv("HX_HOME", str(home))
        capsys.readouterr()
        code = main(args)
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return call


Hx = Callable[[list[str], Path], Result]


def test_place_exit_codes_through_a_subprocess(tmp_path: Path) -> None:
    r = run(["place", ESTATE, "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    by = {a["workload"]: a for a in out["plan"]["assignments"]}
    assert {p["location"] for p in by["checkout-api"]["placements"]} <= EU
    assert out["comparison"]["savings_vs_greedy_pct"] >= 0
    bad = tmp_path / "bad.yml"
    bad.write_text("workloads:\n  - {name: api, vcpus: -2, memory_gib: 4}\n")
    r = run(["place", str(bad)], tmp_path)
    assert r.returncode == 2 and "workloads[0](name=api).vcpus" in r.stderr and str(bad) in r.stderr


def test_place_human(tmp_path: Path, hx: Hx) -> None:
    r = hx(["place", ESTATE], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "checkout-api" in r.stdout and "greedy" in r.stdout and "single cloud" in r.stdout


def test_bad_estates_exit_2_naming_the_item(tmp_path: Path, hx: Hx) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("workloads:\n  - {name: api, vcpus: 2, memory_gib: 4, regions: [aws:mars-1]}\n")
    r = hx(["place", str(bad)], tmp_path)
    assert r.returncode == 2 and "aws:mars-1" in r.stderr
    bad.write_text("workloads:\n  - {name: api, vcpus: 2, memory_gib: 4, jurisdictions: [EU], clouds: [aws]}\n")
    bad.write_text(bad.read_text() + "budget_usd_per_hour: 0.001\n")
    r = hx(["place", str(bad)], tmp_path)
    assert r.returncode == 2 and "budget" in r.stderr
    assert hx(["dr", "drill", ESTATE, "--workload", "nope"], tmp_path).returncode == 2
    assert hx(["place", str(tmp_path / "missing.yml")], tmp_path).returncode == 2
    bad.write_text("workloads:\n  - {name: api, vcpus: 2, memory_gib: .inf}\n")  # "no region offers >= inf GiB"
    r = hx(["place", str(bad)], tmp_path)
    assert r.returncode == 2 and "memory_gib" in r.stderr and "finite" in r.stderr, r.stderr


def test_dr_plan_and_drill(tmp_path: Path, hx: Hx) -> None:
    r = hx(["--json", "dr", "plan", ESTATE], tmp_path)
    assert r.returncode == 0, r.stderr
    assert {p["workload"] for p in json.loads(r.stdout)["plans"]} == {
        "checkout-api",
        "orders-db",
        "catalog-web",
        "batch-reports",
    }
    r = hx(["dr", "drill", ESTATE, "--workload", "checkout-api", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["met"] and out["target"] == "fresh-sim" and out["achieved_rto_s"] <= 300
    assert out["after_failover"][out["standby_version"]]["weight"] == 1.0


def test_terraform_export_and_catalog(tmp_path: Path, hx: Hx) -> None:
    r = hx(["terraform", "export", ESTATE, "--out", str(tmp_path / "tf")], tmp_path)
    assert r.returncode == 0, r.stderr
    paths = [Path(line) for line in r.stdout.split()]
    assert sorted(p.name for p in paths) == ["hx-aws.tf.json", "hx-azure.tf.json", "hx-gcp.tf.json"]
    for p in paths:
        assert schema_errors(json.loads(p.read_text())) == []
    r = hx(["--json", "catalog", "regions", "--cloud", "azure", "--jurisdiction", "EU"], tmp_path)
    assert r.returncode == 0 and all(x["cloud"] == "azure" for x in json.loads(r.stdout)["regions"])
    assert hx(["catalog", "types", "--cloud", "oracle"], tmp_path).returncode == 2
    r = hx(["--json", "catalog", "regions", "--jurisdiction", "MARS"], tmp_path)  # was "0 regions", exit 0
    assert r.returncode == 2 and json.loads(r.stdout)["error"]["field"] == "--jurisdiction" and "EU" in r.stderr
    csv = tmp_path / "vms.csv"
    csv.write_text("InstanceType,vCPUs,MemoryGiB,Price,SpotPrice,Region\nm6i.large,2,8,0.05,0.02,us-east-1\n")
    r = hx(["--json", "catalog", "import", str(csv), "--cloud", "aws"], tmp_path)
    assert r.returncode == 0, r.stderr
    saved = Path(json.loads(r.stdout)["file"])
    assert saved.parent == tmp_path and saved.exists()
    r = hx(["--json", "place", ESTATE], tmp_path)  # the imported catalog is now in force
    assert r.returncode == 0, r.stderr
    csv.write_text("InstanceType,vCPUs,Price,Region\nm6i.large,2,0.05,us-east-1\n")
    r = hx(["catalog", "import", str(csv), "--cloud", "aws"], tmp_path)
    assert r.returncode == 2 and "MemoryGiB" in r.stderr
    csv.write_text('[{"InstanceType": "m6i.large"}]')  # JSON given as the CSV: it said "missing column(s)"
    r = hx(["catalog", "import", str(csv), "--cloud", "aws"], tmp_path)
    assert r.returncode == 2 and "not a CSV file (it is JSON" in r.stderr, r.stderr


@pytest.mark.parametrize("args", [["place"], ["dr", "plan"], ["catalog", "import", "--cloud", "aws"]])
def test_input_files_that_are_not_text_exit_2_naming_the_file(tmp_path: Path, hx: Hx, args: list[str]) -> None:
    f = tmp_path / "input.bin"
    f.write_bytes(b"\xff\xfe\x00workloads")
    r = hx([*args, str(f)], tmp_path)
    assert r.returncode == 2 and "input.bin: not UTF-8 text" in r.stderr, r.stderr


def test_terraform_export_names_an_out_dir_it_cannot_make(tmp_path: Path, hx: Hx) -> None:
    (tmp_path / "blocker").write_text("")
    r = hx(["terraform", "export", ESTATE, "--out", str(tmp_path / "blocker" / "tf")], tmp_path)
    assert r.returncode == 2 and "--out" in r.stderr and "blocker" in r.stderr, r.stderr
