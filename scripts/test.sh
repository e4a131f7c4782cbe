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
# Then the integration tests (the unit tests just ran). With no arguments: two at a time
# (pytest-xdist; a test spends a third of its time waiting on its engine, the network or a
# sleep), each module's on one worker (--dist loadfile: a module-scoped fixture, such as a
# second engine with a fixed name and address, is made once), then the exclusive ones (they
# stop the docker daemon, remove every prepared image, or reap killed runs' leftovers)
# alone. Arguments run just those, one at a time, e.g. -k NAME.
workers=${MANYWHEEL_TEST_WORKERS:-2}
phase() {
  set +e
  .venv/bin/python -m pytest -p no:cacheprovider --durations=30 "$@"
  local rc=$?
  set -e
  if [ "$rc" -eq 5 ]; then
    echo "test.sh: pytest collected no tests; that is a failure" >&2
    return 1
  fi
  return "$rc"
}
if [ "$#" -gt 0 ]; then
  phase "$@"
  exit $?
fi
rc=0
phase -n "$workers" --dist loadfile -m "not exclusive" tests/integration || rc=$?
phase -m exclusive tests/integration || rc=$((rc ? rc : $?))
exit "$rc"
