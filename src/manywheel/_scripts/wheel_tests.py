"""Test each wheel in a pristine container of the base image, never the prepared one."""

from __future__ import annotations

from pathlib import Path

from .._config.options import Options
from .._config.selectors import selector_matches
from .._layout import Layout
from .._model import Target
from .._prepare import pip_exports
from .shell import quote
from .steps import TEST_EXIT

__all__ = ["testing_script", "wants_tests"]


def wants_tests(options: Options, target: Target) -> bool:
    if not options.test_command:
        return False
    return not selector_matches(options.test_skip, target.identifier)


def _command(options: Options, wheel_path: str, project: str) -> str:
    assert options.test_command is not None
    return (
        options.test_command.replace("{project}", project)
        .replace("{package}", project)
        .replace("{wheel}", wheel_path)
    )


def testing_script(
    options: Options,
    target: Target,
    wheel: Path,
    marker: str,
    has_ca: bool,
    *,
    layout: Layout,
) -> tuple[str, dict[str, bytes]]:
    """The script (and its files) that installs ``wheel`` in a fresh venv and runs the tests."""
    inbox = layout.inbox
    wheel_path = f"{inbox}/wheel/{wheel.name}"
    files = {
        f"wheel/{wheel.name}": wheel.read_bytes(),
        "test-command.sh": (_command(options, wheel_path, layout.project) + "\n").encode(),
    }
    lines = [
        "set -eu",
        f"printf '%s step %s\\n' {quote(marker)} test",
        'fail() { printf \'manywheel: error: %s\\n\' "$1" >&2; exit "$2"; }',
        "export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_INPUT=1",
        *pip_exports(options),
    ]
    if has_ca:
        files["ca-bundle.crt"] = options.ca_bundle.read_bytes() if options.ca_bundle else b""
        ca = f"{inbox}/ca-bundle.crt"
        lines.append(f"export SSL_CERT_FILE={ca} PIP_CERT={ca} REQUESTS_CA_BUNDLE={ca}")
    requires = " ".join(quote(r) for r in options.test_requires)
    lines += [
        f"{quote(target.python)} -m venv {inbox}/testenv || fail 'could not create the test venv' {TEST_EXIT}",
        f". {inbox}/testenv/bin/activate",
        f"python -m pip install {quote(wheel_path)} {requires} || fail 'installing the wheel for testing failed' {TEST_EXIT}",
        f"mkdir -p {inbox}/testcwd && cd {inbox}/testcwd",
        f'bash -e {inbox}/test-command.sh || fail "test-command failed (exit $?)" {TEST_EXIT}',
        f"printf '%s step %s\\n' {quote(marker)} 'done'",
    ]
    return "\n".join(lines) + "\n", files
