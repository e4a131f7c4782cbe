#!/usr/bin/env python3
"""Side-by-side timings of manywheel (and cibuildwheel, when installed) on this machine.

Usage::

    python benchmarks/bench.py [--engine docker|podman] [--cases c-example,heavy,noop,syspkgs,matrix,cross]
                               [--repeat 1] [--image IMAGE] [--keep] [--cross-functions N] [--cross-gcc]

Every case runs real builds in containers and prints one table of times, ratios and goals at
the end. Nothing here asserts on a time: a missed goal is reported as "no", never raised.
See benchmarks/README.md for what each case measures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
C_EXAMPLE = REPO / "examples" / "c-extension"
DEFAULT_IMAGE = "localhost/manywheel-fixture:forky"
CASES = ("c-example", "heavy", "noop", "syspkgs", "matrix", "cross")
# The matrix case: the fixture image of each architecture (tests/images/build-fixture.sh);
# i686 runs natively (under linux32), aarch64 under QEMU.
MATRIX_ARCHS = {"x86_64": "", "i686": "-i386", "aarch64": "-arm64"}
PYTHONS = ("3.13", "3.14", "3.15")
SYSTEM_PACKAGES = "libzstd-dev zlib1g-dev"
RUN_TIMEOUT = 1800.0  # seconds for one build command; a hung run is stopped, not waited on

# Size of the generated compile-heavy extension. Tuned so that one target takes >= ~20 s to
# compile at -O2 (Debian's CFLAGS: -g -O2 -Wall -fPIC) with the fixture image's gcc on a 2-core
# machine; the generator is deterministic (fixed seed, own PRNG), so every run compiles the same
# source.
HEAVY_FUNCTIONS = 300
HEAVY_STATEMENTS = 60
HEAVY_SEED = 0x6D616E79776865656C  # "manywheel"
# The cross case's copy for cibuildwheel, whose gcc runs under QEMU about 90x slower (5.5 s a
# kernel): 60 kernels keep its three Pythons near 20 minutes instead of 85. Conservative for
# the ratio: the smaller the compile, the bigger the share of the fixed emulated Python work.
CROSS_CIBW_FUNCTIONS = 60

# cibuildwheel runs its helper snippets (environment dump, globbing) with this interpreter, a
# path that real manylinux images have and the fixture image does not.
CIBW_UTILITY_PYTHON = "/opt/python/cp39-cp39"

# Goals from the performance issue.
GOAL_HEAVY_RATIO = 1.8  # cibuildwheel / manywheel on the heavy project, cold
GOAL_IDEAL_SLACK = 0.15  # manywheel within 15 % of the ideal bound, plus container starts
GOAL_NOOP_SECONDS = 2.0
GOAL_SETUP_SECONDS = 1.0
GOAL_CROSS_VS_CIBW = 5.0  # cibuildwheel (QEMU) / manywheel (cross compilers), aarch64 heavy
GOAL_CROSS_VS_NATIVE = 1.5  # manywheel aarch64 (cross compilers) / manywheel x86_64, heavy
GOAL_RSS_MB = 150.0
# The CPU manywheel's aarch64 containers ask QEMU for (src/manywheel/_arch.py), QEMU 10's
# default: given to cibuildwheel too, for an informational row (--cross-cibw-qemu-cpu).
QEMU_CPU = "max,pauth-impdef=on"

UP_TO_DATE_LINE = re.compile(r"prepared environment\b.*\bup to date", re.IGNORECASE)
DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s)\b")


# --------------------------------------------------------------------------------------------
# Running one measured command


@dataclass
class Run:
    """One finished command: wall time, its output lines with arrival times, peak RSS."""

    label: str
    argv: list[str]
    returncode: int
    seconds: float
    lines: list[tuple[float, str]]
    log: Path
    peak_rss_kib: int | None  # the process itself (VmHWM), not its children or containers
    tree_rss_kib: int | None  # wait4's ru_maxrss: largest of the process and its reaped children
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def tail(self, count: int = 15) -> list[str]:
        return [line for _, line in self.lines[-count:]]


@dataclass
class _Exit:
    end: float | None = None
    code: int = -1
    maxrss_kib: int | None = None


def _vm_hwm_kib(pid: int) -> int | None:
    """The peak resident set size of ``pid`` so far (the kernel's high-water mark)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def run_measured(
    label: str,
    argv: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    log: Path,
    timeout: float = RUN_TIMEOUT,
) -> Run:
    """Run ``argv``, timing it from spawn to exit and polling its own peak RSS.

    stdout and stderr are merged, time-stamped line by line (seconds since the spawn) and
    written to ``log``. The child is reaped with ``wait4`` in a thread, so the wall time is the
    exit time, not the next poll.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    lines: list[tuple[float, str]] = []
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C of the benchmark is forwarded deliberately, below
    )
    assert proc.stdout is not None
    stream = proc.stdout

    def read() -> None:
        with log.open("w", encoding="utf-8") as out:
            for raw in iter(stream.readline, b""):
                text = raw.decode("utf-8", errors="replace").rstrip("\n")
                at = time.monotonic() - started
                lines.append((at, text))
                out.write(f"{at:8.2f}  {text}\n")

    exit_info = _Exit()

    def reap() -> None:
        _, status, usage = os.wait4(proc.pid, 0)
        exit_info.end = time.monotonic()
        exit_info.code = os.waitstatus_to_exitcode(status)
        exit_info.maxrss_kib = usage.ru_maxrss

    reader = threading.Thread(target=read, daemon=True)
    reaper = threading.Thread(target=reap, daemon=True)
    reader.start()
    reaper.start()
    peak: int | None = None
    timed_out = False
    term_sent: float | None = None
    try:
        while reaper.is_alive():
            hwm = _vm_hwm_kib(proc.pid)
            if hwm is not None:
                peak = hwm if peak is None else max(peak, hwm)
            now = time.monotonic()
            if term_sent is None and now - started > timeout:
                timed_out = True
                term_sent = now
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)  # manywheel removes its containers
            elif term_sent is not None and now - term_sent > 60:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            reaper.join(0.02)
    except KeyboardInterrupt:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGINT)
        reaper.join(90)
        raise
    # Containers started by the child may hold the pipe a moment longer; do not wait forever.
    reader.join(10)
    proc.returncode = exit_info.code  # reaped here, not by Popen
    end = exit_info.end if exit_info.end is not None else time.monotonic()
    return Run(
        label=label,
        argv=list(argv),
        returncode=exit_info.code,
        seconds=end - started,
        lines=list(lines),
        log=log,
        peak_rss_kib=peak,
        tree_rss_kib=exit_info.maxrss_kib,
        timed_out=timed_out,
    )


def quiet(argv: Sequence[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)


# --------------------------------------------------------------------------------------------
# Tools under test


@dataclass
class Tool:
    name: str
    python: str  # the interpreter that has the package; the tool runs as ``python -m name``
    version: str

    def argv(self, *args: str) -> list[str]:
        return [self.python, "-m", self.name.replace("-", "_"), *args]


def find_tool(module: str, distribution: str) -> Tool | None:
    """The first interpreter (the repo's .venv, then this one) where ``module`` imports."""
    candidates = [REPO / ".venv" / "bin" / "python", Path(sys.executable)]
    probe = f"import {module}, importlib.metadata as m; print(m.version({distribution!r}))"
    seen: set[str] = set()
    for candidate in candidates:
        if not candidate.exists() or str(candidate) in seen:
            continue
        seen.add(str(candidate))
        done = quiet([str(candidate), "-c", probe], timeout=60)
        if done.returncode == 0:
            return Tool(distribution, str(candidate), done.stdout.strip())
    return None


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without the caller's MANYWHEEL_* / CIBW_* settings, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MANYWHEEL_", "CIBW_")) and k != "PYTHONPATH"
    }
    env["PYTHONUNBUFFERED"] = "1"  # lines arrive when printed: the setup timing relies on it
    env.update(extra or {})
    return env


