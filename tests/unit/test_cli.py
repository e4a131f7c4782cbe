from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomllib

from manywheel import load_options
from manywheel._cli import main as cli
from manywheel._cli.main import _cli_values, main, make_parser
from manywheel._model import BuildImage, ImageFacts, Plan, Target
from tests.conftest import PACKAGES


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("manywheel ")


def test_help_documents_options_env_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    out = capsys.readouterr().out
    for text in ("--system-packages", "MANYWHEEL_SYSTEM_PACKAGES", "--no-build-isolation", "130"):
        assert text in out


def test_cli_values_are_typed_by_the_registry() -> None:
    ns = make_parser().parse_args(
        ["build", "--python", "3.13", "--python", "3.14", "--environment", "A=1",
         "--environment", "B=x y", "--no-build-isolation", "--jobs", "2"]
    )  # fmt: skip
    assert _cli_values(ns) == {
        "python": "3.13 3.14",
        "environment": {"A": "1", "B": "x y"},
        "build-isolation": False,
        "jobs": "2",
    }


def test_config_error_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.manywheel]\nimgae = "x"\n')
    assert main(["build", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "manywheel: error:" in err
    assert "unknown key 'imgae'" in err
    assert "did you mean 'image'?" in err
    assert "Traceback" not in err


def test_not_a_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(tmp_path)]) == 2
    assert "not a Python project" in capsys.readouterr().err


def test_bad_environment_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(tmp_path), "--environment", "NOVALUE"]) == 2
    assert "is not NAME=VALUE" in capsys.readouterr().err


def test_engine_not_installed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert main(["build", str(tmp_path), "--engine", "podman"]) == 4
    err = capsys.readouterr().err
    assert "podman: not installed" in err
    assert "manywheel: tip:" in err


def test_doctor_reports_missing_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert main(["doctor", str(tmp_path), "--engine", "docker"]) == 1
    out = capsys.readouterr().out
    assert "docker is not on PATH" in out
    assert "fix:  apt-get install docker.io" in out


def test_init_from_cibuildwheel_writes_equivalent_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "cibw-project"
    shutil.copytree(PACKAGES / "cibw-project", project)
    assert main(["init", "--from-cibuildwheel", str(project)]) == 0
    assert "not carried over" not in capsys.readouterr().err  # macos: another platform's
    table = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["manywheel"]
    assert table["archs"] == ["auto64"]  # cibuildwheel's archs, libcs and default images
    assert table["libc"] == ["manylinux", "musllinux"]
    assert table["manylinux-x86_64-image"] == "manylinux_2_28"
    assert table["musllinux-x86_64-image"] == "musllinux_1_2"
    assert table["setup-script"] == "echo 'before-all ran' > /opt/mw-before-all"
    assert table["test-command"] == "pytest {project}/tests -q"
    assert table["environment"] == {"CFLAGS": "-DMW_GREETING=from-cibw"}
    opts = load_options(project, environ={})  # the written table is what now configures it
    assert opts.test_requires == ("pytest",)
    assert opts.notes == ()
    assert main(["init", "--from-cibuildwheel", str(project)]) == 2
    assert "already has [tool.manywheel]" in capsys.readouterr().err


def test_cibuildwheel_table_is_read_when_manywheel_table_is_absent(tmp_path: Path) -> None:
    project = tmp_path / "cibw-project"
    shutil.copytree(PACKAGES / "cibw-project", project)
    opts = load_options(project, environ={})
    assert opts.build == ("cp313-*", "cp314-*")
    assert opts.setup_script == "echo 'before-all ran' > /opt/mw-before-all"
    assert opts.repair_command == "auditwheel repair -w {dest_dir} {wheel}"
    assert opts.notes == ()  # the macos table is another platform's: nothing to say


def test_export_refuses_host_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    assert main(["export", "docker", str(tmp_path), "--engine", "host"]) == 2
    assert "cannot use engine = 'host'" in capsys.readouterr().err
    assert not (tmp_path / "manywheel-export").exists()


@pytest.mark.parametrize(
    "argv",
    [["--debug", "plan"], ["plan", "--debug"], ["--debug", "plan", "--debug"], ["plan"]],
)
def test_debug_before_or_after_the_command(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.manywheel]\njobs = [\n")  # broken TOML
    assert main([*argv, str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "pyproject.toml" in err
    assert ("Traceback" in err) == ("--debug" in argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["build"], ["plan"], ["export", "docker"], ["init"], ["doctor"], ["cache", "list"],
        ["cache", "clean"],
    ],
)  # fmt: skip
def test_shared_arguments_parse_the_same_in_every_command(argv: list[str]) -> None:
    """PROJECT_DIR (after export's format), --config where a command reads the configuration,
    and --debug after the command: each declared once, in a parent parser."""
    parser = make_parser()
    assert parser.parse_args(argv).project_dir == "."
    ns = parser.parse_args([*argv, "proj", "--debug"])
    assert (ns.project_dir, ns.debug) == ("proj", True)
    assert parser.parse_args(argv).debug is False
    if argv[0] == "export":
        assert ns.format == "docker"
    if argv[0] in ("build", "plan", "export", "cache"):
        assert parser.parse_args([*argv, "--config", "x.toml"]).config == "x.toml"
        assert parser.parse_args([*argv, "--config-file", "y.toml"]).config == "y.toml"
    for command in (["merge", "r.json"], ["report"], ["completion", "bash"]):
        assert parser.parse_args([*command, "--debug"]).debug is True


@pytest.mark.parametrize("fmt", ["text", "json", "github-matrix"])
def test_plan_never_prints_a_secret(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quoted secret value, the same value repeated in another option, and a host secret."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "1"\n[tool.manywheel]\n'
        "environment = { MY_API_TOKEN = 'tok-1234abcd', OK = 'plain' }\n"
        'before-build = "echo tok-1234abcd host-5678efgh"\n'
        'secret-environment = ["MY_SECRET"]\n'
    )
    monkeypatch.setenv("MY_SECRET", "host-5678efgh")
    target = Target("cp313-manylinux_x86_64", "3.13.1", False, "/opt/python/bin/python")
    facts = ImageFacts("manylinux_x86_64", "", None, "bash", (target,))
    monkeypatch.setattr(
        cli, "plan", lambda *a: Plan((BuildImage("img:1", "sha256:1", facts),), (target,))
    )
    assert main(["plan", str(tmp_path), "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert "cp313-manylinux_x86_64" in out
    assert "tok-1234abcd" not in out
    assert "host-5678efgh" not in out
    if fmt == "text":
        assert "('MY_API_TOKEN', '***'), ('OK', '\"plain\"')" in out
        assert "'echo *** ***'" in out


def test_sigusr1_prints_every_threads_stack_and_the_run_goes_on(tmp_path: Path) -> None:
    # A `report` of a FIFO waits in open() until something writes to it: a stand-in for a run
    # that seems stuck.
    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "manywheel", "report", str(fifo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not _waits_in_open(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGUSR1)
        time.sleep(0.5)
        assert proc.poll() is None  # still there
        fifo.write_text("{}")
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert "Current thread" in err or "Thread 0x" in err
    assert "in _report" in err  # where it waited
    assert "is not a manywheel report" in err  # then it went on, and read what was written


def _waits_in_open(pid: int) -> bool:
    """Whether ``pid`` waits for a writer to open the FIFO (then its handler is in place)."""
    try:
        return Path(f"/proc/{pid}/wchan").read_text() == "wait_for_partner"
    except OSError:
        return False
