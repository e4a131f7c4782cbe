"""The CLI's commands that need no engine (or a canned one): output, files written, exit codes."""

from __future__ import annotations

import io
import json
import platform
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from manywheel import ConfigError, Options
from manywheel._builders import discovery
from manywheel._cache import CACHE_LABEL, PREPARED_LABEL, cache_volume, open_cache_root
from manywheel._cli import main as cli
from manywheel._cli.github import GitHubRenderer
from manywheel._cli.live import LiveRenderer
from manywheel._cli.main import Terminated, main
from manywheel._cli.render import PlainRenderer
from manywheel._engines.host import HOST_IMAGE
from manywheel._engines.process import ExecResult
from manywheel._events import Listener
from manywheel._leftovers import OWNER_LABEL, this_process
from manywheel._merge import merge_reports
from manywheel._model import BuildImage, ImageFacts, Plan, RunResult, Target, TargetResult
from manywheel._report import load_report, report_data
from tests.unit.fake_exec import CannedEngine
from tests.unit.fakes import FakeEngine
from tests.unit.test_builders import DOCKER_INFO, PODMAN_INFO
from tests.unit.test_leftovers import dead_owner

T1 = Target("cp313-manylinux_x86_64", "3.13.9", False, "/opt/python/cp313-cp313/bin/python")
T2 = Target("cp314-manylinux_x86_64", "3.14.1", False, "/opt/python/cp314-cp314/bin/python")
FACTS = ImageFacts("manylinux_x86_64", "manylinux_2_34_x86_64", "dnf", "bash", (T1, T2))


def project(tmp_path: Path, table: str = "") -> Path:
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "pyproject.toml").write_text(
        f'[project]\nname = "demo"\nversion = "1"\n[tool.manywheel]\n{table}'
    )
    return folder


def fake_plan(
    monkeypatch: pytest.MonkeyPatch, image: str = "img:1", targets: tuple[Target, ...] = (T1, T2)
) -> list[Options]:
    """Replace the planning (which asks the engine) with a fixed plan; returns the options seen."""
    seen: list[Options] = []

    def plan(options: Options, listener: Listener) -> Plan:
        seen.append(options)
        return Plan((BuildImage(image, "sha256:" + "ab" * 32, FACTS),), targets)

    monkeypatch.setattr(cli, "plan", plan)
    return seen


