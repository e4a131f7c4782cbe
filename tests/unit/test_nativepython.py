"""The native Python of emulated targets (_nativepython) and the image's auditwheel run on it
(native-auditwheel.sh), here on this machine: the interpreter running the tests is packed as a
build would pack it, and a fake auditwheel stands in for the image's."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import build as build_package
import packaging
import pytest

from manywheel import Options
from manywheel._layout import CONTAINER
from manywheel._model import Target
from manywheel._nativepython import native_python
from manywheel._scripts.build import build_script
from manywheel._scripts.cross import native_auditwheel_lines, native_frontend_lines
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
    # pack-python.py as it ends where ldd cannot run: some files written, then its message.
    failing = (
        "import os, sys; os.mkdir(os.path.join(sys.argv[1], 'lib'));"
        " sys.exit('pack-python: ldd could not run: no such file')"
    )
    monkeypatch.setattr("manywheel._nativepython.PACK_SCRIPT", failing)
    with pytest.raises(ToolchainError, match=r"could not pack .*: ldd could not run: no such file"):
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


def _inbox(tmp_path: Path) -> Path:
    """The scripts the build script's native lines put in its inbox, in tmp_path/in."""
    inbox = tmp_path / "in"
    inbox.mkdir(exist_ok=True)
    files: dict[str, bytes] = {}
    native_auditwheel_lines(PLAN, CONTAINER, files)
    native_frontend_lines(CONTAINER, files)
    for name, data in files.items():
        (inbox / name).write_bytes(data)
    return inbox


