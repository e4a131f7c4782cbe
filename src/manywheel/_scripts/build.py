"""The per-target pipeline: one container, one script (source, venv, requirements, build, repair)."""

from __future__ import annotations

import hashlib
import itertools
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import PurePosixPath
from typing import IO, Literal

from .._config.options import Options
from .._config.requirements import TOP as TOP_REQUIREMENTS
from .._config.requirements import requirement_files
from .._events import Emitter, Step
from .._layout import CONTAINER, Layout
from .._logs import TargetLog
from .._model import Target, TargetResult
from .._prepare import ca_exports, pip_exports
from .._toolchain import CrossCompilers
from .cross import cross_lines, native_auditwheel_lines, native_frontend_lines, native_uv_lines
from .frontend import frontend_command, native_frontend_command, uses_uv
from .installer import choose_lines, install_line, probe_line, uv_exports
from .shell import export_literal, export_word, fill_placeholders, fixed_script, quote
from .steps import AUDIT_EXIT, BUILD_EXIT, REPAIR_EXIT, REQUIREMENTS_EXIT, SOURCE_EXIT, VENV_EXIT

__all__ = [
    "VenvCache",
    "build_script",
    "stream_steps",
    "venv_recipe",
]


def _repair_line(template: str, project: str) -> str:
    """The user's repair template with placeholders bound to shell variables."""
    return (
        fill_placeholders(template, project=project, package=project)
        .replace("{wheel}", '"$MW_WHEEL"')
        .replace("{dest_dir}", '"$MW_DEST_DIR"')
        .replace("{plat_args}", '${MW_PLAT:+--plat "$MW_PLAT"}')
        .replace("{plat}", '"$MW_PLAT"')
    )


# Runs the first other ninja on PATH with -j$MANYWHEEL_JOBS (a later -j from the caller wins).
NINJA_WRAPPER = fixed_script("ninja.sh")
SEED_BYTECODE = fixed_script("seed-bytecode.py")


# A venv with pip, without ensurepip's slow reinstall of pip: pip is copied from the target
# interpreter's own installation when it has one (manylinux interpreters do). Without pip
# ($3 = no-pip) when uv installs and no script of the user's could call pip: creating pip's
# thousand files costs up to a second of kernel time in a container.
VENV_SCRIPT = fixed_script("make-venv.sh")


# off: make the venv; restore: unpack {inbox}/venv.tar instead; save: make it, leave a
# snapshot at {work}/venv.tar, say so with a `snapshot` control line and wait until the caller
# has copied it out (it creates {work}/snapshot-taken), before any build code runs (_venvcache).
VenvCache = Literal["off", "restore", "save"]
SNAPSHOT_WAIT = 1800  # seconds the script waits for the copy; then it goes on without


def _requirements(options: Options, inbox: str) -> list[str]:
    # The venv always has `build` (the default frontend, and what custom scripts call).
    words = ["build"]
    if options.build_requirements is not None:
        words += ["-r", f"{inbox}/{TOP_REQUIREMENTS}"]
    return words


def _scripts_may_call_pip(options: Options) -> bool:
    """A build-command or before-build of the user's runs in the venv, and pip wheel is pip:
    the venv gets pip then."""
    return (
        options.build_command is not None
        or bool(options.before_build.strip())
        or options.build_frontend == "pip"
    )


def venv_recipe(options: Options) -> str:
    """Everything in the script that decides what the venv holds (part of its cache key)."""
    parts = [
        VENV_SCRIPT,
        f"installer={options.installer} pip-for-scripts={_scripts_may_call_pip(options)}",
        *_requirements(options, CONTAINER.inbox),
    ]
    parts += options.source
    parts += [f"{k}={v}" for k, v in options.environment]
    return "\n".join(parts)


