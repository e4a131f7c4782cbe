"""Foreign-architecture wheels compiled by zig run natively in the emulated container
(``cross-compilers = auto``, issue 14), against the arm64 fixture image, on both engines.

Each build makes the x86_64 wheel (native gcc) and the aarch64 one (zig) in one run, and tests
each in a pristine container of its own architecture (under QEMU for aarch64): both must
compute the same results, the aarch64 wheel must be repaired by auditwheel and its build log
must say zig compiled it. Then the C example's cross compilers are made to fail their probe
(a CFLAGS zig's clang does not know, which gcc takes): the target builds with the image's own,
emulated, compilers, with a warning, into a wheel with the same results and the same policy.

To keep CI's emulated minutes down, each test runs on one engine: the C example (zig, then the
fallback) on docker, the C++ extension on podman; the matrix test (test_matrix.py) builds the
C example's aarch64 wheel with zig on both engines, tests it in an arm64 container and checks
the log line.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from manywheel._cache import default_cache_dir
from manywheel._engines.emulation import emulation_problem
from manywheel._venvcache import project_namespace
from tests.conftest import FIXTURE_IMAGE, FIXTURE_IMAGE_ARM64, required_engines
from tests.integration.helpers import leftover_containers, manywheel, wheels

pytestmark = [pytest.mark.engine, pytest.mark.timeout(1800)]
Example = Callable[[str], Path]

KEYS = (
    "--manylinux-x86_64-image",
    FIXTURE_IMAGE,
    "--manylinux-aarch64-image",
    FIXTURE_IMAGE_ARM64,
    "--python",
    "3.13",
)
ZIG_LINE = "manywheel: cross compilers: zig "
# auditwheel show's verdict (wrapped over two log lines, each with its time stamp)
CONSISTENT = re.compile(r"is consistent with\s+(\[\s*[\d.]+s\]\s+)?the following platform tag")
# A flag gcc takes and zig's clang refuses: the documented way to see the fallback.
REFUSED_FLAG = "-fconserve-stack"


@pytest.fixture
def arm_engine(engine: str) -> str:
    """The engine, with the x86_64 and arm64 fixture images and QEMU for aarch64."""
    problem = emulation_problem("aarch64")
    problems = [] if problem is None else [problem]
    for image in (FIXTURE_IMAGE, FIXTURE_IMAGE_ARM64):
        r = subprocess.run([engine, "image", "inspect", image], capture_output=True, check=False)
        if r.returncode != 0:
            problems.append(f"{image} missing in {engine} (run tests/images/build-fixture.sh)")
    if problems:
        if engine in required_engines():
            pytest.fail("cross-compiler test cannot run: " + "; ".join(problems))
        pytest.skip("ARM64 FIXTURE NOT AVAILABLE, test skipped: " + "; ".join(problems))
    return engine


def _test_command(module: str, expression: str) -> tuple[str, str]:
    """Import the wheel in its pristine container, print its results, audit the wheel."""
    python = f"import {module}, platform; print('MW-RESULT', platform.machine(), {expression})"
    return "--test-command", f'python -c "{python}" && auditwheel show {{wheel}}'


def _log(project: Path, ident: str) -> str:
    return (project.parent / "logs" / "latest" / f"{ident}.log").read_text()


def _result(log: str, arch: str) -> str:
    found = re.findall(rf"MW-RESULT {arch} (.*)", log)
    assert len(found) == 1, log[-3000:]
    return found[0].strip()


def _wheel(project: Path, arch: str) -> Path:
    (wheel,) = [w for w in wheels(project) if w.name.endswith(f"_{arch}.whl")]
    return wheel


def _policy(wheel: Path) -> str:
    """The platform tags of a wheel's name (its auditwheel policy)."""
    return wheel.name.rsplit("-", 1)[1].removesuffix(".whl")


