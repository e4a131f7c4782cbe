"""The cross compilers in a target's container: zig's wrappers, their probe, the switch.

``_toolchain`` decides which targets get them and mounts zig read-only at
``layout.toolchain``. Here the build script learns the image's glibc version, writes the
``cc``/``c++`` wrappers (and the ``gcc``, ``g++`` and ``<triple>-gcc`` names an interpreter's
``sysconfig`` may record), compiles and links a C shared library and compiles a C++ file with them, and
only then points ``CC``, ``CXX`` and ``PATH`` at them. Anything else (the build already has a
``CC`` or ``CXX``, the glibc version cannot be told, the probe fails) leaves the image's own
compilers in place, said in the log, and for a failed probe in a warning. A probe that passed
leaves a marker, so that it is not run again with the same image, wrappers and flags.

zig builds the glibc stubs and compiler-rt of a target at its first link, about fifteen seconds
(natively). ``zig_seed_script`` runs these lines once per image and toolchain in a container of
the image, without a project, into a seed folder (``_zigseed``); a build whose zig cache does not
exist yet starts it as a copy of that seed (``layout.zig_seed``, mounted read-only).

The same targets get the native Python (``_nativepython``, mounted at ``layout.native``): the
lines here let it run build (the frontend, around the emulated hooks) and the image's
auditwheel, where it can run their code (``native-paths.sh``); else they run emulated.
"""

from __future__ import annotations

from dataclasses import replace

from .._arch import native_arch
from .._layout import Layout
from .._toolchain import CrossCompilers, CrossPlan
from .shell import fixed_script, quote

__all__ = [
    "GLIBC_PLACEHOLDER",
    "LIBDIRS_PLACEHOLDER",
    "cross_lines",
    "native_auditwheel_lines",
    "native_frontend_lines",
    "native_uv_lines",
    "wrapper",
    "zig_seed_script",
]

PROBE_SCRIPT = fixed_script("cross-probe.sh")
NATIVE_AUDITWHEEL = fixed_script("native-auditwheel.sh")
NATIVE_PATHS = fixed_script("native-paths.sh")
NATIVE_CHECK = fixed_script("native-check.py")
NATIVE_BUILD = fixed_script("native-build.py")
HOOK_SERVER = fixed_script("hook-server.py")
GLIBC_PLACEHOLDER = "@GLIBC@"  # replaced by the image's glibc version in the container
LIBDIRS_PLACEHOLDER = "@LIBDIRS@"  # replaced by -L for each library folder the image has
# The image's library folders, searched for -l in this order (those it has).
LIBDIRS = (
    "/usr/local/lib",
    "/usr/local/lib64",
    "/usr/lib/{m}",
    "/lib/{m}",
    "/usr/lib64",
    "/lib64",
    "/usr/lib",
)


def wrapper(plan: CrossPlan, layout: Layout, *, cxx: bool) -> str:
    """The wrapper script for zig's C (or C++) compiler, with the glibc version left as
    GLIBC_PLACEHOLDER. zig's own libc headers come first (those of the glibc version
    targeted); the image's headers follow them (-idirafter: zlib.h, Python.h, pyconfig.h under
    the multiarch folder) and its library folders are searched for -l (zig links libc, libm,
    libpthread, libdl and librt from its own symbol lists of that glibc version). The
    build's flags come last, so they win: zig's UBSan runtime (on by default in its debug
    mode) is off unless the build turns it on."""
    multiarch = plan.multiarch
    flags = [
        "-target",
        f"{plan.zig_target}.{GLIBC_PLACEHOLDER}",
        "-fno-sanitize=undefined",
        "-Wno-unused-command-line-argument",
        "-idirafter",
        "/usr/local/include",
        "-idirafter",
        f"/usr/include/{multiarch}",
        "-idirafter",
        "/usr/include",
        LIBDIRS_PLACEHOLDER,
    ]
    mode = "c++" if cxx else "cc"
    return (
        "#!/bin/sh\n"
        f"# manywheel: zig's {'C++' if cxx else 'C'} compiler for {plan.arch}, run natively "
        "(cross-compilers = auto)\n"
        "# Linker options zig's linker refuses; the extension works the same without them:\n"
        "# Debian's Pythons link with -Bsymbolic-functions; --exclude-libs hides the symbols\n"
        "# of static libraries (without it they may be exported too). Dropped.\n"
        'case " $* " in\n'
        "*-Bsymbolic-functions*|*--exclude-libs*)\n"
        "  for mw_a do\n"
        "    shift\n"
        '    case $mw_a in -Wl,-Bsymbolic-functions|-Wl,--exclude-libs,*) ;; *) set -- "$@" "$mw_a" ;; esac\n'
        "  done ;;\n"
        "esac\n"
        f'exec {layout.toolchain}/zig {mode} {" ".join(flags)} "$@"\n'
    )


