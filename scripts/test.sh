#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, types, unit tests and integration tests on
# both docker and podman with the fixture image. A missing engine fails here, not skips.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export MANYWHEEL_TEST_ENGINES=${MANYWHEEL_TEST_ENGINES:-docker,podman}
.venv/bin/ruff check src tests scripts benchmarks
.venv/bin/ruff format --check -q src tests scripts benchmarks
.venv/bin/mypy
set +e
.venv/bin/python -m pytest -p no:cacheprovider --durations=15 "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$rc"
