"""Test each wheel in a pristine container of the base image, never the prepared one.

As cibuildwheel tests: the build's environment (with the target's interpreter first on PATH),
a fresh venv, test-environment; before-test, then the wheel (with test-extras) and
test-requires (with the test-groups' requirements) installed, all in the project copy; the
test command in an empty working folder that holds only the test-sources (else a file that
fails with a hint when pytest is run there without a path).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path, PurePosixPath

from .._config.depgroups import group_requirements
from .._config.options import Options
from .._config.selectors import selector_matches
from .._layout import Layout
from .._model import Target
from .._prepare import pip_exports
from .build import VENV_SCRIPT, download_cache_lines, environment_lines
from .installer import PIP_CONFIG_FILES, choose_lines, install_line, probe_line, uv_exports
from .shell import export_literal, fill_placeholders, quote
from .steps import TEST_EXIT

__all__ = ["TEST_FAIL_FILE", "TEST_PIP_CONFIG_FILES", "testing_script", "wants_tests"]

# pip's configuration files in the test container: the test venv's own too (before-test may
# write it with `pip config --site`).
TEST_PIP_CONFIG_FILES = (*PIP_CONFIG_FILES, "${VIRTUAL_ENV:-/nonexistent}/pip.conf")

# Put in the tests' working folder when no test-sources are copied there, as cibuildwheel
# does: pytest (or unittest) run there without a path finds it and says what to do.
TEST_FAIL_FILE = '''\
"""manywheel runs the tests in an empty folder, so that they import the installed wheel."""

import unittest


class TestsNeedAPath(unittest.TestCase):
    def test_fail(self):
        self.fail(
            "the tests run in an empty working folder, outside the project, so that only "
            "the installed wheel is imported. Give pytest the path of your tests with the "
            "{project} placeholder (`pytest {project}/tests`), or copy them here with "
            "test-sources."
        )
'''


def wants_tests(options: Options, target: Target) -> bool:
    if not options.test_command.strip():
        return False
    return not selector_matches(options.test_skip, target.identifier)


def _user_script(text: str, project: str, **more: str) -> bytes:
    return (fill_placeholders(text, project=project, package=project, **more) + "\n").encode()


def _copy_sources(options: Options, project: str, cwd: str) -> list[str]:
    """Lines that copy each test-source into the tests' folder at its relative path."""
    lines = []
    for rel in options.test_sources:
        source, dest = f"{project}/{rel}", f"{cwd}/{rel}"
        parent = str(PurePosixPath(dest).parent)
        lines += [
            f"[ -e {quote(source)} ] || fail {quote(f'test-sources: {rel} is not in the project')} {TEST_EXIT}",
            f"mkdir -p {quote(parent)} && cp -R {quote(source)} {quote(dest)}",
        ]
    return lines


def testing_script(
    options: Options,
    target: Target,
    wheel: Path,
    marker: str,
    has_ca: bool,
    *,
    layout: Layout,
) -> tuple[str, dict[str, bytes]]:
    """The script (and its files) that installs ``wheel`` in a fresh venv and runs the tests.

    The wheel and test-requires are installed with uv where the build would be (installer
    auto or uv) and the test image has it with pip unconfigured, else with pip (never a
    failure for a pristine image that lacks the uv a prepared one had); the venv has pip
    either way, for test commands that call it."""
    if options.installer != "pip":
        options = replace(options, installer="auto")
    inbox, project = layout.inbox, layout.project
    wheel_path = f"{inbox}/wheel/{wheel.name}"
    venv, cwd = f"{inbox}/testenv", f"{inbox}/testcwd"
    files = {
        f"wheel/{wheel.name}": wheel.read_bytes(),
        "test-command.sh": _user_script(options.test_command, project, wheel=wheel_path),
        "make-venv.sh": VENV_SCRIPT.encode(),
    }
    lines = [
        *([probe_line()] if options.installer == "auto" else []),
        "set -eu",
        f"printf '%s step %s\\n' {quote(marker)} test",
        'fail() { printf \'manywheel: error: %s\\n\' "$1" >&2; exit "$2"; }',
        "export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_INPUT=1",
        "export CIBUILDWHEEL=1",
        *pip_exports(options),
        *download_cache_lines(options, layout),
        *uv_exports(options),
    ]
    if has_ca:
        files["ca-bundle.crt"] = options.ca_bundle.read_bytes() if options.ca_bundle else b""
        ca = f"{inbox}/ca-bundle.crt"
        lines.append(f"export SSL_CERT_FILE={ca} PIP_CERT={ca} REQUESTS_CA_BUNDLE={ca}")
    # The build's environment, evaluated as for the build: in the project, with the target's
    # interpreter first on PATH; then the test venv and test-environment.
    lines += [
        f"cd {project}",
        f'export PATH={quote(str(PurePosixPath(target.python).parent))}:"$PATH"',
        *environment_lines(options, marker),
        export_literal("CIBUILDWHEEL_BUILD_IDENTIFIER", target.identifier),
        # As the build venv: pip copied from the interpreter's own installation where it has
        # one, not ensurepip's reinstall (a minute under QEMU).
        f"sh {inbox}/make-venv.sh {quote(target.python)} {venv} pip "
        f"|| fail 'could not create the test venv' {TEST_EXIT}",
        f". {venv}/bin/activate",
        *environment_lines(options, marker, options.test_environment),
    ]
    if options.before_test.strip():
        files["before-test.sh"] = _user_script(options.before_test, project)
        lines.append(
            f'bash -e {inbox}/before-test.sh || fail "before-test failed (exit $?)" {TEST_EXIT}'
        )
    # After before-test, which may configure pip (a pip.conf: then pip installs, as uv would
    # not read it); uv reads no PIP_* variable either: one of test-environment means pip.
    both = replace(options, environment=options.environment + options.test_environment)
    lines += choose_lines(both, TEST_PIP_CONFIG_FILES)
    extras = f"[{','.join(options.test_extras)}]" if options.test_extras else ""
    # The wheel's own install bypasses uv's cache: a local file, new each run, would leave a
    # stale unpacked copy there every time (test-requires do use the cache).
    wheel_line = install_line(quote(wheel_path + extras), uv_flags="--no-cache")
    lines.append(
        f"{{ {wheel_line}; }} || fail 'installing the wheel for testing failed' {TEST_EXIT}"
    )
    requires = (
        *options.test_requires,
        *group_requirements(options.project_dir, options.test_groups),
    )
    if requires:
        words = " ".join(quote(r) for r in requires)
        lines.append(
            f"{{ {install_line(words)}; }} || fail 'installing test-requires failed' {TEST_EXIT}"
        )
    lines.append(f"rm -rf {cwd} && mkdir -p {cwd}")
    if options.test_sources:
        lines += _copy_sources(options, project, cwd)
    else:
        files["test_fail.py"] = TEST_FAIL_FILE.encode()
        lines.append(f"cp {inbox}/test_fail.py {cwd}/test_fail.py")
    lines += [
        f"cd {cwd}",
        f"echo {quote('manywheel: test-command: ' + options.test_command)}",
        f'bash -e {inbox}/test-command.sh || fail "test-command failed (exit $?)" {TEST_EXIT}',
        f"printf '%s step %s\\n' {quote(marker)} 'done'",
    ]
    return "\n".join(lines) + "\n", files
