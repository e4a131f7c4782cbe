"""Foreign-architecture wheels compiled by zig run natively in the emulated container
(``cross-compilers = auto``, issue 14), against the arm64 fixture image, on both engines.

The C++ extension: one run makes the x86_64 wheel (native g++) and the aarch64 one (zig), and
tests each in a pristine container of its own architecture (under QEMU for aarch64): both must
compute the same results, the aarch64 wheel must be repaired by auditwheel and its build log
must say zig compiled it. The C example's zig build is tested the same way by the matrix test
(test_matrix.py, both engines). Here its cross compilers are made to fail their probe (a
CFLAGS zig's clang does not know, which gcc takes): the target builds with the image's own,
emulated, compilers, with a warning, into a wheel with the same results and the same policy.
In both, build (the frontend, around the emulated hooks) and the image's auditwheel run on this
machine's packed Python (_nativepython); that auditwheel writes the same wheel as the emulated
one is tested on its own, with libraries to graft. The bytecode of build's isolated environment
is compiled by the x86_64 fixture image's CPython 3.13, packed (_twinpython); that the aarch64
CPython 3.13 takes those .pyc files as its own is tested on its own too. A project's zig cache
starts as a copy of the seed made once for the image (_zigseed): a fresh project's log says so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from manywheel._cache import default_cache_dir
from manywheel._engines.container import detect_engine
from manywheel._engines.emulation import emulation_problem
from manywheel._layout import CONTAINER
from manywheel._nativepython import image_python, native_python
from manywheel._scripts.cross import native_auditwheel_lines
from manywheel._toolchain import CrossPlan
from manywheel._venvcache import project_namespace
from tests.conftest import (
    FIXTURE_IMAGE,
    FIXTURE_IMAGE_ARM64,
    OUTPUTS,
    PACKAGES,
    required_engines,
)
from tests.integration.helpers import (
    auditwheel_consistent,
    leftover_containers,
    manywheel,
    wheels,
)

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
NATIVE_FRONTEND = re.compile(r"manywheel: frontend: build [0-9.]+ runs natively")
NATIVE_BYTECODE = re.compile(
    r"manywheel: bytecode of the isolated environment compiled natively \(x86_64 Python 3\.13\."
)
FORKED_HOOKS = (
    "manywheel: backend hooks: each in a process forked from one that imported"
    " setuptools.build_meta once"
)
NATIVE_UV = re.compile(
    r"manywheel: uv [0-9.]+ runs natively \(x86_64\) for the image's /usr/local/bin/uv"
)
NATIVE_AUDITWHEEL = re.compile(
    r"manywheel: auditwheel: /usr/local/bin/auditwheel \(auditwheel [0-9.]+\) runs natively: "
    r"x86_64 Python [0-9.]+, acting for aarch64"
)
# A flag gcc takes and zig's clang refuses: the documented way to see the fallback.
REFUSED_FLAG = "-fconserve-stack"
C_POLICY = "manylinux2014_aarch64.manylinux_2_17_aarch64"  # the C example's, zig's and gcc's


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
    assert NATIVE_AUDITWHEEL.search(arm), arm[-3000:]  # and its auditwheel runs emulated there:
    assert "manywheel: auditwheel:" not in x86  # the x86_64 target is not emulated at all
    assert NATIVE_FRONTEND.search(arm), arm[-3000:]  # so does build, around the emulated hooks
    assert NATIVE_BYTECODE.search(arm), arm[-3000:]  # the x86_64 image's CPython 3.13 compiles
    assert FORKED_HOOKS in arm, arm[-3000:]  # setuptools imported once for both hooks
    assert NATIVE_UV.search(arm), arm[-3000:]  # the image's uv release, built for x86_64
    assert "manywheel: uv " not in x86
    assert "manywheel: frontend:" not in x86
    assert "manywheel: backend hooks:" not in x86
    assert "failed their probe" not in stdout
    result = _result(arm, "aarch64")
    assert result == _result(x86, "x86_64")
    for log, arch in ((arm, "aarch64"), (x86, "x86_64")):
        assert auditwheel_consistent(log), log[-3000:]
        wheel = _wheel(project, arch)
        assert "-cp313-cp313-manylinux" in wheel.name
        assert f"_{arch}" in _policy(wheel)
        assert module in wheel.name
    return arm, result


@pytest.mark.parametrize("engine", ["docker", "podman"], indirect=True)
def test_a_failed_probe_falls_back_to_the_image_compilers(
    arm_engine: str, example: Example
) -> None:
    """The C example for aarch64 with a CFLAGS zig refuses: the probe fails, the target builds
    with the image's gcc under QEMU, with a warning, into a wheel with the auditwheel policy of
    the zig-built one; its build requirements come from the native uv, for aarch64 (test_matrix builds and tests that one on both engines). Not tested in a
    container here: this wheel is what every emulated build makes (CI time)."""
    project = example("c-extension")
    flags = f"CFLAGS={REFUSED_FLAG}"
    # A build requirement with compiled code, installed by the native uv: the aarch64 wheel
    # for the target's interpreter, which imports it under QEMU.
    (project / "build-requirements.txt").write_text("markupsafe\n")
    check = "python -c 'import platform, markupsafe._speedups as s; print(\"MW-SPEEDUPS\", platform.machine(), s.__file__)'"
    r = manywheel(
        project, arm_engine, *KEYS, "--archs", "aarch64", "--environment", flags,
        "--build-requirements", "build-requirements.txt", "--before-build", check, image=None,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    said = r.stdout + r.stderr
    assert re.search(r"^cp313-manylinux_aarch64 +built ", r.stdout, re.M), said
    assert "cross compilers (zig" in said, said
    assert "failed their probe" in said
    log = _log(project, "cp313-manylinux_aarch64")
    assert "manywheel: warning: the cross compilers" in log
    assert "manywheel: cross compilers: zig's cache starts from the libc stubs" in log
    assert f'unknown clang option: "{REFUSED_FLAG}"' in log  # the probe's output, kept
    assert ZIG_LINE + "0." not in log
    assert "/manywheel/cross/bin/c" not in log.split("== build", 1)[1]  # gcc, not the wrappers
    assert "Fixed-up wheel written to" in log  # repaired by auditwheel, natively still
    assert NATIVE_AUDITWHEEL.search(log), log[-3000:]
    assert NATIVE_FRONTEND.search(log), log[-3000:]
    assert NATIVE_BYTECODE.search(log), log[-3000:]
    assert FORKED_HOOKS in log
    assert NATIVE_UV.search(log), log[-3000:]
    assert re.search(r"MW-SPEEDUPS aarch64 \S+_speedups\.cpython-313-aarch64-linux-gnu\.so", log)
    assert _policy(_wheel(project, "aarch64")) == C_POLICY  # as zig's (test_matrix)
    assert leftover_containers(arm_engine, project) == []
    # The emulated build kept its bytecode in the project's cache, seeded from the image:
    # setuptools of build's isolated environment, build of the venv.
    assert "manywheel: bytecode cache: seeded with" in log
    kept = default_cache_dir() / "downloads" / project_namespace(project) / "bytecode"
    (prefix,) = kept.glob("*-cp313-manylinux_aarch64")
    assert (prefix / ".seeded-cpython-313").is_file()
    site = prefix / "manywheel" / "build-env" / "lib" / "python3.13" / "site-packages"
    assert list((site / "setuptools").glob("__init__.cpython-313.pyc"))
    assert list(prefix.glob("manywheel/venv/lib/python3.13/site-packages/build/*.pyc"))


@pytest.fixture(scope="module")
def cxx_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the C++ extension for both engines: zig's cache, with the libc++ it builds
    for the target at the first C++ link (about a minute), is per project, so the second
    engine's build finds it there, as a project's next build does."""
    dest = tmp_path_factory.mktemp("cxx") / "cxx-extension"
    shutil.copytree(PACKAGES / "cxx-extension", dest, ignore=OUTPUTS)
    return dest


