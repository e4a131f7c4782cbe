"""The one registry of options: name, kind, default, help. TOML, environment, CLI and the
Options dataclass's defaults derive from it (a default is written here and nowhere else)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .._arch import ARCH_GROUPS, ARCHS, LIBCS

__all__ = ["OPTIONS", "OptionKind", "OptionSpec", "env_name", "flag_name", "spec_for"]

OptionKind = Literal[
    "str", "bool", "int", "words", "lines", "args", "table", "settings", "path", "text"
]


@dataclass(frozen=True)
class OptionSpec:
    name: str  # the TOML key (kebab-case)
    kind: OptionKind
    default: object
    help: str
    choices: tuple[str, ...] = ()
    metavar: str = "VALUE"
    secret: bool = False
    # Each layer adds to the value of the layers below it instead of replacing it (enable).
    additive: bool = False
    # May differ per target: settable in an override ([[tool.manywheel.overrides]]).
    per_target: bool = False
    minimum: int = 0  # of an int option
    # Set only by the user (command line, environment, a config file outside the project),
    # never by the project's own files, because of what it does (the reason, said then).
    user_only: str = ""

    @property
    def field(self) -> str:
        return self.name.replace("-", "_")


def env_name(name: str) -> str:
    return "MANYWHEEL_" + name.upper().replace("-", "_")


def flag_name(name: str) -> str:
    return "--" + name


DEFAULT_IMAGE = "quay.io/pypa/manylinux_2_34_x86_64"
# The image each (libc, arch) of the matrix builds in when its key is not set: the newest
# manylinux policy the manylinux project publishes for the architecture, musllinux_1_2.
DEFAULT_POLICY = {"armv7l": "manylinux_2_35", "riscv64": "manylinux_2_39"}
DEFAULT_MANYLINUX = "manylinux_2_34"
DEFAULT_MUSLLINUX = "musllinux_1_2"


def image_key(libc: str, arch: str) -> str:
    """The option naming the image(s) of one (libc, arch), as cibuildwheel names it."""
    return f"{libc}-{arch}-image"


def _image_keys() -> tuple[OptionSpec, ...]:
    specs = []
    for libc in LIBCS:
        for arch in ARCHS:
            default = (
                DEFAULT_MUSLLINUX
                if libc == "musllinux"
                else DEFAULT_POLICY.get(arch.name, DEFAULT_MANYLINUX)
            )
            specs.append(
                OptionSpec(
                    image_key(libc, arch.name),
                    "words",
                    (),
                    f"Image(s) for {libc} {arch.name} targets: references, or short names like "
                    f"{default} (quay.io/pypa/{default}_{arch.name}, the default when the "
                    "matrix has this platform). Without archs and libc, the platforms whose keys are set "
                    "are the matrix.",
                    metavar="IMAGE",
                )
            )
    return tuple(specs)


DEFAULT_REPAIR = "auditwheel repair {plat_args} -w {dest_dir} {wheel}"

OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("image", "str", DEFAULT_IMAGE, "Container image to build in.", metavar="IMAGE"),
    OptionSpec(
        "archs",
        "words",
        (),
        "Architectures to build for: "
        + ", ".join(a.name for a in ARCHS)
        + ", or "
        + ", ".join(ARCH_GROUPS)
        + " (native and auto: this machine's). Default: those of the "
        "image keys set, else the one of 'image'. Foreign ones run under QEMU (binfmt_misc).",
        metavar="ARCH",
    ),
    OptionSpec(
        "libc",
        "words",
        (),
        "C libraries to build for: manylinux (glibc), musllinux. Default: those of the image "
        "keys set, else manylinux.",
        metavar="LIBC",
    ),
    *_image_keys(),
    OptionSpec(
        "engine",
        "str",
        "auto",
        "Container engine; auto picks docker if its daemon answers, else podman, else host "
        "(this machine's interpreters, with a warning).",
        choices=("auto", "docker", "podman", "host"),
        metavar="ENGINE",
    ),
    OptionSpec(
        "engine-args",
        "args",
        (),
        "Extra arguments for the engine's create command.",
        per_target=True,
    ),
    OptionSpec(
        "builders",
        "words",
        ("local",),
        "Engines the targets build on: local (this machine's engine), docker or podman context "
        "and connection names (docker:NAME, podman:NAME), ssh://[USER@]HOST[:PORT] and "
        "tcp://HOST:PORT (TLS with the certificates of DOCKER_CERT_PATH, plain TCP only to a "
        "loopback address). Each target goes to a builder of its architecture, else to one "
        "that emulates it. Never read from the project's files. Not used by build yet: plan "
        "shows where each target would build.",
        metavar="BUILDER",
        user_only="it says which machines build and with whose credentials",
    ),
    OptionSpec(
        "pull",
        "str",
        "missing",
        "When to pull the image: missing, always or never.",
        choices=("missing", "always", "never"),
        metavar="POLICY",
    ),
    OptionSpec(
        "python",
        "words",
        (),
        "CPython versions (3.13, 3.13t) or identifiers (cp313-manylinux_x86_64) to build; "
        "default: every CPython in the image that the project's requires-python allows.",
        metavar="SELECTOR",
    ),
    OptionSpec(
        "build",
        "words",
        ("*",),
        "Identifier globs to build; braces expand (cp{312,313}-*).",
        metavar="GLOB",
    ),
    OptionSpec("skip", "words", (), "Identifier globs to skip; braces expand.", metavar="GLOB"),
    OptionSpec(
        "enable",
        "words",
        (),
        "Groups of interpreters built only when enabled: cpython-prerelease (alpha and beta "
        "CPythons, told by their release level), pypy, pypy-eol, graalpy, or all. Each layer "
        "(file, environment, command line) adds to the groups of the layers below it.",
        metavar="GROUP",
        additive=True,
    ),
    OptionSpec(
        "requires-python",
        "str",
        None,
        "Version specifier of the Pythons to build for (>=3.12), instead of the project's own "
        "requires-python (pyproject.toml, setup.cfg or setup.py).",
        metavar="SPECIFIER",
    ),
    OptionSpec(
        "build-requirements",
        "path",
        None,
        "Requirements file installed into each target's fresh venv before the build.",
        metavar="FILE",
        per_target=True,
    ),
    OptionSpec(
        "build-isolation",
        "bool",
        True,
        "Build in an isolated environment (off: build with the target venv's packages).",
        per_target=True,
    ),
    OptionSpec(
        "installer",
        "str",
        "auto",
        "What installs the build requirements and build's isolated environment: pip, uv, or "
        "auto (uv when the image has it on PATH and no pip configuration (PIP_* variables, "
        "pip.conf) is present, else pip).",
        choices=("auto", "pip", "uv"),
        metavar="INSTALLER",
        per_target=True,
    ),
    OptionSpec(
        "system-packages",
        "words",
        (),
        "Packages installed with the image's package manager (dnf, yum, apt-get, apk).",
        metavar="PKG",
        per_target=True,
    ),
    OptionSpec(
        "repos-dir",
        "path",
        None,
        "Folder of package repository files (and their keys) added to the image.",
        metavar="DIR",
    ),
    OptionSpec(
        "pip-index-url",
        "str",
        None,
        "PyPI index URL for every pip call.",
        metavar="URL",
        per_target=True,
    ),
    OptionSpec(
        "pip-extra-index-url",
        "words",
        (),
        "Extra PyPI index URLs.",
        metavar="URL",
        per_target=True,
    ),
    OptionSpec(
        "distro-mirror",
        "str",
        None,
        "Base URL that replaces scheme://host of the distro's package repositories.",
        metavar="URL",
    ),
    OptionSpec(
        "ca-bundle",
        "path",
        None,
        "PEM file installed as the container's trust store (for TLS-intercepting proxies).",
        metavar="FILE",
    ),
    OptionSpec(
        "setup-script",
        "text",
        "",
        "Shell run once when the environment is prepared (a file path, or shell lines).",
        metavar="SCRIPT",
        per_target=True,
    ),
    OptionSpec(
        "source",
        "lines",
        (),
        "Scripts sourced before every build step, with arguments "
        "(e.g. '/opt/intel/oneapi/setvars.sh --force'); their environment persists.",
        metavar="SCRIPT",
        per_target=True,
    ),
    OptionSpec(
        "environment",
        "table",
        (),
        "Variables set for the build; values may refer to $OTHER variables.",
        metavar="NAME=VALUE",
        per_target=True,
    ),
    OptionSpec(
        "secret-environment",
        "words",
        (),
        "Names of host variables passed to the build by name; their values are never shown.",
        metavar="NAME",
        secret=True,
        per_target=True,
    ),
    OptionSpec(
        "environment-pass",
        "words",
        (),
        "Names of host variables passed into the build and test containers by name.",
        metavar="NAME",
        per_target=True,
    ),
    OptionSpec(
        "build-command",
        "str",
        None,
        "Custom build command, run with the target venv (which has build and the build requirements) active; it leaves wheels in "
        "$MANYWHEEL_WHEEL_DIR. Default: python -m build --wheel.",
        metavar="COMMAND",
        per_target=True,
    ),
    OptionSpec(
        "build-frontend",
        "str",
        "build",
        "What builds the wheel: build (python -m build), build[uv] (build with uv as its "
        "installer), pip (pip wheel) or uv (uv build).",
        choices=("build", "build[uv]", "pip", "uv"),
        metavar="FRONTEND",
        per_target=True,
    ),
    OptionSpec(
        "build-frontend-args",
        "args",
        (),
        "Extra arguments for the build frontend.",
        per_target=True,
    ),
    OptionSpec(
        "config-settings",
        "settings",
        (),
        "Config settings passed to the build backend (-C KEY=VALUE each); placeholders "
        "{project}, {package}.",
        metavar="KEY=VALUE",
        per_target=True,
    ),
    OptionSpec(
        "build-verbosity",
        "int",
        0,
        "-3 to 3: the frontend's -q or -v flags, as cibuildwheel passes them.",
        metavar="N",
        per_target=True,
        minimum=-3,
    ),
    OptionSpec(
        "repair-command",
        "str",
        DEFAULT_REPAIR,
        "Command that repairs one wheel; placeholders {wheel}, {dest_dir}, {plat}, {plat_args}. "
        "Empty: copy wheels unrepaired.",
        metavar="COMMAND",
        per_target=True,
    ),
    OptionSpec(
        "repair-plat",
        "str",
        "",
        "Platform tag for the repair; default: the image's AUDITWHEEL_PLAT, else auto.",
        metavar="PLAT",
        per_target=True,
    ),
    OptionSpec(
        "before-build",
        "text",
        "",
        "Shell run in the project copy, with the target venv active, before each build.",
        metavar="SCRIPT",
        per_target=True,
    ),
    OptionSpec(
        "test-requires",
        "words",
        (),
        "Packages installed with the wheel before testing it.",
        metavar="PKG",
        per_target=True,
    ),
    OptionSpec(
        "test-command",
        "text",
        "",
        "Command (or lines, run with bash -e) that tests the installed wheel in a pristine "
        "container of the base image, in an empty working folder (see test-sources); "
        "placeholders {project}, {package}, {wheel}.",
        metavar="COMMAND",
        per_target=True,
    ),
    OptionSpec(
        "test-skip", "words", (), "Identifier globs whose wheels are not tested.", metavar="GLOB"
    ),
    OptionSpec(
        "test-extras",
        "words",
        (),
        "Extras of the wheel installed with it for testing (pip install WHEEL[EXTRAS]).",
        metavar="EXTRA",
        per_target=True,
    ),
    OptionSpec(
        "test-groups",
        "words",
        (),
        "Dependency groups (PEP 735, [dependency-groups] of the project's pyproject.toml) "
        "installed for testing.",
        metavar="GROUP",
        per_target=True,
    ),
    OptionSpec(
        "test-sources",
        "words",
        (),
        "Project files and folders copied into the tests' working folder (relative to the "
        "project root).",
        metavar="PATH",
        per_target=True,
    ),
    OptionSpec(
        "before-test",
        "text",
        "",
        "Shell run in the project copy of the test container, with the test venv active, "
        "before the wheel is installed; placeholders {project}, {package}.",
        metavar="SCRIPT",
        per_target=True,
    ),
    OptionSpec(
        "test-environment",
        "table",
        (),
        "Variables set for the tests (after environment, with the test venv active); values "
        "may refer to $OTHER variables.",
        metavar="NAME=VALUE",
        per_target=True,
    ),
    OptionSpec(
        "audit-command",
        "lines",
        (),
        "Commands run on each wheel after its repair, in a venv of their own that has "
        "audit-requires; {wheel} is the wheel, and a command with {abi3_wheel} runs only on "
        "an abi3 wheel.",
        metavar="COMMAND",
        per_target=True,
    ),
    OptionSpec(
        "audit-requires",
        "words",
        (),
        "Packages installed for audit-command.",
        metavar="PKG",
        per_target=True,
    ),
    OptionSpec(
        "exclude",
        "words",
        (),
        "Globs of project files and folders not copied into builds nor fingerprinted (data/, "
        "*.h5, big/**; relative to the project root). VCS metadata (.git) is left out too, "
        "unless the version is computed from it (setuptools-scm, hatch-vcs, ...).",
        metavar="GLOB",
    ),
    OptionSpec(
        "copy-vcs",
        "str",
        "auto",
        "Copy VCS metadata (.git, .hg, ...) into builds: auto (only when the version is computed "
        "from it), always or never.",
        choices=("auto", "always", "never"),
        metavar="WHEN",
    ),
    OptionSpec("output-dir", "path", "dist", "Where the wheels are written.", metavar="DIR"),
    OptionSpec(
        "labels",
        "table",
        (),
        "Labels put on every image manywheel creates (e.g. version, maintainer).",
        metavar="KEY=VALUE",
    ),
    OptionSpec(
        "jobs",
        "int",
        0,
        "Targets built at once (0: auto, every target at once up to twice the number of cores; "
        "each gets an equal share of the cores for make/cmake/ninja).",
        metavar="N",
    ),
    OptionSpec(
        "force",
        "bool",
        False,
        "Rebuild every target, even those whose wheel is up to date.",
    ),
    OptionSpec(
        "allow-empty",
        "bool",
        False,
        "A selection that matches no target is not an error (exit 0 instead of 3).",
    ),
    OptionSpec(
        "build-from-sdist",
        "bool",
        False,
        "First make the project's sdist (in a container), then build every wheel from it, "
        "which proves the sdist complete; the sdist is written beside the wheels.",
    ),
    OptionSpec(
        "reproducible",
        "bool",
        True,
        "Build reproducibly: SOURCE_DATE_EPOCH (yours, else the last commit's time, else the "
        "sdist's, else 1980-01-01), PYTHONHASHSEED=0, the build's own paths mapped away "
        "(-ffile-prefix-map in CPPFLAGS, and in CFLAGS, CXXFLAGS, FFLAGS, FCFLAGS where set), "
        "and each wheel's archive normalized (sorted members, fixed times and permissions).",
    ),
    OptionSpec(
        "check-reproducible",
        "bool",
        False,
        "Build every target twice (fresh containers, other folders) and fail a target whose two "
        "wheels differ, naming the first differing member and, for ELF files, their differing "
        "sections; implies force.",
    ),
    OptionSpec(
        "cache-prepared",
        "bool",
        True,
        "Keep the prepared environment as a local image and reuse it while its inputs are unchanged.",
    ),
    OptionSpec(
        "cache-venv",
        "bool",
        True,
        "Keep each target's build venv (build and build-requirements installed) in cache-dir and "
        "reuse it while the image, interpreter, requirements file, index, environment and source "
        "are unchanged (unpinned requirements stay as first installed until `cache clean`).",
    ),
    OptionSpec(
        "cache-dir",
        "path",
        None,
        "manywheel's host cache folder (default: the user cache): a new or empty folder that "
        "manywheel marks as its own (never the project, home or root folder or one above them); "
        "each project's downloads/<project>/ part is mounted into that project's builds for "
        "pip/uv downloads and ccache.",
        metavar="DIR",
    ),
    OptionSpec(
        "cache-keep-days",
        "int",
        30,
        "Remove from cache-dir a project's cached venvs and downloads and the toolchains "
        "(zig, packed Pythons), and the prepared images this cache made, once no build has "
        "used them for this many days "
        "(a build checks the folders at most once a day, the images each time; 0: keep them "
        "until `cache clean`). Set by the user only, as it concerns every project's caches.",
        metavar="DAYS",
        user_only="it decides when every project's caches on this machine go",
    ),
    OptionSpec(
        "shared-cache",
        "bool",
        True,
        "Mount the host cache folder into the builds (off: every build downloads afresh).",
    ),
    OptionSpec(
        "ccache",
        "bool",
        False,
        "Compile through ccache (installed in the image) with its cache in the host cache folder.",
        per_target=True,
    ),
    OptionSpec(
        "cross-compilers",
        "str",
        "auto",
        "auto: a foreign-architecture target (one that runs under QEMU) compiles C and C++ with "
        "zig, a cross compiler built for this machine, run natively in its container against the image's "
        "own headers and glibc, once a probe shows it works there (else the image's emulated "
        "compilers, with a warning), and its build frontend and auditwheel run on this machine's "
        "Python where that can run them; off: always the image's compilers and interpreter. See the README, "
        "Cross compilers.",
        choices=("auto", "off"),
        metavar="MODE",
        per_target=True,
    ),
    OptionSpec(
        "log-dir",
        "path",
        None,
        "Where per-target logs go (default: manywheel's state folder).",
        metavar="DIR",
    ),
)

_BY_NAME = {spec.name: spec for spec in OPTIONS}


def spec_for(name: str) -> OptionSpec | None:
    return _BY_NAME.get(name)
