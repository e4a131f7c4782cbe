"""The exit codes by which a script says what failed: one table for every script manywheel runs.

The per-target scripts (build, test) exit with the code of the step that failed; the pipeline
maps it back to the step's name (:data:`STEP_EXIT`). A code not in the table (a command that
failed under ``set -e``, a killed process) is reported as a failure of the build step.
"""

from __future__ import annotations

__all__ = [
    "AUDIT_EXIT",
    "BUILD_EXIT",
    "COPY_IN_EXIT",
    "NO_PACKAGE_MANAGER_EXIT",
    "REPAIR_EXIT",
    "REQUIREMENTS_EXIT",
    "SETUP_EXIT",
    "SOURCE_EXIT",
    "STEP_EXIT",
    "SYSTEM_PACKAGES_EXIT",
    "TEST_EXIT",
    "VENV_EXIT",
]

# Preparing the environment (_prepare.py): reported with the log's tail, not mapped to a step.
NO_PACKAGE_MANAGER_EXIT = 20  # system-packages, repos-dir or distro-mirror without one
SYSTEM_PACKAGES_EXIT = 21
SETUP_EXIT = 22  # setup-script

# A target's build and test scripts (_scripts/build.py, _scripts/wheel_tests.py, _pipeline.py).
COPY_IN_EXIT = 29  # unpacking the files the script came with
SOURCE_EXIT = 30
VENV_EXIT = 31  # also: the installer or ccache asked for is missing
REQUIREMENTS_EXIT = 32
BUILD_EXIT = 33
REPAIR_EXIT = 34
TEST_EXIT = 35
AUDIT_EXIT = 36

STEP_EXIT = {
    COPY_IN_EXIT: "copy-in",
    SOURCE_EXIT: "source",
    VENV_EXIT: "venv",
    REQUIREMENTS_EXIT: "requirements",
    BUILD_EXIT: "build",
    REPAIR_EXIT: "repair",
    TEST_EXIT: "test",
    AUDIT_EXIT: "audit",
}