@pytest.mark.parametrize("engine", ["podman", "docker"], indirect=True)
def test_cxx_extension_cross_compiled(arm_engine: str, cxx_project: Path) -> None:
    project = cxx_project
    shutil.rmtree(project / "dist", ignore_errors=True)  # the other engine's wheels
    test = _test_command("mw_cxx", "mw_cxx.check()")
    args = ("--archs", "x86_64 aarch64", "--force", *test)
    r = manywheel(project, arm_engine, *KEYS, *args, image=None)
    assert r.returncode == 0, r.stdout + r.stderr
    _, result = _check_both(project, r.stdout + r.stderr, "mw_cxx")
    assert (
        result
        == "median=2.5 counts=[('a', 3), ('b', 2), ('c', 1)] error='median of an empty sequence'"
    )


# Builds a wheel of one of the image's own extension modules (the ssl module: auditwheel grafts
# libssl and libcrypto into it), repairs it with the image's auditwheel as it is (emulated) and
# with the one native-auditwheel.sh sets up, and compares the two wheels byte for byte.
SAME_REPAIR = r"""
set -eu
export SOURCE_DATE_EPOCH=1700000000
so=$(python3.13 -c 'import _ssl; print(_ssl.__file__)')
mkdir -p /tmp/w/x /tmp/w/x-1.0.dist-info /tmp/emulated /tmp/native
cp "$so" /tmp/w/x/
printf 'Metadata-Version: 2.1\nName: x\nVersion: 1.0\n' > /tmp/w/x-1.0.dist-info/METADATA
printf 'Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: false\nTag: cp313-cp313-linux_aarch64\n' \
  > /tmp/w/x-1.0.dist-info/WHEEL
python3.13 - <<'PY'
import base64, hashlib, os, zipfile
rows = []
with zipfile.ZipFile("/tmp/x-1.0-cp313-cp313-linux_aarch64.whl", "w", zipfile.ZIP_DEFLATED) as z:
    for d, _, names in sorted(os.walk("/tmp/w")):
        for n in sorted(names):
            path = os.path.join(d, n)
            arc, data = os.path.relpath(path, "/tmp/w"), open(path, "rb").read()
            z.writestr(arc, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            rows.append(f"{arc},sha256={digest.decode()},{len(data)}")
    z.writestr("x-1.0.dist-info/RECORD", "\n".join([*rows, "x-1.0.dist-info/RECORD,,"]) + "\n")
PY
auditwheel repair -w /tmp/emulated /tmp/x-1.0-cp313-cp313-linux_aarch64.whl
sh /in/native-auditwheel.sh /manywheel/native/bin/python /tmp/shim aarch64 /in
/tmp/shim/auditwheel repair -w /tmp/native /tmp/x-1.0-cp313-cp313-linux_aarch64.whl
ls /tmp/native
cmp /tmp/emulated/*.whl /tmp/native/*.whl && echo MW-SAME-WHEEL
python3.13 -c 'import glob, zipfile; print("MW-GRAFTED", sorted(n for n in zipfile.ZipFile(glob.glob("/tmp/native/*.whl")[0]).namelist() if ".libs/" in n))'
"""


