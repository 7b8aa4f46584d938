import json
from pathlib import Path

from hx.cloud.catalog import Catalog
from hx.cloud.placement import place
from hx.cloud.terraform import REQUIRED_ARGS, export_terraform, schema_errors
from hx.cloud.workload import Spread, Workload

CAT = Catalog.builtin()


def test_every_resource_has_its_required_arguments(tmp_path: Path) -> None:
    ws = [
        Workload(name="web", vcpus=2, memory_gib=4, replicas=3, spot_ok=True, spread=Spread(across="cloud", min=3)),
        Workload(name="db", vcpus=4, memory_gib=32, clouds=["azure"]),
    ]
    paths = export_terraform(place(ws, CAT), tmp_path)
    assert sorted(p.name for p in paths) == ["hx-aws.tf.json", "hx-azure.tf.json", "hx-gcp.tf.json"]
    seen = set()
    for p in paths:
        doc = json.loads(p.read_text())
        assert {"terraform", "provider", "resource", "variable"} <= set(doc)
        assert schema_errors(doc) == []
        for rtype, items in doc["resource"].items():
            assert rtype in REQUIRED_ARGS, rtype
            for name, body in items.items():
                missing = REQUIRED_ARGS[rtype] - set(body)
                assert not missing, (rtype, name, missing)
                seen.add(rtype)
                for value in json.dumps(body).split("${var.")[1:]:
                    assert value.split("}")[0].split("[")[0] in doc["variable"]
    assert {"aws_instance", "azurerm_linux_virtual_machine", "google_compute_instance"} <= seen
    azure = json.loads((tmp_path / "hx-azure.tf.json").read_text())
    assert azure["provider"]["azurerm"]["features"] == {}
    vm = next(iter(azure["resource"]["azurerm_linux_virtual_machine"].values()))
    assert "source_image_reference" in vm and vm["admin_ssh_key"]["username"]


def test_schema_check_catches_missing_arguments() -> None:
    doc = {
        "resource": {
            "azurerm_linux_virtual_machine": {"vm": {"name": "x", "os_disk": {"caching": "None"}}},
            "aws_instance": {"a": {"ami": "ami-1"}},
        }
    }
    errors = schema_errors(doc)
    assert "aws_instance.a: missing instance_type" in errors
    assert "azurerm_linux_virtual_machine.vm.os_disk: missing storage_account_type" in errors
    assert any("needs one of ['admin_password', 'admin_ssh_key']" in e for e in errors)
