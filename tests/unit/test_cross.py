"""cross-compilers: the option, which targets get zig, the toolchain in the cache folder, the
wrappers and the probe's switch in the build script (run here with a fake zig), the keys."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from manywheel import Options
from manywheel._config.options import load_options
from manywheel._errors import ConfigError
from manywheel._events import Emitter, Event
from manywheel._layout import Layout
from manywheel._logs import TargetLog
from manywheel._manifest import fingerprint
from manywheel._model import Target, TargetResult
from manywheel._scripts.build import build_script, stream_steps
from manywheel._scripts.cross import (
    GLIBC_PLACEHOLDER,
    LIBDIRS_PLACEHOLDER,
    _seed_lines,
    cross_lines,
    wrapper,
    zig_seed_script,
)
from manywheel._toolchain import (
    ZIG_VERSION,
    CrossCompilers,
    CrossPlan,
    ToolchainError,
    cross_plan,
    glibc_max,
    zig_toolchain,
)
from manywheel._venvcache import venv_key

ARM = Target("cp313-manylinux_aarch64", "3.13.1", False, "/opt/python/cp313-cp313/bin/python",
             platform="manylinux_aarch64")  # fmt: skip
X86 = replace(ARM, identifier="cp313-manylinux_x86_64", platform="manylinux_x86_64")
PLAN = CrossPlan("aarch64", "aarch64-linux-gnu", "aarch64-linux-gnu")


# -- the option ------------------------------------------------------------------------------
def test_the_option_defaults_to_auto_and_is_set_by_toml_env_and_flag(tmp_path: Path) -> None:
    assert load_options(tmp_path, environ={}).cross_compilers == "auto"
    (tmp_path / "pyproject.toml").write_text('[tool.manywheel]\ncross-compilers = "off"\n')
    assert load_options(tmp_path, environ={}).cross_compilers == "off"
    env = {"MANYWHEEL_CROSS_COMPILERS": "auto"}
    assert load_options(tmp_path, environ=env).cross_compilers == "auto"
    cli = {"cross-compilers": "off"}
    assert load_options(tmp_path, environ=env, cli=cli).cross_compilers == "off"


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MANYWHEEL_CROSS_COMPILERS"):
        load_options(tmp_path, environ={"MANYWHEEL_CROSS_COMPILERS": "zig"})


def test_an_override_turns_it_off_for_some_targets(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[[tool.manywheel.overrides]]\nselect = "cp313-*"\ncross-compilers = "off"\n'
    )
    options = load_options(tmp_path, environ={})
    assert options.for_target("cp313-manylinux_aarch64").cross_compilers == "off"
    assert options.for_target("cp314-manylinux_aarch64").cross_compilers == "auto"


# -- which targets ---------------------------------------------------------------------------
def test_a_foreign_glibc_target_of_a_known_architecture_gets_zig(tmp_path: Path) -> None:
    options = Options(tmp_path)
    assert cross_plan(options, ARM, machine="x86_64") == PLAN
    assert PLAN.label == f"zig {ZIG_VERSION} cc -target aarch64-linux-gnu"


@pytest.mark.parametrize(
    ("change", "target", "machine", "containers"),
    [
        ({"cross_compilers": "off"}, ARM, "x86_64", True),
        ({}, X86, "x86_64", True),
        ({}, ARM, "aarch64", True),
        ({}, replace(ARM, platform="manylinux_i686"), "x86_64", True),
        ({}, replace(ARM, platform="musllinux_aarch64"), "x86_64", True),
        ({}, replace(ARM, platform="manylinux_ppc64le"), "x86_64", True),
        ({}, ARM, "x86_64", False),
        ({"ccache": True}, ARM, "x86_64", True),
    ],
    ids=["off", "native", "native-on-arm64", "32-bit-companion", "musllinux", "not-verified",
         "host-mode", "ccache"],
)  # fmt: skip
def test_other_targets_keep_the_image_compilers(
    tmp_path: Path, change: dict[str, object], target: Target, machine: str, containers: bool
) -> None:
    options = replace(Options(tmp_path), **change)  # type: ignore[arg-type]
    assert cross_plan(options, target, containers=containers, machine=machine) is None


# -- the toolchain ---------------------------------------------------------------------------
def _abilists(versions: Sequence[tuple[int, int, int]]) -> bytes:
    libs = [b"c", b"m", b"pthread"]
    data = bytes([len(libs)]) + b"".join(lib + b"\0" for lib in libs)
    return data + bytes([len(versions)]) + b"".join(bytes(v) for v in versions) + b"\xff\xff"


def test_glibc_max_reads_the_newest_version_of_zigs_symbol_lists(tmp_path: Path) -> None:
    folder = tmp_path / "libc" / "glibc"
    folder.mkdir(parents=True)
    (folder / "abilists").write_bytes(_abilists([(2, 17, 0), (2, 34, 0), (2, 44, 0)]))
    assert glibc_max(tmp_path) == (2, 44)


class FakePip:
    """Writes a ziglang wheel where pip download would, and remembers the arguments."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    def __call__(self, args: Sequence[str], dest: Path) -> None:
        self.calls.append(list(args))
        if self.fail:
            raise ToolchainError("pip download failed: no such version")
        dest.mkdir(parents=True)
        wheel = dest / f"ziglang-{ZIG_VERSION}-py3-none-manylinux_2_12_x86_64.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            exe = zipfile.ZipInfo("ziglang/zig")
            exe.external_attr = (stat.S_IFREG | 0o755) << 16
            zf.writestr(exe, "#!/bin/sh\n")
            zf.writestr("ziglang/lib/libc/glibc/abilists", _abilists([(2, 17, 0), (2, 43, 0)]))