def _names(plan: CrossPlan, *, cxx: bool) -> list[str]:
    if cxx:
        return ["c++", "g++", f"{plan.multiarch}-g++"]
    return ["cc", "gcc", f"{plan.multiarch}-gcc"]


def cross_lines(
    cross: CrossCompilers, layout: Layout, files: dict[str, bytes], marker: str, *, shared: bool
) -> list[str]:
    """Shell lines that switch the build to the cross compilers if they pass the probe
    (run after the environment is exported: a CC or CXX set by the image, a `source` script or
    `environment` is kept). ``shared``: zig's cache (the libc stubs, compiler-rt and libc++
    it builds once per target) goes in the host cache folder's mount."""
    plan = cross.plan
    files["cross-cc.in"] = wrapper(plan, layout, cxx=False).encode()
    files["cross-c++.in"] = wrapper(plan, layout, cxx=True).encode()
    files["cross-probe.sh"] = PROBE_SCRIPT.encode()
    folder = f"{layout.work}/cross"
    bin_ = f"{folder}/bin"
    zig_cache = f"{layout.cache}/zig" if shared else f"{layout.work}/zig-cache"
    major, newest = cross.glibc_max
    inbox = layout.inbox
    warn = (
        f"the cross compilers ({plan.label}) failed their probe in this image (its output is in the "
        "target's log); building with the image's own compilers, under emulation"
    )
    glibc = "s/^glibc \\([0-9][0-9]*\\.[0-9][0-9]*\\).*/\\1/p"
    ldd = "1s/.* \\([0-9][0-9]*\\.[0-9][0-9]*\\)$/\\1/p"
    writes = []
    for cxx, source in ((False, "cross-cc.in"), (True, "cross-c++.in")):
        for name in _names(plan, cxx=cxx):
            writes.append(
                f'  sed -e "s/{GLIBC_PLACEHOLDER}/$mw_glibc/" -e "s|{LIBDIRS_PLACEHOLDER}|$mw_libdirs|"'
                f" {inbox}/{source} > {bin_}/{name}"
            )
    return [
        "step compilers",
        'if [ -n "${CC:-}${CXX:-}" ]; then',
        '  echo "manywheel: cross compilers: not used: the build sets CC or CXX'
        ' (CC=${CC:-}, CXX=${CXX:-}), which it keeps"',
        "else",
        f"  mw_glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | sed -n {quote(glibc)}) || mw_glibc=",
        '  if [ -z "$mw_glibc" ]; then',
        f"    mw_glibc=$(ldd --version 2>/dev/null | sed -n {quote(ldd)}) || mw_glibc=",
        "  fi",
        "fi",
        'if [ -z "${CC:-}${CXX:-}" ] && [ -z "$mw_glibc" ]; then',
        "  printf '%s warning %s\\n' "
        + quote(marker)
        + " "
        + quote(
            "the cross compilers are not used: the image's glibc version cannot be told "
            "(getconf GNU_LIBC_VERSION, ldd --version); building with its own compilers"
        ),
        'elif [ -z "${CC:-}${CXX:-}" ]; then',
        f'  if [ "${{mw_glibc%%.*}}" -eq {major} ] && [ "${{mw_glibc#*.}}" -gt {newest} ]; then',
        f'    echo "manywheel: cross compilers: the image has glibc $mw_glibc, zig knows up to'
        f" {major}.{newest}: the extension links against {major}.{newest}'s symbols\"",
        f"    mw_glibc={major}.{newest}",
        "  fi",
        "  mw_libdirs=",
        f"  for mw_d in {' '.join(d.format(m=plan.multiarch) for d in LIBDIRS)}; do",
        '    if [ -d "$mw_d" ]; then mw_libdirs="${mw_libdirs:+$mw_libdirs }-L$mw_d"; fi',
        "  done",
        *(_seed_lines(layout, zig_cache) if cross.zig_seed is not None else []),
        f"  mkdir -p {bin_} {zig_cache}",
        *writes,
        f"  chmod 755 {bin_}/*",
        f"  export ZIG_GLOBAL_CACHE_DIR={zig_cache} ZIG_LOCAL_CACHE_DIR={zig_cache}",
        *_probed_lines(cross, bin_, inbox, zig_cache),
        '  if [ -n "$mw_probed" ] && [ -f "$mw_probed" ]; then',
        '    echo "manywheel: cross compilers: they passed their probe in this image before, with'
        ' these wrappers and flags (${mw_probed##*/})"',
        "    mw_pass=1",
        f"  elif sh {inbox}/cross-probe.sh {bin_}/cc {bin_}/c++ {folder}/probe"
        f" > {folder}/probe.log 2>&1; then",
        "    mw_pass=1",
        '    if [ -n "$mw_probed" ]; then mkdir -p "${mw_probed%/*}" && : > "$mw_probed" || :; fi',
        "  else",
        "    mw_pass=",
        f"    sed 's/^/  probe: /' {folder}/probe.log",
        f"    printf '%s warning %s\\n' {quote(marker)} {quote(warn)}",
        "  fi",
        '  if [ -n "$mw_pass" ]; then',
        f'    export CC={bin_}/cc CXX={bin_}/c++ PATH={bin_}:"$PATH"',
        f'    echo "manywheel: cross compilers: {plan.label}.$mw_glibc, run natively'
        " (CC=$CC, CXX=$CXX; Fortran: the image's own)\"",
        "  fi",
        "fi",
    ]