def _venv_lines(
    options: Options,
    target: Target,
    layout: Layout,
    files: dict[str, bytes],
    cache: VenvCache,
    *,
    marker: str,
) -> list[str]:
    work, inbox = layout.work, layout.inbox
    if cache == "restore":
        return [
            "step venv",
            f"tar -xf {inbox}/venv.tar -C {work} || fail 'unpacking the cached venv failed' {VENV_EXIT}",
            f"rm -f {inbox}/venv.tar",
            f". {work}/venv/bin/activate",
            "echo 'manywheel: venv and build requirements restored from the cache'",
        ]
    files["make-venv.sh"] = VENV_SCRIPT.encode()
    if options.build_requirements is not None:  # with every file it includes
        files.update(requirement_files(options.build_requirements).inbox)
    words = " ".join(quote(w) for w in _requirements(options, inbox))
    lines = [
        "step venv",
        "mw_pip=pip"
        if _scripts_may_call_pip(options)
        else 'mw_pip=pip; if [ "$mw_installer" = uv ]; then mw_pip=no-pip; fi',
        f"sh {inbox}/make-venv.sh {quote(target.python)} {work}/venv \"$mw_pip\" || fail 'could not create a venv with {target.python}' {VENV_EXIT}",
        f". {work}/venv/bin/activate",
        "step requirements",
        f"{install_line(words)} || fail 'installing the build requirements failed' {REQUIREMENTS_EXIT}",
    ]
    if cache == "save":  # copied out before any build code of the project's can touch it
        lines += [
            f"if tar -cf {work}/venv.tar -C {work} venv; then",
            f"  printf '%s snapshot\\n' {quote(marker)}",
            f"  mw_t=$(($(date +%s) + {SNAPSHOT_WAIT}))",
            f'  while [ ! -e {work}/snapshot-taken ] && [ "$(date +%s)" -lt "$mw_t" ]; do',
            "    sleep 0.05 2>/dev/null || sleep 1",
            "  done",
            "fi",
            f"rm -f {work}/venv.tar {work}/snapshot-taken",
        ]
    return lines


def download_cache_lines(options: Options, layout: Layout) -> list[str]:
    """Point pip and uv at the project's download cache mounted at /manywheel/cache (none
    without ``shared-cache``; uv_exports says so to uv)."""
    if not options.shared_cache:
        return ["export PIP_NO_CACHE_DIR=1"]
    return [f"export PIP_CACHE_DIR={layout.cache}/pip UV_CACHE_DIR={layout.cache}/uv"]


def _cache_lines(options: Options, layout: Layout) -> list[str]:
    """Point pip/uv (and ccache, when asked) at the host cache folder mounted at /manywheel/cache."""
    lines = download_cache_lines(options, layout)
    cache = layout.cache
    if options.shared_cache and options.ccache:
        lines += [
            "command -v ccache >/dev/null 2>&1 || fail 'ccache = true, but the image has no "
            f"ccache: add it to system-packages' {VENV_EXIT}",
            f"export CCACHE_DIR={cache}/ccache CCACHE_BASEDIR={layout.project} CCACHE_COMPILERCHECK=content",
            'if [ -d /usr/lib/ccache ]; then export PATH=/usr/lib/ccache:"$PATH";'
            ' elif [ -d /usr/lib64/ccache ]; then export PATH=/usr/lib64/ccache:"$PATH";'
            ' else export CC="ccache ${CC:-gcc}" CXX="ccache ${CXX:-g++}"; fi',
        ]
    return lines


def environment_lines(
    options: Options, marker: str, pairs: tuple[tuple[str, str], ...] | None = None
) -> list[str]:
    """Export the environment, then tell manywheel the value of each secret variable as the
    container evaluated it (``$(cmd)`` and ``$VAR`` are only known here), hex-encoded on a
    control line that :func:`stream_steps` takes out of the output: from then on the value is
    masked in the log and everything shown. No trace of xtrace (a sourced script's ``set -x``)
    while the values are about."""
    names = options.secret_names()
    lines = ["case $- in *x*) mw_x=1; set +x ;; *) mw_x= ;; esac"] if names else []
    for k, v in options.environment if pairs is None else pairs:
        if "$(" in v or "`" in v:  # kept as written: a failing command leaves it empty
            lines.append("# shellcheck disable=SC2155")
        lines.append(export_word(k, v))
    if names:
        hexed = "$(printf %s \"$mw_v\" | od -An -v -tx1 | tr -d ' \\n')"
        lines += [
            f"for mw_n in {' '.join(names)}; do",
            '  eval "mw_v=\\${$mw_n:-}"',
            f'  [ -z "$mw_v" ] || printf \'%s secret %s\\n\' {quote(marker)} "{hexed}"',
            "done",
            "unset mw_n mw_v",
            '[ -z "$mw_x" ] || set -x',
        ]
    return lines