def test_plan_formats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_plan(monkeypatch)
    folder = project(tmp_path, "jobs = 2\n")
    assert main(["plan", str(folder), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "image": "img:1",
        "image_id": "sha256:" + "ab" * 32,
        "platform": "manylinux_x86_64",
        "images": [
            {
                "image": "img:1",
                "image_id": "sha256:" + "ab" * 32,
                "platform": "manylinux_x86_64",
                "key": "image",
            }
        ],
        "targets": [
            {
                "identifier": t.identifier,
                "version": t.version,
                "python": t.python,
                "platform": "manylinux_x86_64",
                "image": "img:1",
            }
            for t in (T1, T2)
        ],
    }
    assert main(["plan", str(folder), "--format", "github-matrix"]) == 0
    matrix = json.loads(capsys.readouterr().out)
    assert [e["only"] for e in matrix["include"]] == [T1.identifier, T2.identifier]
    assert main(["plan", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:5] == [
        "image:    img:1 (sha256:abababababab)",
        "platform: manylinux_x86_64",
        "targets:",
        f"  {T1.identifier}  (Python 3.13.9, {T1.python})",
        f"  {T2.identifier}  (Python 3.14.1, {T2.python})",
    ]
    assert out[5] == "options:"
    assert "  jobs = 2" in out


def test_only_selects_one_target_and_must_be_an_identifier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = fake_plan(monkeypatch)
    folder = project(tmp_path, 'skip = ["cp313-*"]\npython = ["3.14"]\n')
    assert main(["plan", str(folder), "--only", "cp313-manylinux_x86_64"]) == 0
    only = ("cp313-manylinux_x86_64",)
    assert (seen[0].build, seen[0].skip, seen[0].python) == (only, (), only)
    capsys.readouterr()
    assert main(["plan", str(folder), "--only", "3.13"]) == 2
    err = capsys.readouterr().err
    assert "manywheel: error: --only '3.13' is not a target identifier" in err
    assert "manywheel: tip: use one of the identifiers `manywheel plan` lists" in err


def test_export_writes_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_plan(monkeypatch)
    folder = project(tmp_path)
    out_dir = tmp_path / "exported"
    assert main(["export", "docker", str(folder), "-o", str(out_dir), "--engine", "docker"]) == 0
    lines = capsys.readouterr().out.splitlines()
    written = sorted(p.name for p in out_dir.iterdir())
    assert "Dockerfile" in written
    assert "build-wheels.sh" in written
    files = [p for p in out_dir.rglob("*") if p.is_file()]
    assert lines == [
        f"wrote {len(files)} file(s) to {out_dir}",
        f"run: bash {out_dir / 'build-wheels.sh'}   (ENGINE=podman for podman)",
    ]
    assert "img:1" in (out_dir / "Dockerfile").read_text()


def test_export_needs_an_image_not_host_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_plan(monkeypatch, image=HOST_IMAGE)  # auto found no engine and fell back to the host
    folder = project(tmp_path)
    assert main(["export", "docker", str(folder)]) == 4
    err = capsys.readouterr().err
    assert "export docker needs a working container engine" in err
    assert "manywheel doctor" in err
    assert not (folder / "manywheel-export").exists()


def cache_engine(mine: list[str], others: list[str]) -> CannedEngine:
    def rows(tags: list[str]) -> str:
        return "".join(
            f"localhost/manywheel-env\t{t}\tsha256:{t * 8}\t2 days ago\t1.2GB\n" for t in tags
        )

    return CannedEngine(
        {
            f"images --filter label={CACHE_LABEL}=": (0, rows(mine), ""),
            f"images --filter label={PREPARED_LABEL}": (0, rows(mine + others), ""),
        }
    )


def test_cache_list_and_clean_with_an_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = project(tmp_path)
    root = open_cache_root(tmp_path / "cache")
    (root.path / "venvs" / "ns").mkdir(parents=True)
    (root.path / "venvs" / "ns" / "k.tar").write_bytes(b"x" * 2048)
    (root.path / "downloads" / "ns" / "pip").mkdir(parents=True)
    (root.path / "downloads" / "ns" / "pip" / "w.whl").write_bytes(b"x" * 1024)
    engine = cache_engine(["aaaa"], ["bbbb", "cccc"])
    monkeypatch.setattr(cli, "container_engine_for", lambda choice: engine)
    base = [str(folder), "--cache-dir", str(root.path)]
    assert main(["cache", "list", *base]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "localhost/manywheel-env:aaaa  sha256:aaaaaaaaaaaa  2 days ago  1.2GB",
        "1 prepared environment(s) from this cache folder in docker",
        f"1 cached build venv(s), 2.0 KiB, in {root.path / 'venvs'}",
        f"downloads of 1 project(s), 1.0 KiB, in {root.path / 'downloads'}",
        f"cache folder: {root.path} (a project's venvs and downloads, and the prepared "
        "environments, are kept until 30 days unused)",
        "2 other prepared environment(s) in docker (from other cache folders or older manywheel "
        "versions) left alone; `manywheel cache list --all` lists them too",
    ]
    assert any(f"label={CACHE_LABEL}={root.id}" in args for args in engine.calls)
    assert main(["cache", "list", "--all", *base]) == 0
    assert capsys.readouterr().out.splitlines()[3] == "3 prepared environment(s) in docker"
    engine.calls.clear()
    assert main(["cache", "clean", *base]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [
        "removed localhost/manywheel-env:aaaa",
        f"removed 1 cached build venv(s) from {root.path / 'venvs'}",
    ]
    assert "`manywheel cache clean --all` removes them too" in out[2]
    assert ["rmi", "-f", "localhost/manywheel-env:aaaa"] in engine.calls
    assert main(["cache", "clean", "--all", *base]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "removing every manywheel prepared image in docker (--all)"
    assert out[1:] == [f"removed localhost/manywheel-env:{t}" for t in ("aaaa", "bbbb", "cccc")]


def test_cache_clean_removes_containers_of_killed_runs_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = project(tmp_path)
    root = open_cache_root(tmp_path / "cache")
    dead, live = dead_owner().token(), this_process().token()
    engine = cache_engine([], [])
    engine.answers[f"ps -a --filter label={OWNER_LABEL}"] = (
        0, "manywheel-r1-cp313\nmanywheel-r2-cp313\n", "",
    )  # fmt: skip
    engine.answers["inspect --format"] = (
        0, f"/manywheel-r1-cp313\t{dead}\n/manywheel-r2-cp313\t{live}\n", "",
    )  # fmt: skip
    monkeypatch.setattr(cli, "container_engine_for", lambda choice: engine)
    assert main(["cache", "clean", str(folder), "--cache-dir", str(root.path)]) == 0
    out = capsys.readouterr().out
    assert "removed container manywheel-r1-cp313, left by a killed manywheel run" in out
    assert "manywheel-r2-cp313" not in out  # a live run's
    removed = [args for args in engine.calls if args[:2] == ["rm", "-f"]]
    assert removed == [["rm", "-f", "-v", "manywheel-r1-cp313"]]


def run_result(tmp_path: Path, status: str) -> RunResult:
    wheel = tmp_path / "dist" / "demo-1-cp313-cp313-manylinux_2_34_x86_64.whl"
    wheel.parent.mkdir(parents=True, exist_ok=True)
    wheel.write_bytes(b"PK")
    result = TargetResult(T1, status, [wheel] if status == "built" else [], seconds=1.0,
                          error=None if status == "built" else "build step failed (exit 33)")  # fmt: skip
    return RunResult(
        "run-1",
        Plan((BuildImage("img:1", "sha256:1", FACTS),), (T1,)),
        [result],
        published=[wheel] if status == "built" else [],
        output_dir=tmp_path / "dist",
        log_dir=tmp_path / "logs" / "run-1",
    )


@pytest.mark.parametrize(
    ("status", "flags", "code", "summary"),
    [("built", [], 0, True), ("built", ["-q"], 0, False), ("failed", ["-q"], 1, True)],
)
def test_build_writes_the_reports_and_prints_the_summary(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *,
    status: str,
    flags: list[str],
    code: int,
    summary: bool,
) -> None:
    folder = project(tmp_path)
    monkeypatch.setattr(cli, "build", lambda options, listener: run_result(tmp_path, status))
    step_summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    extra = tmp_path / "out" / "report.json"
    assert main(["build", str(folder), "--report", str(extra), *flags]) == code
    out = capsys.readouterr().out
    beside_logs = load_report(tmp_path / "logs" / "run-1" / "report.json")
    assert load_report(extra) == beside_logs
    assert beside_logs["targets"][0]["status"] == status
    assert ("1 wheel(s) written" in out or "0 wheel(s) written" in out) == summary
    if summary:
        assert f"report: {tmp_path / 'logs' / 'run-1' / 'report.json'}" in out
    assert step_summary.read_text().startswith("### manywheel: ")


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (PermissionError(13, "Permission denied", "/out/x.whl"), 1,
         "manywheel: error: Permission denied: /out/x.whl"),
        (OSError("disk on fire"), 1, "manywheel: error: disk on fire"),
        (KeyboardInterrupt(), 130,
         "manywheel: interrupted; containers removed, output folder unchanged"),
        (Terminated(), 143, "manywheel: terminated; containers removed, output folder unchanged"),
        (ConfigError("bad value", tip="fix it"), 2, "manywheel: error: bad value"),
    ],
)  # fmt: skip
def test_errors_become_one_message_and_an_exit_code(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *,
    error: BaseException,
    code: int,
    message: str,
) -> None:
    def build(options: Options, listener: Listener) -> RunResult:
        raise error

    monkeypatch.setattr(cli, "build", build)
    assert main(["build", str(project(tmp_path))]) == code
    err = capsys.readouterr().err
    assert err.splitlines()[0] == message
    assert "Traceback" not in err
    assert ("manywheel: tip: fix it" in err) == isinstance(error, ConfigError)
    if isinstance(error, OSError):  # --debug adds the traceback
        assert main(["build", "--debug", str(tmp_path / "proj")]) == code
        assert "Traceback" in capsys.readouterr().err


def test_sigterm_is_raised_as_terminated() -> None:
    assert signal.getsignal(signal.SIGTERM) is not None
    with pytest.raises(Terminated):
        cli._on_sigterm(signal.SIGTERM, None)


def test_how_events_are_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(sys, "stderr", Tty())
    assert isinstance(cli._listener(1), LiveRenderer)
    assert isinstance(cli._listener(2), PlainRenderer)  # build output: plain lines
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert isinstance(cli._listener(1), PlainRenderer)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert isinstance(cli._listener(1), GitHubRenderer)


def test_init_writes_a_table_or_prints_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "proj"
    folder.mkdir()
    assert main(["init", str(folder), "--stdout"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("[tool.manywheel]")
    assert not (folder / "pyproject.toml").exists()
    assert main(["init", str(folder)]) == 0
    assert (
        capsys.readouterr().out
        == f"wrote [tool.manywheel] (0 key(s)) to {folder / 'pyproject.toml'}\n"
    )
    assert (folder / "pyproject.toml").read_text() == printed
    assert main(["init", str(folder), "--from-cibuildwheel"]) == 2
    assert "already has [tool.manywheel]" in capsys.readouterr().err
    assert main(["init", str(folder), "--from-cibuildwheel", "--stdout"]) == 2
    assert "has no [tool.cibuildwheel] table" in capsys.readouterr().err


def test_init_appends_to_an_existing_pyproject(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[project]\nname = "x"\n\n\n')
    assert main(["init", str(folder)]) == 0
    text = (folder / "pyproject.toml").read_text()
    assert text.startswith('[project]\nname = "x"\n\n[tool.manywheel]')


def test_completion_prints_a_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == 0
    out = capsys.readouterr().out
    assert "_manywheel" in out
    assert "complete " in out


def test_entrypoint_exits_with_mains_code(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    monkeypatch.setattr(sys, "argv", ["manywheel", "report", str(tmp_path / "none.json")])
    with pytest.raises(SystemExit) as info:
        cli.entrypoint()
    assert info.value.code == 2
    assert "cannot read the report" in capsys.readouterr().err


A1 = Target("cp313-manylinux_aarch64", "3.13.9", False, "/opt/python/cp313-cp313/bin/python",
            "manylinux_aarch64", "arm:1")  # fmt: skip
X1 = Target(T1.identifier, T1.version, False, T1.python, "manylinux_x86_64", "x86:1")
TWO = Plan(
    (
        BuildImage("x86:1", "sha256:" + "11" * 32, FACTS, "x86_64", "manylinux-x86_64-image"),
        BuildImage("arm:1", "sha256:" + "22" * 32,
                   ImageFacts("manylinux_aarch64", "manylinux_2_28_aarch64", "dnf", "bash", (A1,)),
                   "aarch64", "manylinux-aarch64-image"),
    ),
    (X1, A1),
)  # fmt: skip


def test_plan_formats_with_two_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "plan", lambda options, listener: TWO)
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    folder = project(tmp_path)
    assert main(["plan", str(folder), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {  # no single image: only the list
        "images": [
            {"image": "x86:1", "image_id": "sha256:" + "11" * 32,
             "platform": "manylinux_x86_64", "key": "manylinux-x86_64-image"},
            {"image": "arm:1", "image_id": "sha256:" + "22" * 32,
             "platform": "manylinux_aarch64", "key": "manylinux-aarch64-image"},
        ],
        "targets": [
            {"identifier": X1.identifier, "version": "3.13.9", "python": X1.python,
             "platform": "manylinux_x86_64", "image": "x86:1"},
            {"identifier": A1.identifier, "version": "3.13.9", "python": A1.python,
             "platform": "manylinux_aarch64", "image": "arm:1"},
        ],
    }  # fmt: skip
    assert main(["plan", str(folder), "--format", "github-matrix"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "include": [
            {"only": X1.identifier, "python": "3.13.9", "image": "x86:1",
             "platform": "manylinux_x86_64", "arch": "x86_64"},
            {"only": A1.identifier, "python": "3.13.9", "image": "arm:1",
             "platform": "manylinux_aarch64", "arch": "aarch64"},
        ]
    }  # fmt: skip
    assert main(["plan", str(folder)]) == 0
    assert capsys.readouterr().out.splitlines()[:7] == [
        "image:    x86:1 (sha256:111111111111)",
        "platform: manylinux_x86_64",
        "image:    arm:1 (sha256:222222222222)",
        "platform: manylinux_aarch64, emulated",
        "targets:",
        f"  {X1.identifier}  (Python 3.13.9, {X1.python})",
        f"  {A1.identifier}  (Python 3.13.9, {A1.python})",
    ]


def test_the_report_of_two_images(tmp_path: Path) -> None:
    wheel = tmp_path / "dist" / "demo-1-cp313-cp313-manylinux_2_28_aarch64.whl"
    results = [TargetResult(X1, "failed", [], seconds=1.0, error="build step failed (exit 1)"),
               TargetResult(A1, "built", [wheel], seconds=60.0)]  # fmt: skip
    data = report_data(RunResult("run-2", TWO, results, output_dir=tmp_path / "dist"))
    assert data["image"] == ["x86:1", "arm:1"]
    assert data["image_id"] is None
    assert [(i["image"], i["platform"], i["key"]) for i in data["images"]] == [
        ("x86:1", "manylinux_x86_64", "manylinux-x86_64-image"),
        ("arm:1", "manylinux_aarch64", "manylinux-aarch64-image"),
    ]
    assert [(t["identifier"], t["image"], t["platform"], t["status"]) for t in data["targets"]] == [
        (X1.identifier, "x86:1", "manylinux_x86_64", "failed"),
        (A1.identifier, "arm:1", "manylinux_aarch64", "built"),
    ]
    # A report of one image keeps the shape it had before the matrix.
    one = report_data(run_result(tmp_path, "built"))
    assert (one["image"], one["image_id"]) == ("img:1", "sha256:1")
    assert one["targets"][0]["image"] is None  # a target made without its image
    # Reports of matrix runs merge: every image of every report.
    merged = merge_reports([(Path("a.json"), data), (Path("b.json"), dict(one, targets=[]))])
    assert merged["image"] == ["arm:1", "img:1", "x86:1"]


def test_export_of_a_matrix_writes_a_dockerfile_per_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "plan", lambda options, listener: TWO)
    folder = project(tmp_path, 'system-packages = ["zlib-devel"]\n')
    assert main(["export", "docker", str(folder), "--engine", "docker"]) == 0
    out = folder / "manywheel-export"
    assert not (out / "Dockerfile").exists()
    x86 = (out / "images" / "manylinux_x86_64" / "Dockerfile").read_text()
    arm = (out / "images" / "manylinux_aarch64" / "Dockerfile").read_text()
    assert "FROM x86:1" in x86
    assert "FROM arm:1" in arm
    assert (out / "images" / "manylinux_aarch64" / "prepare" / "prepare.sh").is_file()
    script = (out / "build-wheels.sh").read_text()
    assert "build_image images/manylinux_x86_64 linux/amd64\n" in script
    assert "build_image images/manylinux_aarch64 linux/arm64\n" in script
    assert f"build_target {X1.identifier} 0 linux/amd64\n" in script
    assert f"build_target {A1.identifier} 1 linux/arm64\n" in script


def builders_answer(monkeypatch: pytest.MonkeyPatch, *, qemu_here: bool = True) -> list[list[str]]:
    """Builders answer `info` as docker would: local is a 2-core x86_64 machine, a context
    arm-box an 8-core aarch64 one, any other context a 4-core x86_64 one."""
    asked: list[list[str]] = []

    def runner(argv: Sequence[str], env: Mapping[str, str]) -> ExecResult:
        asked.append(list(argv))
        context = argv[2] if argv[1] == "--context" else None
        arch, cpus = {None: ("x86_64", 2), "arm-box": ("aarch64", 8)}.get(context, ("x86_64", 4))
        info = {**DOCKER_INFO, "Architecture": arch, "NCPU": cpus}
        return ExecResult(0, json.dumps(info), "")

    monkeypatch.setattr(discovery, "run_client", runner)
    problem = None if qemu_here else "no QEMU registered here"
    monkeypatch.setattr(discovery, "emulation_problem", lambda arch, **kw: problem)
    return asked


def test_plan_shows_the_builder_of_each_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "plan", lambda options, listener: TWO)
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    builders_answer(monkeypatch)
    folder = project(tmp_path)
    args = ["plan", str(folder), "--builders", "local", "--builders", "docker:arm-box",
            "--log-dir", str(tmp_path / "logs")]  # fmt: skip
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[:10] == [
        "image:    x86:1 (sha256:111111111111)",
        "platform: manylinux_x86_64",
        "image:    arm:1 (sha256:222222222222)",
        "platform: manylinux_aarch64",  # emulated here, native on arm-box: the target says
        "builders:",
        "  local  docker 27.3.1, x86_64, 2 cores: 1 target, 1 at once, 2 cores each",
        "  arm-box  docker 27.3.1 (docker:arm-box), aarch64, 8 cores: 1 target, 1 at once, "
        "8 cores each",
        "targets:",
        f"  {X1.identifier}  (Python 3.13.9, {X1.python})  on local",
        f"  {A1.identifier}  (Python 3.13.9, {A1.python})  on arm-box",
    ]
    assert main([*args, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(t["identifier"], t["builder"]) for t in data["targets"]] == [
        (X1.identifier, "local"), (A1.identifier, "arm-box")
    ]  # fmt: skip
    assert data["builders"] == [
        {"name": "local", "endpoint": "local", "engine": "docker", "version": "27.3.1",
         "arch": "x86_64", "cpus": 2, "targets": [X1.identifier], "emulated": [],
         "unchecked": [], "at_once": 1, "cores_per_target": 2},
        {"name": "arm-box", "endpoint": "docker:arm-box", "engine": "docker",
         "version": "27.3.1", "arch": "aarch64", "cpus": 8, "targets": [A1.identifier],
         "emulated": [], "unchecked": [], "at_once": 1, "cores_per_target": 8},
    ]  # fmt: skip
    # One CI runner per target: builders do not apply, and are not asked.
    monkeypatch.setattr(discovery, "run_client", None)
    assert main([*args, "--format", "github-matrix"]) == 0
    assert [e["only"] for e in json.loads(capsys.readouterr().out)["include"]] == [
        X1.identifier, A1.identifier
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("qemu_here", "where"),
    [(True, "on local, emulated"),
     (False, "on x86-2, emulated (whether it has QEMU is not known until tried)")],
)  # fmt: skip
def test_plan_shows_where_a_target_is_emulated(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    qemu_here: bool,
    where: str,
) -> None:
    monkeypatch.setattr(cli, "plan", lambda options, listener: TWO)
    builders_answer(monkeypatch, qemu_here=qemu_here)
    folder = project(tmp_path)
    args = ["plan", str(folder), "--builders", "local docker:x86-2", "--log-dir", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"  {A1.identifier}  (Python 3.13.9, {A1.python})  {where}" in out


def test_plan_with_builders_that_cannot_run_a_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "plan", lambda options, listener: TWO)
    monkeypatch.setenv("MANYWHEEL_BUILDERS", "local,x86-2")
    monkeypatch.setenv("MANYWHEEL_ENGINE", "podman")  # so x86-2 is a podman connection
    asked: list[list[str]] = []

    def podman(argv: Sequence[str], env: Mapping[str, str]) -> ExecResult:
        """Two x86_64 podmans that emulate s390x only (their own list: binfmt_misc unread)."""
        asked.append(list(argv))
        host = {**PODMAN_INFO["host"], "emulatedArchitectures": ["linux/s390x"]}  # type: ignore[dict-item]
        return ExecResult(0, json.dumps({**PODMAN_INFO, "host": host}), "")

    monkeypatch.setattr(discovery, "run_client", podman)
    folder = project(tmp_path)
    assert main(["plan", str(folder), "--log-dir", str(tmp_path)]) == 4
    assert sorted(asked) == [
        ["podman", "--connection", "x86-2", "info", "--format", "{{json .}}"],
        ["podman", "info", "--format", "{{json .}}"],
    ]
    err = capsys.readouterr().err
    assert (
        f"manywheel: error: no builder can run {A1.identifier} (aarch64): local is x86_64 and "
        "emulates s390x; x86-2 is x86_64 and emulates s390x\n"
    ) in err
    assert "manywheel: tip: add a builder that is aarch64, register QEMU for it" in err


def test_build_takes_builders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Options] = []
    monkeypatch.setattr(cli, "_build", lambda options, *a, **kw: seen.append(options) or 0)
    assert main(["build", str(project(tmp_path)), "--builders", "local,arm-box"]) == 0
    assert seen[0].builders == ("local", "arm-box")
    assert seen[0].notes == ()  # (builders are used: no "not used yet" warning any more)


def test_cache_list_and_clean_reach_every_builder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = project(tmp_path)
    root = open_cache_root(tmp_path / "cache")
    remote = FakeEngine()
    mine, _ = cache_volume(str(root.id), "ns1")
    theirs, labels = cache_volume("0ther", "ns1")
    remote.create_volume(mine, cache_volume(str(root.id), "ns1")[1])
    remote.create_volume(theirs, labels)
    monkeypatch.setattr(cli, "container_engine_for", lambda choice: FakeEngine())
    monkeypatch.setattr(cli, "builder_engine", lambda builder, registry: remote)
    base = [str(folder), "--cache-dir", str(root.path), "--builders", "local,docker:big"]
    assert main(["cache", "list", *base]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2:] == [
        f"big: volume {mine}",
        "builder big: 0 prepared environment(s), 1 cache volume(s)",
    ]
    assert main(["cache", "clean", *base]) == 0
    assert set(remote.volumes_made) == {mine, theirs}  # volumes go with --downloads only
    assert main(["cache", "clean", "--downloads", *base]) == 0
    assert f"removed volume {mine} on big" in capsys.readouterr().out.splitlines()
    assert set(remote.volumes_made) == {theirs}  # another cache folder's stays