def test_zig_is_downloaded_once_into_the_cache_folder(tmp_path: Path) -> None:
    options = replace(
        Options(tmp_path),
        pip_index_url="https://index.example/simple",
        pip_extra_index_url=("https://extra.example/simple",),
    )
    pip = FakePip()
    root, newest = zig_toolchain(tmp_path / "cache", options, machine="x86_64", download=pip)
    assert root == tmp_path / "cache" / "toolchains" / f"zig-{ZIG_VERSION}-x86_64" / "ziglang"
    assert newest == (2, 43)
    assert os.access(root / "zig", os.X_OK)  # the wheel's executable bit survives
    (args,) = pip.calls
    assert args[-1] == f"ziglang=={ZIG_VERSION}"
    assert "musllinux_1_1_x86_64" in args
    assert args[args.index("--index-url") + 1] == "https://index.example/simple"
    assert args[args.index("--extra-index-url") + 1] == "https://extra.example/simple"
    assert zig_toolchain(tmp_path / "cache", options, machine="x86_64", download=pip)[0] == root
    assert len(pip.calls) == 1  # cached
    assert [p.name for p in (tmp_path / "cache" / "toolchains").iterdir()] == [root.parent.name]


def test_a_failed_download_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match="no such version"):
        zig_toolchain(tmp_path, Options(tmp_path), machine="x86_64", download=FakePip(fail=True))
    assert list((tmp_path / "toolchains").iterdir()) == []


# -- the wrappers ----------------------------------------------------------------------------
def _layout(tmp_path: Path) -> Layout:
    return Layout(
        work=str(tmp_path / "work"),
        project=str(tmp_path / "project"),
        cache=str(tmp_path / "cache"),
        toolchain=str(tmp_path / "toolchain"),
        zig_seed=str(tmp_path / "seed"),
    )


def _fake_zig(layout: Layout, body: str) -> None:
    """A zig that records its arguments one per line in $ZIG_ARGS_LOG, then runs ``body``."""
    folder = Path(layout.toolchain)
    folder.mkdir(parents=True, exist_ok=True)
    zig = folder / "zig"
    zig.write_text(
        '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done >> "$ZIG_ARGS_LOG"\n' + body
    )
    zig.chmod(0o755)


def test_the_wrapper_runs_zig_for_the_target_with_the_image_headers_after_zigs(
    tmp_path: Path,
) -> None:
    layout = _layout(tmp_path)
    text = wrapper(PLAN, layout, cxx=True)
    assert text.startswith("#!/bin/sh\n")
    assert f"{layout.toolchain}/zig c++ -target aarch64-linux-gnu.{GLIBC_PLACEHOLDER} " in text
    assert "-idirafter /usr/include/aarch64-linux-gnu -idirafter /usr/include " in text
    assert "-fno-sanitize=undefined" in text
    assert text.rstrip().endswith('"$@"')  # the build's own flags come last and win
    assert " cc -target" in wrapper(PLAN, layout, cxx=False)


