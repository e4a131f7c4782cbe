"""The whole wheel matrix in one run: x86_64, i686 (natively, under linux32) and aarch64
(under QEMU), each in the fixture image of its architecture (issue 11)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from manywheel import _arch
from manywheel._arch import arch_info, runs_natively
from manywheel._engines.container import Engine
from manywheel._engines.emulation import emulation_problem
from manywheel._engines.process import ProcessRegistry
from tests.conftest import FIXTURE_IMAGE, FIXTURE_IMAGE_ARM64, FIXTURE_IMAGE_I386, required_engines
from tests.integration.helpers import (
    auditwheel_consistent,
    leftover_containers,
    manywheel,
    wheels,
)

pytestmark = [pytest.mark.engine, pytest.mark.timeout(1800)]
Example = Callable[[str], Path]

PYTHONS = ("cp313", "cp314", "cp315")
IMAGES = {"x86_64": FIXTURE_IMAGE, "i686": FIXTURE_IMAGE_I386, "aarch64": FIXTURE_IMAGE_ARM64}
PLATFORM = {"x86_64": "linux/amd64", "i686": "linux/386", "aarch64": "linux/arm64"}
KEYS = [arg for arch, image in IMAGES.items() for arg in (f"--manylinux-{arch}-image", image)]


@pytest.fixture
def matrix_engine(engine: str) -> str:
    """The engine, with the fixture images of every architecture and QEMU for aarch64."""
    problems = [] if emulation_problem("aarch64") is None else [emulation_problem("aarch64")]
    for image in IMAGES.values():
        r = subprocess.run([engine, "image", "inspect", image], capture_output=True, check=False)
        if r.returncode != 0:
            problems.append(f"{image} missing in {engine} (run tests/images/build-fixture.sh)")
    if problems:
        if engine in required_engines():
            pytest.fail("matrix test cannot run: " + "; ".join(str(p) for p in problems))
        pytest.skip("MATRIX NOT AVAILABLE, test skipped: " + "; ".join(str(p) for p in problems))
    return engine


def test_one_run_builds_the_whole_matrix(matrix_engine: str, example: Example) -> None:
    engine = matrix_engine
    project = example("c-extension")
    # Every Python natively; one under QEMU, where a target takes minutes (selected by a skip
    # glob across the matrix, so that works too).
    args = [
        *KEYS,
        "--skip",
        "cp314-manylinux_aarch64 cp315-*_aarch64",
        "--before-build",
        'echo "MW-UNAME=$(uname -m)"',
        "--test-command",
        "python -c \"import mw_cext, platform; print('MW-TESTED', platform.machine(), "
        'mw_cext.add(2, 3), mw_cext.add(-7, 10**12))" && auditwheel show {wheel}',
    ]
    r = manywheel(project, engine, *args, image=None, timeout=1800)
    assert r.returncode == 0, r.stdout + r.stderr
    built = wheels(project)
    assert len(built) == 7, [w.name for w in built]
    logs = project.parent / "logs" / "latest"
    for arch in IMAGES:
        for cp in PYTHONS if arch != "aarch64" else PYTHONS[:1]:
            ident = f"{cp}-manylinux_{arch}"
            assert re.search(rf"^{ident} +built ", r.stdout, re.M)  # one summary for all
            (wheel,) = [
                w for w in built if f"-{cp}-{cp}-" in w.name and w.name.endswith(f"_{arch}.whl")
            ]
            assert "manylinux_2_" in wheel.name, wheel.name
            with zipfile.ZipFile(wheel) as zf:
                assert zf.testzip() is None
            log = (logs / f"{ident}.log").read_text()
            assert f"MW-UNAME={arch}" in log  # uname -m in the build says the target's arch
            # QEMU emulates aarch64 with its cheaper pointer authentication; natively, nothing
            qemu = "manywheel: QEMU emulates QEMU_CPU=max,pauth-impdef=on" in log
            assert qemu == (arch == "aarch64"), log[:3000]
            # aarch64 compiles with zig run natively in its container (cross-compilers = auto)
            zig = "manywheel: cross compilers: zig 0." in log
            assert zig == (arch == "aarch64"), log[-3000:]
            if zig:  # the build called the wrappers; the same policy as gcc's (test_cross_...)
                assert "/manywheel/cross/bin/cc " in log.split("== build", 1)[1]
                assert "manylinux_2_17_aarch64" in wheel.name
            # tested in a pristine container of its own platform, through the wheel's import:
            # the same results everywhere, and auditwheel finds the wheel consistent
            assert f"MW-TESTED {arch} 5 999999999993" in log
            assert auditwheel_consistent(log), log[-3000:]
    report = json.loads((logs / "report.json").read_text())
    assert len(report["targets"]) == 7
    assert {t["platform"] for t in report["targets"]} == {f"manylinux_{a}" for a in IMAGES}
    assert len(report["images"]) == 3
    assert leftover_containers(engine, project) == []

    # Independently of manywheel's own test containers: the cp313 wheel of each platform
    # installs and imports in a plain container of that platform (pip under QEMU is slow: one
    # Python each).
    for arch, image in IMAGES.items():
        script = (
            "/opt/python/cp313-cp313/bin/python -m pip install -q --no-index --find-links "
            "/wheels mw-cext && /opt/python/cp313-cp313/bin/python -c "
            "'import mw_cext, platform; print(platform.machine(), mw_cext.add(2, 3))'"
        )
        prefix = ["linux32"] if arch == "i686" else []
        out = subprocess.run(
            [engine, "run", "--rm", "--platform", PLATFORM[arch], "-v",
             f"{project / 'dist'}:/wheels:ro", image, *prefix, "sh", "-euc", script],
            capture_output=True, text=True, check=False, timeout=900,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.strip() == f"{arch} 5"

    # Unchanged: nothing is rebuilt, each platform's fingerprint stays its own.
    again = manywheel(project, engine, *args, image=None, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("up-to-date") >= 7


def test_qemu_runs_aarch64_commands_with_the_cheaper_cpu_or_without_if_refused(
    matrix_engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real QEMU: the commands in an aarch64 container get QEMU_CPU and run under it, and
    a container committed into an image leaves nothing of it there; a QEMU_CPU this QEMU
    refuses (a property it does not know, as QEMU before pauth-impdef) is found by the
    check and not used, by that container or the engine's later ones."""
    if runs_natively("aarch64"):
        pytest.skip("aarch64 runs natively on this machine: no QEMU to give a CPU")
    engine = Engine(matrix_engine, matrix_engine, ProcessRegistry())
    script = 'echo "cpu=${QEMU_CPU:-none} $(uname -m)"; python3.13 -c "print(2 + 3)"'

    def run(name: str, commit: str | None = None) -> str:
        with engine.container(FIXTURE_IMAGE_ARM64, name, labels={}, arch="aarch64") as ctr:
            r = engine.run_script(ctr, script, timeout=300)
            if commit is not None:
                engine.commit(ctr, commit, {"manywheel.test": "qemu-cpu"})
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout.strip()

    tag = "localhost/manywheel-test-qemu-cpu:committed"
    try:
        said = run("mw-test-qemu-cpu", commit=tag)
        taken = engine._qemu_cpu_taken["aarch64"]  # an older QEMU: refused, and said so
        assert said == ("cpu=max,pauth-impdef=on" if taken else "cpu=none") + " aarch64\n5"
        assert "QEMU_CPU" not in engine.image_env(tag)  # nothing of it in a committed image
    finally:
        subprocess.run([matrix_engine, "rmi", "-f", tag], capture_output=True, check=False)
    refused = replace(arch_info("aarch64"), qemu_cpu="max,pauth-mw-unknown=on")
    monkeypatch.setitem(_arch._BY_NAME, "aarch64", refused)
    engine = Engine(matrix_engine, matrix_engine, ProcessRegistry())
    assert run("mw-test-qemu-cpu-refused") == "cpu=none aarch64\n5"
    assert engine._qemu_cpu_taken == {"aarch64": False}
    assert run("mw-test-qemu-cpu-later") == "cpu=none aarch64\n5"
    r = subprocess.run(
        [matrix_engine, "ps", "-a", "--filter", "name=mw-test-qemu-cpu", "-q"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert r.stdout.strip() == ""


def test_a_wrong_image_for_a_platform_is_refused_before_building(
    matrix_engine: str, example: Example
) -> None:
    project = example("c-extension")
    r = manywheel(project, matrix_engine, "--manylinux-aarch64-image", FIXTURE_IMAGE, image=None)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "'manylinux-aarch64-image' is localhost/manywheel-fixture:forky" in r.stderr
    assert "an image for amd64, not aarch64 (arm64)" in r.stderr  # before it even runs
    assert not (project / "dist").exists()


def test_the_export_builds_each_platform_in_its_image(matrix_engine: str, example: Example) -> None:
    """export docker with a matrix: one Dockerfile per image, each built and run with its
    platform (i686 under linux32), every wheel tagged for its architecture. (Not aarch64: a
    target under QEMU takes a minute more, and the platform flag is the same as i686's.)"""
    engine = matrix_engine
    project = example("c-extension")
    archs = ["i686", "x86_64"]
    keys = [a for arch in archs for a in (f"--manylinux-{arch}-image", IMAGES[arch])]
    cmd = [sys.executable, "-m", "manywheel", "export", "docker", str(project), "--engine", engine,
           "--pull", "never", "--python", "3.13", *keys]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    folder = project / "manywheel-export"
    for arch in archs:
        assert (folder / "images" / f"manylinux_{arch}" / "Dockerfile").is_file()
    run = subprocess.run(
        ["bash", str(folder / "build-wheels.sh")], capture_output=True, text=True, check=False,
        timeout=1200, env={**os.environ, "ENGINE": engine},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    names = sorted(w.name for w in wheels(project))
    assert len(names) == 2, names
    for arch in archs:
        (name,) = [n for n in names if n.endswith(f"_{arch}.whl")]
        assert "-cp313-cp313-manylinux" in name
    out = subprocess.run(
        [engine, "images", "--format", "{{.Repository}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "manywheel-export" not in out