# The prefix maps go into CPPFLAGS, which setuptools, autotools and meson add to their own
# flags (set if unset), and are appended to these where the image, `source` or `environment`
# set them. They are never set where unset: a CFLAGS in the environment replaces the
# interpreter's flags in setuptools (-O2, -DNDEBUG and -g would go) and configure's default.
FLAG_VARIABLES = ("CFLAGS", "CXXFLAGS", "FFLAGS", "FCFLAGS")


def _path_maps(layout: Layout, flag: str) -> str:
    """The build's own folders as every build names them: the project copy becomes ".", the
    work folder (the venv, build's isolated environment, TMPDIR) /manywheel, wherever they
    are (host mode's temporary folder, the reproducibility check's second build)."""
    maps = [(layout.project, "."), (layout.work, CONTAINER.work)]
    return " ".join(f"{flag}={old}={new}" for old, new in maps if old != new)


def _reproducible_lines(layout: Layout, epoch: int) -> list[str]:
    """SOURCE_DATE_EPOCH, a fixed hash seed, temporary files in the work folder."""
    tmp = f"{layout.work}/tmp"
    return [f"export SOURCE_DATE_EPOCH={epoch} PYTHONHASHSEED=0 TMPDIR={tmp}", f"mkdir -p {tmp}"]


def _prefix_map_lines(layout: Layout) -> list[str]:
    """Add the path maps to the compiler flags (see FLAG_VARIABLES), in the form the C
    compiler takes (-ffile-prefix-map: GCC 8, Clang 10; else -fdebug-prefix-map)."""
    tries = " ".join(
        quote(_path_maps(layout, flag)) for flag in ("-ffile-prefix-map", "-fdebug-prefix-map")
    )
    said = "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH, PYTHONHASHSEED=$PYTHONHASHSEED"
    return [
        f"for mw_map in {tries} ''; do",
        '  [ -n "$mw_map" ] || break',
        "  # shellcheck disable=SC2086 # CC may be several words (ccache gcc), so are the maps",
        "  echo 'int mw;' | ${CC:-cc} $mw_map -x c -c -o /dev/null - >/dev/null 2>&1 && break",
        "done",
        'if [ -n "$mw_map" ]; then',
        '  export CPPFLAGS="${CPPFLAGS:+$CPPFLAGS }$mw_map"',
        "  mw_to=CPPFLAGS",
        *(
            f'  if [ -n "${{{v}:-}}" ]; then export {v}="${v} $mw_map"; mw_to="$mw_to {v}"; fi'
            for v in FLAG_VARIABLES
        ),
        f'  echo "manywheel: reproducible: {said}, $mw_map added to $mw_to"',
        "else",
        f'  echo "manywheel: reproducible: {said}; ${{CC:-cc}} takes no -ffile-prefix-map nor '
        "-fdebug-prefix-map, so the build's paths are not mapped\"",
        "fi",
    ]


