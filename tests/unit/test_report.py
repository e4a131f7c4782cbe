"""The JSON report of a run and the tables made from it (end-of-run summary, `manywheel report`)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from manywheel._cli.main import main
from manywheel._cli.render import format_size, report_table, summary_lines, summary_row
from manywheel._model import BuildImage, ImageFacts, Plan, RunResult, Target, TargetResult
from manywheel._report import (
    REPORT_FORMAT,
    grafted_libraries,
    load_report,
    report_data,
    write_report,
)
from manywheel._version import __version__

T1 = Target("cp313-manylinux_x86_64", "3.13.9", False, "/opt/python/cp313-cp313/bin/python")
T2 = Target("cp314-manylinux_x86_64", "3.14.1", False, "/opt/python/cp314-cp314/bin/python")
T3 = Target("cp314t-manylinux_x86_64", "3.14.1", True, "/opt/python/cp314-cp314t/bin/python")
WHEEL = "demo-1.0-cp313-cp313-manylinux_2_34_x86_64.whl"


def make_wheel(folder: Path, name: str = WHEEL) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / name
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("demo/__init__.py", "")
        zf.writestr("demo/_core.cpython-313-x86_64-linux-gnu.so", b"\x7fELF")
        zf.writestr("demo.libs/libzstd-1a2b3c4d.so.1.5.7", b"\x7fELF")
        zf.writestr("demo.libs/libz-5e6f.so.1", b"\x7fELF")
        zf.writestr("demo.libs/README", "not a library")
        zf.writestr("demo.libs/nested/libx.so", b"deeper than auditwheel puts them")
        zf.writestr("demo-1.0.dist-info/METADATA", "Name: demo\n")
    return wheel


def run_result(tmp_path: Path) -> RunResult:
    wheel = make_wheel(tmp_path / "dist")
    facts = ImageFacts("manylinux_x86_64", "manylinux_2_34_x86_64", "dnf", "bash", (T1, T2, T3))
    results = [
        TargetResult(T1, "built", [wheel], log=tmp_path / "logs" / "cp313.log", seconds=12.345,
                     steps={"build": 10.0, "repair": 2.0}),
        TargetResult(T2, "failed", [], error="build step failed (exit 33)",
                     log=tmp_path / "logs" / "cp314.log", tail=[f"line {i}" for i in range(20)],
                     seconds=3.0),
        TargetResult(T3, "cancelled", [tmp_path / "dist" / "gone.whl"], error="cancelled"),
    ]  # fmt: skip
    return RunResult(
        "20260101-000000-abcdef",
        Plan((BuildImage("img:1", "sha256:" + "1" * 64, facts),), (T1, T2, T3)),
        results,
        published=[wheel],
        output_dir=tmp_path / "dist",
        log_dir=tmp_path / "logs",
        seconds=15.5,
    )


def test_grafted_libraries_lists_top_level_libs_folders_only(tmp_path: Path) -> None:
    assert grafted_libraries(make_wheel(tmp_path)) == [
        "libz-5e6f.so.1",
        "libzstd-1a2b3c4d.so.1.5.7",
    ]
    broken = tmp_path / "broken.whl"
    broken.write_bytes(b"not a zip")
    assert grafted_libraries(broken) == []
    assert grafted_libraries(tmp_path / "missing.whl") == []


def test_report_data_describes_every_target(tmp_path: Path) -> None:
    result = run_result(tmp_path)
    data = report_data(result)
    assert {k: data[k] for k in ("format", "manywheel", "run_id", "image", "ok", "seconds")} == {
        "format": REPORT_FORMAT,
        "manywheel": __version__,
        "run_id": "20260101-000000-abcdef",
        "image": "img:1",
        "ok": False,
        "seconds": 15.5,
    }
    assert data["output_dir"] == str(tmp_path / "dist")
    built, failed, cancelled = data["targets"]
    wheel = tmp_path / "dist" / WHEEL
    assert built["wheel"] == {
        "file": WHEEL,
        "path": str(wheel),
        "tags": ["cp313-cp313-manylinux_2_34_x86_64"],
        "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "size": wheel.stat().st_size,
        "grafted": ["libz-5e6f.so.1", "libzstd-1a2b3c4d.so.1.5.7"],
    }
    assert built["steps"] == {"build": 10.0, "repair": 2.0}
    assert built["log"] == str(tmp_path / "logs" / "cp313.log")
    assert (failed["status"], failed["error"], failed["wheel"]) == (
        "failed",
        "build step failed (exit 33)",
        None,
    )
    # A wheel that is no longer on disk is not described (no size or hash to give).
    assert (cancelled["wheel"], cancelled["log"]) == (None, None)
    json.dumps(data)  # all of it is JSON


def test_write_is_atomic_and_load_checks_the_format(tmp_path: Path) -> None:
    data = report_data(run_result(tmp_path))
    path = write_report(data, tmp_path / "new" / "folder" / "report.json")
    assert load_report(path) == json.loads(json.dumps(data))
    assert path.read_text().endswith("}\n")
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no temporary file left
    for text in ('{"format": 999}', "[1, 2]"):
        path.write_text(text)
        with pytest.raises(ValueError, match="is not a manywheel report"):
            load_report(path)


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
     (5 * 1024**2, "5.0 MiB"), (3 * 1024**3, "3.0 GiB"), (2048 * 1024**3, "2048.0 GiB")],
)  # fmt: skip
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text


def test_summary_rows_and_lines(tmp_path: Path) -> None:
    result = run_result(tmp_path)
    size = format_size((tmp_path / "dist" / WHEEL).stat().st_size)
    assert summary_row(result.results[0]) == [
        T1.identifier, "built", WHEEL, "cp313-cp313-manylinux_2_34_x86_64", size, "12.3"
    ]  # fmt: skip
    assert summary_row(result.results[2]) == [T3.identifier, "cancelled", "-", "-", "-", "0.0"]
    result.report = tmp_path / "logs" / "report.json"
    lines = summary_lines(result)
    header, rule = lines[0], lines[1]
    assert header.split() == ["target", "status", "wheel", "tag", "size", "seconds"]
    assert set(rule.replace(" ", "")) == {"-"}
    assert lines[2].index("built") == header.index("status")  # columns line up
    failed = lines.index(f"{T2.identifier} failed: build step failed (exit 33)")
    # The last 15 lines of the failed target's output, then where its full log is.
    assert lines[failed + 1 : failed + 3] == ["  | line 5", "  | line 6"]
    assert lines[failed + 16] == f"  full log: {tmp_path / 'logs' / 'cp314.log'}"
    assert f"{T3.identifier} cancelled: cancelled" in lines
    assert lines[-3:] == [
        f"1 wheel(s) written to {tmp_path / 'dist'}",
        f"logs: {tmp_path / 'logs'}",
        f"report: {tmp_path / 'logs' / 'report.json'}",
    ]


def test_summary_counts_up_to_date_targets(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "dist")
    result = RunResult(
        "r",
        Plan(
            (BuildImage("img", "id", ImageFacts("manylinux_x86_64", "", None, "sh", (T1,))),), (T1,)
        ),
        [TargetResult(T1, "up-to-date", [wheel])],
        output_dir=tmp_path / "dist",
    )
    assert summary_lines(result)[-1] == f"0 wheel(s) written to {tmp_path / 'dist'} (1 up to date)"


def test_report_table_of_a_saved_report(tmp_path: Path) -> None:
    data = load_report(write_report(report_data(run_result(tmp_path)), tmp_path / "r.json"))
    lines = report_table(data)
    assert lines[0] == "run 20260101-000000-abcdef  image img:1"
    assert lines[1].split() == ["target", "status", "wheel", "size", "seconds", "grafted"]
    assert lines[3].split()[:3] == [T1.identifier, "built", WHEEL]
    assert lines[3].split()[-3:] == ["12.3", "libz-5e6f.so.1,", "libzstd-1a2b3c4d.so.1.5.7"]
    assert lines[4].split() == [T2.identifier, "failed", "-", "-", "3.0", "-"]
    assert lines[-2:] == [
        f"{T2.identifier}: build step failed (exit 33) (log: {tmp_path / 'logs' / 'cp314.log'})",
        f"{T3.identifier}: cancelled (log: None)",
    ]


def test_cli_report_shows_a_report_and_exits_by_its_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = report_data(run_result(tmp_path))
    path = write_report(data, tmp_path / "logs" / "latest" / "report.json")
    assert main(["report", str(path)]) == 1  # a target failed
    assert capsys.readouterr().out.splitlines() == report_table(load_report(path))
    assert main(["report", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == load_report(path)
    # Without a path: the last run's report, beside the logs.
    monkeypatch.setattr("manywheel._cli.main.default_log_root", lambda: tmp_path / "logs")
    write_report({**data, "ok": True}, path)
    assert main(["report"]) == 0
    assert capsys.readouterr().out.startswith("run 20260101-000000-abcdef")


@pytest.mark.parametrize("content", [None, "{not json", '{"format": 0}'])
def test_cli_report_that_cannot_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None
) -> None:
    path = tmp_path / "report.json"
    if content is not None:
        path.write_text(content)
    assert main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"manywheel: error: cannot read the report {path}" in err
    assert "manywheel: tip: run `manywheel build` first" in err


def test_cli_merge_combines_runner_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full = report_data(run_result(tmp_path))
    a = write_report({**full, "ok": True, "targets": full["targets"][:1]}, tmp_path / "a.json")
    b = write_report({**full, "ok": True, "targets": full["targets"][1:]}, tmp_path / "b.json")
    merged_path = tmp_path / "out" / "merged.json"
    assert main(["merge", str(a), str(b), "-o", str(merged_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("run merged:20260101-000000-abcdef,20260101-000000-abcdef  image img:1")
    merged = load_report(merged_path)
    assert [t["identifier"] for t in merged["targets"]] == [
        T1.identifier,
        T2.identifier,
        T3.identifier,
    ]
    assert merged["merged_from"] == [str(a), str(b)]
    assert main(["merge", str(a), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["targets"][0]["report"] == str(a)
    failing = write_report(full, tmp_path / "c.json")
    assert main(["merge", str(failing)]) == 1
    capsys.readouterr()
    # The same wheel from two runners: one entry, which names both reports.
    assert main(["merge", str(a), str(failing), "--json"]) == 1
    (t1,) = [
        t
        for t in json.loads(capsys.readouterr().out)["targets"]
        if t["identifier"] == T1.identifier
    ]
    assert (t1["report"], t1["also_in"]) == (str(a), [str(failing)])
    # The same target without a wheel in two reports, and a file that is no report: errors, exit 2.
    assert main(["merge", str(b), str(failing)]) == 2
    assert f"target {T2.identifier} is also in {b}" in capsys.readouterr().err
    assert main(["merge", str(tmp_path / "nope.json")]) == 2
    assert "cannot read the report" in capsys.readouterr().err


def test_cli_merge_prints_a_warning_for_two_different_wheels_of_a_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = report_data(run_result(tmp_path))
    one = {**data, "ok": True, "targets": data["targets"][:1]}
    other = json.loads(json.dumps(one))
    other["targets"][0]["wheel"]["sha256"] = "0" * 64
    a = write_report(one, tmp_path / "a.json")
    b = write_report(other, tmp_path / "b.json")
    assert main(["merge", str(a), str(b)]) == 0
    err = capsys.readouterr().err
    assert f"manywheel: warning: {T1.identifier} was built twice with different wheels" in err
