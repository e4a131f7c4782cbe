"""The script that tests a built wheel in a fresh venv, run for real on this machine."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from manywheel import Options
from manywheel._layout import Layout
from manywheel._model import Target
from manywheel._scripts import wheel_tests
from manywheel._scripts.wheel_tests import TEST_EXIT, wants_tests

TARGET = Target("cp313-manylinux_x86_64", "3.13.1", False, sys.executable)
MARK = "::mark::"


def pure_wheel(folder: Path) -> Path:
    """A minimal installable wheel: package ``demo`` with ``ANSWER = 42``."""
    files = {
        "demo/__init__.py": b"ANSWER = 42\n",
        "demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
        "demo-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("demo-1.0.dist-info/RECORD,,")
    wheel = folder / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr("demo-1.0.dist-info/RECORD", "\n".join(record) + "\n")
    return wheel


@pytest.mark.parametrize(
    ("command", "skip", "wanted"),
    [
        (None, (), False),
        ("", (), False),
        ("pytest", (), True),
        ("pytest", ("cp313-*",), False),
        ("pytest", ("cp312-*", "*-musllinux_*"), True),
    ],
)
def test_wants_tests(command: str | None, skip: tuple[str, ...], wanted: bool) -> None:
    options = Options(Path("/p"), test_command=command, test_skip=skip)
    assert wants_tests(options, TARGET) is wanted


def run(
    tmp_path: Path,
    options: Options,
    target: Target = TARGET,
    *,
    has_ca: bool = False,
    search_path: str | None = None,
    environ: dict[str, str] | None = None,
) -> tuple[subprocess.CompletedProcess[str], str, dict[str, bytes]]:
    layout = Layout(work=str(tmp_path / "work"), project=str(tmp_path / "project"))
    (tmp_path / "project").mkdir(exist_ok=True)
    wheel = pure_wheel(tmp_path)
    script, files = wheel_tests.testing_script(options, target, wheel, MARK, has_ca, layout=layout)
    for name, data in files.items():
        path = Path(layout.inbox) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    proc = subprocess.run(
        ["/bin/sh", "-c", script], capture_output=True, text=True, timeout=300, check=False,
        env={**(environ or os.environ), "PATH": search_path or _without_uv(os.environ["PATH"])},
    )  # fmt: skip
    return proc, script, files


def _without_uv(path: str) -> str:
    """PATH without the folders that have a uv: this machine's uv is not the test's."""
    return os.pathsep.join(d for d in path.split(os.pathsep) if not shutil.which("uv", path=d))


def test_the_wheel_is_installed_and_the_command_runs_with_placeholders(tmp_path: Path) -> None:
    options = Options(
        tmp_path / "project",
        test_command='python -c "import demo; print(demo.ANSWER)" > {project}/ran.txt\n'
        "echo {package} {wheel} >> {project}/ran.txt\npwd >> {project}/ran.txt",
        pip_index_url="https://mirror.example/simple",
    )
    proc, script, files = run(tmp_path, options)
    assert proc.returncode == 0, proc.stderr
    inbox = tmp_path / "work" / "in"
    project = tmp_path / "project"
    assert (project / "ran.txt").read_text().splitlines() == [
        "42",
        f"{project} {inbox}/wheel/demo-1.0-py3-none-any.whl",
        f"{inbox}/testcwd",  # not the project: the installed wheel is what is imported
    ]
    steps = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
    assert steps == [f"{MARK} step test", f"{MARK} step done"]
    assert "export PIP_INDEX_URL=https://mirror.example/simple" in script
    assert sorted(files) == [
        "make-venv.sh",
        "test-command.sh",
        "test_fail.py",
        "wheel/demo-1.0-py3-none-any.whl",
    ]


def fake_python(folder: Path, pip_exit: int) -> str:
    """Stands for CPython, fast: ``-m venv --without-pip DIR`` makes DIR/bin/activate and
    DIR/bin/python; it has no pip to copy, ensurepip works, ``-m pip ...`` exits
    ``pip_exit``."""
    exe = folder / "fake-python"
    exe.write_text(
        "#!/bin/sh\n"
        'if [ "$1 $2 $3" = "-m venv --without-pip" ]; then\n'
        '  mkdir -p "$4/bin" && cp "$0" "$4/bin/python"\n'
        '  printf \'PATH=%s:$PATH\\n\' "$4/bin" > "$4/bin/activate"\n'
        "  exit 0\n"
        "fi\n"
        'case "$1 $2" in -c*purelib*) echo "$0.site"; exit 0 ;; -c*) exit 1 ;; esac\n'
        '[ "$1 $2" = "-m ensurepip" ] && exit 0\n'
        f"exit {pip_exit}\n"
    )
    exe.chmod(0o755)
    return str(exe)


@pytest.mark.parametrize(
    ("python", "pip_exit", "command", "message"),
    [
        ("/nonexistent/python", 0, "true", "could not create the test venv"),
        ("fake", 1, "true", "installing the wheel for testing failed"),
        ("fake", 0, "echo testing; exit 3", "test-command failed (exit 3)"),
    ],
)
def test_a_failing_step_exits_with_the_test_code(
    tmp_path: Path, python: str, pip_exit: int, command: str, message: str
) -> None:
    if python == "fake":
        python = fake_python(tmp_path, pip_exit)
    target = Target(TARGET.identifier, TARGET.version, False, python)
    proc, _, _ = run(tmp_path, Options(tmp_path / "project", test_command=command), target)
    assert proc.returncode == TEST_EXIT
    assert proc.stderr.splitlines()[-1] == f"manywheel: error: {message}"
    assert (f"{MARK} step done" in proc.stdout) is False


def test_ca_bundle_and_test_requires(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    options = Options(
        tmp_path, test_command="pytest", test_requires=("pytest>=8", "hypothesis"), ca_bundle=ca
    )
    layout = Layout(work="/w", project="/p")
    script, files = wheel_tests.testing_script(
        options, TARGET, pure_wheel(tmp_path), MARK, True, layout=layout
    )
    assert files["ca-bundle.crt"] == ca.read_bytes()
    assert "export SSL_CERT_FILE=/w/in/ca-bundle.crt PIP_CERT=/w/in/ca-bundle.crt" in script
    assert "python -m pip install /w/in/wheel/demo-1.0-py3-none-any.whl; fi; } ||" in script
    assert "python -m pip install 'pytest>=8' hypothesis; fi; } ||" in script
    # has_ca without a ca-bundle option (the prepared image's bundle): an empty file, no crash.
    _, files = wheel_tests.testing_script(
        Options(tmp_path, test_command="true"), TARGET, pure_wheel(tmp_path), MARK, True,
        layout=layout,
    )  # fmt: skip
    assert files["ca-bundle.crt"] == b""


def test_testing_works_as_cibuildwheel_tests(tmp_path: Path) -> None:
    """The build environment, then the venv and test-environment; before-test in the project;
    the test command in a folder with the test-sources only."""
    project = tmp_path / "project"
    (project / "tests" / "unit").mkdir(parents=True)
    (project / "tests" / "unit" / "test_x.py").write_text("x = 1\n")
    (project / "data.txt").write_text("data\n")
    (project / "not-copied.txt").write_text("no\n")
    options = Options(
        project,
        environment=(("FROM_BUILD", '"built"'),),
        test_environment=(("IN_VENV", '"$VIRTUAL_ENV"'), ("BOTH", '"$FROM_BUILD-tested"')),
        before_test="pwd > before.txt\necho {project} >> before.txt",
        test_sources=("tests/unit", "data.txt"),
        test_command="find . -type f | sort > {project}/seen.txt\n"
        'echo "$IN_VENV $BOTH $CIBUILDWHEEL $CIBUILDWHEEL_BUILD_IDENTIFIER" > {project}/env.txt',
    )
    proc, _, files = run(tmp_path, options)
    assert proc.returncode == 0, proc.stderr
    assert "test_fail.py" not in files
    assert (project / "before.txt").read_text().splitlines() == [str(project), str(project)]
    assert (project / "seen.txt").read_text().splitlines() == [
        "./data.txt",
        "./tests/unit/test_x.py",
    ]
    venv = tmp_path / "work" / "in" / "testenv"
    assert (project / "env.txt").read_text().split() == [
        str(venv),
        "built-tested",
        "1",
        "cp313-manylinux_x86_64",
    ]


def test_a_missing_test_source_or_failing_before_test_fails_the_test_step(tmp_path: Path) -> None:
    project = tmp_path / "project"
    proc, _, _ = run(tmp_path, Options(project, test_command="true", test_sources=("nope",)))
    assert proc.returncode == TEST_EXIT
    assert "test-sources: nope is not in the project" in proc.stderr
    proc, _, _ = run(tmp_path, Options(project, test_command="true", before_test="exit 4"))
    assert proc.returncode == TEST_EXIT
    assert "before-test failed (exit 4)" in proc.stderr


def test_extras_and_dependency_groups(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[dependency-groups]\ntest = ["pytest>=8", {include-group = "Lint_tools"}]\n'
        'lint-tools = ["ruff"]\n'
    )
    options = Options(
        project, test_command="true", test_extras=("test", "qt"), test_groups=("test",),
        test_requires=("numpy",),
    )  # fmt: skip
    layout = Layout(work="/w", project="/p")
    script, _ = wheel_tests.testing_script(
        options, TARGET, pure_wheel(tmp_path), MARK, False, layout=layout
    )
    assert "python -m pip install '/w/in/wheel/demo-1.0-py3-none-any.whl[test,qt]'; fi" in script
    assert "python -m pip install numpy 'pytest>=8' ruff; fi; } ||" in script


def fake_uv(folder: Path) -> Path:
    """A ``uv`` that records its arguments and the venv it installs into, and installs
    nothing (the test command, ``true``, imports nothing)."""
    bin_dir = folder / "fake-uv-bin"
    bin_dir.mkdir()
    uv = bin_dir / "uv"
    uv.write_text(f'#!/bin/sh\necho "$VIRTUAL_ENV $*" >> {folder}/uv-calls\n')
    uv.chmod(0o755)
    return bin_dir


@pytest.mark.parametrize(
    "pip_variable", [None, "PIP_PROGRESS_BAR=off", "before-test writes the venv's pip.conf"]
)
def test_the_wheel_and_test_requires_go_in_with_uv_where_the_image_has_it(
    tmp_path: Path, pip_variable: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the build: uv when the image has it and pip is not configured; a PIP_* variable of
    test-environment, or a pip.conf that before-test writes in the test venv, configures it:
    then pip."""
    # No pip configuration here, as in a plain image (this machine's pip.conf is not one).
    venv_only = ("${VIRTUAL_ENV:-/nonexistent}/pip.conf",)
    monkeypatch.setattr(wheel_tests, "TEST_PIP_CONFIG_FILES", venv_only)
    uv_bin = fake_uv(tmp_path)
    configures = pip_variable is not None and "=" in pip_variable
    environment = (tuple(pip_variable.split("=", 1)),) if configures else ()
    before = (
        'printf "[global]\\n" > "$VIRTUAL_ENV/pip.conf"' if pip_variable and not configures else ""
    )
    options = Options(
        tmp_path / "project",
        test_command="true",
        before_test=before,
        test_requires=("pytest>=8",),
        test_environment=environment,  # type: ignore[arg-type]
        installer="uv",  # the pristine image may lack the uv a prepared one had: auto here
    )
    path = f"{uv_bin}{os.pathsep}{_without_uv(os.environ['PATH'])}"
    unconfigured = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    proc, script, _ = run(tmp_path, options, search_path=path, environ=unconfigured)
    if pip_variable is None:
        assert proc.returncode == 0, proc.stderr
        assert f"manywheel: installing with uv (auto: found {uv_bin / 'uv'})" in proc.stdout
        venv = tmp_path / "work" / "in" / "testenv"
        assert (tmp_path / "uv-calls").read_text().splitlines() == [
            f"{venv} pip install --no-cache {tmp_path}/work/in/wheel/demo-1.0-py3-none-any.whl",
            f"{venv} pip install pytest>=8",
        ]
        assert "export UV_LINK_MODE=copy" in script
    else:
        assert proc.returncode == 0, proc.stderr
        by = "PIP_PROGRESS_BAR" if configures else f"{tmp_path}/work/in/testenv/pip.conf"
        assert f"manywheel: installing with pip (auto: pip is configured by {by})" in proc.stdout
        assert not (tmp_path / "uv-calls").exists()