def _isolated_env_line(layout: Layout) -> str:
    """build 1.6 and later make their isolated environment where they are told (--env-dir),
    not in a random temporary folder whose name the compiler would record (numpy's headers
    are in it): a fixed folder that the path maps cover. build's version is read from its
    dist-info folder's name in the venv (a Python start costs seconds under QEMU), else asked."""
    probe = (
        "import importlib.metadata as m, sys; "
        'sys.exit(tuple(map(int, m.version("build").split(".")[:2])) < (1, 6))'
    )
    return "\n".join(
        [
            "mw_bv=",
            'for mw_d in "${VIRTUAL_ENV:-/nonexistent}"/lib/*/site-packages/build-*.dist-info; do',
            '  if [ -d "$mw_d" ]; then mw_bv=${mw_d##*/build-}; mw_bv=${mw_bv%.dist-info}; fi',
            "done",
            "mw_bmaj=${mw_bv%%.*}; mw_bmin=${mw_bv#*.}; mw_bmin=${mw_bmin%%.*}",
            'case "$mw_bmaj.$mw_bmin" in',
            '  [0-9]*.[0-9]*) if [ "$mw_bmaj" -gt 1 ] || { [ "$mw_bmaj" -eq 1 ] && [ "$mw_bmin" -ge 6 ]; }; '
            "then mw_newbuild=1; else mw_newbuild=; fi ;;",
            f"  *) if python -c {quote(probe)} 2>/dev/null; then mw_newbuild=1; else mw_newbuild=; fi ;;",
            "esac",
            f'if [ -n "$mw_newbuild" ]; then mw_iso="$mw_iso --env-dir={layout.work}/build-env"; '
            "else echo 'manywheel: reproducible: build is older than 1.6 (no --env-dir), so its "
            "isolated environment is in a random temporary folder'; fi",
        ]
    )


def _frontend_lines(
    options: Options,
    target: Target,
    layout: Layout,
    files: dict[str, bytes],
    *,
    epoch: int | None,
    emulated_image: str | None,
    cross: CrossCompilers | None = None,
) -> list[str]:
    """The frontend's build, with build's isolated environment in a fixed folder for a
    reproducible build, and the bytecode kept for an emulated one (``_bytecode_lines``).
    build, isolated, with uv and no arguments of the user's, on an emulated target with the
    native Python mounted (``cross``): run by that Python where it can run the venv's build
    (``native_frontend_lines``), the backend's hooks still emulated."""
    lines = []
    builds = options.build_frontend in ("build", "build[uv]")
    isolated = (
        builds
        and options.build_isolation
        and not {"--no-isolation", "-n"} & set(options.build_frontend_args)
    )
    if isolated:
        lines.append('mw_iso=; if [ "$mw_installer" = uv ]; then mw_iso=--installer=uv; fi')
        if epoch is not None:
            lines.append(_isolated_env_line(layout))
    command = frontend_command(options, layout.built, layout.project)
    native = (
        cross is not None
        and cross.python is not None
        and isolated
        and not options.build_frontend_args
        and options.build_verbosity == 0
    )
    if native:
        lines += native_frontend_lines(layout, files)
    # pip and uv build in a random temporary folder each time, and so does build without a
    # fixed one: bytecode kept of those would pile up in the cache.
    keep = options.shared_cache and builds and (not isolated or epoch is not None)
    kept_for = emulated_image if keep else None  # the image whose bytecode is kept, if any
    if kept_for is not None:
        seeder = f"{layout.native}/bin/python" if cross and cross.python is not None else None
        lines += _bytecode_lines(target, layout, kept_for, files, isolated=isolated, seeder=seeder)
    link = 'UV_LINK_MODE="$mw_link" ' if kept_for is not None else ""
    run = f'{link}{command} || fail "the build failed (exit $?)" {BUILD_EXIT}'
    if native:
        script = f"{layout.inbox}/native-build.py"
        twin = f"{layout.twin}/bin/python" if cross and cross.bytecode is not None else None
        on_native = native_frontend_command(
            options,
            layout.built,
            layout.project,
            script,
            hook_server=f"{layout.inbox}/hook-server.py",
            compile_with=twin,
        )
        lines += [
            'if [ -n "$mw_nb_paths" ]; then',
            f'  {link}{on_native} || fail "the build failed (exit $?)" {BUILD_EXIT}',
            "else",
            f"  {run}",
            "fi",
        ]
    else:
        lines.append(run)
    if kept_for is not None:
        lines.append('if [ -n "$mw_pyc" ]; then unset PYTHONPYCACHEPREFIX; fi')
    return lines