# --------------------------------------------------------------------------------------------
# The compile-heavy project


def _splitmix64(state: int) -> tuple[int, int]:
    state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return state, z ^ (z >> 31)


def heavy_c_source(functions: int = HEAVY_FUNCTIONS, statements: int = HEAVY_STATEMENTS) -> str:
    """C source of a module ``_heavy`` with ``functions`` distinct, unrolled integer kernels.

    Deterministic: the same arguments give the same text on every Python and machine.
    """
    state = HEAVY_SEED

    def draw(bound: int) -> int:
        nonlocal state
        state, value = _splitmix64(state)
        return value % bound

    ops = ("+", "-", "*", "^", "|", "&")
    out = [
        "/* Generated by manywheel's benchmarks/bench.py: a deliberately slow-to-compile module. */",
        "#define PY_SSIZE_T_CLEAN",
        "#include <Python.h>",
        "#include <stdint.h>",
        "",
    ]
    for f in range(functions):
        out += [
            f"static uint64_t __attribute__((noinline)) mw_f{f}(uint64_t x, uint64_t y) {{",
            "    uint64_t v[8];",
            "    for (int k = 0; k < 8; k++) v[k] = x * (uint64_t)(k + 1) + (y >> k);",
            "    #pragma GCC unroll 4",
            "    for (int r = 0; r < 4; r++) {",
        ]
        for s in range(statements):
            a, b, c = draw(8), draw(8), draw(8)
            op1, op2 = ops[draw(len(ops))], ops[draw(len(ops))]
            konst, shift = draw(1 << 32), 1 + draw(62)
            if s % 5 == 4:
                out.append(
                    f"        if (v[{a}] > v[{b}]) v[{c}] = (v[{a}] {op1} {konst}u) >> {shift % 32};"
                    f" else v[{c}] {op2}= v[{b}] << {shift % 17};"
                )
            else:
                out.append(f"        v[{c}] = (v[{a}] {op1} (v[{b}] >> {shift})) {op2} {konst}u;")
        out += [
            "    }",
            "    return v[0] ^ v[1] ^ v[2] ^ v[3] ^ v[4] ^ v[5] ^ v[6] ^ v[7];",
            "}",
            "",
        ]
    table = ", ".join(f"mw_f{f}" for f in range(functions))
    out += [
        "typedef uint64_t (*mw_fn)(uint64_t, uint64_t);",
        f"static const mw_fn mw_table[] = {{{table}}};",
        "",
        "static PyObject *mw_checksum(PyObject *self, PyObject *arg) {",
        "    uint64_t x = PyLong_AsUnsignedLongLong(arg);",
        "    if (x == (uint64_t)-1 && PyErr_Occurred()) return NULL;",
        "    uint64_t acc = 0;",
        "    for (size_t i = 0; i < sizeof mw_table / sizeof mw_table[0]; i++)",
        "        acc ^= mw_table[i](x, acc + i);",
        "    return PyLong_FromUnsignedLongLong(acc);",
        "}",
        "",
        "static PyMethodDef mw_methods[] = {",
        '    {"checksum", mw_checksum, METH_O, "xor of every generated kernel"},',
        "    {NULL, NULL, 0, NULL},",
        "};",
        'static struct PyModuleDef mw_module = {PyModuleDef_HEAD_INIT, "_heavy", NULL, -1,'
        " mw_methods};",
        "PyMODINIT_FUNC PyInit__heavy(void) { return PyModule_Create(&mw_module); }",
        "",
    ]
    return "\n".join(out)


HEAVY_C_PATH = "src/mw_heavy/_heavy.c"


def write_heavy_project(dest: Path, functions: int = HEAVY_FUNCTIONS) -> Path:
    (dest / "src" / "mw_heavy").mkdir(parents=True)
    (dest / "pyproject.toml").write_text(
        "[build-system]\n"
        'requires = ["setuptools>=69"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        "[project]\n"
        'name = "mw-heavy-bench"\n'
        'version = "1.0.0"\n'
        'description = "Compile-heavy C extension generated by manywheel\'s benchmark."\n'
        'requires-python = ">=3.9"\n\n'
        "[tool.setuptools]\n"
        'packages = ["mw_heavy"]\n'
        'package-dir = {"" = "src"}\n'
    )
    (dest / "setup.py").write_text(
        "from setuptools import Extension, setup\n\n"
        f'setup(ext_modules=[Extension("mw_heavy._heavy", ["{HEAVY_C_PATH}"])])\n'
    )
    (dest / "src" / "mw_heavy" / "__init__.py").write_text("from ._heavy import checksum\n")
    (dest / HEAVY_C_PATH).write_text(heavy_c_source(functions))
    return dest


# --------------------------------------------------------------------------------------------
# The benchmark session


def fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s" if value >= 10 else f"{value:.2f} s"


def fmt_or_failed(value: float | None) -> str:
    """A measured time, or "failed" where no run gave one."""
    return fmt_s(value) if value is not None else "failed"


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def ok_median(runs: Sequence[Run]) -> float | None:
    """Median wall time of the runs that succeeded."""
    return median([r.seconds for r in runs if r.ok])


def targets_tags() -> list[str]:
    return [f"cp{v.replace('.', '')}" for v in PYTHONS]


@dataclass
class Row:
    case: str
    manywheel: str
    cibuildwheel: str = "-"
    ratio: str = "-"
    goal: str = "-"
    met: str = "-"


