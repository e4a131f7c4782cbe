"""The native Python of emulated targets (_nativepython) and the image's auditwheel run on it
(native-auditwheel.sh), here on this machine: the interpreter running the tests is packed as a
build would pack it, and a fake auditwheel stands in for the image's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import packaging
import pytest

from manywheel import Options
from manywheel._model import Target
from manywheel._nativepython import native_python
from manywheel._scripts.build import build_script
from manywheel._scripts.cross import NATIVE_AUDITWHEEL, NATIVE_AUDITWHEEL_CHECK
from manywheel._toolchain import CrossCompilers, CrossPlan, ToolchainError

ARM = Target("cp313-manylinux_aarch64", "3.13.1", False, "/opt/python/cp313-cp313/bin/python",
             platform="manylinux_aarch64")  # fmt: skip
PLAN = CrossPlan("aarch64", "aarch64-linux-gnu", "aarch64-linux-gnu")
needs_ldd = pytest.mark.skipif(shutil.which("ldd") is None, reason="no ldd on this machine")


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("ldd") is None:
        pytest.skip("no ldd on this machine")
    return native_python(tmp_path_factory.mktemp("cache"))


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": "/usr/bin:/bin", **(env or {})}
    return subprocess.run(argv, capture_output=True, text=True, env=clean, check=False)


# -- the pack --------------------------------------------------------------------------------
@needs_ldd
def test_the_pack_runs_from_its_own_folder_with_its_own_loader_and_libraries(
    pack: Path, tmp_path: Path
) -> None:
    lib = pack / "lib"
    assert (lib / "libc.so.6").is_file()
    assert list(lib.glob("ld-linux*"))
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert (lib / ver / "os.py").is_file()
    assert not (lib / ver / "test").exists()
    assert not (lib / ver / "site-packages").exists()
    launcher = (pack / "bin" / "python").read_text()
    assert "--library-path" in launcher
    assert "--argv0" in launcher
    moved = tmp_path / "elsewhere"
    shutil.copytree(pack, moved, symlinks=True)  # anywhere it is mounted
    code = (
        "import sys, zlib, hashlib, zipfile, platform; print(sys.prefix, platform.python_version())"
    )
    r = _run([str(moved / "bin" / "python"), "-s", "-c", code])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(moved), sys.version.split()[0]]


@needs_ldd
def test_the_pack_is_made_once(pack: Path) -> None:
    stamp = (pack / "bin" / "python").stat().st_mtime_ns
    assert native_python(pack.parent.parent) == pack
    assert (pack / "bin" / "python").stat().st_mtime_ns == stamp
    assert [p.name for p in pack.parent.iterdir()] == [pack.name]  # no temporary folder left


def test_a_pack_that_cannot_be_made_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_ldd(f: Path) -> tuple[list[Path], Path | None]:
        raise ToolchainError("ldd could not run: no such file")

    monkeypatch.setattr("manywheel._nativepython._ldd", no_ldd)
    with pytest.raises(ToolchainError, match="ldd could not run"):
        native_python(tmp_path)
    assert list((tmp_path / "toolchains").iterdir()) == []


# -- the image's auditwheel on it ------------------------------------------------------------
def _fake_auditwheel(
    root: Path, *, requires: str = ">=3.8", main: str = "", pth: bool = False
) -> dict[str, str]:
    """An auditwheel console script in a venv of this interpreter, as images install it; its
    code in the venv's site-packages, or (``pth``) in a folder a .pth file there adds. The
    environment that puts it on PATH."""
    venv = root / "venv"
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    site = venv / "lib" / f"python{ver}" / "site-packages"
    site.mkdir(parents=True)
    base = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
    (venv / "pyvenv.cfg").write_text(
        f"home = {base.parent}\ninclude-system-site-packages = false\n"
    )
    (venv / "bin").mkdir()
    (venv / "bin" / "python").symlink_to(base)
    shutil.copytree(Path(packaging.__file__).parent, site / "packaging")
    code = root / "extra" if pth else site
    (code / "auditwheel").mkdir(parents=True)
    if pth:
        (site / "extra.pth").write_text(f"{code}\n")
    for name in ("__init__", "main_repair", "repair", "wheel_abi"):
        (code / "auditwheel" / f"{name}.py").write_text("")
    (code / "auditwheel" / "main.py").write_text(
        main
        or "import platform, sys\n"
        "def main():\n    print('FAKE', platform.machine(), sys.argv[1:], sys.path[0])\n    return 0\n"
    )
    info = code / "auditwheel-9.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: auditwheel\nVersion: 9.0\nRequires-Python: {requires}\n"
    )
    script = venv / "bin" / "auditwheel"
    script.write_text(
        f"#!{venv}/bin/python\nimport sys\nfrom auditwheel.main import main\nsys.exit(main())\n"
    )
    script.chmod(0o755)
    return {"PATH": f"{venv}/bin:/usr/bin:/bin"}


def _setup(pack: Path, tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script, check = tmp_path / "native-auditwheel.sh", tmp_path / "check.py"
    script.write_text(NATIVE_AUDITWHEEL)
    check.write_text(NATIVE_AUDITWHEEL_CHECK)
    argv = ["sh", str(script), str(pack / "bin" / "python"), str(tmp_path / "out"), "aarch64"]
    return _run([*argv, str(check)], env)


@needs_ldd
@pytest.mark.parametrize("pth", [False, True], ids=["venv", "asked"])
def test_the_images_auditwheel_runs_natively_acting_for_the_target(
    pack: Path, tmp_path: Path, pth: bool
) -> None:
    """Its folders read off its venv, or asked of its interpreter where a .pth file may add
    some."""
    env = _fake_auditwheel(tmp_path / "tool", pth=pth)
    r = _setup(pack, tmp_path, env)
    assert r.returncode == 0, r.stdout + r.stderr
    line = r.stdout.strip()
    assert line.startswith(
        f"manywheel: auditwheel: {tmp_path}/tool/venv/bin/auditwheel (auditwheel 9.0)"
    )
    assert line.endswith("acting for aarch64")
    assert "runs natively" in line
    shim = tmp_path / "out" / "auditwheel"
    out = _run([str(shim), "repair", "-w", "x y"], {"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    # Its code found without the image's PYTHONPATH; the machine the target's; its own folder first.
    assert out.stdout.strip() == f"FAKE aarch64 ['repair', '-w', 'x y'] {tmp_path}/tool/venv/bin"


@needs_ldd
@pytest.mark.parametrize(
    ("fake", "reason"),
    [
        ({"requires": ">=3.99"}, "auditwheel requires Python >=3.99, and it is"),
        (
            {"main": "import _no_such_module\n"},
            "auditwheel.main does not import (ModuleNotFoundError",
        ),
    ],
)
def test_what_the_native_python_cannot_run_runs_emulated(
    pack: Path, tmp_path: Path, fake: dict[str, str], reason: str
) -> None:
    env = _fake_auditwheel(tmp_path / "tool", **fake)
    r = _setup(pack, tmp_path, env)
    assert r.returncode == 1
    assert "manywheel: auditwheel: the native Python cannot run" in r.stdout
    assert reason in r.stdout
    assert r.stdout.rstrip().endswith("it runs emulated")
    assert not (tmp_path / "out" / "auditwheel").exists()


@needs_ldd
def test_an_auditwheel_that_is_not_a_python_script_runs_as_it_is(
    pack: Path, tmp_path: Path
) -> None:
    r = _setup(pack, tmp_path, {"PATH": "/usr/bin:/bin"})
    assert r.returncode == 1
    assert "not on PATH as a file: it runs emulated" in r.stdout
    tool = tmp_path / "bin" / "auditwheel"
    tool.parent.mkdir()
    tool.write_text("#!/usr/bin/env python3\n")
    tool.chmod(0o755)
    r = _setup(pack, tmp_path, {"PATH": f"{tool.parent}:/usr/bin:/bin"})
    assert r.returncode == 1
    assert "interpreter line has arguments" in r.stdout


# -- in the build script ---------------------------------------------------------------------
def test_the_repair_step_sets_it_up_where_the_repair_calls_auditwheel(tmp_path: Path) -> None:
    options = Options(tmp_path)
    cross = CrossCompilers(PLAN, tmp_path, (2, 44), python=tmp_path)
    text, files = build_script(options, ARM, "::m::", 2, cross=cross)
    setup = "sh /manywheel/in/native-auditwheel.sh /manywheel/native/bin/python"
    assert text.index("step repair") < text.index(setup) < text.index("for MW_WHEEL in")
    assert {"native-auditwheel.sh", "native-auditwheel-check.py"} <= set(files)
    for other in (
        build_script(options, ARM, "::m::", 2, cross=replace(cross, python=None)),
        build_script(
            replace(options, repair_command="cp {wheel} {dest_dir}"), ARM, "::m::", 2, cross=cross
        ),
        build_script(options, ARM, "::m::", 2),
    ):
        assert setup not in other[0]
        assert "native-auditwheel.sh" not in other[1]