def _bytecode_lines(
    target: Target,
    layout: Layout,
    image: str,
    files: dict[str, bytes],
    *,
    isolated: bool,
    seeder: str | None = None,
) -> list[str]:
    """Under QEMU, compiling Python to bytecode is a large part of a build: build's isolated
    environment is new each time, so setuptools (or meson-python, scikit-build-core) is compiled
    again for each hook, and so is the frontend in the restored venv. Here the build step keeps
    its bytecode in the project's cache (PYTHONPYCACHEPREFIX, per image and target), seeded once
    with the interpreter's compiled standard library. uv installs build's isolated environment as
    symbolic links into its cache (UV_LINK_MODE=symlink for the frontend's command only: the venv
    must not point into the cache), so each file keeps its mtime from one build to the next and
    its bytecode stays valid; the venv is unpacked with its mtimes. Without --env-dir (build
    older than 1.6) nothing changes. Python checks each .pyc against its source's mtime and
    size, as it always does. The repair and test steps are not changed. ``seeder``: a native
    Python that seeds it (the target's interpreter only says where its files are), else the
    target's interpreter does."""
    files["seed-bytecode.py"] = SEED_BYTECODE.encode()
    key = hashlib.sha256(image.encode()).hexdigest()[:12]
    prefix = f"{layout.cache}/bytecode/{key}-{target.identifier}"
    lines = ['mw_link="${UV_LINK_MODE:-copy}"']
    if isolated:  # build older than 1.6 has no --env-dir: a random folder each time
        lines += [
            'case "$mw_iso" in',
            f"  *--env-dir=*) mw_pyc={prefix}",
            '    if [ "$mw_installer" = uv ] && [ "$mw_link" = copy ]; then mw_link=symlink; fi ;;',
            "  *) mw_pyc= ;;",
            "esac",
        ]
    else:
        lines.append(f"mw_pyc={prefix}")
    seed = f"{layout.inbox}/seed-bytecode.py"
    failed = "echo 'manywheel: bytecode cache: seeding it failed; going on without the seed'"
    by = [f'    {seeder} -I {seed} "$mw_pyc" "$(command -v python)" ||'] if seeder else []
    # Seeded already (the prefix is one interpreter's): no Python start, seconds under QEMU.
    return [
        *lines,
        'if [ -n "$mw_pyc" ]; then',
        '  export PYTHONPYCACHEPREFIX="$mw_pyc"',
        "  mw_seeded=",
        '  for mw_s in "$mw_pyc"/.seeded-*; do if [ -e "$mw_s" ]; then mw_seeded=1; fi; done',
        '  if [ -z "$mw_seeded" ]; then',
        *by,
        f'    python {seed} "$mw_pyc" || {failed}',
        "  fi",
        "fi",
    ]