def test_the_wrapper_drops_the_linker_options_zig_refuses_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    layout = _layout(tmp_path)
    _fake_zig(layout, "")
    text = wrapper(PLAN, layout, cxx=False)
    text = text.replace(GLIBC_PLACEHOLDER, "2.36").replace(LIBDIRS_PLACEHOLDER, "-L/usr/lib")
    script = tmp_path / "cc"
    script.write_text(text)
    log = tmp_path / "args"
    args = ["-shared", "-Wl,-O1", "-Wl,-Bsymbolic-functions", "a b.o", "-Wl,--exclude-libs,ALL"]
    subprocess.run(["sh", str(script), *args], env={**os.environ, "ZIG_ARGS_LOG": str(log)},
                   check=True)  # fmt: skip
    seen = log.read_text().splitlines()
    assert seen[:3] == ["cc", "-target", "aarch64-linux-gnu.2.36"]
    assert "-L/usr/lib" in seen
    assert seen[-3:] == ["-shared", "-Wl,-O1", "a b.o"]


# -- the switch in the build script ----------------------------------------------------------
def _run_cross_lines(
    tmp_path: Path,
    *,
    zig_body: str,
    env: dict[str, str] | None = None,
    glibc: str = "2.43",
    image_key: str = "",
    seeded: bool = False,
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the cross lines as the build script does, with a fake zig and getconf, and print
    CC and CXX at the end (again in the same folders: the same cache)."""
    layout = _layout(tmp_path)
    _fake_zig(layout, zig_body)
    inbox = Path(layout.inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    seed = Path(layout.zig_seed) if seeded else None
    cross = CrossCompilers(PLAN, tmp_path, (2, 44), image_key=image_key, zig_seed=seed)
    lines = cross_lines(cross, layout, files, "::m::", shared=True)
    for name, data in files.items():
        (inbox / name).write_bytes(data)
    bin_ = tmp_path / "fakebin"
    bin_.mkdir(exist_ok=True)
    getconf = bin_ / "getconf"
    getconf.write_text(f"#!/bin/sh\necho 'glibc {glibc}'\n")
    getconf.chmod(0o755)
    python = bin_ / "python"
    if not python.is_symlink():
        python.symlink_to(sys.executable)
    script = "\n".join(
        ["set -eu", 'step() { echo "== $1"; }', *lines, 'echo "CC=${CC:-} CXX=${CXX:-}"']
    )
    log = tmp_path / "args"
    log.unlink(missing_ok=True)
    environ = {
        "PATH": f"{bin_}:{os.environ['PATH']}",
        "ZIG_ARGS_LOG": str(log),
        "HOME": str(tmp_path),
        "MANYWHEEL_IDENTIFIER": "cp313-manylinux_aarch64",
        **(env or {}),
    }
    r = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=environ,
                       check=False)  # fmt: skip
    return r, log.read_text().splitlines() if log.exists() else []


def test_compilers_that_pass_the_probe_become_cc_and_cxx(tmp_path: Path) -> None:
    r, zig_args = _run_cross_lines(tmp_path, zig_body="")
    assert r.returncode == 0, r.stderr
    bin_ = tmp_path / "work" / "cross" / "bin"
    assert f"CC={bin_}/cc CXX={bin_}/c++" in r.stdout
    assert f"manywheel: cross compilers: {PLAN.label}.2.43, run natively" in r.stdout
    assert "aarch64-linux-gnu.2.43" in zig_args  # the probe ran through the wrappers
    assert {"cc", "c++"} <= set(zig_args)
    for name in ("cc", "gcc", "aarch64-linux-gnu-gcc", "c++", "g++", "aarch64-linux-gnu-g++"):
        assert os.access(bin_ / name, os.X_OK), name
    assert "warning" not in r.stdout


def test_a_failed_probe_warns_and_keeps_the_image_compilers(tmp_path: Path) -> None:
    r, _ = _run_cross_lines(tmp_path, zig_body='echo "error: unknown clang option" >&2; exit 1\n')
    assert r.returncode == 0, r.stderr
    assert "CC= CXX=" in r.stdout
    assert "::m:: warning the cross compilers (zig" in r.stdout
    assert "probe: error: unknown clang option" in r.stdout  # the probe's output, in the log


def test_a_probe_that_passed_in_the_image_is_not_run_again_with_the_same_flags(
    tmp_path: Path,
) -> None:
    key = "sha256:prepared"
    first, zig_args = _run_cross_lines(tmp_path, zig_body="", image_key=key)
    assert first.returncode == 0, first.stderr
    assert zig_args  # probed
    (marker,) = (tmp_path / "cache" / "zig" / "manywheel-probed").iterdir()
    again, zig_args = _run_cross_lines(tmp_path, zig_body="", image_key=key)
    assert again.returncode == 0, again.stderr
    assert zig_args == []
    assert (
        f"passed their probe in this image before, with these wrappers and flags ({marker.name})"
        in again.stdout
    )
    assert f"CC={tmp_path}/work/cross/bin/cc" in again.stdout
    # Another image, other flags, another glibc: probed again.
    changes = [
        {"image_key": "sha256:other"},
        {"image_key": key, "env": {"CFLAGS": "-O3"}},
        {"image_key": key, "glibc": "2.42"},
    ]
    for change in changes:
        r, zig_args = _run_cross_lines(tmp_path, zig_body="", **change)  # type: ignore[arg-type]
        assert r.returncode == 0, r.stderr
        assert zig_args, change


SEEDED = "manywheel: cross compilers: zig's cache starts from the libc stubs and compiler-rt"


def test_a_new_zig_cache_starts_from_the_seed_with_its_probe_marker(tmp_path: Path) -> None:
    """The seed as _zigseed makes it: zig's cache after the probe passed in the image."""
    key = "sha256:prepared"
    r, _ = _run_cross_lines(tmp_path, zig_body="", image_key=key)
    assert r.returncode == 0, r.stderr
    (tmp_path / "cache" / "zig").rename(tmp_path / "seed")
    (tmp_path / "seed" / "o").mkdir()
    (tmp_path / "seed" / "o" / "compiler_rt.a").write_text("built once")
    r, zig_args = _run_cross_lines(tmp_path, zig_body="", image_key=key, seeded=True)
    assert r.returncode == 0, r.stderr
    assert SEEDED in r.stdout
    assert "passed their probe in this image before" in r.stdout
    assert zig_args == []  # not probed: the seed's marker says it passed
    zig = tmp_path / "cache" / "zig"
    assert (zig / "o" / "compiler_rt.a").read_text() == "built once"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["zig"]  # no copy left beside
    # A zig cache that is there (the project's next build) is not seeded again.
    (tmp_path / "seed" / "o" / "compiler_rt.a").write_text("changed")
    r, _ = _run_cross_lines(tmp_path, zig_body="", image_key=key, seeded=True)
    assert SEEDED not in r.stdout
    assert (zig / "o" / "compiler_rt.a").read_text() == "built once"
    # A target that finds it made by another target while it copied: its copy is removed.
    shutil.rmtree(zig)
    script = "\n".join(_seed_lines(_layout(tmp_path), str(zig)))
    racing = f"mkdir -p {zig} && echo theirs > {zig}/mine\n" + script.replace(
        "if cp -R", "if mkdir -p " + str(zig) + " && cp -R", 1
    )
    r = subprocess.run(["sh", "-c", racing], capture_output=True, text=True, check=False,
                       env={**os.environ, "MANYWHEEL_IDENTIFIER": "x"})  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in zig.iterdir()) == ["mine"]
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["zig"]


