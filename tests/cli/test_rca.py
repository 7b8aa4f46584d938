"""``hx rca``: root cause from metric files in the shapes public datasets ship (wide, long, multi-row header)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hx.cli.main import main
from hx.readers_rca import read_graph, read_metrics, workload_of

T0 = 1_700_000_000
N = 60
FAULT = 40


def _series(seed: int, fault: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = 10 + rng.normal(0, 0.5, N)
    if fault:
        v[FAULT:] += 30
    return v


def _wide(path: Path) -> Path:
    db, api = _series(1, True), _series(2, False)
    lines = ["time,api_latency,db-main_cpu,api_cpu"]
    lines += [f"{T0 + 60 * i},{api[i]:.3f},{db[i]:.3f},{api[i] / 10:.3f}" for i in range(N)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _long_per_pod(folder: Path) -> Path:
    folder.mkdir()
    for pod, seed, fault in (("db-5f6585d649-fnmft", 1, True), ("api-579f59597d-wc2lz", 2, False)):
        v = _series(seed, fault)
        lines = ["TimeStamp,PodName,CpuUsageRate(%),Latency(s)"]
        lines += [f"{T0 + 60 * i + 3},{pod},{v[i]:.3f},{v[i] / 100:.4f}" for i in range(N)]
        (folder / f"{pod}_metric.csv").write_text("\n".join(lines) + "\n")
    return folder


def _multi_header(path: Path) -> Path:
    db, api = _series(1, True), _series(2, False)
    lines = [
        "microservice,api,api,db",
        "metric,latency,requests,latency",
        "statistic,Average,Sum,Average",
        "unix_timestamp,,,",
    ]
    lines += [f"{T0 + 300 * i},{api[i]:.3f},100,{db[i]:.3f}" for i in range(N)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("shape", ["wide", "long", "multi"])
def test_rca_ranks_the_faulty_service_first_from_each_file_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], shape: str
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    make = {"wide": _wide, "long": _long_per_pod, "multi": _multi_header}[shape]
    src = make(tmp_path / ("pods" if shape == "long" else "metrics.csv"))
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps({"api": ["db-main" if shape == "wide" else "db"]}))
    code, out, err = _run(["--json", "rca", str(src), "--graph", str(graph)], capsys)
    assert code == 0, err
    data = json.loads(out)
    first = data["candidates"][0]
    assert first["service"] == ("db-main" if shape == "wide" else "db")
    ev = first["evidence"][0]
    assert ev["deviation_robust_sd"] > 3 and ev["expected"][0] is not None and ev["onset"] is not None


def test_rca_prints_a_table_with_units_and_the_explanation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    code, out, err = _run(["rca", str(_wide(tmp_path / "m.csv")), "--alert-time", str(T0 + 60 * FAULT)], capsys)
    assert code == 0, err
    assert "robust sd" in out and "db-main" in out and "1. db-main" in out


def test_rca_normal_reference_and_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    src = _wide(tmp_path / "m.csv")
    normal = tmp_path / "normal.csv"
    normal.write_text("\n".join(src.read_text().splitlines()[: FAULT - 5]) + "\n")
    code, out, err = _run(["--json", "rca", str(src), "--normal", str(normal), "--start", str(T0 + 60 * 30)], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["rows"] == N - 30 and data["candidates"][0]["service"] == "db-main"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--alert-time", "yesterday"], ["--alert-time", "'yesterday'", "ISO 8601"]),
        (["--alert-time", "-1"], ["--alert-time: -1 (1969-12-31T23:59:59Z) is outside the times hx takes"]),
        (["--alert-time", "99999999999999"], ["--alert-time", "read as milliseconds (5138-", "outside the times"]),
        (["--end", "5000-01-01T00:00:00Z"], ["--end", "outside the times hx takes"]),
        (
            ["--start", "2999-01-01"],
            ["no metric rows", "--start", "(2999-01-01T00:00:00Z .. the last row)", "the files cover 2023-"],
        ),  # it said "(3.24...e+10 .. inf)"
        (["--graph", "SELF"], ["not a call graph", "edge list", "adjacency matrix"]),
        (["--alert-service", "nosuch"], ["alert_service 'nosuch'", "known: api, db-main"]),
    ],
)
def test_rca_refusals_exit_2_and_name_what_was_expected(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    named: list[str],
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    src = _wide(tmp_path / "m.csv")
    args = [str(src) if a == "SELF" else a for a in args]
    code, _, err = _run(["rca", str(src), *args], capsys)
    assert code == 2 and all(n in err for n in named), err


def test_rca_names_the_cell_that_is_not_a_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    f = _wide(tmp_path / "m.csv")
    lines = f.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0] + ",n/a"
    f.write_text("\n".join(lines) + "\n")
    code, _, err = _run(["rca", str(f)], capsys)
    assert code == 2 and str(f) in err and "row 6" in err and "api_cpu" in err, err


def test_graph_readers_accept_edge_lists_matrices_and_json(tmp_path: Path) -> None:
    edges = tmp_path / "dependency.csv"
    edges.write_text("Source,Target,Weight\nfrontend,cart,1\nfrontend,ads,1\ncart,redis,1\n")
    assert read_graph(edges) == {"frontend": ["cart", "ads"], "cart": ["redis"]}
    matrix = tmp_path / "graph.csv"
    matrix.write_text(",a,b,c\na,0,1,1\nb,0,0,1\nc,0,0,0\n")
    assert read_graph(matrix) == {"a": ["b", "c"], "b": ["c"]}
    pairs = tmp_path / "g.json"
    pairs.write_text('[["a", "b"], ["b", "c"]]')
    assert read_graph(pairs) == {"a": ["b"], "b": ["c"]}


def test_pods_of_one_workload_are_averaged_on_one_grid(tmp_path: Path) -> None:
    assert workload_of("cartservice-579f59597d-wc2lz") == "cartservice"
    assert workload_of("redis-cart-0") == "redis-cart"
    assert workload_of("PetSite") == "PetSite"
    f = tmp_path / "m.csv"
    f.write_text(f"ts,pod,cpu\n{T0},web-abcdef12-xyz12,1\n{T0},web-abcdef34-xyz34,3\n{T0 + 60},web-abcdef12-xyz12,5\n")
    frame = read_metrics([f])
    assert list(frame.nested) == ["web"]
    assert frame.nested["web"]["cpu"].tolist() == [2.0, 5.0] and frame.timestamps.tolist() == [
        T0 - T0 % 60,
        T0 - T0 % 60 + 60,
    ]


def test_a_folder_with_the_graph_beside_the_metrics_and_mixed_shapes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    pods = _long_per_pod(tmp_path / "metric")
    graph = pods / "dependency.csv"
    graph.write_text("Source,Target,Weight\napi,db,1\n")
    code, out, err = _run(["--json", "rca", str(pods), "--graph", str(graph)], capsys)
    assert code == 0, err
    assert json.loads(out)["candidates"][0]["service"] == "db"
    edge = _wide(pods / "source_50.csv")
    code, _, err = _run(["rca", str(pods), "--graph", str(graph)], capsys)
    assert code == 2 and "mix two shapes" in err and str(edge) in err and "_metric.csv" in err, err


def test_only_a_graph_and_no_metrics_is_refused(tmp_path: Path) -> None:
    from hx.errors import BadInput

    g = tmp_path / "dependency.csv"
    g.write_text("Source,Target\na,b\n")
    with pytest.raises(BadInput, match="no metric files"):
        read_metrics([tmp_path], skip=[g])


def test_the_explanation_gives_unix_times_as_utc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    code, out, err = _run(["--json", "rca", str(_wide(tmp_path / "m.csv"))], capsys)
    assert code == 0, err
    why = json.loads(out)["candidates"][0]["explanation"]
    assert "2023-11-14T" in why and "e+09" not in why, why


def test_the_table_labels_the_services_deviation_and_the_lead_metrics_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table put the service's combined deviation under the lead metric's name (PetShop: latency_p90 at 5.4 in
    the table, 9.2 in the explanation)."""
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    rng = np.random.default_rng(3)
    lat = {q: 1.0 + 0.01 * rng.standard_normal(N) for q in ("p50", "p90", "p99")}
    for q, jump in (("p50", 0.06), ("p90", 0.08), ("p99", 0.7)):
        lat[q][FAULT:] += jump
    f = tmp_path / "m.csv"
    rows = "".join(f"{T0 + 60 * i},{lat['p50'][i]},{lat['p90'][i]},{lat['p99'][i]}\n" for i in range(N))
    f.write_text("time,api_latency_p50,api_latency_p90,api_latency_p99\n" + rows)
    code, out, err = _run(["--json", "rca", str(f), "--alert-time", str(T0 + 60 * FAULT)], capsys)
    assert code == 0, err
    (row,) = json.loads(out)["candidates"]
    lead = next(e for e in row["evidence"] if e["metric"] == row["metric"])
    assert row["metric"] == "latency_p99" and row["lead_deviation_robust_sd"] == lead["deviation_robust_sd"]
    assert row["deviation_robust_sd"] < lead["deviation_robust_sd"]
    code, out, err = _run(["rca", str(f), "--alert-time", str(T0 + 60 * FAULT)], capsys)
    assert code == 0, err
    cells = [c.strip() for c in next(line for line in out.splitlines() if "latency_p99" in line).split("│")]
    service_sd, metric, lead_sd = cells[4:7]
    assert (metric, lead_sd, service_sd) == (
        "latency_p99",
        f"{row['lead_deviation_robust_sd']:.1f}",
        f"{row['deviation_robust_sd']:.1f}",
    )
    assert "service sd" in out and "lead sd" in out and f"latency_p99 moved ({lead_sd} robust sd" in out