def build_script(
    options: Options,
    target: Target,
    marker: str,
    core_budget: int,
    layout: Layout = CONTAINER,
    *,
    venv_cache: VenvCache = "off",
    epoch: int | None = None,
    cross: CrossCompilers | None = None,
    emulated_image: str | None = None,
) -> tuple[str, dict[str, bytes]]:
    """The script run in the target's container, and the files it needs in ``layout.inbox``.
    Every step runs in the project copy, as cibuildwheel runs them in the project folder.
    ``epoch``: SOURCE_DATE_EPOCH for a reproducible build (None: options.reproducible is off).
    ``cross``: the cross compilers mounted at ``layout.toolchain``, tried before the build.
    ``emulated_image``: the build image, when its container runs under QEMU (its bytecode is
    then kept across builds)."""
    if uses_uv(options) and options.installer == "auto":
        options = replace(options, installer="uv")  # build[uv] and uv: uv or nothing
    files: dict[str, bytes] = {}
    project, inbox = layout.project, layout.inbox
    built, out = layout.built, layout.out
    lines = [
        *([probe_line()] if options.installer == "auto" else []),
        "set -eu",
        "# pipefail where the shell has it (bash, a recent dash), tested first in a subshell",
        "# shellcheck disable=SC3040",
        "(set -o pipefail) 2>/dev/null && set -o pipefail",
        f"step() {{ printf '%s step %s\\n' {quote(marker)} \"$1\"; }}",
        'fail() { printf \'manywheel: error: %s\\n\' "$1" >&2; exit "$2"; }',
        export_literal("MANYWHEEL_IDENTIFIER", target.identifier),
        export_literal("MANYWHEEL_PYTHON_VERSION", target.minor),
        export_literal("MANYWHEEL_WHEEL_DIR", built),
        export_literal("MANYWHEEL_JOBS", str(core_budget)),
        "export CIBUILDWHEEL=1",
        f"export MAKEFLAGS=-j{core_budget} CMAKE_BUILD_PARALLEL_LEVEL={core_budget} "
        f"MAX_JOBS={core_budget} NPY_NUM_BUILD_JOBS={core_budget}",
        "export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_INPUT=1",
        *ca_exports(),
        *pip_exports(options),
        f"rm -rf {built} {out} && mkdir -p {built} {out}",
        *(_reproducible_lines(layout, epoch) if epoch is not None else []),
        *_cache_lines(options, layout),
        *uv_exports(options),
        f"cd {project}",  # relative paths in source, environment and every step: the project's
    ]
    if options.source:
        lines.append("step source")
    for entry in options.source:
        words = shlex.split(entry)
        path, args = words[0], " ".join(quote(w) for w in words[1:])
        lines += [
            f"[ -f {quote(path)} ] || fail {quote(f'source: {path} does not exist in the image (check setup-script and system-packages)')} {SOURCE_EXIT}",
            "set +eu; mw_rc=0",
            *(
                [
                    "# bash passes the arguments to the sourced file; a plain sh ignores them",
                    "# shellcheck disable=SC2240",
                ]
                if args
                else []
            ),
            f". {quote(path)} {args} || mw_rc=$?",
            "set -eu",
            f'[ "$mw_rc" = 0 ] || fail "source: {path} failed (exit $mw_rc)" {SOURCE_EXIT}',
        ]
    # Like cibuildwheel, the environment is evaluated with the target's interpreter first on PATH.
    lines.append(f'export PATH={quote(str(PurePosixPath(target.python).parent))}:"$PATH"')
    lines += environment_lines(options, marker)
    lines.append(export_literal("CIBUILDWHEEL_BUILD_IDENTIFIER", target.identifier))
    if emulated_image is not None:  # the CPU QEMU emulates (the engine's, or the user's)
        lines += [
            'if [ -n "${QEMU_CPU:-}" ]; then echo "manywheel: QEMU emulates QEMU_CPU=$QEMU_CPU"',
            "else echo 'manywheel: QEMU emulates its default CPU (no QEMU_CPU)'; fi",
        ]
    if cross is not None:  # after the environment (a CC of the user's wins), before the maps
        lines += cross_lines(cross, layout, files, marker, shared=options.shared_cache)
    if epoch is not None:
        lines += _prefix_map_lines(layout)
    lines += choose_lines(options)
    if cross is not None and cross.uv is not None:
        lines += native_uv_lines(cross, layout)
    lines += _venv_lines(options, target, layout, files, venv_cache, marker=marker)
    files["ninja"] = NINJA_WRAPPER.encode()
    lines += [
        "step build",
        f"cd {project}",
        f'export NINJA="${{NINJA:-{inbox}/ninja}}"',  # meson-python's ninja, held to the core budget
    ]
    if options.before_build.strip():
        before = fill_placeholders(options.before_build, project=project, package=project)
        files["before-build.sh"] = (before + "\n").encode()
        lines.append(
            f'bash -e {inbox}/before-build.sh || fail "before-build failed (exit $?)" {BUILD_EXIT}'
        )
    if options.build_command is not None:
        files["build-command.sh"] = (options.build_command + "\n").encode()
        lines.append(
            f'bash -e {inbox}/build-command.sh || fail "build-command failed (exit $?)" {BUILD_EXIT}'
        )
    else:
        lines += _frontend_lines(
            options, target, layout, files, epoch=epoch, emulated_image=emulated_image, cross=cross
        )
    lines += [
        f"ls {built}/*.whl >/dev/null 2>&1 || fail 'the build left no wheel in {built}' {BUILD_EXIT}",
        "step repair",
        f"export MW_DEST_DIR={out}",
        f"export MW_PLAT={quote(options.repair_plat)}"
        if options.repair_plat
        else 'export MW_PLAT="${AUDITWHEEL_PLAT:-}"',
    ]
    if cross is not None and cross.python is not None and "auditwheel" in options.repair_command:
        lines += native_auditwheel_lines(cross.plan, layout, files)
    if options.repair_command.strip():
        files["repair.sh"] = (_repair_line(options.repair_command, project) + "\n").encode()
        repair = f'bash -e {inbox}/repair.sh || fail "repairing $MW_WHEEL failed (exit $?)" {REPAIR_EXIT}'
    else:
        repair = 'cp "$MW_WHEEL" "$MW_DEST_DIR/"'
    lines += [
        f"for MW_WHEEL in {built}/*.whl; do",
        "  export MW_WHEEL",
        '  case "${MW_WHEEL##*/}" in',
        # Every wheel with compiled code is repaired, as cibuildwheel does, even one its build
        # tagged manylinux already (the tag may claim more than the wheel's libraries allow).
        '    *-none-any.whl) echo "pure, nothing to repair: ${MW_WHEEL##*/}"; cp "$MW_WHEEL" "$MW_DEST_DIR/" ;;',
        f"    *) {repair} ;;",
        "  esac",
        "done",
        *_audit_lines(options, layout, files),
        "step 'done'",  # quoted: not the keyword (the same to the shell, clearer to a reader)
    ]
    return "\n".join(lines) + "\n", files