def _setup(pack: Path, tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    inbox = _inbox(tmp_path)
    argv = ["sh", str(inbox / "native-auditwheel.sh"), str(pack / "bin" / "python")]
    return _run([*argv, str(tmp_path / "out"), "aarch64", str(inbox)], env)


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
    assert (
        f"manywheel: auditwheel: {tmp_path}/tool/venv/bin/auditwheel: the native Python cannot run it: "
        in r.stdout
    )
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
def _scripted(tmp_path: Path) -> tuple[Options, CrossCompilers, str, dict[str, bytes]]:
    """The default options, cross compilers with the native Python, and their build script."""
    options = Options(tmp_path)
    cross = CrossCompilers(PLAN, tmp_path, (2, 44), python=tmp_path)
    return options, cross, *build_script(options, ARM, "::m::", 2, cross=cross)


def test_the_repair_step_sets_it_up_where_the_repair_calls_auditwheel(tmp_path: Path) -> None:
    options, cross, text, files = _scripted(tmp_path)
    setup = "sh /manywheel/in/native-auditwheel.sh /manywheel/native/bin/python"
    assert text.index("step repair") < text.index(setup) < text.index("for MW_WHEEL in")
    assert {"native-auditwheel.sh", "native-paths.sh", "native-check.py"} <= set(files)
    for other in (
        build_script(options, ARM, "::m::", 2, cross=replace(cross, python=None)),
        build_script(
            replace(options, repair_command="cp {wheel} {dest_dir}"), ARM, "::m::", 2, cross=cross
        ),
        build_script(options, ARM, "::m::", 2),
    ):
        assert setup not in other[0]
        assert "native-auditwheel.sh" not in other[1]


def test_the_build_step_runs_build_natively_where_it_is_builds_own_command(tmp_path: Path) -> None:
    options, cross, text, files = _scripted(tmp_path)
    check = 'native-paths.sh "$mw_native"'
    assert text.index("step build") < text.index(check) < text.index("native-build.py --paths")
    assert 'if [ -n "$mw_nb_paths" ]; then' in text
    assert "python -m build . --wheel" in text  # the emulated way, where it cannot
    assert {"native-build.py", "native-paths.sh", "native-check.py"} <= set(files)
    for other in (
        replace(options, build_frontend="pip"),
        replace(options, build_frontend_args=("--skip-dependency-check",)),
        replace(options, build_verbosity=1),
        replace(options, build_isolation=False),
    ):
        text, files = build_script(other, ARM, "::m::", 2, cross=cross)
        assert "native-build.py" not in text
        assert "native-build.py" not in files
    text, _ = build_script(options, ARM, "::m::", 2, cross=replace(cross, python=None))
    assert "native-build.py" not in text


def test_the_twin_compiles_the_bytecode_where_the_target_has_one(tmp_path: Path) -> None:
    options, cross, text, _ = _scripted(tmp_path)
    assert "--compile-with" not in text
    twin = replace(cross, bytecode=tmp_path / "twin")
    text, _ = build_script(options, ARM, "::m::", 2, cross=twin)
    assert f"--compile-with {CONTAINER.twin}/bin/python --outdir=" in text


# -- native-build.py, build's frontend on the native Python ----------------------------------
BACKEND = """\
import json, os, sys
def _say(hook, settings):
    print("HOOK", hook, sys.prefix, json.dumps(settings, sort_keys=True, separators=(",", ":")), repr(os.environ.get("PYTHONPATH")))
def get_requires_for_build_wheel(config_settings=None):
    _say("get_requires", config_settings)
    return ["extra-thing"]
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _say("build_wheel", config_settings)
    if (config_settings or {}).get("fail"):
        raise RuntimeError("the backend fails on purpose")
    name = "demo-1.0-py3-none-any.whl"
    open(os.path.join(wheel_directory, name), "wb").close()
    return name
"""


def _native_build_setup(
    tmp_path: Path, requires: str, backend: str, *, on_install: str = ""
) -> tuple[Path, Path]:
    """A project with the in-tree ``backend`` requiring ``requires``, and a fake uv: ``venv``
    makes a venv of the given Python; other commands are logged (and run ``on_install``)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["{requires}"]\nbuild-backend = "demo_backend"\n'
        'backend-path = ["."]\n'
    )
    (project / "demo_backend.py").write_text(backend)
    uv = tmp_path / "uv"
    uv.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {tmp_path / "uv.log"}\n'
        'if [ "$1" = venv ]; then\n'
        "  for last; do :; done\n"
        '  while [ "$1" != --python ]; do shift; done\n'
        '  exec "$2" -m venv --without-pip "$last"\n'
        "fi\n" + on_install
    )
    uv.chmod(0o755)
    return project, uv


def _native_build(
    pack: Path,
    tmp_path: Path,
    project: Path,
    uv: Path,
    *args: str,
    env_dir: Path,
    env: dict[str, str],
) -> subprocess.CompletedProcess[str]:
    """native-build.py on the packed Python, with build from this environment, the 'target'
    interpreter this one, the fake ``uv``, wheels into tmp_path/dist, and ``args``."""
    argv = [
        str(pack / "bin" / "python"), "-s", str(_inbox(tmp_path) / "native-build.py"),
        "--paths", str(Path(build_package.__file__).parent.parent),
        "--python", sys.executable, "--uv", str(uv), f"--outdir={tmp_path / 'dist'}",
        "--installer=uv", f"--env-dir={env_dir}", *args, ".",
    ]  # fmt: skip
    return subprocess.run(argv, cwd=project, capture_output=True, text=True, check=False, env=env)


@needs_ldd
@pytest.mark.parametrize("fail", [False, True], ids=["built", "failed"])
def test_native_build_runs_the_hooks_in_an_environment_of_the_target_interpreter(
    pack: Path, tmp_path: Path, fail: bool
) -> None:
    """With a uv that makes the venv with the 'target' interpreter (this one) and records
    the installs, and an in-tree backend that reports where its hooks run."""
    project, uv = _native_build_setup(tmp_path, "setuptools-free", BACKEND)
    log = tmp_path / "uv.log"
    env_dir = tmp_path / "build-env"
    r = _native_build(
        pack, tmp_path, project, uv, "-Ckey=a", "-Ckey=b", "-Cone=1",
        *(["-Cfail=yes"] if fail else []),
        env_dir=env_dir, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": "/nowhere"},
    )  # fmt: skip
    out = r.stdout + r.stderr
    settings = {"key": ["a", "b"], "one": "1", **({"fail": "yes"} if fail else {})}
    hooks = [line.split(" ", 4) for line in r.stdout.splitlines() if line.startswith("HOOK ")]
    for _, _, prefix, given, pythonpath in hooks:  # in the environment, not this Python
        assert prefix == str(env_dir), out
        assert json.loads(given) == settings
        assert pythonpath == "''"  # the caller's PYTHONPATH emptied, as build does
    assert [h[1] for h in hooks] == ["get_requires", "build_wheel"], out
    steps = [line for line in r.stdout.splitlines() if line.startswith(("* ", "  - "))]
    assert steps == [
        "* Creating isolated environment: venv+uv...",
        "* Installing packages in isolated environment:",
        "  - setuptools-free",
        "* Getting build dependencies for wheel...",
        "* Installing packages in isolated environment:",
        "  - extra-thing",
        "* Building wheel...",
    ], out
    installs = log.read_text().splitlines()
    assert installs[0].startswith("venv --quiet --no-project --no-config --python")
    assert installs[1:] == [
        f"pip install setuptools-free --python {env_dir}/bin/python",
        f"pip install extra-thing --python {env_dir}/bin/python",
    ]
    if fail:
        assert r.returncode == 1
        assert "ERROR Backend subprocess exited when trying to invoke build_wheel" in out
        assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())
    else:
        assert r.returncode == 0, out
        assert "Successfully built demo-1.0-py3-none-any.whl" in r.stdout
        assert (tmp_path / "dist" / "demo-1.0-py3-none-any.whl").is_file()


COMPILED_BACKEND = """\
import importlib.util, os, sys
def _seen():
    site = [p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix)][0]
    pyc = importlib.util.cache_from_source(os.path.join(site, "installed_mod.py"))
    with open(pyc, "rb") as f:
        flags = int.from_bytes(f.read(8)[4:], "little")
    print("COMPILED", pyc, flags)