def test_a_normal_file_of_other_metrics_is_refused_and_one_lacking_some_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    src = _wide(tmp_path / "m.csv")
    other = tmp_path / "othernorm.csv"
    other.write_text("time,zzz_cpu\n" + "".join(f"{T0 - 3600 + 60 * i},{i}\n" for i in range(21)))
    code, _, err = _run(["rca", str(src), "--normal", str(other)], capsys)
    assert code == 2 and f"--normal {other}: its metrics (zzz_cpu) match none of the incident's (api_latency" in err
    lines = src.read_text().splitlines()
    part = tmp_path / "part.csv"
    part.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines[: FAULT - 5]) + "\n")  # no api_cpu
    code, out, err = _run(["--json", "rca", str(src), "--normal", str(part)], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["normal_missing"] == ["api_cpu"] and f"no normal data in --normal {part} (api_cpu)" in doc["note"]
    code, out, err = _run(["rca", str(src), "--normal", str(part)], capsys)
    assert code == 0 and "1 of 3 metrics have no normal data" in out, err


def test_help_keeps_the_brackets_rich_markup_would_eat(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # "JSON {caller: [callees]}" was shown as "JSON {caller: }": rich read [callees] as a style tag
    from hx.cli.main import main

    monkeypatch.setenv("COLUMNS", "250")
    assert main(["rca", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.replace("│", " ").split())  # wrapped lines joined, the box's border out
    assert "[callees]" in text and "[and statistic]" in text