def _audit_lines(options: Options, layout: Layout, files: dict[str, bytes]) -> list[str]:
    """audit-command on each repaired wheel, in a venv of its own with audit-requires (made
    when a command first runs); a command with {abi3_wheel} runs only on an abi3 wheel."""
    if not options.audit_command:
        return []
    work, inbox, out = layout.work, layout.inbox, layout.out
    requires = " ".join(quote(r) for r in options.audit_requires)
    make = [
        f"python -m venv --without-pip {work}/audit || fail 'could not make the audit venv' {AUDIT_EXIT}",
    ]
    if requires:
        into = install_line(requires, python=f"{work}/audit/bin/python")
        make.append(f"{into} || fail 'installing audit-requires failed' {AUDIT_EXIT}")
    lines = [
        "step audit",
        "mw_audit=",
        f"for MW_WHEEL in {out}/*.whl; do",
        "  export MW_WHEEL",
        '  case "${MW_WHEEL##*/}" in *-abi3-*) mw_abi3=1 ;; *) mw_abi3= ;; esac',
    ]
    for i, command in enumerate(options.audit_command):
        text = fill_placeholders(command, project=layout.project, package=layout.project)
        text = text.replace("{abi3_wheel}", '"$MW_WHEEL"').replace("{wheel}", '"$MW_WHEEL"')
        files[f"audit-{i}.sh"] = (text + "\n").encode()
        condition = '[ -n "$mw_abi3" ]' if "{abi3_wheel}" in command else "true"
        lines += [
            f"  if {condition}; then",
            '    if [ -z "$mw_audit" ]; then',
            *("      " + line for line in make),
            "      mw_audit=1",
            "    fi",
            f"    echo {quote('manywheel: audit-command: ' + command)}",
            f'    PATH={work}/audit/bin:"$PATH" bash -e {inbox}/audit-{i}.sh '
            f'|| fail "audit-command failed on ${{MW_WHEEL##*/}} (exit $?)" {AUDIT_EXIT}',
            "  fi",
        ]
    lines.append("done")
    return lines