def get_requires_for_build_wheel(config_settings=None):
    _seen()
    return []
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = "demo-1.0-py3-none-any.whl"
    open(os.path.join(wheel_directory, name), "wb").close()
    return name
"""


@needs_ldd
@pytest.mark.parametrize("works", [True, False], ids=["compiled", "not-compiled"])
def test_native_build_compiles_the_environment_before_the_hooks_run(
    pack: Path, tmp_path: Path, works: bool
) -> None:
    """--compile-with (here this machine's Python stands for the twin of the target's version):
    what an install put in the environment is compiled into PYTHONPYCACHEPREFIX, as timestamp
    .pyc files whatever SOURCE_DATE_EPOCH says, before the first hook imports it; a Python that
    cannot compile it leaves it to the hooks, which run as they would without it."""
    install = 'for s in "$VIRTUAL_ENV"/lib/python*/site-packages; do echo X=1 > "$s/installed_mod.py"; done\n'
    project, uv = _native_build_setup(
        tmp_path, "installed-mod", COMPILED_BACKEND, on_install=install
    )
    prefix = tmp_path / "pyc"
    twin = str(pack / "bin" / "python") if works else "/bin/false"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPYCACHEPREFIX": str(prefix), "SOURCE_DATE_EPOCH": "1"}
    r = _native_build(
        pack, tmp_path, project, uv, "--compile-with", twin, env_dir=tmp_path / "env", env=env
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0 if works else r.returncode == 1, out
    lines = r.stdout.splitlines()
    if works:
        said = f"({platform.machine()} Python {platform.python_version()})"
        i = lines.index(f"manywheel: bytecode of the isolated environment compiled natively {said}")
        assert i < lines.index("* Getting build dependencies for wheel...")
        _, pyc, flags = next(line for line in lines if line.startswith("COMPILED ")).split()
        assert pyc.startswith(str(prefix) + "/"), out  # in the prefix, mirroring the source
        assert flags == "0"  # checked by the source's mtime and size, as imports write them
        assert "Successfully built demo-1.0-py3-none-any.whl" in r.stdout
    else:  # the hook finds no .pyc (here it fails on purpose), after the fallback's line
        assert any(
            line.startswith("manywheel: bytecode: the native Python could not compile it")
            for line in lines
        ), out
        assert "FileNotFoundError" in out


# A stand-in for setuptools (a backend in FORKED_BACKENDS), put in the environment by the fake
# uv: it says in which process it was imported and what earlier hooks left behind.
FORKED_BACKEND = """\
import os, sys
IMPORTED_IN = os.getpid()
CALLS = []
def _say(hook):
    CALLS.append(hook)
    server_dir = any(os.path.isfile(os.path.join(p or ".", "hook-server.py")) for p in sys.path)
    print("HOOK", hook, os.getpid(), IMPORTED_IN, len(CALLS), os.environ.get("MW_LEFT", "-"),
          os.path.basename(sys.modules["__main__"].__file__), os.getcwd(), server_dir, flush=True)
    os.environ["MW_LEFT"] = hook
def get_requires_for_build_wheel(config_settings=None):
    _say("get_requires")
    return (config_settings or {}).get("requires", "").split()
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _say("build_wheel")
    if (config_settings or {}).get("fail"):
        raise RuntimeError("the backend fails on purpose")
    name = "demo-1.0-py3-none-any.whl"
    open(os.path.join(wheel_directory, name), "wb").close()
    return name