@pytest.mark.parametrize("passes", [True, False], ids=["passed", "failed"])
def test_the_seed_script_runs_the_probe_into_the_cache_folder(tmp_path: Path, passes: bool) -> None:
    layout = _layout(tmp_path)
    _fake_zig(layout, "" if passes else "exit 1\n")
    cross = CrossCompilers(PLAN, tmp_path, (2, 44), image_key="sha256:image")
    script, files = zig_seed_script(cross, str(tmp_path / "fakebin" / "python"), layout)
    inbox = Path(layout.inbox)
    inbox.mkdir(parents=True)
    for name, data in files.items():
        (inbox / name).write_bytes(data)
    bin_ = tmp_path / "fakebin"
    bin_.mkdir()
    (bin_ / "getconf").write_text("#!/bin/sh\necho 'glibc 2.43'\n")
    (bin_ / "getconf").chmod(0o755)
    (bin_ / "python").symlink_to(sys.executable)
    env = {
        "PATH": os.environ["PATH"],
        "ZIG_ARGS_LOG": str(tmp_path / "args"),
        "HOME": str(tmp_path),
    }
    r = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env, check=False)
    assert (r.returncode == 0) == passes, r.stdout + r.stderr
    probes = (tmp_path / "args").read_text().count("aarch64-linux-gnu.2.43")
    assert probes >= (3 if passes else 1)  # C compile and link, C++ compile (it stops at one)
    probed = tmp_path / "cache" / "zig" / "manywheel-probed"
    assert probed.is_dir() == passes


