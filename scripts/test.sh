#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, types, unit tests (with their line coverage of
# src/manywheel, at least 85 %) and integration tests on both docker and podman with the
# fixture image. A missing engine fails here, not skips.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export MANYWHEEL_TEST_ENGINES=${MANYWHEEL_TEST_ENGINES:-docker,podman}
.venv/bin/ruff check src tests scripts benchmarks
.venv/bin/ruff format --check -q src tests scripts benchmarks
.venv/bin/mypy
# Unit tests first (fast, no engine), measuring which lines of the library they run: the
# coverage printed here is from tests/unit alone, and below 85 % fails the suite.
.venv/bin/python -m pytest -p no:cacheprovider -q tests/unit \
  --cov=manywheel --cov-report=term --cov-fail-under=85
set +e
# Then the integration tests (the unit tests just ran); arguments go to this run, e.g. -k NAME.
if [ "$#" -eq 0 ]; then
  set -- tests/integration
fi
.venv/bin/python -m pytest -p no:cacheprovider --durations=40 "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$rc"
