"""The image's release of uv, built for this machine, for the emulated targets (_nativeuv), and
the build script's lines that use it only where it is the image's."""

from __future__ import annotations

import platform
import subprocess
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from manywheel import Options
from manywheel._layout import CONTAINER
from manywheel._model import Target
from manywheel._nativeuv import native_uv
from manywheel._plan import parse_facts
from manywheel._scripts.build import build_script
from manywheel._scripts.cross import native_frontend_lines, native_uv_lines
from manywheel._toolchain import CrossCompilers, CrossPlan, ToolchainError

ARM = Target("cp313-manylinux_aarch64", "3.13.1", False, "/opt/python/cp313-cp313/bin/python",
             "manylinux_aarch64")  # fmt: skip
PLAN = CrossPlan("aarch64", "aarch64-linux-gnu", "aarch64-linux-gnu")


class FakeIndex:
    """pip download: a uv wheel whose ``uv`` is a script saying ``says``."""

    def __init__(self, says: str = "uv {version} (fake)", member: str = "scripts/uv") -> None:
        self.says, self.member = says, member
        self.calls: list[list[str]] = []

    def __call__(self, args: Sequence[str], dest: Path) -> None:
        self.calls.append(list(args))
        version = args[-1].removeprefix("uv==")
        dest.mkdir(parents=True)
        with zipfile.ZipFile(dest / f"uv-{version}-py3-none-musllinux_1_1_x86_64.whl", "w") as zf:
            zf.writestr(
                f"uv-{version}.data/{self.member}",
                "#!/bin/sh\necho '" + self.says.format(version=version) + "'\n",
            )
            zf.writestr(f"uv-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\n")


def test_made_once_from_the_musllinux_wheel_of_the_release_and_checked(tmp_path: Path) -> None:
    index = FakeIndex()
    options = replace(Options(tmp_path), pip_index_url="https://mirror.example/simple")
    folder = native_uv(tmp_path / "cache", options, "0.13.9", machine="x86_64", download=index)
    assert folder == tmp_path / "cache" / "toolchains" / "uv-0.13.9-x86_64"
    r = subprocess.run([folder / "uv", "--version"], capture_output=True, text=True, check=True)
    assert r.stdout.startswith("uv 0.13.9")
    (args,) = index.calls
    assert args[-1] == "uv==0.13.9"
    assert "musllinux_1_1_x86_64" in args  # a static binary: it runs in any image
    assert "--index-url" in args
    assert "https://mirror.example/simple" in args
    again = native_uv(tmp_path / "cache", options, "0.13.9", machine="x86_64", download=index)
    assert again == folder
    assert len(index.calls) == 1
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no leftovers


@pytest.mark.parametrize(
    ("version", "index", "why"),
    [
        ("0.13.9; rm -rf /", FakeIndex(), "not one to download"),
        ("0.13.9", FakeIndex(says="uv 0.13.8"), "says 'uv 0.13.8'"),
        ("0.13.9", FakeIndex(member="purelib/uv"), "holds no uv"),
    ],
    ids=["not-a-release", "another-release", "no-binary"],
)
def test_what_cannot_be_the_images_uv_is_refused_and_nothing_is_left(
    tmp_path: Path, version: str, index: FakeIndex, why: str
) -> None:
    with pytest.raises(ToolchainError, match=why):
        native_uv(tmp_path, Options(tmp_path), version, machine="x86_64", download=index)
    assert not (tmp_path / "toolchains").exists() or not list((tmp_path / "toolchains").iterdir())


def test_the_images_uv_release_is_discovered() -> None:
    facts = parse_facts("platform manylinux_aarch64\nshell bash\nuv 0.13.9\n")
    assert facts.uv == "0.13.9"
    assert parse_facts("platform manylinux_aarch64\n").uv == ""


def _run_lines(lines: list[str], tmp_path: Path, installer: str, says: str, *, elf: bool) -> str:
    """``lines`` with an image uv saying ``says``: a program (``elf``: a ``head`` first on PATH
    shows the lines an ELF header where the file is a script) or a wrapper script."""
    image_uv = tmp_path / "image-uv"
    image_uv.write_text(f"#!/bin/sh\necho '{says}'\n")
    image_uv.chmod(0o755)
    fake = tmp_path / "bin"
    fake.mkdir()
    if elf:
        (fake / "head").write_text("#!/bin/sh\nprintf '\\177ELF'\n")
        (fake / "head").chmod(0o755)
    script = "\n".join(
        [
            "set -eu",
            f'PATH={fake}:"$PATH" mw_installer={installer} mw_uv={image_uv}',
            *lines,
            'echo "RESULT=$mw_uvn"',
        ]
    )
    r = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    return r.stdout


@pytest.mark.parametrize(
    ("installer", "says", "elf", "native"),
    [
        ("uv", "uv 0.13.9 (aarch64-unknown-linux-gnu)", True, True),
        ("uv", "uv 0.13.10 (aarch64-unknown-linux-gnu)", True, False),  # a setup script's
        ("uv", "", True, False),  # it does not run
        ("uv", "uv 0.13.9 (aarch64-unknown-linux-gnu)", False, False),  # a wrapper, maybe an index
        ("pip", "uv 0.13.9 (aarch64-unknown-linux-gnu)", True, False),  # uv does not install
    ],
    ids=["same", "another-release", "broken", "wrapper-script", "pip"],
)
def test_the_native_uv_is_used_only_where_it_is_the_images_release(
    tmp_path: Path, installer: str, says: str, elf: bool, native: bool
) -> None:
    cross = CrossCompilers(PLAN, tmp_path, (2, 44), uv=tmp_path, uv_version="0.13.9")
    out = _run_lines(native_uv_lines(cross, CONTAINER), tmp_path, installer, says, elf=elf)
    if native:
        assert f"RESULT={CONTAINER.native_uv}/uv" in out
        assert f"manywheel: uv 0.13.9 runs natively ({platform.machine()}) for the image's" in out
    else:
        assert "RESULT=\n" in out
        assert "runs natively" not in out


def test_builds_isolated_environment_takes_it_where_build_would_run_the_images_uv(
    tmp_path: Path,
) -> None:
    """native-build.py's --uv: the native uv where build would run the image's; a UV of the
    user's naming another uv keeps that one."""
    frontend = [
        line
        for line in native_frontend_lines(CONTAINER, {})
        if "mw_nb_uv" in line and "if [ -n" in line
    ]
    (swap,) = frontend
    for uv_var, expected in (("", "/native/uv"), ("/other/uv", "/other/uv")):
        script = (
            f"set -eu; mw_uv=/image/uv mw_uvn=/native/uv; UV={uv_var or '/image/uv'}\n"
            'mw_nb_uv="$UV"\n' + swap + '\necho "NB=$mw_nb_uv"'
        )
        r = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
        assert f"NB={expected}" in r.stdout


def test_the_build_script_has_them_only_with_a_native_uv(tmp_path: Path) -> None:
    options = Options(tmp_path)
    cross = CrossCompilers(PLAN, tmp_path, (2, 44), python=tmp_path)
    text, _ = build_script(options, ARM, "::m::", 2, cross=cross)
    assert "mw_uvn=" not in text
    text, _ = build_script(
        options, ARM, "::m::", 2, cross=replace(cross, uv=tmp_path, uv_version="0.13.9")
    )
    assert (
        text.index("manywheel: installing with") < text.index("mw_uvn=") < text.index("step venv")
    )
    assert '"${mw_uvn:-uv}" pip install' in text  # the requirements
