#!/usr/bin/env bash
set -euo pipefail
echo "scripted: building for Python $MANYWHEEL_PYTHON_VERSION"
case " ${MW_FAIL_FOR:-} " in
  *" $MANYWHEEL_PYTHON_VERSION "*) echo "scripted: failing on purpose for $MANYWHEEL_PYTHON_VERSION"; exit 7 ;;
esac
if [ -n "${MW_SAY:-}" ]; then eval "echo \"scripted: $MW_SAY\""; fi
# MW_SLEEP_WHERE: sleep only where /etc/hosts has this text (a builder's container addresses).
# MW_SLEEP_IF: sleep only if the project (as copied in) has this file.
if [ -n "${MW_SLEEP:-}" ] && { [ -z "${MW_SLEEP_WHERE:-}" ] || grep -qF "$MW_SLEEP_WHERE" /etc/hosts; } && { [ -z "${MW_SLEEP_IF:-}" ] || [ -e "$MW_SLEEP_IF" ]; }; then echo "scripted: sleeping ${MW_SLEEP}s"; sleep "$MW_SLEEP"; fi
python -m build --wheel --outdir "$MANYWHEEL_WHEEL_DIR" .