def _unhex(text: str) -> str:
    try:
        return bytes.fromhex(text.strip()).decode(errors="replace")
    except ValueError:
        return ""


LINE_PIECE = 1 << 16  # build output is read (and displayed at most) this many bytes at a time


def _rest_of_line(stream: IO[bytes], first: bytes) -> Iterator[bytes]:
    """The pieces of the line that ``first`` starts, after ``first`` (read lazily)."""
    piece = first
    while not piece.endswith(b"\n"):
        piece = stream.readline(LINE_PIECE)
        if not piece:
            return
        yield piece


def stream_steps(
    proc: subprocess.Popen[bytes],
    log: TargetLog,
    marker: str,
    result: TargetResult,
    emitter: Emitter,
    *,
    on_snapshot: Callable[[], None] | None = None,
) -> str:
    """Log and emit the script's output; act on its control lines (steps, the venv snapshot,
    secrets, warnings). Returns the last step it said (``done``: it got to its end)."""
    assert proc.stdout is not None
    step_started = time.monotonic()
    current = "start"
    stdout = proc.stdout
    mark = marker.encode()
    # Read in bounded pieces: a line without a newline can be hundreds of megabytes.
    for first in iter(lambda: stdout.readline(LINE_PIECE), b""):
        pieces = _rest_of_line(stdout, first)
        at = first.find(mark)
        units: list[tuple[bytes, Iterator[bytes]]] = [(first, pieces)]
        if at > 0:
            # A control line after an unfinished line: docker copies a container's stdout and
            # stderr apart, so a program's "Installed 3 packages " (stderr) can come before the
            # script's control line (stdout) and its "in 81ms" after it. The marker is random:
            # found anywhere, it starts a control line; what came before is output.
            units = [(first[:at] + b"\n", iter(())), (first[at:], pieces)]
        for raw, rest in units:
            current, step_started = _one_line(
                raw, rest, current, step_started, log=log, result=result, emitter=emitter,
                on_snapshot=on_snapshot, marker=marker,
            )  # fmt: skip
    if current != "done":
        result.steps[current] = round(time.monotonic() - step_started, 3)
    return current


def _one_line(
    raw: bytes,
    pieces: Iterator[bytes],
    current: str,
    step_started: float,
    *,
    log: TargetLog,
    result: TargetResult,
    emitter: Emitter,
    on_snapshot: Callable[[], None] | None,
    marker: str,
) -> tuple[str, float]:
    """Act on one line of the script's output (its first piece ``raw``, the rest ``pieces``):
    a control line, or output to log and emit. Returns the step now and when it started."""
    ident = result.target.identifier
    if raw == f"{marker} snapshot\n".encode():
        if on_snapshot is not None:
            on_snapshot()
        return current, step_started
    text = raw.decode(errors="replace")
    secret, warning, prefix = f"{marker} secret ", f"{marker} warning ", f"{marker} step "
    if text.startswith(secret):  # never logged nor shown: see environment_lines
        rest = b"".join(pieces).decode(errors="replace")  # a long value: kept whole
        value = _unhex(text[len(secret) :] + rest)
        log.add_secret(value)
        emitter.masker.add(value)
        return current, step_started
    if text.startswith(warning):  # the script has something to say beyond its log
        said = (text[len(warning) :] + b"".join(pieces).decode(errors="replace")).strip()
        log.write(f"manywheel: warning: {said}")
        emitter.warning(f"{ident}: {said}", target=ident)
        return current, step_started
    if text.startswith(prefix):
        for _ in pieces:  # a step line is short; anything past a piece is dropped
            pass
        now = time.monotonic()
        result.steps[current] = round(now - step_started, 3)
        current, step_started = text[len(prefix) :].strip(), now
        if current != "done":
            emitter.emit("step", current, target=ident, data=Step(current))
        log.write(f"== {current}")
        return current, step_started
    line = log.write_pieces(itertools.chain([raw], pieces), shown=LINE_PIECE)
    emitter.emit("output", line, target=ident)
    return current, step_started
