#!/usr/bin/env bash
# Make a fresh Debian machine ready: docker and podman configured, the fixture image built,
# and manywheel installed with its test tools in ./.venv. Idempotent; needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup-engines.sh
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
echo "bootstrap: ready (.venv/bin/manywheel, fixture image localhost/manywheel-fixture:forky)"
