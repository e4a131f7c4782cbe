#!/usr/bin/env bash
# Build this project's wheel for the active interpreter, without build isolation.
#
# Run from the project directory with the target venv active; that venv already holds
# the packages of build_requirement_manylinux.txt and `build`. The unrepaired wheel is
# left in $MANYWHEEL_WHEEL_DIR: repairing it (auditwheel) is the caller's job.
set -euo pipefail

: "${MANYWHEEL_WHEEL_DIR:?set MANYWHEEL_WHEEL_DIR to the folder that receives the wheel}"
mkdir -p "$MANYWHEEL_WHEEL_DIR"

echo "build_wheel_manylinux: python is $(command -v python) ($(python -c 'import sys; print(sys.version.split()[0])'))"
echo "build_wheel_manylinux: numpy $(python -c 'import numpy; print(numpy.__version__)'), gfortran: $(gfortran -dumpfullversion 2>/dev/null || echo 'not found')"
echo "build_wheel_manylinux: + python -m build --wheel --no-isolation --outdir $MANYWHEEL_WHEEL_DIR ."
python -m build --wheel --no-isolation --outdir "$MANYWHEEL_WHEEL_DIR" .
echo "build_wheel_manylinux: wheel(s) in $MANYWHEEL_WHEEL_DIR:"
ls -l "$MANYWHEEL_WHEEL_DIR"