def _seed_lines(layout: Layout, zig_cache: str) -> list[str]:
    """A zig cache that does not exist yet starts as a copy of the seed: copied next to it and
    renamed, so a zig of another target never reads a half-copied file (if another target's
    copy is renamed first, this one lands inside it and is removed)."""
    seed = layout.zig_seed
    return [
        f"  if [ ! -d {zig_cache} ] && [ -d {seed} ]; then",
        f'    mw_zs="{zig_cache}.seed-$MANYWHEEL_IDENTIFIER-$$"',
        f'    if cp -R {seed} "$mw_zs" && mv "$mw_zs" {zig_cache} 2>/dev/null; then',
        "      echo \"manywheel: cross compilers: zig's cache starts from the libc stubs and"
        ' compiler-rt made for this image before"',
        "    fi",
        f'    rm -rf "$mw_zs" "{zig_cache}/${{mw_zs##*/}}"',
        "  fi",
    ]


def zig_seed_script(
    cross: CrossCompilers, python: str, layout: Layout
) -> tuple[str, dict[str, bytes]]:
    """A script that runs the build's cross-compiler lines (the wrappers, their probe) with the
    interpreter ``python`` first on PATH and zig's cache at ``layout.cache``/zig, and the files
    it needs in ``layout.inbox``: what it leaves in that cache seeds the builds' (the probe's
    first link builds the glibc stubs and compiler-rt). Exits 1 unless the probe passed."""
    files: dict[str, bytes] = {}
    lines = [
        "set -eu",
        "step() { :; }",
        f'export PATH={quote(python.rsplit("/", 1)[0])}:"$PATH"',
        "cd /",
        *cross_lines(replace(cross, zig_seed=None), layout, files, "::mw-seed::", shared=True),
        '[ -n "${mw_pass:-}" ]',
    ]
    return "\n".join(lines) + "\n", files


def _probed_lines(cross: CrossCompilers, bin_: str, inbox: str, zig_cache: str) -> list[str]:
    """Set ``mw_probed`` to the marker file of a probe that passed in zig's cache folder, named
    by a hash of all that decides the probe's result: the wrappers as written (zig's target and
    glibc version, the image's library folders), the probe script, zig's version, the image
    (``cross.image_key``, from image ids), the interpreter the probe asks for its flags, and the
    flags it compiles with. Empty (the probe runs) without an image key or sha256sum."""
    if not cross.image_key:
        return ["  mw_probed="]
    words = [
        quote(cross.plan.label),
        quote(cross.image_key),
        '"$(command -v python)"',
        *(f'"${{{v}:-}}"' for v in ("CPPFLAGS", "CFLAGS", "CXXFLAGS", "LDFLAGS")),
        '"${_PYTHON_SYSCONFIGDATA_NAME:-}"',
    ]
    inputs = (
        f"{{ cat {bin_}/cc {bin_}/c++ {inbox}/cross-probe.sh; printf '%s\\n' {' '.join(words)}; }}"
    )
    return [
        "  mw_probed=",
        "  if command -v sha256sum > /dev/null 2>&1; then",
        f"    mw_probed=$({inputs} | sha256sum | cut -c1-32) || mw_probed=",
        f'    if [ -n "$mw_probed" ]; then mw_probed={zig_cache}/manywheel-probed/$mw_probed; fi',
        "  fi",
    ]