def test_a_failed_probe_leaves_no_marker_and_no_key_caches_nothing(tmp_path: Path) -> None:
    refuse = 'echo "error: unknown clang option" >&2; exit 1\n'
    r, _ = _run_cross_lines(tmp_path, zig_body=refuse, image_key="sha256:prepared")
    assert "warning the cross compilers" in r.stdout
    assert not (tmp_path / "cache" / "zig" / "manywheel-probed").exists()
    for _ in range(2):
        _, zig_args = _run_cross_lines(tmp_path, zig_body="")
        assert zig_args  # no image key: always probed
    assert not (tmp_path / "cache" / "zig" / "manywheel-probed").exists()


def test_a_cc_set_by_the_build_wins(tmp_path: Path) -> None:
    r, zig_args = _run_cross_lines(tmp_path, zig_body="", env={"CC": "clang-19"})
    assert r.returncode == 0, r.stderr
    assert "CC=clang-19 CXX=" in r.stdout
    assert "not used: the build sets CC or CXX (CC=clang-19" in r.stdout
    assert zig_args == []


def test_a_glibc_newer_than_zig_knows_is_capped(tmp_path: Path) -> None:
    r, zig_args = _run_cross_lines(tmp_path, zig_body="", glibc="2.51")
    assert r.returncode == 0, r.stderr
    assert "the image has glibc 2.51, zig knows up to 2.44" in r.stdout
    assert "aarch64-linux-gnu.2.44" in zig_args


def test_the_build_script_tries_the_cross_compilers_after_the_environment(tmp_path: Path) -> None:
    options = replace(Options(tmp_path), environment=(("CFLAGS", "-O3"),))
    cross = CrossCompilers(PLAN, tmp_path, (2, 44))
    text, files = build_script(options, ARM, "::m::", 2, cross=cross)
    assert text.index("export CFLAGS=") < text.index("step compilers") < text.index("step venv")
    assert {"cross-cc.in", "cross-c++.in", "cross-probe.sh"} <= set(files)
    plain, plain_files = build_script(options, ARM, "::m::", 2)
    assert "step compilers" not in plain
    assert "cross-probe.sh" not in plain_files


def test_a_warning_control_line_becomes_a_warning_event(tmp_path: Path) -> None:
    class Proc:
        stdout = __import__("io").BytesIO(b"::m:: warning the probe failed\nbuilding\n")

    seen: list[Event] = []
    with TargetLog(tmp_path / "t.log", ()) as log:
        stream_steps(Proc(), log, "::m::", TargetResult(ARM), Emitter(seen.append))  # type: ignore[arg-type]
    warnings = [e for e in seen if e.kind == "warning"]
    assert [(e.message, e.target) for e in warnings] == [
        (f"{ARM.identifier}: the probe failed", ARM.identifier)
    ]
    assert "manywheel: warning: the probe failed" in (tmp_path / "t.log").read_text()


# -- keys ------------------------------------------------------------------------------------
def test_fingerprints_and_venv_keys_name_the_compilers(tmp_path: Path) -> None:
    options = Options(tmp_path)
    zig = fingerprint(options, ARM, "env", "src", compilers=PLAN.label)
    gcc = fingerprint(options, ARM, "env", "src")
    assert zig != gcc
    assert fingerprint(options, ARM, "env", "src", compilers=PLAN.label) == zig
    assert venv_key(options, ARM, "env", "recipe", PLAN.label) != venv_key(
        options, ARM, "env", "recipe"
    )
    # The option counts through what it decides: a native target built the same is not rebuilt.
    off = replace(options, cross_compilers="off")
    assert fingerprint(off, X86, "env", "src") == fingerprint(options, X86, "env", "src")
