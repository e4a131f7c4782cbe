"""An emulated build keeps its bytecode in the project's cache (``_bytecode_lines``), and
build's version is told from its dist-info folder (``_isolated_env_line``): the generated lines
run in bash here, the seed script with this interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from manywheel import Options
from manywheel._layout import CONTAINER
from manywheel._model import Target
from manywheel._scripts.build import SEED_BYTECODE, _isolated_env_line, build_script
from manywheel._toolchain import CrossCompilers, CrossPlan

ARM = Target(
    "cp313-manylinux_aarch64", "3.13.1", False, "/opt/python/cp313-cp313/bin/python",
    platform="manylinux_aarch64",
)  # fmt: skip
IMAGE = "localhost/manywheel-fixture:forky-arm64"
COMMAND = "python -m build . --wheel --outdir=/manywheel/built $mw_iso"


def lines_of(options: Options, *, epoch: int | None = 0, image: str | None = IMAGE) -> list[str]:
    text, files = build_script(options, ARM, "::mark::", 2, epoch=epoch, emulated_image=image)
    assert ("seed-bytecode.py" in files) == ("PYTHONPYCACHEPREFIX" in text)
    return text.splitlines()


def test_an_emulated_build_keeps_its_bytecode_in_the_project_cache(tmp_path: Path) -> None:
    lines = lines_of(Options(tmp_path))
    text = "\n".join(lines)
    assert "/manywheel/cache/bytecode/" in text
    assert "-cp313-manylinux_aarch64" in text
    build = next(i for i, line in enumerate(lines) if COMMAND in line)
    assert lines[build].startswith('UV_LINK_MODE="$mw_link" python -m build')
    exported = lines.index('  export PYTHONPYCACHEPREFIX="$mw_pyc"')
    assert exported < build < lines.index('if [ -n "$mw_pyc" ]; then unset PYTHONPYCACHEPREFIX; fi')
    assert lines.index("step repair") > build  # repair and tests are not changed
    # per image: another image of the same platform has a folder of its own
    other = "\n".join(lines_of(Options(tmp_path), image=IMAGE + "-other"))
    assert other != text


def test_bytecode_is_kept_only_where_paths_stay_the_same(tmp_path: Path) -> None:
    for options, epoch, image in (
        (Options(tmp_path), 0, None),  # runs natively: compiling is cheap
        (Options(tmp_path, shared_cache=False), 0, IMAGE),  # no cache to keep it in
        (Options(tmp_path, build_frontend="pip"), 0, IMAGE),  # random temporary folders
        (Options(tmp_path, build_frontend="uv"), 0, IMAGE),
        (Options(tmp_path), None, IMAGE),  # not reproducible: build's folder is random
        (Options(tmp_path, build_command="make wheel"), 0, IMAGE),
    ):
        assert "PYTHONPYCACHEPREFIX" not in "\n".join(lines_of(options, epoch=epoch, image=image))
    for options in (  # the venv is the build's environment, unpacked at the same path
        Options(tmp_path, build_isolation=False),
        Options(tmp_path, build_frontend_args=("--no-isolation",)),
    ):
        lines = lines_of(options, epoch=None)
        assert '  export PYTHONPYCACHEPREFIX="$mw_pyc"' in lines


def fragment(lines: list[str], first: str, last: str) -> str:
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    end = next(i for i, line in enumerate(lines) if i > start and line.startswith(last))
    return "\n".join(lines[start : end + 1])


def run_bash(script: str, env: dict[str, str]) -> str:
    run = subprocess.run(
        ["bash", "-euc", script], capture_output=True, text=True, check=True,
        env={"PATH": os.environ["PATH"], **env},
    )  # fmt: skip
    return run.stdout


def test_uv_links_the_isolated_environment_only_when_its_folder_is_fixed(tmp_path: Path) -> None:
    lines = lines_of(Options(tmp_path))
    choose = fragment(lines, 'mw_link="${UV_LINK_MODE:-copy}"', "esac")
    show = choose + '\necho "$mw_link|$mw_pyc"'
    fixed = "--installer=uv --env-dir=/manywheel/build-env"
    link, pyc = run_bash(show, {"mw_iso": fixed, "mw_installer": "uv"}).strip().split("|")
    assert link == "symlink"
    assert pyc.startswith("/manywheel/cache/bytecode/")
    # build older than 1.6: a random folder, nothing kept
    assert run_bash(show, {"mw_iso": "--installer=uv", "mw_installer": "uv"}) == "copy|\n"
    # pip installs build's environment: no link mode; a link mode of the user's is theirs
    assert run_bash(show, {"mw_iso": fixed, "mw_installer": "pip"}).startswith("copy|/")
    mine = {"mw_iso": fixed, "mw_installer": "uv", "UV_LINK_MODE": "hardlink"}
    assert run_bash(show, mine).startswith("hardlink|/")


def test_builds_version_is_read_from_its_dist_info_folder(tmp_path: Path) -> None:
    line = _isolated_env_line(CONTAINER)
    show = f'mw_iso=\n{line}\necho "[$mw_iso]"'
    site = tmp_path / "venv" / "lib" / "python3.13" / "site-packages"
    site.mkdir(parents=True)
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    python = bin_ / "python"  # asked only when no dist-info says: exits 1 (build < 1.6)
    asked = tmp_path / "asked"
    python.write_text(f"#!/bin/sh\necho asked >> {asked}\nexit 1\n")
    python.chmod(0o755)
    env = {"VIRTUAL_ENV": str(tmp_path / "venv"), "PATH": f"{bin_}:{os.environ['PATH']}"}
    fixed = "[ --env-dir=/manywheel/build-env]\n"
    for version, out in (("1.6.1", fixed), ("2.0", fixed), ("1.10.0", fixed), ("1.5.0", None)):
        info = site / f"build-{version}.dist-info"
        info.mkdir()
        got = run_bash(show, env)
        assert got == out if out else got.endswith("[]\n"), (version, got)
        info.rmdir()
    assert not asked.exists()  # the folder's name told
    assert run_bash(show, env).endswith("[]\n")
    assert asked.read_text() == "asked\n"  # no dist-info: Python is asked


def test_the_seed_copies_the_compiled_standard_library_once(tmp_path: Path) -> None:
    seed = tmp_path / "seed-bytecode.py"
    seed.write_text(SEED_BYTECODE)
    prefix = tmp_path / "pyc"
    first = subprocess.run(
        [sys.executable, str(seed), str(prefix)], capture_output=True, text=True, check=True
    )
    assert "bytecode cache: seeded with" in first.stdout
    tag = sys.implementation.cache_tag
    stdlib = Path(os.__file__).parent
    if (stdlib / "__pycache__" / f"json.{tag}.pyc").exists() or (
        stdlib / "json" / "__pycache__" / f"__init__.{tag}.pyc"
    ).exists():
        mirrored = prefix / str(stdlib / "json").lstrip("/") / f"__init__.{tag}.pyc"
        assert mirrored.exists()
    assert (prefix / f".seeded-{tag}").exists()
    assert not list(prefix.rglob("*.part"))
    again = subprocess.run(
        [sys.executable, str(seed), str(prefix)], capture_output=True, text=True, check=True
    )
    assert again.stdout == ""


def test_a_native_python_seeds_for_the_target_interpreter(tmp_path: Path) -> None:
    """Run by a native Python with the target's interpreter named: that one only says its cache
    tag and standard library; its compiled files are copied, under its marker."""
    seed = tmp_path / "seed-bytecode.py"
    seed.write_text(SEED_BYTECODE)
    stdlib = tmp_path / "target" / "lib" / "python3.99"
    (stdlib / "json" / "__pycache__").mkdir(parents=True)
    (stdlib / "json" / "__pycache__" / "__init__.cpython-399.pyc").write_bytes(b"pyc")
    (stdlib / "json" / "__pycache__" / "__init__.cpython-398.pyc").write_bytes(b"other")
    target = tmp_path / "target-python"
    target.write_text(f'#!/bin/sh\n[ "$1" = -S ] || exit 2\necho cpython-399\necho {stdlib}\n')
    target.chmod(0o755)
    prefix = tmp_path / "pyc"
    r = subprocess.run(
        [sys.executable, str(seed), str(prefix), str(target)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert f"seeded with 1 compiled modules of {stdlib}" in r.stdout
    mirrored = prefix / str(stdlib).lstrip("/") / "json" / "__init__.cpython-399.pyc"
    assert mirrored.read_bytes() == b"pyc"
    assert (prefix / ".seeded-cpython-399").is_file()
    silent = tmp_path / "silent-python"
    silent.write_text("#!/bin/sh\nexit 1\n")
    silent.chmod(0o755)
    r = subprocess.run(
        [sys.executable, str(seed), str(tmp_path / "other"), str(silent)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert r.returncode == 1
    assert "did not say its standard library" in r.stderr
    assert not (tmp_path / "other").exists()


def test_the_native_python_seeds_where_there_is_one_and_the_target_where_it_fails(
    tmp_path: Path,
) -> None:
    cross = CrossCompilers(
        CrossPlan("aarch64", "aarch64-linux-gnu", "aarch64-linux-gnu"), tmp_path, (2, 44),
        python=tmp_path,
    )  # fmt: skip
    options = Options(tmp_path)
    text, _ = build_script(options, ARM, "::m::", 2, cross=cross, epoch=1, emulated_image=IMAGE)
    native = f'{CONTAINER.native}/bin/python -I /manywheel/in/seed-bytecode.py "$mw_pyc"'
    emulated = 'python /manywheel/in/seed-bytecode.py "$mw_pyc" ||'
    assert f'{native} "$(command -v python)" ||\n    {emulated}' in text
    text, _ = build_script(options, ARM, "::m::", 2, epoch=1, emulated_image=IMAGE)
    assert native not in text
    assert emulated in text


def test_a_seeded_prefix_is_not_seeded_again(tmp_path: Path) -> None:
    """The shell looks for the seed's marker itself: no Python start once it is there."""
    lines = lines_of(Options(tmp_path))
    block = fragment(lines, 'mw_link="${UV_LINK_MODE:-copy}"', "fi")
    assert "seed-bytecode.py" in block
    prefix = tmp_path / "pyc"
    prefix.mkdir()
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    asked = tmp_path / "asked"
    python = bin_ / "python"
    python.write_text(f'#!/bin/sh\necho "$*" >> {asked}\nmkdir -p "$2"\n')  # $2: the prefix
    python.chmod(0o755)
    script = block.replace("/manywheel/cache/bytecode/", f"{prefix}/")
    env = {
        "mw_iso": "--env-dir=/manywheel/build-env", "mw_installer": "uv",
        "PATH": f"{bin_}:{os.environ['PATH']}",
    }  # fmt: skip
    run_bash(script, env)
    assert asked.read_text().count("seed-bytecode.py") == 1
    (next(prefix.iterdir()) / ".seeded-cpython-313").write_text("")
    run_bash(script, env)
    assert asked.read_text().count("seed-bytecode.py") == 1  # not asked again