def _native_checks(files: dict[str, bytes]) -> None:
    files["native-paths.sh"] = NATIVE_PATHS.encode()
    files["native-check.py"] = NATIVE_CHECK.encode()


def native_auditwheel_lines(plan: CrossPlan, layout: Layout, files: dict[str, bytes]) -> list[str]:
    """Shell lines, at the start of the repair step, that put first on PATH an ``auditwheel``
    running the image's own auditwheel on the native Python mounted at ``layout.native``,
    acting for the target's machine, where that Python can run it (native-auditwheel.sh says
    which in the log); else the image's auditwheel runs as it is, emulated."""
    files["native-auditwheel.sh"] = NATIVE_AUDITWHEEL.encode()
    _native_checks(files)
    inbox, bin_ = layout.inbox, f"{layout.work}/native-tools"
    return [
        f"if sh {inbox}/native-auditwheel.sh {layout.native}/bin/python {bin_} {plan.arch}"
        f" {inbox}; then",
        f'  export PATH={bin_}:"$PATH"',
        "fi",
    ]


def native_uv_lines(cross: CrossCompilers, layout: Layout) -> list[str]:
    """Shell lines, after the installer is chosen, that set ``mw_uvn`` to the native uv mounted
    at ``layout.native_uv`` when the installer is uv and the image's (``$mw_uv``) is uv itself
    (a program, not a script that may set an index or a configuration first) of the same
    release: manywheel's own uv commands (the requirements, build's isolated environment) run
    it; the user's run the image's uv. Else ``mw_uvn`` is empty."""
    version = cross.uv_version
    said = f"manywheel: uv {version} runs natively ({native_arch()}) for the image's $mw_uv"
    return [
        "mw_uvn=",
        'if [ "$mw_installer" = uv ] && [ "$(head -c 4 "$mw_uv" 2>/dev/null | tail -c 3)" = ELF ]; then',
        '  mw_v=$("$mw_uv" --version 2>/dev/null) || mw_v=',
        "  mw_v=${mw_v#uv }",
        f'  if [ "${{mw_v%% *}}" = {quote(version)} ]; then',
        f"    mw_uvn={layout.native_uv}/uv",
        f'    echo "{said}"',
        "  fi",
        "fi",
    ]


def native_frontend_lines(layout: Layout, files: dict[str, bytes]) -> list[str]:
    """Shell lines, before the build, that set ``mw_nb_paths`` to the folders the build venv
    imports build from if the native Python mounted at ``layout.native`` can run it, with uv
    as the installer (``mw_nb_uv``: the uv build would use), and say which frontend runs."""
    files["native-build.py"] = NATIVE_BUILD.encode()
    files["hook-server.py"] = HOOK_SERVER.encode()
    _native_checks(files)
    inbox, found = layout.inbox, f"{layout.work}/native-build.found"
    check = (
        f'sh {inbox}/native-paths.sh "$mw_native" {inbox}/native-check.py "$(command -v python)"'
        f" build build build.env pyproject_hooks packaging > {found}"
    )
    return [
        f"mw_native={layout.native}/bin/python mw_nb_paths='' mw_nb_version=''",
        'mw_nb_uv=$(command -v "${UV:-uv}" 2>/dev/null) || mw_nb_uv=',
        # The uv build would run: the native one where it is the image's (native_uv_lines).
        'if [ -n "${mw_uvn:-}" ] && [ "$mw_nb_uv" = "${mw_uv:-}" ]; then mw_nb_uv=$mw_uvn; fi',
        'if [ "$mw_installer" != uv ] || [ -z "$mw_nb_uv" ]; then',
        '  echo "manywheel: frontend: python -m build runs emulated: it installs with'
        ' $mw_installer, not uv"',
        f"elif {check}; then",
        f"  {{ read -r mw_nb_paths; read -r mw_nb_version; }} < {found}",
        '  echo "manywheel: frontend: build $mw_nb_version runs natively'
        " (the venv's build on the native Python; the backend's hooks run emulated)\"",
        "else",
        f'  echo "manywheel: frontend: $(cat {found}): python -m build runs emulated"',
        "fi",
    ]