@dataclass
class Bench:
    engine: str
    image: str
    repeat: int
    work: Path
    manywheel: Tool
    cibuildwheel: Tool | None
    cibw_missing_reason: str = ""
    mw_flags: list[str] = field(default_factory=list)
    has_force: bool = False
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rss: list[tuple[str, int]] = field(default_factory=list)
    cibw_rss: list[tuple[str, int]] = field(default_factory=list)
    failures: int = 0
    keep_images: bool = False
    also_jobs: int | None = None
    cross_cibw_functions: int = CROSS_CIBW_FUNCTIONS
    cross_gcc: bool = False
    cross_cibw_qemu_cpu: bool = False
    _counter: int = 0
    _cibw_engine: str | None = None
    _start_seconds: float | None = None

    # -- helpers -------------------------------------------------------------------------------

    def describe(self) -> None:
        """Print what is measured with what; probe manywheel's flags."""
        help_text = quiet(self.manywheel.argv("build", "--help")).stdout
        self.has_force = "--force" in help_text
        if "--no-ccache" in help_text:
            self.mw_flags.append("--no-ccache")  # ccache-free, like cibuildwheel's default
        self.say(f"manywheel {self.manywheel.version} ({self.manywheel.python})")
        if self.cibuildwheel is None:
            self.say("cibuildwheel not installed, skipped")
        else:
            self.say(f"cibuildwheel {self.cibuildwheel.version} ({self.cibuildwheel.python})")
        self.say(f"engine {self.engine} {engine_version(self.engine)}, image {self.image}")
        cores = len(os.sched_getaffinity(0))
        self.say(f"{cores} cores; load average {load_average()}; work folder {self.work}")
        self.say(
            "manywheel flags: "
            + (" ".join(self.mw_flags) or "(defaults)")
            + ("; --force available" if self.has_force else "; no --force (fresh output folders)")
        )
        if os.getloadavg()[0] > 0.5:
            self.say("warning: the machine is busy (load > 0.5): timings will be noisy")

    def fresh(self, what: str) -> Path:
        self._counter += 1
        path = self.work / f"{self._counter:02d}-{what}"
        path.mkdir(parents=True)
        return path

    def say(self, text: str) -> None:
        print(text, flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.say(f"  note: {text}")

    def report_failure(self, run: Run) -> None:
        self.failures += 1
        why = "timed out" if run.timed_out else f"exit {run.returncode}"
        self.say(f"  {run.label} FAILED ({why}); last lines of {run.log}:")
        for line in run.tail():
            self.say(f"    | {line}")

    def copy_project(self, source: Path, what: str) -> Path:
        dest = self.fresh(what) / "project"
        shutil.copytree(
            source, dest, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info", "wheelhouse")
        )
        return dest

    # -- manywheel -----------------------------------------------------------------------------

    def manywheel_build(
        self,
        label: str,
        project: Path,
        output: Path,
        *extra: str,
        force: bool = False,
        expect: int = len(PYTHONS),
    ) -> Run:
        args = [
            "build",
            str(project),
            "--engine",
            self.engine,
            "--image",
            self.image,
            "--pull",
            "never",
            "--output-dir",
            str(output),
            "--log-dir",
            str(self.work / "manywheel-logs"),
            *[a for v in PYTHONS for a in ("--python", v)],
            *self.mw_flags,
            *extra,
        ]
        if force and self.has_force:
            args.append("--force")
        log = self.work / "logs" / f"{self._counter:02d}-{label}.log"
        self.say(f"  manywheel: {label} ...")
        run = run_measured(
            label, self.manywheel.argv(*args), cwd=self.work, env=child_env(), log=log
        )
        wheels = sorted(p.name for p in output.glob("*.whl")) if output.is_dir() else []
        if run.ok and len(wheels) < expect:
            run.returncode = -2
            run.lines.append((run.seconds, f"bench: expected {expect} wheels, got {wheels}"))
        if run.ok:
            rss = f", peak RSS {run.peak_rss_kib / 1024:.0f} MB" if run.peak_rss_kib else ""
            if run.tree_rss_kib:
                rss += f" (largest incl. engine CLI children {run.tree_rss_kib / 1024:.0f} MB)"
            self.say(f"    {fmt_s(run.seconds)}{rss}; load {os.getloadavg()[0]:.1f}")
            phases = phase_breakdown(run)
            if phases:
                self.say(f"    time per step, summed over targets: {phases}")
        else:
            self.report_failure(run)
        return run

    def record_rss(self, run: Run) -> None:
        if run.ok and run.peak_rss_kib is not None:
            self.rss.append((run.label, run.peak_rss_kib))

    # -- cibuildwheel --------------------------------------------------------------------------

    def cibw_engine_config(self) -> str:
        """CIBW_CONTAINER_ENGINE for this engine, with a utility-python shim if the image needs it."""
        if self._cibw_engine is not None:
            return self._cibw_engine
        config = self.engine
        probe = quiet(
            [
                self.engine,
                "run",
                "--rm",
                self.image,
                "test",
                "-x",
                f"{CIBW_UTILITY_PYTHON}/bin/python",
            ]
        )
        if probe.returncode != 0:
            shim = self.work / "cibw-utility-python"
            (shim / "bin").mkdir(parents=True, exist_ok=True)
            target = f"/opt/python/{targets_tags()[0]}-{targets_tags()[0]}/bin/python"
            script = shim / "bin" / "python"
            script.write_text(f'#!/bin/sh\nexec {target} "$@"\n')
            script.chmod(0o755)
            mount = f"--volume={shim}:{CIBW_UTILITY_PYTHON}:ro"
            config = f"{self.engine}; create_args: {shlex.quote(mount)}"
            self.note(
                f"cibuildwheel runs its helper snippets with {CIBW_UTILITY_PYTHON}/bin/python, "
                f"which {self.image} lacks; a read-only bind mount of a 2-line shim forwarding to "
                f"{target} is added via CIBW_CONTAINER_ENGINE create_args (image unchanged)"
            )
        self._cibw_engine = config
        return config

    def cibuildwheel_build(
        self,
        label: str,
        project: Path,
        output: Path,
        frontend: str = "build",
        images: dict[str, str] | None = None,
        *,
        environment: str = "",
    ) -> Run | None:
        """cibuildwheel on the three targets; ``images``: by architecture, for the matrix;
        ``environment``: its CIBW_ENVIRONMENT."""
        if self.cibuildwheel is None:
            return None
        archs = images or {"x86_64": self.image}
        identifiers = " ".join(f"{t}-manylinux_{a}" for a in archs for t in targets_tags())
        expect = len(PYTHONS) * len(archs)
        extra = {f"CIBW_MANYLINUX_{a.upper()}_IMAGE": image for a, image in archs.items()}
        if "uv" in frontend:
            # uv trusts its own CA roots unless told to use the system's, which is what the
            # fixture image has (and what pip, through truststore, uses); manywheel sets this.
            environment = f"UV_SYSTEM_CERTS=1 UV_NATIVE_TLS=1 {environment}"
        if environment.strip():
            extra["CIBW_ENVIRONMENT"] = environment.strip()
        env = child_env(
            {
                **extra,
                "CIBW_BUILD_FRONTEND": frontend,
                "CIBW_PLATFORM": "linux",
                "CIBW_ARCHS": " ".join(archs),
                "CIBW_BUILD": identifiers,
                "CIBW_CONTAINER_ENGINE": self.cibw_engine_config(),
                "CIBW_TEST_SKIP": "*",  # tests off
                "CIBW_TEST_COMMAND": "",
            }
        )
        log = self.work / "logs" / f"{self._counter:02d}-{label}.log"
        self.say(f"  cibuildwheel: {label} ...")
        run = run_measured(
            label,
            self.cibuildwheel.argv("--output-dir", str(output), "."),
            cwd=project,
            env=env,
            log=log,
        )
        wheels = sorted(p.name for p in output.glob("*.whl")) if output.is_dir() else []
        if run.ok and len(wheels) < expect:
            run.returncode = -2
            run.lines.append((run.seconds, f"bench: expected {expect} wheels, got {wheels}"))
        if run.ok:
            self.say(f"    {fmt_s(run.seconds)}; load {os.getloadavg()[0]:.1f}")
            if run.peak_rss_kib is not None:
                self.cibw_rss.append((label, run.peak_rss_kib))
        else:
            self.report_failure(run)
        return run

    def cibw_cell(self, runs: list[Run]) -> tuple[str, float | None]:
        if self.cibuildwheel is None:
            return "skipped", None
        value = ok_median(runs)
        return fmt_or_failed(value), value

    # -- engine facts --------------------------------------------------------------------------

    def container_start_seconds(self) -> float:
        """Median wall time of ``ENGINE run --rm IMAGE true`` (create + start + wait + remove)."""
        if self._start_seconds is None:
            samples = []
            for _ in range(3):
                t0 = time.monotonic()
                quiet([self.engine, "run", "--rm", self.image, "true"])
                samples.append(time.monotonic() - t0)
            self._start_seconds = statistics.median(samples)
        return self._start_seconds

    @staticmethod
    def _compile_command(tag: str) -> str:
        """Shell that sets $cmd to the target's compile command, as setuptools' build_ext runs
        it: the interpreter's sysconfig ``CC CFLAGS CCSHARED -I<include>``."""
        py = f"/opt/python/{tag}-{tag}/bin/python"
        return (
            f"cmd=$({py} -c 'import sysconfig as s; v = s.get_config_var; "
            'print(" ".join(x for x in (v("CC"), v("CFLAGS"), v("CCSHARED")) if x), '
            '"-I" + s.get_paths()["include"])\')'
        )

    def measure_parallel_compile(self, project: Path) -> float | None:
        """Wall time of the three compiles started at once in one container, bare: the floor
        any tool running the targets side by side on these cores can reach."""
        lines = ["set -e"]
        for tag in targets_tags():
            lines += [
                self._compile_command(tag),
                f"$cmd -c /bench/{HEAVY_C_PATH} -o /tmp/{tag}.o &",
            ]
        lines += ["wait"]
        argv = [
            self.engine, "run", "--rm", "--volume", f"{project}:/bench:ro", self.image,
            "bash", "-c", "\n".join(lines),
        ]  # fmt: skip
        t0 = time.monotonic()
        done = quiet(argv, timeout=1800)
        seconds = time.monotonic() - t0
        if done.returncode != 0:
            self.note("could not measure the parallel compile: " + done.stderr.strip()[-200:])
            return None
        return seconds

    def measure_compiles(self, project: Path) -> dict[str, float]:
        """Serial compile time of the heavy C file per target, exactly as setuptools runs gcc.

        One container; for each target, the command is the target interpreter's sysconfig
        ``CC CFLAGS CCSHARED -I<include> -c file -o obj`` (what setuptools' build_ext runs).
        """
        lines = ["set -e"]
        for tag in targets_tags():
            lines += [
                self._compile_command(tag),
                "t0=$(date +%s%N)",
                f"$cmd -c /bench/{HEAVY_C_PATH} -o /tmp/{tag}.o",
                "t1=$(date +%s%N)",
                f'echo "MWBENCH {tag} $(( (t1 - t0) / 1000000 )) $cmd"',
            ]
        argv = [
            self.engine,
            "run",
            "--rm",
            "--volume",
            f"{project}:/bench:ro",
            self.image,
            "bash",
            "-c",
            "\n".join(lines),
        ]
        done = quiet(argv, timeout=1800)
        (self.work / "logs").mkdir(parents=True, exist_ok=True)
        (self.work / "logs" / "heavy-compile-times.log").write_text(done.stdout + done.stderr)
        times: dict[str, float] = {}
        for line in done.stdout.splitlines():
            parts = line.split(maxsplit=3)
            if len(parts) >= 3 and parts[0] == "MWBENCH":
                times[parts[1]] = int(parts[2]) / 1000
                if len(parts) == 4 and parts[1] == targets_tags()[0]:
                    self.say(f"    compile command: {parts[3]} -c {HEAVY_C_PATH}")
        if done.returncode != 0 or len(times) != len(PYTHONS):
            tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
            self.note("could not measure the heavy compile times: " + " / ".join(tail))
        return times

    # -- cases ---------------------------------------------------------------------------------

    def case_c_example(self) -> None:
        self.say("\n[c-example] examples/c-extension, 3 targets, cold")
        mw_runs: list[Run] = []
        cibw_runs: list[Run] = []
        for i in range(self.repeat):
            project = self.copy_project(C_EXAMPLE, "c-example-mw")
            run = self.manywheel_build(f"c-example-{i + 1}", project, project.parent / "out")
            mw_runs.append(run)
            self.record_rss(run)
            if self.cibuildwheel is not None:
                project = self.copy_project(C_EXAMPLE, "c-example-cibw")
                other = self.cibuildwheel_build(
                    f"c-example-cibw-{i + 1}", project, project.parent / "out"
                )
                if other is not None:
                    cibw_runs.append(other)
        mw = ok_median(mw_runs)
        cibw_text, cibw = self.cibw_cell(cibw_runs)
        self.rows.append(
            Row(
                "c-example (3 targets, cold)",
                fmt_or_failed(mw),
                cibw_text,
                ratio(cibw, mw),
                "(informational)",
            )
        )

    def case_matrix(self) -> None:
        """The C example for x86_64, i686 and aarch64 (QEMU) in one run of each tool."""
        images = {arch: self.image + suffix for arch, suffix in MATRIX_ARCHS.items()}
        self.say("\n[matrix] examples/c-extension, 3 Pythons x " + ", ".join(images) + ", cold")
        missing = [image for image in images.values() if image_id(self.engine, image) is None]
        if missing:
            self.note(f"matrix skipped: {', '.join(missing)} not present (build-fixture.sh)")
            return
        keys = [a for arch, image in images.items() for a in (f"--manylinux-{arch}-image", image)]
        mw_runs: list[Run] = []
        cibw_runs: list[Run] = []
        for i in range(self.repeat):
            project = self.copy_project(C_EXAMPLE, "matrix-mw")
            run = self.manywheel_build(
                f"matrix-{i + 1}", project, project.parent / "out", *keys, expect=9
            )
            mw_runs.append(run)
            if self.cibuildwheel is not None:
                project = self.copy_project(C_EXAMPLE, "matrix-cibw")
                other = self.cibuildwheel_build(
                    f"matrix-cibw-{i + 1}", project, project.parent / "out", images=images
                )
                if other is not None:
                    cibw_runs.append(other)
        mw = ok_median(mw_runs)
        cibw_text, cibw = self.cibw_cell(cibw_runs)
        self.rows.append(
            Row(
                "matrix: C example, x86_64 + i686 + aarch64 (QEMU), 9 targets, cold",
                fmt_or_failed(mw),
                cibw_text,
                ratio(cibw, mw),
                "(informational)",
            )
        )

    def case_cross(self) -> None:
        """The heavy project for aarch64 (QEMU) with manywheel's cross compilers (zig run
        natively in the arm64 container), cold (the project's first build) and warm, side by
        side with manywheel's own x86_64 build of it and, on a cut-down copy
        (CROSS_CIBW_FUNCTIONS kernels: the full one takes cibuildwheel about 85 minutes), with
        cibuildwheel (QEMU). ``--cross-gcc`` adds manywheel with the image's emulated gcc on
        the cut-down copy; ``--cross-cibw-qemu-cpu`` adds cibuildwheel with the QEMU_CPU
        manywheel sets (the default of QEMU 10 on)."""
        arm = self.image + MATRIX_ARCHS["aarch64"]
        self.say(
            f"\n[cross] generated C extension, 3 Pythons, aarch64 in {arm} under QEMU:"
            f" {HEAVY_FUNCTIONS} kernels against x86_64, {self.cross_cibw_functions} against"
            " cibuildwheel"
        )
        if image_id(self.engine, arm) is None:
            self.note(f"cross skipped: {arm} not present (build-fixture.sh)")
            return
        full = write_heavy_project(self.fresh("cross-source") / "project")
        small = write_heavy_project(
            self.fresh("cross-source-small") / "project", self.cross_cibw_functions
        )
        keys = ("--manylinux-aarch64-image", arm, "--archs", "aarch64")
        names = ["zig", "zig-warm", "x86", "x86-warm", "zig-qemu-max"]
        names += ["small-zig", "small-gcc", "cibw", "cibw-cpu"]
        runs: dict[str, list[Run]] = {k: [] for k in names}

        def build(key: str, source: Path, *args: str) -> Path:
            project = self.copy_project(source, f"cross-{key}")
            label = f"cross-{key}-{len(runs[key]) + 1}"
            runs[key].append(self.manywheel_build(label, project, project.parent / "out", *args))
            return project

        def again(key: str, project: Path, *args: str) -> None:
            """Again in the same project folder: zig's cache (its libc stubs, compiler-rt), the
            build venvs and the kept bytecode are warm, as from a project's second release on."""
            label = f"cross-{key}-{len(runs[key]) + 1}"
            out = project.parent / "out"
            runs[key].append(self.manywheel_build(label, project, out, *args, force=True))

        for i in range(self.repeat):
            # First: the cut-down project, against cibuildwheel. Where this machine has not
            # made them yet for the image, it makes the one-time toolchains (zig's seed, the
            # twin Pythons, uv), so the comparison with cibuildwheel includes them, and the
            # full project's cold build below is a project's first build on a machine that
            # has built for that image before (as its x86_64 build has the image).
            build("small-zig", small, *keys)
            self.note_machine_setup(runs["small-zig"][-1])
            again("zig-warm", build("zig", full, *keys), *keys)
            again("x86-warm", build("x86", full))
            # The same cold build with QEMU's default CPU for the build containers (a QEMU_CPU
            # of the user's wins), to show what QEMU_CPU=max,pauth-impdef=on saves.
            build("zig-qemu-max", full, *keys, "--engine-args=--env=QEMU_CPU=max")
            if self.cross_gcc:
                build("small-gcc", small, *keys, "--cross-compilers", "off")
            if self.cibuildwheel is not None:
                project = self.copy_project(small, "cross-cibw")
                other = self.cibuildwheel_build(
                    f"cross-cibw-{i + 1}", project, project.parent / "out", images={"aarch64": arm}
                )
                if other is not None:
                    runs["cibw"].append(other)
            if self.cibuildwheel is not None and self.cross_cibw_qemu_cpu:
                project = self.copy_project(small, "cross-cibw-cpu")
                other = self.cibuildwheel_build(
                    f"cross-cibw-cpu-{i + 1}", project, project.parent / "out",
                    images={"aarch64": arm}, environment=f"QEMU_CPU={QEMU_CPU}",
                )  # fmt: skip
                if other is not None:
                    runs["cibw-cpu"].append(other)
        self.cross_rows(runs)

    def note_machine_setup(self, run: Run) -> None:
        """Says how long a cross run waited for zig's seed, if it made one."""
        seeded = [t for t, text in run.lines if "zig's seed for" in text]
        started = [t for t, text in run.lines if "starting container" in text]
        if seeded and started:
            self.note(
                f"cross: {run.label} made zig's seed for the arm64 image (once per machine,"
                f" image and zig): its targets started {started[0] - seeded[0]:.1f} s later"
            )

    def cross_rows(self, runs: dict[str, list[Run]]) -> None:
        zig, warm, x86 = (ok_median(runs[k]) for k in ("zig", "zig-warm", "x86"))
        x86_warm = ok_median(runs["x86-warm"])
        small, gcc = ok_median(runs["small-zig"]), ok_median(runs["small-gcc"])
        cibw_text, cibw = self.cibw_cell(runs["cibw"])
        info = "(informational)"
        n = self.cross_cibw_functions

        def met(ok: bool | None) -> str:
            return "-" if ok is None else yes_no(ok)

        self.rows += [
            Row(
                f"cross: aarch64, {n} kernels, zig (cold) vs cibuildwheel (QEMU)",
                fmt_or_failed(small), cibw_text, ratio(cibw, small),
                f"ratio >= {GOAL_CROSS_VS_CIBW}x",
                met(None if cibw is None or small is None else cibw / small >= GOAL_CROSS_VS_CIBW),
            ),
            Row(
                f"cross: aarch64 heavy ({HEAVY_FUNCTIONS} kernels), zig (cold) / x86_64 native",
                f"{fmt_or_failed(zig)} / {fmt_or_failed(x86)}",
                ratio=ratio(zig, x86), goal=f"ratio <= {GOAL_CROSS_VS_NATIVE}x",
                met=met(None if zig is None or x86 is None else zig / x86 <= GOAL_CROSS_VS_NATIVE),
            ),
            Row(
                "cross: aarch64 heavy, zig (warm) / x86_64 native (warm)",
                f"{fmt_or_failed(warm)} / {fmt_or_failed(x86_warm)}", ratio=ratio(warm, x86_warm),
                goal=f"ratio <= {GOAL_CROSS_VS_NATIVE}x",
                met=met(
                    None if warm is None or x86_warm is None
                    else warm / x86_warm <= GOAL_CROSS_VS_NATIVE
                ),
            ),
        ]  # fmt: skip
        if runs["zig-qemu-max"]:
            qemu_max = ok_median(runs["zig-qemu-max"])
            self.rows.append(
                Row(
                    f"cross: aarch64 heavy (cold), QEMU_CPU=max (QEMU's default) / {QEMU_CPU}",
                    f"{fmt_or_failed(qemu_max)} / {fmt_or_failed(zig)}",
                    ratio=ratio(qemu_max, zig), goal=info,
                )
            )  # fmt: skip
        if runs["cibw-cpu"]:
            cpu_text, cpu = self.cibw_cell(runs["cibw-cpu"])
            self.rows.append(
                Row(
                    f"cross: aarch64, {n} kernels, zig (cold) vs cibuildwheel, QEMU_CPU={QEMU_CPU}",
                    fmt_or_failed(small), cpu_text, ratio(cpu, small), info,
                )
            )  # fmt: skip
        if runs["small-gcc"]:
            self.rows.append(
                Row(
                    f"cross: aarch64, {n} kernels, manywheel emulated gcc / zig (cold)",
                    fmt_or_failed(gcc),
                    ratio=ratio(gcc, small),
                    goal=info,
                )
            )

    def case_heavy(self) -> None:
        self.say(
            f"\n[heavy] generated C extension ({HEAVY_FUNCTIONS} kernels x {HEAVY_STATEMENTS}"
            " statements), 3 targets, cold"
        )
        source = write_heavy_project(self.fresh("heavy-source") / "project")
        size_kib = (source / HEAVY_C_PATH).stat().st_size / 1024
        self.say(f"  source: {size_kib:.0f} KiB of C in {source / HEAVY_C_PATH}")
        ideal = self.heavy_ideal(source)
        self.say("  measuring the three compiles started at once, bare, in one container")
        floor = self.measure_parallel_compile(source)
        if floor is not None:
            self.say(f"    {fmt_s(floor)} (the floor for side-by-side targets on these cores)")
        start = self.container_start_seconds()
        self.say(f"  one container start ({self.engine} run --rm IMAGE true): {fmt_s(start)}")
        runs = self.heavy_runs(source)
        mw = self.heavy_rows(runs, ideal, start)
        if floor is not None and mw is not None:
            self.rows.append(
                Row(
                    "heavy vs bare parallel compile",
                    f"{fmt_s(mw)} (+{(mw / floor - 1) * 100:.0f}% over {fmt_s(floor)})",
                    goal="(informational)",
                )
            )
        if self.also_jobs is not None:
            self.heavy_with_jobs(source, self.also_jobs, ideal)

    def heavy_ideal(self, source: Path) -> float | None:
        """max(longest compile, total compile / cores), from each target's compile measured alone."""
        self.say("  measuring each target's compile alone, one after the other, in one container")
        compiles = self.measure_compiles(source)
        for tag, seconds in compiles.items():
            self.say(f"    {tag}: {fmt_s(seconds)}")
        if len(compiles) != len(PYTHONS):
            return None
        cores = len(os.sched_getaffinity(0))
        ideal = max(*compiles.values(), sum(compiles.values()) / cores)
        self.say(
            f"  ideal bound: max(longest {fmt_s(max(compiles.values()))}, "
            f"total {fmt_s(sum(compiles.values()))} / {cores} cores) = {fmt_s(ideal)}"
        )
        return ideal

    def heavy_runs(self, source: Path) -> dict[str, list[Run]]:
        """Every heavy build, interleaved per repeat so that drift in load hits all alike."""
        runs: dict[str, list[Run]] = {k: [] for k in ("mw", "warm", "pip", "cibw", "cibw-uv")}

        def keep(key: str, run: Run | None) -> None:
            if run is not None:
                runs[key].append(run)

        for i in range(self.repeat):
            # Cold: an empty cache folder of its own (no cached venv, no downloads).
            cache = self.fresh(f"heavy-cache-{i + 1}")
            project = self.copy_project(source, "heavy-mw")
            keep("mw", self.manywheel_build(
                f"heavy-{i + 1}", project, project.parent / "out",
                "--cache-dir", str(cache), force=True,
            ))  # fmt: skip
            # Warm: the next release of the same checkout, with the caches of the cold run
            # (they belong to that project folder: another folder is another project).
            keep("warm", self.manywheel_build(
                f"heavy-warm-{i + 1}", project, project.parent / "out",
                "--cache-dir", str(cache), force=True,
            ))  # fmt: skip
            # Like for like with cibuildwheel's default: manywheel on pip, cold.
            project = self.copy_project(source, "heavy-mw-pip")
            keep("pip", self.manywheel_build(
                f"heavy-pip-{i + 1}", project, project.parent / "out",
                "--cache-dir", str(self.fresh(f"heavy-cache-pip-{i + 1}")),
                "--installer", "pip", force=True,
            ))  # fmt: skip
            for key, frontend in (("cibw", "build"), ("cibw-uv", "build[uv]")):
                project = self.copy_project(source, f"heavy-{key}")
                keep(key, self.cibuildwheel_build(
                    f"heavy-{key}-{i + 1}", project, project.parent / "out", frontend
                ))  # fmt: skip
        for run in runs["mw"] + runs["warm"] + runs["pip"]:
            self.record_rss(run)
        return runs

    def heavy_rows(
        self, runs: dict[str, list[Run]], ideal: float | None, start: float
    ) -> float | None:
        """The heavy case's rows; returns manywheel's cold median."""
        mw, warm, pip = ok_median(runs["mw"]), ok_median(runs["warm"]), ok_median(runs["pip"])
        cibw_text, cibw = self.cibw_cell(runs["cibw"])
        uv_text, cibw_uv = self.cibw_cell(runs["cibw-uv"])
        met = "-"
        if mw is not None and cibw is not None:
            met = yes_no(cibw / mw >= GOAL_HEAVY_RATIO)
        goal = f"ratio >= {GOAL_HEAVY_RATIO}x"
        info = "(informational)"
        self.rows += [
            Row("heavy (3 targets, cold)", fmt_or_failed(mw), cibw_text, ratio(cibw, mw), goal, met),
            Row("heavy, warm caches (2nd run)", fmt_or_failed(warm), cibw_text, ratio(cibw, warm), info),
            Row(
                "heavy, both on pip (mw --installer pip)",
                fmt_or_failed(pip), cibw_text, ratio(cibw, pip), info,
            ),
            Row("heavy, both on uv (cibw build[uv])", fmt_or_failed(mw), uv_text, ratio(cibw_uv, mw), info),
        ]  # fmt: skip
        if ideal is not None:
            # Container starts on manywheel's critical path: the image discovery, then one
            # target's container (targets start side by side).
            bound = ideal * (1 + GOAL_IDEAL_SLACK) + 2 * start
            above = f" (+{(mw / ideal - 1) * 100:.0f}% over ideal)" if mw is not None else ""
            self.rows.append(
                Row(
                    "heavy vs ideal bound",
                    fmt_or_failed(mw) + above,
                    goal=f"<= {fmt_s(bound)} (ideal {fmt_s(ideal)} +15% +2 starts)",
                    met=yes_no(mw <= bound) if mw is not None else "-",
                )
            )
        return mw

    def heavy_with_jobs(self, source: Path, jobs: int, ideal: float | None) -> None:
        """The heavy case again with ``--jobs N`` (informational: how much scheduling matters)."""
        runs = []
        for i in range(self.repeat):
            project = self.copy_project(source, f"heavy-jobs{jobs}")
            run = self.manywheel_build(
                f"heavy-jobs{jobs}-{i + 1}",
                project,
                project.parent / "out",
                "--jobs",
                str(jobs),
                force=True,
            )
            runs.append(run)
            self.record_rss(run)
        value = ok_median(runs)
        above = ""
        if value is not None and ideal is not None:
            above = f" (+{(value / ideal - 1) * 100:.0f}% over ideal)"
        self.rows.append(
            Row(
                f"heavy, manywheel --jobs {jobs}",
                fmt_or_failed(value) + above,
                goal="(informational)",
            )
        )

    def case_noop(self) -> None:
        self.say("\n[noop] examples/c-extension built, then built again without changes")
        project = self.copy_project(C_EXAMPLE, "noop")
        output = project.parent / "out"
        first = self.manywheel_build("noop-first", project, output)
        self.record_rss(first)
        if not first.ok:
            self.rows.append(
                Row("noop (2nd run wall)", "failed", goal=f"<= {GOAL_NOOP_SECONDS:g} s")
            )
            return
        seconds: list[float] = []
        skipped = False
        for i in range(self.repeat):
            run = self.manywheel_build(f"noop-again-{i + 1}", project, output)
            if run.ok:
                seconds.append(run.seconds)
                skipped = skipped or "up to date" in run.text()
        value = median(seconds)
        if value is not None:
            self.say(
                "    manywheel reported the targets up to date"
                if skipped
                else "    manywheel rebuilt the targets (no up-to-date check yet?)"
            )
        self.rows.append(
            Row(
                "noop (2nd run wall)",
                fmt_or_failed(value),
                goal=f"<= {GOAL_NOOP_SECONDS:g} s",
                met=yes_no(value <= GOAL_NOOP_SECONDS) if value is not None else "-",
            )
        )

    def case_syspkgs(self) -> None:
        self.say(f'\n[syspkgs] --system-packages "{SYSTEM_PACKAGES}", run twice')
        project = self.copy_project(C_EXAMPLE, "syspkgs")
        extra = ("--system-packages", SYSTEM_PACKAGES)
        first = self.manywheel_build("syspkgs-first", project, project.parent / "out-1", *extra)
        made = re.search(r"prepared environment saved as (\S+)", first.text())
        reused = UP_TO_DATE_LINE.search(first.text())
        if made:
            self.say(f"    first run prepared {made.group(1)}")
        elif reused:
            self.say("    first run reused a prepared environment left by an earlier run")
        walls: list[float] = []
        setups: list[float] = []
        how = ""
        if first.ok:
            for i in range(self.repeat):
                # A fresh output folder (and --force when manywheel has it) makes the targets
                # build again, so the run goes through the preparation check.
                output = self.fresh(f"syspkgs-out-{i + 2}")
                run = self.manywheel_build(
                    f"syspkgs-again-{i + 1}", project, output, *extra, force=True
                )
                if not run.ok:
                    continue
                walls.append(run.seconds)
                setup, how = setup_seconds(run)
                if setup is None:
                    self.note(f"{run.label}: no 'prepared environment ... up to date' line")
                else:
                    setups.append(setup)
                    self.say(f"    setup {fmt_s(setup)} ({how})")
        wall = median(walls)
        setup_value = median(setups)
        self.rows.append(
            Row(
                "syspkgs (2nd run wall)",
                fmt_or_failed(wall),
                goal="(informational)",
            )
        )
        self.rows.append(
            Row(
                "syspkgs (2nd run setup)",
                fmt_s(setup_value) if setup_value is not None else "n/a",
                goal=f"<= {GOAL_SETUP_SECONDS:g} s",
                met=yes_no(setup_value <= GOAL_SETUP_SECONDS) if setup_value is not None else "-",
            )
        )
        if how:
            self.notes.append(f"syspkgs setup time: {how}")
        if made and not self.keep_images:
            quiet([self.engine, "rmi", made.group(1)])

    def rss_row(self) -> None:
        if not self.rss:
            return
        label, peak = max(self.rss, key=lambda item: item[1])
        mb = peak / 1024
        cibw = "-"
        if self.cibw_rss:
            cibw = f"{max(kib for _, kib in self.cibw_rss) / 1024:.0f} MB"
        elif self.cibuildwheel is None:
            cibw = "skipped"
        self.rows.append(
            Row(
                "peak RSS of the CLI (3-target build)",
                f"{mb:.0f} MB",
                cibw,
                "-",
                f"<= {GOAL_RSS_MB:g} MB",
                yes_no(mb <= GOAL_RSS_MB),
            )
        )
        self.notes.append(
            f"peak RSS is the manywheel process's own VmHWM (max over {len(self.rss)} 3-target "
            f"builds, highest in {label}); containers and engine CLI children are not counted"
        )


STEP_LINE = re.compile(r"^\[(?P<target>[^\]]+)\] (?P<step>.+)$")


def phase_breakdown(run: Run) -> str:
    """Seconds per manywheel step ("starting container", "venv", "build", ...) over all targets.

    Read from the ``[target] step`` lines: a step lasts until the target's next line of that
    kind (the next step, or ``built in N s``).
    """
    current: dict[str, tuple[str, float]] = {}
    totals: dict[str, float] = {}
    for at, line in run.lines:
        found = STEP_LINE.match(line)
        if not found:
            continue
        target, step = found.group("target"), found.group("step")
        if target in current:
            name, since = current.pop(target)
            totals[name] = totals.get(name, 0.0) + at - since
        if not step.startswith(("built", "up-to-date", "failed", "cancelled")):
            current[target] = (step, at)
    return ", ".join(f"{name} {fmt_s(seconds)}" for name, seconds in totals.items())


def setup_seconds(run: Run) -> tuple[float | None, str]:
    """Time spent in setup in ``run``, read from its 'prepared environment ... up to date' line.

    If manywheel prints a duration on that line, that number is used. Otherwise the time from
    the spawn of manywheel to the arrival of that line: CLI start-up, engine detection, image
    discovery and the preparation check, everything before the targets can start.
    """
    for at, line in run.lines:
        if UP_TO_DATE_LINE.search(line):
            found = DURATION.search(line)
            if found:
                value = float(found.group(1)) / (1000 if found.group(2) == "ms" else 1)
                return value, "duration printed by manywheel on that line"
            return at, "from manywheel's start to its 'prepared environment ... up to date' line"
    return None, ""


def ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or denominator is None or denominator <= 0:
        return "-"
    return f"{numerator / denominator:.2f}x"


def yes_no(ok: bool) -> str:
    return "yes" if ok else "NO"


def render_table(rows: Sequence[Row]) -> list[str]:
    header = Row("case", "manywheel", "cibuildwheel", "cibw/manywheel", "goal", "met?")
    cells = [[r.case, r.manywheel, r.cibuildwheel, r.ratio, r.goal, r.met] for r in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells[1:]]
    return out


# --------------------------------------------------------------------------------------------
# Entry point


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time manywheel against cibuildwheel on this machine (see benchmarks/README.md).",
    )
    parser.add_argument("--engine", choices=("docker", "podman"), default="docker")
    parser.add_argument(
        "--cases",
        default=",".join(CASES),
        help=f"comma-separated subset of {','.join(CASES)} (default: all)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (median)")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help=f"default: {DEFAULT_IMAGE}")
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder (projects, wheels, logs)"
    )
    parser.add_argument(
        "--also-jobs",
        type=int,
        metavar="N",
        help="heavy case: also time manywheel with --jobs N (an extra, informational row)",
    )
    parser.add_argument(
        "--cross-functions",
        type=int,
        default=CROSS_CIBW_FUNCTIONS,
        metavar="N",
        help=f"cross case: kernels of the project cibuildwheel builds (default {CROSS_CIBW_FUNCTIONS})",
    )
    parser.add_argument(
        "--cross-cibw-qemu-cpu",
        action="store_true",
        help=f"cross case: also time cibuildwheel with QEMU_CPU={QEMU_CPU} (informational)",
    )
    parser.add_argument(
        "--cross-gcc",
        action="store_true",
        help="cross case: also time manywheel with the image's emulated gcc (informational)",
    )
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown or not cases:
        parser.error(f"unknown case(s) {', '.join(unknown) or '(none)'}; pick from {CASES}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.cross_functions < 1:
        parser.error("--cross-functions must be at least 1")
    args.cases = cases
    return args


def engine_version(engine: str) -> str:
    fmt = "{{.Server.Version}}" if engine == "docker" else "{{.Client.Version}}"
    done = quiet([engine, "version", "--format", fmt], timeout=60)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def image_id(engine: str, image: str) -> str | None:
    done = quiet([engine, "image", "inspect", "--format", "{{.Id}}", image], timeout=60)
    return done.stdout.strip() if done.returncode == 0 else None


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which(args.engine) is None:
        print(f"bench: {args.engine} is not installed", file=sys.stderr)
        return 2
    base_id = image_id(args.engine, args.image)
    if base_id is None:
        print(
            f"bench: image {args.image} is not present in {args.engine} "
            "(build it with tests/images/build-fixture.sh)",
            file=sys.stderr,
        )
        return 2
    manywheel = find_tool("manywheel", "manywheel")
    if manywheel is None:
        print("bench: manywheel is not importable (run scripts/bootstrap.sh)", file=sys.stderr)
        return 2
    cibuildwheel = find_tool("cibuildwheel", "cibuildwheel")

    work = Path(tempfile.mkdtemp(prefix="manywheel-bench-"))
    bench = Bench(args.engine, args.image, args.repeat, work, manywheel, cibuildwheel)
    bench.keep_images = args.keep
    bench.also_jobs = args.also_jobs
    bench.cross_cibw_functions = args.cross_functions
    bench.cross_gcc = args.cross_gcc
    bench.cross_cibw_qemu_cpu = args.cross_cibw_qemu_cpu
    bench.describe()
    cases: dict[str, Callable[[], None]] = {
        "c-example": bench.case_c_example,
        "heavy": bench.case_heavy,
        "noop": bench.case_noop,
        "syspkgs": bench.case_syspkgs,
        "matrix": bench.case_matrix,
        "cross": bench.case_cross,
    }
    interrupted = False
    try:
        for name in args.cases:
            cases[name]()
    except KeyboardInterrupt:
        interrupted = True
        bench.say("\ninterrupted: printing what was measured so far")
    bench.rss_row()
    end_id = image_id(args.engine, args.image)
    if end_id is None:
        bench.notes.append(
            f"{args.image} could not be inspected at the end ({args.engine} restarted or the"
            " image was removed?): the numbers may not be comparable"
        )
    elif end_id != base_id:
        bench.notes.append(f"{args.image} changed during the run: the numbers are not comparable")
    print_report(bench, keep=args.keep or bench.failures > 0 or interrupted)
    if interrupted:
        return 130
    return 1 if bench.failures else 0


def print_report(bench: Bench, *, keep: bool) -> None:
    print()
    for line in render_table(bench.rows):
        print(line)
    print()
    if bench.cibuildwheel is None:
        print("cibuildwheel not installed, skipped")
    for text in bench.notes:
        print(f"- {text}")
    print(f"- load average at the end: {load_average()}")
    if keep:
        print(f"- work folder kept: {bench.work} (logs in {bench.work / 'logs'})")
    else:
        shutil.rmtree(bench.work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