@pytest.mark.parametrize("engine", ["docker", "podman"], indirect=True)
def test_native_auditwheel_repairs_as_the_emulated_one(arm_engine: str, tmp_path: Path) -> None:
    """The image's auditwheel on this machine's packed Python, acting for aarch64, writes the
    same wheel as on the image's own Python under QEMU, with the image's libraries grafted."""
    pack = native_python(tmp_path / "cache")
    inbox = tmp_path / "in"
    inbox.mkdir()
    files = {"same.sh": SAME_REPAIR.encode()}  # and the scripts the repair step's lines use
    plan = CrossPlan("aarch64", "aarch64-linux-gnu", "aarch64-linux-gnu")
    native_auditwheel_lines(plan, CONTAINER, files)
    for name, data in files.items():
        (inbox / name).write_bytes(data)
    mounts = ["-v", f"{pack}:/manywheel/native:ro", "-v", f"{inbox}:/in:ro"]
    r = subprocess.run(
        [arm_engine, "run", "--rm", "--platform", "linux/arm64", *mounts, FIXTURE_IMAGE_ARM64,
         "bash", "/in/same.sh"],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert NATIVE_AUDITWHEEL.search(out), out
    assert "MW-SAME-WHEEL" in out, out
    grafted = re.search(r"MW-GRAFTED (.*)", out)
    assert grafted is not None, out
    assert "libssl" in grafted[1], out
    assert "libcrypto" in grafted[1], out


# In the arm64 image: the aarch64 CPython 3.13 imports a module whose .pyc the x86_64 image's
# CPython 3.13, packed, compiled into a cache prefix, in the same container; -v says whether
# the .pyc was taken ("matches") or the source compiled again ("code object from <source>").
TWIN_COMPILES = """\
set -e
mkdir -p /tmp/src && printf 'VALUE = sum(range(10))\\n' > /tmp/src/twinmod.py
/manywheel/twin/bin/python -I -B -X pycache_prefix=/tmp/pyc -m compileall -q /tmp/src
python3.13 -c 'import platform; print("MW-MACHINE", platform.machine())'
PYTHONPYCACHEPREFIX=/tmp/pyc PYTHONPATH=/tmp/src python3.13 -v -c 'import twinmod; print("MW-VALUE", twinmod.VALUE)' 2>&1 | grep -e twinmod -e MW-VALUE
"""


@pytest.mark.parametrize("engine", ["docker", "podman"], indirect=True)
def test_the_twin_compiles_bytecode_the_target_takes(arm_engine: str, tmp_path: Path) -> None:
    """The x86_64 fixture image's CPython 3.13, packed in a container of that image, runs in
    the arm64 container natively, and the .pyc it writes is the aarch64 CPython's own."""
    engine = detect_engine(arm_engine)
    image_id = engine.image_id(FIXTURE_IMAGE)
    assert image_id is not None
    labels = {"manywheel.test": "twin"}
    twin = image_python(
        tmp_path / "cache", engine, image=FIXTURE_IMAGE, image_id=image_id,
        python="/usr/bin/python3.13", version=_version(arm_engine), name=f"mw-test-twin-{arm_engine}",
        labels=labels,
    )  # fmt: skip
    assert (twin / "lib" / "python3.13" / "os.py").is_file()
    assert "Python 3.13" in (twin / "bin" / "python").read_text()
    r = subprocess.run(
        [arm_engine, "run", "--rm", "--platform", "linux/arm64", "-v", f"{twin}:/manywheel/twin:ro",
         FIXTURE_IMAGE_ARM64, "sh", "-c", TWIN_COMPILES],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "MW-MACHINE aarch64" in out
    assert "MW-VALUE 45" in out
    assert re.search(
        r"/tmp/pyc/tmp/src/twinmod\.cpython-313\.pyc matches /tmp/src/twinmod\.py", out
    ), out
    assert "code object from /tmp/src/twinmod.py" not in out  # not compiled again
    left = subprocess.run(
        [arm_engine, "ps", "-aq", "--filter", "label=manywheel.test=twin"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert left.stdout.split() == []  # the packing container is gone


def _version(engine: str) -> str:
    """The version of the x86_64 fixture image's CPython 3.13 (X.Y.Z)."""
    r = subprocess.run(
        [engine, "run", "--rm", FIXTURE_IMAGE, "python3.13", "-c",
         "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return r.stdout.strip()