def _check_both(project: Path, stdout: str, module: str) -> tuple[str, str]:
    """Both wheels built and tested with the same results; zig compiled aarch64 only.
    Returns the aarch64 log and its result."""
    arm, x86 = _log(project, "cp313-manylinux_aarch64"), _log(project, "cp313-manylinux_x86_64")
    assert ZIG_LINE + "0." in arm, arm[-3000:]
    assert "-target aarch64-linux-gnu.2." in arm
    assert "/manywheel/cross/bin/c" in arm  # the build called the wrappers
    assert ZIG_LINE not in x86  # a native target keeps the image's compilers
    assert "failed their probe" not in stdout
    result = _result(arm, "aarch64")
    assert result == _result(x86, "x86_64")
    for log, arch in ((arm, "aarch64"), (x86, "x86_64")):
        assert CONSISTENT.search(log), log[-3000:]
        wheel = _wheel(project, arch)
        assert "-cp313-cp313-manylinux" in wheel.name
        assert f"_{arch}" in _policy(wheel)
        assert module in wheel.name
    return arm, result


@pytest.mark.parametrize("engine", ["docker"], indirect=True)
def test_c_example_cross_compiled_then_falls_back_to_gcc(arm_engine: str, example: Example) -> None:
    """The C example: zig for aarch64; then, with a CFLAGS zig refuses, the probe fails and the
    same output folder gets the aarch64 wheel from the image's gcc: same results, same policy."""
    project = example("c-extension")
    test = _test_command("mw_cext", "mw_cext.add(2, 3), mw_cext.add(-7, 10**12)")
    r = manywheel(project, arm_engine, *KEYS, "--archs", "x86_64 aarch64", *test, image=None)
    assert r.returncode == 0, r.stdout + r.stderr
    _, result = _check_both(project, r.stdout + r.stderr, "mw_cext")
    assert result == "5 999999999993"
    zig_policy = _policy(_wheel(project, "aarch64"))

    flags = f"CFLAGS={REFUSED_FLAG}"
    r = manywheel(
        project, arm_engine, *KEYS, "--archs", "aarch64", "--environment", flags, *test,
        image=None,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    said = r.stdout + r.stderr
    assert re.search(r"^cp313-manylinux_aarch64 +built ", r.stdout, re.M), said
    assert "cross compilers (zig" in said, said
    assert "failed their probe" in said
    log = _log(project, "cp313-manylinux_aarch64")
    assert "manywheel: warning: the cross compilers" in log
    assert f'unknown clang option: "{REFUSED_FLAG}"' in log  # the probe's output, kept
    assert ZIG_LINE + "0." not in log
    assert "/manywheel/cross/bin/c" not in log.split("== build", 1)[1]  # gcc, not the wrappers
    assert _result(log, "aarch64") == result
    assert CONSISTENT.search(log)
    assert _policy(_wheel(project, "aarch64")) == zig_policy  # auditwheel: the same policy
    assert leftover_containers(arm_engine, project) == []
    # Both aarch64 builds kept their bytecode in the project's cache (seeded once, by the
    # first): setuptools of build's isolated environment, build of the venv. x86_64 none.
    kept = default_cache_dir() / "downloads" / project_namespace(project) / "bytecode"
    (prefix,) = kept.glob("*-cp313-manylinux_aarch64")
    assert not list(kept.glob("*x86_64"))
    assert (prefix / ".seeded-cpython-313").is_file()
    assert "bytecode cache: seeded with" not in log  # the second build found the seed
    site = prefix / "manywheel" / "build-env" / "lib" / "python3.13" / "site-packages"
    assert list((site / "setuptools").glob("__init__.cpython-313.pyc"))
    assert list(prefix.glob("manywheel/venv/lib/python3.13/site-packages/build/*.pyc"))


@pytest.mark.parametrize("engine", ["podman"], indirect=True)
def test_cxx_extension_cross_compiled(arm_engine: str, example: Example) -> None:
    project = example("cxx-extension")
    test = _test_command("mw_cxx", "mw_cxx.check()")
    r = manywheel(project, arm_engine, *KEYS, "--archs", "x86_64 aarch64", *test, image=None)
    assert r.returncode == 0, r.stdout + r.stderr
    _, result = _check_both(project, r.stdout + r.stderr, "mw_cxx")
    assert (
        result
        == "median=2.5 counts=[('a', 3), ('b', 2), ('c', 1)] error='median of an empty sequence'"
    )