"""


def _forked_build(
    pack: Path, tmp_path: Path, backend: str, *settings: str, sitecustomize: str = ""
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """native-build.py with --hook-server on a project whose backend is the stand-in
    setuptools.build_meta (``backend``), installed by the fake uv (with ``sitecustomize``, if
    given, which the environment's interpreter runs at its start); the hooks' lines."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    (tmp_path / "build_meta.py").write_text(backend)
    (tmp_path / "sitecustomize.py").write_text(sitecustomize)
    install = (
        'for s in "$VIRTUAL_ENV"/lib/python*/site-packages; do mkdir -p "$s/setuptools";'
        f' : > "$s/setuptools/__init__.py"; cp {tmp_path / "build_meta.py"} "$s/setuptools/";'
        f' cp {tmp_path / "sitecustomize.py"} "$s/"; done\n'
    )
    _, uv = _native_build_setup(tmp_path / "uv-home", "unused", BACKEND, on_install=install)
    server = str(_inbox(tmp_path) / "hook-server.py")
    r = _native_build(
        pack, tmp_path, project, uv, "--hook-server", server, *settings,
        env_dir=tmp_path / "env", env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    hooks = [line.split()[1:] for line in r.stdout.splitlines() if line.startswith("HOOK ")]
    return r, hooks


SERVED = "manywheel: backend hooks: each in a process forked from one that imported setuptools.build_meta once"


@needs_ldd
def test_hooks_of_a_known_backend_are_forked_from_one_process_that_imported_it(
    pack: Path, tmp_path: Path
) -> None:
    """Each hook in a process of its own (what the first changed is not seen by the second),
    with _in_process.py as __main__ in the project folder, both from one import."""
    (tmp_path / "uv-home").mkdir()
    r, hooks = _forked_build(pack, tmp_path, FORKED_BACKEND)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert r.stdout.count(SERVED) == 1, out
    (h1, pid1, imp1, n1, left1, main1, cwd1, on1), (h2, pid2, imp2, n2, left2, main2, cwd2, on2) = (
        hooks
    )
    assert (h1, h2) == ("get_requires", "build_wheel")
    assert imp1 == imp2  # imported once, by the server
    assert len({pid1, pid2, imp1}) == 3  # each hook in its own process, neither the server
    assert (n1, n2) == ("1", "1")  # hook 2 does not see hook 1's module state
    assert (left1, left2) == ("-", "-")  # nor its environment
    assert main1 == main2 == "_in_process.py"
    assert cwd1 == cwd2 == str(tmp_path / "project")
    assert on1 == on2 == "False"  # the server's folder is not on the hooks' import path
    assert (tmp_path / "dist" / "demo-1.0-py3-none-any.whl").is_file()


@needs_ldd
def test_an_install_between_the_hooks_starts_another_server(pack: Path, tmp_path: Path) -> None:
    (tmp_path / "uv-home").mkdir()
    r, hooks = _forked_build(pack, tmp_path, FORKED_BACKEND, "-Crequires=extra")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert r.stdout.count(SERVED) == 2, out
    assert hooks[0][2] != hooks[1][2]  # the second hook's backend imported after the install
    assert "  - extra" in r.stdout


@needs_ldd
def test_a_failing_forked_hook_fails_the_build_as_its_own_process_would(
    pack: Path, tmp_path: Path
) -> None:
    (tmp_path / "uv-home").mkdir()
    r, _ = _forked_build(pack, tmp_path, FORKED_BACKEND, "-Cfail=yes")
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "RuntimeError: the backend fails on purpose" in out
    assert "ERROR Backend subprocess exited when trying to invoke build_wheel" in out
    assert not list((tmp_path / "dist").glob("*.whl"))


@needs_ldd
@pytest.mark.parametrize(
    "trouble",
    ["raise ImportError('broken on purpose')", "import warnings; warnings.warn('said at import')"],
    ids=["error", "warning"],
)
def test_a_backend_the_server_cannot_import_quietly_runs_as_build_runs_it(
    pack: Path, tmp_path: Path, trouble: str
) -> None:
    """An import that fails or warns: no server, each hook its own process, which reports it."""
    (tmp_path / "uv-home").mkdir()
    r, hooks = _forked_build(pack, tmp_path, trouble + "\n" + FORKED_BACKEND)
    out = r.stdout + r.stderr
    assert SERVED not in out
    if trouble.startswith("raise"):
        assert r.returncode == 1, out
        assert "Backend 'setuptools.build_meta' is not available" in out
    else:
        assert r.returncode == 0, out
        assert hooks[0][2] != hooks[1][2]  # each hook imported it itself
        assert "said at import" in out


@needs_ldd
def test_an_interpreter_that_cannot_fork_runs_each_hook_itself(pack: Path, tmp_path: Path) -> None:
    """The server imported the backend but cannot fork (as an interpreter without os.fork):
    each hook runs as its own process, and the build goes on."""
    (tmp_path / "uv-home").mkdir()
    no_fork = "import os\ndef _fork():\n    raise OSError('no fork here')\nos.fork = _fork\n"
    r, hooks = _forked_build(pack, tmp_path, FORKED_BACKEND, sitecustomize=no_fork)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert [h[0] for h in hooks] == ["get_requires", "build_wheel"], out
    assert hooks[0][2] != hooks[1][2]  # each imported it itself
    assert (tmp_path / "dist" / "demo-1.0-py3-none-any.whl").is_file()
